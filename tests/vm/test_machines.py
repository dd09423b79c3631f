"""The machines hypeman boots, with the kernel of hypeman's production shape
(lib.kernel flavour "hypeman": every boot driver built in, built from
Debian's source by kernel/build.sh) and the plain initrd (./build.sh: no
modules at all), as hypeman's own hosts boot it:

  q35          virtio-pci (Cloud Hypervisor's and QEMU's shape)
  microvm      QEMU's microvm: virtio-mmio devices announced by ACPI
  firecracker  microvm without ACPI, as Firecracker presents a guest: the
               virtio-mmio devices named on the kernel command line
               (virtio_mmio.device=), Firecracker's boot arguments
               (nomodule, reboot=k, pci=off, i8042.*) and root=/dev/vda ro
  virt         aarch64's (qemu-system-aarch64 -M virt), virtio-pci, with
               the arm64 build of the same kernel, when $HYPEMAN_ARCHES
               has aarch64

each with the serial console (console=ttyS0) and with a virtio console as
the only console (console=hvc0). Exec mode on all of them; systemd (the
systemd test image, with the plain initrd built with the test agent:
initrd-test-hypeman) on q35 and firecracker. On firecracker nothing can
power the machine off: init
ends the VM with a reset, which Firecracker (and QEMU with -no-reboot)
takes as the end of the VM.
"""

import os
import re

import pytest

from conftest import arch_file, selected_arches
from lib import agent, disks, images
from lib import kernel as _kernel
from lib.vm import MACHINES
import test_systemd
from test_systemd import image  # noqa: F401  (the systemd image disk)

pytestmark = [pytest.mark.vm, pytest.mark.production]

CONSOLES = ("serial", "hvc0")
# where each machine's disks sit in sysfs (the device of /sys/block/vda)
DISK_PATH = {
    "q35": r"/devices/pci0000:00/0000:00:04\.0/virtio\d+$",
    "microvm": r"/devices/platform/LNRO0005:00/virtio\d+$",
    "firecracker": r"/devices/virtio-mmio-cmdline/virtio-mmio\.\d+/virtio\d+$",
    "virt": r"/devices/platform/4010000000\.pcie/pci0000:00/0000:00:04\.0/virtio\d+$",
}
# the machines of the architectures under test
EXEC_MACHINES = [m for m in ("q35", "microvm", "firecracker", "virt")
                 if MACHINES[m][0] in selected_arches()]
SHOW = ("echo DISK $(readlink -f /sys/block/vda/device); echo CMDLINE $(cat /proc/cmdline); "
        "echo MODULES $(cat /proc/modules | wc -l); echo ROOT $(grep ' / ' /proc/mounts)")


_production = {}


def production(arch):
    """(vmlinuz, modules dir, release) of the production-shape kernel for
    ARCH (built, or waited for while tests/run builds it, once)."""
    if arch not in _production:
        _production[arch] = _kernel.production_kernel(arch)
    return _production[arch]


def plain_initrd(arch):
    path = arch_file(arch, "initrd", "HYPEMAN_PLAIN_INITRD")
    if not os.path.exists(path):
        pytest.skip("plain initrd not built: %s missing (./build.sh [--arch %s])" % (path, arch))
    return path


def end_line(vm, phase):
    ends = [l["msg"] for l in vm.log_lines() if l.get("phase") == phase and "dur_ms" in l]
    assert ends, vm.console_tail()
    return ends[-1]


def assert_ended_as_the_machine_can(vm):
    """Power-off where there is a way (ACPI), a reset on firecracker."""
    msg = end_line(vm, "shutdown")
    if vm.machine == "firecracker":
        assert msg.startswith("resetting: without ACPI there is no power-off"), msg
    else:
        assert msg == "powering off", msg


