"""VM tests of the modules phase: the initrd carries the whole boot set, and
init loads what this VM's devices and disks need (the drivers the present
devices' modaliases ask for, ext4 and overlay, erofs only for an erofs
image), logging one summary line at INFO; each module gets a line of its
own only with the kernel command line option hypeman.debug=1.

The program lists /sys/module from inside the guest, so the tests see what
the kernel really has loaded, not only what the log says.
"""

import re

import pytest

from lib import images

pytestmark = pytest.mark.vm

SHOW = ("echo MODULES $(ls /sys/module); "
        "echo LO $(ip -4 -o addr show dev lo); "
        "echo QD $(cat /sys/module/virtio_blk/parameters/queue_depth)")
# before the program: each phase ends with its one summary line
BOOT_PHASES = ("mount", "modules", "overlay", "config", "volumes", "network",
               "egress-ca", "agent", "switch")


def boot(vm_factory, tmp_path, fs="ext4", **vm_kw):
    root = images.rootfs(tmp_path / "root")
    g = images.Guest(tmp_path / "disks", root,
                     {"cmd": ["/bin/sh", "-c", SHOW], "skip_guest_agent": True}, fs=fs)
    vm = vm_factory(disks=g.disks, **vm_kw)
    assert vm.wait_exit(90) == 0
    vm.assert_no_panic()
    assert vm.exit_marker()["code"] == 0, vm.console_tail()
    return vm


def loaded_in_guest(vm):
    m = re.search(r"^MODULES (.*)$", vm.console_text, re.M)
    assert m, vm.console_tail()
    return set(m.group(1).split())


def summary(vm):
    """The modules phase's lines, and its summary (the one with dur_ms)."""
    lines = [l for l in vm.log_lines() if l["phase"] == "modules"]
    ends = [l for l in lines if "dur_ms" in l]
    assert len(ends) == 1, lines
    return lines, ends[0]["msg"]


def skipped(msg):
    """{module: reason} from "skipped: a b (no device), c (no disk of its type)"."""
    m = re.search(r"skipped: (.*?); failed:", msg)
    assert m, msg
    out = {}
    for group in re.findall(r"([\w ]+?) \(([^)]*)\)", m.group(1)):
        for name in group[0].split():
            out[name] = group[1]
    return out


def test_disks_only_loads_only_disk_modules(vm_factory, tmp_path):
    """A VM with an ext4 image and no NIC, no vsock device and no virtio
    console: virtio_pci, virtio_blk, ext4 and overlay are loaded; the NIC,
    vsock, console, virtio-mmio and erofs modules are not, and the summary
    says why.
    Without hypeman.debug the phase logs that one line, and so does every
    phase before the program. lo is up (127.0.0.1) without the ip applet."""
    vm = boot(vm_factory, tmp_path, agent_socket=False)
    mods = loaded_in_guest(vm)
    for m in ("virtio_pci", "virtio_blk", "ext4", "jbd2", "overlay"):
        assert m in mods, (m, sorted(mods))
    for m in ("virtio_mmio", "virtio_net", "virtio_console", "vsock", "vmw_vsock_virtio_transport",
              "erofs"):
        assert m not in mods, (m, sorted(mods))
    lines, msg = summary(vm)
    assert re.match(r"1[0-9] modules loaded", msg), msg
    assert skipped(msg) == {"virtio_mmio": "no device",
                            "virtio_net": "no device", "virtio_console": "no device",
                            "vmw_vsock_virtio_transport": "no device",
                            "erofs": "no disk of its type"}, msg
    assert msg.endswith("failed: none"), msg
    for phase in BOOT_PHASES:
        got = [l["msg"] for l in vm.log_lines() if l["phase"] == phase]
        assert len(got) == 1, (phase, got)
    assert re.search(r"^LO .*inet 127\.0\.0\.1/8", vm.console_text, re.M), vm.console_tail()


def test_debug_option_logs_each_module(vm_factory, tmp_path):
    """hypeman.debug=1 adds a line per module loaded (with its time) and
    the image disk's type, under the same summary."""
    vm = boot(vm_factory, tmp_path, agent_socket=False, append_extra="hypeman.debug=1")
    lines, msg = summary(vm)
    each = [l["msg"] for l in lines if "dur_ms" not in l]
    for m in ("virtio_pci", "virtio_blk", "jbd2", "ext4", "overlay"):
        assert any(re.fullmatch(r"loaded %s \(\d+ ms\)" % m, x) for x in each), (m, each)
    assert "/dev/vda holds ext4" in each, each
    assert not any("erofs" in x or "virtio_net" in x for x in each), each
    n = int(re.match(r"(\d+) modules loaded", msg).group(1))
    assert n == len([x for x in each if x.startswith("loaded ")]), (msg, each)
    # the volumes phase of this boot has nothing per item; overlay has one
    assert any(l["phase"] == "overlay" and "dur_ms" not in l for l in vm.log_lines())


