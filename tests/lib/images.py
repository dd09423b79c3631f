"""Test images for hypeman-init VM tests.

An image is a directory that becomes the read-only rootfs disk (vda). Most
tests use Debian's static busybox (package busybox-static) as the image's
userland, so the guest has a shell and tools; tests of images without a
shell use a static C program built here with musl-gcc.

For another architecture than the host's (arch="aarch64"), the busybox is
Debian's busybox-static of that architecture (fetched with foreign-apt.sh,
unpacked once into $HYPEMAN_CACHE/busybox-static-<debarch>/), and programs
are built with the musl-gcc wrapper that `build.sh --arch` leaves in
out/<arch>/.

  rootfs(dirpath, files={}, symlinks={}, busybox=True, arch=None) -> dirpath
  guest_program(name, arch=None) -> the static binary of
      tests/testdata/progs/NAME.c, compiled once (cached under out/)
  Guest(tmp, rootfs_dir, config, volumes=(), fs="ext4") -> the disk paths
      .disks: [vda, vdb, vdc, vdd...] for VM(disks=...)
"""

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile

from . import arch as _arch
from . import disks

BUSYBOX = "/bin/busybox"


def busybox_binary(arch=None):
    """Path of a static busybox for ARCH: the host's /bin/busybox, or
    Debian's busybox-static .deb of that architecture, unpacked in the cache."""
    arch = _arch.norm(arch or _arch.host())
    if arch == _arch.host():
        if not os.path.exists(BUSYBOX):
            raise RuntimeError("%s missing: apt-get install busybox-static" % BUSYBOX)
        return BUSYBOX
    cache = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
    d = os.path.join(cache, "busybox-static-" + _arch.deb(arch))
    path = os.path.join(d, "bin", "busybox")
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".busybox-static.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        tmp = tempfile.mkdtemp(prefix=".busybox-static-", dir=cache)
        try:
            subprocess.run([os.path.join(_arch.REPO, "foreign-apt.sh"), _arch.deb(arch),
                            "apt-get", "download", "-qq", "busybox-static"],
                           cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["dpkg", "-x"] + glob.glob(os.path.join(tmp, "*.deb"))
                           + [os.path.join(tmp, "root")], check=True)
            os.makedirs(d)
            os.rename(os.path.join(tmp, "root", "bin"), os.path.join(d, "bin"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def rootfs(path, files=None, symlinks=None, busybox=True, dirs=(), arch=None):
    """A minimal image tree at PATH: /bin/busybox (for ARCH, default the
    host's) with its applet links (when busybox), the usual empty
    directories, FILES {path: str|bytes|(data, mode)} and SYMLINKS
    {path: target}."""
    path = str(path)
    os.makedirs(path, exist_ok=True)
    for d in ("etc", "proc", "sys", "dev", "run", "tmp", "root", "var") + tuple(dirs):
        os.makedirs(os.path.join(path, d.lstrip("/")), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    if busybox:
        os.makedirs(os.path.join(path, "bin"), exist_ok=True)
        shutil.copy(busybox_binary(arch), os.path.join(path, "bin", "busybox"))
        # The applet names from the host's busybox-static: Debian builds
        # that package with one configuration for every architecture.
        names = subprocess.run([busybox_binary(), "--list"], check=True, capture_output=True,
                               text=True).stdout.split()
        for name in names:
            link = os.path.join(path, "bin", name)
            if name != "busybox" and not os.path.lexists(link):
                os.symlink("busybox", link)
    for rel, data in (files or {}).items():
        mode = 0o644
        if isinstance(data, tuple):
            data, mode = data
        full = os.path.join(path, rel.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            os.unlink(full)
        with open(full, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(full, mode)
    for rel, target in (symlinks or {}).items():
        full = os.path.join(path, rel.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)
        os.symlink(target, full)
    return path


def musl_gcc(arch=None):
    """The musl compiler for ARCH: musl-gcc, or build.sh's cross wrapper."""
    arch = _arch.norm(arch or _arch.host())
    if arch == _arch.host():
        return "musl-gcc"
    cc = os.path.join(_arch.out_dir(arch), "musl-gcc")
    if not os.path.exists(cc):
        raise RuntimeError("%s missing: run ./build.sh --arch %s first" % (cc, arch))
    return cc


PROGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "testdata", "progs")
CFLAGS = ["-static", "-Os"]


def guest_program(name, arch=None):
    """The static binary of tests/testdata/progs/NAME.c for ARCH, compiled
    once: kept as out/[<arch>/]progs/NAME-<hash of the source, the folder's
    headers, the compiler and flags> and reused while they are unchanged."""
    src = os.path.join(PROGS, name + ".c")
    cc = musl_gcc(arch)
    key = hashlib.sha256(b"\0".join([cc.encode()] + [x.encode() for x in CFLAGS]))
    for p in [src] + sorted(glob.glob(os.path.join(PROGS, "*.h"))):
        with open(p, "rb") as f:
            key.update(b"\0" + f.read())
    d = os.path.join(_arch.out_dir(arch or _arch.host()), "progs")
    path = os.path.join(d, "%s-%s" % (name, key.hexdigest()[:16]))
    if os.path.exists(path):
        return path
    os.makedirs(d, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile(dir=d, prefix=name + ".", delete=False)
    tmp.close()
    try:
        subprocess.run([cc] + CFLAGS + ["-o", tmp.name, src], check=True)
        os.replace(tmp.name, path)         # whole, even with concurrent sessions
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return path


class Guest:
    """The disks of one VM: vda (the image, FS ext4 or erofs), vdb (empty
    overlay disk), vdc (config disk), then VOLUMES: a list of paths of
    disks already made (see disks.py), in device order."""

    def __init__(self, tmp, rootfs_dir, config, volumes=(), fs="ext4",
                 image_mb=64, overlay_mb=64):
        tmp = str(tmp)
        os.makedirs(tmp, exist_ok=True)
        self.vda = os.path.join(tmp, "vda.img")
        self.vdb = os.path.join(tmp, "vdb.img")
        self.vdc = os.path.join(tmp, "vdc.img")
        if fs == "erofs":
            disks.erofs_from_dir(self.vda, rootfs_dir)
        else:
            disks.ext4_from_dir(self.vda, rootfs_dir, image_mb)
        disks.empty_ext4(self.vdb, overlay_mb)
        disks.config_disk(self.vdc, config)
        self.volumes = [str(v) for v in volumes]
        self.disks = [self.vda, self.vdb, self.vdc] + self.volumes

    @staticmethod
    def volume_device(i):
        """Device name of the I-th extra disk (0 -> /dev/vdd)."""
        return "/dev/vd" + chr(ord("d") + i)
