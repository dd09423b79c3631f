"""`hypeman run --gpu PCI_ADDR`: the host's device goes to QEMU's vfio-pci and
config.json says has_gpu. These machines have no GPU and no VFIO, so the
host's sysfs is a tree the test makes ($HYPEMAN_SYSFS: which driver each
device is bound to), and the command is checked with --print-qemu; QEMU
itself then takes the device argument and fails on the missing device, in
its own words. The guest side of has_gpu is tests/vm/test_gpu.py.

    /usr/bin/python3 -m pytest tests/host/test_run_gpu.py   (as root)
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import disks, gpu, hostrun, images, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.vm import Initramfs  # noqa: E402

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root"), pytest.mark.needs("gpu")]


@pytest.fixture
def layout(tmp_path, arch):
    lay = str(tmp_path / "image")
    oci.write_multiarch_layout(lay, {arch: images.rootfs(str(tmp_path / "tree"), busybox=False)},
                               {"Cmd": ["/bin/true"]})
    return lay


def sysfs(root, devices):
    """A sysfs tree as the kernel lays it out: /sys/bus/pci/devices/ADDR is a
    symlink into /sys/devices, whose driver link (when bound) points into
    /sys/bus/pci/drivers. devices: {addr: driver or None}."""
    for addr, driver in devices.items():
        dev = os.path.join(root, "devices", "pci0000:00", addr)
        os.makedirs(dev)
        os.makedirs(os.path.join(root, "bus", "pci", "devices"), exist_ok=True)
        os.symlink("../../../devices/pci0000:00/" + addr,
                   os.path.join(root, "bus", "pci", "devices", addr))
        if driver:
            os.makedirs(os.path.join(root, "bus", "pci", "drivers", driver), exist_ok=True)
            os.symlink("../../../bus/pci/drivers/" + driver, os.path.join(dev, "driver"))
    return str(root)


def config(work):
    return json.loads(disks.read_file_from_ext4(str(work / "config.img"), "/config.json"))


@pytest.mark.multiarch
def test_gpus_passed_with_vfio_pci(hypeman, kernel, initrd, arch, layout, tmp_path):
    """Two GPUs (one written BB:DD.F in capitals): the harness's own command
    for that architecture, then one vfio-pci device per GPU in the order
    given, by full address; has_gpu true. Without --gpu: no vfio-pci device,
    has_gpu false."""
    sys_ = sysfs(tmp_path / "sys", {"0000:0a:00.0": "vfio-pci", "0001:00:1f.7": "vfio-pci"})
    work = tmp_path / "w"
    p = run(hypeman, ["--arch", arch, "--gpu", "0A:00.0", "--gpu", "0001:00:1f.7",
                      "--print-qemu", "--keep", str(work), layout],
            kernel=kernel[0], initrd=initrd, env={"HYPEMAN_SYSFS": sys_})
    assert hostrun.printed_argv(p) == hostrun.harness_argv(
        work, kernel[0], initrd, arch,
        extra=["-device", "vfio-pci,host=0000:0a:00.0", "-device", "vfio-pci,host=0001:00:1f.7"])
    assert config(work)["has_gpu"] is True
    p = run(hypeman, ["--arch", arch, "--print-qemu", "--keep", str(work), layout],
            kernel=kernel[0], initrd=initrd, env={"HYPEMAN_SYSFS": sys_})
    assert hostrun.printed_argv(p) == hostrun.harness_argv(work, kernel[0], initrd, arch)
    assert config(work)["has_gpu"] is False


@pytest.mark.parametrize("addr", ["1:00.0", "0000:01:00.8", "0000:01:20.0", "00000:01:00.0",
                                  "01:00.0x", "0g:00.0", "01.00.0", "0000:01:00:0", ""])
def test_malformed_addresses(hypeman, tmp_path, addr):
    lay = str(tmp_path / "image")
    oci.write_layout(lay, [[oci.F("a", "a")]], {"Cmd": ["/x"]})
    p = run(hypeman, ["--gpu", addr, "--no-boot", "--keep", str(tmp_path / "w"), lay])
    assert p.returncode == 2, p.stderr
    assert "--gpu '%s': want a PCI address DDDD:BB:DD.F or BB:DD.F" % addr in p.stderr, p.stderr
    assert "reading image" not in p.stderr


def test_the_same_gpu_twice(hypeman, tmp_path):
    lay = str(tmp_path / "image")
    oci.write_layout(lay, [[oci.F("a", "a")]], {"Cmd": ["/x"]})
    p = run(hypeman, ["--gpu", "01:00.0", "--gpu", "0000:01:00.0", "--no-boot", lay])
    assert p.returncode == 2 and "--gpu 0000:01:00.0 given twice" in p.stderr, p.stderr


def test_device_not_bound_to_vfio_refused(hypeman, kernel, initrd, layout, tmp_path):
    """A device bound to another driver, to none, or absent: refused before
    anything is built, with the commands that hand it to vfio-pci."""
    sys_ = sysfs(tmp_path / "sys", {"0000:01:00.0": "nvidia", "0000:02:00.0": None})
    work = tmp_path / "w"
    bind = ("    modprobe vfio-pci\n"
            "    echo vfio-pci > /sys/bus/pci/devices/%s/driver_override\n%s"
            "    echo %s > /sys/bus/pci/drivers_probe\n")
    for addr, driver in (("0000:01:00.0", "nvidia"), ("0000:02:00.0", None)):
        p = run(hypeman, ["--gpu", addr, "--keep", str(work), layout], kernel=kernel[0],
                initrd=initrd, env={"HYPEMAN_SYSFS": sys_})
        assert p.returncode == 2, p.stderr
        assert "--gpu %s: the host has it bound to %s, not to vfio-pci" % (
            addr, driver or "no driver") in p.stderr, p.stderr
        unbind = "    echo %s > /sys/bus/pci/devices/%s/driver/unbind\n" % (addr, addr)
        assert bind % (addr, unbind if driver else "", addr) in p.stderr, p.stderr
        assert "reading image" not in p.stderr and imgs(work) == []
    p = run(hypeman, ["--gpu", "0000:03:00.0", layout], kernel=kernel[0], initrd=initrd,
            env={"HYPEMAN_SYSFS": sys_})
    assert p.returncode == 2, p.stderr
    assert "--gpu 0000:03:00.0: no such PCI device on this host (%s/bus/pci/devices/" \
        "0000:03:00.0: No such file or directory)" % sys_ in p.stderr, p.stderr
    # --no-boot checks only the address: nothing is passed through.
    p = run(hypeman, ["-q", "--gpu", "0000:03:00.0", "--no-boot", "--keep", str(work), layout],
            env={"HYPEMAN_SYSFS": sys_})
    assert p.returncode == 0, p.stderr
    assert config(work)["has_gpu"] is True


def test_qemu_takes_the_device(hypeman, kernel, initrd, layout, tmp_path):
    """The real QEMU, given the command: it accepts vfio-pci and its host=
    property (a wrong property name would be "Property ... not found"),
    then fails on the device the real host does not have."""
    addr = "00fe:1f:1f.7"       # no such PCI domain here
    assert not os.path.exists("/sys/bus/pci/devices/" + addr)
    sys_ = sysfs(tmp_path / "sys", {addr: "vfio-pci"})
    p = run(hypeman, ["--gpu", addr, layout], kernel=kernel[0], initrd=initrd,
            env={"HYPEMAN_SYSFS": sys_, "TMPDIR": str(tmp_path)})
    assert p.returncode == 1, p.stderr
    assert "-device vfio-pci,host=%s: vfio /sys/bus/pci/devices/%s: no such host device" % (
        addr, addr) in p.stderr, p.stderr
    assert "QEMU exited with status 1" in p.stderr


def test_gpu_bundle_warning(hypeman, kernel, initrd, layout, tmp_path):
    """--gpu with an initrd without a GPU driver bundle is a warning (the
    image may bring its own driver); with one (etc/hypeman/gpu, what
    build.sh --gpu-driver writes), none."""
    sys_ = sysfs(tmp_path / "sys", {"0000:01:00.0": "vfio-pci"})
    args = ["--gpu", "01:00.0", "--print-qemu", layout]
    p = run(hypeman, args, kernel=kernel[0], initrd=initrd, env={"HYPEMAN_SYSFS": sys_})
    assert p.returncode == 0, p.stderr
    assert "warning: --gpu, but %s has no GPU driver bundle (build.sh --gpu-driver)" % initrd \
        in p.stderr, p.stderr
    ir = Initramfs().file_from("/bin/busybox", images.busybox_binary()) \
        .dir("/lib/modules/" + kernel[2]).file("/etc/hypeman/gpu", "version=550.0\n")
    bundles = [ir.write(str(tmp_path / "initrd-gpu"))]
    # What build.sh --gpu-driver really writes (tests/run builds it).
    built = os.path.join(os.path.dirname(initrd), "initrd-gpu-test")
    gpu.wait_for_builds()
    bundles += [built] if os.path.exists(built) else []
    for with_bundle in bundles:
        p = run(hypeman, args, kernel=kernel[0], initrd=with_bundle, env={"HYPEMAN_SYSFS": sys_})
        assert p.returncode == 0, p.stderr
        assert "GPU driver bundle" not in p.stderr, (with_bundle, p.stderr)
