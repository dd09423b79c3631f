"""`hypeman run` meets images where they are, without booting (--no-boot):
an OCI archive (a tar of a layout) as skopeo's oci-archive:, `tar -C DIR .`
and docker save from Docker 25 on write it, read in place through one
descriptor and each byte once; the same checks and limits as a
directory; and for what is no layout (a registry reference, a directory
or an archive of something else, a compressed archive) a message that
says what it is and what to do.

    /usr/bin/python3 -m pytest tests/host/test_run_archive.py    (as root)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import D, F, H, L  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")
needs_skopeo = pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo missing")

LAYERS = [([D("etc"), F("etc/a.txt", "a\n"), D("dir"), F("dir/old", "o"), L("etc/l", "a.txt")],
           "gzip"),
          [D("etc"), F("etc/.wh.a.txt"), F("etc/b.txt", "b\n"), H("dir/hard", "dir/old")]]


def layout(tmp_path, name="image", tag="latest"):
    lay = str(tmp_path / name)
    return lay, oci.write_layout(lay, LAYERS, {"Cmd": ["/x"]}, tag)


def unpacked(hypeman, image, work, args=()):
    """The tree hypeman run makes of IMAGE (asserting it succeeds)."""
    p = run(hypeman, ["--no-boot", "--keep", str(work)] + list(args) + [image])
    assert p.returncode == 0, p.stderr
    assert len(imgs(work)) == 3
    return hostrun.tree(str(work / "rootfs"))


def refused(hypeman, tmp_path, image, words, args=(), rc=1):
    """IMAGE refused with status RC, its message holding every one of WORDS,
    before any disk is made; the message."""
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work)] + list(args) + [image],
            cwd=str(tmp_path))
    assert p.returncode == rc, (p.returncode, p.stderr)
    for w in words:
        assert w in p.stderr, "no %r in:\n%s" % (w, p.stderr)
    assert imgs(work) == []
    return p.stderr


# ---------------------------------------------------------------- archives


@needs_skopeo
def test_skopeo_archive_same_tree_as_its_layout(hypeman, tmp_path):
    lay, _ = layout(tmp_path)
    ref = unpacked(hypeman, lay, tmp_path / "work-dir")
    archive = str(tmp_path / "image.tar")
    subprocess.run(["skopeo", "copy", "-q", "oci:%s:latest" % lay, "oci-archive:%s:v1" % archive],
                   check=True)
    assert unpacked(hypeman, archive, tmp_path / "work-tar") == ref
    assert unpacked(hypeman, archive + ":v1", tmp_path / "work-tag") == ref


def test_tar_of_a_layout_same_tree(hypeman, tmp_path):
    """GNU tar's archive of the directory: "./" names, directories first."""
    lay, _ = layout(tmp_path)
    ref = unpacked(hypeman, lay, tmp_path / "work-dir")
    archive = str(tmp_path / "image.tar")
    subprocess.run(["tar", "-C", lay, "-cf", archive, "."], check=True)
    assert tarfile.open(archive).getnames()[0] == "."
    assert unpacked(hypeman, archive, tmp_path / "work-tar") == ref
    pax = str(tmp_path / "pax.tar")
    subprocess.run(["tar", "--format=pax", "-C", lay, "-cf", pax, "."], check=True)
    assert unpacked(hypeman, pax + ":latest", tmp_path / "work-pax") == ref


def docker_save(tmp_path, n=2):
    """An archive as `docker save aa bb` writes it from Docker 25 on."""
    lay = str(tmp_path / "saved")
    images = [("docker.io/library/%s:latest" % name, [[D("etc"), F("etc/name", name)]],
               {"Cmd": ["/" + name]}) for name in ("aa", "bb")[:n]]
    oci.docker_save_layout(lay, images)
    return oci.write_archive(lay, str(tmp_path / "save.tar"))


