"""Boot an initrd in a QEMU microVM and watch its serial console.

    vm = VM(tmpdir, initrd, disks=[rootfs, overlay, config], timeout=60)
    vm.start()
    vm.wait_for("HYPEMAN-PROGRAM-START")
    rc = vm.wait_exit()            # guest powered off (or panicked)
    vm.assert_no_panic()
    vm.log_lines(); vm.markers(); vm.exit_marker()
    vm.kill()                      # always; idempotent

Architectures (arch=, default the host's): x86_64 boots
qemu-system-x86_64 -machine q35; aarch64 boots qemu-system-aarch64
-machine virt -cpu max,pauth-impdef=on (max's architected pointer
authentication costs 4x the boot time under TCG; the impdef algorithm keeps
every feature) with Debian's arm64 kernel (lib.kernel).
Console: the guest's serial port (ttyS0; the PL011 ttyAMA0 on aarch64) is
QEMU's stdio, so output is captured from the first byte; a reader thread
appends it to tmpdir/console.log and to console_text ("\\r\\n" turned into
"\\n"). send_console() types into it.
Monitor: QMP on a unix socket; monitor("sendkey ctrl-alt-delete") runs an
HMP command through it. The virt machine has no PS/2 keyboard: on aarch64 a
virtio-keyboard-pci takes the keys (the guest needs virtio_input), so
ctrl_alt_del() works on both.
Disks are virtio-blk-pci in list order at fixed PCI slots 0x04.., so the
guest sees them as vda, vdb, ... in the same order (the virt machine's PCIe
root bus takes the same slots).

Machines (machine=, default q35 on x86_64 and virt on aarch64):
  q35          virtio-pci
  virt         aarch64's, virtio-pci
  microvm      QEMU's microvm, Firecracker's device model: no PCI, every
               virtio device on a virtio-mmio transport (virtio-*-device),
               announced by ACPI (LNRO0005); under TCG the kernel command
               line gets tsc_early_khz=2000000, without which the kernel
               hangs calibrating the TSC
  firecracker  microvm with acpi=off and an i8042, as Firecracker presents a guest:
               QEMU names each virtio-mmio device on the kernel command
               line (virtio_mmio.device=512@0x...:IRQ, as Firecracker
               does), and the line gets Firecracker's usual options
               (FIRECRACKER_APPEND: reboot=k pci=off nomodule i8042.*
               root=/dev/vda ro)
Console (console=): "serial" (default: ttyS0, ttyAMA0 on aarch64) or
"hvc0": a virtio console (virtconsole on the virtio-serial device) as the
only console, no serial port at all; its output is captured the same way.
self.console is the guest's name for it.

Timeouts are seconds; every wait has a deadline and none sleeps blindly.
HYPEMAN_TIMEOUT_SCALE (float, default 1) multiplies every timeout, for slow
hosts. HYPEMAN_ACCEL picks the accelerator: "tcg" (default) or "kvm".
"""

import atexit
import codecs
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from . import arch as _arch

# arch -> QEMU binary, machine, CPU, the guest's serial console
QEMU = {
    "x86_64": ("qemu-system-x86_64", "q35", "max", "ttyS0"),
    "aarch64": ("qemu-system-aarch64", "virt", "max,pauth-impdef=on", "ttyAMA0"),
}
PANIC_PATTERNS = ("Kernel panic", "Attempted to kill init")
DISK_SLOT0 = 0x04       # first virtio-blk PCI slot; disks at 0x04..0x1e
NET_SLOT = 0x02
SERIAL_SLOT = 0x03
KEYBOARD_SLOT = 0x1f    # aarch64 only (on q35 0x1f is the LPC bridge)
MAX_DISKS = 0x1f - DISK_SLOT0
# machine -> (arch, QEMU's -machine, virtio transport: "pci" or "mmio",
# kernel command line additions, more QEMU arguments)
MACHINES = {
    "q35": ("x86_64", "q35", "pci", "", ()),
    "virt": ("aarch64", "virt", "pci", "", ()),
    "microvm": ("x86_64", "microvm", "mmio", "tsc_early_khz=2000000", ()),
    # Firecracker emulates an i8042 (its SendCtrlAltDel, and reboot=k: it
    # exits on the reset); QEMU's microvm has none of its own
    "firecracker": ("x86_64", "microvm,acpi=off", "mmio", "tsc_early_khz=2000000",
                    ("-device", "i8042")),
}
# Firecracker's default boot arguments (without 8250.nr_uarts=0, which
# Firecracker leaves out for a serial console) and what it adds for the
# root drive
FIRECRACKER_APPEND = ("reboot=k pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp "
                      "i8042.dumbkbd root=/dev/vda ro")
