"""`hypeman run --machine`: QEMU's microvm (virtio-mmio announced by ACPI)
and Firecracker's shape (microvm without ACPI, the devices named on the
kernel command line, Firecracker's boot arguments), beside q35; and the
kernel/initrd check knowing that a kernel with its boot drivers built in
needs no modules, and what Firecracker's shape needs of a kernel
(docs/kernel.md: Machines). This file boots; the checks made before booting
are tests/host/test_run_machine_checks.py.

The production-shape kernel is lib.kernel's "hypeman" flavour; the plain
initrd is ./build.sh's out/initrd.
"""

import os

import pytest

from lib import hostrun
from lib.hostrun import run, hypeman  # noqa: F401
from lib.runimages import plain, production, whiteout_layout as layout  # noqa: F401

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root"),
              pytest.mark.production]


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


