"""`hypeman run` reading an image without booting (--no-boot): tampered
blobs and configs, layouts and layers that are not what they say, usage
errors, `..` in a member's name, errors that say what happened, the
progress of a long step, the ext4 rootfs disk, and an initrd that lacks the
kernel's modules; each refused before any disk is built.

    /usr/bin/python3 -m pytest tests/host/test_run_image.py   (as root)
"""

import gzip
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import disks, hostrun, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import F  # noqa: E402
from lib.runimages import make_layout, whiteout_image  # noqa: E402

REPO = hostrun.REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")


def test_initrd_without_the_kernels_modules_caught_before_boot(hypeman, kernel, tmp_path):
    """The plain initrd with Debian's kernel (virtio_blk and ext4 are modules
    there): refused before anything is built or booted, with the command
    that makes the right initrd."""
    plain = os.environ.get("HYPEMAN_PLAIN_INITRD") or os.path.join(REPO, "out", "initrd")
    if not os.path.exists(plain):
        pytest.skip("plain initrd not built: %s" % plain)
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    work = tmp_path / "work"
    p = run(hypeman, ["--keep", str(work), layout], kernel=kernel[0], initrd=plain)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "%s has no kernel modules for %s" % (plain, kernel[2]) in p.stderr, p.stderr
    assert "virtio_blk" in p.stderr and "ext4" in p.stderr
    assert "build.sh --kernel-modules %s\n" % os.path.realpath(kernel[1]) in p.stderr, p.stderr
    assert "out/initrd-%s" % kernel[2] in p.stderr
    assert "booting" not in p.stderr and "reading image" not in p.stderr
    assert imgs(work) == []


