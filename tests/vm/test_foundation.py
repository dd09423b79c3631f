"""Acceptance tests for the foundation (issue "Foundation").

- the plain initrd (no modules, no agent) is small and holds what the
  kernel and the rescue path need;
- a VM with no disks at all gets as far as loading its modules, names the
  missing device in an ERROR line and powers off by itself (never a kernel
  panic), with hypeman.rescue=0 at once, without it after the rescue shell;
- the host's agent client gives up with "guest agent not reachable" within
  its deadline when no agent runs in the guest.

All of them run for each architecture (multiarch).
Build reproducibility is checked by the CI script, not here.
Run: /usr/bin/python3 -m pytest tests/vm/test_foundation.py -q
"""

import gzip
import os
import posixpath
import re
import stat
import time

import pytest

from lib import agent, images

PLAIN_INITRD_MAX = 256 * 1024
pytestmark = pytest.mark.multiarch


# ---- helpers ----------------------------------------------------------------

def read_newc(path):
    """{name: (mode, data)} of a (gzip-compressed or plain) newc cpio
    archive, or of several concatenated ones. Names are as stored
    ("init", "bin/sh"); a symlink's data is its target."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)       # also handles concatenated members
    entries, i = {}, 0
    while i < len(raw):
        if raw[i] == 0:                  # padding between archives
            i += 1
            continue
        magic = raw[i:i + 6]
        assert magic in (b"070701", b"070702"), \
            "%s: no newc header at offset %d (%r)" % (path, i, magic)
        fields = [int(raw[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
        mode, filesize, namesize = fields[1], fields[6], fields[11]
        name_end = i + 110 + namesize
        name = raw[i + 110:name_end - 1].decode("utf-8", "surrogateescape")
        data_start = name_end + (-name_end % 4)
        data_end = data_start + filesize
        i = data_end + (-data_end % 4)
        name = posixpath.normpath("/" + name).lstrip("/")
        if name and name != "TRAILER!!!":
            entries[name] = (mode, raw[data_start:data_end])
    return entries


def resolve(entries, name, depth=0):
    """Follow symlinks inside the archive; the final (name, mode) or None."""
    if depth > 10 or name not in entries:
        return None
    mode, data = entries[name]
    if stat.S_ISLNK(mode):
        target = data.decode()
        base = "" if target.startswith("/") else posixpath.dirname(name)
        return resolve(entries, posixpath.normpath(
            posixpath.join(base, target.lstrip("/"))).lstrip("/"), depth + 1)
    return name, mode


def assert_executable(entries, name):
    r = resolve(entries, name)
    assert r is not None, "%s missing or a dangling symlink in the initrd" % name
    target, mode = r
    assert stat.S_ISREG(mode) and mode & 0o111, \
        "%s -> %s is not an executable regular file (mode %o)" % (name, target, mode)


def boot_log_summary(vm):
    return "\n".join("%s %s %s" % (l.get("level"), l.get("phase"), l.get("msg"))
                     for l in vm.log_lines())


def assert_powered_off_cleanly(vm):
    """QEMU left by itself (the guest powered off) and the kernel never
    panicked: PID 1 did not exit."""
    assert not vm.running
    vm.assert_no_panic()
    assert "Attempted to kill init" not in vm.console_text
    assert "Kernel panic" not in vm.console_text


# ---- the plain initrd ---------------------------------------------------------

def test_plain_initrd_small_with_init_and_shell(plain_initrd, arch):
    """The initrd built without options is at most 256 KiB, and its cpio
    holds /init, bin/sh and bin/busybox (executable, symlinks resolved
    inside the archive, a static binary for ARCH) and no kernel modules."""
    size = os.path.getsize(plain_initrd)
    assert size <= PLAIN_INITRD_MAX, "%s is %d bytes (> %d)" % (
        plain_initrd, size, PLAIN_INITRD_MAX)
    entries = read_newc(plain_initrd)
    for name in ("init", "bin/sh", "bin/busybox"):
        assert_executable(entries, name)
    assert stat.S_ISREG(entries["bin/busybox"][0])
    elf = entries["bin/busybox"][1]
    e_machine = {"x86_64": 62, "aarch64": 183}[arch]      # EM_X86_64, EM_AARCH64
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == e_machine, \
        "bin/busybox is not an %s executable" % arch
    modules = sorted(n for n in entries if n == "lib/modules" or n.startswith("lib/modules/"))
    assert not modules, "plain initrd carries modules: %s" % modules[:5]


# ---- booting with no disks -------------------------------------------------------

def assert_boot_reached_overlay_and_named_vda(vm):
    """First JSON line is phase boot; modules were loaded; then an ERROR
    naming the missing image disk /dev/vda."""
    log = vm.log_lines()
    assert log, "no JSON log line on the console"
    assert log[0].get("phase") == "boot", "first log line: %r" % log[0]
    loaded = [l for l in log if l.get("phase") == "modules" and "dur_ms" in l
              and re.match(r"[1-9]\d* modules loaded", str(l.get("msg", "")))]
    assert loaded, "no 'N modules loaded' line in phase modules:\n" + boot_log_summary(vm)
    errors = [l for l in log if l.get("level") == "ERROR"]
    assert any("/dev/vda" in l.get("msg", "") for l in errors), \
        "no ERROR naming /dev/vda:\n" + boot_log_summary(vm)
    # the error comes after the modules were loaded
    first_err = next(i for i, l in enumerate(log) if l.get("level") == "ERROR")
    assert first_err > log.index(loaded[-1])


def test_no_disks_rescue_off_powers_off(vm_factory):
    """No disks, hypeman.rescue=0: boot and modules are logged, an ERROR
    names the missing device, and QEMU exits by itself without a panic."""
    vm = vm_factory(disks=[])
    vm.wait_exit(60)
    assert_powered_off_cleanly(vm)
    assert_boot_reached_overlay_and_named_vda(vm)
    assert "rescue#" not in vm.console_text      # no shell was started


def test_no_disks_rescue_shell_then_power_off(vm_factory):
    """Without hypeman.rescue=0 the same failure opens a working shell on
    the console; leaving it powers the VM off, without a panic."""
    vm = vm_factory(disks=[], rescue=True)
    vm.wait_for("rescue shell", timeout=60)
    vm.wait_for("rescue# ", timeout=30)
    # the tty echoes the typed line; only the shell's output has the
    # quotes removed, so seeing "rescue-ok" proves the shell ran it
    vm.send_console('echo rescue""-ok; exit\n')
    vm.wait_for(re.compile(r"^rescue-ok$", re.M), timeout=30)
    vm.wait_exit(60)
    assert_powered_off_cleanly(vm)
    assert_boot_reached_overlay_and_named_vda(vm)


# ---- the agent client without an agent -------------------------------------------

@pytest.mark.alone
def test_agent_client_fails_fast_without_agent(vm_factory, tmp_path, arch):
    """With skip_guest_agent no agent runs: agent.run and agent.wait_ready
    raise AgentError "guest agent not reachable" within their timeout (+5 s),
    instead of hanging on QEMU's always-accepting socket."""
    root = images.rootfs(tmp_path / "root", arch=arch)
    g = images.Guest(tmp_path / "g", root,
                     {"cmd": ["/bin/sleep", "600"], "skip_guest_agent": True})
    vm = vm_factory(disks=g.disks)
    vm.wait_for("HYPEMAN-PROGRAM-START", timeout=60)
    assert "test-agent: started" not in vm.console_text
    for call, timeout in ((lambda t: agent.run(vm.agent_socket, ["@ping"], timeout=t), 5.0),
                          (lambda t: agent.wait_ready(vm.agent_socket, t), 5.0)):
        t0 = time.monotonic()
        with pytest.raises(agent.AgentError) as exc:
            call(timeout)
        took = time.monotonic() - t0
        assert "guest agent not reachable" in str(exc.value)
        assert took <= timeout + 5, "took %.1fs with timeout %.1fs" % (took, timeout)
    assert vm.running        # the guest itself is fine, only agent-less
