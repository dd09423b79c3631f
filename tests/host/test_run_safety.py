"""`hypeman run` runs as root on layouts other people wrote: what it must
never do, each checked without booting a VM.

  - run or boot a file found relative to the current directory;
  - use blob bytes it has not verified (a blob rewritten in place while the
    tool runs);
  - hang on a FIFO (or read a socket, a device, a symlink) in the layout;
  - unpack without limits (sparse and gzip bombs, entry floods, huge JSON
    documents, a full work directory);
  - expose the image's set-id files and device nodes to other users.

    /usr/bin/python3 -m pytest tests/host/test_run_safety.py   (as root)
"""

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun, oci  # noqa: E402
from lib.hostrun import imgs, run, hypeman  # noqa: E402,F401
from lib.oci import D, F  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")

SMALL = [D("etc"), F("etc/hello", "hello\n")]


def layout_with(tmp_path, layers, name="image", config=None):
    lay = str(tmp_path / name)
    return lay, oci.write_layout(lay, layers, config or {"Cmd": ["/bin/true"]})


# ---------------------------------------------------------------- 1. the cwd

def test_nothing_runs_or_boots_from_the_cwd(hypeman, tmp_path):
    """Without --kernel, the tool used to run ./tests/lib/kernel.py (as root)
    and boot ./out/initrd. A planted copy of both must be ignored."""
    plant = tmp_path / "plant"
    (plant / "tests" / "lib").mkdir(parents=True)
    (plant / "out").mkdir()
    marker = tmp_path / "planted-code-ran"
    (plant / "tests" / "lib" / "kernel.py").write_text(
        "import sys\nopen(%r, 'w').write('ran')\nprint('/boot/vmlinuz')\n" % str(marker))
    (plant / "out" / "initrd").write_bytes(b"planted initrd")
    lay, _ = layout_with(tmp_path, [SMALL])
    empty_cache = tmp_path / "cache"
    empty_cache.mkdir()
    p = run(hypeman, [lay], cwd=str(plant), timeout=60,
            env={"HYPEMAN_CACHE": str(empty_cache)},
            unset=("HYPEMAN_KERNEL", "HYPEMAN_INITRD"))
    assert not marker.exists(), "the planted tests/lib/kernel.py ran"
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "no kernel" in p.stderr and "tests/lib/kernel.py" in p.stderr, p.stderr
    assert str(empty_cache) in p.stderr, p.stderr
    assert "booting" not in p.stderr

    # With a kernel given, the initrd is looked up next to the binary only
    # (a copy, alone in its directory).
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy(hypeman, bindir / "hypeman")
    hypeman = str(bindir / "hypeman")
    kernel = tmp_path / "vmlinuz"
    with open(kernel, "wb") as f:		# the smallest thing that passes for a bzImage
        f.write(b"\0" * 0x202 + b"HdrS" + b"\0" * 8 + b"\x10\x00" + b"\0" * 0x1000)
    p = run(hypeman, ["--kernel", str(kernel), lay], cwd=str(plant), timeout=60,
            unset=("HYPEMAN_KERNEL", "HYPEMAN_INITRD"))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "initrd" in p.stderr and "%s/out/initrd" % plant not in p.stderr, p.stderr
    assert "booting" not in p.stderr
    assert os.path.dirname(hypeman) in p.stderr, p.stderr


def test_relative_cache_refused(hypeman, tmp_path):
    lay, _ = layout_with(tmp_path, [SMALL])
    p = run(hypeman, [lay], cwd=str(tmp_path), env={"HYPEMAN_CACHE": "cache"},
            unset=("HYPEMAN_KERNEL", "HYPEMAN_INITRD"), timeout=60)
    assert p.returncode == 2 and "HYPEMAN_CACHE=cache is not an absolute path" in p.stderr, \
        p.stderr


# ---------------------------------------------------------------- 2. read once

