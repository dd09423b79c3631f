"""Read, unpack and write OCI image layouts (stdlib only), for hypeman-init's tests.

read_image(layout_dir, tag, arch)          -> the image's run config and verified layer paths
unpack_rootfs(layout_dir, dest, tag, arch) -> apply the layers in order onto dest (as root)
write_layout(layout_dir, layers, config, tag) -> a layout made of the given layers
  (members made with D, F, L, H, node; tar_bytes() and compress() for raw layers)
write_multiarch_layout(layout_dir, {arch: rootfs_dir}, config, tag)
                                           -> a multi-platform layout (an image index
                                              with one manifest per architecture)
write_archive(layout_dir, path)            -> a tar of the layout, as skopeo's
                                              oci-archive: and docker save write it
docker_save_layout(layout_dir, images)     -> a layout as `docker save` (Docker 25 on)
                                              writes it, to archive with write_archive

arch ("x86_64"/"aarch64" or "amd64"/"arm64") picks that platform's manifest
and refuses an image that has none; without it the host's is preferred.

Every blob read is checked against its sha256/sha512 digest (and size); a
mismatch raises OCIError naming the digest.  Layer application follows the OCI
image spec: whiteouts (.wh.NAME, .wh..wh..opq) act only on lower layers; paths
are taken relative to dest (a leading "/" is dropped, any ".." is refused);
symlinks already in dest are resolved as in a chroot (they can never lead a
write outside dest) and the last component of a path is never followed (an
existing symlink there is replaced, not written through).
"""

import bz2
import errno
import gzip
import hashlib
import io
import json
import lzma
import os
import platform
import posixpath
import re
import shutil
import stat
import tarfile
import zlib

__all__ = ["OCIError", "read_image", "unpack_rootfs", "write_layout", "write_index",
           "write_blob", "write_multiarch_layout", "write_archive", "docker_save_layout",
           "tar_bytes", "compress",
           "D", "F", "L", "H", "node"]

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
REF_NAME = "org.opencontainers.image.ref.name"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_CHUNK = 1 << 20
_MAX_SYMLINKS = 40


class OCIError(Exception):
    """A malformed, tampered or unsupported image layout or layer."""


# ---------------------------------------------------------------- blobs

def _blob_path(layout_dir, digest):
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise OCIError("bad digest %r" % (digest,))
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout_dir, "blobs", algo, hexd)


def _verify_blob(layout_dir, desc):
    """Hash the blob of descriptor desc; return its path. OCIError on mismatch."""
    digest = desc.get("digest")
    path = _blob_path(layout_dir, digest)
    algo, want = digest.split(":", 1)
    h = hashlib.new(algo)
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
    except FileNotFoundError:
        raise OCIError("blob %s missing (%s)" % (digest, path)) from None
    if h.hexdigest() != want:
        raise OCIError("blob %s: digest mismatch (content hashes to %s:%s)"
                       % (digest, algo, h.hexdigest()))
    size = desc.get("size")
    if size is not None and size != n:
        raise OCIError("blob %s: size %d, descriptor says %s" % (digest, n, size))
    return path


def _read_json_blob(layout_dir, desc):
    path = _verify_blob(layout_dir, desc)
    with open(path, "rb") as f:
        data = f.read()
    try:
        return json.loads(data)
    except ValueError as e:
        raise OCIError("blob %s: not JSON: %s" % (desc.get("digest"), e)) from None


def _host_arch():
    m = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64",
            "arm64": "arm64"}.get(m, m)


def _deb_arch(arch):
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)


def _pick_platform(descs, arch=None):
    """Among manifest descriptors, prefer linux/ARCH (default the host's),
    else one without a platform; else, when no ARCH was asked for, the
    first."""
    want = _deb_arch(arch) if arch else _host_arch()
    for d in descs:
        p = d.get("platform") or {}
        if p.get("os") == "linux" and p.get("architecture") == want:
            return d
    for d in descs:
        if not d.get("platform"):
            return d
    if arch:
        raise OCIError("no manifest for linux/%s (there are: %s)" % (want, ", ".join(
            "%s/%s" % ((d.get("platform") or {}).get("os"),
                       (d.get("platform") or {}).get("architecture")) for d in descs)))
    return descs[0]