def test_docker_save_archive(hypeman, tmp_path):
    """index.json names each image by its full reference (containerd's
    annotation) and its tag alone; both, and docker's short names, pick it."""
    archive = docker_save(tmp_path)
    names = tarfile.open(archive).getnames()
    assert names.index("index.json") > names.index("blobs/sha256") and "manifest.json" in names
    for n, (arg, want) in enumerate([(":bb", "bb"), (":aa:latest", "aa"),
                                     (":docker.io/library/bb:latest", "bb")]):
        work = tmp_path / ("work%d" % n)
        unpacked(hypeman, archive + arg, work)
        assert (work / "rootfs" / "etc" / "name").read_text() == want
    for arg in ("", ":latest"):
        refused(hypeman, tmp_path, archive + arg, [
            'index.json in %s: 2 images answer to "latest" (the index has: '
            'docker.io/library/aa:latest, docker.io/library/bb:latest): name one, as '
            'IMAGE:NAME' % archive])
    refused(hypeman, tmp_path, archive + ":cc", [
        'no manifest tagged "cc" (the index has: docker.io/library/aa:latest, '
        'docker.io/library/bb:latest)'])
    # One image: no tag needed.
    (tmp_path / "one").mkdir()
    unpacked(hypeman, docker_save(tmp_path / "one", 1), tmp_path / "work-one")


