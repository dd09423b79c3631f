"""egress_proxy.ca_cert_pem: the proxy's CA becomes trusted in the image
(contract: config.json), written inside the new root only."""

from lib import disks, images

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
