#!/usr/bin/python3
"""Debian's current kernel for an architecture, unpacked into a cache for
QEMU tests.

The kernel package is whatever Debian's metapackage linux-image-amd64 (or
linux-image-arm64) currently depends on (`apt-cache depends`). It is
fetched with `apt-get download` into $HYPEMAN_CACHE/kernel/ (default
/var/cache/hypeman-init/kernel/), unpacked once with `dpkg -x` into
$HYPEMAN_CACHE/kernel/<pkgname>/ and indexed with `depmod -b` (kmod reads
another architecture's modules as well). The host's own architecture uses
the machine's apt; another one goes through foreign-apt.sh (a private apt
configuration in $HYPEMAN_CACHE/apt-<arch>/).

    kernel_tree(arch=None) -> (vmlinuz, modules_dir, release)

modules_dir is <root>/lib/modules/<release> (modules.dep etc. inside).
A finished tree is marked by a stamp file, so later calls only check paths.
When apt cannot name the package (no package lists), the newest tree or .deb
already in the cache is used.

CLI: `python3 tests/lib/kernel.py` prints
    VMLINUZ=...
    MODULES_DIR=...
    RELEASE=...
(shell-sourceable; `--field vmlinuz|modules|release` prints one bare value;
`--arch aarch64` picks the arm64 kernel, default the host's architecture).
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


def cache_dir():
    """$HYPEMAN_CACHE/kernel (created)."""
    base = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
    d = os.path.join(base, "kernel")
    os.makedirs(d, exist_ok=True)
    return d


def _apt(arch, tool):
    """argv prefix running apt-get/apt-cache for ARCH's packages."""
    if _arch.norm(arch) == _arch.host():
        return [tool]
    return [os.path.join(_arch.REPO, "foreign-apt.sh"), _arch.deb(arch), tool]


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


def resolve_package(arch=None):
    """Name of the linux-image-<release> package the metapackage depends on,
    or None when apt knows nothing (e.g. `apt-get update` never ran)."""
    arch = arch or _arch.host()
    try:
        out = _run(_apt(arch, "apt-cache") + ["depends", "linux-image-" + _arch.deb(arch)]).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
        if m and not m.group(1).startswith("<"):
            return m.group(1)
    return None


def _release(pkg):
    return pkg[len("linux-image-"):]


def _deb_for(kdir, pkg):
    debs = sorted(glob.glob(os.path.join(kdir, pkg + "_*.deb")))
    return debs[-1] if debs else None


def _tree(kdir, pkg):
    rel = _release(pkg)
    root = os.path.join(kdir, pkg)
    return (os.path.join(root, "boot", "vmlinuz-" + rel),
            os.path.join(root, "lib", "modules", rel), rel)


def _cached_packages(kdir, arch):
    """ARCH's packages with a ready tree or a .deb in the cache,
    newest-looking first."""
    names = set()
    suffix = "-" + _arch.deb(arch)
    for p in glob.glob(os.path.join(kdir, "linux-image-*" + suffix, _STAMP)):
        names.add(os.path.basename(os.path.dirname(p)))
    for p in glob.glob(os.path.join(kdir, "linux-image-*%s_*.deb" % suffix)):
        names.add(os.path.basename(p).split("_")[0])

    def key(name):  # natural sort: 6.1.0-56 > 6.1.0-9
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    return sorted(names, key=key, reverse=True)


def kernel_tree(pkg=None, arch=None):
    """Return (vmlinuz_path, modules_dir, release) of ARCH's kernel (default
    the host's), fetching/unpacking if needed."""
    arch = arch or _arch.host()
    kdir = cache_dir()
    if pkg is None:
        pkg = resolve_package(arch)
    if pkg is None:
        cached = _cached_packages(kdir, arch)
        if not cached:
            raise RuntimeError(
                "cannot resolve linux-image-%s (run `apt-get update`) and no "
                "kernel is cached in %s" % (_arch.deb(arch), kdir))
        pkg = cached[0]
    vmlinuz, moddir, rel = _tree(kdir, pkg)
    root = os.path.join(kdir, pkg)
    if os.path.exists(os.path.join(root, _STAMP)):
        return vmlinuz, moddir, rel

    # Serialise fetch+unpack between concurrent test processes.
    with open(os.path.join(kdir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(root, _STAMP)):
            return vmlinuz, moddir, rel
        deb = _deb_for(kdir, pkg)
        if deb is None:
            t0 = _step("kernel: downloading %s into %s (apt's progress below)" % (pkg, kdir))
            # apt's output on stderr: stdout carries this script's answer
            argv = _apt(arch, "apt-get") + ["-o", "APT::Sandbox::User=root", "download", pkg]
            r = subprocess.run(argv, cwd=kdir, stdout=sys.stderr)
            if r.returncode != 0:
                raise RuntimeError("apt-get download %s failed (exit status %d, its "
                                   "output above)" % (pkg, r.returncode))
            deb = _deb_for(kdir, pkg)
            if deb is None:
                raise RuntimeError("apt-get download %s left no .deb in %s"
                                   % (pkg, kdir))
            _step_done("kernel: downloading %s" % pkg, t0)
        # Unpack into a temporary sibling, then rename: never a half tree.
        t0 = _step("kernel: unpacking %s and running depmod" % os.path.basename(deb))
        tmp = tempfile.mkdtemp(prefix=".unpack-", dir=kdir)
        try:
            _run(["dpkg", "-x", deb, tmp])
            _run(["depmod", "-b", tmp, rel])
            open(os.path.join(tmp, _STAMP), "w").close()
            if os.path.exists(root):
                shutil.rmtree(root)
            os.rename(tmp, root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _step_done("kernel: unpacking %s" % pkg, t0)
    for p in (vmlinuz, os.path.join(moddir, "modules.dep")):
        if not os.path.exists(p):
            raise RuntimeError("kernel tree incomplete: %s missing" % p)
    return vmlinuz, moddir, rel


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
    arch = None
    if len(argv) >= 3 and argv[1] == "--arch":
        arch = _arch.norm(argv[2])
        argv = argv[:1] + argv[3:]
    fields = ("vmlinuz", "modules", "release")
    if not (len(argv) == 1 or (len(argv) == 3 and argv[1] == "--field" and argv[2] in fields)):
        sys.stderr.write("usage: kernel.py [--arch x86_64|aarch64] "
                         "[--field vmlinuz|modules|release]\n")
        return 2
    vmlinuz, moddir, rel = kernel_tree(arch=arch)
    vals = dict(zip(fields, (vmlinuz, moddir, rel)))
    if len(argv) == 3:
        print(vals[argv[2]])
    else:
        print("VMLINUZ=%s\nMODULES_DIR=%s\nRELEASE=%s" % (vmlinuz, moddir, rel))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
