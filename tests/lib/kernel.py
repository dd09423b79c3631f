#!/usr/bin/python3
"""The kernels the VM tests boot, each unpacked or built into a cache.

Flavours (FLAVOURS; "bookworm" when none is named):
  bookworm  Debian's current kernel of the machine's suites: whatever the
            metapackage linux-image-amd64 (linux-image-arm64) depends on
  trixie    the same metapackage in Debian trixie (6.12, modules .ko.xz)
  sid       the same in Debian sid (7.2: the image package depends on split
            linux-base-*, linux-binary-* and linux-modules-* packages, all
            fetched; modules and vmlinuz in /usr/lib/modules/<release>/; no
            modules.dep shipped: depmod makes it)
  cloud     Debian's cloud kernel of the machine's suites,
            linux-image-cloud-amd64 (ext4 built in, virtio as modules)
  hypeman   hypeman's production shape: every boot driver built in, built
            by kernel/build.sh from Debian's linux-source of the bookworm
            kernel's version (the plain initrd boots it)

A Debian flavour's packages are fetched with `apt-get download` into
$HYPEMAN_CACHE/kernel/ (default /var/cache/hypeman-init/kernel/; another
flavour than bookworm into kernel/<flavour>/), unpacked once with `dpkg -x`
into <that folder>/<image package>/ and indexed
with `depmod -b` (kmod reads another architecture's modules as well). The
machine's own suites and architecture use the machine's apt; another suite
or architecture goes through foreign-apt.sh (a private apt configuration in
$HYPEMAN_CACHE/apt-[<suite>-]<arch>/). The hypeman flavour's build is cached
by kernel/build.sh in $HYPEMAN_CACHE/kernel-build/.

    kernel_tree(pkg=None, arch=None, flavour="bookworm")
        -> (vmlinuz, modules_dir, release)
    production_kernel(arch=None) -> the same for the hypeman flavour

modules_dir is <root>/[usr/]lib/modules/<release> (modules.dep etc.
inside). A finished tree is marked by a stamp file, so later calls only
check paths. When apt cannot name the package (no package lists), the
newest tree or .deb of that flavour already in the cache is used.

CLI: `python3 tests/lib/kernel.py` prints
    VMLINUZ=...
    MODULES_DIR=...
    RELEASE=...
(shell-sourceable; `--field vmlinuz|modules|release` prints one bare value;
`--arch aarch64` picks the arm64 kernel, default the host's architecture;
`--flavour F` one of FLAVOURS, e.g. `--flavour hypeman --field vmlinuz`
for the production-shape kernel that tests/bench.py can boot).
"""

import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

try:
    from . import arch as _arch
except ImportError:         # run as a script
    import arch as _arch

_STAMP = ".hypeman-kernel-ready"
# flavour -> (Debian suite, None for the machine's own; the metapackage,
# {deb} the Debian architecture)
_DEBIAN = {
    "bookworm": (None, "linux-image-{deb}"),
    "trixie": ("trixie", "linux-image-{deb}"),
    "sid": ("sid", "linux-image-{deb}"),
    "cloud": (None, "linux-image-cloud-{deb}"),
}
FLAVOURS = tuple(_DEBIAN) + ("hypeman",)


def cache_dir(flavour="bookworm"):
    """$HYPEMAN_CACHE/kernel, or kernel/<flavour> for another flavour than
    bookworm (created). Apart, because `hypeman run` takes the newest
    kernel in kernel/ as its default."""
    base = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
    d = os.path.join(base, "kernel", *([] if flavour == "bookworm" else [flavour]))
    os.makedirs(d, exist_ok=True)
    return d


def _apt(arch, tool, suite=None):
    """argv prefix running apt-get/apt-cache for ARCH's packages of SUITE
    (None: the machine's suites)."""
    if _arch.norm(arch) == _arch.host() and suite is None:
        return [tool]
    return ([os.path.join(_arch.REPO, "foreign-apt.sh")]
            + (["--suite", suite] if suite else []) + [_arch.deb(arch), tool])


