"""The plain initrd (./build.sh without options: no modules, no agent) is
small and holds what the kernel and the rescue path need, for each
architecture (multiarch).

Run: /usr/bin/python3 -m pytest tests/host/test_plain_initrd.py -q
"""

import gzip
import os
import posixpath
import stat

import pytest

pytestmark = pytest.mark.multiarch

PLAIN_INITRD_MAX = 200 * 1024


def read_newc(path):
    """{name: (mode, data)} of a (gzip-compressed or plain) newc cpio
    archive, or of several concatenated ones. Names are as stored
    ("init", "bin/sh"); a symlink's data is its target."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)       # also handles concatenated members
    entries, i = {}, 0
    while i < len(raw):
        if raw[i] == 0:                  # padding between archives
            i += 1
            continue
        magic = raw[i:i + 6]
        assert magic in (b"070701", b"070702"), \
            "%s: no newc header at offset %d (%r)" % (path, i, magic)
        fields = [int(raw[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
        mode, filesize, namesize = fields[1], fields[6], fields[11]
        name_end = i + 110 + namesize
        name = raw[i + 110:name_end - 1].decode("utf-8", "surrogateescape")
        data_start = name_end + (-name_end % 4)
        data_end = data_start + filesize
        i = data_end + (-data_end % 4)
        name = posixpath.normpath("/" + name).lstrip("/")
        if name and name != "TRAILER!!!":
            entries[name] = (mode, raw[data_start:data_end])
    return entries


def resolve(entries, name, depth=0):
    """Follow symlinks inside the archive; the final (name, mode) or None."""
    if depth > 10 or name not in entries:
        return None
    mode, data = entries[name]
    if stat.S_ISLNK(mode):
        target = data.decode()
        base = "" if target.startswith("/") else posixpath.dirname(name)
        return resolve(entries, posixpath.normpath(
            posixpath.join(base, target.lstrip("/"))).lstrip("/"), depth + 1)
    return name, mode


def assert_executable(entries, name):
    r = resolve(entries, name)
    assert r is not None, "%s missing or a dangling symlink in the initrd" % name
    target, mode = r
    assert stat.S_ISREG(mode) and mode & 0o111, \
        "%s -> %s is not an executable regular file (mode %o)" % (name, target, mode)


def test_plain_initrd_small_with_init_and_shell(plain_initrd, arch):
    """The initrd built without options is at most 200 KiB, and its cpio
    holds /init, bin/sh and bin/busybox (executable, symlinks resolved
    inside the archive, a static binary for ARCH) and no kernel modules."""
    size = os.path.getsize(plain_initrd)
    assert size <= PLAIN_INITRD_MAX, "%s is %d bytes (> %d)" % (
        plain_initrd, size, PLAIN_INITRD_MAX)
    entries = read_newc(plain_initrd)
    for name in ("init", "bin/sh", "bin/busybox"):
        assert_executable(entries, name)
    assert stat.S_ISREG(entries["bin/busybox"][0])
    elf = entries["bin/busybox"][1]
    e_machine = {"x86_64": 62, "aarch64": 183}[arch]      # EM_X86_64, EM_AARCH64
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == e_machine, \
        "bin/busybox is not an %s executable" % arch
    modules = sorted(n for n in entries if n == "lib/modules" or n.startswith("lib/modules/"))
    assert not modules, "plain initrd carries modules: %s" % modules[:5]
