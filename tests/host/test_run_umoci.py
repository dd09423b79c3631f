"""`hypeman run` applies layers as `umoci unpack` (Debian's umoci 0.4.7) does:
each case builds a layout, unpacks it with both, and compares the trees
(type, mode, owner, size, link, mtime, xattrs, content, hard links).
Also symlinks of lower layers resolved as in a chroot, and how a manifest is
chosen: platforms, full references as tags.

    /usr/bin/python3 -m pytest tests/host/test_run_umoci.py   (as root)
"""

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import D, F, H, L, node  # noqa: E402
from lib.runimages import make_layout  # noqa: E402

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root"),
              pytest.mark.skipif(not shutil.which("umoci"), reason="umoci missing")]


def ours(hypeman, layout, work, tag="latest", args=()):
    p = run(hypeman, ["--no-boot", "--keep", str(work)] + list(args) + ["%s:%s" % (layout, tag)])
    assert p.returncode == 0, p.stderr
    return str(work / "rootfs"), p


def same_as_umoci(hypeman, tmp_path, layers, tag="latest", mtimes=True, ref_layers=None,
                  args=()):
    """Unpacks layers with both; asserts the trees are equal; returns ours.
    ref_layers: what umoci unpacks instead (the same content, another
    compression); args: hypeman run's."""
    lay = str(tmp_path / "image")
    oci.write_layout(lay, layers, {"Cmd": ["/x"]}, tag)
    ref_lay = lay
    if ref_layers is not None:
        ref_lay = str(tmp_path / "ref-image")
        oci.write_layout(ref_lay, ref_layers, {"Cmd": ["/x"]}, tag)
    ref = hostrun.umoci_unpack(ref_lay, tag, tmp_path / "umoci")
    root, p = ours(hypeman, lay, tmp_path / "work", tag, args)
    a, b = hostrun.tree(root, mtimes), hostrun.tree(ref, mtimes)
    assert a == b, hostrun.diff(a, b)
    return root, p


# ---------------------------------------------------------------- same layer

def test_later_entry_of_the_same_name_wins(hypeman, tmp_path):
    """symlink x then file x; directory d (with a child) then file d; file f
    then directory f: in one layer, the later entry replaces the earlier."""
    layer = [L("x", "target"), F("x", "the file"),
             D("d"), F("d/inside", "1"), F("d", "d is a file now"),
             F("f", "f"), D("f", 0o750), F("f/in", "in")]
    root, _ = same_as_umoci(hypeman, tmp_path, [layer])
    assert open(os.path.join(root, "x")).read() == "the file"
    assert open(os.path.join(root, "d")).read() == "d is a file now"
    assert os.path.isdir(os.path.join(root, "f"))


def test_directory_replaced_by_a_file_over_layers(hypeman, tmp_path):
    lower = [D("etc"), D("etc/conf.d"), F("etc/conf.d/a", "a"), L("lnk", "etc")]
    upper = [F("etc/conf.d", "now a file"), D("lnk", 0o700), F("lnk/in", "i")]
    root, _ = same_as_umoci(hypeman, tmp_path, [lower, upper])
    assert not os.path.islink(os.path.join(root, "lnk"))


def test_whiteouts_spare_what_this_layer_wrote(hypeman, tmp_path):
    """A whiteout only hides lower layers: entries of its own layer that come
    before it stay (an opaque directory keeps its new children)."""
    lower = [D("d"), F("d/old", "o"), D("d/sub"), F("d/sub/old", "o"), F("e", "lower e"),
             D("k"), F("k/x", "x")]
    upper = [D("d"), F("d/new", "n"), D("d/sub"), F("d/sub/new", "n"), F("d/.wh..wh..opq"),
             F("e", "upper e"), F(".wh.e"), F("k/y", "y"), F(".wh.k")]
    root, _ = same_as_umoci(hypeman, tmp_path, [lower, upper])
    assert sorted(os.listdir(os.path.join(root, "d"))) == ["new", "sub"]
    assert os.listdir(os.path.join(root, "d/sub")) == ["new"]
    assert open(os.path.join(root, "e")).read() == "upper e"
    assert os.listdir(os.path.join(root, "k")) == ["y"]


# ---------------------------------------------------------------- hard links

