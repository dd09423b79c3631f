"""Systemd mode and auto-detection on a real systemd image.

The image is tests/testdata/systemd/make-image.sh's OCI layout (Debian
bookworm minbase + systemd, trimmed like the design's e2e Dockerfile), one
per architecture. `hypeman run --no-boot` unpacks it and makes its config
(entrypoint, cmd); the tests build the image disk from that tree. The
image's command, the systemd boot with the agent and the missing /sbin/init
run on aarch64 too (multiarch).
"""

import os
import re
import subprocess

import pytest

from lib import agent, disks, hostrun, images
from lib import arch as _arch
from lib.vm import Disk

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
LAYOUT = os.path.join(CACHE, "images", "systemd-oci")
BOOT_TIMEOUT = 240  # systemd under TCG takes tens of seconds

# A value systemd's EnvironmentFile parsing could mangle if quoted wrongly.
TRICKY = "a b 'single' \"double\" $HOME \\back `tick` end"


def layout(arch):
    """make-image.sh's output for ARCH."""
    return LAYOUT if arch == _arch.host() else LAYOUT + "-" + _arch.deb(arch)


# arch -> the image disk, made once per session: every VM mounts it
# read-only, and the kernel matrix (test_kernels.py, test_machines.py)
# boots it again under other fixtures
_IMAGES = {}


@pytest.fixture(scope="module")
def image(tmp_path_factory, arch):
    if arch in _IMAGES:
        return _IMAGES[arch]
    path = layout(arch)
    if not os.path.exists(os.path.join(path, "index.json")):
        subprocess.run([os.path.join(REPO, "tests/testdata/systemd/make-image.sh"),
                        "--arch", arch], check=True)
    tmp = tmp_path_factory.mktemp("systemd-image")
    root, cfg = hostrun.unpack(hostrun.binary(tmp_path_factory), path, tmp / "work", arch)
    vda = str(tmp / "vda.img")
    disks.ext4_from_dir(vda, root, 600)
    _IMAGES[arch] = {"vda": vda, "entrypoint": cfg["entrypoint"], "cmd": cfg["cmd"]}
    return _IMAGES[arch]


def boot(vm_factory, tmp_path, image, extra_config=None, **kw):
    config = {"entrypoint": image["entrypoint"], "cmd": image["cmd"]}
    config.update(extra_config or {})
    vdb, vdc = str(tmp_path / "vdb.img"), str(tmp_path / "vdc.img")
    disks.empty_ext4(vdb, 256)
    disks.config_disk(vdc, config)
    kw.setdefault("mem_mb", 1024)
    kw.setdefault("timeout", BOOT_TIMEOUT)
    v = vm_factory(disks=[Disk(image["vda"], readonly=True), vdb, vdc], **kw)
    return v, vdb


def sh(v, cmd):
    code, out, err = agent.sh(v.agent_socket, cmd, timeout=60)
    return code, out.decode(), err.decode()


@pytest.mark.multiarch
def test_image_command_is_systemd(image):
    """The OCI config's command is what the host passes on: detection
    must see systemd in it."""
    assert image["cmd"] == ["/lib/systemd/systemd"]


