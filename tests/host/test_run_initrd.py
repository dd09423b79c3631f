"""`--initrd` checked before anything is built or booted, without booting
(--print-qemu): a file the kernel would not unpack is refused with what it
is (before the check, it booted and the kernel panicked "Initramfs
unpacking failed: invalid magic"); every compressed format the kernel's
config enables (CONFIG_RD_*) is accepted, and the modules check reads
through it. tests/vm/test_run_formats.py boots one of them.

    /usr/bin/python3 -m pytest tests/host/test_run_initrd.py    (as root)
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import F  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")

# The compressors that make each format as the kernel reads it (xz: the
# CRC32 check the kernel's decoder knows; lz4: its legacy format).
COMPRESS = {"gzip": ["gzip", "-9cn"], "bzip2": ["bzip2", "-c"],
            "lzma": ["xz", "--format=lzma", "-c"], "xz": ["xz", "--check=crc32", "-c"],
            "lzo": ["lzop", "-c"], "lz4": ["lz4", "-l", "-c"], "zstd": ["zstd", "-q", "-c"]}


@pytest.fixture
def image(tmp_path):
    lay = str(tmp_path / "image")
    oci.write_layout(lay, [[F("x", "x")]], {"Cmd": ["/x"]})
    return lay


def cpio(tmp_path, fmt):
    """A cpio archive of one file, in cpio's FMT (newc, odc)."""
    src = tmp_path / ("cpio-" + fmt)
    src.mkdir()
    (src / "init").write_text("#!/bin/sh\n")
    return subprocess.run(["cpio", "--quiet", "-o", "-H", fmt], cwd=str(src), input=b"init\n",
                          capture_output=True, check=True).stdout


def no_initrd(tmp_path, kind):
    if kind == "text":
        return b"this is a kernel command line, not an initrd\n"
    if kind == "odc":
        return cpio(tmp_path, "odc")
    if kind == "lz4-frame":
        return subprocess.run(["lz4", "-c"], input=cpio(tmp_path, "newc"), capture_output=True,
                              check=True).stdout
    if kind == "gzip-text":
        return subprocess.run(["gzip", "-c"], input=b"text\n" * 100, capture_output=True,
                              check=True).stdout
    return {"empty": b"", "zeros": bytes(4096), "misaligned": b"\0\0" + cpio(tmp_path, "newc")}[kind]


@pytest.mark.parametrize("kind, why", [
    ("text", "it starts with 74 68 69 73 20 69 73 20, which is neither a cpio archive (newc) "
             "nor data compressed with gzip, bzip2, lzma, xz, lzo, lz4, zstd"),
    ("odc", "it is an old (odc) cpio archive; the kernel reads newc (cpio -H newc)"),
    ("lz4-frame", "it is lz4 (frame format); the kernel reads lz4's legacy format only (lz4 -l)"),
    ("gzip-text", "its gzip data holds no cpio archive ("),
    ("misaligned", "its cpio archive starts at byte 2, not at a multiple of 4"),
    ("empty", "it is empty"),
    ("zeros", "it holds only zero bytes"),
])
def test_what_is_no_initrd_is_refused_before_anything(hypeman, kernel, image, tmp_path, kind,
                                                      why):
    if kind == "lz4-frame" and not shutil.which("lz4"):
        pytest.skip("lz4 missing")
    bad = tmp_path / ("initrd-" + kind)
    bad.write_bytes(no_initrd(tmp_path, kind))
    work = tmp_path / "work"
    p = run(hypeman, ["--print-qemu", "--keep", str(work), image], kernel=kernel[0],
            initrd=str(bad))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "hypeman: %s is not an initrd: %s" % (bad, why) in p.stderr, p.stderr
    assert "; the kernel would not boot with it\nhypeman: build one with:\n    " in p.stderr
    assert "--kernel-modules %s\n" % os.path.realpath(kernel[1]) in p.stderr, p.stderr
    assert "reading image" not in p.stderr and p.stdout == "" and imgs(work) == []


def kernel_formats(kernel):
    """The initramfs formats the kernel's config enables (CONFIG_RD_*=y)."""
    config = os.path.join(os.path.dirname(kernel[0]), "config-" + kernel[2])
    with open(config) as f:
        return {m.lower() for m in re.findall(r"^CONFIG_RD_(\w+)=y$", f.read(), re.M)}


def test_every_format_of_the_kernel_is_accepted(hypeman, kernel, initrd, image, tmp_path):
    """The tool's list is the kernel's (CONFIG_RD_*), and the test initrd in
    each format passes, its modules found through the compression (the
    check would refuse an initrd without them)."""
    formats = kernel_formats(kernel)
    p = run(hypeman, ["--print-qemu", image], kernel=kernel[0], initrd="/etc/hostname")
    named = re.search(r"data compressed with ([\w, ]+);", p.stderr).group(1).split(", ")
    assert formats == set(named), (formats, named)
    tried = []
    for fmt in sorted(formats):
        if not shutil.which(COMPRESS[fmt][0]):
            continue	# lzop is not installed everywhere
        path = hostrun.recompressed(initrd, COMPRESS[fmt], tmp_path / ("initrd." + fmt))
        p = run(hypeman, ["--print-qemu", image], kernel=kernel[0], initrd=path)
        assert p.returncode == 0, (fmt, p.stderr)
        assert hostrun.printed_argv(p)[hostrun.printed_argv(p).index("-initrd") + 1] == path
        tried.append(fmt)
    assert {"gzip", "xz", "zstd", "lz4"} <= set(tried), tried


def test_format_the_kernel_was_built_without(hypeman, kernel, initrd, image, tmp_path):
    """Debian's kernel, with a config beside it that leaves out zstd (as a
    kernel built with fewer CONFIG_RD_* would): a zstd initrd is refused
    before the boot, which would stop at "compression method zstd not
    configured"; a gzip one still passes."""
    if not shutil.which("zstd"):
        pytest.skip("zstd missing")
    boot = tmp_path / "boot"
    boot.mkdir()
    vmlinuz = boot / os.path.basename(kernel[0])
    shutil.copy(kernel[0], vmlinuz)
    config = os.path.join(os.path.dirname(kernel[0]), "config-" + kernel[2])
    with open(config) as f:
        text = f.read().replace("CONFIG_RD_ZSTD=y", "# CONFIG_RD_ZSTD is not set")
    (boot / ("config-" + kernel[2])).write_text(text)
    zst = hostrun.recompressed(initrd, COMPRESS["zstd"], tmp_path / "initrd.zst")
    p = run(hypeman, ["--print-qemu", image], kernel=str(vmlinuz), initrd=zst)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "hypeman: %s is compressed with zstd, which the kernel %s cannot unpack (its config " \
        "has no CONFIG_RD_ZSTD=y; it has gzip, bzip2, lzma, xz, lzo, lz4): the boot would stop " \
        "at \"compression method zstd not configured\"" % (zst, vmlinuz) in p.stderr, p.stderr
    assert "reading image" not in p.stderr
    p = run(hypeman, ["--print-qemu", image], kernel=str(vmlinuz), initrd=initrd)
    assert p.returncode == 0, p.stderr
