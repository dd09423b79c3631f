"""`hypeman run` (host/) for the tests: the binary, running it, the trees it
builds and the ones `umoci unpack` builds from the same layout.

    binary(tmp_path_factory)     -> path of hypeman (built once per process,
                                    or $HYPEMAN_BIN)
    hypeman                      (session fixture) binary()'s path
    run(hypeman, args, ...)      -> CompletedProcess (text)
    tree(root)                   -> {path: (type, mode, uid, gid, size, link,
                                    mtime, xattrs, sha256, hard links)}
    umoci_unpack(layout, tag, d) -> d/rootfs, unpacked by umoci
    unpack(hypeman, layout, d, arch) -> (d/rootfs, config.json): the image
                                    unpacked by the tool itself (--no-boot
                                    --keep D), and the config it made of it
    recompressed(initrd, argv, out) -> out: the initrd's first archive
                                    through the compressor ARGV instead
    printed_argv(p)              -> the QEMU command `--print-qemu` printed
    harness_argv(work, ...)      -> the command tests/lib/vm.py runs for the
                                    same disks (what --print-qemu must match)
    Console                      -> hypeman run in the background
"""

import hashlib
import json
import os
import re
import select
import shlex
import signal
import stat
import subprocess
import time

import pytest

from lib import disks
from lib.vm import VM, Disk, timeout_scale

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_built = {}


def binary(tmp_path_factory):
    """The hypeman binary: $HYPEMAN_BIN, else `make -C host` into a temp dir."""
    if os.environ.get("HYPEMAN_BIN"):
        return os.environ["HYPEMAN_BIN"]
    if "path" not in _built:
        out = tmp_path_factory.mktemp("hypeman-bin")
        p = subprocess.run(["make", "-C", os.path.join(REPO, "host"), "OUT=%s" % out],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert p.returncode == 0, "make -C host failed:\n" + p.stdout
        _built["path"] = str(out / "hypeman")
    return _built["path"]


def run(hypeman, args, kernel=None, initrd=None, timeout=300, env=None, cwd=None,
        unset=()):
    """hypeman run ARGS -> CompletedProcess (text). unset: variables removed
    from the environment."""
    argv = [hypeman, "run"]
    if kernel:
        argv += ["--kernel", kernel]
    if initrd:
        argv += ["--initrd", initrd]
    e = dict(os.environ)
    e.update(env or {})
    for k in unset:
        e.pop(k, None)
    return subprocess.run(argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, errors="replace", env=e, cwd=cwd,
                          timeout=timeout * timeout_scale())


def recompressed(initrd, argv, out):
    """INITRD (gzip'ed, perhaps with archives appended, as build.sh writes
    it) with its first archive compressed by ARGV (stdin to stdout) instead,
    the rest as it was; written to OUT."""
    import zlib
    with open(initrd, "rb") as f:
        data = f.read()
    d = zlib.decompressobj(wbits=31)
    first = d.decompress(data) + d.flush()
    packed = subprocess.run(argv, input=first, capture_output=True, check=True).stdout
    with open(out, "wb") as f:
        f.write(packed + d.unused_data)
    return str(out)


def printed_argv(p):
    """The QEMU command line that `hypeman run --print-qemu` printed on its
    stdout (one shell-quoted line), as a list."""
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and len(lines) == 1, (p.returncode, p.stdout, p.stderr)
    return shlex.split(lines[0])


def harness_argv(work, kernel, initrd, arch, extra=(), mem_mb=1024, machine=None):
    """The QEMU command tests/lib/vm.py runs for the disks `hypeman run --keep
    WORK` made (rootfs read-only, overlay, config; sockets in WORK): the same
    machine, CPU, devices and console (the kernel as given); EXTRA at the end."""
    disks = [Disk(os.path.join(str(work), "rootfs.img"), readonly=True),
             os.path.join(str(work), "overlay.img"), os.path.join(str(work), "config.img")]
    return VM(str(work), initrd, disks=disks, mem_mb=mem_mb, kernel=kernel, arch=arch,
              machine=machine, extra_args=list(extra), as_given=True).argv()


def imgs(workdir):
    """The disk images in a --keep directory."""
    return sorted(n for n in os.listdir(str(workdir)) if n.endswith(".img")) \
        if os.path.isdir(str(workdir)) else []


def _xattrs(p):
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return ()
    return tuple(sorted((n, os.getxattr(p, n, follow_symlinks=False)) for n in names
                        if not n.startswith("security.selinux")))


def tree(root, mtimes=True):
    """Everything below root: {path: (type, mode, uid, gid, size, link target,
    mtime, xattrs, sha256 of the content, the paths sharing its inode)}.
    mtimes=False leaves the times out (for implied directories)."""
    res, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if not stat.S_ISDIR(st.st_mode):
                inodes.setdefault(st.st_ino, []).append(rel)
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            res[rel] = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                        st.st_gid, 0 if stat.S_ISDIR(st.st_mode) else st.st_size, link,
                        int(st.st_mtime) if mtimes else None, _xattrs(p), digest,
                        st.st_rdev, st.st_ino]
    for rel, v in res.items():
        ino = v.pop()
        v.append(tuple(sorted(inodes.get(ino, []))) if not stat.S_ISDIR(v[0]) else ())
        res[rel] = tuple(v)
    return res


