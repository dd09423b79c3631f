"""Write OCI image layouts (stdlib only): the test images of hypeman-init's
tests. To read or unpack one, the tests run the tool itself
(lib/hostrun.py unpack: `hypeman run --no-boot --keep DIR`).

write_layout(layout_dir, layers, config, tag) -> a layout made of the given layers
  (members made with D, F, L, H, node; tar_bytes() and compress() for raw layers)
write_multiarch_layout(layout_dir, {arch: rootfs_dir}, config, tag)
                                           -> a multi-platform layout (an image index
                                              with one manifest per architecture)
write_archive(layout_dir, path)            -> a tar of the layout, as skopeo's
                                              oci-archive: and docker save write it
docker_save_layout(layout_dir, images)     -> a layout as `docker save` (Docker 25 on)
                                              writes it, to archive with write_archive
blob_path(layout_dir, desc)                -> the file of a descriptor's blob
"""

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import zlib

__all__ = ["write_layout", "write_index", "write_blob", "blob_path", "write_multiarch_layout", "write_archive", "docker_save_layout",
           "tar_bytes", "compress",
           "D", "F", "L", "H", "node"]

REF_NAME = "org.opencontainers.image.ref.name"


def _deb_arch(arch):
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)


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


def _uncompressed(blob):
    """blob decompressed as hypeman run and containerd read it (gzip, zstd,
    xz, bzip2; anything else as it is): what a diff_id is the sha256 of.
    Data that does not decompress is refused before its diff_id counts:
    then the blob itself."""
    import subprocess
    try:
        if blob[:2] == b"\x1f\x8b":
            return gzip.decompress(blob)
        if blob[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(blob)
        if blob[:3] == b"BZh":
            return bz2.decompress(blob)
        if blob[:4] == b"\x28\xb5\x2f\xfd" or (blob[:4][1:] == b"\x2a\x4d\x18"
                                                 and blob[0] & 0xf0 == 0x50):
            return subprocess.run(["zstd", "-q", "-d", "-c"], input=blob, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, check=True).stdout
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError,
            subprocess.CalledProcessError):
        pass
    return blob


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
    or bytes (a blob stored as it is, as a plain tar layer; its diff_id is
    that of its uncompressed content). rootfs.diff_ids: the sha256 of each
    layer's uncompressed tar stream, as the OCI image spec says."""
    descs, diff_ids = [], []
    for layer in layers:
        if isinstance(layer, bytes):
            blob, raw = layer, _uncompressed(layer)
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
