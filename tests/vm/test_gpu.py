"""has_gpu: the initrd's NVIDIA bundle (contract: GPU and kernel headers, issue 9 acceptance 1
and 2). Without a GPU on these machines:

- the stand-in bundle (tests/gpu/make-standin-bundle.sh: stand-in modules
  built against Debian's linux-headers of the test kernel, a firmware file,
  a test library) in a Debian image: the program sees every node with the
  right major, minor and mode, opens /dev/nvidia0 (the stand-in reads its
  firmware then, after the switch, as the real driver does), loads the
  injected library by soname; the log names the GPU and the version.
  Without has_gpu nothing of it is loaded or injected.
- the real Debian bundle (tests/gpu/make-bundle.sh) in a VM without a GPU:
  nvidia fails with "No such device", an ERROR, and the program still runs
  and exits 0.
"""

import os
import subprocess

import pytest

from lib import disks, gpu, images
from lib.vm import Disk

SCRIPT = ("echo '=== check'; gpu-check; echo '=== devices'; cat /proc/devices; "
          "echo '=== modules'; cut -d' ' -f1 /proc/modules; "
          "echo '=== modeset'; cat /sys/module/nvidia_drm/parameters/modeset; "
          "echo '=== smi'; nvidia-smi; echo '=== end'")


def section(text, name):
    start = text.index("=== %s\n" % name) + len("=== %s\n" % name)
    return text[start:text.index("\n=== ", start)]


