"""Tests for tests/lib/oci.py: synthetic OCI layouts, plus the systemd test image.

Run: /usr/bin/python3 -m pytest tests/host/test_oci.py   (as root: uid/gid, mknod)
"""

import json
import os
import stat
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oci  # noqa: E402

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod)")
SYSTEMD_IMAGE = os.path.join(os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init"),
                             "images", "systemd-oci")


# ------------------------------------------------------------ layout builder

D, F, L, H = oci.D, oci.F, oci.L, oci.H


def _blob(layout, data):
    return oci.write_blob(layout, data)["digest"]


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

def test_read_image(tmp_path):
    lay = str(tmp_path / "img")
    dg = make_layout(lay, [(LAYER1, True), (LAYER2, False)], config={
        "Entrypoint": ["/bin/app"], "Cmd": ["-v", "x"], "Env": ["A=1", "B=x=y", "C="],
        "WorkingDir": "/srv", "Volumes": {"/data": {}}})
    img = oci.read_image(lay)
    assert img["entrypoint"] == ["/bin/app"]
    assert img["cmd"] == ["-v", "x"]
    assert img["env"] == {"A": "1", "B": "x=y", "C": ""}
    assert img["workdir"] == "/srv"
    assert img["layers"] == [_blobfile(lay, d) for d in dg["layers"]]
    with pytest.raises(oci.OCIError, match="no manifest tagged"):
        oci.read_image(lay, tag="nope")


def test_read_image_empty_config(tmp_path):
    lay = str(tmp_path / "img")
    make_layout(lay, [([F("a", b"a")], True)], config={"Cmd": None})
    img = oci.read_image(lay)
    assert img["entrypoint"] == [] and img["cmd"] == [] and img["env"] == {}
    assert img["workdir"] == ""


@ROOT_ONLY
def test_unpack_two_layers_whiteouts(tmp_path):
    outside = "/tmp/oci-test-outside-should-not-be-written"
    if os.path.lexists(outside):
        os.unlink(outside)
    lay = str(tmp_path / "img")
    make_layout(lay, [(LAYER1, True), (LAYER2, False)])
    dest = tmp_path / "root"
    oci.unpack_rootfs(lay, str(dest))

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