def test_devices_and_erofs_bring_their_modules(vm_factory, tmp_path):
    """An erofs image, a NIC and a virtio-serial port: erofs, virtio_net
    and virtio_console are loaded on demand; only vsock and virtio_mmio
    (no virtio-mmio device on q35) are skipped."""
    vm = boot(vm_factory, tmp_path, fs="erofs", net=True)
    mods = loaded_in_guest(vm)
    for m in ("virtio_net", "virtio_console", "erofs", "virtio_blk", "ext4", "overlay"):
        assert m in mods, (m, sorted(mods))
    assert "vmw_vsock_virtio_transport" not in mods
    _, msg = summary(vm)
    assert skipped(msg) == {"virtio_mmio": "no device",
                            "vmw_vsock_virtio_transport": "no device"}, msg


# ---- virtio-mmio machines and the kernel command line ------------------------

def test_microvm_loads_virtio_mmio_for_acpi_devices(vm_factory, tmp_path):
    """QEMU's microvm announces its virtio-mmio devices by ACPI (LNRO0005):
    virtio_mmio loads for them, the next coldplug round finds the disk
    behind it (virtio_blk), and virtio_pci has no device."""
    vm = boot(vm_factory, tmp_path, machine="microvm", agent_socket=False,
              append_extra="hypeman.debug=1")
    mods = loaded_in_guest(vm)
    for m in ("virtio_mmio", "virtio_blk", "ext4", "overlay"):
        assert m in mods, (m, sorted(mods))
    assert "virtio_pci" not in mods
    _, msg = summary(vm)
    assert skipped(msg)["virtio_pci"] == "no device", msg
    each = [l["msg"] for l in vm.log_lines() if l["phase"] == "modules"]
    order = [m for x in each for m in ("virtio_mmio", "virtio_blk")
             if re.fullmatch(r"loaded %s \(\d+ ms\)" % m, x)]
    assert order == ["virtio_mmio", "virtio_blk"], each


def test_command_line_module_options(vm_factory, tmp_path):
    """A module's options on the kernel command line reach it as modprobe
    passes them (virtio-blk.queue_depth=: '-' for '_' in the name), as the
    guest sees in sysfs; the options of other programs and of the kernel
    itself (Firecracker's and a bootloader's usual ones) change nothing and
    are not mentioned: no WARN, no ERROR."""
    vm = boot(vm_factory, tmp_path, agent_socket=False, append_extra=(
        "virtio-blk.queue_depth=32 reboot=k i8042.noaux i8042.nomux 8250.nr_uarts=4 "
        "root=/dev/vda ro rw init=/sbin/init quiet_test=1"))
    assert re.search(r"^QD 32$", vm.console_text, re.M), vm.console_tail()
    lines, msg = summary(vm)
    assert [l["msg"] for l in vm.log_lines() if l["level"] != "INFO"] == []
    assert msg.endswith("failed: none"), msg


def test_firecracker_nomodule_said_once(vm_factory, tmp_path):
    """Firecracker's boot arguments hold `nomodule`: the kernel refuses
    every module. One ERROR says so, the summary lists what failed, the
    image disk cannot appear, and the VM ends (a reset: no ACPI)."""
    vm = boot_failing(vm_factory, tmp_path, machine="firecracker")
    errors = [l["msg"] for l in vm.log_lines() if l["level"] == "ERROR" and l["phase"] == "modules"]
    assert len(errors) == 1 and "`nomodule` on its command line" in errors[0], errors
    _, msg = summary(vm)
    assert re.search(r"failed: .*\bvirtio_mmio\b.*\bext4\b", msg), msg
    assert any("/dev/vda did not appear" in l["msg"] for l in vm.log_lines()), vm.console_tail()


def test_firecracker_devices_need_cmdline_devices(vm_factory, tmp_path):
    """Without nomodule, virtio_mmio loads for its device= options on the
    command line; Debian's kernels lack CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES,
    so the module ignores them: no virtio device, virtio_blk skipped, and
    the image disk never appears (docs/kernel.md)."""
    # a later nomodule=0 undoes Firecracker's nomodule
    vm = boot_failing(vm_factory, tmp_path, machine="firecracker",
                      append_extra="nomodule=0 hypeman.debug=1")
    lines, msg = summary(vm)
    assert any(re.fullmatch(r"loaded virtio_mmio \(\d+ ms\)", l["msg"]) for l in lines), lines
    assert skipped(msg).get("virtio_blk") == "no device", msg
    assert any("/dev/vda did not appear" in l["msg"] for l in vm.log_lines()), vm.console_tail()


def boot_failing(vm_factory, tmp_path, **vm_kw):
    """A boot that cannot find its disks: it ends by itself, no panic."""
    root = images.rootfs(tmp_path / "root")
    g = images.Guest(tmp_path / "disks", root, {"cmd": ["/bin/true"], "skip_guest_agent": True})
    vm = vm_factory(disks=g.disks, agent_socket=False, **vm_kw)
    assert vm.wait_exit(90) == 0
    vm.assert_no_panic()
    assert "HYPEMAN-PROGRAM-START" not in vm.console_text
    return vm
