"""Self-tests of the VM harness (tests/lib) that boot, independent of
hypeman-init (its disk, initramfs and kernel helpers without a VM:
tests/host/test_harness_parts.py); and the agent client, which gives up
with "guest agent not reachable" within its deadline when no agent runs in
the guest (hypeman-init's initrd, each architecture).

The guests here are tiny initramfs images built from Debian's static
busybox (package busybox-static), used only by these tests.
"""

import gzip
import os
import re
import shutil
import socket
import time

import pytest

from lib import agent, disks, images, kernel as kmod
from lib.vm import VM, VMError, Initramfs, concat_initrd

BUSYBOX = shutil.which("busybox", path="/bin:/usr/bin")

needs_busybox = pytest.mark.skipif(
    BUSYBOX is None, reason="static busybox missing: apt-get install busybox-static")

PRELUDE = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.list); do insmod "$m" || echo "INSMOD-FAILED $m"; done
"""


def busybox_initrd(path, moddir, body, modules=(), compress=False):
    """Initramfs: static busybox, the modules (and their deps) and /init =
    PRELUDE + body. compress=True gzips it (like a real initrd)."""
    ir = Initramfs()
    ir.file_from("/bin/busybox", BUSYBOX, 0o755)
    for d in ("/proc", "/sys", "/dev", "/mnt", "/tmp"):
        ir.dir(d)
    ir.chardev("/dev/console", 5, 1)
    names = []
    for p in kmod.module_closure(moddir, modules):
        name = "/lib/modules/" + os.path.basename(p)
        ir.file_from(name, p, 0o644)
        names.append(name)
    ir.file("/modules.list", "\n".join(names) + "\n")
    ir.file("/init", PRELUDE + body, 0o755)
    data = ir.bytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(data, 1) if compress else data)
    return str(path)


@needs_busybox
@pytest.mark.vm
def test_boot_log_markers_poweroff(vm_factory, kernel, tmp_path):
    body = r"""
echo "AT-INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
echo '{"time":"2026-11-26T10:15:30.123Z","level":"INFO","phase":"boot","msg":"hello","uptime_ms":1}'
echo "HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=exec"
echo 'HYPEMAN-EXIT code=0 message="success"'
echo "CMDLINE $(cat /proc/cmdline)"
poweroff -f
"""
    rd = busybox_initrd(tmp_path / "rd", kernel[1], body)
    vm = vm_factory(initrd=rd, agent_socket=False, append_extra="foo=bar")
    m = vm.wait_for(re.compile(r"AT-INIT uptime=([\d.]+)"), timeout=60)
    host_s, guest_s = vm.elapsed(), float(m.group(1))
    assert vm.wait_exit(timeout=30) == 0
    vm.assert_no_panic()
    print("reached /init: guest uptime %.2fs, host wall %.2fs" % (guest_s, host_s))
    assert vm.log_lines() == [{"time": "2026-11-26T10:15:30.123Z", "level": "INFO",
                               "phase": "boot", "msg": "hello", "uptime_ms": 1}]
    assert vm.malformed_log_lines() == []
    assert [n for n, _ in vm.markers()] == ["HYPEMAN-PROGRAM-START", "HYPEMAN-EXIT"]
    assert vm.exit_marker() == {"code": 0, "message": "success"}
    cmdline = vm.wait_for(re.compile(r"CMDLINE (.*)"), pos=0).group(1)
    assert "console=ttyS0" in cmdline and "panic=-1" in cmdline
    assert "init_on_alloc=0 init_on_free=0" in cmdline     # as hypeman's host
    assert "hypeman.rescue=0" in cmdline and cmdline.rstrip().endswith("foo=bar")
    with open(vm.console_log, "rb") as f:  # full capture, from the first byte
        assert f.read().decode().replace("\r\n", "\n") == vm.console_text


@needs_busybox
@pytest.mark.vm
def test_disks_order_agent_net_console(vm_factory, kernel, tmp_path):
    """vda..vdd in list order (erofs, ext4 rw, config, raw), agent port
    both ways, eth0 present, typing into the console."""
    src = tmp_path / "root"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "which").write_text("rootfs-erofs\n")
    rootfs = disks.erofs_from_dir(tmp_path / "rootfs.erofs", src)
    overlay = disks.empty_ext4(tmp_path / "overlay.img", size_mb=16)
    config = disks.config_disk(tmp_path / "config.img", {"cmd": ["x"]})
    raw = tmp_path / "raw.img"
    raw.write_bytes(b"RAW-DISK-4\n" + b"\0" * (disks.MiB - 11))
    body = r"""