def _find_manifest(layout_dir, tag, arch=None):
    try:
        with open(os.path.join(layout_dir, "oci-layout")) as f:
            json.load(f)
        with open(os.path.join(layout_dir, "index.json")) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        raise OCIError("%s is not an OCI image layout: %s" % (layout_dir, e)) from None
    manifests = index.get("manifests") or []
    cands = [d for d in manifests if (d.get("annotations") or {}).get(REF_NAME) == tag]
    if not cands and tag == "latest" and len(manifests) == 1 \
            and REF_NAME not in (manifests[0].get("annotations") or {}):
        cands = manifests
    if not cands:
        raise OCIError("%s: no manifest tagged %r" % (layout_dir, tag))
    desc = _pick_platform(cands, arch)
    for _ in range(4):                      # nested image indexes (multi-arch)
        if desc.get("mediaType") not in INDEX_TYPES:
            return desc
        sub = _read_json_blob(layout_dir, desc).get("manifests") or []
        if not sub:
            raise OCIError("index %s lists no manifests" % desc.get("digest"))
        desc = _pick_platform(sub, arch)
    raise OCIError("%s: image indexes nested too deep" % layout_dir)


def _image(layout_dir, tag, arch=None):
    mdesc = _find_manifest(layout_dir, tag, arch)
    manifest = _read_json_blob(layout_dir, mdesc)
    cdesc = manifest.get("config")
    if not isinstance(cdesc, dict):
        raise OCIError("manifest %s has no config" % mdesc.get("digest"))
    config = _read_json_blob(layout_dir, cdesc)
    layers = manifest.get("layers") or []
    paths = [_verify_blob(layout_dir, d) for d in layers]
    return manifest, config, layers, paths


def read_image(layout_dir, tag="latest", arch=None):
    """Return {"entrypoint", "cmd", "env", "workdir", "volumes", "layers",
    "architecture"}.

    env is a dict (an entry without "=" maps to ""); layers are blob paths,
    lowest first, each already checked against its digest.
    """
    _, config, _, paths = _image(layout_dir, tag, arch)
    cfg = config.get("config") or {}
    env = {}
    for kv in cfg.get("Env") or []:
        k, _, v = kv.partition("=")
        env[k] = v
    return {
        "entrypoint": list(cfg.get("Entrypoint") or []),
        "cmd": list(cfg.get("Cmd") or []),
        "env": env,
        "workdir": cfg.get("WorkingDir") or "",
        "volumes": sorted((cfg.get("Volumes") or {}).keys()),
        "layers": paths,
        "architecture": config.get("architecture"),
    }


# ---------------------------------------------------------------- layers

class _HashReader:
    """File-like wrapper hashing everything read through it (for diff_ids)."""

    def __init__(self, f, algo):
        self.f = f
        self.h = hashlib.new(algo)

    def read(self, n=-1):
        b = self.f.read(n)
        self.h.update(b)
        return b

    def drain(self):
        while self.read(_CHUNK):
            pass


def _open_layer(path, digest):
    f = open(path, "rb")
    magic = f.read(6)
    f.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return f, gzip.GzipFile(fileobj=f, mode="rb")
    if magic[:3] == b"BZh":
        return f, bz2.BZ2File(f)
    if magic[:6] == b"\xfd7zXZ\x00":
        return f, lzma.LZMAFile(f)
    if magic[:4] == b"\x28\xb5\x2f\xfd":
        f.close()
        raise OCIError("layer %s: zstd compression is not supported" % digest)
    return f, f