def test_tampered_layer_names_digest(tmp_path):
    lay = str(tmp_path / "img")
    dg = make_layout(lay, [(LAYER1, True), (LAYER2, False)])
    bad = dg["layers"][1]
    with open(_blobfile(lay, bad), "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(oci.OCIError, match=bad):
        oci.read_image(lay)
    dest = tmp_path / "root"
    with pytest.raises(oci.OCIError, match=bad):
        oci.unpack_rootfs(lay, str(dest))
    assert not dest.exists() or not os.listdir(dest)   # verified before writing anything


def test_tampered_config_and_missing_blob(tmp_path):
    lay = str(tmp_path / "img")
    dg = make_layout(lay, [([F("a", b"a")], True)], config={"Cmd": ["/a"]})
    with open(_blobfile(lay, dg["config"]), "w") as f:
        json.dump({"config": {"Cmd": ["/evil"]}}, f)
    with pytest.raises(oci.OCIError, match=dg["config"]):
        oci.read_image(lay)
    os.unlink(_blobfile(lay, dg["manifest"]))
    with pytest.raises(oci.OCIError, match=dg["manifest"]):
        oci.read_image(lay)


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/../escape"])
def test_refuses_dotdot(tmp_path, name):
    lay = str(tmp_path / "img")
    make_layout(lay, [([F(name, b"x")], False)])
    with pytest.raises(oci.OCIError, match=r"\.\."):
        oci.unpack_rootfs(lay, str(tmp_path / "root"))
    assert not (tmp_path / "escape").exists()


def test_absolute_names_land_inside(tmp_path):
    lay = str(tmp_path / "img")
    make_layout(lay, [([D("/"), D("/etc/"), F("/etc/x", b"x")], True)])
    oci.unpack_rootfs(lay, str(tmp_path / "root"))
    assert (tmp_path / "root/etc/x").read_bytes() == b"x"


def test_diff_id_mismatch(tmp_path):
    lay = str(tmp_path / "img")
    dg = make_layout(lay, [([F("a", b"a")], True)])
    # rewrite the config with a wrong diff_id and re-point the manifest at it
    cfg = {"config": {}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}
    cb = json.dumps(cfg).encode()
    with open(_blobfile(lay, dg["manifest"])) as f:
        man = json.load(f)
    man["config"].update(digest=_blob(lay, cb), size=len(cb))
    mb = json.dumps(man).encode()
    with open(os.path.join(lay, "index.json")) as f:
        idx = json.load(f)
    idx["manifests"][0].update(digest=_blob(lay, mb), size=len(mb))
    with open(os.path.join(lay, "index.json"), "w") as f:
        json.dump(idx, f)
    with pytest.raises(oci.OCIError, match="diff_id"):
        oci.unpack_rootfs(lay, str(tmp_path / "root"))


# ------------------------------------------------------------ multi-platform layouts

def _marked_tree(path, text):
    os.makedirs(os.path.join(path, "etc"))
    with open(os.path.join(path, "etc", "which"), "w") as f:
        f.write(text)
    return path


def test_write_multiarch_layout_one_manifest_per_platform(tmp_path):
    """write_multiarch_layout's two-platform image: each architecture reads back its
    own config (architecture, Cmd) and tree; a layout without an arm64
    manifest is refused for aarch64, naming what it has."""
    lay = str(tmp_path / "img")
    m = oci.write_multiarch_layout(lay, {"x86_64": _marked_tree(str(tmp_path / "a"), "amd64 tree\n"),
                               "aarch64": _marked_tree(str(tmp_path / "b"), "arm64 tree\n")},
                         {"Cmd": ["/bin/true"]})
    assert m["aarch64"]["platform"] == {"architecture": "arm64", "os": "linux"}
    with open(os.path.join(lay, "index.json")) as f:
        top = json.load(f)["manifests"]
    assert len(top) == 1 and top[0]["mediaType"] == oci.INDEX_TYPES[0]
    for arch, deb in (("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64")):
        img = oci.read_image(lay, arch=arch)
        assert img["architecture"] == deb and img["cmd"] == ["/bin/true"]
        dest = tmp_path / ("root-" + arch)
        oci.unpack_rootfs(lay, str(dest), arch=arch)
        assert (dest / "etc" / "which").read_text() == deb + " tree\n"
    only = str(tmp_path / "only-amd64")
    oci.write_multiarch_layout(only, {"x86_64": str(tmp_path / "a")}, {"Cmd": ["/bin/true"]})
    with pytest.raises(oci.OCIError, match=r"no manifest for linux/arm64 \(there are: linux/amd64\)"):
        oci.read_image(only, arch="aarch64")


# ------------------------------------------------------------ the systemd image

needs_systemd_image = pytest.mark.skipif(
    not os.path.exists(os.path.join(SYSTEMD_IMAGE, "index.json")),
    reason="systemd image not built (tests/testdata/systemd/make-image.sh)")


@needs_systemd_image
def test_systemd_image_config():
    img = oci.read_image(SYSTEMD_IMAGE)
    assert img["cmd"] == ["/lib/systemd/systemd"]
    assert img["entrypoint"] == []
    assert "/sys/fs/cgroup" in img["volumes"]


@needs_systemd_image
@ROOT_ONLY
def test_systemd_image_unpack(tmp_path):
    dest = tmp_path / "root"
    oci.unpack_rootfs(SYSTEMD_IMAGE, str(dest))
    systemd = dest / "lib/systemd/systemd"          # /lib -> usr/lib (merged /usr)
    assert os.path.isfile(systemd) and os.access(systemd, os.X_OK)
    assert os.listdir(dest / "lib/systemd/system/multi-user.target.wants") == []
    assert os.listdir(dest / "etc/systemd/system/multi-user.target.wants") == []
    assert os.path.islink(dest / "sbin/init") or os.path.isfile(dest / "sbin/init")
    assert (dest / "etc/machine-id").read_bytes() == b""
    assert os.listdir(dest / "dev") == []