# Every boot's kernel command line starts so. init_on_alloc=0 init_on_free=0:
# hypeman's host passes them (Debian's kernels zero every page allocated by
# default). Under TCG also cryptomgr.notests: the kernel's self-tests of its
# crypto algorithms, a third of a second of every TCG boot; nothing of ours.
# host/qemu.c builds the same line (test_run_platforms.py compares them).
BASE_APPEND = "console=%s panic=-1 loglevel=4 init_on_alloc=0 init_on_free=0"
TCG_APPEND = "cryptomgr.notests=1"

_live = set()           # started, not yet killed VMs (killed at exit)


def accel():
    """$HYPEMAN_ACCEL: "tcg" (default) or "kvm"."""
    return os.environ.get("HYPEMAN_ACCEL", "tcg") or "tcg"


def timeout_scale():
    return float(os.environ.get("HYPEMAN_TIMEOUT_SCALE", "1") or 1)


class VMError(AssertionError):
    """A wait failed: timeout, QEMU gone, panic. Carries the console tail."""


class Disk:
    """A disk with options; a plain path in VM(disks=...) is Disk(path)."""

    def __init__(self, path, readonly=False, serial=None, cache=None):
        """cache: QEMU's drive cache mode; "unsafe" ignores the guest's
        flushes (for scratch disks whose content only matters after a
        clean power-off)."""
        self.path, self.readonly, self.serial = str(path), readonly, serial
        self.cache = cache