def test_hard_link_to_a_lower_layer(hypeman, tmp_path):
    lower = [D("usr"), D("usr/bin"), F("usr/bin/tool", "#!/bin/sh\n", mode=0o4755, uid=1000, gid=10)]
    upper = [H("usr/bin/tool2", "usr/bin/tool"), H("alias", "/usr/bin/tool"),
             F("same", "s"), H("same-too", "same")]
    root, _ = same_as_umoci(hypeman, tmp_path, [lower, upper])
    st = os.lstat(os.path.join(root, "usr/bin/tool"))
    assert st.st_nlink == 3 and os.lstat(os.path.join(root, "alias")).st_ino == st.st_ino


def test_hard_link_to_nothing_names_both(hypeman, tmp_path):
    lay = str(tmp_path / "image")
    descs = oci.write_layout(lay, [[F("a", "a")], [H("b", "missing")]], {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "--keep", str(tmp_path / "work"), lay])
    assert p.returncode == 1, p.stderr
    assert "hard link /b -> /missing: the target is not in this layer or a lower one" \
        in p.stderr, p.stderr
    assert descs["layers"][1]["digest"] in p.stderr
    assert imgs(tmp_path / "work") == []


# ---------------------------------------------------------------- times

def test_directory_mtimes_when_entries_are_not_contiguous(hypeman, tmp_path):
    """Directories keep the mtime of their own entry, whatever comes later in
    the archive or in later layers (adding, replacing, whiting out)."""
    # Every directory has its entry: one made on the way (b/sub for b/sub/x)
    # would change its parent's mtime to "now" in umoci too.
    lower = [D("a", mtime=1000001), D("b", mtime=1000002), F("a/f", "f", mtime=1000003),
             F("b/g", "g"), D("a/sub", mtime=1000004), F("a/h", "h"), D("b/sub"),
             F("b/sub/x", "x"), F("a/sub/deep", "d"), D("c", mtime=1000005), F("c/old", "o")]
    upper = [F("a/new", "n"), F("b/.wh.g"), F("c/.wh..wh..opq"), F("a/f", "replaced"),
             D("b/sub", mtime=1000006), F("b/sub/y", "y")]
    root, _ = same_as_umoci(hypeman, tmp_path, [lower, upper])
    assert int(os.lstat(os.path.join(root, "a")).st_mtime) == 1000001
    assert int(os.lstat(os.path.join(root, "c")).st_mtime) == 1000005


# ---------------------------------------------------------------- umoci's own layers

def _umoci_layout(tmp_path):
    """A layout written by umoci itself, as tests/testdata/systemd/make-image.sh
    makes the systemd image: init, new, insert a directory tree."""
    lay, src = str(tmp_path / "umoci-image"), tmp_path / "src"
    os.makedirs(src / "etc" / "app")
    (src / "etc" / "app" / "conf").write_text("made by umoci insert\n")
    os.symlink("app/conf", src / "etc" / "conf")
    for argv in (["init", "--layout", lay], ["new", "--image", lay + ":t"],
                 ["insert", "--image", lay + ":t", str(src), "/"]):
        subprocess.run(["umoci"] + argv, check=True, capture_output=True)
    return lay


def _last_layer(lay):
    """(descriptor, uncompressed bytes) of the layout's last layer."""
    with open(os.path.join(lay, "index.json")) as f:
        mdesc = json.load(f)["manifests"][0]
    with open(oci.blob_path(lay, mdesc)) as f:
        layer = json.load(f)["layers"][-1]
    with open(oci.blob_path(lay, layer), "rb") as f:
        return layer, gzip.decompress(f.read())


def _notes(work):
    """The host's notes in the run's log (work/init.log): phase "host"."""
    with open(os.path.join(str(work), "init.log")) as f:
        return [json.loads(line)["msg"] for line in f
                if line.startswith("{") and json.loads(line)["phase"] == "host"]


def test_layers_written_by_umoci_0_4_7(hypeman, tmp_path):
    """Bookworm's `umoci insert` writes layers without the two end-of-archive
    blocks: accepted as umoci itself accepts them, a note in the run's log
    and no warning on the terminal (it is how Debian's umoci writes them)."""
    lay = _umoci_layout(tmp_path)
    layer, raw = _last_layer(lay)
    assert raw[-1024:] != bytes(1024), "this umoci wrote end-of-archive blocks"
    ref = hostrun.umoci_unpack(lay, "t", tmp_path / "umoci")
    root, p = ours(hypeman, lay, tmp_path / "work", "t")
    assert "warning" not in p.stderr and "end-of-archive" not in p.stderr, p.stderr
    notes = _notes(tmp_path / "work")
    assert any("no end-of-archive blocks" in n and layer["digest"] in n for n in notes), notes
    a, b = hostrun.tree(root), hostrun.tree(ref)
    assert a == b, hostrun.diff(a, b)
    assert open(os.path.join(root, "etc/conf")).read() == "made by umoci insert\n"