@pytest.fixture(scope="module")
def dkms_vda(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dkms")
    root = gpu.dkms_root(str(tmp / "root"))
    size = int(subprocess.run(["du", "-sm", root], check=True, capture_output=True,
                              text=True).stdout.split()[0])
    return disks.ext4_from_dir(str(tmp / "vda.img"), root, size * 3 // 2 + 256)


def boot_exec(vm_factory, tmp_path, vda, initrd, config, **kw):
    vdb, vdc = str(tmp_path / "vdb.img"), str(tmp_path / "vdc.img")
    disks.empty_ext4(vdb, 256)
    disks.config_disk(vdc, config)
    kw.setdefault("mem_mb", 1024)
    kw.setdefault("timeout", 180)
    v = vm_factory(disks=[Disk(vda, readonly=True), vdb, vdc], initrd=initrd, **kw)
    v.wait_exit()
    v.assert_no_panic()
    return v, vdb


def test_has_gpu_standin(vm_factory, tmp_path, dkms_vda):
    v, _ = boot_exec(vm_factory, tmp_path, dkms_vda, gpu.initrd("initrd-gpu-test"), {
        "cmd": ["/bin/sh", "-c", SCRIPT], "has_gpu": True,
        "skip_guest_agent": True, "skip_kernel_headers": True})
    assert v.exit_marker()["code"] == 0
    text = v.console_text
    uvm = gpu.proc_devices_major(section(text, "devices"), "nvidia-uvm")
    caps = gpu.proc_devices_major(section(text, "devices"), "nvidia-caps")
    assert uvm and caps and uvm != 195
    c = gpu.check_lines(section(text, "check"))
    assert c["node"] == {
        "/dev/nvidiactl": ["195", "255", "0666"],
        "/dev/nvidia0": ["195", "0", "0666"],
        "/dev/nvidia-modeset": ["195", "254", "0666"],
        "/dev/nvidia-uvm": [str(uvm), "0", "0666"],
        "/dev/nvidia-uvm-tools": [str(uvm), "1", "0666"],
        # the modes the driver's capability files name (0400, 0444)
        "/dev/nvidia-caps/nvidia-cap1": [str(caps), "1", "0400"],
        "/dev/nvidia-caps/nvidia-cap2": [str(caps), "2", "0444"],
    }, c["node"]
    # the stand-in reads nvidia/<version>/gsp_standin.bin at this open,
    # long after the switch: the firmware must still be reachable
    assert c["open"]["/dev/nvidia0"] == ["ok"], text
    assert c["dlopen"]["libhypeman-gpu-test.so.1"] == [gpu.STANDIN_VERSION], c["dlopen"]
    modules = section(text, "modules").split()
    for m in ("nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm", "drm"):
        assert m in modules, modules
    assert section(text, "modeset").strip() == "Y"
    assert section(text, "smi").strip() == "nvidia-smi stand-in " + gpu.STANDIN_VERSION
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "gpu"]
    assert "GPU 0000:00:05.0: Hypeman Stand-in GPU (/dev/nvidia0)" in msgs, msgs
    assert "NVIDIA driver %s: 1 GPU(s)" % gpu.STANDIN_VERSION in msgs, msgs
    assert "ran the image's /sbin/ldconfig" in msgs, msgs
    assert not [l for l in v.log_lines() if l["level"] == "ERROR"]


def test_no_gpu_loads_and_injects_nothing(vm_factory, tmp_path, dkms_vda):
    script = ("echo '=== modules'; cut -d' ' -f1 /proc/modules; echo '=== dev'; ls /dev; "
              "echo '=== end'")
    v, vdb = boot_exec(vm_factory, tmp_path, dkms_vda, gpu.initrd("initrd-gpu-test"), {
        "cmd": ["/bin/sh", "-c", script], "skip_guest_agent": True, "skip_kernel_headers": True})
    assert v.exit_marker()["code"] == 0
    modules = section(v.console_text, "modules").split()
    for m in ("nvidia", "nvidia_uvm", "nvidia_drm", "drm", "loop", "squashfs"):
        assert m not in modules, modules
    assert not [d for d in section(v.console_text, "dev").split() if d.startswith("nvidia")]
    assert not [l for l in v.log_lines() if l["phase"] == "gpu"]
    for path in ("/upper/usr/lib/x86_64-linux-gnu/libhypeman-gpu-test.so.1",
                 "/upper/usr/bin/nvidia-smi", "/upper/etc/ld.so.conf.d/hypeman-nvidia.conf"):
        assert disks.read_file_from_ext4(vdb, path) is None, path


def test_has_gpu_without_bundle_is_an_error(vm_factory, tmp_path, initrd):
    """The test initrd has no GPU bundle: has_gpu is an ERROR saying so,
    and the program runs."""
    root = images.rootfs(tmp_path / "root")
    g = images.Guest(tmp_path / "disks", root, {"cmd": ["/bin/true"], "has_gpu": True,
                                                 "skip_guest_agent": True})
    v = vm_factory(disks=g.disks, initrd=initrd)
    v.wait_exit(60)
    v.assert_no_panic()
    assert v.exit_marker()["code"] == 0
    errors = [l["msg"] for l in v.log_lines() if l["level"] == "ERROR" and l["phase"] == "gpu"]
    assert errors and "has no GPU driver bundle" in errors[0], errors


def test_real_bundle_without_gpu(vm_factory, tmp_path):
    """Debian's driver in a VM with no NVIDIA GPU: nvidia.ko refuses to load
    (ENODEV), that is an ERROR, and the program still runs and exits 0."""
    initrd = gpu.initrd("initrd-gpu-real")
    root = images.rootfs(tmp_path / "root")
    g = images.Guest(tmp_path / "disks", root, {"cmd": ["/bin/true"], "has_gpu": True,
                                                 "skip_guest_agent": True}, overlay_mb=256)
    v = vm_factory(disks=g.disks, initrd=initrd, mem_mb=1536, timeout=300)
    v.wait_exit()
    v.assert_no_panic()
    assert v.exit_marker()["code"] == 0
    errors = [l for l in v.log_lines() if l["level"] == "ERROR" and l["phase"] == "gpu"]
    assert any(l["msg"].startswith("loading nvidia (") and l.get("error") == "No such device"
               for l in errors), errors
    # the libraries are injected all the same: CUDA then reports no device
    assert disks.readlink_ext4(g.vdb, "/upper/usr/lib/libcuda.so.1"), "libcuda.so.1 not injected"