@pytest.mark.multiarch
def test_auto_detect_boots_systemd_with_agent(vm_factory, tmp_path, image):
    """init_mode absent: systemd is PID 1, the injected agent unit runs and
    logs to the journal, / is the overlay, the system is running, nothing
    failed; an env value with spaces and quotes reaches the agent unchanged;
    `systemctl poweroff` ends the VM with a clean overlay disk."""
    v, vdb = boot(vm_factory, tmp_path, image, {
        "env": {"TRICKY": TRICKY, "TEST_AGENT_ECHO_ENV": "TRICKY"}})
    agent.wait_ready(v.agent_socket, BOOT_TIMEOUT)
    start = [m for m in v.markers() if m[0] == "HYPEMAN-PROGRAM-START"]
    assert start and start[0][1]["mode"] == "systemd"

    assert sh(v, "cat /proc/1/comm")[1].strip() == "systemd"
    # the guest and the image's userland are of the architecture under test
    assert sh(v, "uname -m")[1].strip() == v.arch
    assert sh(v, "dpkg --print-architecture")[1].strip() == _arch.deb(v.arch)
    # systemd got the config env, plus PATH and HOME
    environ = sh(v, "tr '\\0' '\\n' < /proc/1/environ")[1].splitlines()
    assert "TRICKY=" + TRICKY in environ, environ
    assert "HOME=/root" in environ and any(e.startswith("PATH=") for e in environ), environ
    assert sh(v, "systemctl is-active hypeman-agent")[1].strip() == "active"
    code, out, _ = sh(v, "test -x /opt/hypeman/guest-agent && stat -c %a /opt/hypeman/guest-agent")
    assert code == 0 and out.strip() == "755"
    assert sh(v, "findmnt -n -o FSTYPE /")[1].strip() == "overlay"
    # is-system-running waits for the boot to finish with --wait
    state = sh(v, "systemctl is-system-running --wait")[1].strip()
    assert state in ("running", "degraded"), state
    failed = sh(v, "systemctl --failed --no-legend --plain")[1]
    assert "hypeman" not in failed, failed
    if state == "degraded":
        pytest.fail("degraded, failed units: %s" % failed)

    journal = sh(v, "journalctl -u hypeman-agent --no-pager -o cat")[1]
    assert "test-agent: started" in journal
    assert "test-agent: env TRICKY=" + TRICKY in journal, journal

    # the unit as contract: Systemd mode writes it, enabled by a relative symlink
    unit = sh(v, "cat /etc/systemd/system/hypeman-agent.service")[1]
    for line in ("Description=Hypeman Guest Agent", "Type=simple",
                 "ExecStart=/opt/hypeman/guest-agent", "EnvironmentFile=-/etc/hypeman/env",
                 "Restart=always", "RestartSec=3", "StandardOutput=journal",
                 "StandardError=journal", "WantedBy=multi-user.target"):
        assert line in unit.splitlines(), line
    link = sh(v, "readlink /etc/systemd/system/multi-user.target.wants/hypeman-agent.service")[1]
    assert link.strip() == "../hypeman-agent.service"

    # poweroff from inside: the agent's connection drops with the VM
    try:
        sh(v, "systemctl poweroff")
    except agent.AgentError:
        pass
    v.wait_exit(120)
    v.assert_no_panic()
    ok, report = disks.e2fsck_clean(vdb)
    assert ok, report


def test_init_mode_exec_overrides_detection(vm_factory, tmp_path, image):
    """The same image with init_mode "exec": our init stays PID 1 and runs
    the image's command (systemd, which refuses to run as a child) as an
    exec-mode program, then reports its exit."""
    v, _ = boot(vm_factory, tmp_path, image, {"init_mode": "exec", "skip_guest_agent": True})
    v.wait_exit(120)
    v.assert_no_panic()
    names = [m for m in v.markers()]
    start = [m for m in names if m[0] == "HYPEMAN-PROGRAM-START"]
    assert start and start[0][1]["mode"] == "exec"
    assert v.exit_marker() is not None
    assert "Welcome to" not in v.console_text  # systemd never came up as init


def test_skip_guest_agent_injects_nothing(vm_factory, tmp_path, image):
    """skip_guest_agent: no hypeman-agent unit, no env file, and systemd
    does not loop restarting anything. Stopped with Ctrl-Alt-Del (systemd
    reboots; QEMU runs with -no-reboot and exits)."""
    v, vdb = boot(vm_factory, tmp_path, image, {"skip_guest_agent": True})
    v.wait_for(re.compile(r"Reached target .*Multi-User System"), BOOT_TIMEOUT)
    v.ctrl_alt_del()
    v.wait_exit(120)
    v.assert_no_panic()
    assert "Scheduled restart job" not in v.console_text
    assert "hypeman-agent" not in v.console_text
    assert disks.read_file_from_ext4(vdb, "/upper/etc/systemd/system/hypeman-agent.service") is None
    assert disks.read_file_from_ext4(vdb, "/upper/etc/hypeman/env") is None
    assert disks.read_file_from_ext4(vdb, "/upper/opt/hypeman/guest-agent") is None
    ok, report = disks.e2fsck_clean(vdb)
    assert ok, report


@pytest.mark.multiarch
def test_missing_init_is_an_error_then_rescue(vm_factory, tmp_path, arch):
    """A systemd-mode image whose /sbin/init is missing: an ERROR naming
    the path, then the rescue path (here hypeman.rescue=0: power-off)."""
    root = images.rootfs(tmp_path / "root", arch=arch)
    assert not os.path.exists(os.path.join(root, "sbin/init"))
    g = images.Guest(tmp_path / "disks", root, {"init_mode": "systemd"})
    v = vm_factory(disks=g.disks)
    v.wait_exit(60)
    v.assert_no_panic()
    errors = [l for l in v.log_lines() if l["level"] == "ERROR"]
    assert any("/sbin/init" in l["msg"] for l in errors), errors
    assert re.search(r"rescue", v.console_text)
    assert not [m for m in v.markers() if m[0] == "HYPEMAN-PROGRAM-START"]