def test_umoci_0_4_7_unpadded_last_entry(hypeman, tmp_path):
    """`umoci insert` of one small file: the layer ends right after the
    file's 5 bytes, without the padding to 512 (and no end blocks). umoci
    unpack and Go's archive/tar take the entry as complete: so do we, the
    same tree, a note in the run's log only. Data that really ends inside
    the entry is still refused."""
    lay, src = str(tmp_path / "umoci-image"), tmp_path / "hello.txt"
    src.write_text("hello")
    for argv in (["init", "--layout", lay], ["new", "--image", lay + ":t"],
                 ["insert", "--image", lay + ":t", str(src), "/hello.txt"]):
        subprocess.run(["umoci"] + argv, check=True, capture_output=True)
    layer, raw = _last_layer(lay)
    assert len(raw) % 512 == 5 and raw.endswith(b"hello"), "this umoci padded its last entry"
    ref = hostrun.umoci_unpack(lay, "t", tmp_path / "umoci")
    root, p = ours(hypeman, lay, tmp_path / "work", "t")
    assert "warning" not in p.stderr and "truncated" not in p.stderr, p.stderr
    a, b = hostrun.tree(root), hostrun.tree(ref)
    assert a == b, hostrun.diff(a, b)
    assert open(os.path.join(root, "hello.txt")).read() == "hello"
    notes = _notes(tmp_path / "work")
    assert any("ends inside the padding of its last entry, /hello.txt" in n
               and layer["digest"] in n for n in notes), notes
    # the same layer cut after two of the file's five bytes: refused
    cut = str(tmp_path / "cut")
    descs = oci.write_layout(cut, [raw[:-3]], {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "--keep", str(tmp_path / "work2"), cut])
    assert p.returncode == 1, p.stderr
    assert "layer 1/1 (%s) is truncated: the data ends inside an entry" % descs["layers"][0]["digest"] \
        in p.stderr, p.stderr


def test_tar_without_end_blocks(hypeman, tmp_path):
    blob = oci.tar_bytes([D("etc"), F("etc/x", "x"), D("var")], eof=False)
    root, p = same_as_umoci(hypeman, tmp_path, [blob])
    assert "end-of-archive" not in p.stderr, p.stderr
    assert any("no end-of-archive blocks" in n for n in _notes(tmp_path / "work"))
    assert os.path.isdir(os.path.join(root, "var"))


# ---------------------------------------------------------------- formats

def _rich_layer():
    """Names, types and metadata a layer can hold."""
    dirs = [D(d) for d in ("long", "long/" + "n" * 200, "caf\u00e9", "dev", "run", "t")]
    return dirs + [D("./"), D("etc"), F("etc/setuid", "s", mode=0o4755, uid=0, gid=0),
            F("etc/owned", "o", mode=0o640, uid=1234, gid=5678),
            F("etc/xattr", "x", xattrs={"user.hypeman": b"value\x00\xff"}),
            D("dir-xattr", xattrs={"user.dir": "d"}),
            F("long/" + "n" * 200 + "/file", "long name"),
            F("caf\u00e9/\u65e5\u672c", "utf-8 names"),
            node("dev/null", "chr", 0o666, dev=(1, 3)),
            node("dev/loop0", "blk", 0o660, dev=(7, 0)),
            node("run/fifo", "fifo", 0o600),
            L("abs", "/etc/owned"), L("dangling", "../nowhere"),
            F("empty", ""), F("big", os.urandom(300000)),
            F("t/nano", "n", mtime=1600000000.5)]


@pytest.mark.parametrize("how", [None, "gzip", "zstd", "xz", "bzip2"])
def test_compressions_and_entry_kinds(hypeman, tmp_path, how):
    """The same rich layer, compressed each way, against umoci's unpack of
    its gzip form (umoci 0.4.7 reads gzip and plain tar only)."""
    layer = _rich_layer()
    same_as_umoci(hypeman, tmp_path, [(layer, how)], ref_layers=[(layer, "gzip")])


def test_zstd_skippable_frame(hypeman, tmp_path):
    """A zstd layer that starts with a skippable frame (as some builders write)."""
    import struct
    layer = [D("etc"), F("etc/z", "zstd")]
    blob = struct.pack("<II", 0x184D2A50, 8) + b"metadata" + \
        oci.compress(oci.tar_bytes(layer), "zstd")
    same_as_umoci(hypeman, tmp_path, [blob], ref_layers=[layer])


