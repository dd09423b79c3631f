"""`hypeman run --arch`: the guest's architecture picks the image's platform,
Debian's kernel of that flavour, the initrd built for it and QEMU's machine.

The tests marked multiarch run once per architecture (x86_64, aarch64):
the same two-platform layout (tests/lib/oci.py write_multiarch_layout, each
platform's busybox) boots on each with `--arch ARCH`, with the tool's
default kernel and initrd (what is refused before anything is built:
tests/host/test_run_platforms.py).

    /usr/bin/python3 -m pytest tests/vm/test_run_arch.py   (as root)
"""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun, images  # noqa: E402
from lib.hostrun import Console, run, hypeman  # noqa: E402,F401
from lib.runimages import tool_dir, two_platforms  # noqa: E402,F401

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")


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


@pytest.mark.multiarch
@pytest.mark.vm
def test_layout_boots_on_its_architecture(vm_factory, hypeman, two_platforms, tmp_path, arch):
    """The image of a two-platform layout for the VM's architecture,
    unpacked by `hypeman run --arch ARCH --no-boot`, boots in exec mode in
    the harness's VM: the program runs (it is that architecture's busybox)
    and its exit code comes back."""
    root, cfg = hostrun.unpack(hypeman, two_platforms, tmp_path / "work", arch)
    g = images.Guest(tmp_path / "disks", root,
                     {"cmd": cfg["cmd"], "skip_guest_agent": True})
    vm = vm_factory(disks=g.disks)
    vm.wait_exit(60)
    vm.assert_no_panic()
    assert "machine=%s" % arch in vm.lines()
    assert vm.exit_marker() == {"code": 7, "message": "exit code 7"}
