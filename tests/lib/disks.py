"""Disk images for VM tests, made and read with e2fsprogs / erofs-utils.

No loop mounts, no root needed for the images themselves:
  ext4_from_dir(path, srcdir, size_mb)   mke2fs -t ext4 -d srcdir
  empty_ext4(path, size_mb)
  erofs_from_dir(path, srcdir)           mkfs.erofs
  config_disk(path, config)              ext4 holding /config.json
  read_file_from_ext4(img, path)         debugfs cat (None when missing)
  readlink_ext4(img, path), ls_ext4(img, dir), stat_ext4(img, path)
  e2fsck_clean(img)                      e2fsck -fn + journal needs_recovery
  sha256(img)                            of the whole image (was it written?)
  fs_info(img)                           dumpe2fs -h as a dict

Reading uses debugfs, which opens the image read-only and does NOT replay
the journal: data that only reached the journal (the guest did not unmount
cleanly) is invisible here. Pair such reads with e2fsck_clean().
Images are sparse raw files; don't read them while a VM writes to them.
"""

import hashlib
import json
import os
import posixpath
import subprocess

MiB = 1024 * 1024


def _run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (rc=%d):\n%s%s" % (
            " ".join(map(str, argv)), p.returncode,
            p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    return p


def _sparse_file(path, size_mb):
    with open(path, "wb") as f:
        f.truncate(int(size_mb * MiB))


def _mke2fs(path, size_mb, srcdir=None, label=None, uuid=None):
    _sparse_file(path, size_mb)
    # Initialise inode tables and journal now, so the guest's ext4lazyinit
    # thread does not write in the background during tests.
    argv = ["mke2fs", "-t", "ext4", "-F", "-q",
            "-E", "lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0"]
    if srcdir is not None:
        argv += ["-d", str(srcdir)]
    if label:
        argv += ["-L", label]
    if uuid:
        argv += ["-U", uuid]
    _run(argv + [str(path)])
    return str(path)


def ext4_from_dir(path, srcdir, size_mb=64, label=None, uuid=None):
    """ext4 image at `path` of size_mb MiB, populated from srcdir (owners,
    modes, symlinks, device nodes as they are in srcdir)."""
    return _mke2fs(path, size_mb, srcdir=srcdir, label=label, uuid=uuid)


def empty_ext4(path, size_mb=64, label=None, uuid=None):
    """Empty ext4 image (e.g. the overlay disk vdb, an rw volume)."""
    return _mke2fs(path, size_mb, label=label, uuid=uuid)


def erofs_from_dir(path, srcdir, compress=None, uuid=None):
    """erofs image from srcdir; compress e.g. "lz4" or "lz4hc" (default none)."""
    argv = ["mkfs.erofs", "--quiet"]
    if compress:
        argv.append("-z" + compress)
    if uuid:
        argv.append("-U" + uuid)
    if os.path.exists(path):
        os.unlink(path)
    _run(argv + [str(path), str(srcdir)])
    return str(path)