def _run(argv, cwd=None):
    return subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def _step(text):
    """A long step's first line (on stderr, like step.sh's); its start time."""
    sys.stderr.write("%s ...\n" % text)
    sys.stderr.flush()
    return time.monotonic()


def _step_done(text, t0):
    sys.stderr.write("%s: done in %.1f s\n" % (text, time.monotonic() - t0))
    sys.stderr.flush()


def _depends(arch, suite, pkg):
    """The packages PKG depends on (apt-cache depends), [] when apt knows
    nothing (e.g. `apt-get update` never ran)."""
    try:
        out = _run(_apt(arch, "apt-cache", suite) + ["depends", pkg]).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [m.group(1) for m in re.finditer(r"^\s*Depends:\s*(\S+)", out, re.M)
            if not m.group(1).startswith("<")]


def resolve_package(arch=None, flavour="bookworm"):
    """Name of the linux-image-<release> package FLAVOUR's metapackage
    depends on, or None when apt knows nothing."""
    arch = arch or _arch.host()
    suite, meta = _DEBIAN[flavour]
    for dep in _depends(arch, suite, meta.format(deb=_arch.deb(arch))):
        if dep.startswith("linux-image-"):
            return dep
    return None


def _release(pkg):
    return pkg[len("linux-image-"):]


def _deb_for(kdir, pkg):
    debs = sorted(glob.glob(os.path.join(kdir, pkg + "_*.deb")))
    return debs[-1] if debs else None


def _tree(kdir, pkg):
    """(vmlinuz, modules dir, release) in PKG's unpacked tree: /boot and
    /lib/modules, or (sid) both in /usr/lib/modules/<release>/."""
    rel = _release(pkg)
    root = os.path.join(kdir, pkg)
    usr = os.path.join(root, "usr", "lib", "modules", rel)
    if os.path.isdir(usr):
        vmlinuz = os.path.join(usr, "vmlinuz")
        if not os.path.exists(vmlinuz):
            vmlinuz = os.path.join(root, "boot", "vmlinuz-" + rel)
        return vmlinuz, usr, rel
    return (os.path.join(root, "boot", "vmlinuz-" + rel),
            os.path.join(root, "lib", "modules", rel), rel)


def _cached_packages(kdir, arch):
    """ARCH's packages with a ready tree or a .deb in KDIR, newest-looking
    first."""
    names = set()
    suffix = "-" + _arch.deb(arch)
    for p in glob.glob(os.path.join(kdir, "linux-image-*" + suffix, _STAMP)):
        names.add(os.path.basename(os.path.dirname(p)))
    for p in glob.glob(os.path.join(kdir, "linux-image-*%s_*.deb" % suffix)):
        names.add(os.path.basename(p).split("_")[0])

    def key(name):  # natural sort: 6.1.0-56 > 6.1.0-9
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    return sorted(names, key=key, reverse=True)


def _download(kdir, arch, suite, pkgs):
    """apt-get download of PKGS into KDIR (those without a .deb there)."""
    want = [p for p in pkgs if _deb_for(kdir, p) is None]
    if not want:
        return
    t0 = _step("kernel: downloading %s into %s (apt's progress below)" % (" ".join(want), kdir))
    # apt's output on stderr: stdout carries this script's answer
    argv = _apt(arch, "apt-get", suite) + ["-o", "APT::Sandbox::User=root", "download"] + want
    r = subprocess.run(argv, cwd=kdir, stdout=sys.stderr)
    if r.returncode != 0:
        raise RuntimeError("apt-get download %s failed (exit status %d, its "
                           "output above)" % (" ".join(want), r.returncode))
    for p in want:
        if _deb_for(kdir, p) is None:
            raise RuntimeError("apt-get download %s left no .deb in %s" % (p, kdir))
    _step_done("kernel: downloading", t0)


