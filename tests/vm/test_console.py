"""Console choice (contract: Devices): the first of /dev/hvc0, /dev/ttyAMA0,
/dev/ttyS0 that opens. With a virtio console (as Cloud Hypervisor gives),
init moves its log and the markers to hvc0 once virtio_console is loaded.
Before that the serial port: ttyS0 on x86_64, the PL011 ttyAMA0 on aarch64
(the kernel's console= names it; init finds it by trying the list)."""

import json

import pytest

from lib import images


@pytest.mark.multiarch
def test_log_and_markers_move_to_hvc0(vm_factory, tmp_path, arch):
    hvc = tmp_path / "hvc0.log"
    root = images.rootfs(tmp_path / "root", arch=arch)
    g = images.Guest(tmp_path / "disks", root,
                     {"cmd": ["/bin/sh", "-c", "echo program-output"], "skip_guest_agent": True})
    v = vm_factory(disks=g.disks, extra_args=[
        "-device", "virtio-serial-pci,id=vcon0",
        "-chardev", "file,id=hvc0,path=%s" % hvc,
        "-device", "virtconsole,bus=vcon0.0,chardev=hvc0"])
    v.wait_exit(60)
    v.assert_no_panic()
    text = hvc.read_text(errors="replace")
    hvc_log = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
    # before virtio_console is loaded, the serial port is the best console
    # there is, and init names it
    serial_phases = [l["phase"] for l in v.log_lines()]
    assert "boot" in serial_phases and "mount" in serial_phases
    mount = [l for l in v.log_lines() if l["phase"] == "mount" and "dur_ms" in l]
    assert mount and mount[0]["msg"].endswith("console /dev/" + v.console), mount
    # afterwards everything goes to hvc0: the later phases, the program's
    # output, the markers
    hvc_phases = [l["phase"] for l in hvc_log]
    for phase in ("overlay", "config", "switch", "shutdown"):
        assert phase in hvc_phases and phase not in serial_phases, (phase, hvc_phases)
    assert "program-output" in text
    assert "HYPEMAN-PROGRAM-START" in text and 'HYPEMAN-EXIT code=0 message="success"' in text
    assert "HYPEMAN-EXIT" not in v.console_text


def test_hvc0_as_the_only_console(vm_factory, tmp_path):
    """console=hvc0 with a virtio console and no serial port (as on Apple's
    hypervisor): with Debian's kernel virtio_console is a module, so until
    init loads it there is no console at all and the first phases' lines
    are lost; from then on the log, the program's output and the markers
    reach hvc0, and the shutdown ends the VM."""
    root = images.rootfs(tmp_path / "root")
    g = images.Guest(tmp_path / "disks", root,
                     {"cmd": ["/bin/sh", "-c", "echo program-output"], "skip_guest_agent": True})
    v = vm_factory(disks=g.disks, console="hvc0", agent_socket=False)
    assert v.wait_exit(90) == 0
    v.assert_no_panic()
    phases = [l["phase"] for l in v.log_lines()]
    for phase in ("overlay", "config", "switch", "exec", "shutdown"):
        assert phase in phases, (phase, v.console_tail())
    assert "program-output" in v.console_text
    assert v.exit_marker() == {"code": 0, "message": "success"}
    assert [l["msg"] for l in v.log_lines() if "dur_ms" in l][-1] == "powering off"