def test_blob_rewritten_during_the_run(hypeman, tmp_path):
    """Layer 2 is rewritten in place (same size, other files) while the tool
    is held at the start of layer 1 (on its second stderr line). It reads
    each blob once, hashing as it extracts: the rewrite is caught, nothing of
    it stays, no disk is made."""
    good = [D("etc"), F("etc/good.txt", "g" * 100)]
    evil = [D("etc"), F("etc/evil.txt", "e" * 100)]
    lay, descs = layout_with(tmp_path, [SMALL, good])
    path = oci.blob_path(lay, descs["layers"][1])
    evil_tar = oci.tar_bytes(evil)
    assert len(evil_tar) == os.path.getsize(path)
    work = tmp_path / "work"
    g = hostrun.Gated([hypeman, "run", "--no-boot", "--keep", str(work), lay],
                      "hypeman: reading image %s\n" % lay)
    try:
        g.wait_blocked()		# at "applying layer 1/2": all blobs checked before, on main
        with open(path, "r+b") as f:
            f.write(evil_tar)
        rc, err = g.release()
    finally:
        g.kill()
    assert rc == 1, (rc, err)
    digest = descs["layers"][1]["digest"]
    assert digest in err and "digest mismatch" in err, err
    assert imgs(work) == [], err
    assert not os.path.exists(work / "rootfs" / "etc" / "evil.txt")
    assert not os.path.exists(work / "rootfs" / "etc"), "unverified tree kept"


# ---------------------------------------------------------------- 3. non-files

def _replace(path, kind):
    os.unlink(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    elif kind == "symlink":
        os.symlink("/etc/hostname", path)
    elif kind == "socket":
        import socket
        s = socket.socket(socket.AF_UNIX)
        cwd = os.getcwd()
        os.chdir(os.path.dirname(path))	# a blob's path is too long for bind()
        try:
            s.bind(os.path.basename(path))
        finally:
            os.chdir(cwd)
        return s
    return None


@pytest.mark.parametrize("kind, words", [
    ("fifo", "is a FIFO"), ("chardev", "is a character device"),
    ("symlink", "is a symlink"), ("socket", "is a socket"),
])
@pytest.mark.parametrize("which", ["index.json", "layer"])
def test_non_regular_files_refused_at_once(hypeman, tmp_path, kind, words, which):
    lay, descs = layout_with(tmp_path, [SMALL])
    path = os.path.join(lay, "index.json") if which == "index.json" \
        else oci.blob_path(lay, descs["layers"][0])
    keep = _replace(path, kind)
    work = tmp_path / "work"
    try:
        p = run(hypeman, ["--no-boot", "--keep", str(work), lay], timeout=30)
    finally:
        if keep:
            keep.close()
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert words in p.stderr and path in p.stderr, p.stderr
    if which == "layer":
        assert descs["layers"][0]["digest"] in p.stderr
    assert imgs(work) == []


# ---------------------------------------------------------------- 4. limits

def _sparse_layer(tmp_path, size):
    """A GNU tar layer holding one sparse file of size bytes (a few kB)."""
    src = tmp_path / "sparse-src"
    src.mkdir()
    with open(src / "hole", "wb") as f:
        f.truncate(size)
        f.seek(size // 2)
        f.write(b"data in the middle")
    out = tmp_path / "sparse.tar"
    subprocess.run(["tar", "-C", str(src), "--sparse", "--numeric-owner", "-cf", str(out),
                    "hole"], check=True)
    return out.read_bytes()


def test_sparse_bomb_refused_by_default(hypeman, tmp_path):
    """A few kB of layer holding an 8 GiB sparse file: over the default 4 GiB."""
    blob = _sparse_layer(tmp_path, 8 << 30)
    assert len(blob) < 64 << 10
    lay, descs = layout_with(tmp_path, [blob])
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay], timeout=60)
    assert p.returncode == 1, p.stderr
    assert descs["layers"][0]["digest"] in p.stderr and "hole" in p.stderr, p.stderr
    assert "8.59 GB" in p.stderr and "4.29 GB limit" in p.stderr, p.stderr
    assert "--max-size" in p.stderr
    assert imgs(work) == [] and not os.path.exists(work / "rootfs")