def test_tampered_blob_refused_before_any_disk(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    descs = whiteout_image(layout)
    digest = descs["layers"][1]["digest"]
    path = os.path.join(layout, "blobs", "sha256", digest.split(":")[1])
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x01                   # same size, other content
    with open(path, "wb") as f:
        f.write(data)
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1, p.stderr
    assert digest in p.stderr and "digest mismatch" in p.stderr, p.stderr
    assert imgs(work) == []
    assert not os.path.exists(work / "rootfs" / "bin")   # nothing extracted either

    # A size that disagrees with the descriptor: refused the same way.
    with open(path, "ab") as f:
        f.write(b"x")
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1 and digest in p.stderr, p.stderr
    assert imgs(work) == []


def test_tampered_config_refused(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    descs = whiteout_image(layout)
    digest = descs["config"]["digest"]
    path = os.path.join(layout, "blobs", "sha256", digest.split(":")[1])
    data = open(path, "rb").read().replace(b"FOO=image", b"FOO=imagf")
    with open(path, "wb") as f:
        f.write(data)
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1 and digest in p.stderr, p.stderr
    assert imgs(work) == []


@pytest.mark.parametrize("args, rc, words", [
    (["--init-mode=bogus"], 2, ["--init-mode", "bogus", "auto, exec or systemd"]),
    (["--init-mode", "Exec"], 2, ["--init-mode", "Exec"]),
    (["--volume", "VOLDISK"], 2, ["vol.img", "no mount path"]),
    (["--volume", "VOLDISK:"], 2, ["no mount path"]),
    (["--volume", "VOLDISK:data"], 2, ["not absolute"]),
    (["--volume", "VOLDISK:/a/../b"], 2, [".."]),
    (["--volume", "VOLDISK:/"], 2, ['"/"']),
    (["--volume", "VOLDISK:/data:rx"], 2, ["unknown mode", "rx"]),
    (["--volume", "/nonexistent.img:/data"], 2, ["/nonexistent.img"]),
    (["--env", "NOEQUALS"], 2, ["NOEQUALS", "KEY=VALUE"]),
    (["--env", "=v"], 2, ["empty variable name"]),
    (["--bogus-option"], 2, ["unknown option", "--bogus-option"]),
])
def test_usage_errors(hypeman, tmp_path, args, rc, words):
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    vol = disks.empty_ext4(str(tmp_path / "vol.img"), 8)
    args = [a.replace("VOLDISK", vol) for a in args]
    p = run(hypeman, ["--no-boot", "--keep", str(tmp_path / "work")] + args + [layout])
    assert p.returncode == rc, (p.returncode, p.stderr)
    for w in words:
        assert w in p.stderr, (w, p.stderr)
    assert imgs(tmp_path / "work") == []


def test_layout_errors(hypeman, tmp_path):
    """(Directories that are no layout, names that are registry references:
    tests/host/test_run_archive.py.)"""
    empty = tmp_path / "empty"
    empty.mkdir()
    p = run(hypeman, ["--no-boot", str(empty)])
    assert p.returncode == 1
    assert "%s is a directory, but not an OCI image layout: it has no index.json" % empty \
        in p.stderr, p.stderr

    (empty / "index.json").write_text('{"schemaVersion": 2, "manifests": [')
    p = run(hypeman, ["--no-boot", str(empty)])
    assert p.returncode == 1
    assert "index.json" in p.stderr and "malformed JSON" in p.stderr, p.stderr

    p = run(hypeman, ["--no-boot", str(tmp_path / "nonexistent")])
    assert p.returncode == 1, p.stderr
    assert "%s: No such file or directory (want an OCI image layout" % (tmp_path / "nonexistent") \
        in p.stderr, p.stderr

    # A tag that is not in the index.
    layout = str(tmp_path / "image")
    whiteout_image(layout, env=("PATH=/bin",))
    p = run(hypeman, ["--no-boot", layout + ":v2"])
    assert p.returncode == 1 and 'no manifest tagged "v2"' in p.stderr, p.stderr
    p = run(hypeman, ["--no-boot", "-q", layout + ":latest"])
    assert p.returncode == 0, p.stderr


def test_layer_not_a_tar(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    descs = make_layout(layout, [b"this is not a tar archive\n" * 40], {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1
    assert "not a tar archive" in p.stderr and descs["layers"][0]["digest"] in p.stderr, p.stderr
    assert imgs(work) == []

    # gzip data that is not a tar inside
    layout2 = str(tmp_path / "image2")
    make_layout(layout2, [gzip.compress(b"plain text, gzipped\n" * 50)], {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout2])
    assert p.returncode == 1, p.stderr
    assert "not a tar archive (gzip data holds no tar header)" in p.stderr, p.stderr
    assert imgs(work) == []


def test_errors_say_what_happened(hypeman, tmp_path):
    """Raw tool errors come out as what happened and what to do."""
    work = tmp_path / "work"
    # config.json over the 1 MiB the init accepts: said before any boot.
    lay = str(tmp_path / "big-env")
    oci.write_layout(lay, [[F("x", "x")]], {"Cmd": ["/x"], "Env": ["BIG=" + "x" * (1 << 20)]})
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert "config.json would be 1.0 MB, over the 1 MiB the init accepts" in p.stderr, p.stderr
    assert "config.img" not in imgs(work)
    # A layer cut inside a file's data (its digest matches what is there).
    lay = str(tmp_path / "truncated")
    descs = oci.write_layout(lay, [oci.tar_bytes([F("data", os.urandom(10000))])[:3000]],
                             {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert "layer 1/1 (%s) is truncated" % descs["layers"][0]["digest"] in p.stderr, p.stderr
    # Kernels that are not there, or not kernels.
    p = run(hypeman, ["--kernel", "/nonexistent/vmlinuz", lay])
    assert p.returncode == 2, p.stderr
    assert "kernel /nonexistent/vmlinuz: No such file or directory" in p.stderr, p.stderr
    p = run(hypeman, ["--kernel", "/etc/hostname", lay])
    assert p.returncode == 2, p.stderr
    assert "kernel /etc/hostname: not an x86 Linux kernel image" in p.stderr, p.stderr


def test_progress_of_a_long_step(hypeman, tmp_path):
    """A step that lasts over 2 s shows its progress every 2 s (lines, when
    stderr is not a terminal). The tool is held 2.5 s on the line that starts
    a layer (its second stderr line), so that the step does last that long."""
    lay = str(tmp_path / "image")
    oci.write_layout(lay, [[F("big", os.urandom(4 << 20))]], {"Cmd": ["/x"]})
    g = hostrun.Gated([hypeman, "run", "--no-boot", lay], "hypeman: reading image %s\n" % lay)
    try:
        g.wait_blocked()
        time.sleep(2.5)			# the step's length, not a wait for an event
        rc, err = g.release()
    finally:
        g.kill()
    assert rc == 0, err
    assert re.search(r"^hypeman: layer 1/1: +\d+% \([\d.]+ [kM]B of 4.2 MB\), \d s$", err, re.M), err
    assert re.search(r"^hypeman: applied layer 1/1: 1 entry in [2-9]\.\d s$", err, re.M), err
    assert re.search(r"^hypeman: making the rootfs disk \(\w+, [\d.]+ MB of files, 1 entry\)$",
                     err, re.M), err


def test_dotdot_member_refused(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    make_layout(layout, [([("etc", "dir", None, 0o755),
                           ("etc/../../escape.txt", "file", "x", 0o644)], False)],
                {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1 and "refusing entry" in p.stderr and ".." in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "escape.txt")
    assert not os.path.exists(work / "escape.txt")
    assert imgs(work) == []


def test_rootfs_ext4(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--rootfs-fs=ext4", layout])
    assert p.returncode == 0, p.stderr
    assert sorted(disks.ls_ext4(str(work / "rootfs.img"), "/dir")) == ["new.txt"]
    assert disks.stat_ext4(str(work / "rootfs.img"), "/etc/a.txt") is None