def _clean_name(name, digest):
    """Archive path -> normalized relative path ("" for the root). Refuses '..'."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OCIError("layer %s: refusing path with '..': %r" % (digest, name))
    return "/".join(parts)


class _Root:
    """dest_dir plus chroot-style path resolution that never leaves it."""

    def __init__(self, dest):
        self.dest = os.path.abspath(dest)

    def abs(self, rel):
        return os.path.join(self.dest, rel) if rel else self.dest

    def resolve_parent(self, rel, create=True):
        """Resolve the parent of rel inside the root (following symlinks as in
        a chroot), creating missing directories; return (real relative path of
        the parent, last component).  rel must be non-empty."""
        parent, _, last = rel.rpartition("/")
        todo = [p for p in parent.split("/") if p]
        done = []
        hops = 0
        while todo:
            comp = todo.pop(0)
            if comp == ".":
                continue
            if comp == "..":
                if done:
                    done.pop()
                continue
            cur = os.path.join(self.dest, *done, comp)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                if not create:
                    return None, last
                os.mkdir(cur, 0o755)
                done.append(comp)
                continue
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    raise OCIError("too many symlinks resolving %r" % rel)
                target = os.readlink(cur)
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p] + todo
                continue
            if not stat.S_ISDIR(st.st_mode):
                if not create:
                    return None, last
                os.unlink(cur)              # a file where a directory must be
                os.mkdir(cur, 0o755)
            done.append(comp)
        return "/".join(done), last


def _remove(path):
    """Remove whatever is at path (never following a symlink)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _join(a, b):
    return a + "/" + b if a else b


def _clear_lower(root, rel, created):
    """Opaque whiteout: empty directory rel of everything not from this layer."""
    path = root.abs(rel)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    for name in os.listdir(path):
        sub = _join(rel, name)
        if sub not in created:
            _remove(os.path.join(path, name))
        elif os.path.isdir(os.path.join(path, name)) and \
                not os.path.islink(os.path.join(path, name)):
            _clear_lower(root, sub, created)


def _set_meta(path, ti, is_root, is_link=False):
    if is_root:
        os.chown(path, ti.uid, ti.gid, follow_symlinks=False)
    if not is_link:
        os.chmod(path, stat.S_IMODE(ti.mode))   # after chown: chown clears set-id bits
    for key, val in (ti.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                data = val.encode("utf-8", "surrogateescape")
                os.setxattr(path, key[len("SCHILY.xattr."):], data,
                            follow_symlinks=not is_link)
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
    if not is_link or os.utime in os.supports_follow_symlinks:
        os.utime(path, (ti.mtime, ti.mtime), follow_symlinks=not is_link)


def _apply_layer(root, path, desc, diff_id, is_root):
    digest = desc.get("digest")
    raw, stream = _open_layer(path, digest)
    reader = _HashReader(stream, diff_id.split(":", 1)[0]) if diff_id else stream
    created = set()
    dir_times = []

    def mark(rel):
        while rel and rel not in created:
            created.add(rel)
            rel = rel.rpartition("/")[0]

    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for ti in tar:
                rel = _clean_name(ti.name, digest)
                base = rel.rpartition("/")[2]
                if not rel:                             # the root directory itself
                    if ti.isdir():
                        _set_meta(root.dest, ti, is_root)
                        dir_times.append((root.dest, ti))
                    continue
                if base.startswith(WHITEOUT):
                    preal, _ = root.resolve_parent(rel, create=False)
                    if preal is None:
                        continue
                    if base == OPAQUE:
                        _clear_lower(root, preal, created)
                    elif not base.startswith(WHITEOUT + WHITEOUT):
                        victim = _join(preal, base[len(WHITEOUT):])
                        if victim not in created:
                            _remove(root.abs(victim))
                    continue                     # other .wh..wh.* (aufs metadata): skip
                preal, last = root.resolve_parent(rel)
                real = _join(preal, last)
                target = root.abs(real)
                mark(real)
                if ti.isdir():
                    if not (os.path.isdir(target) and not os.path.islink(target)):
                        _remove(target)
                        os.mkdir(target, 0o700)
                    _set_meta(target, ti, is_root)
                    dir_times.append((target, ti))
                    continue
                if ti.islnk():
                    lrel = _clean_name(ti.linkname, digest)
                    if not lrel:
                        raise OCIError("layer %s: hardlink %r to the root" % (digest, ti.name))
                    lpre, llast = root.resolve_parent(lrel, create=False)
                    src = root.abs(_join(lpre, llast)) if lpre is not None else None
                    if src is None or not os.path.lexists(src):
                        raise OCIError("layer %s: hardlink %r -> missing %r"
                                       % (digest, ti.name, ti.linkname))
                    if os.path.abspath(src) == os.path.abspath(target):
                        continue
                    _remove(target)
                    os.link(src, target, follow_symlinks=False)
                    continue
                _remove(target)
                if ti.isreg():
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                                 os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        src = tar.extractfile(ti)
                        shutil.copyfileobj(src, out, _CHUNK)
                    _set_meta(target, ti, is_root)
                elif ti.issym():
                    os.symlink(ti.linkname, target)
                    _set_meta(target, ti, is_root, is_link=True)
                elif ti.ischr() or ti.isblk():
                    kind = stat.S_IFCHR if ti.ischr() else stat.S_IFBLK
                    os.mknod(target, kind | 0o600, os.makedev(ti.devmajor, ti.devminor))
                    _set_meta(target, ti, is_root)
                elif ti.isfifo():
                    os.mkfifo(target, 0o600)
                    _set_meta(target, ti, is_root)
                else:
                    raise OCIError("layer %s: unsupported member type %r for %r"
                                   % (digest, ti.type, ti.name))
        if diff_id:
            reader.drain()
            got = "%s:%s" % (diff_id.split(":", 1)[0], reader.h.hexdigest())
            if got != diff_id:
                raise OCIError("layer %s: uncompressed content hashes to %s, "
                               "config diff_id is %s" % (digest, got, diff_id))
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error,
            lzma.LZMAError) as e:
        raise OCIError("layer %s: bad archive: %s" % (digest, e)) from None
    finally:
        if stream is not raw:
            stream.close()
        raw.close()
    for p, ti in reversed(dir_times):          # children first changed parents' mtimes
        os.utime(p, (ti.mtime, ti.mtime), follow_symlinks=False)