def test_sparse_file_within_the_limit_stays_sparse(hypeman, tmp_path):
    blob = _sparse_layer(tmp_path, 64 << 20)
    lay, _ = layout_with(tmp_path, [blob])
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--max-size", "65M", lay], timeout=120)
    assert p.returncode == 0, p.stderr
    st = os.stat(work / "rootfs" / "hole")
    assert st.st_size == 64 << 20 and st.st_blocks * 512 < 1 << 20
    with open(work / "rootfs" / "hole", "rb") as f:
        f.seek(32 << 20)
        assert f.read(18) == b"data in the middle"
    # The same file counts at its full size: 64 MiB is over 63M.
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--max-size", "63M", lay], timeout=60)
    assert p.returncode == 1 and "over the 66.1 MB limit" in p.stderr, p.stderr


def test_gzip_bomb_refused(hypeman, tmp_path):
    """A 256 KiB gzip that unpacks to 256 MB, with --max-size 64M."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        ti = tarfile.TarInfo("zeros")
        ti.size = 256 << 20
        t.addfile(ti, io.BytesIO(bytes(ti.size)))
    lay, descs = layout_with(tmp_path, [oci.compress(raw.getvalue(), "gzip")])
    assert descs["layers"][0]["size"] < 1 << 20
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--max-size", "64M", lay], timeout=60)
    assert p.returncode == 1, p.stderr
    assert "zeros" in p.stderr and descs["layers"][0]["digest"] in p.stderr, p.stderr
    assert "over the 67.1 MB limit" in p.stderr, p.stderr
    assert imgs(work) == [] and not os.path.exists(work / "rootfs")


def test_entry_flood_refused(hypeman, tmp_path):
    flood = [D("d")] + [F("d/%05d" % i) for i in range(3000)]
    lay, descs = layout_with(tmp_path, [(flood, "gzip")])
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--max-entries", "1000", lay])
    assert p.returncode == 1, p.stderr
    assert "more than 1000 entries" in p.stderr and "--max-entries" in p.stderr, p.stderr
    assert descs["layers"][0]["digest"] in p.stderr
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--max-entries", "3001", lay])
    assert p.returncode == 0, p.stderr


def _fat_config(size):
    """An image config of about size bytes: the bulk in a field the tool
    ignores, made of the smallest JSON values (the worst case for a tree)."""
    n = (size - 200) // 4		# "[], " each
    return {"Cmd": ["/bin/true"], "Labels": None, "x-bulk": [[]] * n}


def test_json_documents_are_capped(hypeman, tmp_path):
    lay, descs = layout_with(tmp_path, [SMALL], config=_fat_config(5 << 20))
    p = run(hypeman, ["--no-boot", lay])
    assert p.returncode == 1, p.stderr
    assert descs["config"]["digest"] in p.stderr and "--max-json" in p.stderr, p.stderr
    assert "over the 4.2 MB limit" in p.stderr, p.stderr
    p = run(hypeman, ["--no-boot", "--max-json", "6M", lay])
    assert p.returncode == 0, p.stderr
    # index.json too.
    with open(os.path.join(lay, "index.json"), "a") as f:
        f.write(" " * (5 << 20))
    p = run(hypeman, ["--no-boot", lay])
    assert p.returncode == 1 and "index.json" in p.stderr and "--max-json" in p.stderr, p.stderr


def test_json_memory_stays_near_the_document(hypeman, tmp_path):
    """A 4 MB config of tiny arrays: peak memory stays near the document's
    size (the tool keeps only the fields it uses), not 20 times it. The layer
    is not a tar, so the run ends right after the JSON documents, before any
    child process (mke2fs) could count in the peak."""
    lay, descs = layout_with(tmp_path, [b"not a tar" * 100], config=_fat_config(4_000_000))
    assert descs["config"]["size"] > 3_900_000
    # Started from a fresh small python: a child's peak counts its parent's
    # memory at the fork, and this test process is large.
    measure = ("import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n"
               "_, st, ru = os.wait4(pid, 0)\nprint(os.waitstatus_to_exitcode(st), ru.ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", measure, hypeman, "run", "--no-boot", "-q", lay],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rc, maxrss = map(int, p.stdout.split())
    assert rc == 1 and "not a tar archive" in p.stderr, p.stderr
    peak_mb = maxrss / 1024
    assert peak_mb < 24, "peak RSS %.1f MB for a 4 MB document" % peak_mb
    print("peak RSS %.1f MB" % peak_mb)


def test_full_work_directory_refused_before_writing(hypeman, tmp_path):
    """A 40 MB file into a 32 MiB tmpfs: refused by the free-space check,
    before any byte of it is written."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(small)],
                   check=True)
    try:
        lay, descs = layout_with(tmp_path, [[F("big", os.urandom(40 << 20))]])
        p = run(hypeman, ["--no-boot", lay], env={"TMPDIR": str(small)}, timeout=60)
        assert p.returncode == 1, p.stderr
        assert "big needs 41.9 MB" in p.stderr and str(small) in p.stderr, p.stderr
        assert descs["layers"][0]["digest"] in p.stderr
        assert os.listdir(small) == [], "work directory left behind"
    finally:
        subprocess.run(["umount", str(small)], check=True)


