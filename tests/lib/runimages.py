"""Images and fixtures that `hypeman run`'s tests share (tests/vm and
tests/host).

    whiteout_image(layout, cmd, env) -> the two-layer exec image (busybox;
                                 layer 2 whites out /etc/a.txt and makes /dir
                                 opaque); its program exits 5
    make_layout(layout, layers, config) -> a layout of (entries, gzip?) layers
    busybox_entries()          -> /bin/busybox, its applet links, the usual dirs
    two_platforms              (session fixture) a layout with a linux/amd64 and
                               a linux/arm64 image, running PLATFORM_CMD
    other_kernel(arch)         -> Debian's kernel of the other architecture
    out_initrd(arch, name)     -> build.sh's output NAME for ARCH (else skip)
    tool_dir(tmp_path, hypeman, arch, release, initrd) -> a copy of the binary
                               with INITRD where build.sh puts it for RELEASE
    production, plain          (module fixtures) the production-shape kernel,
                               the plain x86_64 initrd
    whiteout_layout            (fixture) whiteout_image() in tmp_path/image
"""

import os
import shutil
import subprocess

import pytest

from lib import arch as _arch, images, kernel as _kernel, oci
from lib.oci import D, F, L

BUSYBOX = "/bin/busybox"
WHITEOUT_CMD = ["/bin/sh", "-c", "ls /dir; cat /etc/a.txt; exit 5"]
PLATFORM_CMD = ["/bin/sh", "-c", "echo machine=$(uname -m); exit 7"]
OTHER = {"x86_64": "aarch64", "aarch64": "x86_64"}


def members(entries):
    """(name, kind, data or target, mode) tuples -> tar members."""
    make = {"dir": lambda n, d, m: D(n, m), "file": lambda n, d, m: F(n, d, m),
            "symlink": lambda n, d, m: L(n, d)}
    return [make[k](n, d, m) if isinstance(n, str) else (n, k) for n, k, d, m in
            [e if len(e) == 4 else (e[0], e[1], None, None) for e in entries]]


def make_layout(layout, layers, config, tag="latest"):
    """layers: (entries, gzip?) pairs or raw blobs; the descriptors."""
    return oci.write_layout(layout, [l if isinstance(l, bytes) else
                                     (members(l[0]), "gzip" if l[1] else None)
                                     for l in layers], config, tag)


def busybox_entries():
    """/bin/busybox, its applet links and the usual empty directories."""
    if not os.path.exists(BUSYBOX):
        pytest.skip("%s missing: apt-get install busybox-static" % BUSYBOX)
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    names = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                           text=True).stdout.split()
    ents = [D(d) for d in ("bin", "etc", "proc", "sys", "dev", "run", "root", "var")]
    ents.append(D("tmp", 0o1777))
    ents.append(F("bin/busybox", bb, 0o755))
    ents += [L("bin/" + n, "busybox") for n in names if n != "busybox"]
    return ents


def whiteout_image(layout, cmd=WHITEOUT_CMD, env=("PATH=/bin", "FOO=image", "KEEP=1")):
    """The two-layer exec image: layer 2 whites out /etc/a.txt and makes
    /dir opaque (old.txt hidden, new.txt added)."""
    layer1 = busybox_entries() + [
        F("etc/a.txt", "a\n"),
        D("dir"),
        F("dir/old.txt", "old\n"),
    ]
    layer2 = [
        D("etc"),
        F("etc/.wh.a.txt", ""),
        D("dir"),
        F("dir/.wh..wh..opq", ""),
        F("dir/new.txt", "new\n"),
    ]
    return make_layout(layout, [(layer1, True), (layer2, False)],
                       {"Cmd": list(cmd), "Env": list(env)})


@pytest.fixture(scope="session")
def two_platforms(tmp_path_factory):
    """A layout with a linux/amd64 and a linux/arm64 image (each its
    architecture's static busybox), running PLATFORM_CMD."""
    d = tmp_path_factory.mktemp("two-platforms")
    trees = {a: images.rootfs(str(d / a), arch=a) for a in ("x86_64", "aarch64")}
    oci.write_multiarch_layout(str(d / "layout"), trees, {"Cmd": PLATFORM_CMD})
    return str(d / "layout")


def other_kernel(arch):
    """Debian's kernel of the other architecture (vmlinuz, modules, release)."""
    try:
        return _kernel.kernel_tree(arch=OTHER[arch])
    except (RuntimeError, OSError) as e:
        pytest.skip("no %s kernel: %s" % (OTHER[arch], e))


def out_initrd(arch, name):
    path = os.path.join(_arch.out_dir(arch), name)
    if not os.path.exists(path):
        pytest.skip("%s not built (./build.sh --arch %s)" % (path, arch))
    return path


def tool_dir(tmp_path, hypeman, arch, rel, initrd):
    """A copy of the binary with INITRD where build.sh puts the one for
    RELEASE (out/initrd-<release>, out/aarch64/initrd-<release> for another
    architecture than the machine's), and plain initrds that would not boot."""
    bindir = tmp_path / "out"
    sub = bindir if arch == _arch.host() else bindir / arch
    sub.mkdir(parents=True)
    shutil.copy(hypeman, bindir / "hypeman")
    shutil.copy(initrd, sub / ("initrd-" + rel))
    for d in {bindir, sub}:
        (d / "initrd").write_bytes(b"the plain initrd would not boot this kernel")
    return bindir, sub / ("initrd-" + rel)


@pytest.fixture(scope="module")
def production():
    """The production-shape kernel (lib.kernel's "hypeman" flavour)."""
    return _kernel.production_kernel()


@pytest.fixture(scope="module")
def plain():
    """./build.sh's plain initrd for x86_64 (skipped when missing)."""
    from conftest import arch_file
    path = arch_file("x86_64", "initrd", "HYPEMAN_PLAIN_INITRD")
    if not os.path.exists(path):
        pytest.skip("plain initrd not built: %s missing (./build.sh)" % path)
    return path


@pytest.fixture
def whiteout_layout(tmp_path):
    """whiteout_image() in TMP_PATH/image."""
    path = str(tmp_path / "image")
    whiteout_image(path)
    return path
