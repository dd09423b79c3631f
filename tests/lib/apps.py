"""The real-software test image (tests/testdata/apps/make-image.sh): Debian
bookworm with Debian's nginx, PostgreSQL 15, redis, openssl and
ca-certificates, laid out as their official images are.

  layout()              the OCI layout (built, or taken from the cache)
  image_disk(tmp)       its root filesystem as a read-only erofs image disk,
                        made once per test session (shared by the tests)
  config(tmp)           the image's run config as `hypeman run` makes it
                        (entrypoint, cmd, env...)
  ca_and_leaf(dir, name) a CA and a server certificate it signed (openssl)
"""

import os
import subprocess

from . import disks, hostrun

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
_made = {}


def layout():
    if "layout" not in _made:
        out = subprocess.run([os.path.join(REPO, "tests/testdata/apps/make-image.sh")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
        _made["layout"] = out[-1]
    return _made["layout"]


def _unpacked(tmp_path_factory):
    """(rootfs, config) of the image, unpacked by `hypeman run --no-boot`
    once per session."""
    if "unpacked" not in _made:
        tmp = tmp_path_factory.mktemp("apps-image")
        _made["unpacked"] = hostrun.unpack(hostrun.binary(tmp_path_factory), layout(),
                                           tmp / "work")
    return _made["unpacked"]


def config(tmp_path_factory):
    return _unpacked(tmp_path_factory)[1]


def image_disk(tmp_path_factory):
    """The unpacked image as an erofs disk, once per session."""
    if "disk" not in _made:
        root = _unpacked(tmp_path_factory)[0]
        _made["disk"] = disks.erofs_from_dir(os.path.join(os.path.dirname(root), "vda.erofs"),
                                             root)
    return _made["disk"]


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def ca_and_leaf(d, name):
    """In directory D: NAME-ca.pem (a CA) and NAME-leaf.pem (a server
    certificate signed by it). Returns the CA's PEM text."""
    os.makedirs(d, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=%s egress proxy CA" % name, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", name + "-ca.key", "-out", name + "-ca.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s.example" % name,
             "-keyout", name + "-leaf.key", "-out", name + "-leaf.csr", cwd=d)
    _openssl("x509", "-req", "-in", name + "-leaf.csr", "-CA", name + "-ca.pem", "-CAkey",
             name + "-ca.key", "-CAcreateserial", "-days", "2", "-out", name + "-leaf.pem", cwd=d)
    with open(os.path.join(d, name + "-ca.pem")) as f:
        return f.read()