# ---------------------------------------------------------------- 5. --keep

def test_keep_directory_is_private(hypeman, tmp_path):
    """The work directory holds the image's set-id files and device nodes:
    --keep makes it 0700 and refuses one that others can write."""
    setuid = [D("bin"), F("bin/su", "#!/bin/sh\n", mode=0o4755),
              oci.node("dev-null", "chr", 0o666, dev=(1, 3))]
    lay, _ = layout_with(tmp_path, [setuid])
    work = tmp_path / "new"
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(work).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(work / "rootfs" / "bin" / "su").st_mode) == 0o4755

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    p = run(hypeman, ["--no-boot", "--keep", str(shared), lay])
    assert p.returncode == 2, p.stderr
    assert str(shared) in p.stderr and "writable by other users" in p.stderr, p.stderr
    assert os.listdir(shared) == []

    readable = tmp_path / "readable"
    readable.mkdir()
    os.chmod(readable, 0o755)
    p = run(hypeman, ["--no-boot", "--keep", str(readable), lay])
    assert p.returncode == 0, p.stderr
    assert "made it 0700" in p.stderr
    assert stat.S_IMODE(os.stat(readable).st_mode) == 0o700


def test_temporary_work_directory_is_private_and_removed(hypeman, tmp_path):
    """Seen while the tool is held at its first layer: the work directory and
    the tree are 0700; gone at the end."""
    lay, _ = layout_with(tmp_path, [SMALL])
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    g = hostrun.Gated([hypeman, "run", "--no-boot", lay], "hypeman: reading image %s\n" % lay,
                      env={"TMPDIR": str(tmp)})
    try:
        g.wait_blocked()
        modes = [(n, stat.S_IMODE(os.stat(tmp / n).st_mode)) for n in os.listdir(tmp)]
        rootfs = stat.S_IMODE(os.stat(tmp / modes[0][0] / "rootfs").st_mode) if modes else None
        rc, err = g.release()
    finally:
        g.kill()
    assert rc == 0, err
    assert len(modes) == 1 and modes[0][1] == 0o700, modes
    assert rootfs == 0o700		# the image's "/" mode comes after the last layer
    assert os.listdir(tmp) == []