def unpack_rootfs(layout_dir, dest_dir, tag="latest", arch=None):
    """Apply the image's layers, lowest first, onto dest_dir (created if missing).

    Verifies every blob first (nothing is written for a tampered image), and
    each layer's uncompressed content against the config's diff_ids.
    """
    _, config, layers, paths = _image(layout_dir, tag, arch)
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        diff_ids = [None] * len(layers)
    for d in diff_ids:
        if d is not None and not _DIGEST_RE.match(d):
            raise OCIError("bad diff_id %r" % (d,))
    os.makedirs(dest_dir, exist_ok=True)
    root = _Root(dest_dir)
    is_root = os.geteuid() == 0
    for desc, path, diff_id in zip(layers, paths, diff_ids):
        _apply_layer(root, path, desc, diff_id, is_root)


# ---------------------------------------------------------------- writing layouts

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MTIME = 1700000000
_SUFFIX = {None: "", "gzip": "+gzip", "zstd": "+zstd", "xz": "", "bzip2": ""}


def _member(name, kind, data=None, mode=0o644, uid=0, gid=0, mtime=MTIME, target="",
            dev=(0, 0), xattrs=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, mtime
    ti.linkname = target
    ti.devmajor, ti.devminor = dev
    if xattrs:
        ti.pax_headers = {"SCHILY.xattr." + k: (v.decode("utf-8", "surrogateescape")
                                                if isinstance(v, bytes) else v)
                          for k, v in xattrs.items()}
    if data is not None:
        data = data.encode() if isinstance(data, str) else data
    return ti, data


def D(name, mode=0o755, **kw):
    """A directory member."""
    return _member(name, tarfile.DIRTYPE, None, mode, **kw)


def F(name, data=b"", mode=0o644, **kw):
    """A regular file member."""
    return _member(name, tarfile.REGTYPE, data, mode, **kw)


def L(name, target, **kw):
    """A symlink member."""
    return _member(name, tarfile.SYMTYPE, None, 0o777, target=target, **kw)


def H(name, target, **kw):
    """A hard link member (target: a member name)."""
    return _member(name, tarfile.LNKTYPE, None, 0o644, target=target, **kw)


def node(name, kind, mode=0o600, dev=(0, 0), **kw):
    """A device or FIFO member: kind is "chr", "blk" or "fifo"."""
    t = {"chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    return _member(name, t, None, mode, dev=dev, **kw)


def tar_bytes(members, eof=True):
    """A PAX tar of members ((TarInfo, data) pairs). eof=False leaves out the
    two zero blocks that end an archive, as umoci 0.4.7 writes layers."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
        end = buf.tell()
    raw = buf.getvalue()
    return raw if eof else raw[:end]


def compress(raw, how):
    """raw compressed with how: None, "gzip", "zstd", "xz" or "bzip2"."""
    if how is None:
        return raw
    if how == "gzip":
        return gzip.compress(raw, mtime=0)
    if how == "xz":
        return lzma.compress(raw)
    if how == "bzip2":
        return bz2.compress(raw)
    if how == "zstd":
        import subprocess
        return subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE,
                              check=True).stdout
    raise ValueError(how)


def write_blob(layout, data, media_type=None):
    """Stores data under blobs/sha256; its descriptor."""
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, digest), "wb") as f:
        f.write(data)
    desc = {"digest": "sha256:" + digest, "size": len(data)}
    if media_type:
        desc["mediaType"] = media_type
    return desc


def write_index(layout, manifests):
    """index.json (and oci-layout) listing the manifest descriptors."""
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": manifests}, f)


def write_image(layout, layers, config=None, arch="amd64"):
    """Layer, config and manifest blobs; the manifest's descriptor (not in
    index.json). layers: each a list of members (plain tar), (members, how),
    or bytes (a blob stored as it is, as a plain tar layer)."""
    descs, diff_ids = [], []
    for layer in layers:
        if isinstance(layer, bytes):
            blob = raw = layer
            how = None
        else:
            members, how = layer if isinstance(layer, tuple) else (layer, None)
            raw = tar_bytes(members)
            blob = compress(raw, how)
        descs.append(write_blob(layout, blob, MEDIA_LAYER + _SUFFIX[how]))
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    cfg = {"architecture": arch, "os": "linux",
           "config": config if config is not None else {},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdesc = write_blob(layout, json.dumps(cfg).encode(), MEDIA_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": cdesc,
                "layers": descs}
    mdesc = write_blob(layout, json.dumps(manifest).encode(), MEDIA_MANIFEST)
    return {"manifest": mdesc, "config": cdesc, "layers": descs}


def write_layout(layout, layers, config=None, tag="latest"):
    """An OCI image layout with one manifest, tagged tag (None: untagged).
    Returns {"manifest", "config", "layers"}: the descriptors."""
    os.makedirs(layout, exist_ok=True)
    descs = write_image(layout, layers, config)
    mdesc = dict(descs["manifest"])
    if tag:
        mdesc["annotations"] = {REF_NAME: tag}
    write_index(layout, [mdesc])
    return descs


def write_archive(layout, path, fmt=tarfile.USTAR_FORMAT):
    """The tar of the layout directory at path, as docker save and skopeo's
    oci-archive: write it (Go's filepath.Walk): every name in lexical order,
    depth first (blobs/, blobs/sha256/, the blobs, then index.json), no
    "./", owned by root."""
    def add(t, rel):
        full = os.path.join(layout, rel)
        ti = t.gettarinfo(full, rel + ("/" if os.path.isdir(full) else ""))
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        if ti.isfile():
            with open(full, "rb") as f:
                t.addfile(ti, f)
        else:
            t.addfile(ti)
        if os.path.isdir(full):
            for name in sorted(os.listdir(full)):
                add(t, os.path.join(rel, name))
    with tarfile.open(path, "w", format=fmt) as t:
        for name in sorted(os.listdir(layout)):
            add(t, name)
    return path


def docker_save_layout(layout, images):
    """A layout as `docker save` from Docker 25 on writes it (moby's
    image/tarexport): plain tar layers, a manifest per image whose index.json
    descriptor carries its platform, io.containerd.image.name (the full
    reference) and org.opencontainers.image.ref.name (the tag alone), and
    docker's own manifest.json and repositories beside. images: [(reference
    such as "docker.io/library/busybox:latest", [layer members...], config)].
    Returns the manifest descriptors, in order."""
    descs, legacy, repos = [], [], {}
    for ref, layers, config in images:
        d = write_image(layout, [list(l) for l in layers], config)
        name, tag = ref.rsplit(":", 1)
        short = name.split("/", 1)[1] if name.startswith("docker.io/") else name
        short = short[len("library/"):] if short.startswith("library/") else short
        descs.append(dict(d["manifest"], platform={"architecture": "amd64", "os": "linux"},
                          annotations={"io.containerd.image.name": ref, REF_NAME: tag}))
        legacy.append({"Config": "blobs/sha256/" + d["config"]["digest"][7:],
                       "RepoTags": [short + ":" + tag],
                       "Layers": ["blobs/sha256/" + l["digest"][7:] for l in d["layers"]]})
        repos.setdefault(short, {})[tag] = d["layers"][-1]["digest"][7:]
    write_index(layout, descs)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": descs}, f)
    with open(os.path.join(layout, "manifest.json"), "w") as f:
        json.dump(legacy, f)
    with open(os.path.join(layout, "repositories"), "w") as f:
        json.dump(repos, f)
    return descs


def blob_path(layout, desc):
    """The file of a descriptor's blob."""
    return os.path.join(layout, "blobs", "sha256", desc["digest"].split(":", 1)[1])


