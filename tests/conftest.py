"""pytest fixtures for VM tests (run with /usr/bin/python3 -m pytest).

  kernel      (session) (vmlinuz, modules_dir, release) of Debian's kernel
  initrd      path of the init under test: $HYPEMAN_INITRD, default
              <repo>/out/initrd-test; the test is skipped when it is missing
  vm_factory  vm_factory(disks=[...], **VM kwargs) -> started VM; every VM
              is killed at teardown, and a failing test's report gets each
              VM's console tail. initrd= defaults to the initrd fixture.

Tests import the helpers as `from lib import disks, vm` (tests/ is on
sys.path through this conftest's rootdir-relative import).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import kernel as _kernel  # noqa: E402
from lib.vm import VM  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    config.addinivalue_line("markers", "vm: boots QEMU (slow under TCG)")


@pytest.fixture(scope="session")
def kernel():
    return _kernel.kernel_tree()


@pytest.fixture(scope="session")
def initrd():
    path = os.environ.get("HYPEMAN_INITRD") or os.path.join(REPO, "out", "initrd-test")
    if not os.path.exists(path):
        pytest.skip("init under test not built: %s missing (build it, or set "
                    "HYPEMAN_INITRD)" % path)
    return path


@pytest.fixture
def vm_factory(request, tmp_path, kernel):
    """Start VMs for one test; all are killed at teardown."""
    vms = []
    request.node._hypeman_vms = vms

    def make(disks=(), initrd=None, start=True, **kw):
        if initrd is None:
            initrd = request.getfixturevalue("initrd")
        kw.setdefault("kernel", kernel[0])
        v = VM(tmp_path / ("vm%d" % len(vms)), initrd, disks=disks, **kw)
        vms.append(v)
        if start:
            v.start()
        return v

    yield make
    for v in vms:
        v.kill()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    vms = getattr(item, "_hypeman_vms", None)
    if rep.failed and vms:
        for i, v in enumerate(vms):
            if v.started_at is None:
                continue
            rep.sections.append((
                "VM %d console tail (full log: %s)" % (i, v.console_log),
                v.console_tail(80)))
