"""has_gpu: the initrd's NVIDIA bundle (contract: GPU and kernel headers).
Without a GPU on these machines:

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
import re
import stat
import subprocess

import pytest

from lib import disks, gpu, images
from lib.vm import Disk

SCRIPT = ("echo '=== check'; gpu-check; echo '=== devices'; cat /proc/devices; "
          "echo '=== modules'; cut -d' ' -f1 /proc/modules; "
          "echo '=== modeset'; cat /sys/module/nvidia_drm/parameters/modeset; "
          "echo '=== smi'; nvidia-smi; echo '=== modprobe'; command -v nvidia-modprobe; "
          "echo '=== mounts'; cat /proc/self/mountinfo; "
          "echo '=== persistenced'; p=$(cat /var/run/nvidia-persistenced/nvidia-persistenced.pid); "
          "echo $p; kill -0 $p && echo alive; echo '=== end'")


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


def expected_nodes(uvm, caps, mode, owner):
    """gpu-check's node lines for the stand-in: the driver's nodes with the
    params' MODE and OWNER; the capability nodes (minors 1, 2, 300, 8191)
    with the modes their files name (0400, 0444), root's."""
    nodes = {"/dev/nvidiactl": ["195", "255"], "/dev/nvidia0": ["195", "0"],
             "/dev/nvidia-modeset": ["195", "254"], "/dev/nvidia-uvm": [str(uvm), "0"],
             "/dev/nvidia-uvm-tools": [str(uvm), "1"]}
    want = {path: mm + [mode, owner] for path, mm in nodes.items()}
    for minor in (1, 2, 300, 8191):
        want["/dev/nvidia-caps/nvidia-cap%d" % minor] = [
            str(caps), str(minor), "0400" if minor == 1 else "0444", "0:0"]
    return want


def persistenced_lines(text):
    """The stand-in daemon's console lines: (ready pid, ready uptime) and the
    uptime of its SIGTERM line (None when absent)."""
    ready = re.search(r"nvidia-persistenced stand-in: ready, pid (\d+), uptime ([\d.]+)", text)
    stop = re.search(r"nvidia-persistenced stand-in: SIGTERM at uptime ([\d.]+), stopping", text)
    return ((int(ready.group(1)), float(ready.group(2))) if ready else None,
            float(stop.group(1)) if stop else None)