def _set_pdeathsig():
    # QEMU dies with the test process even if teardown never runs.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class VM:
    def __init__(self, tmpdir, initrd, disks=(), append_extra="", net=False,
                 mem_mb=512, agent_socket=True, timeout=60, kernel=None,
                 rescue=False, smp=1, extra_args=(), arch=None, machine=None,
                 console="serial", hostfwd=(), as_given=False):
        """tmpdir: where console.log, qemu.stderr (and sockets) go.
        disks: paths or Disk objects, in order vda, vdb, vdc, ...
        append_extra: added to the kernel command line
            (BASE_APPEND, console=ttyS0 or ttyAMA0 on aarch64, then
            TCG_APPEND under TCG, the machine's, [hypeman.rescue=0]).
        rescue: False adds hypeman.rescue=0 (a fatal init error powers off
            instead of waiting in the rescue shell); True leaves it out.
        net: virtio-net on QEMU user networking with restrict=on (no host
            or outside access; guest 10.0.2.15/24, gw 10.0.2.2, dns 10.0.2.3).
        hostfwd: with net, forwards as QEMU's hostfwd= takes them, e.g.
            "tcp:127.0.0.1:8080-:80" (host addresses: 127.0.0.1 only).
        agent_socket: virtio-serial port org.hypeman.agent.0 backed by a
            unix socket server at self.agent_socket (None when False).
        timeout: default for wait_for / wait_exit (scaled).
        kernel: vmlinuz path (default: Debian's for arch, from lib.kernel).
        arch: "x86_64" or "aarch64" (default: the host's, or the machine's).
        machine: a key of MACHINES (default: q35 or virt, by arch).
        console: "serial" or "hvc0" (see the module's docstring).
        as_given: boot KERNEL itself; by default an x86 bzImage with a PVH
            entry is booted as its uncompressed vmlinux (lib.kernel's
            fast_boot_image: the same kernel, started as Cloud Hypervisor
            and Firecracker start it, without seconds of xz under TCG)."""
        if machine is not None and arch is None:
            arch = MACHINES[machine][0]
        self.arch = _arch.norm(arch or _arch.host())
        self.machine = machine or QEMU[self.arch][1]
        if MACHINES[self.machine][0] != self.arch:
            raise ValueError("machine %s is not for %s" % (self.machine, self.arch))
        if console not in ("serial", "hvc0"):
            raise ValueError("console: serial or hvc0, not %r" % console)
        self.tmpdir = str(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.initrd = str(initrd)
        if not os.path.exists(self.initrd):
            raise FileNotFoundError("initrd not found: %s" % self.initrd)
        self.disks = [d if isinstance(d, Disk) else Disk(d) for d in disks]
        if len(self.disks) > MAX_DISKS:
            raise ValueError("at most %d disks" % MAX_DISKS)
        for d in self.disks:
            if not os.path.exists(d.path):
                raise FileNotFoundError("disk not found: %s" % d.path)
        if kernel is None:
            from .kernel import kernel_tree
            kernel = kernel_tree(arch=self.arch)[0]
        self.kernel = str(kernel)
        self.boot_kernel = self.kernel
        if self.arch == "x86_64" and not as_given:
            from .kernel import fast_boot_image
            self.boot_kernel = fast_boot_image(self.kernel)
        self.console = QEMU[self.arch][3] if console == "serial" else "hvc0"
        self.append = " ".join(x for x in (
            BASE_APPEND % self.console,
            TCG_APPEND if accel() == "tcg" else "",
            MACHINES[self.machine][3] if accel() == "tcg" else "",
            FIRECRACKER_APPEND if self.machine == "firecracker" else "",
            "" if rescue else "hypeman.rescue=0", append_extra) if x)
        self.net, self.mem_mb, self.smp = net, mem_mb, smp
        for f in hostfwd:
            if not f.split(":")[1] == "127.0.0.1":
                raise ValueError("hostfwd %r: only 127.0.0.1 on the host" % f)
        self.hostfwd = list(hostfwd)
        self.timeout = timeout
        self.extra_args = list(extra_args)
        self.console_log = os.path.join(self.tmpdir, "console.log")
        self.stderr_log = os.path.join(self.tmpdir, "qemu.stderr")
        # unix socket paths must stay under 108 bytes
        sockdir = self.tmpdir
        self._sockdir_tmp = None
        if len(os.path.join(sockdir, "agent.sock")) > 100:
            sockdir = self._sockdir_tmp = tempfile.mkdtemp(prefix="hm-vm-")
        self.agent_socket = (os.path.join(sockdir, "agent.sock")
                             if agent_socket else None)
        self.qmp_socket = os.path.join(sockdir, "qmp.sock")
        self.proc = None
        self.exit_code = None
        self.started_at = None
        self._cond = threading.Condition()
        self._text = ""           # normalised console text
        self._eof = False
        self._cursor = 0          # end of the last wait_for match
        self._reader = None

    # ---- lifecycle ----------------------------------------------------

    def argv(self):
        """The QEMU command line."""
        qemu, _, cpu, _ = QEMU[self.arch]
        if accel() != "tcg":
            cpu = "max"         # pauth-impdef is a TCG property
        machine = MACHINES[self.machine][1]
        if self.console == "hvc0" and MACHINES[self.machine][2] == "mmio":
            machine += ",isa-serial=off"    # microvm has one by default
        a = [qemu, "-machine", machine, "-accel", accel(), "-cpu", cpu,
             "-m", str(self.mem_mb), "-smp", str(self.smp),
             "-nodefaults", "-no-user-config", "-display", "none",
             "-no-reboot",
             "-kernel", self.boot_kernel, "-initrd", self.initrd,
             "-append", self.append,
             "-chardev", "stdio,id=con0,signal=off"]
        if self.console != "hvc0":
            a += ["-serial", "chardev:con0"]
        a += ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_socket]
        for i, d in enumerate(self.disks):
            drive = "file=%s,if=none,id=d%d,format=raw" % (d.path, i)
            if d.readonly:
                drive += ",readonly=on"
            if d.cache:
                drive += ",cache=" + d.cache
            dev = self._device("virtio-blk", DISK_SLOT0 + i, "drive=d%d" % i)
            if d.serial:
                dev += ",serial=%s" % d.serial
            a += ["-drive", drive, "-device", dev]
        if self.net:
            a += ["-netdev", "user,id=n0,restrict=on" + "".join(",hostfwd=" + f for f in self.hostfwd),
                  "-device", self._device("virtio-net", NET_SLOT, "netdev=n0")]
        if self.agent_socket or self.console == "hvc0":
            a += ["-device", self._device("virtio-serial", SERIAL_SLOT, "id=vser0")]
        if self.console == "hvc0":
            a += ["-device", "virtconsole,bus=vser0.0,chardev=con0"]
        if self.agent_socket:
            a += ["-chardev", "socket,id=agent0,path=%s,server=on,wait=off"
                  % self.agent_socket,
                  "-device", "virtserialport,bus=vser0.0,chardev=agent0,"
                  "name=org.hypeman.agent.0"]
        if self.arch == "aarch64":
            a += ["-device", "virtio-keyboard-pci,addr=0x%x" % KEYBOARD_SLOT]
        return a + list(MACHINES[self.machine][4]) + self.extra_args

    def _device(self, kind, slot, props):
        """QEMU's device for a virtio KIND with PROPS on this machine's
        transport: at PCI slot SLOT, or on the next free virtio-mmio one."""
        if MACHINES[self.machine][2] == "mmio":
            return "%s-device,%s" % (kind, props)
        return "%s-pci,%s,addr=0x%x" % (kind, props, slot)

    def start(self):
        if self.proc is not None:
            raise RuntimeError("VM already started")
        for s in (self.agent_socket, self.qmp_socket):
            if s and os.path.exists(s):
                os.unlink(s)
        self._log = open(self.console_log, "wb")
        with open(self.stderr_log, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, preexec_fn=_set_pdeathsig, close_fds=True)
        self.started_at = time.monotonic()
        _live.add(self)
        self._reader = threading.Thread(target=self._read_console,
                                        name="vm-console", daemon=True)
        self._reader.start()
        return self

    def _read_console(self):
        dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = self.proc.stdout.fileno()
        held_cr = ""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if chunk:
                self._log.write(chunk)
                self._log.flush()
            text = held_cr + dec.decode(chunk, final=not chunk)
            held_cr = ""
            if chunk and text.endswith("\r"):   # maybe half of "\r\n"
                text, held_cr = text[:-1], "\r"
            with self._cond:
                self._text += text.replace("\r\n", "\n")
                if not chunk:
                    self._eof = True
                self._cond.notify_all()
            if not chunk:
                self._log.close()
                return

    def kill(self):
        """Stop QEMU (SIGKILL) if running and release everything. Idempotent."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.exit_code = self.proc.wait()
            if self._reader:
                self._reader.join(10)
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        _live.discard(self)
        if self._sockdir_tmp:
            shutil.rmtree(self._sockdir_tmp, ignore_errors=True)
            self._sockdir_tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def elapsed(self):
        """Seconds since start()."""
        return time.monotonic() - self.started_at

    # ---- console ------------------------------------------------------

    @property
    def console_text(self):
        with self._cond:
            return self._text

    def console_tail(self, lines=60):
        return "\n".join(self.console_text.split("\n")[-lines:])

    def _fail(self, what):
        state = ("running" if self.running else
                 "exited rc=%s" % (self.proc.returncode if self.proc else None))
        msg = "%s (qemu %s, %.1fs after start)\n--- console tail (%s) ---\n%s" % (
            what, state, self.elapsed() if self.started_at else 0,
            self.console_log, self.console_tail())
        try:
            with open(self.stderr_log, errors="replace") as f:
                err = f.read().strip()
            if err:
                msg += "\n--- qemu stderr ---\n" + err[-3000:]
        except OSError:
            pass
        return VMError(msg)

    def wait_for(self, pattern, timeout=None, pos=None):
        """Wait until `pattern` (str: literal; re.Pattern: regex) appears in
        the console and return the re.Match (positions index console_text).
        The search starts at `pos`, by default at the end of the previous
        wait_for match (expect-style, so a prompt is not matched twice);
        pass pos=0 to search everything. Raises VMError with the console
        tail on timeout or when QEMU exits without printing it."""
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(
            re.escape(pattern))
        timeout = (self.timeout if timeout is None else timeout) * timeout_scale()
        deadline = time.monotonic() + timeout
        start = self._cursor if pos is None else pos
        with self._cond:
            while True:
                m = rx.search(self._text, start)
                if m:
                    self._cursor = m.end()
                    return m
                if self._eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        if self._eof:
            self.proc.wait()
            raise self._fail("console ended before %r appeared" % rx.pattern)
        raise self._fail("timeout (%.0fs) waiting for %r" % (timeout, rx.pattern))

    def send_console(self, text):
        """Type text into the serial console (the guest's ttyS0 or ttyAMA0)."""
        if isinstance(text, str):
            text = text.encode()
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait_exit(self, timeout=None):
        """Wait for QEMU to exit (guest power-off; with panic=-1 and
        -no-reboot also a kernel panic) and return its exit code. On
        timeout QEMU is killed and VMError raised with the console tail."""
        timeout = (self.timeout if timeout is None else timeout) * timeout_scale()
        deadline = time.monotonic() + timeout
        try:
            # QEMU's exit closes the console: wake on that (Popen.wait
            # polls, up to 50 ms late), then reap it
            if self._reader:
                with self._cond:
                    self._cond.wait_for(lambda: self._eof, timeout)
            self.exit_code = self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            err = self._fail("timeout (%.0fs) waiting for the VM to exit" % timeout)
            self.kill()
            raise err from None
        if self._reader:
            self._reader.join(10)
        _live.discard(self)
        return self.exit_code

    # ---- parsed views of the console -----------------------------------

    def lines(self):
        """Console lines with kernel messages that cut into them spliced
        out (see console_lines)."""
        return console_lines(self.console_text)

    def log_lines(self):
        """The init's JSON log objects (see parse_log)."""
        return parse_log(self.console_text)

    def malformed_log_lines(self):
        """Lines that look like a cut/garbled JSON log line (see
        parse_log): tests can assert there are none."""
        return parse_log(self.console_text, malformed=True)

    def markers(self):
        """[(name, {key: value})] for HYPEMAN-PROGRAM-START / HYPEMAN-EXIT
        lines, in console order (see parse_marker)."""
        return [m for m in map(parse_marker, self.lines()) if m]

    def exit_marker(self):
        """The last HYPEMAN-EXIT marker's fields (code as int), or None."""
        ex = [kv for name, kv in self.markers() if name == "HYPEMAN-EXIT"]
        if not ex:
            return None
        d = dict(ex[-1])
        if re.fullmatch(r"-?\d+", d.get("code", "")):
            d["code"] = int(d["code"])
        return d

    @property
    def panicked(self):
        t = self.console_text
        return any(p in t for p in PANIC_PATTERNS)

    def assert_no_panic(self):
        if self.panicked:
            raise self._fail("kernel panic / init killed in the console")

    # ---- monitor --------------------------------------------------------

    def qmp(self, command, arguments=None, timeout=10):
        """One QMP command on a fresh connection; returns its "return"."""
        deadline = time.monotonic() + timeout * timeout_scale()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout * timeout_scale())
            s.connect(self.qmp_socket)
            f = s.makefile("rwb")

            def reply():
                while True:
                    if time.monotonic() > deadline:
                        raise self._fail("QMP timeout for %s" % command)
                    line = f.readline()
                    if not line:
                        raise self._fail("QMP connection closed during %s" % command)
                    msg = json.loads(line)
                    if "return" in msg:
                        return msg["return"]
                    if "error" in msg:
                        raise RuntimeError("QMP %s: %s" % (command, msg["error"]))
                    # greeting and events are skipped
            f.readline()  # greeting
            f.write(b'{"execute": "qmp_capabilities"}\n')
            f.flush()
            reply()
            req = {"execute": command}
            if arguments:
                req["arguments"] = arguments
            f.write(json.dumps(req).encode() + b"\n")
            f.flush()
            return reply()
        finally:
            s.close()

    def monitor(self, cmd, timeout=10):
        """Run an HMP command (e.g. "sendkey ctrl-alt-delete",
        "info status", "system_powerdown") and return its text output."""
        return self.qmp("human-monitor-command", {"command-line": cmd}, timeout)

    def ctrl_alt_del(self):
        """Press Ctrl-Alt-Del on the guest's keyboard: the i8042 on x86_64,
        the virtio keyboard on aarch64. The kernel's keyboard handler turns
        it into SIGINT to PID 1 (CAD disabled) or a reboot."""
        return self.monitor("sendkey ctrl-alt-delete")


