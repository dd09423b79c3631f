"""`hypeman run --arch` without booting: the command it would run for each
architecture (--print-qemu), architecture names, and what is refused before
anything is built: an image, a kernel or an initrd of the other
architecture, a missing kernel or initrd (with the command that makes it).
The booting half: tests/vm/test_run_arch.py.

    /usr/bin/python3 -m pytest tests/host/test_run_platforms.py   (as root)
"""

import gzip
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import arch as _arch, hostrun, images, kernel as _kernel, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import F  # noqa: E402
from lib.runimages import (OTHER, PLATFORM_CMD as CMD, other_kernel, out_initrd,  # noqa: E402
                           tool_dir, two_platforms)  # noqa: F401

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")


@pytest.mark.multiarch
def test_print_qemu_is_the_harness_command(hypeman, kernel, initrd, arch, two_platforms,
                                           tmp_path):
    """--print-qemu: the command the tool would run is, argument for argument,
    the one tests/lib/vm.py boots that architecture with (q35 or virt, the
    CPU, the console on ttyS0 or ttyAMA0, the disks' slots, the agent port,
    aarch64's virtio keyboard), for the disks it made."""
    work = tmp_path / "w"
    p = run(hypeman, ["--arch", arch, "--print-qemu", "--keep", str(work), two_platforms],
            kernel=kernel[0], initrd=initrd)
    assert hostrun.printed_argv(p) == hostrun.harness_argv(work, kernel[0], initrd, arch)
    assert "--print-qemu: not booting; the disks are in %s" % work in p.stderr
    assert imgs(work) == ["config.img", "overlay.img", "rootfs.img"]
    assert not os.path.exists(work / "init.log")


def test_arch_names_and_refusals(hypeman, two_platforms, tmp_path):
    """Debian's names are taken too; an unknown one, and KVM for another
    architecture than the machine's, are usage errors."""
    p = run(hypeman, ["--arch", "riscv64", "--no-boot", two_platforms])
    assert p.returncode == 2 and "unknown --arch 'riscv64' (want x86_64 or aarch64)" in p.stderr
    other = OTHER[_arch.host()]
    p = run(hypeman, ["--arch", _arch.deb(other), two_platforms], env={"HYPEMAN_ACCEL": "kvm"})
    assert p.returncode == 2, p.stderr
    assert "HYPEMAN_ACCEL=kvm runs only %s guests here; an %s guest (--arch) needs TCG" % (
        _arch.host(), other) in p.stderr, p.stderr
    for name in (_arch.deb(other), other):
        work = tmp_path / name
        p = run(hypeman, ["-q", "--arch", name, "--no-boot", "--keep", str(work), two_platforms])
        assert p.returncode == 0, p.stderr
        assert (work / "rootfs" / "bin" / "busybox").read_bytes() == \
            open(images.busybox_binary(other), "rb").read()


def test_no_kernel_names_the_arch_fetch(hypeman, two_platforms, tmp_path):
    """No kernel of that flavour in the cache: the command that fetches it."""
    cache = tmp_path / "cache"
    (cache / "kernel").mkdir(parents=True)
    for arch in ("x86_64", "aarch64"):
        p = run(hypeman, ["--arch", arch, two_platforms], env={"HYPEMAN_CACHE": str(cache)},
                unset=("HYPEMAN_KERNEL", "HYPEMAN_INITRD"))
        assert p.returncode == 2, p.stderr
        fetch = "tests/lib/kernel.py%s`" % ("" if arch == _arch.host() else " --arch " + arch)
        assert "no kernel for %s:" % arch in p.stderr and fetch in p.stderr, p.stderr