for i in $(seq 200); do [ -b /dev/vdd ] && break; usleep 10000; done
mount -t erofs -o ro /dev/vda /mnt && echo "VDA $(cat /mnt/etc/which)" && umount /mnt
mount -t ext4 /dev/vdb /mnt && mkdir /mnt/upper && echo written-by-guest > /mnt/upper/f && umount /mnt && echo VDB-OK
mount -t ext4 -o ro /dev/vdc /mnt && echo "VDC $(cat /mnt/config.json)" && umount /mnt
echo "VDD $(head -n1 /dev/vdd)"
echo "ETH0 $(cat /sys/class/net/eth0/address)"
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name)" = org.hypeman.agent.0 ] && PORT=/dev/${p##*/}
done
echo "AGENT-PORT $PORT"
exec 3<>$PORT
echo from-guest >&3
read line <&3
echo "AGENT-GOT $line"
exec 3>&-
echo "SHELL-READY"
exec sh
"""
    rd = busybox_initrd(tmp_path / "rd", kernel[1], body, modules=[
        "virtio_pci", "virtio_blk", "virtio_net", "virtio_console",
        "ext4", "erofs"])
    vm = vm_factory(initrd=rd, disks=[rootfs, overlay, config, str(raw)], net=True)
    vm.wait_for("VDA rootfs-erofs", timeout=60)
    vm.wait_for("VDB-OK", timeout=20)
    vm.wait_for('VDC {"cmd": ["x"]}', timeout=20)
    vm.wait_for("VDD RAW-DISK-4", timeout=20)
    vm.wait_for("ETH0 52:54:00:12:34:56", timeout=20)
    vm.wait_for(re.compile(r"AGENT-PORT /dev/vport\d+p1"), timeout=20)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(vm.agent_socket)
    got = b""
    while not got.endswith(b"from-guest\n"):
        chunk = s.recv(100)
        assert chunk, "agent socket closed; got %r" % got
        got += chunk
    s.sendall(b"to-guest\n")
    vm.wait_for("AGENT-GOT to-guest", timeout=20)
    s.close()
    vm.wait_for("SHELL-READY", timeout=20)
    vm.send_console("echo $((6*7))-answer\n")
    vm.wait_for("42-answer", timeout=20)
    vm.send_console("poweroff -f\n")
    assert vm.wait_exit(timeout=30) == 0
    vm.assert_no_panic()
    assert "INSMOD-FAILED" not in vm.console_text.replace("crc32c-intel", "")
    assert disks.read_file_from_ext4(overlay, "/upper/f") == b"written-by-guest\n"
    ok, report = disks.e2fsck_clean(overlay)
    assert ok, report


@pytest.mark.alone
@needs_busybox
@pytest.mark.vm
def test_ctrl_alt_del_monitor_and_timeouts(vm_factory, kernel, tmp_path):
    body = r"""
echo 0 > /proc/sys/kernel/ctrl-alt-del
trap 'echo GOT-SIGINT; poweroff -f' INT
echo READY
sleep 1000 & wait $!
echo WAIT-ENDED-WITHOUT-SIGNAL
"""
    rd = busybox_initrd(tmp_path / "rd", kernel[1], body)
    vm = vm_factory(initrd=rd)
    vm.wait_for("READY", timeout=60)
    assert "running" in vm.monitor("info status")
    t = time.monotonic()
    with pytest.raises(VMError) as e:
        vm.wait_for("never printed", timeout=1)
    assert time.monotonic() - t < 10
    assert "READY" in str(e.value) and "qemu running" in str(e.value)
    vm.monitor("sendkey ctrl-alt-delete")
    vm.wait_for("GOT-SIGINT", timeout=20)
    assert vm.wait_exit(timeout=30) == 0
    with pytest.raises(VMError) as e:  # console closed: fails at once
        vm.wait_for("never printed", timeout=60)
    assert "console ended" in str(e.value)


@needs_busybox
@pytest.mark.vm
def test_panic_ends_qemu(vm_factory, kernel, tmp_path):
    rd = busybox_initrd(tmp_path / "rd", kernel[1], "echo EXITING\nexit 3\n")
    vm = vm_factory(initrd=rd, agent_socket=False)
    assert vm.wait_exit(timeout=60) == 0   # panic=-1 + -no-reboot
    assert vm.panicked and "Attempted to kill init" in vm.console_text
    with pytest.raises(VMError):
        vm.assert_no_panic()


@needs_busybox
@pytest.mark.vm
def test_wait_exit_timeout_kills(kernel, tmp_path):
    rd = busybox_initrd(tmp_path / "rd", kernel[1], "echo IDLE\nsleep 1000 & wait\n")
    vm = VM(tmp_path / "vm", rd, kernel=kernel[0], agent_socket=False)
    with vm:
        vm.wait_for("IDLE", timeout=60)
        with pytest.raises(VMError) as e:
            vm.wait_exit(timeout=1)
        assert "IDLE" in str(e.value)
        assert not vm.running and vm.proc.returncode is not None


@needs_busybox
@pytest.mark.vm
def test_concat_initrd_overrides(vm_factory, kernel, tmp_path):
    """A gzip initrd plus an appended plain cpio: the later file wins."""
    body = 'echo "WHICH $(cat /etc/which) ADDED $(cat /etc/added)"\npoweroff -f\n'
    base = tmp_path / "base.ir"
    busybox_initrd(base, kernel[1], body, compress=True)
    extra = Initramfs()
    extra.file("/etc/which", "from-extra")
    extra.file("/etc/added", "yes")
    # put a base /etc/which into the base archive too by concatenating twice
    first = Initramfs().file("/etc/which", "from-base")
    mid = concat_initrd(tmp_path / "mid.ir", base, first)
    rd = concat_initrd(tmp_path / "rd.ir", mid, extra)
    vm = vm_factory(initrd=rd, agent_socket=False)
    vm.wait_for("WHICH from-extra ADDED yes", timeout=60)
    assert vm.wait_exit(timeout=30) == 0


@pytest.mark.alone
@pytest.mark.multiarch
@pytest.mark.vm
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
    for call, timeout in ((lambda t: agent.run(vm.agent_socket, ["@ping"], timeout=t), 2.0),
                          (lambda t: agent.wait_ready(vm.agent_socket, t), 2.0)):
        t0 = time.monotonic()
        with pytest.raises(agent.AgentError) as exc:
            call(timeout)
        took = time.monotonic() - t0
        assert "guest agent not reachable" in str(exc.value)
        assert took <= timeout + 5, "took %.1fs with timeout %.1fs" % (took, timeout)
    assert vm.running        # the guest itself is fine, only agent-less