def _dir_layer(rootfs_dir):
    """(gzip tar of rootfs_dir, its sha256 diff_id): sorted entries, owners
    and modes as they are, fixed mtimes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for top, dirs, files in os.walk(rootfs_dir):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(top, name)
                ti = t.gettarinfo(path, os.path.relpath(path, rootfs_dir))
                ti.mtime = MTIME
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(path, "rb") as f:
                        t.addfile(ti, f)
                else:
                    t.addfile(ti)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), "sha256:" + hashlib.sha256(raw).hexdigest()


def write_multiarch_layout(layout_dir, rootfs_by_arch, config, tag="latest"):
    """An OCI image layout at layout_dir holding one image for several
    platforms, as `skopeo copy --all` leaves a multi-arch image: index.json
    points (tagged TAG) to an image index blob, which lists one manifest per
    architecture with its platform (linux/amd64, linux/arm64). Each image is
    one gzip layer made from rootfs_by_arch[arch] (a directory), with the
    run config CONFIG ({"Cmd": [...], "Env": [...], ...}). Returns
    {arch: manifest descriptor}."""
    os.makedirs(layout_dir, exist_ok=True)
    manifests = {}
    for arch, rootfs_dir in sorted(rootfs_by_arch.items()):
        layer, diff_id = _dir_layer(rootfs_dir)
        ldesc = write_blob(layout_dir, layer, MEDIA_LAYER + "+gzip")
        cfg = {"architecture": _deb_arch(arch), "os": "linux", "config": config,
               "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
        cdesc = write_blob(layout_dir, json.dumps(cfg).encode(), MEDIA_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": cdesc,
                    "layers": [ldesc]}
        mdesc = write_blob(layout_dir, json.dumps(manifest).encode(), MEDIA_MANIFEST)
        mdesc["platform"] = {"architecture": _deb_arch(arch), "os": "linux"}
        manifests[arch] = mdesc
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX,
             "manifests": list(manifests.values())}
    idesc = write_blob(layout_dir, json.dumps(index).encode(), MEDIA_INDEX)
    idesc["annotations"] = {REF_NAME: tag}
    write_index(layout_dir, [idesc])
    return manifests