def test_sparse_file(hypeman, tmp_path):
    """A sparse file (PAX format: Go's tar, so umoci, reads no old GNU sparse
    entries): the same bytes as umoci writes, holes kept."""
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(8 << 20)
        f.seek(3 << 20)
        f.write(b"middle")
    tarball = tmp_path / "sparse.tar"
    subprocess.run(["tar", "-C", str(src), "--format=pax", "--sparse", "--numeric-owner",
                    "--mtime=@1700000000",
                    "-cf", str(tarball), "sparse"], check=True)
    root, _ = same_as_umoci(hypeman, tmp_path, [tarball.read_bytes()])
    assert os.stat(os.path.join(root, "sparse")).st_blocks * 512 < 1 << 20


# ---------------------------------------------------------------- choosing the manifest

def _platform_index(tmp_path, platforms, tag="latest"):
    """index.json -> an image index (tagged) -> one manifest per platform, each
    image's Cmd naming its platform."""
    lay = str(tmp_path / "multi")
    descs = []
    for arch in platforms:
        d = oci.write_image(lay, [[F("arch", arch)]], {"Cmd": ["/" + arch]}, arch=arch)
        descs.append(dict(d["manifest"], platform={"os": "linux", "architecture": arch}))
    index = {"schemaVersion": 2, "mediaType": oci.MEDIA_INDEX, "manifests": descs}
    idesc = oci.write_blob(lay, json.dumps(index).encode(), oci.MEDIA_INDEX)
    idesc["annotations"] = {oci.REF_NAME: tag}
    oci.write_index(lay, [idesc])
    return lay, idesc


def test_index_for_other_platforms_names_them(hypeman, tmp_path):
    lay, idesc = _platform_index(tmp_path, ["arm64", "s390x"])
    p = run(hypeman, ["--no-boot", lay])
    assert p.returncode == 1, p.stderr
    assert "image index %s has no manifest for linux/amd64 (it has: linux/arm64, linux/s390x)" \
        % idesc["digest"] in p.stderr, p.stderr


def test_index_picks_this_platform(hypeman, tmp_path):
    lay, _ = _platform_index(tmp_path, ["arm64", "amd64", "s390x"])
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 0, p.stderr
    assert open(work / "rootfs" / "arch").read() == "amd64"


def test_top_level_manifests_for_other_platforms(hypeman, tmp_path):
    lay = str(tmp_path / "image")
    d = oci.write_image(lay, [[F("a", "a")]], {"Cmd": ["/x"]}, arch="arm64")
    oci.write_index(lay, [dict(d["manifest"], platform={"os": "linux", "architecture": "arm64",
                                                        "variant": "v8"},
                               annotations={oci.REF_NAME: "latest"})])
    p = run(hypeman, ["--no-boot", lay])
    assert p.returncode == 1, p.stderr
    assert "no manifest for linux/amd64 (it has: linux/arm64/v8)" in p.stderr, p.stderr


def test_tag_matches_a_full_reference(hypeman, tmp_path):
    """skopeo and buildah write org.opencontainers.image.ref.name as a full
    reference; IMAGE:TAG matches its tag, IMAGE:REFERENCE all of it."""
    lay = str(tmp_path / "image")
    oci.write_layout(lay, [[F("hello", "1.0")]], {"Cmd": ["/x"]}, tag="docker.io/library/x:1.0")
    for arg in (lay + ":1.0", lay + ":docker.io/library/x:1.0"):
        p = run(hypeman, ["--no-boot", "-q", arg])
        assert p.returncode == 0, (arg, p.stderr)
    p = run(hypeman, ["--no-boot", lay + ":2.0"])
    assert p.returncode == 1, p.stderr
    assert 'no manifest tagged "2.0" (the index has: docker.io/library/x:1.0)' in p.stderr


