"""Self-tests of the VM harness's parts that need no VM (tests/lib): the
cached kernel tree, module closures, ext4 and erofs disks, the config disk,
newc initramfs archives, the log and marker parsers, the progress lines'
estimate of the time left. The booting half:
tests/vm/test_harness.py.
"""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import disks, kernel as kmod, progress  # noqa: E402
from lib.vm import Initramfs, console_lines, parse_log, parse_marker  # noqa: E402


@pytest.mark.multiarch
def test_kernel_tree(kernel, arch):
    vmlinuz, moddir, release = kernel
    assert os.path.isfile(vmlinuz) and vmlinuz.endswith("vmlinuz-" + release)
    assert os.path.isfile(os.path.join(moddir, "modules.dep"))
    assert moddir.endswith("/lib/modules/" + release)
    assert release.endswith({"x86_64": "-amd64", "aarch64": "-arm64"}[arch])
    # cached: no download, no unpack (either would rewrite the files);
    # the per-process memo cleared, so that the cache on disk is what is read
    before = [os.stat(p).st_mtime_ns for p in (vmlinuz, os.path.join(moddir, "modules.dep"))]
    kmod._tree_memo.clear()
    assert kmod.kernel_tree(arch=arch) == kernel
    assert [os.stat(p).st_mtime_ns for p in (vmlinuz, os.path.join(moddir, "modules.dep"))] == before
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


@pytest.mark.multiarch
def test_fast_boot_image(kernel, arch, tmp_path):
    """x86_64: Debian's bzImage is booted as its own uncompressed vmlinux
    (an ELF with the PVH entry; the same kernel: its banner inside), made
    once; aarch64's Image and a file that is no bzImage are booted as
    given."""
    vmlinuz = kernel[0]
    fast = kmod.fast_boot_image(vmlinuz)
    if arch != "x86_64":
        assert fast == os.path.realpath(vmlinuz)
        return
    assert fast != vmlinuz and fast.endswith(".vmlinux")
    with open(fast, "rb") as f:
        elf = f.read()
    assert kmod._has_pvh_entry(elf)
    assert b"Linux version " + kernel[2].encode() in elf
    mtime = os.stat(fast).st_mtime_ns
    kmod._fast_boot_memo.clear()
    assert kmod.fast_boot_image(vmlinuz) == fast and os.stat(fast).st_mtime_ns == mtime
    junk = tmp_path / "not-a-bzimage"
    junk.write_bytes(b"\0" * 4096)
    assert kmod.fast_boot_image(str(junk)) == str(junk)


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
    # a kernel message written into a line (the kernel's console write
    # does not wait for the tty): at its end and in its middle
    cut = ('{"phase":"headers","msg":"failed","uptime_ms":3743}'
           "[    3.706997] systemd[1]: Failed to find module 'autofs4'\n\n"
           '{"phase":"x","m[   12.000001] virtio_net virtio1: up\nsg":"y"}\n'
           'HYPEMAN-EXIT code=0 mes[    4.000000] a\n[    4.000001] b\nsage=ok\n')
    assert [o["phase"] for o in parse_log(cut)] == ["headers", "x"]
    assert parse_log(cut, malformed=True) == []
    assert [parse_marker(l) for l in console_lines(cut) if parse_marker(l)] == \
        [("HYPEMAN-EXIT", {"code": "0", "message": "ok"})]
    assert parse_marker('HYPEMAN-EXIT code=137 message="killed by signal 9 (KILL) - OOM"') == \
        ("HYPEMAN-EXIT", {"code": "137", "message": "killed by signal 9 (KILL) - OOM"})
    assert parse_marker('HYPEMAN-EXIT code=1 message="say \\"hi\\" \\\\ ok"')[1]["message"] == \
        'say "hi" \\ ok'
    assert parse_marker("HYPEMAN-PROGRAM-START ts=2026-11-26T10:15:30.123456789Z mode=exec") == \
        ("HYPEMAN-PROGRAM-START", {"ts": "2026-11-26T10:15:30.123456789Z", "mode": "exec"})
    assert parse_marker("out HYPEMAN-EXIT code=0") is None
    assert parse_marker("HYPEMAN-EXITED code=0") is None


def test_progress_estimate_from_earlier_durations(tmp_path):
    """The time left: the tests not started at their last duration (one
    without history at this run's mean so far), the running ones at what
    is left of theirs, shared by the workers."""
    hist = {"t.py::a": 10.0, "t.py::b": 20.0, "t.py::c": 30.0}
    # b, c and the new d pending (d counts the mean given, 5), a running for
    # 4 s of its 10: (20 + 30 + 5 + 6) / 2
    assert progress.estimate_left({"t.py::b", "t.py::c@apps", "t.py::d"}, {"t.py::a": 96.0},
                                  hist, 2, 100.0, 5.0) == 30.5
    # a running test past its earlier time counts 0, not less
    assert progress.estimate_left({"t.py::b"}, {"t.py::a": 50.0}, hist, 1, 100.0, 5.0) == 20.0
    # no history: the mean for each, a new running test at the mean less its time
    assert progress.estimate_left({"t.py::x", "t.py::y"}, {"t.py::z": 99.0}, {}, 2, 100.0, 4.0) == 5.5
    # the history file: merged run after run; junk read as none
    path = str(tmp_path / "durations.json")
    assert progress.load_history(path) == {}
    progress.save_history(path, {"t.py::a": 10.0, "t.py::b": 2})
    progress.save_history(path, {"t.py::b": 3.5})
    assert progress.load_history(path) == {"t.py::a": 10.0, "t.py::b": 3.5}
    with open(path, "w") as f:
        f.write('["not", "a", "map"]')
    assert progress.load_history(path) == {}
    with open(path, "w") as f:
        f.write('{"t.py::a": "ten", "t.py::b": -1, "t.py::c": 4}')
    assert progress.load_history(path) == {"t.py::c": 4.0}
    assert os.listdir(str(tmp_path)) == ["durations.json"]
