"""`hypeman run --arch`: the guest's architecture picks the image's platform,
Debian's kernel of that flavour, the initrd built for it and QEMU's machine.

The tests marked multiarch run once per architecture (x86_64, aarch64):
the same two-platform layout (tests/lib/oci.py write_multiarch_layout, each
platform's busybox) boots on each with `--arch ARCH`, with the tool's
default kernel and initrd. The others check, without booting, what is
refused before anything is built: an image, a kernel or an initrd of the
other architecture.

    /usr/bin/python3 -m pytest tests/vm/test_run_arch.py   (as root)
"""

import gzip
import os
import shutil
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import arch as _arch, hostrun, images, kernel as _kernel, oci  # noqa: E402
from lib.hostrun import Console, imgs, run  # noqa: E402
from lib.oci import F  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")
OTHER = {"x86_64": "aarch64", "aarch64": "x86_64"}
CMD = ["/bin/sh", "-c", "echo machine=$(uname -m); exit 7"]


@pytest.fixture(scope="session")
def hypeman(tmp_path_factory):
    return hostrun.binary(tmp_path_factory)


@pytest.fixture(scope="session")
def two_platforms(tmp_path_factory):
    """A layout with a linux/amd64 and a linux/arm64 image (each its
    architecture's static busybox), running CMD."""
    d = tmp_path_factory.mktemp("two-platforms")
    trees = {a: images.rootfs(str(d / a), arch=a) for a in ("x86_64", "aarch64")}
    oci.write_multiarch_layout(str(d / "layout"), trees, {"Cmd": CMD})
    return str(d / "layout")


def other_kernel(arch):
    """Debian's kernel of the other architecture (vmlinuz, modules, release)."""
    try:
        return _kernel.kernel_tree(arch=OTHER[arch])
    except (RuntimeError, OSError) as e:
        pytest.skip("no %s kernel: %s" % (OTHER[arch], e))


def out_initrd(arch, name):
    path = os.path.join(_arch.out_dir(arch), name)
    if not os.path.exists(path):
        pytest.skip("%s not built (./build.sh --arch %s)" % (path, arch))
    return path


def tool_dir(tmp_path, hypeman, arch, rel, initrd):
    """A copy of the binary with INITRD where build.sh puts the one for
    RELEASE (out/initrd-<release>, out/aarch64/initrd-<release> for another
    architecture than the machine's), and plain initrds that would not boot."""
    bindir = tmp_path / "out"
    sub = bindir if arch == _arch.host() else bindir / arch
    sub.mkdir(parents=True)
    shutil.copy(hypeman, bindir / "hypeman")
    shutil.copy(initrd, sub / ("initrd-" + rel))
    for d in {bindir, sub}:
        (d / "initrd").write_bytes(b"the plain initrd would not boot this kernel")
    return bindir, sub / ("initrd-" + rel)


# ---------------------------------------------------------------- booting

@pytest.mark.multiarch
@pytest.mark.vm
def test_each_platform_boots_on_its_architecture(hypeman, kernel, initrd, arch,
                                                 two_platforms, tmp_path):
    """--arch ARCH with the defaults: that architecture's cached kernel, the
    initrd-<release> build.sh wrote for it, its manifest of the layout;
    the program (that platform's busybox) reports the machine, and its exit
    code is the tool's."""
    bindir, want_initrd = tool_dir(tmp_path, hypeman, arch, kernel[2], initrd)
    p = run(str(bindir / "hypeman"), ["--arch", arch, two_platforms], cwd="/",
            unset=("HYPEMAN_KERNEL", "HYPEMAN_INITRD"))
    assert p.returncode == 7, "rc %d\n%s\n%s" % (p.returncode, p.stderr, p.stdout[-3000:])
    assert "machine=%s" % arch in p.stdout.splitlines(), p.stdout[-3000:]
    assert "HYPEMAN-EXIT code=7" in p.stdout
    assert "booting %s with %s (%s, exec mode" % (kernel[0], want_initrd, arch) in p.stderr, \
        p.stderr
    assert 'the program exited: status 7 ("exit code 7")' in p.stderr


@pytest.mark.multiarch
@pytest.mark.vm
def test_ctrl_c_stops_the_program(hypeman, kernel, initrd, arch, two_platforms, tmp_path):
    """SIGINT to the tool: Ctrl-Alt-Del through QMP (on aarch64 through the
    virtio keyboard, the virt machine has no other); the init forwards
    SIGTERM to the program and powers off; the status is 128+15."""
    argv = [hypeman, "run", "--arch", arch, "--kernel", kernel[0], "--initrd", initrd,
            two_platforms, "/bin/sh", "-c", "echo sleeping; exec sleep 1000"]
    c = Console(argv, dict(os.environ, TMPDIR=str(tmp_path)))
    try:
        assert c.wait_for(r"sleeping\r?\n", 120), c.text[-3000:]
        os.killpg(c.p.pid, signal.SIGINT)
        rc = c.finish(120)
    finally:
        c.kill()
    assert rc == 143, "rc %r\n%s\n%s" % (rc, getattr(c, "stderr", ""), c.text[-3000:])
    assert 'HYPEMAN-EXIT code=143 message="killed by signal 15' in c.text
    assert "stopping the VM" in c.stderr and "killing" not in c.stderr, c.stderr


# ---------------------------------------------------------------- the command line

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


# ---------------------------------------------------------------- images of another platform

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


# ---------------------------------------------------------------- kernels and initrds

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