# The kernel writes its messages to a serial console directly, not through
# the tty, so one can land inside a line a program is writing: the line
# goes on after the kernel message's own newline.
KERNEL_MSG = re.compile(r"\[ *\d+\.\d{6}\] ")


def console_lines(text):
    """TEXT's lines, each kernel message that starts inside a line taken
    out and the two parts of that line joined again."""
    raw = text.split("\n")
    out, i = [], 0
    while i < len(raw):
        line = raw[i]
        m = KERNEL_MSG.search(line, 1)
        while m and i + 1 < len(raw):
            i += 1
            line = line[:m.start()] + raw[i]
            m = KERNEL_MSG.search(line, 1)
        out.append(line)
        i += 1
    return out


def parse_log(text, malformed=False):
    """JSON log objects in console text: lines that are exactly one JSON
    object (surrounding whitespace allowed; kernel messages that cut into
    a line spliced out, see console_lines). Kernel messages and other
    text are skipped. malformed=True instead returns the lines that start
    with '{"' but are not one JSON object (e.g. cut short)."""
    good, bad = [], []
    for line in console_lines(text):
        s = line.strip()
        if not s.startswith("{"):
            continue
        try:
            obj = json.loads(s)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            good.append(obj)
        elif s.startswith('{"'):
            bad.append(line)
    return bad if malformed else good


