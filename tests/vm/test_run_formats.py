"""`hypeman run` boots images and initrds in the forms users have them:
an OCI archive made by skopeo (Debian's, from a local layout: no network),
one made with tar from a layout directory, and an initrd compressed in a
format other than build.sh's gzip (lz4's legacy format, which the check
accepts because the kernel reads it). Each boots to the program's exit
code. What is refused, and the trees, are tested without booting in
tests/host/.

    /usr/bin/python3 -m pytest tests/vm/test_run_formats.py    (as root)
"""

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun, images, oci  # noqa: E402
from lib.hostrun import run, hypeman  # noqa: E402,F401

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root"),
              pytest.mark.vm]

SCRIPT = "echo hello from the archive; cat /etc/os-name; exit 7"


@pytest.fixture
def layout(tmp_path, arch):
    """A busybox image (an image index, one manifest for the host's platform)."""
    root = images.rootfs(tmp_path / "root", files={"/etc/os-name": "busybox image\n"}, arch=arch)
    lay = str(tmp_path / "image")
    oci.write_multiarch_layout(lay, {arch: root}, {"Cmd": ["/bin/sh", "-c", SCRIPT],
                                                     "Env": ["PATH=/bin"]})
    return lay


def boots(hypeman, kernel, initrd, image):
    p = run(hypeman, ["--timeout", "600", image], kernel=kernel[0], initrd=initrd)
    assert p.returncode == 7, "rc %d\n%s\n%s" % (p.returncode, p.stderr, p.stdout[-3000:])
    assert "hello from the archive" in p.stdout and "busybox image" in p.stdout
    assert 'HYPEMAN-EXIT code=7 message="exit code 7"' in p.stdout
    return p


@pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo missing")
def test_skopeo_archive_boots(hypeman, kernel, initrd, layout, tmp_path):
    archive = str(tmp_path / "image.tar")
    subprocess.run(["skopeo", "copy", "-q", "oci:%s:latest" % layout,
                    "oci-archive:%s:latest" % archive], check=True)
    p = boots(hypeman, kernel, initrd, archive)
    assert "hypeman: reading image %s\n" % archive in p.stderr


def test_tar_of_a_layout_boots(hypeman, kernel, initrd, layout, tmp_path):
    archive = str(tmp_path / "image.tar")
    subprocess.run(["tar", "-C", layout, "-cf", archive, "."], check=True)
    p = boots(hypeman, kernel, initrd, archive + ":latest")
    assert "hypeman: reading image %s:latest\n" % archive in p.stderr


@pytest.mark.skipif(not shutil.which("lz4"), reason="lz4 missing")
def test_lz4_initrd_boots(hypeman, kernel, initrd, layout, tmp_path):
    """The test initrd with its first archive in lz4's legacy format (what
    `lz4 -l` writes) and build.sh's appended archives as they were."""
    lz4 = hostrun.recompressed(initrd, ["lz4", "-l", "-c"], tmp_path / "initrd.lz4")
    boots(hypeman, kernel, lz4, layout)