def test_symlinks_stay_inside_the_root(hypeman, tmp_path):
    """Symlinks of a lower layer (absolute, or climbing with ..) are resolved
    as in a chroot: a later layer's files and whiteouts never reach the host.
    The tree is the one `umoci unpack` makes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("host file\n")
    rel = str(outside).lstrip("/")
    parts = rel.split("/")
    layer1 = [("/".join(parts[:i + 1]), "dir", None, 0o755) for i in range(len(parts))]
    layer1 += [(rel + "/victim.txt", "file", "image file\n", 0o644),
               ("esc", "symlink", str(outside), 0o777),
               ("up", "symlink", "../" * 12 + rel, 0o777),
               ("dang", "symlink", "/nonexistent-hypeman-test", 0o777),
               ("usr", "dir", None, 0o755), ("usr/bin", "dir", None, 0o755),
               ("bin", "symlink", "usr/bin", 0o777)]
    layer2 = [("esc/planted.txt", "file", "x", 0o644),
              ("up/planted2.txt", "file", "x", 0o644),
              ("esc/.wh.victim.txt", "file", "", 0o644),
              ("dang/f.txt", "file", "x", 0o644),
              ("bin/tool", "file", "tool", 0o755)]
    make_layout(layout := str(tmp_path / "image"), [(layer1, False), (layer2, True)],
                {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 0, p.stderr
    # The host is untouched.
    assert sorted(os.listdir(outside)) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "host file\n"
    assert not os.path.exists("/nonexistent-hypeman-test")
    # Inside the image: followed as in a chroot.
    root = work / "rootfs"
    inside = root / rel
    assert sorted(os.listdir(inside)) == ["planted.txt", "planted2.txt"]
    assert os.path.islink(root / "esc") and os.path.islink(root / "up")
    assert os.path.islink(root / "bin")
    assert (root / "usr" / "bin" / "tool").read_text() == "tool"
    # A dangling symlink is followed too: its target is made, inside the root.
    assert os.path.islink(root / "dang")
    assert (root / "nonexistent-hypeman-test" / "f.txt").read_text() == "x"
    assert len(imgs(work)) == 3
    ref = hostrun.umoci_unpack(layout, "latest", tmp_path / "umoci")
    ours, theirs = hostrun.tree(str(root), mtimes=False), hostrun.tree(ref, mtimes=False)
    assert ours == theirs, hostrun.diff(ours, theirs)


def test_layers_match_umoci(hypeman, tmp_path):
    """Three layers exercising the merge (file <-> dir, a listed directory
    over a symlink, whiteouts of directories, opaque directories, metadata
    of listed vs implied directories) against `umoci unpack`."""
    l1 = [("a", "dir", None, 0o755), ("a/f1", "file", "1", 0o644),
          ("a/sub", "dir", None, 0o700), ("a/sub/deep", "file", "d", 0o600),
          ("b", "file", "b", 0o644), ("c", "dir", None, 0o755), ("c/x", "file", "x", 0o644),
          ("lnk", "symlink", "a", 0o777), ("e", "dir", None, 0o755),
          ("e/keep", "file", "k", 0o644), ("e/gone", "dir", None, 0o755),
          ("e/gone/in", "file", "i", 0o644), ("m", "dir", None, 0o755),
          ("m/old", "file", "o", 0o644), ("rel", "dir", None, 0o755),
          ("rel/t", "file", "t", 0o644), ("rl", "symlink", "rel", 0o777)]
    l2 = [("b", "dir", None, 0o750), ("b/now_dir", "file", "n", 0o644),
          ("c", "file", "now a file", 0o640),
          ("lnk", "dir", None, 0o711), ("lnk/new", "file", "n", 0o644),
          ("e/.wh.gone", "file", "", 0o644),
          ("m", "dir", None, 0o701), ("m/.wh..wh..opq", "file", "", 0o644),
          ("m/sub", "dir", None, 0o755), ("m/sub/n", "file", "n", 0o644),
          ("a", "dir", None, 0o777), ("a/sub/added", "file", "add", 0o644),
          ("rl/via", "file", "v", 0o644)]
    l3 = [("a/.wh.f1", "file", "", 0o644), ("a/f1", "file", "re-added", 0o644),
          ("e/.wh..wh..opq", "file", "", 0o644)]
    layout = str(tmp_path / "image")
    make_layout(layout, [(l1, True), (l2, False), (l3, True)], {"Cmd": ["/x"]})
    ref = hostrun.umoci_unpack(layout, "latest", tmp_path / "umoci")
    work = tmp_path / "work"
    p = run(hypeman, ["-q", "--no-boot", "--keep", str(work), layout])
    assert p.returncode == 0, p.stderr
    ours, ref = hostrun.tree(str(work / "rootfs")), hostrun.tree(ref)
    assert ours == ref, hostrun.diff(ours, ref)
    assert ours["a"][1] == 0o777 and ours["a/sub"][1] == 0o700 and ours["m"][1] == 0o701
    assert "e" in ours and "e/keep" not in ours and "m/old" not in ours
    assert (work / "rootfs" / "a" / "f1").read_text() == "re-added"
