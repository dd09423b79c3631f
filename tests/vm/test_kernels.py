"""The kernel matrix: a subset of the VM tests on each kernel flavour of
$HYPEMAN_KERNELS (lib.kernel.FLAVOURS: Debian bookworm's kernel, trixie's
6.12, sid's 7.2 with its split packages, bookworm's cloud kernel, and
hypeman's production shape built from Debian's source with every boot
driver built in), each with the test initrd built from that kernel's
modules (tests/run: out/initrd-test-<flavour>; the production shape's
lists only built-in modules).

The subset, each the body of a test elsewhere run again here:
  exec basics     test_pipeline's normal boot: the overlay root, the agent,
                  writes landing on the overlay disk after a stop by
                  SIGTERM, the image disk unchanged, clean disks
  systemd         test_systemd's boot by auto-detection with the agent
  a fault         test_faults_disks' overlay disk that holds no filesystem
  hypeman run     test_hypeman_run's two-layer image (whiteouts), its
                  output and exit code, with --kernel and --initrd

Each test is marked `kernels` (conftest: the flavour parameter); ids
test_x[x86_64] (bookworm), test_x[x86_64-trixie], ...
"""

import pytest

import test_faults_disks
import test_hypeman_run
import test_pipeline
import test_systemd
# fixtures those tests use, instantiated per flavour here
from test_hypeman_run import hypeman  # noqa: F401
from test_pipeline import _normal_boot, normal  # noqa: F401
from test_systemd import image  # noqa: F401

pytestmark = [pytest.mark.vm, pytest.mark.kernels]


def test_exec_basics(normal, kernel):  # noqa: F811
    """The normal exec-mode boot of test_pipeline, on this kernel."""
    assert normal.vm.kernel == kernel[0]
    test_pipeline.test_root_is_overlay_and_image_readable(normal)
    test_pipeline.test_guest_writes_land_on_overlay_disk_not_image(normal)
    test_pipeline.test_agent_installed_0755_and_answers(normal)


def test_systemd_boot(vm_factory, tmp_path, image):  # noqa: F811
    test_systemd.test_auto_detect_boots_systemd_with_agent(vm_factory, tmp_path, image)


def test_fault_overlay_disk_not_a_filesystem(vm_factory, tmp_path):
    test_faults_disks.test_broken_disk(vm_factory, tmp_path, "vdb-not-a-filesystem")


def test_hypeman_run_image(hypeman, kernel, initrd, tmp_path):  # noqa: F811
    test_hypeman_run.test_exec_image_with_whiteouts(hypeman, kernel, initrd, tmp_path)
