"""pytest fixtures for VM tests (run with /usr/bin/python3 -m pytest).

  arch        (session) the guest architecture, a parameter of every test
              that uses it: the host's (id test_x[x86_64]), or for a test
              marked @pytest.mark.multiarch each of $HYPEMAN_ARCHES in turn
              (default "x86_64,aarch64": ids test_x[x86_64], test_x[aarch64])
  flavour     (session) the kernel flavour (lib.kernel.FLAVOURS): bookworm,
              or for a test marked @pytest.mark.kernels each of
              $HYPEMAN_KERNELS in turn (default all: bookworm, trixie, sid,
              cloud, hypeman) on the host's architecture (ids
              test_x[x86_64-bookworm], test_x[x86_64-sid], ...)
  kernel      (session) (vmlinuz, modules_dir, release) of the flavour's
              kernel for arch
  initrd      path of the init under test for arch: out/initrd-test, or
              out/<arch>/initrd-test for another architecture than the
              host's ($HYPEMAN_INITRD overrides the host's); for another
              flavour than bookworm out/initrd-test-<flavour> (tests/run
              builds them; the production shape's, initrd-test-hypeman, is
              the plain initrd with the test agent: no modules); the test
              is skipped when it is missing
  plain_initrd the initrd built without options (out/initrd, or
              out/<arch>/initrd; $HYPEMAN_PLAIN_INITRD overrides the
              host's); skipped when missing
  tmp_path    pytest's, removed when the test passed (its disk images
              are sparse files of up to 1 GiB); a failed test keeps it and
              its report names it. On a passing session the whole base
              temporary directory (session fixtures' too) is removed.
  vm_factory  vm_factory(disks=[...], **VM kwargs) -> started VM of arch;
              every VM is killed at teardown, and a failing test's report
              gets each VM's console tail. initrd= defaults to the initrd
              fixture.

Tests import the helpers as `from lib import disks, vm` (tests/ is on
sys.path through this conftest's rootdir-relative import).
"""

import os
import re
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import arch as _arch  # noqa: E402
from lib import kernel as _kernel  # noqa: E402
from lib import progress as _progress  # noqa: E402
from lib.vm import VM  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    config.addinivalue_line("markers", "vm: boots QEMU (slow under TCG)")
    config.addinivalue_line(
        "markers", "multiarch: runs once per architecture of $HYPEMAN_ARCHES "
        "(the arch fixture is parametrized)")
    config.addinivalue_line(
        "markers", "kernels: runs once per kernel flavour of $HYPEMAN_KERNELS "
        "(the flavour fixture is parametrized)")
    config.addinivalue_line(
        "markers", "production: boots the production-shape kernel (runs last)")
    config.addinivalue_line(
        "markers", "alone: measures durations: runs after the parallel pass, "
        "one test at a time on a quiet machine (tests/run)")
    config.addinivalue_line(
        "markers", "quick: one of the handful of VM boots of `tests/run --quick`")
    config.addinivalue_line(
        "markers", "needs(*builds): what tests/run builds for the test besides the "
        "test initrd (see NEEDS)")
    _progress.register(config)


def pytest_collection_modifyitems(session, config, items):
    # What tests/run may still be building in the background when the VM
    # tests start: the GPU builds (lib.gpu waits for them) and the
    # production-shape kernel (kernel/build.sh's lock). Their tests run
    # last, in their order: the GPU ones, then the production kernel's.
    def rank(item):
        cs = getattr(item, "callspec", None)
        if item.get_closest_marker("production") or (cs and cs.params.get("flavour") == "hypeman"):
            return 2
        return 1 if any("gpu" in m.args for m in item.iter_markers("needs")) else 0
    items.sort(key=rank)    # stable: each group keeps its order


def pytest_collection_finish(session):
    # after -m and -k deselected theirs
    if os.environ.get("HYPEMAN_NEEDS_FILE"):
        with open(os.environ["HYPEMAN_NEEDS_FILE"], "w") as f:
            f.write("".join(n + "\n" for n in sorted(needs(session.items))))


# What tests/run builds for the selected tests (--collect-only writes them
# to $HYPEMAN_NEEDS_FILE): the needs(...) marks of the tests plus what their
# parameters imply.
NEEDS = {
    "apps": "the real-software image (tests/testdata/apps)",
    "gpu": "GPU bundles, kernel headers, their initrds, the DKMS image",
}


def needs(items):
    out = set()
    for i in items:
        for m in i.iter_markers("needs"):
            for n in m.args:
                if n not in NEEDS:
                    raise pytest.UsageError("%s: needs(%r): not one of %s"
                                            % (i.nodeid, n, ", ".join(NEEDS)))
                out.add(n)
        cs = getattr(i, "callspec", None)
        params = cs.params if cs else {}
        a = params.get("arch", _arch.host())
        out.add("arch:" + a)
        if params.get("flavour", "bookworm") != "bookworm":
            out.add("kernel:" + params["flavour"])
        if i.get_closest_marker("production"):
            out.add("kernel:hypeman")
    return out