def config_disk(path, config, size_mb=None, name="config.json"):
    """ext4 config disk (vdc). config: dict/list (dumped as JSON), str or
    bytes (written verbatim: malformed JSON, oversized files), or None (a
    disk without /config.json)."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="cfgdisk-") as src:
        data = None
        if isinstance(config, (dict, list)):
            data = json.dumps(config).encode()
        elif isinstance(config, str):
            data = config.encode()
        elif isinstance(config, (bytes, bytearray)):
            data = bytes(config)
        elif config is not None:
            raise TypeError("config must be dict, list, str, bytes or None")
        if data is not None:
            with open(os.path.join(src, name), "wb") as f:
                f.write(data)
        if size_mb is None:
            size_mb = 16 + 2 * (len(data or b"") // MiB)
        return ext4_from_dir(path, src, size_mb=size_mb)


# ---- reading ext4 images with debugfs ----------------------------------

def _debugfs(img, cmd):
    """Run one debugfs request; return (stdout bytes, error text). The
    version banner on stderr is dropped; anything else there is an error."""
    p = subprocess.run(["debugfs", "-R", cmd, str(img)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = [l for l in p.stderr.decode(errors="replace").splitlines()
           if l.strip() and not l.startswith("debugfs ")]
    if p.returncode != 0 and not err:
        err = ["debugfs exited %d" % p.returncode]
    return p.stdout, "\n".join(err)


def _quote(path):
    if '"' in path or "\n" in path:
        raise ValueError("path not representable for debugfs: %r" % path)
    return '"%s"' % path


def _not_found(err):
    return "File not found" in err


def stat_ext4(img, path):
    """dict with type ("regular", "directory", "symlink", ...), mode (int,
    permission bits), uid, gid, size, link (symlink target or None);
    None when path does not exist. The last component is not followed."""
    out, err = _debugfs(img, "stat " + _quote(path))
    if _not_found(err):
        return None
    if err:
        raise RuntimeError("debugfs stat %s on %s: %s" % (path, img, err))
    text = out.decode(errors="replace")
    info = {"link": None}
    for line in text.splitlines():
        w = line.split()
        if line.startswith("Inode:"):
            info["inode"] = int(w[1])
            info["type"] = w[3]
            info["mode"] = int(w[5], 8)
        elif line.startswith("User:"):
            info["uid"], info["gid"] = int(w[1]), int(w[3])
            info["size"] = int(w[w.index("Size:") + 1])
        elif line.startswith("Fast link dest:"):
            info["link"] = line.split(":", 1)[1].strip()[1:-1]
    if info.get("type") == "symlink" and info["link"] is None:
        # Slow symlink: the target is in a data block, which cat prints.
        data, err = _debugfs(img, "cat <%d>" % info["inode"])
        if err:
            raise RuntimeError("debugfs cat symlink %s: %s" % (path, err))
        info["link"] = data.decode(errors="surrogateescape")
    return info


def readlink_ext4(img, path):
    """Symlink target at path, None if path is missing or not a symlink."""
    st = stat_ext4(img, path)
    return st["link"] if st and st["type"] == "symlink" else None


def read_file_from_ext4(img, path, follow_symlinks=True):
    """Contents of a regular file in an ext4 image, or None if it does not
    exist. Symlinks in the final component are followed inside the image
    (debugfs itself follows them in directory components). Raises on a
    directory or a corrupt image."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    for _ in range(40):
        st = stat_ext4(img, path)
        if st is None:
            return None
        if st["type"] == "symlink" and follow_symlinks:
            target = st["link"]
            base = "/" if target.startswith("/") else posixpath.dirname(path)
            # normpath clamps ".." at the image root
            path = posixpath.normpath("/" + posixpath.join(base, target).lstrip("/"))
            continue
        if st["type"] != "regular":
            raise IsADirectoryError("%s in %s is a %s" % (path, img, st["type"]))
        out, err = _debugfs(img, "cat " + _quote(path))
        if err:
            raise RuntimeError("debugfs cat %s on %s: %s" % (path, img, err))
        return out
    raise RuntimeError("too many symlinks at %s in %s" % (path, img))


def ls_ext4(img, dir="/"):
    """{name: {"inode", "mode" (full st_mode int), "uid", "gid", "size"}} for
    the entries of dir ('.' and '..' left out), or None if dir is missing."""
    out, err = _debugfs(img, "ls -p " + _quote(dir))
    if _not_found(err):
        return None
    if err:
        raise RuntimeError("debugfs ls %s on %s: %s" % (dir, img, err))
    entries = {}
    for line in out.decode(errors="surrogateescape").splitlines():
        f = line.split("/")
        if len(f) < 8 or f[0] != "":
            continue
        _, ino, mode, uid, gid, name, size = f[:7]
        if name in (".", ".."):
            continue
        entries[name] = {"inode": int(ino), "mode": int(mode, 8),
                         "uid": int(uid), "gid": int(gid),
                         "size": int(size) if size else 0}
    return entries


def fs_info(img):
    """dumpe2fs -h as {field: value}, e.g. "Filesystem features",
    "Filesystem state", "Filesystem volume name"."""
    out = _run(["dumpe2fs", "-h", str(img)]).stdout.decode(errors="replace")
    info = {}
    for line in out.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            info[k.strip()] = v.strip()
    return info


def needs_recovery(img):
    """True when the ext4 journal was left needing replay (unclean unmount)."""
    return "needs_recovery" in fs_info(img).get("Filesystem features", "").split()


def e2fsck_clean(img):
    """(clean, report): `e2fsck -fn` (read-only, forced) found no errors AND
    the journal needs no recovery AND the state is "clean". report holds the
    e2fsck output plus what dumpe2fs said. e2fsck -n exits 0 even when it
    skips a pending journal replay, hence the separate check."""
    p = subprocess.run(["e2fsck", "-fn", str(img)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    text = p.stdout.decode(errors="replace")
    info = fs_info(img)
    recovery = "needs_recovery" in info.get("Filesystem features", "").split()
    state = info.get("Filesystem state", "?")
    report = "%s\ne2fsck rc=%d; needs_recovery=%s; state=%s" % (
        text.rstrip(), p.returncode, recovery, state)
    clean = p.returncode == 0 and not recovery and state == "clean"
    return clean, report


def sha256(img):
    """Hex sha256 of the whole image file."""
    h = hashlib.sha256()
    with open(img, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