def _unpack(kdir, pkg, pkgs):
    """PKGS' .debs unpacked into KDIR/PKG, depmod run: never a half tree."""
    debs = [_deb_for(kdir, p) for p in pkgs]
    t0 = _step("kernel: unpacking %s and running depmod" % " ".join(map(os.path.basename, debs)))
    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=kdir)
    try:
        for deb in debs:
            _run(["dpkg", "-x", deb, tmp])
        rel = _release(pkg)
        # depmod -b BASE reads BASE/lib/modules/<release>
        usr = os.path.isdir(os.path.join(tmp, "usr", "lib", "modules", rel))
        _run(["depmod", "-b", os.path.join(tmp, "usr") if usr else tmp, rel])
        open(os.path.join(tmp, _STAMP), "w").close()
        root = os.path.join(kdir, pkg)
        if os.path.exists(root):
            shutil.rmtree(root)
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _step_done("kernel: unpacking %s" % pkg, t0)


def _same_release(pkg, deps):
    """The packages of PKG's release among its DEPS (sid's split packages:
    linux-base-R, linux-binary-R, linux-modules-R); none on bookworm."""
    rel = _release(pkg)
    return [d for d in deps if d.startswith("linux-") and d.endswith("-" + rel)]


def kernel_tree(pkg=None, arch=None, flavour="bookworm"):
    """Return (vmlinuz_path, modules_dir, release) of ARCH's FLAVOUR
    kernel (default the host's, bookworm's), fetching/unpacking or
    building it if needed. Once per process: asking apt takes seconds."""
    arch = arch or _arch.host()
    memo = (pkg, _arch.norm(arch), flavour)
    if memo not in _tree_memo:
        _tree_memo[memo] = _kernel_tree(pkg, arch, flavour)
    return _tree_memo[memo]


_tree_memo = {}


