"""Self-tests of the VM harness (tests/lib), independent of hypeman-init.

The guests here are tiny initramfs images built from Debian's static
busybox (package busybox-static), used only by these tests.
"""

import gzip
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from lib import disks, kernel as kmod
from lib.vm import VM, VMError, Initramfs, concat_initrd, parse_log, parse_marker

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


# ---- no VM ----------------------------------------------------------------

@pytest.mark.alone
@pytest.mark.multiarch
def test_kernel_tree(kernel, arch):
    vmlinuz, moddir, release = kernel
    assert os.path.isfile(vmlinuz) and vmlinuz.endswith("vmlinuz-" + release)
    assert os.path.isfile(os.path.join(moddir, "modules.dep"))
    assert moddir.endswith("/lib/modules/" + release)
    assert release.endswith({"x86_64": "-amd64", "aarch64": "-arm64"}[arch])
    t = time.monotonic()
    assert kmod.kernel_tree(arch=arch) == kernel  # cached: no download, no unpack
    assert time.monotonic() - t < 5
    out = subprocess.run(["/usr/bin/python3", kmod.__file__, "--arch", arch], check=True,
                         capture_output=True, text=True).stdout
    assert "VMLINUZ=%s\n" % vmlinuz in out and "RELEASE=%s\n" % release in out


def test_module_closure(kernel):
    order = [os.path.basename(p) for p in
             kmod.module_closure(kernel[1], ["virtio-blk", "ext4", "virtio_pci"])]
    assert order.index("virtio_ring.ko") < order.index("virtio.ko") \
        < order.index("virtio_blk.ko") < order.index("virtio_pci.ko")
    # ext4's softdep "pre: crypto-crc32c" resolves through modules.alias
    assert order.index("crc32c_generic.ko") < order.index("ext4.ko")
    assert order.index("jbd2.ko") < order.index("ext4.ko")
    assert len(order) == len(set(order))


def test_ext4_round_trip(tmp_path):
    src = tmp_path / "src"
    (src / "etc" / "sub").mkdir(parents=True)
    (src / "etc" / "hello.txt").write_bytes(b"hello\x00world\n")
    (src / "etc" / "sub" / "with space").write_text("spaced")
    os.symlink("hello.txt", src / "etc" / "rel")
    os.symlink("/etc/hello.txt", src / "etc" / "abs")
    os.symlink("../../../../etc/hello.txt", src / "etc" / "sub" / "dotdot")
    os.symlink("/" + "x" * 80, src / "slowlink")
    (src / "bin").mkdir()
    (src / "bin" / "prog").write_text("#!/bin/sh\n")
    os.chmod(src / "bin" / "prog", 0o755)
    img = disks.ext4_from_dir(tmp_path / "a.img", src, size_mb=16)
    assert os.path.getsize(img) == 16 * disks.MiB
    rd = disks.read_file_from_ext4
    assert rd(img, "/etc/hello.txt") == b"hello\x00world\n"
    assert rd(img, "etc/sub/with space") == b"spaced"
    assert rd(img, "/etc/rel") == rd(img, "/etc/abs") == b"hello\x00world\n"
    assert rd(img, "/etc/sub/dotdot") == b"hello\x00world\n"  # clamped at /
    assert rd(img, "/etc/missing") is None
    assert rd(img, "/nodir/missing") is None
    with pytest.raises(IsADirectoryError):
        rd(img, "/etc")
    assert disks.readlink_ext4(img, "/etc/abs") == "/etc/hello.txt"
    assert disks.readlink_ext4(img, "/slowlink") == "/" + "x" * 80
    assert disks.readlink_ext4(img, "/etc/hello.txt") is None
    ls = disks.ls_ext4(img, "/etc")
    assert set(ls) == {"hello.txt", "sub", "rel", "abs"}
    assert ls["hello.txt"]["size"] == 12
    assert disks.ls_ext4(img, "/bin")["prog"]["mode"] == 0o100755
    assert disks.stat_ext4(img, "/bin/prog")["mode"] == 0o755
    assert disks.ls_ext4(img, "/nope") is None
    ok, report = disks.e2fsck_clean(img)
    assert ok, report


