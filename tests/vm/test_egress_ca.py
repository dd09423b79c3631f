"""egress_proxy.ca_cert_pem: the proxy's CA becomes trusted in the image
(contract: Egress proxy CA), written inside the new root only: appended to
the bundles of an image without update-ca-certificates; the image's own
update-ca-certificates run after the switch (the real image, verified with
its openssl, both modes); any failure ends the boot with HYPEMAN-EXIT
code=78 before the program (both modes).
"""

import re

import pytest

from lib import apps, disks, images
from lib.vm import Disk
pytestmark = pytest.mark.needs("apps")

PEM = ("-----BEGIN CERTIFICATE-----\n"
       "MIIBdGVzdC1vbmx5LW5vdC1hLXJlYWwtY2VydGlmaWNhdGU=\n"
       "-----END CERTIFICATE-----\n")
BUNDLE = "# image bundle\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"


def test_egress_ca_installed(vm_factory, tmp_path):
    root = images.rootfs(tmp_path / "root", files={"/etc/ssl/certs/ca-certificates.crt": BUNDLE})
    config = {
        "cmd": ["/bin/true"], "skip_guest_agent": True,
        "egress_proxy": {"enabled": True, "proxy_url": "http://10.0.2.2:3128", "ca_cert_pem": PEM},
    }
    g = images.Guest(tmp_path / "disks", root, config)
    v = vm_factory(disks=g.disks)
    v.wait_exit(60)
    v.assert_no_panic()
    assert v.exit_marker()["code"] == 0
    ca = disks.read_file_from_ext4(g.vdb, "/upper/usr/local/share/ca-certificates/hypeman-egress-proxy.crt")
    assert ca == PEM.encode()
    bundle = disks.read_file_from_ext4(g.vdb, "/upper/etc/ssl/certs/ca-certificates.crt")
    assert bundle == (BUNDLE + PEM).encode()


def test_egress_ca_not_installed_when_disabled(vm_factory, tmp_path):
    root = images.rootfs(tmp_path / "root", files={"/etc/ssl/certs/ca-certificates.crt": BUNDLE})
    config = {
        "cmd": ["/bin/true"], "skip_guest_agent": True,
        "egress_proxy": {"enabled": False, "ca_cert_pem": PEM},
    }
    g = images.Guest(tmp_path / "disks", root, config)
    v = vm_factory(disks=g.disks)
    v.wait_exit(60)
    assert disks.read_file_from_ext4(g.vdb, "/upper/usr/local/share/ca-certificates/hypeman-egress-proxy.crt") is None
    assert disks.read_file_from_ext4(g.vdb, "/upper/etc/ssl/certs/ca-certificates.crt") is None


# ---- the failure path: exit 78, no program ---------------------------------

FAILED = "egress proxy CA certificate setup failed: "


def boot_small(vm_factory, tmp_path, files=None, pem=PEM, mode="exec", **kw):
    root = images.rootfs(tmp_path / "root", files=files)
    config = {
        "cmd": ["/bin/sh", "-c", "echo PROGRAM-RAN"], "skip_guest_agent": True, "init_mode": mode,
        "egress_proxy": {"enabled": True, "proxy_url": "http://10.0.2.2:3128", "ca_cert_pem": pem},
    }
    g = images.Guest(tmp_path / "disks", root, config)
    return vm_factory(disks=g.disks, timeout=300, **kw), g


def assert_ca_failed(v, g, why):
    """HYPEMAN-EXIT code=78 with the message ending in WHY, the program
    never started, an ERROR in phase egress-ca, then the shutdown path
    (power-off, clean disks)."""
    assert v.wait_exit() == 0
    v.assert_no_panic()
    ex = v.exit_marker()
    assert ex["code"] == 78, ex
    assert ex["message"].startswith(FAILED) and re.fullmatch(why, ex["message"][len(FAILED):]), ex
    assert "HYPEMAN-PROGRAM-START" not in v.console_text and "PROGRAM-RAN" not in v.console_text
    errors = [o for o in v.log_lines() if o["level"] == "ERROR"]
    assert errors[-1]["phase"] == "egress-ca" and FAILED in errors[-1]["msg"], errors
    shut = [o for o in v.log_lines() if o["phase"] == "shutdown"]
    assert shut and "dur_ms" in shut[-1], shut
    ok, report = disks.e2fsck_clean(g.vdb)
    assert ok, report


@pytest.mark.parametrize("mode", ["exec", "systemd"])
def test_not_a_pem_ends_the_boot(vm_factory, tmp_path, mode):
    v, g = boot_small(vm_factory, tmp_path, pem="hello, not a certificate\n", mode=mode)
    assert_ca_failed(v, g, r"egress_proxy\.ca_cert_pem is not a PEM certificate \(no -----BEGIN "
                     r"CERTIFICATE----- line\)")


def test_failed_write_ends_the_boot(vm_factory, tmp_path):
    v, g = boot_small(vm_factory, tmp_path, files={"/usr/local/share/ca-certificates": "a file\n"})
    assert_ca_failed(v, g, r"cannot write /usr/local/share/ca-certificates/hypeman-egress-proxy\.crt: "
                     r"Not a directory")


