"""Test images for hypeman-init VM tests.

An image is a directory that becomes the read-only rootfs disk (vda). Most
tests use Debian's static busybox (package busybox-static) as the image's
userland, so the guest has a shell and tools; tests of images without a
shell use a static C program built here with musl-gcc.

  rootfs(dirpath, files={}, symlinks={}, busybox=True) -> dirpath
  static_program(c_source, out_path) -> out_path
  Guest(tmp, rootfs_dir, config, volumes=(), fs="ext4") -> the disk paths
      .disks: [vda, vdb, vdc, vdd...] for VM(disks=...)
"""

import os
import shutil
import subprocess

from . import disks

BUSYBOX = "/bin/busybox"


def rootfs(path, files=None, symlinks=None, busybox=True, dirs=()):
    """A minimal image tree at PATH: /bin/busybox with its applet links
    (when busybox), the usual empty directories, FILES {path: str|bytes|
    (data, mode)} and SYMLINKS {path: target}."""
    path = str(path)
    os.makedirs(path, exist_ok=True)
    for d in ("etc", "proc", "sys", "dev", "run", "tmp", "root", "var") + tuple(dirs):
        os.makedirs(os.path.join(path, d.lstrip("/")), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    if busybox:
        if not os.path.exists(BUSYBOX):
            raise RuntimeError("%s missing: apt-get install busybox-static" % BUSYBOX)
        os.makedirs(os.path.join(path, "bin"), exist_ok=True)
        shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
        names = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
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


def static_program(source, out_path):
    """Compile C SOURCE (text) into a static binary at OUT_PATH."""
    out_path = str(out_path)
    src = out_path + ".c"
    with open(src, "w") as f:
        f.write(source)
    subprocess.run(["musl-gcc", "-static", "-Os", "-o", out_path, src], check=True)
    return out_path


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
