"""`hypeman run --machine`: QEMU's microvm (virtio-mmio announced by ACPI)
and Firecracker's shape (microvm without ACPI, the devices named on the
kernel command line, Firecracker's boot arguments), beside q35; and the
kernel/initrd check knowing that a kernel with its boot drivers built in
needs no modules, and what Firecracker's shape needs of a kernel
(docs/kernel.md: Machines).

The production-shape kernel is lib.kernel's "hypeman" flavour; the plain
initrd is ./build.sh's out/initrd.
"""

import os
import shutil

import pytest

from conftest import arch_file
from lib import hostrun
from lib import kernel as _kernel
from lib.hostrun import run
import test_hypeman_run
from test_hypeman_run import hypeman  # noqa: F401

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root"),
              pytest.mark.production]


@pytest.fixture(scope="module")
def production():
    return _kernel.production_kernel()


@pytest.fixture(scope="module")
def plain():
    path = arch_file("x86_64", "initrd", "HYPEMAN_PLAIN_INITRD")
    if not os.path.exists(path):
        pytest.skip("plain initrd not built: %s missing (./build.sh)" % path)
    return path


@pytest.fixture
def layout(tmp_path):
    path = str(tmp_path / "image")
    test_hypeman_run.whiteout_image(path)
    return path


def boots(p):
    """The whiteout image's program ran and its status came back."""
    assert p.returncode == 5, "rc %d\n%s\n%s" % (p.returncode, p.stderr, p.stdout[-3000:])
    assert 'HYPEMAN-EXIT code=5 message="exit code 5"' in p.stdout


@pytest.mark.vm
def test_firecracker_boots_the_production_kernel(hypeman, production, plain, layout,  # noqa: F811
                                                 tmp_path):
    """--machine firecracker with a kernel that has its boot drivers built in
    and the plain initrd: the program runs, the VM ends with a reset, and
    the QEMU command is, argument for argument, the harness's firecracker."""
    work = tmp_path / "w"
    p = run(hypeman, ["--machine", "firecracker", "--keep", str(work), layout],
            kernel=production[0], initrd=plain)
    boots(p)
    assert "the VM ended with a reset (the machine has no power-off)" in p.stderr, p.stderr
    assert "resetting: without ACPI there is no power-off" in p.stdout, p.stdout[-2000:]
    p = run(hypeman, ["--machine", "firecracker", "--print-qemu", "--keep", str(work), layout],
            kernel=production[0], initrd=plain)
    assert hostrun.printed_argv(p) == hostrun.harness_argv(work, production[0], plain, "x86_64",
                                                           machine="firecracker")


@pytest.mark.vm
def test_microvm_boots_debian_kernel(hypeman, kernel, initrd, layout, tmp_path):  # noqa: F811
    """--machine microvm with Debian's modular kernel and its initrd: init
    loads virtio_mmio for the ACPI-announced devices; the command is the
    harness's microvm."""
    work = tmp_path / "w"
    p = run(hypeman, ["--machine", "microvm", "--keep", str(work), layout],
            kernel=kernel[0], initrd=initrd)
    boots(p)
    assert "the VM powered off" in p.stderr, p.stderr
    p = run(hypeman, ["--machine", "microvm", "--print-qemu", "--keep", str(work), layout],
            kernel=kernel[0], initrd=initrd)
    assert hostrun.printed_argv(p) == hostrun.harness_argv(work, kernel[0], initrd, "x86_64",
                                                           machine="microvm")


def test_builtin_kernel_needs_no_modules(hypeman, production, plain, initrd, kernel,  # noqa: F811
                                         layout, tmp_path):
    """A kernel with its boot drivers built in (its config says so) boots
    the plain initrd, or one carrying another kernel's modules, on every
    machine; Debian's modular kernel with the plain initrd is refused, for
    microvm by virtio_mmio."""
    for machine in ("q35", "microvm", "firecracker"):
        for rd in (plain, initrd):
            p = run(hypeman, ["--machine", machine, "--print-qemu", layout],
                    kernel=production[0], initrd=rd)
            assert p.returncode == 0, (machine, rd, p.stderr)
    p = run(hypeman, ["--machine", "microvm", "--print-qemu", layout], kernel=kernel[0],
            initrd=plain)
    assert p.returncode == 2, p.stderr
    assert "has no kernel modules for %s" % kernel[2] in p.stderr
    assert "that kernel has virtio_blk, virtio_mmio, ext4 as modules" in p.stderr, p.stderr


def test_firecracker_refuses_what_cannot_boot(hypeman, kernel, initrd, layout,  # noqa: F811
                                              tmp_path):
    """Before anything boots: Debian's kernel (no
    CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES: it would never see Firecracker's
    disks), and a kernel that can see them but has its disk drivers as
    modules (Firecracker's nomodule); each names what to boot instead."""
    p = run(hypeman, ["--machine", "firecracker", "--print-qemu", layout], kernel=kernel[0],
            initrd=initrd)
    assert p.returncode == 2, p.stderr
    assert "cannot see --machine firecracker's disks" in p.stderr, p.stderr
    assert "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y" in p.stderr
    assert "--flavour hypeman" in p.stderr
    # the same kernel image, beside a config (kernel/build.sh's name) that
    # has the command line devices but the disk drivers as modules
    kdir = tmp_path / "k"
    kdir.mkdir()
    shutil.copy(kernel[0], kdir / "vmlinuz")
    (kdir / "config").write_text("CONFIG_VIRTIO_MMIO=y\nCONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n"
                                 "CONFIG_VIRTIO_BLK=m\nCONFIG_EXT4_FS=m\n")
    p = run(hypeman, ["--machine", "firecracker", "--print-qemu", layout],
            kernel=str(kdir / "vmlinuz"), initrd=initrd)
    assert p.returncode == 2, p.stderr
    assert "has virtio_blk, ext4 as modules, and Firecracker's boot arguments forbid " \
        "modules (nomodule)" in p.stderr, p.stderr


def test_machine_usage_errors(hypeman, layout):  # noqa: F811
    for args, words in (
            (["--machine", "pc"], "unknown --machine 'pc' (want q35, virt, microvm or firecracker)"),
            (["--arch", "aarch64", "--machine", "microvm"],
             "--machine microvm is for x86_64 guests, not aarch64"),
            (["--machine", "virt"], "--machine virt is for aarch64 guests, not x86_64"),
            (["--machine", "firecracker", "--gpu", "0000:01:00.0"],
             "--gpu needs PCI, which --machine firecracker has not")):
        p = run(hypeman, args + ["--no-boot", layout])
        assert p.returncode == 2 and words in p.stderr, (args, p.stderr)
