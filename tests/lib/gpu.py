"""What the GPU and kernel-headers VM tests share.

  wait_for_builds()   returns when tests/run's background GPU builds are done
                      (the three below wait for them first)
  initrd(name)        out/<name> (initrd-gpu-test: the stand-in bundle and the
                      test kernel's headers; initrd-gpu-real: the real Debian
                      bundle), or pytest.skip when tests/run did not build it
  dkms_root(dest)     the DKMS test image (tests/testdata/dkms) unpacked at
                      dest, plus /usr/local/bin/gpu-check (tests/gpu/gpu-check.c,
                      built here), a hello-world module source in /root/hello,
                      and another kernel's module and header directories
  OTHER_RELEASE       the release of those directories
  check_lines(text)   gpu-check's output as {kind: {path: [fields]}}
  bundle_list(initrd) (release, driver version) of an initrd's GPU bundle
  kernel_for(release) the kernel make-bundle.sh --suite fetched for release
  PCI_GPU             QEMU arguments for a VM with an NVIDIA display
                      controller: pci-testdev, which the initrd's stand-in
                      module hm-gpu-pci (tests/gpu/standin) turns into one
                      on a software PCI bus
"""

import fcntl
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.environ.get("HYPEMAN_OUT", os.path.join(REPO, "out"))
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
DKMS_TAR = os.path.join(CACHE, "images", "dkms-rootfs.tar")
OTHER_RELEASE = "5.10.0-99-amd64"
STANDIN_VERSION = "900.1.2"
PCI_GPU = ["-device", "pci-testdev"]

def wait_for_builds():
    """tests/run builds the GPU bundles, the DKMS image and the GPU
    initrds in the background while the first VM tests run (the GPU tests
    run last), holding out/.gpu-builds.lock: wait until it lets go."""
    try:
        f = open(os.path.join(OUT, ".gpu-builds.lock"))
    except FileNotFoundError:
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_SH)


def initrd(name):
    wait_for_builds()
    path = os.path.join(OUT, name)
    if not os.path.exists(path):
        pytest.skip("%s not built (tests/run builds it)" % path)
    return path


def dkms_root(dest, other_module_files=0):
    """The DKMS image at dest (a new directory). other_module_files: how
    many files the other kernel's /lib/modules tree holds (a big one keeps
    the headers worker busy for a while)."""
    wait_for_builds()
    if not os.path.exists(DKMS_TAR):
        subprocess.run([os.path.join(REPO, "tests/testdata/dkms/make-image.sh")], check=True)
    os.makedirs(dest)
    subprocess.run(["tar", "-C", dest, "--numeric-owner", "-xf", DKMS_TAR], check=True)
    subprocess.run(["gcc", "-O2", "-o", os.path.join(dest, "usr/local/bin/gpu-check"),
                    os.path.join(REPO, "tests/gpu/gpu-check.c"), "-ldl"], check=True)
    hello = os.path.join(dest, "root/hello")
    os.makedirs(hello)
    shutil.copy(os.path.join(REPO, "tests/testdata/dkms/hello-module.c"),
                os.path.join(hello, "hello.c"))
    with open(os.path.join(hello, "Makefile"), "w") as f:
        f.write("obj-m := hello.o\n")
    other = os.path.join(dest, "lib/modules", OTHER_RELEASE, "kernel/drivers")
    os.makedirs(other)
    for i in range(max(other_module_files, 1)):
        with open(os.path.join(other, "m%d.ko" % i), "w") as f:
            f.write("not a module\n")
    os.makedirs(os.path.join(dest, "usr/src/linux-headers-" + OTHER_RELEASE, "include"))
    os.symlink("/usr/src/linux-headers-" + OTHER_RELEASE,
               os.path.join(dest, "lib/modules", OTHER_RELEASE, "build"))
    return dest


def check_lines(text):
    """gpu-check's lines: {"node": {path: [major, minor, mode]}, "open":
    {path: [result]}, "dlopen": {soname: [version...]}}."""
    out = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 3 and w[0] in ("node", "open", "dlopen", "write"):
            out.setdefault(w[0], {})[w[1]] = w[2:]
    return out


def bundle_list(initrd_path):
    """(release, version): what build.sh wrote into the initrd's
    /etc/hypeman/gpu (the bundle's kernel release, its driver version)."""
    out = subprocess.run("zcat %s 2>/dev/null | cpio -i --quiet --to-stdout etc/hypeman/gpu"
                         % initrd_path, shell=True, capture_output=True, text=True).stdout
    words = dict(l.split()[:2] for l in out.splitlines() if len(l.split()) >= 2)
    return words["release"], words["version"]


def kernel_for(release):
    """The kernel image of RELEASE: the test kernel's (None: the fixture's
    default) or one tests/gpu/make-bundle.sh --suite fetched."""
    wait_for_builds()
    path = os.path.join(CACHE, "gpu", "kernel-" + release, "boot", "vmlinuz-" + release)
    return path if os.path.exists(path) else None


def proc_devices_major(text, name):
    """The character major of name in /proc/devices text, or None."""
    in_char = False
    for line in text.splitlines():
        if line.startswith("Character devices:"):
            in_char = True
        elif line.startswith("Block devices:"):
            in_char = False
        elif in_char and line.split()[1:] == [name]:
            return int(line.split()[0])
    return None
