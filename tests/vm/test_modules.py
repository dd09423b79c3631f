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
        "echo LO $(ip -4 -o addr show dev lo)")
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
    vsock, console and erofs modules are not, and the summary says why.
    Without hypeman.debug the phase logs that one line, and so does every
    phase before the program. lo is up (127.0.0.1) without the ip applet."""
    vm = boot(vm_factory, tmp_path, agent_socket=False)
    mods = loaded_in_guest(vm)
    for m in ("virtio_pci", "virtio_blk", "ext4", "jbd2", "overlay"):
        assert m in mods, (m, sorted(mods))
    for m in ("virtio_net", "virtio_console", "vsock", "vmw_vsock_virtio_transport", "erofs"):
        assert m not in mods, (m, sorted(mods))
    lines, msg = summary(vm)
    assert re.match(r"1[0-9] modules loaded", msg), msg
    assert skipped(msg) == {"virtio_net": "no device", "virtio_console": "no device",
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
    and virtio_console are loaded on demand; only vsock is skipped."""
    vm = boot(vm_factory, tmp_path, fs="erofs", net=True)
    mods = loaded_in_guest(vm)
    for m in ("virtio_net", "virtio_console", "erofs", "virtio_blk", "ext4", "overlay"):
        assert m in mods, (m, sorted(mods))
    assert "vmw_vsock_virtio_transport" not in mods
    _, msg = summary(vm)
    assert skipped(msg) == {"vmw_vsock_virtio_transport": "no device"}, msg