def test_index_without_the_platform_refused(hypeman, tmp_path):
    """An image index with only the other platform's manifest: refused before
    any disk, naming what it has."""
    other = OTHER[_arch.host()]
    tree = images.rootfs(str(tmp_path / "tree"), busybox=False)
    lay = str(tmp_path / "only")
    oci.write_multiarch_layout(lay, {_arch.host(): tree}, {"Cmd": CMD})
    work = tmp_path / "work"
    p = run(hypeman, ["--arch", other, "--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert "has no manifest for linux/%s (it has: linux/%s)" % (
        _arch.deb(other), _arch.deb(_arch.host())) in p.stderr, p.stderr
    assert imgs(work) == []
    p = run(hypeman, ["-q", "--no-boot", lay])
    assert p.returncode == 0, p.stderr


def test_single_manifest_of_another_platform_refused(hypeman, tmp_path):
    """A layout whose one manifest has no platform in its descriptor (as
    `umoci init` + `umoci insert` leave it): the config's architecture
    decides."""
    lay = str(tmp_path / "image")
    descs = oci.write_layout(lay, [[F("hello", "hi\n")]], {"Cmd": ["/x"]})   # config: amd64
    wrong, right = "aarch64", "x86_64"
    work = tmp_path / "work"
    p = run(hypeman, ["--arch", wrong, "--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert "image config %s is for linux/amd64, not linux/%s: this image has no manifest " \
        "for linux/%s" % (descs["config"]["digest"], _arch.deb(wrong), _arch.deb(wrong)) \
        in p.stderr, p.stderr
    assert imgs(work) == []
    p = run(hypeman, ["-q", "--arch", right, "--no-boot", lay])
    assert p.returncode == 0, p.stderr


@pytest.mark.multiarch
def test_kernel_of_the_other_architecture_refused(hypeman, arch, initrd, two_platforms):
    k = other_kernel(arch)[0]
    p = run(hypeman, ["--arch", arch, two_platforms], kernel=k, initrd=initrd)
    assert p.returncode == 2, p.stderr
    why = {"x86_64": "not an x86 Linux kernel image (an arm64 Image? --arch aarch64 boots "
                     "those)",
           "aarch64": "an x86 kernel (bzImage), not an arm64 Image (--arch x86_64 boots it)"}
    assert "kernel %s: %s" % (k, why[arch]) in p.stderr, p.stderr
    assert "reading image" not in p.stderr


@pytest.mark.multiarch
def test_initrd_of_the_other_architecture_refused(hypeman, kernel, arch, two_platforms,
                                                  tmp_path):
    """The other architecture's initrd (its programs' ELF header says so):
    refused before anything is built, with the build.sh command that makes
    the right one."""
    wrong = out_initrd(OTHER[arch], "initrd-test")
    work = tmp_path / "work"
    p = run(hypeman, ["--arch", arch, "--keep", str(work), two_platforms], kernel=kernel[0],
            initrd=wrong)
    assert p.returncode == 2, p.stderr
    assert "%s is an initrd for %s (its bin/busybox), but the guest is %s (--arch %s)" % (
        wrong, OTHER[arch], arch, arch) in p.stderr, p.stderr
    opt = "" if arch == _arch.host() else "--arch %s " % arch
    assert "build.sh %s--kernel-modules %s\n" % (opt, os.path.realpath(kernel[1])) in p.stderr
    assert "reading image" not in p.stderr and imgs(work) == []


@pytest.mark.multiarch
def test_plain_initrd_names_the_arch_build(hypeman, kernel, arch, two_platforms):
    """The plain initrd of the right architecture, without the kernel's
    modules: the command that fixes it builds for that architecture."""
    plain = out_initrd(arch, "initrd")
    p = run(hypeman, ["--arch", arch, two_platforms], kernel=kernel[0], initrd=plain)
    assert p.returncode == 2, p.stderr
    assert "%s has no kernel modules for %s" % (plain, kernel[2]) in p.stderr, p.stderr
    opt = "" if arch == _arch.host() else "--arch %s " % arch
    sub = "" if arch == _arch.host() else arch + "/"
    assert "build.sh %s--kernel-modules %s\n" % (opt, os.path.realpath(kernel[1])) in p.stderr
    assert "(it writes out/%sinitrd-%s, which hypeman run finds by itself)" % (
        sub, kernel[2]) in p.stderr, p.stderr


def test_gzipped_arm64_image(hypeman, two_platforms, tmp_path):
    """An arm64 Image compressed with gzip (as Ubuntu ships it; QEMU loads
    it): its release is read through the compression, so the initrd built
    for it is found; gzip data of something else is refused."""
    try:
        vmlinuz, _, rel = _kernel.kernel_tree(arch="aarch64")
    except (RuntimeError, OSError) as e:
        pytest.skip("no arm64 kernel: %s" % e)
    gz = tmp_path / "vmlinuz.gz"
    with open(vmlinuz, "rb") as f:
        gz.write_bytes(gzip.compress(f.read(), compresslevel=1))
    bindir, want = tool_dir(tmp_path, hypeman, "aarch64", rel, out_initrd("aarch64", "initrd-test"))
    p = run(str(bindir / "hypeman"), ["--arch", "aarch64", "--print-qemu", "--kernel", str(gz),
                                      two_platforms], unset=("HYPEMAN_INITRD",))
    argv = hostrun.printed_argv(p)
    assert argv[argv.index("-kernel") + 1] == str(gz)
    assert argv[argv.index("-initrd") + 1] == str(want)
    bad = tmp_path / "notakernel.gz"
    bad.write_bytes(gzip.compress(b"\0" * 4096))
    p = run(hypeman, ["--arch", "aarch64", "--kernel", str(bad), two_platforms])
    assert p.returncode == 2, p.stderr
    assert "kernel %s: gzip'ed: not an arm64 Linux kernel Image (no ARM\\x64 magic at 0x38)" % \
        bad in p.stderr, p.stderr