def selected_arches():
    names = os.environ.get("HYPEMAN_ARCHES") or ",".join(_arch.ARCHES)
    return [_arch.norm(a.strip()) for a in names.split(",") if a.strip()]


def selected_kernels():
    names = os.environ.get("HYPEMAN_KERNELS") or ",".join(_kernel.FLAVOURS)
    out = [n.strip() for n in names.split(",") if n.strip()]
    for n in out:
        if n not in _kernel.FLAVOURS:
            raise pytest.UsageError("HYPEMAN_KERNELS: unknown flavour %r (%s)"
                                    % (n, ", ".join(_kernel.FLAVOURS)))
    return out


def pytest_generate_tests(metafunc):
    # Every test that depends on arch gets it as a parameter, the host's
    # alone for a test not marked multiarch: session fixtures built on arch
    # (kernel, initrd) are then cached per value. (A plain fixture for some
    # tests and a parameter for others would let a test without the
    # parameter pick up the other architecture's kernel.)
    if "arch" not in metafunc.fixturenames:
        return
    multi = metafunc.definition.get_closest_marker("multiarch")
    metafunc.parametrize("arch", selected_arches() if multi else [_arch.host()],
                         scope="session")
    # the kernel matrix: on the host's architecture (the flavours are the
    # host's packages); a separate parameter, so that fixtures of arch alone
    # (a systemd image) are made once for all flavours
    if metafunc.definition.get_closest_marker("kernels"):
        if multi:
            raise pytest.UsageError("%s: kernels and multiarch do not mix"
                                    % metafunc.definition.nodeid)
        metafunc.parametrize("flavour", selected_kernels(), scope="session")


@pytest.fixture(scope="session")
def arch():
    return _arch.host()


@pytest.fixture(scope="session")
def flavour():
    return "bookworm"


@pytest.fixture(scope="session")
def kernel(arch, flavour):
    return _kernel.kernel_tree(arch=arch, flavour=flavour)


def arch_file(arch, name, env=None):
    """out/NAME for the host's architecture ($ENV overrides it), else
    out/<arch>/NAME."""
    if arch == _arch.host() and env and os.environ.get(env):
        return os.environ[env]
    return os.path.join(_arch.out_dir(arch), name)


@pytest.fixture(scope="session")
def initrd(arch, flavour):
    if flavour == "bookworm":
        path = arch_file(arch, "initrd-test", "HYPEMAN_INITRD")
    else:
        path = arch_file(arch, "initrd-test-" + flavour)
    if not os.path.exists(path):
        pytest.skip("init under test not built: %s missing (build it, or set "
                    "HYPEMAN_INITRD)" % path)
    return path


@pytest.fixture(scope="session")
def plain_initrd(arch):
    path = arch_file(arch, "initrd", "HYPEMAN_PLAIN_INITRD")
    if not os.path.exists(path):
        pytest.skip("plain initrd not built: %s missing (./build.sh, or set "
                    "HYPEMAN_PLAIN_INITRD)" % path)
    return path


@pytest.fixture
def tmp_path(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(re.sub(r"\W", "_", request.node.name)[:30], numbered=True)
    yield path
    reports = getattr(request.node, "_hypeman_reports", [])
    if reports and not any(r.failed for r in reports):
        shutil.rmtree(path, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = factory.getbasetemp() if factory and factory._basetemp else None
    if base is None:
        return
    if exitstatus == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        session.config.get_terminal_writer().line(
            "temporary files of the failed tests kept in %s" % base)


@pytest.fixture
def vm_factory(request, tmp_path, kernel, arch):
    """Start VMs for one test; all are killed at teardown."""
    vms = []
    request.node._hypeman_vms = vms

    def make(disks=(), initrd=None, start=True, **kw):
        if initrd is None:
            initrd = request.getfixturevalue("initrd")
        kw.setdefault("kernel", kernel[0])
        kw.setdefault("arch", arch)
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
    if rep.when in ("setup", "call"):
        item.__dict__.setdefault("_hypeman_reports", []).append(rep)
        tmp = getattr(item, "funcargs", {}).get("tmp_path")
        if rep.failed and tmp is not None:
            rep.sections.append(("temporary files", "kept in %s" % tmp))
    vms = getattr(item, "_hypeman_vms", None)
    if rep.failed and vms:
        for i, v in enumerate(vms):
            if v.started_at is None:
                continue
            rep.sections.append((
                "VM %d console tail (full log: %s)" % (i, v.console_log),
                v.console_tail(80)))