@pytest.mark.parametrize("console", CONSOLES)
@pytest.mark.parametrize("machine", EXEC_MACHINES)
def test_plain_initrd_exec(vm_factory, tmp_path, machine, console):
    """The program runs and its output and the markers reach the console;
    the modules phase has nothing to do; the disks are behind the machine's
    transport (PCI, ACPI-announced MMIO, MMIO named on the command line);
    the VM ends by itself."""
    arch = MACHINES[machine][0]
    root = images.rootfs(tmp_path / "root", arch=arch)
    g = images.Guest(tmp_path / "disks", root,
                     {"cmd": ["/bin/sh", "-c", SHOW], "skip_guest_agent": True})
    v = vm_factory(disks=g.disks, kernel=production(arch)[0], initrd=plain_initrd(arch),
                   arch=arch, machine=machine, console=console, agent_socket=False)
    assert v.wait_exit(60) == 0
    v.assert_no_panic()
    text = v.console_text
    assert v.exit_marker() == {"code": 0, "message": "success"}, v.console_tail()
    disk = re.search(r"^DISK (\S+)$", text, re.M)
    assert disk and re.search(DISK_PATH[machine], disk.group(1)), v.console_tail()
    assert re.search(r"^MODULES 0$", text, re.M), v.console_tail()
    assert end_line(v, "modules").startswith("no module list in the initrd"), v.console_tail()
    assert end_line(v, "mount").endswith("console /dev/" + v.console)
    cmdline = re.search(r"^CMDLINE (.*)$", text, re.M).group(1)
    if machine == "firecracker":
        assert re.search(r"virtio_mmio\.device=\S+", cmdline), cmdline
        assert "root=/dev/vda ro" in cmdline and "nomodule" in cmdline.split()
    else:
        assert "virtio_mmio.device" not in cmdline, cmdline
    # the root is the overlay, writable, whatever `ro` said to the kernel
    assert re.search(r"^ROOT overlay / overlay rw[ ,]", text, re.M), v.console_tail()
    assert_ended_as_the_machine_can(v)
    assert not [l for l in v.log_lines() if l["level"] != "INFO"], v.console_tail()


@pytest.mark.parametrize("console", CONSOLES)
@pytest.mark.parametrize("machine", ["q35", "firecracker"])
def test_plain_initrd_systemd(vm_factory, tmp_path, image, arch, machine, console):  # noqa: F811
    """The systemd image boots to a running system with the agent active,
    a writable overlay root (Firecracker's `ro` notwithstanding), and
    `systemctl poweroff` ends the VM with a clean overlay disk."""
    # the plain initrd with the test agent (./build.sh --agent): no modules
    withagent = arch_file(arch, "initrd-test-hypeman")
    if not os.path.exists(withagent):
        pytest.skip("%s missing (./build.sh --agent out/test-agent --output %s)"
                    % (withagent, withagent))
    v, vdb = test_systemd.boot(vm_factory, tmp_path, image, kernel=production(arch)[0],
                               initrd=withagent, machine=machine, console=console)
    agent.wait_ready(v.agent_socket, test_systemd.BOOT_TIMEOUT)
    sh = lambda cmd: test_systemd.sh(v, cmd)[1].strip()  # noqa: E731
    assert sh("cat /proc/1/comm") == "systemd"
    assert sh("systemctl is-active hypeman-agent") == "active"
    assert sh("findmnt -n -o FSTYPE,OPTIONS /").split()[0] == "overlay"
    assert sh("findmnt -n -o OPTIONS /").split(",")[0] == "rw"
    assert sh("touch /written-in-the-guest && echo ok") == "ok"
    state = sh("systemctl is-system-running --wait")
    failed = sh("systemctl --failed --no-legend --plain")
    assert state == "running", (state, failed)
    assert sh("test -e /dev/" + v.console + " && echo ok") == "ok"
    try:
        sh("systemctl poweroff")
    except agent.AgentError:
        pass
    assert v.wait_exit(120) == 0
    v.assert_no_panic()
    assert_ended_as_the_machine_can(v)
    ok, report = disks.e2fsck_clean(vdb)
    assert ok, report
    assert disks.read_file_from_ext4(vdb, "/upper/written-in-the-guest") == b""


@pytest.mark.multiarch
def test_production_kernel_builds_in_what_boots(arch):
    """The boot drivers and filesystems are built in (modules.builtin), and
    the kernel still loads modules (CONFIG_MODULES)."""
    vmlinuz, moddir, rel = production(arch)
    with open(os.path.join(moddir, "modules.builtin")) as f:
        builtin = {os.path.basename(l.strip()).split(".ko")[0].replace("-", "_") for l in f}
    for m in ("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_console",
              "vmw_vsock_virtio_transport", "ext4", "erofs", "overlay", "squashfs", "loop",
              "vfio_pci", "virtiofs"):
        assert m in builtin, (m, rel)
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(moddir))),
                           "config")) as f:
        config = f.read()
    assert "\nCONFIG_MODULES=y\n" in config
    assert "\nCONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n" in config