def _kernel_tree(pkg, arch, flavour):
    if flavour == "hypeman":
        return production_kernel(arch)
    if flavour not in _DEBIAN:
        raise ValueError("unknown kernel flavour %r (%s)" % (flavour, ", ".join(FLAVOURS)))
    kdir = cache_dir(flavour)
    if pkg is None:
        pkg = resolve_package(arch, flavour)
    if pkg is None:
        cached = _cached_packages(kdir, arch)
        if not cached:
            raise RuntimeError(
                "cannot resolve the %s kernel for %s (run `apt-get update`) and none "
                "is cached in %s" % (flavour, _arch.deb(arch), kdir))
        pkg = cached[0]
    root = os.path.join(kdir, pkg)
    if not os.path.exists(os.path.join(root, _STAMP)):
        # Serialise fetch+unpack between concurrent test processes.
        with open(os.path.join(kdir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(os.path.join(root, _STAMP)):
                suite = _DEBIAN[flavour][0]
                pkgs = [pkg] + _same_release(pkg, _depends(arch, suite, pkg))
                _download(kdir, arch, suite, pkgs)
                _unpack(kdir, pkg, pkgs)
    vmlinuz, moddir, rel = _tree(kdir, pkg)
    for p in (vmlinuz, os.path.join(moddir, "modules.dep")):
        if not os.path.exists(p):
            raise RuntimeError("kernel tree incomplete: %s missing" % p)
    return vmlinuz, moddir, rel


def _debian_version(arch):
    """The Debian version of the bookworm kernel package (6.1.192-3): the
    linux source the production-shape kernel is built from."""
    vmlinuz, moddir, rel = kernel_tree(arch=arch)
    deb = _deb_for(cache_dir(), "linux-image-" + rel)
    if deb:
        return _run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
    out = _run(_apt(arch, "apt-cache") + ["show", "--no-all-versions",
                                          "linux-image-" + rel]).stdout
    return re.search(r"^Version: (\S+)", out, re.M).group(1)


def production_kernel(arch=None):
    """(vmlinuz, modules_dir, release) of the hypeman flavour for ARCH:
    kernel/build.sh's build from Debian's linux-source of the bookworm
    kernel's version (cached; the first call builds it: tens of minutes)."""
    arch = _arch.norm(arch or _arch.host())
    argv = [os.path.join(_arch.REPO, "kernel", "build.sh"), "--arch", arch,
            "--version", _debian_version(arch)]
    # its step lines on stderr; stdout's last line: the build's directory
    r = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("kernel/build.sh failed (exit status %d, its output above)"
                           % r.returncode)
    dest = r.stdout.strip().splitlines()[-1]
    mods = glob.glob(os.path.join(dest, "lib", "modules", "*", "modules.builtin"))
    if len(mods) != 1:
        raise RuntimeError("kernel/build.sh's %s holds no single lib/modules/<release>" % dest)
    moddir = os.path.dirname(mods[0])
    return os.path.join(dest, "vmlinuz"), moddir, os.path.basename(moddir)


# An x86 bzImage's payload (boot protocol 2.08+): offset from the end of
# the setup sectors, and length; the setup sector count at 0x1f1.
_BZ_SETUP_SECTS, _BZ_PAYLOAD = 0x1f1, 0x248
_XEN_ELFNOTE_PHYS32_ENTRY = 18


def _has_pvh_entry(elf):
    """Whether ELF (a 64-bit little-endian vmlinux's bytes) has the PVH
    entry note (Xen's PHYS32_ENTRY) QEMU, Cloud Hypervisor and
    Firecracker start it at."""
    import struct
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:         # PT_NOTE
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, at)
            name = elf[at + 12:at + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == _XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            at += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def _bzimage_payload(data):
    """The uncompressed vmlinux inside an x86 bzImage, or None (not a
    bzImage, or a compression with no tool here). The payload ends with
    the uncompressed size (4 bytes, little-endian): checked."""
    import gzip
    import lzma
    import struct
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return None
    setup = ((data[_BZ_SETUP_SECTS] or 4) + 1) * 512
    off, length = struct.unpack_from("<II", data, _BZ_PAYLOAD)
    payload = data[setup + off:setup + off + length]
    size, = struct.unpack("<I", payload[-4:])
    try:
        if payload[:6] == b"\xfd7zXZ\0":
            elf = lzma.LZMADecompressor().decompress(payload)
        elif payload[:2] == b"\x1f\x8b":
            elf = gzip.decompress(payload[:-4])
        elif payload[:4] in (b"\x28\xb5\x2f\xfd", b"\x02\x21\x4c\x18"):   # zstd, lz4 legacy
            tool = ["zstd", "-dcq"] if payload[0] == 0x28 else ["lz4", "-dcq"]
            elf = subprocess.run(tool, input=payload[:-4], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, check=True).stdout
        else:
            return None
    except (lzma.LZMAError, OSError, EOFError, subprocess.CalledProcessError):
        return None
    return elf if len(elf) == size else None


def fast_boot_image(vmlinuz):
    """What QEMU boots for the x86 bzImage VMLINUZ: its uncompressed
    vmlinux when it has a PVH entry (as Cloud Hypervisor and Firecracker
    boot hypeman's kernel), else VMLINUZ itself. The same kernel; its xz
    decompression alone takes seconds under TCG, in every VM test. Cached
    in $HYPEMAN_CACHE/vmlinux/, keyed by the bzImage's contents."""
    import hashlib
    vmlinuz = os.path.realpath(vmlinuz)
    st = os.stat(vmlinuz)
    memo = (vmlinuz, st.st_size, st.st_mtime_ns)
    if memo in _fast_boot_memo:
        return _fast_boot_memo[memo]
    with open(vmlinuz, "rb") as f:
        data = f.read()
    d = os.path.join(os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init"), "vmlinux")
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, hashlib.sha256(data).hexdigest()[:32])
    result = vmlinuz
    with open(base + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # one extraction among test workers
        if os.path.exists(base + ".vmlinux"):
            result = base + ".vmlinux"
        elif not os.path.exists(base + ".none"):
            elf = _bzimage_payload(data)
            out = base + (".vmlinux" if elf and _has_pvh_entry(elf) else ".none")
            with open(out + ".tmp", "wb") as f:
                f.write(elf if out.endswith(".vmlinux") else b"")
            os.replace(out + ".tmp", out)
            if out.endswith(".vmlinux"):
                result = out
    _fast_boot_memo[memo] = result
    return result


_fast_boot_memo = {}


def module_closure(moddir, names):
    """Module files needed to load `names` (module names, '-' or '_'), in a
    valid load order (dependencies first), from modules.dep and the
    `pre:` entries of modules.softdep (an alias there, like crypto-crc32c,
    brings every module with that exact alias). Modules built into the
    kernel (modules.builtin) are skipped. Returns absolute paths."""
    norm = lambda n: n.replace("-", "_")
    deps, path_of = {}, {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            target, _, rest = line.partition(":")
            name = norm(os.path.basename(target).split(".ko")[0])
            path_of[name] = os.path.join(moddir, target)
            deps[name] = [norm(os.path.basename(d).split(".ko")[0])
                          for d in rest.split()]
    builtin = set()
    bpath = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bpath):
        with open(bpath) as f:
            builtin = {norm(os.path.basename(l.strip()).split(".ko")[0])
                       for l in f if l.strip()}
    # modules.alias, exact names only (softdeps name aliases: crypto-crc32c)
    alias = {}
    apath = os.path.join(moddir, "modules.alias")
    if os.path.exists(apath):
        with open(apath) as f:
            for line in f:
                w = line.split()
                if len(w) == 3 and w[0] == "alias" and not any(
                        c in w[1] for c in "*?["):
                    alias.setdefault(norm(w[1]), []).append(norm(w[2]))
    soft = {}  # module -> "pre:" softdeps, as module names
    spath = os.path.join(moddir, "modules.softdep")
    if os.path.exists(spath):
        with open(spath) as f:
            for line in f:
                w = line.split()
                if len(w) < 3 or w[0] != "softdep":
                    continue
                mode = None  # like kmod: tokens before "pre:" are ignored
                for tok in w[2:]:
                    if tok in ("pre:", "post:"):
                        mode = tok
                    elif mode == "pre:":
                        t = norm(tok)
                        for m in ([t] if t in path_of else alias.get(t, [])):
                            soft.setdefault(norm(w[1]), []).append(m)
    order, seen = [], set()

    def visit(n, stack=()):
        if n in seen or n in stack:
            return
        if n not in path_of:
            if n in builtin:
                return
            raise KeyError("module %s not found in %s" % (n, moddir))
        for d in soft.get(n, []):
            if d in path_of or d in builtin:
                visit(d, stack + (n,))
        for d in deps[n]:
            visit(d, stack + (n,))
        seen.add(n)
        order.append(path_of[n])
    for n in names:
        visit(norm(n))
    return order


def main(argv):
    import argparse
    p = argparse.ArgumentParser(prog="kernel.py", description="A test kernel, cached.")
    p.add_argument("--arch", type=_arch.norm, default=None, help="x86_64 or aarch64")
    p.add_argument("--flavour", choices=FLAVOURS, default="bookworm")
    p.add_argument("--field", choices=("vmlinuz", "modules", "release"))
    a = p.parse_args(argv[1:])
    vmlinuz, moddir, rel = kernel_tree(arch=a.arch, flavour=a.flavour)
    vals = {"vmlinuz": vmlinuz, "modules": moddir, "release": rel}
    if a.field:
        print(vals[a.field])
    else:
        print("VMLINUZ=%s\nMODULES_DIR=%s\nRELEASE=%s" % (vmlinuz, moddir, rel))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
