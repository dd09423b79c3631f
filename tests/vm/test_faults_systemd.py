"""Fault matrix: a hostile image in systemd mode.

The systemd test image (tests/testdata/systemd/make-image.sh) with the
symlink attacks of the exec-mode test (test_pipeline.py
test_hostile_image_stays_inside_its_root) at every path the init writes
in systemd mode: /etc/resolv.conf and /etc/hypeman/env -> /init,
/opt/hypeman -> /, /run -> /, and /etc/systemd/system -> a path with
enough ".." to leave the root (its content moved there). Every write
must land inside the image (resolved in its root, or the symlink
replaced), the image's /init stays as it was, and systemd still boots
and runs the injected agent.
"""

import os
import shutil
import subprocess

import pytest

from lib import agent, disks, hostrun
from lib.hostrun import hypeman  # noqa: F401
from lib.vm import Disk

pytestmark = pytest.mark.vm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
LAYOUT = os.path.join(CACHE, "images", "systemd-oci")
BOOT_TIMEOUT = 240
INIT_MARKER = "image /init: must stay as it is\n"
NET_CONFIG = {"network_enabled": True, "guest_ip": "10.0.2.15", "guest_cidr": 24,
              "guest_gw": "10.0.2.2", "guest_dns": "10.0.2.3"}


def hostile_root(root):
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT_MARKER)
    os.makedirs(os.path.join(root, "srv"), exist_ok=True)
    shutil.move(os.path.join(root, "etc/systemd/system"), os.path.join(root, "srv/sysd"))
    links = {"etc/systemd/system": "../../../../../../srv/sysd",
             "etc/resolv.conf": "/init", "opt/hypeman": "/", "run": "/",
             "etc/hypeman/env": "/init"}
    for path, target in links.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.unlink(full)
        os.symlink(target, full)


def sh(v, cmd):
    code, out, err = agent.sh(v.agent_socket, cmd, timeout=60)
    assert code == 0, "%r: %d %s" % (cmd, code, err.decode(errors="replace"))
    return out.decode()


def test_hostile_systemd_image_stays_inside(vm_factory, tmp_path, hypeman):
    if not os.path.exists(os.path.join(LAYOUT, "index.json")):
        subprocess.run([os.path.join(REPO, "tests/testdata/systemd/make-image.sh")], check=True)
    root, cfg = hostrun.unpack(hypeman, LAYOUT, tmp_path / "work")
    hostile_root(root)
    vda, vdb, vdc = (str(tmp_path / n) for n in ("vda.img", "vdb.img", "vdc.img"))
    disks.ext4_from_dir(vda, root, 600)
    disks.empty_ext4(vdb, 256)
    disks.config_disk(vdc, dict(NET_CONFIG, entrypoint=cfg["entrypoint"],
                                cmd=cfg["cmd"], env={"HOSTILE": "1"}))
    vda_before = disks.sha256(vda)
    v = vm_factory(disks=[vda, vdb, vdc], net=True, mem_mb=1024, timeout=BOOT_TIMEOUT)
    agent.wait_ready(v.agent_socket, BOOT_TIMEOUT)   # systemd booted, the unit runs

    assert sh(v, "cat /proc/1/comm").strip() == "systemd"
    assert sh(v, "cat /init") == INIT_MARKER
    assert sh(v, "readlink /etc/systemd/system").strip() == "../../../../../../srv/sysd"
    assert sh(v, "readlink /opt/hypeman").strip() == "/"
    assert sh(v, "stat -c '%a %F' /guest-agent").strip() == "755 regular file"
    assert sh(v, "stat -c %F /etc/hypeman/env /etc/resolv.conf").split("\n")[:2] == \
        ["regular file", "regular file"]
    assert 'HOSTILE="1"' in sh(v, "cat /etc/hypeman/env").splitlines()
    assert sh(v, "cat /etc/resolv.conf").splitlines() == ["nameserver 10.0.2.3"]
    assert "ExecStart=/opt/hypeman/guest-agent" in sh(v, "cat /srv/sysd/hypeman-agent.service")
    assert sh(v, "systemctl is-active hypeman-agent").strip() == "active"
    assert sh(v, "findmnt -n -o FSTYPE /run").strip() == "tmpfs"
    try:
        agent.sh(v.agent_socket, "systemctl poweroff", timeout=30)
    except agent.AgentError:
        pass
    v.wait_exit(180)
    v.assert_no_panic()

    ok, report = disks.e2fsck_clean(vdb)
    assert ok, report
    assert disks.sha256(vda) == vda_before
    assert disks.stat_ext4(vdb, "/upper/init") is None, "the image's /init was copied up"
    for path in ("/upper/srv/sysd/hypeman-agent.service", "/upper/guest-agent",
                 "/upper/etc/hypeman/env", "/upper/etc/resolv.conf"):
        st = disks.stat_ext4(vdb, path)
        assert st and st["type"] == "regular", "%s: %r" % (path, st)
    link = disks.readlink_ext4(vdb, "/upper/srv/sysd/multi-user.target.wants/hypeman-agent.service")
    assert link == "../hypeman-agent.service"