def diff(ours, ref):
    """The paths where two trees differ, for assertion messages."""
    lines = []
    for k in sorted(set(ours) | set(ref)):
        if ours.get(k) != ref.get(k):
            lines.append("%s:\n  hypeman %s\n  umoci   %s" % (k, ours.get(k), ref.get(k)))
    return "\n".join(lines)


def umoci_unpack(layout, tag, dest):
    """`umoci unpack --image LAYOUT:TAG DEST` (as root); DEST/rootfs."""
    p = subprocess.run(["umoci", "unpack", "--image", "%s:%s" % (layout, tag), str(dest)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, "umoci unpack failed:\n" + p.stdout
    return os.path.join(str(dest), "rootfs")


def unpack(hypeman, layout, dest, arch=None):
    """LAYOUT[:TAG] as the tool unpacks it: `hypeman run --no-boot --keep
    DEST`. Returns (DEST/rootfs, the config.json it made of the image's
    config: entrypoint, cmd, env, workdir...)."""
    p = run(hypeman, ["-q", "--no-boot", "--keep", str(dest)] +
            (["--arch", arch] if arch else []) + [str(layout)], timeout=1200)
    assert p.returncode == 0, "hypeman run --no-boot %s: %s" % (layout, p.stderr)
    cfg = disks.read_file_from_ext4(os.path.join(str(dest), "config.img"), "/config.json")
    return os.path.join(str(dest), "rootfs"), json.loads(cfg)


class Console:
    """hypeman run in the background, its stdout read as it comes."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, start_new_session=True)
        self.text = ""

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout * timeout_scale()
        rx = re.compile(pattern)
        while not rx.search(self.text):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], min(left, 1.0))
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    return rx.search(self.text)
                self.text += chunk.decode(errors="replace")
        return rx.search(self.text)

    def finish(self, timeout):
        """Wait for the exit (killing the group after timeout); returns rc."""
        try:
            rest, err = self.p.communicate(timeout=timeout * timeout_scale())
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            rest, err = self.p.communicate()
            self.text += rest.decode(errors="replace")
            self.stderr = err.decode(errors="replace")
            return None
        self.text += rest.decode(errors="replace")
        self.stderr = err.decode(errors="replace")
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.communicate()


class Gated:
    """hypeman run with its stderr in a one-page pipe, filled beforehand so
    that the tool's first line just fits: it then blocks writing its second
    line, at a known point of its work, until release(). No timing involved.

        g = Gated([hypeman, "run", ..., layout], "hypeman: reading image %s\\n" % layout)
        g.wait_blocked()       # e.g. at "applying layer 1/2 ..."
        ...                    # act while the tool is held there
        rc, err = g.release()
    """

    def __init__(self, argv, first_line, env=None):
        import fcntl
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
        self.fill = fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) - len(first_line.encode())
        os.write(w, b"\0" * self.fill)
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=w,
                                  env=dict(os.environ, **(env or {})))
        os.close(w)
        self.r = r

    def wait_blocked(self, timeout=60):
        """Until the tool sleeps in a pipe write (its second stderr line)."""
        deadline = time.monotonic() + timeout * timeout_scale()
        while time.monotonic() < deadline and self.p.poll() is None:
            with open("/proc/%d/wchan" % self.p.pid) as f:
                if f.read().strip().endswith("pipe_write"):
                    return
            time.sleep(0.01)
        raise AssertionError("hypeman never blocked on its second line (rc %r)" % self.p.poll())

    def release(self, timeout=120):
        """Lets it go on; (exit status, stderr text)."""
        chunks = []
        while True:
            b = os.read(self.r, 65536)
            if not b:
                break
            chunks.append(b)
        os.close(self.r)
        rc = self.p.wait(timeout=timeout * timeout_scale())
        return rc, b"".join(chunks)[self.fill:].decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture(scope="session")
def hypeman(tmp_path_factory):
    """Path of the hypeman binary (binary()); tests import this fixture."""
    return binary(tmp_path_factory)
