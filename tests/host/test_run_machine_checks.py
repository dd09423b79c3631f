"""`hypeman run --machine` before booting: a kernel with its boot drivers
built in needs no modules on any machine, Debian's modular kernel with the
plain initrd is refused, Firecracker's shape refuses kernels that could not
see its disks or load their drivers, and the machine names each
architecture accepts. The booting half: tests/vm/test_run_machines.py.

    /usr/bin/python3 -m pytest tests/host/test_run_machine_checks.py   (as root)
"""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.hostrun import run, hypeman  # noqa: E402,F401
from lib.runimages import plain, production, whiteout_layout as layout  # noqa: E402,F401

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root"),
              pytest.mark.production]


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