def test_archive_read_in_place_once(hypeman, tmp_path):
    """One open of the archive, and no more bytes read from it than it holds
    (its headers once, each blob once): strace counts them."""
    if not shutil.which("strace"):
        pytest.skip("strace missing")
    lay = str(tmp_path / "big")
    oci.write_layout(lay, [[F("big", os.urandom(3 << 20))], [F("small", "s")]], {"Cmd": ["/x"]})
    archive = oci.write_archive(lay, str(tmp_path / "big.tar"))
    trace = str(tmp_path / "trace")
    p = subprocess.run(["strace", "-qq", "-e", "trace=openat,read,pread64", "-o", trace,
                        hypeman, "run", "--no-boot", "-q",
                        archive], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(trace) as f:
        calls = f.read().splitlines()
    opens = [l for l in calls if l.startswith("openat(") and '"%s"' % archive in l]
    assert len(opens) == 1, opens
    fd = re.search(r"= (\d+)$", opens[0]).group(1)
    got = sum(int(re.search(r"= (\d+)$", l).group(1)) for l in calls
              if re.match(r"p?read(64)?\(%s, " % fd, l) and re.search(r"= \d+$", l))
    size = os.path.getsize(archive)
    assert 3 << 20 < got <= size, (got, size)


def test_archive_blob_tampered_in_place(hypeman, tmp_path):
    """A byte of the layer changed inside the archive (same size; its last,
    in the record's padding, which no tar reader looks at): the digest names
    it, no disk is made and nothing extracted stays."""
    lay, descs = layout(tmp_path)
    archive = oci.write_archive(lay, str(tmp_path / "image.tar"))
    digest = descs["layers"][1]["digest"]
    member = tarfile.open(archive).getmember("blobs/sha256/" + digest[7:])
    with open(archive, "r+b") as f:
        f.seek(member.offset_data + member.size - 1)
        f.write(b"\x01")
    refused(hypeman, tmp_path, archive, ["layer 2/2: blob %s: digest mismatch" % digest])
    assert not os.path.exists(tmp_path / "work" / "rootfs" / "etc")


# ---------------------------------------------------------------- refusals


def _compressed(tmp_path, how):
    lay, _ = layout(tmp_path)
    archive = oci.write_archive(lay, str(tmp_path / "image.tar"))
    subprocess.run([how, "-q", archive], check=True)
    return archive + {"gzip": ".gz", "zstd": ".zst", "xz": ".xz"}[how]


@pytest.mark.parametrize("how, unpack", [("gzip", "gunzip -k"), ("zstd", "unzstd"),
                                          ("xz", "unxz -k")])
def test_compressed_archive_says_how_to_decompress(hypeman, tmp_path, how, unpack):
    path = _compressed(tmp_path, how)
    refused(hypeman, tmp_path, path, [
        "%s is compressed (%s): hypeman run reads an image archive uncompressed, each blob in "
        "place; decompress it first (%s %s)" % (path, how, unpack, path)])


def test_tar_of_the_directory_holding_a_layout(hypeman, tmp_path):
    layout(tmp_path)
    archive = str(tmp_path / "wrapped.tar")
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", archive, "image"], check=True)
    refused(hypeman, tmp_path, archive, [
        "%s holds a layout in its directory image/, not at its top: make the archive from "
        "inside the layout (tar -C image -cf %s .), or unpack it and give the directory"
        % (archive, archive)])


def test_docker_save_before_25(hypeman, tmp_path):
    """Docker's own format alone (manifest.json, a directory per layer)."""
    src = tmp_path / "legacy"
    (src / "0123abcd").mkdir(parents=True)
    (src / "0123abcd" / "layer.tar").write_bytes(oci.tar_bytes([F("x", "x")]))
    (src / "manifest.json").write_text(json.dumps([{"Config": "cfg.json", "RepoTags": ["x:1"],
                                                    "Layers": ["0123abcd/layer.tar"]}]))
    (src / "repositories").write_text("{}")
    archive = str(tmp_path / "old.tar")
    subprocess.run(["tar", "-C", str(src), "-cf", archive, "."], check=True)
    refused(hypeman, tmp_path, archive, [
        "%s is a `docker save` archive of Docker before 25 (manifest.json, no index.json): "
        "make an OCI image layout of it with\n    skopeo copy docker-archive:%s "
        "oci:image:latest\nand run that: hypeman run image:latest" % (archive, archive)])


HOW = ["make an OCI image layout with skopeo (apt-get install skopeo), e.g. of Debian's image "
       "on Docker Hub, then run it:\n    skopeo copy docker://debian:bookworm "
       "oci:debian:bookworm\n    hypeman run debian:bookworm\n",
       "an archive of one works too: skopeo copy ... oci-archive:FILE, or docker save -o FILE "
       "IMAGE from Docker 25 on"]


def test_directory_that_is_no_layout(hypeman, tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    refused(hypeman, tmp_path, str(rootfs), ["%s is a directory, but not an OCI image layout: "
                                             "it has no index.json" % rootfs] + HOW)


def test_tar_of_something_else(hypeman, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "hello.txt").write_text("hi\n")
    archive = str(tmp_path / "files.tar")
    subprocess.run(["tar", "-C", str(tmp_path / "src"), "-cf", archive, "."], check=True)
    refused(hypeman, tmp_path, archive, ["%s is a tar archive, but not of an OCI image layout: "
                                         "it has no index.json" % archive] + HOW)


def test_file_that_is_no_archive(hypeman, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n" * 100)
    refused(hypeman, tmp_path, str(path), [
        "%s: it is not a tar archive (" % path, "); want an OCI image layout: a directory, or "
        "an archive of one (skopeo copy ... oci-archive:FILE, docker save)"])


@pytest.mark.parametrize("kind, what", [("fifo", "a FIFO"), ("socket", "a socket"),
                                        ("device", "a character device")])
def test_no_file_refused_at_once(hypeman, tmp_path, kind, what):
    """`hypeman run <(docker save ...)` cannot seek: said, without waiting;
    so are a socket and a device."""
    import socket
    path, keep = tmp_path / kind, None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        keep = socket.socket(socket.AF_UNIX)
        keep.bind(str(path))
    else:
        path = "/dev/null"
    try:
        refused(hypeman, tmp_path, str(path), [
            "%s is %s: refusing it (an image archive must be a regular file: hypeman run reads "
            "each blob in place)" % (path, what)])
    finally:
        if keep:
            keep.close()


def test_archive_members_refused(hypeman, tmp_path):
    """A name twice (appended with tar -r), blobs that are links or missing,
    a truncated archive."""
    lay, _ = layout(tmp_path)
    archive = oci.write_archive(lay, str(tmp_path / "image.tar"))
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "index.json").write_text("{}")
    subprocess.run(["tar", "-C", str(tmp_path / "extra"), "-rf", archive, "index.json"],
                   check=True)
    refused(hypeman, tmp_path, archive, ["%s: it holds index.json twice (which one counts would "
                                         "be a guess)" % archive])

    lay, descs = layout(tmp_path / "links")
    blob = "blobs/sha256/" + descs["layers"][0]["digest"][7:]
    os.unlink(os.path.join(lay, blob))
    os.symlink("/etc/passwd", os.path.join(lay, blob))
    archive = oci.write_archive(lay, str(tmp_path / "links.tar"))
    refused(hypeman, tmp_path, archive, [
        "layer 1/2: blob %s (%s in %s) is a symlink: refusing it (the layout's files must be "
        "regular files)" % (descs["layers"][0]["digest"], blob, archive)])
    os.unlink(os.path.join(lay, blob))
    with open(os.path.join(lay, "blobs", "0"), "w") as f:	# archived before the blob
        f.write("x")
    os.link(os.path.join(lay, "blobs", "0"), os.path.join(lay, blob))
    archive = oci.write_archive(lay, str(tmp_path / "hard.tar"))
    refused(hypeman, tmp_path, archive, ["(%s in %s) is a hard link: refusing it" % (blob, archive)])
    os.unlink(os.path.join(lay, blob))
    archive = oci.write_archive(lay, str(tmp_path / "missing.tar"))
    refused(hypeman, tmp_path, archive, ["(%s in %s): not in the archive" % (blob, archive)])

    lay, _ = layout(tmp_path / "cut")
    archive = oci.write_archive(lay, str(tmp_path / "cut.tar"))
    member = tarfile.open(archive).getmember("index.json")
    os.truncate(archive, member.offset_data + 10)
    refused(hypeman, tmp_path, archive, ["%s: it is truncated (" % archive])


def test_archive_limits(hypeman, tmp_path):
    lay, _ = layout(tmp_path)
    archive = oci.write_archive(lay, str(tmp_path / "image.tar"))
    members = len(tarfile.open(archive).getnames())
    refused(hypeman, tmp_path, archive, ["%s: it has more than %d members (--max-entries raises "
                                         "the limit)" % (archive, members - 1)],
            args=["--max-entries", str(members - 1)])
    size = tarfile.open(archive).getmember("index.json").size
    refused(hypeman, tmp_path, archive, ["index.json in %s is %d B, over the 100 B limit for "
                                         "JSON documents (--max-json raises it)" % (archive, size)],
            args=["--max-json", "100"])
    refused(hypeman, tmp_path, archive, ["brings the unpacked image to", "over the 2 B limit",
                                         "(--max-size raises the limit)"],
            args=["--max-size", "2"])


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("ref, name, tag", [
    ("debian:bookworm", "debian", "bookworm"),
    ("docker.io/library/nginx:latest", "nginx", "latest"),
    ("ghcr.io/owner/app", "app", "latest"),
])
def test_registry_reference(hypeman, tmp_path, ref, name, tag):
    refused(hypeman, tmp_path, ref, [
        "%s: no such file or directory here; hypeman run does not pull images from registries\n"
        % ref,
        "make an OCI image layout with skopeo (apt-get install skopeo), then run it:\n"
        "    skopeo copy docker://%s oci:%s:%s\n    hypeman run %s:%s\n" % (ref, name, tag, name,
                                                                           tag)])


def test_missing_file_is_not_called_a_reference(hypeman, tmp_path):
    err = refused(hypeman, tmp_path, "image.tar", [
        "image.tar: No such file or directory (want an OCI image layout: a directory, or an "
        "archive of one)"])
    assert "skopeo" not in err and "registr" not in err, err


@needs_skopeo
def test_the_advice_makes_what_hypeman_run_reads(hypeman, tmp_path):
    """The advised `skopeo copy ... oci:debian:bookworm` (from a local layout
    here: no network) makes what the advised `hypeman run debian:bookworm`
    reads, in the same directory."""
    lay, _ = layout(tmp_path / "src")
    subprocess.run(["skopeo", "copy", "-q", "oci:%s:latest" % lay, "oci:debian:bookworm"],
                   cwd=str(tmp_path), check=True)
    p = run(hypeman, ["--no-boot", "-q", "debian:bookworm"], cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
