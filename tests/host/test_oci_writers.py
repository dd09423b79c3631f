"""The test images tests/lib/oci.py writes (write_layout, its members D, F,
L, H, node; write_multiarch_layout), and the systemd test image, as
`hypeman run --no-boot --keep` reads and unpacks them: the run config, the
layers' whiteouts, owners, modes, links and device nodes, symlinks that must
not lead out of the root, tampered blobs, `..` and absolute names.

Run: /usr/bin/python3 -m pytest tests/host/test_oci_writers.py   (as root)
"""

import json
import os
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import oci  # noqa: E402
from lib.hostrun import imgs, run, unpack, hypeman  # noqa: E402,F401

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")
SYSTEMD_IMAGE = os.path.join(os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init"),
                             "images", "systemd-oci")


# ------------------------------------------------------------ layout builder

D, F, L, H = oci.D, oci.F, oci.L, oci.H


def make_layout(layout, layers, config=None, tag="latest"):
    """layers: list of (members, compress). Returns dict of digests."""
    d = oci.write_layout(layout, [(m, "gzip" if c else None) for m, c in layers],
                         config if config is not None else {}, tag)
    return {"manifest": d["manifest"]["digest"], "config": d["config"]["digest"],
            "layers": [l["digest"] for l in d["layers"]]}


def _blobfile(layout, digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])


LAYER1 = [
    D("etc/"), F("etc/keep", b"keep\n"), F("etc/gone", b"bye\n"),
    D("opt/"), D("opt/d/"), F("opt/d/old1", b"1"), D("opt/d/sub/"), F("opt/d/sub/old2", b"2"),
    D("usr/"), D("usr/bin/", 0o755),
    F("usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o4755, uid=1000, gid=1001),
    H("usr/bin/tool2", "usr/bin/tool"),
    L("bin", "usr/bin"),
    L("etc/evil", "/tmp/oci-test-outside-should-not-be-written"),
    L("up", "../../../../.."),
    D("dev/"), oci.node("dev/null", "chr", 0o666, dev=(1, 3)),
    oci.node("dev/fifo", "fifo", 0o600),
    D("tmp/", 0o1777),
]

LAYER2 = [
    D("etc/"), F("etc/.wh.gone"),
    D("opt/d/"), F("opt/d/new", b"new"), D("opt/d/sub/"), F("opt/d/sub/new2", b"n2"),
    F("opt/d/.wh..wh..opq"),            # after its siblings: must still keep them
    F("etc/evil", b"inside\n"),         # replaces the symlink, never writes through it
    F("bin/added", b"x", mode=0o755),   # through the lower symlink bin -> usr/bin
    F("up/pwned", b"p"),                # symlink to ../../.. resolves inside dest
]


# ------------------------------------------------------------ tests

def test_read_image(hypeman, tmp_path):
    """The image's run config as the tool hands it to the init; a tag that
    is not in the index is refused."""
    lay = str(tmp_path / "img")
    make_layout(lay, [(LAYER1, True), (LAYER2, False)], config={
        "Entrypoint": ["/bin/app"], "Cmd": ["-v", "x"], "Env": ["A=1", "B=x=y", "C="],
        "WorkingDir": "/srv", "Volumes": {"/data": {}}})
    _, cfg = unpack(hypeman, lay, tmp_path / "work")
    assert cfg["entrypoint"] == ["/bin/app"]
    assert cfg["cmd"] == ["-v", "x"]
    assert cfg["env"] == {"A": "1", "B": "x=y", "C": ""}
    assert cfg["workdir"] == "/srv"
    p = run(hypeman, ["--no-boot", lay + ":nope"])
    assert p.returncode == 1 and 'no manifest tagged "nope"' in p.stderr, p.stderr


def test_read_image_empty_config(hypeman, tmp_path):
    lay = str(tmp_path / "img")
    make_layout(lay, [([F("a", b"a")], True)], config={"Cmd": None})
    _, cfg = unpack(hypeman, lay, tmp_path / "work")
    assert cfg["entrypoint"] == [] and cfg["cmd"] == [] and cfg["env"] == {}
    assert cfg["workdir"] == "/"


def test_unpack_two_layers_whiteouts(hypeman, tmp_path):
    outside = "/tmp/oci-test-outside-should-not-be-written"
    if os.path.lexists(outside):
        os.unlink(outside)
    lay = str(tmp_path / "img")
    make_layout(lay, [(LAYER1, True), (LAYER2, False)])
    root, _ = unpack(hypeman, lay, tmp_path / "work")
    dest = tmp_path / "work" / "rootfs"

    # .wh.gone deleted the lower file; the sibling stays
    assert not os.path.lexists(dest / "etc/gone")
    assert (dest / "etc/keep").read_bytes() == b"keep\n"
    # opaque whiteout: lower content of opt/d gone, this layer's content kept
    assert sorted(os.listdir(dest / "opt/d")) == ["new", "sub"]
    assert os.listdir(dest / "opt/d/sub") == ["new2"]
    assert not any(n.startswith(".wh.") for _, ds, fs in os.walk(dest) for n in ds + fs)
    # modes, owners, setuid survive; hard link shares the inode
    st = os.lstat(dest / "usr/bin/tool")
    assert stat.S_IMODE(st.st_mode) == 0o4755 and (st.st_uid, st.st_gid) == (1000, 1001)
    assert os.lstat(dest / "usr/bin/tool2").st_ino == st.st_ino
    assert st.st_mtime == 1700000000
    assert stat.S_IMODE(os.lstat(dest / "tmp").st_mode) == 0o1777
    # symlinks kept as symlinks
    assert os.readlink(dest / "bin") == "usr/bin"
    assert (dest / "usr/bin/added").read_bytes() == b"x"
    # device node and fifo
    st = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(dest / "dev/fifo").st_mode)
    # nothing escaped through symlinks in dest
    assert not os.path.lexists(outside)
    assert (dest / "etc/evil").read_bytes() == b"inside\n"
    assert not os.path.islink(dest / "etc/evil")
    assert (dest / "pwned").read_bytes() == b"p"
    assert root == str(dest)