def test_has_gpu_standin(vm_factory, tmp_path, dkms_vda):
    """The 535 generation ("nvidia-frontend"), params with the defaults
    (root, 0666), an NVIDIA PCI device (QEMU's pci-testdev, which the
    initrd's hm-gpu-pci stand-in turns into one)."""
    v, vdb = boot_exec(vm_factory, tmp_path, dkms_vda, gpu.initrd("initrd-gpu-test"), {
        "cmd": ["/bin/sh", "-c", SCRIPT], "has_gpu": True,
        "skip_guest_agent": True, "skip_kernel_headers": True}, extra_args=gpu.PCI_GPU)
    assert v.exit_marker()["code"] == 0
    text = v.console_text
    devices = section(text, "devices")
    uvm = gpu.proc_devices_major(devices, "nvidia-uvm")
    caps = gpu.proc_devices_major(devices, "nvidia-caps")
    assert gpu.proc_devices_major(devices, "nvidia-frontend") == 195
    assert uvm and caps and uvm != 195
    c = gpu.check_lines(section(text, "check"))
    # the modes the driver's capability files name (0400, 0444), and MIG
    # minors past 255
    assert c["node"] == expected_nodes(uvm, caps, "0666", "0:0"), c["node"]
    # the stand-in reads nvidia/<version>/gsp_standin.bin at this open,
    # long after the switch: the firmware must still be reachable
    assert c["open"]["/dev/nvidia0"] == ["ok"], text
    libdir = "/usr/lib/x86_64-linux-gnu/"
    lib = libdir + "libhypeman-gpu-test.so." + gpu.STANDIN_VERSION
    soname = libdir + "libhypeman-gpu-test.so.1"     # ld.so.cache's path: the symlink
    assert c["dlopen"]["libhypeman-gpu-test.so.1"] == [gpu.STANDIN_VERSION, soname], c["dlopen"]
    # read-only in the image: a bind mount of the bundle's file
    assert c["write"][soname] == ["Read-only", "file", "system"], c["write"]
    mounts = section(text, "mounts")
    assert re.search(r" %s ro,nosuid,nodev\b.* squashfs " % re.escape(lib), mounts), mounts
    modules = section(text, "modules").split()
    for m in ("nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm", "drm", "hm_gpu_pci"):
        assert m in modules, modules
    assert section(text, "modeset").strip() == "Y"
    assert section(text, "smi").strip() == "nvidia-smi stand-in " + gpu.STANDIN_VERSION
    assert section(text, "modprobe").strip() == "/usr/bin/nvidia-modprobe"
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "gpu"]
    assert "GPU 0000:00:05.0: Hypeman Stand-in GPU (/dev/nvidia0)" in msgs, msgs
    assert "NVIDIA driver %s: 1 GPU(s)" % gpu.STANDIN_VERSION in msgs, msgs
    assert "ran the image's /sbin/ldconfig /usr/lib/x86_64-linux-gnu" in msgs, msgs
    assert not [l for l in v.log_lines() if l["level"] == "ERROR"]
    # the overlay holds none of the bundle: empty mount points, symlinks
    upper = disks.ls_ext4(vdb, "/upper/usr/lib/x86_64-linux-gnu")
    ours = {n: e for n, e in upper.items() if n.startswith("libhypeman-gpu-test")}
    assert ours and all(e["size"] == 0 or stat.S_ISLNK(e["mode"]) for e in ours.values()), ours
    for tool in ("nvidia-smi", "nvidia-modprobe", "nvidia-persistenced"):
        assert disks.stat_ext4(vdb, "/upper/usr/bin/" + tool)["size"] == 0, tool
    check_persistenced(v, section(text, "persistenced"))


def check_persistenced(v, seen):
    """The stand-in nvidia-persistenced was ready before the program started
    (alive, its pid file read by the program), and init stopped it at
    shutdown, before it sent SIGTERM to everything, and reaped it."""
    (pid, ready_at), stopped_at = persistenced_lines(v.console_text)
    assert seen.split() == [str(pid), "alive"], seen
    start = v.console_text.index("HYPEMAN-PROGRAM-START")
    assert v.console_text.index("nvidia-persistenced stand-in: ready") < start
    lines = v.log_lines()
    assert "/usr/bin/nvidia-persistenced ready (pid %d)" % pid in [
        l["msg"] for l in lines if l["phase"] == "gpu"]
    down = [l["msg"] for l in lines if l["phase"] == "shutdown"]
    stop = "stopped /usr/bin/nvidia-persistenced (pid %d)" % pid
    assert stop in down and down.index(stop) < next(
        i for i, m in enumerate(down) if m.startswith("sending SIGTERM to all")), down
    assert stopped_at is not None and stopped_at > ready_at


def test_has_gpu_standin_550(vm_factory, tmp_path, dkms_vda):
    """The 550 generation: "nvidia" and "nvidiactl" in /proc/devices, no
    "nvidia-frontend"; params name gid 44 and mode 0660 (decimal 432)."""
    v, _ = boot_exec(vm_factory, tmp_path, dkms_vda, gpu.initrd("initrd-gpu-test-550"), {
        "cmd": ["/bin/sh", "-c", SCRIPT], "has_gpu": True,
        "skip_guest_agent": True}, extra_args=gpu.PCI_GPU)
    assert v.exit_marker()["code"] == 0
    text = v.console_text
    devices = section(text, "devices")
    assert gpu.proc_devices_major(devices, "nvidia") == 195, devices
    assert gpu.proc_devices_major(devices, "nvidiactl") == 195, devices
    assert gpu.proc_devices_major(devices, "nvidia-frontend") is None, devices
    uvm = gpu.proc_devices_major(devices, "nvidia-uvm")
    caps = gpu.proc_devices_major(devices, "nvidia-caps")
    c = gpu.check_lines(section(text, "check"))
    assert c["node"] == expected_nodes(uvm, caps, "0660", "0:44"), c["node"]
    assert c["open"]["/dev/nvidia0"] == ["ok"], text
    assert c["dlopen"]["libhypeman-gpu-test.so.1"][0] == "900.550.1", c["dlopen"]
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "gpu"]
    assert "NVIDIA driver 900.550.1: 1 GPU(s)" in msgs, msgs
    assert not [l for l in v.log_lines() if l["level"] in ("ERROR", "WARN")]
    check_persistenced(v, section(text, "persistenced"))