def test_empty_ext4_and_recovery_flag(tmp_path):
    img = disks.empty_ext4(tmp_path / "o.img", size_mb=8, label="overlay")
    assert set(disks.ls_ext4(img, "/")) == {"lost+found"}
    assert disks.fs_info(img)["Filesystem volume name"] == "overlay"
    assert disks.e2fsck_clean(img)[0]
    # what an unclean unmount leaves behind: the journal needs replaying
    subprocess.run(["debugfs", "-w", "-R", "feature needs_recovery", img],
                   check=True, capture_output=True)
    assert disks.needs_recovery(img)
    ok, report = disks.e2fsck_clean(img)
    assert not ok and "needs_recovery=True" in report


def test_config_disk(tmp_path):
    rd = disks.read_file_from_ext4
    img = disks.config_disk(tmp_path / "c1.img", {"cmd": ["/bin/true"], "env": {"A": "b"}})
    assert rd(img, "/config.json") == b'{"cmd": ["/bin/true"], "env": {"A": "b"}}'
    img = disks.config_disk(tmp_path / "c2.img", b"{not json")
    assert rd(img, "/config.json") == b"{not json"
    big = b"[" + b" " * (2 * disks.MiB) + b"]"
    img = disks.config_disk(tmp_path / "c3.img", big)
    assert rd(img, "/config.json") == big
    img = disks.config_disk(tmp_path / "c4.img", None)
    assert rd(img, "/config.json") is None
    assert disks.e2fsck_clean(img)[0]


def test_erofs_from_dir(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x" * 10000)
    for comp in (None, "lz4"):
        img = disks.erofs_from_dir(tmp_path / ("r-%s.erofs" % comp), src, compress=comp)
        with open(img, "rb") as f:
            f.seek(1024)
            assert f.read(4) == b"\xe2\xe1\xf5\xe0"  # EROFS_SUPER_MAGIC_V1, LE


def test_initramfs_is_valid_newc(tmp_path):
    ir = Initramfs().file("/a/b/c", "data", 0o640).symlink("/a/l", "b/c")
    ir.chardev("/dev/console", 5, 1)
    p = ir.write(tmp_path / "x.cpio")
    with open(p, "rb") as f:
        names = subprocess.run(["cpio", "-it"], stdin=f, capture_output=True,
                               text=True, check=True).stdout.split()
        f.seek(0)
        long = subprocess.run(["cpio", "-itv"], stdin=f, capture_output=True,
                              text=True, check=True).stdout.splitlines()
    assert names == ["a", "a/b", "a/b/c", "a/l", "dev", "dev/console"]
    assert long[2].startswith("-rw-r-----") and long[3].endswith("a/l -> b/c")
    assert long[5].startswith("crw-------") and "5," in long[5]


def test_parsers():
    text = ('[    1.0] kernel line\n'
            '{"time":"t","level":"INFO","phase":"boot","msg":"m","uptime_ms":5}\n'
            '{"time":"t","level":"ERR[   2.0] cut by the kernel\n'
            '  {"time":"u","level":"WARN","phase":"x","msg":"y"}\r\n'
            '{}\n[1, 2]\n')
    objs = parse_log(text)
    assert objs[0]["uptime_ms"] == 5 and objs[1]["level"] == "WARN" and objs[2] == {}
    assert len(objs) == 3
    assert parse_log(text, malformed=True) == ['{"time":"t","level":"ERR[   2.0] cut by the kernel']
    assert parse_marker('HYPEMAN-EXIT code=137 message="killed by signal 9 (KILL) - OOM"') == \
        ("HYPEMAN-EXIT", {"code": "137", "message": "killed by signal 9 (KILL) - OOM"})
    assert parse_marker('HYPEMAN-EXIT code=1 message="say \\"hi\\" \\\\ ok"')[1]["message"] == \
        'say "hi" \\ ok'
    assert parse_marker("HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=exec") == \
        ("HYPEMAN-PROGRAM-START", {"ts": "2026-11-26T10:15:30.123456789Z", "mode": "exec"})
    assert parse_marker("out HYPEMAN-EXIT code=0") is None
    assert parse_marker("HYPEMAN-EXITED code=0") is None


# ---- VMs ------------------------------------------------------------------

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