def test_tampered_layer_names_digest(hypeman, tmp_path):
    lay = str(tmp_path / "img")
    dg = make_layout(lay, [(LAYER1, True), (LAYER2, False)])
    bad = dg["layers"][1]
    with open(_blobfile(lay, bad), "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1 and bad in p.stderr, p.stderr
    assert imgs(work) == []
    root = work / "rootfs"
    assert not root.exists() or not os.listdir(root)   # verified before writing anything


def test_tampered_config_and_missing_blob(hypeman, tmp_path):
    lay = str(tmp_path / "img")
    dg = make_layout(lay, [([F("a", b"a")], True)], config={"Cmd": ["/a"]})
    with open(_blobfile(lay, dg["config"]), "w") as f:
        json.dump({"config": {"Cmd": ["/evil"]}}, f)
    p = run(hypeman, ["--no-boot", lay])
    assert p.returncode == 1 and dg["config"] in p.stderr, p.stderr
    os.unlink(_blobfile(lay, dg["manifest"]))
    p = run(hypeman, ["--no-boot", lay])
    assert p.returncode == 1 and dg["manifest"] in p.stderr, p.stderr


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/../escape"])
def test_refuses_dotdot(hypeman, tmp_path, name):
    lay = str(tmp_path / "img")
    make_layout(lay, [([F(name, b"x")], False)])
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1 and "refusing entry" in p.stderr and ".." in p.stderr, p.stderr
    assert not (tmp_path / "escape").exists() and not (work / "escape").exists()


def test_absolute_names_land_inside(hypeman, tmp_path):
    lay = str(tmp_path / "img")
    make_layout(lay, [([D("/"), D("/etc/"), F("/etc/x", b"x")], True)])
    root, _ = unpack(hypeman, lay, tmp_path / "work")
    with open(os.path.join(root, "etc/x"), "rb") as f:
        assert f.read() == b"x"


# ------------------------------------------------------------ multi-platform layouts

def _marked_tree(path, text):
    os.makedirs(os.path.join(path, "etc"))
    with open(os.path.join(path, "etc", "which"), "w") as f:
        f.write(text)
    return path


def test_write_multiarch_layout_one_manifest_per_platform(hypeman, tmp_path):
    """write_multiarch_layout's two-platform image: each architecture gets
    its own config (Cmd) and tree; a layout without an arm64 manifest is
    refused for aarch64, naming what it has."""
    lay = str(tmp_path / "img")
    m = oci.write_multiarch_layout(lay, {"x86_64": _marked_tree(str(tmp_path / "a"), "amd64 tree\n"),
                               "aarch64": _marked_tree(str(tmp_path / "b"), "arm64 tree\n")},
                         {"Cmd": ["/bin/true"]})
    assert m["aarch64"]["platform"] == {"architecture": "arm64", "os": "linux"}
    with open(os.path.join(lay, "index.json")) as f:
        top = json.load(f)["manifests"]
    assert len(top) == 1 and top[0]["mediaType"] == oci.MEDIA_INDEX
    for arch, deb in (("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64")):
        root, cfg = unpack(hypeman, lay, tmp_path / ("work-" + arch), arch=arch)
        assert cfg["cmd"] == ["/bin/true"]
        with open(os.path.join(root, "etc", "which")) as f:
            assert f.read() == deb + " tree\n"
    only = str(tmp_path / "only-amd64")
    oci.write_multiarch_layout(only, {"x86_64": str(tmp_path / "a")}, {"Cmd": ["/bin/true"]})
    p = run(hypeman, ["--no-boot", "--arch", "aarch64", only])
    assert p.returncode == 1, p.stderr
    assert "has no manifest for linux/arm64 (it has: linux/amd64)" in p.stderr, p.stderr


# ------------------------------------------------------------ the systemd image

needs_systemd_image = pytest.mark.skipif(
    not os.path.exists(os.path.join(SYSTEMD_IMAGE, "index.json")),
    reason="systemd image not built (tests/testdata/systemd/make-image.sh)")


@needs_systemd_image
def test_systemd_image_config():
    """The image's own config (skopeo reads it): systemd as its command,
    /sys/fs/cgroup a volume."""
    out = subprocess.run(["skopeo", "inspect", "--config", "oci:%s:latest" % SYSTEMD_IMAGE],
                         check=True, capture_output=True, text=True).stdout
    cfg = json.loads(out)["config"]
    assert cfg["Cmd"] == ["/lib/systemd/systemd"]
    assert not cfg.get("Entrypoint")
    assert "/sys/fs/cgroup" in cfg["Volumes"]


@needs_systemd_image
def test_systemd_image_unpack(hypeman, tmp_path):
    root, cfg = unpack(hypeman, SYSTEMD_IMAGE, tmp_path / "work")
    dest = tmp_path / "work" / "rootfs"
    assert cfg["cmd"] == ["/lib/systemd/systemd"] and cfg["entrypoint"] == []
    systemd = dest / "lib/systemd/systemd"          # /lib -> usr/lib (merged /usr)
    assert os.path.isfile(systemd) and os.access(systemd, os.X_OK)
    assert os.listdir(dest / "lib/systemd/system/multi-user.target.wants") == []
    assert os.listdir(dest / "etc/systemd/system/multi-user.target.wants") == []
    assert os.path.islink(dest / "sbin/init") or os.path.isfile(dest / "sbin/init")
    assert (dest / "etc/machine-id").read_bytes() == b""
    assert os.listdir(dest / "dev") == []