def test_failing_update_tool_ends_the_boot(vm_factory, tmp_path):
    """The image's update-ca-certificates runs after the switch, its output
    on the console; its failure ends the boot."""
    tool = ("#!/bin/sh\necho \"fake update-ca-certificates: $(ls /usr/local/share/ca-certificates)\"\n"
            "exit 3\n", 0o755)
    v, g = boot_small(vm_factory, tmp_path, files={"/usr/sbin/update-ca-certificates": tool})
    assert_ca_failed(v, g, r"/usr/sbin/update-ca-certificates failed \(exit code 3\)")
    assert "fake update-ca-certificates: hypeman-egress-proxy.crt" in v.lines()
    switch = v.console_text.index('"phase":"switch"')
    assert v.console_text.index("fake update-ca-certificates") > switch


def test_hanging_update_tool_ends_the_boot(vm_factory, tmp_path):
    """An update-ca-certificates that never ends is killed at the bound,
    with what it started (here a child deaf to SIGTERM), and the boot ends."""
    tool = ("#!/bin/sh\necho fake update-ca-certificates hangs\ntrap '' TERM\nsleep 100000 &\nwait\n", 0o755)
    v, g = boot_small(vm_factory, tmp_path, files={"/usr/sbin/update-ca-certificates": tool},
                      append_extra="hypeman.ca_timeout=10")
    assert_ca_failed(v, g, r"/usr/sbin/update-ca-certificates did not finish within 10 s "
                     r"\(hypeman\.ca_timeout\)")
    assert "fake update-ca-certificates hangs" in v.lines()
    # the child was killed with it: nothing needed the shutdown's SIGKILL
    reaped = [o for o in v.log_lines() if o["msg"].startswith("reaped ")][0]
    assert reaped["msg"].endswith("(0 after SIGKILL)"), reaped


# ---- a good CA, trusted by the image's own tools ----------------------------

CHECK = ("for c in good other; do openssl verify -CApath /etc/ssl/certs /certs/$c-leaf.pem 2>&1; done; "
         "echo \"=== link $(readlink /etc/ssl/certs/hypeman-egress-proxy.pem)\"; echo '=== checked'")


@pytest.mark.xdist_group("apps")     # the worker that has the image's disk (test_apps.py)
@pytest.mark.parametrize("mode", ["exec", "systemd"])
def test_good_ca_trusted_by_the_images_openssl(vm_factory, tmp_path, tmp_path_factory, mode):
    """The real image (Debian's ca-certificates): its update-ca-certificates
    ran after the switch, so `openssl verify -CApath /etc/ssl/certs`
    trusts a certificate the egress CA signed, and not one another CA
    signed."""
    certs = tmp_path / "certs"
    pem = apps.ca_and_leaf(str(certs), "good")
    apps.ca_and_leaf(str(certs), "other")
    vdd = disks.ext4_from_dir(str(tmp_path / "vdd.img"), str(certs), 16)
    vda = apps.image_disk(tmp_path_factory)
    config = {"skip_guest_agent": True, "init_mode": mode,
              "volume_mounts": [{"device": "/dev/vdd", "path": "/certs", "mode": "ro"}],
              "egress_proxy": {"enabled": True, "proxy_url": "http://10.0.2.2:3128", "ca_cert_pem": pem}}
    if mode == "exec":
        config["cmd"] = ["/bin/sh", "-c", CHECK]
        extra = []
    else:
        pid1 = images.guest_program("check-then-poweroff")
        with open(pid1, "rb") as f:
            files = {"/pid1": (f.read(), 0o755)}
        root = images.rootfs(tmp_path / "pid1root", files=files, busybox=False)
        extra = [disks.ext4_from_dir(str(tmp_path / "vde.img"), root, 16)]
        config["volume_mounts"].append({"device": "/dev/vde", "path": "/opt/pid1", "mode": "ro"})
        config["cmd"] = ["/opt/pid1/pid1", "/bin/sh", "-c", CHECK]
    vdb = disks.empty_ext4(str(tmp_path / "vdb.img"), 256)
    vdc = disks.config_disk(str(tmp_path / "vdc.img"), config)
    v = vm_factory(disks=[Disk(vda, readonly=True), vdb, vdc, vdd] + extra, timeout=300, mem_mb=1024)
    v.wait_for("=== checked")
    assert v.wait_exit() == 0
    v.assert_no_panic()
    lines = v.lines()
    assert "/certs/good-leaf.pem: OK" in lines, v.console_text[-3000:]
    assert "error /certs/other-leaf.pem: verification failed" in lines
    assert "=== link /usr/local/share/ca-certificates/hypeman-egress-proxy.crt" in lines
    # update-ca-certificates' own output, after the switch, before the program
    text = v.console_text
    assert text.index('"phase":"switch"') < text.index("Updating certificates in /etc/ssl/certs...") \
        < text.index("HYPEMAN-PROGRAM-START")
    assert "1 added, 0 removed; done." in lines
    ran = [o for o in v.log_lines() if o["msg"] == "ran the image's /usr/sbin/update-ca-certificates"]
    assert ran, [o for o in v.log_lines() if o["phase"] == "egress-ca"]
    print("update-ca-certificates took %d ms" % ran[0]["dur_ms"])
    assert not [o for o in v.log_lines() if o["level"] == "ERROR"]