def parse_marker(line):
    """('HYPEMAN-EXIT', {'code': '0', 'message': 'success'}) or None.
    A marker must start its line (as the host parses it); values may be
    "quoted" (\\" and \\\\ unescaped); all values stay strings."""
    m = re.match(r"(HYPEMAN-PROGRAM-START|HYPEMAN-EXIT)(?= |$)(.*)$", line.rstrip())
    if not m:
        return None
    kv = {}
    for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', m.group(2)):
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        kv[k] = v
    return m.group(1), kv


def _kill_all():
    for vm in list(_live):
        vm.kill()


atexit.register(_kill_all)


# ---- initramfs (newc cpio) -------------------------------------------------

class Initramfs:
    """Build a newc cpio archive in memory (no root needed: owners are 0,
    device nodes are just headers). Parent directories are added as needed.

        ir = Initramfs()
        ir.file("/init", script, mode=0o755)
        ir.file_from("/bin/busybox", "/usr/bin/busybox", mode=0o755)
        ir.symlink("/bin/sh", "busybox")
        ir.write(path)                       # or concat_initrd(out, base, ir)
    """

    def __init__(self):
        self._entries = []     # (name, mode, data, rdev)
        self._dirs = set()

    def _parents(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.dir("/" + "/".join(parts[:i]))

    def dir(self, path, mode=0o755):
        p = path.strip("/")
        if p and p not in self._dirs:
            self._dirs.add(p)
            self._parents(path)
            self._entries.append((p, 0o040000 | mode, b"", (0, 0)))
        return self

    def file(self, path, data, mode=0o644):
        self._parents(path)
        if isinstance(data, str):
            data = data.encode()
        self._entries.append((path.strip("/"), 0o100000 | mode, data, (0, 0)))
        return self

    def file_from(self, path, src, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = os.stat(src).st_mode & 0o7777
        return self.file(path, data, mode)

    def symlink(self, path, target):
        self._parents(path)
        self._entries.append((path.strip("/"), 0o120777, target.encode(), (0, 0)))
        return self

    def chardev(self, path, major, minor, mode=0o600):
        self._parents(path)
        self._entries.append((path.strip("/"), 0o020000 | mode, b"", (major, minor)))
        return self

    def bytes(self):
        out = bytearray()

        def pad():
            out.extend(b"\0" * (-len(out) % 4))

        def entry(ino, name, mode, data, rdev):
            nm = name.encode() + b"\0"
            fields = [ino, mode, 0, 0, 2 if mode & 0o040000 == 0o040000 else 1,
                      0, len(data), 0, 0, rdev[0], rdev[1], len(nm), 0]
            out.extend(b"070701" + b"".join(b"%08X" % v for v in fields))
            out.extend(nm)
            pad()
            out.extend(data)
            pad()
        for i, (name, mode, data, rdev) in enumerate(self._entries):
            entry(i + 1, name, mode, data, rdev)
        entry(0, "TRAILER!!!", 0, b"", (0, 0))
        out.extend(b"\0" * (-len(out) % 512))
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.bytes())
        return str(path)


def concat_initrd(out, base, extra):
    """Write base initrd (any compression the kernel reads) followed by the
    uncompressed cpio `extra` (Initramfs or bytes) to out. The kernel
    unpacks both; a file in extra replaces the same path in base (e.g. a
    fake /usr/local/bin/guest-agent)."""
    with open(base, "rb") as f:
        data = f.read()
    data += b"\0" * (-len(data) % 4)
    if isinstance(extra, Initramfs):
        extra = extra.bytes()
    with open(out, "wb") as f:
        f.write(data + extra)
    return str(out)