def test_no_nvidia_pci_device(vm_factory, tmp_path, dkms_vda):
    """has_gpu in a VM without an NVIDIA display controller: one ERROR that
    says so, no module loaded (not even loop or squashfs for the bundle),
    no node, nothing in the image; the program runs."""
    script = ("echo '=== modules'; cut -d' ' -f1 /proc/modules; echo '=== dev'; ls /dev; "
              "echo '=== end'")
    v, vdb = boot_exec(vm_factory, tmp_path, dkms_vda, gpu.initrd("initrd-gpu-test"), {
        "cmd": ["/bin/sh", "-c", script], "has_gpu": True,
        "skip_guest_agent": True, "skip_kernel_headers": True})
    assert v.exit_marker()["code"] == 0
    errors = [l for l in v.log_lines() if l["level"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["phase"] == "gpu", errors
    assert "no NVIDIA display controller on the PCI bus (vendor 0x10de, class 0x03xx" \
        in errors[0]["msg"], errors
    modules = section(v.console_text, "modules").split()
    for m in ("nvidia", "nvidia_uvm", "nvidia_drm", "drm", "loop", "squashfs", "hm_gpu_pci"):
        assert m not in modules, modules
    assert not [d for d in section(v.console_text, "dev").split() if d.startswith("nvidia")]
    assert disks.stat_ext4(vdb, "/upper/usr/bin/nvidia-smi") is None


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


@pytest.mark.parametrize("name", ["initrd-gpu-real", "initrd-gpu-real-550"])
def test_real_bundle_without_gpu(vm_factory, tmp_path, name):
    """Debian's driver (bookworm's 535 for the test kernel; trixie's 550 for
    trixie's kernel) in a VM whose NVIDIA device has no BAR (the stand-in
    PCI device): nvidia.ko probes it, gives up and refuses to load
    (ENODEV), that is an ERROR, and the program still runs and exits 0.
    The libraries are read-only binds: the overlay holds none of them."""
    initrd = gpu.initrd(name)
    release, version = gpu.bundle_list(initrd)
    root = images.rootfs(tmp_path / "root")
    g = images.Guest(tmp_path / "disks", root, {"cmd": ["/bin/true"], "has_gpu": True,
                                                 "skip_guest_agent": True}, overlay_mb=64)
    kernel = gpu.kernel_for(release)
    v = vm_factory(disks=g.disks, initrd=initrd, mem_mb=1536, timeout=300,
                   extra_args=gpu.PCI_GPU, **({"kernel": kernel} if kernel else {}))
    v.wait_exit()
    v.assert_no_panic()
    assert v.exit_marker()["code"] == 0
    errors = [l for l in v.log_lines() if l["level"] == "ERROR" and l["phase"] == "gpu"]
    assert any(l["msg"].startswith("loading nvidia (") and l.get("error") == "No such device"
               for l in errors), errors
    # it got as far as probing the NVIDIA device (its own words, e.g. 535:
    # "NVRM: Can't find an IRQ for your NVIDIA card!")
    assert re.search(r"NVRM: .*NVIDIA", v.console_text), v.console_tail(40)
    # the libraries are in the image all the same (CUDA then reports no
    # device), as empty mount points on the overlay
    assert disks.readlink_ext4(g.vdb, "/upper/usr/lib/libcuda.so.1"), "libcuda.so.1 not injected"
    upper = disks.ls_ext4(g.vdb, "/upper/usr/lib")
    files = [n for n, e in upper.items() if stat.S_ISREG(e["mode"]) and n.startswith("lib")]
    assert "libcuda.so." + version in files, files
    assert all(upper[n]["size"] == 0 for n in files), {n: upper[n]["size"] for n in files}
