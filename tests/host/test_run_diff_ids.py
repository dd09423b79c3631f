"""`hypeman run` checks each layer's uncompressed tar stream against the
image config's rootfs.diff_ids (the OCI image spec's diff_id: its sha256),
as umoci and containerd do, from the one read of the blob: a mismatch, a
count that is not the manifest's, a malformed entry are refused, and no
disk is made; gzip, zstd, xz, bzip2 and plain layers whose diff_ids hold
are taken, the bytes after the tar's end blocks counted too. (umoci's own
layers, without end blocks or with an unpadded last entry:
test_run_umoci.py.)

    /usr/bin/python3 -m pytest tests/host/test_run_diff_ids.py   (as root)
"""

import hashlib
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import D, F  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")

LAYERS = [[D("etc"), F("etc/one", "1\n")], [D("usr"), F("usr/two", "2" * 5000)],
          [F("etc/three", "3\n"), F(".wh.usr")]]


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def with_config(lay, descs, edit):
    """The layout's config changed by edit(cfg), the manifest and index.json
    pointed at the new one (the blobs' own digests all hold)."""
    with open(oci.blob_path(lay, descs["config"])) as f:
        cfg = json.load(f)
    edit(cfg)
    cdesc = oci.write_blob(lay, json.dumps(cfg).encode(), oci.MEDIA_CONFIG)
    man = {"schemaVersion": 2, "mediaType": oci.MEDIA_MANIFEST, "config": cdesc,
           "layers": descs["layers"]}
    mdesc = oci.write_blob(lay, json.dumps(man).encode(), oci.MEDIA_MANIFEST)
    oci.write_index(lay, [dict(mdesc, annotations={oci.REF_NAME: "latest"})])
    return cdesc


def refused(hypeman, lay, work):
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert imgs(work) == [], "a disk was made of an image that was refused"
    return p.stderr


def layout(tmp_path, hows):
    lay = str(tmp_path / "image")
    return lay, oci.write_layout(lay, [(l, how) for l, how in zip(LAYERS, hows)], {"Cmd": ["/x"]})


@pytest.mark.parametrize("how", [None, "gzip", "zstd"])
def test_diff_id_mismatch_names_the_layer_and_both_digests(hypeman, tmp_path, how):
    """Layer 2 (compressed HOW) whose diff_id is another's: refused, naming
    the layer, what its content hashes to and what the config says."""
    lay, descs = layout(tmp_path, ["gzip", how, None])
    real = sha(oci.tar_bytes(LAYERS[1]))
    wrong = sha(oci.tar_bytes(LAYERS[0]))

    def edit(cfg):
        assert cfg["rootfs"]["diff_ids"][1] == real     # the writer's own diff_id
        cfg["rootfs"]["diff_ids"][1] = wrong
    with_config(lay, descs, edit)
    err = refused(hypeman, lay, tmp_path / "work")
    assert ("layer 2/3 (%s): its uncompressed content has %s, the config's "
            "rootfs.diff_ids[1] says %s: refusing the image"
            % (descs["layers"][1]["digest"], real, wrong)) in err, err


def test_diff_ids_count_must_be_the_manifests(hypeman, tmp_path):
    lay, descs = layout(tmp_path, ["gzip", None, "zstd"])
    cdesc = with_config(lay, descs, lambda cfg: cfg["rootfs"]["diff_ids"].pop())
    err = refused(hypeman, lay, tmp_path / "work")
    assert ("image config %s: rootfs.diff_ids lists 2 layers, the manifest 3 layers: "
            "refusing the image" % cdesc["digest"]) in err, err
    assert "applying" not in err, err       # refused before any layer is read


@pytest.mark.parametrize("bad, why", [
    ("sha256:" + "A" * 64, "rootfs.diff_ids[2] is \"sha256:%s\", not sha256: and 64 "
     "lower-case hex digits" % ("A" * 64)),
    ("sha512:" + "0" * 128, "rootfs.diff_ids[2] is \"sha512:"),
    (None, "\"diff_ids\" is not an array of strings"),
])
def test_malformed_diff_id_refused(hypeman, tmp_path, bad, why):
    lay, descs = layout(tmp_path, ["gzip", None, "zstd"])

    def edit(cfg):
        if bad is None:
            cfg["rootfs"]["diff_ids"][2] = 5
        else:
            cfg["rootfs"]["diff_ids"][2] = bad
    with_config(lay, descs, edit)
    err = refused(hypeman, lay, tmp_path / "work")
    assert why in err, err


@pytest.mark.parametrize("rootfs, why", [
    (None, "no \"rootfs\" (the layers' uncompressed digests)"),
    ({"type": "other", "diff_ids": []}, "rootfs.type is \"other\", not \"layers\""),
])
def test_rootfs_must_be_layers(hypeman, tmp_path, rootfs, why):
    lay = str(tmp_path / "image")
    descs = oci.write_layout(lay, LAYERS[:1], {"Cmd": ["/x"]})

    def edit(cfg):
        del cfg["rootfs"]
        if rootfs is not None:
            cfg["rootfs"] = rootfs
    with_config(lay, descs, edit)
    err = refused(hypeman, lay, tmp_path / "work")
    assert why in err, err


def test_every_compression_accepted(hypeman, tmp_path):
    """gzip, zstd, xz, bzip2 and plain layers whose diff_ids hold: the
    tree is the layers'."""
    lay = str(tmp_path / "image")
    hows = [None, "gzip", "zstd", "xz", "bzip2"]
    oci.write_layout(lay, [([F("from-%s" % how, str(how))], how) for how in hows],
                     {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 0, p.stderr
    for how in hows:
        assert (work / "rootfs" / ("from-%s" % how)).read_text() == str(how)


@pytest.mark.parametrize("how", [None, "gzip"])
def test_the_whole_stream_counts(hypeman, tmp_path, how):
    """A tar's stream goes on after its two end blocks (tar pads it to its
    record size: `tar -b 8192`, 4 MiB, here), far beyond what the tar reader
    reads: the diff_id is of all of it, so one of the archive up to its end
    blocks only is refused."""
    tar = oci.tar_bytes([F("x", "x")], eof=False) + bytes(1024)
    raw = tar + bytes((4 << 20) - len(tar))
    lay = str(tmp_path / "image")
    descs = oci.write_layout(lay, [oci.compress(raw, how)], {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "-q", lay])
    assert p.returncode == 0, p.stderr
    short = sha(tar)
    with_config(lay, descs, lambda cfg: cfg["rootfs"].update(diff_ids=[short]))
    err = refused(hypeman, lay, tmp_path / "work")
    assert "its uncompressed content has %s, the config's rootfs.diff_ids[0] says %s" \
        % (sha(raw), short) in err, err
