"""`hypeman run` (host/): OCI image -> disks -> QEMU -> exit status.

The tool is built once per session with `make -C host OUT=<tmp>` (or taken
from $HYPEMAN_BIN). The init under test is the conftest `initrd` fixture
($HYPEMAN_INITRD, default out/initrd-test); the kernel is Debian's (the
`kernel` fixture). Run as root: `hypeman run` extracts layers with their
owners.

    /usr/bin/python3 -m pytest tests/vm/test_hypeman_run.py
"""

import glob
import gzip
import json
import os
import re
import shutil
import signal
import sys
import subprocess
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import disks, hostrun, oci  # noqa: E402
from lib.hostrun import Console, imgs, run  # noqa: E402
from lib.oci import D, F, L  # noqa: E402
from lib.vm import timeout_scale  # noqa: E402

REPO = hostrun.REPO
BUSYBOX = "/bin/busybox"
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
SYSTEMD_IMAGE = os.path.join(CACHE, "images", "systemd-oci")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")


@pytest.fixture(scope="session")
def hypeman(tmp_path_factory):
    """Path of the hypeman binary, built from host/ into a temp dir."""
    return hostrun.binary(tmp_path_factory)


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


CMD = ["/bin/sh", "-c", "ls /dir; cat /etc/a.txt; exit 5"]


def whiteout_image(layout, cmd=CMD, env=("PATH=/bin", "FOO=image", "KEEP=1")):
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


# ---------------------------------------------------------------- exec mode

@pytest.mark.quick
@pytest.mark.vm
def test_exec_image_with_whiteouts(hypeman, kernel, initrd, tmp_path):
    """Also the output for people: the init's log shown readably (raw JSON in
    WORK/init.log), what runs and how to stop it, what happened, --timings."""
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    work = tmp_path / "work"
    p = run(hypeman, ["--keep", str(work), "--timings", "--env", "FOO=cli", layout],
            kernel=kernel[0], initrd=initrd)
    out = p.stdout
    assert p.returncode == 5, "rc %d\n--- stderr\n%s\n--- console\n%s" % (
        p.returncode, p.stderr, out[-4000:])
    assert "HYPEMAN-PROGRAM-START" in out and "mode=exec" in out
    assert re.search(r'HYPEMAN-EXIT code=5 message="exit code 5"', out)
    # The merged tree in the guest: /dir holds new.txt only, /etc/a.txt gone.
    prog = out[out.index("HYPEMAN-PROGRAM-START"):out.index("HYPEMAN-EXIT")]
    assert "new.txt" in prog
    assert "old.txt" not in prog
    assert re.search(r"cat: can't open '/etc/a.txt': No such file", prog), prog
    # The same on the host side (--keep keeps the tree).
    root = work / "rootfs"
    assert sorted(os.listdir(root / "dir")) == ["new.txt"]
    assert not os.path.lexists(root / "etc" / "a.txt")
    assert not glob.glob(str(root / "**" / ".wh.*"), recursive=True)
    assert (root / "bin" / "busybox").stat().st_mode & 0o777 == 0o755
    assert oct((root / "tmp").stat().st_mode & 0o7777) == oct(0o1777)
    # config.json: image env then --env (later wins), detected mode.
    cfg = json.loads(disks.read_file_from_ext4(str(work / "config.img"), "/config.json"))
    assert cfg["cmd"] == CMD and cfg["entrypoint"] == []
    assert cfg["env"] == {"PATH": "/bin", "FOO": "cli", "KEEP": "1"}
    assert cfg["init_mode"] == "exec" and cfg["workdir"] == "/"
    assert cfg["network_enabled"] is False and cfg["volume_mounts"] == []
    # Progress lines on stderr.
    assert "hypeman: applying layer 2/2" in p.stderr
    assert "hypeman: making the rootfs disk" in p.stderr
    # The init's log: readable on the console, raw in the run's log file.
    assert not re.search(r'^\{"time"', out, re.M), out[-3000:]
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} INFO  overlay: .*\(\d+ ms\)$", out, re.M), out
    log = [json.loads(l) for l in (work / "init.log").read_text().splitlines()]
    assert {"time", "level", "phase", "msg", "uptime_ms"} <= set(log[0])
    phases = {l["phase"]: l["dur_ms"] for l in log if "dur_ms" in l}
    assert {"mount", "overlay", "config", "switch"} <= set(phases), phases
    # What runs, how to stop it, what happened.
    assert "/bin/sh is running in the VM (exec mode). Ctrl-C stops it" in p.stderr
    assert "for a console, run with -i" in p.stderr
    assert 'the program exited: status 5 ("exit code 5"); the VM powered off' in p.stderr
    # --timings: the host steps and the init's phases, as the log has them.
    assert re.search(r"hypeman:   apply the layers +\d+ ms", p.stderr), p.stderr
    for name, ms in phases.items():
        assert re.search(r"hypeman:   %s +%d ms" % (name, ms), p.stderr), (name, p.stderr)
    assert re.search(r"hypeman:   init -> program start +\d+ ms", p.stderr), p.stderr


@pytest.mark.vm
def test_quiet_volumes_network_and_command(hypeman, kernel, initrd, tmp_path):
    """-q, a command after IMAGE, --volume in rw/ro/overlay modes, --network."""
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    src = tmp_path / "volsrc"
    src.mkdir()
    (src / "hello.txt").write_text("from the host\n")
    rw = disks.ext4_from_dir(str(tmp_path / "rw.img"), str(src), size_mb=32)
    ro = disks.ext4_from_dir(str(tmp_path / "ro.img"), str(src), size_mb=32)
    ov = disks.ext4_from_dir(str(tmp_path / "ov.img"), str(src), size_mb=32)
    work = tmp_path / "work"
    script = ("cat /rw/hello.txt; echo written > /rw/new.txt; "
              "touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused; "
              "echo changed > /ov/hello.txt && cat /ov/hello.txt; "
              "ip -4 addr show eth0 | grep -o 'inet [0-9./]*'; "
              "grep nameserver /etc/resolv.conf; echo \"ENV=$TEST_QUOTE\"; exit 0")
    p = run(hypeman, ["-q", "--keep", str(work), "--network",
                      "-v", "%s:/rw" % rw, "--volume", "%s:/ro:ro" % ro,
                      "--volume", "%s:/ov:overlay" % ov,
                      "--env", 'TEST_QUOTE=a "q" \\ b',
                      layout, "/bin/sh", "-c", script],
            kernel=kernel[0], initrd=initrd)
    assert p.returncode == 0, "rc %d\n%s\n%s" % (p.returncode, p.stderr, p.stdout[-4000:])
    assert p.stderr == "", "-q printed: %r" % p.stderr
    out = p.stdout
    assert "from the host" in out
    assert "ro-refused" in out and "ro-writable" not in out
    assert "changed" in out
    assert "inet 10.0.2.15/24" in out
    assert "nameserver 10.0.2.3" in out
    assert 'ENV=a "q" \\ b' in out
    cfg = json.loads(disks.read_file_from_ext4(str(work / "config.img"), "/config.json"))
    assert cfg["volume_mounts"] == [
        {"device": "/dev/vdd", "path": "/rw", "mode": "rw"},
        {"device": "/dev/vde", "path": "/ro", "mode": "ro"},
        {"device": "/dev/vdf", "path": "/ov", "mode": "overlay", "overlay_device": "/dev/vdg"},
    ]
    assert cfg["network_enabled"] is True and cfg["guest_ip"] == "10.0.2.15"
    assert cfg["guest_cidr"] == 24 and cfg["guest_gw"] == "10.0.2.2"
    assert cfg["cmd"] == ["/bin/sh", "-c", script]
    # rw reached the disk; the overlay volume's lower disk is untouched.
    assert disks.read_file_from_ext4(rw, "/new.txt") == b"written\n"
    assert disks.read_file_from_ext4(ov, "/hello.txt") == b"from the host\n"


@pytest.mark.vm
def test_defaults_boot(hypeman, kernel, initrd, tmp_path):
    """No --kernel, no --initrd: the cached kernel, and the initrd named after
    its release next to the binary (what build.sh --kernel-modules writes)."""
    bindir = tmp_path / "out"
    bindir.mkdir()
    shutil.copy(hypeman, bindir / "hypeman")
    shutil.copy(initrd, bindir / ("initrd-" + kernel[2]))
    (bindir / "initrd").write_bytes(b"the plain initrd would not boot this kernel")
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    p = run(str(bindir / "hypeman"), [layout], cwd="/",
            unset=("HYPEMAN_KERNEL", "HYPEMAN_INITRD"))
    assert p.returncode == 5, "rc %d\n%s\n%s" % (p.returncode, p.stderr, p.stdout[-3000:])
    assert "booting %s with %s" % (kernel[0], bindir / ("initrd-" + kernel[2])) in p.stderr, \
        p.stderr


def test_initrd_without_the_kernels_modules_caught_before_boot(hypeman, kernel, tmp_path):
    """The plain initrd with Debian's kernel (virtio_blk and ext4 are modules
    there): refused before anything is built or booted, with the command
    that makes the right initrd."""
    plain = os.environ.get("HYPEMAN_PLAIN_INITRD") or os.path.join(REPO, "out", "initrd")
    if not os.path.exists(plain):
        pytest.skip("plain initrd not built: %s" % plain)
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    work = tmp_path / "work"
    p = run(hypeman, ["--keep", str(work), layout], kernel=kernel[0], initrd=plain)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "%s has no kernel modules for %s" % (plain, kernel[2]) in p.stderr, p.stderr
    assert "virtio_blk" in p.stderr and "ext4" in p.stderr
    assert "build.sh --kernel-modules %s\n" % os.path.realpath(kernel[1]) in p.stderr, p.stderr
    assert "out/initrd-%s" % kernel[2] in p.stderr
    assert "booting" not in p.stderr and "reading image" not in p.stderr
    assert imgs(work) == []


@pytest.mark.vm
def test_timeout_stops_the_program(hypeman, kernel, initrd, tmp_path):
    """--timeout: Ctrl-Alt-Del through QMP; the init forwards SIGTERM to the
    program, prints the marker and powers off; the status is 128+15."""
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    t0 = time.monotonic()
    p = run(hypeman, ["--timeout", "3", layout, "/bin/sh", "-c",
                      "echo sleeping; exec sleep 1000"],
            kernel=kernel[0], initrd=initrd, env={"TMPDIR": str(tmp_path)})
    assert p.returncode == 143, "rc %d\n%s\n%s" % (p.returncode, p.stderr, p.stdout[-3000:])
    assert "timeout (3 s): stopping the VM" in p.stderr
    assert re.search(r'HYPEMAN-EXIT code=143 message="killed by signal 15', p.stdout)
    assert time.monotonic() - t0 < 120 * timeout_scale()
    assert not glob.glob(str(tmp_path / "hypeman-run.*")), "work dir left behind"


# ---------------------------------------------------------------- refusals

def test_tampered_blob_refused_before_any_disk(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    descs = whiteout_image(layout)
    digest = descs["layers"][1]["digest"]
    path = os.path.join(layout, "blobs", "sha256", digest.split(":")[1])
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x01                   # same size, other content
    with open(path, "wb") as f:
        f.write(data)
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1, p.stderr
    assert digest in p.stderr and "digest mismatch" in p.stderr, p.stderr
    assert imgs(work) == []
    assert not os.path.exists(work / "rootfs" / "bin")   # nothing extracted either

    # A size that disagrees with the descriptor: refused the same way.
    with open(path, "ab") as f:
        f.write(b"x")
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1 and digest in p.stderr, p.stderr
    assert imgs(work) == []


def test_tampered_config_refused(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    descs = whiteout_image(layout)
    digest = descs["config"]["digest"]
    path = os.path.join(layout, "blobs", "sha256", digest.split(":")[1])
    data = open(path, "rb").read().replace(b"FOO=image", b"FOO=imagf")
    with open(path, "wb") as f:
        f.write(data)
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1 and digest in p.stderr, p.stderr
    assert imgs(work) == []


@pytest.mark.parametrize("args, rc, words", [
    (["--init-mode=bogus"], 2, ["--init-mode", "bogus", "auto, exec or systemd"]),
    (["--init-mode", "Exec"], 2, ["--init-mode", "Exec"]),
    (["--volume", "VOLDISK"], 2, ["vol.img", "no mount path"]),
    (["--volume", "VOLDISK:"], 2, ["no mount path"]),
    (["--volume", "VOLDISK:data"], 2, ["not absolute"]),
    (["--volume", "VOLDISK:/a/../b"], 2, [".."]),
    (["--volume", "VOLDISK:/"], 2, ['"/"']),
    (["--volume", "VOLDISK:/data:rx"], 2, ["unknown mode", "rx"]),
    (["--volume", "/nonexistent.img:/data"], 2, ["/nonexistent.img"]),
    (["--env", "NOEQUALS"], 2, ["NOEQUALS", "KEY=VALUE"]),
    (["--env", "=v"], 2, ["empty variable name"]),
    (["--bogus-option"], 2, ["unknown option", "--bogus-option"]),
])
def test_usage_errors(hypeman, tmp_path, args, rc, words):
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    vol = disks.empty_ext4(str(tmp_path / "vol.img"), 8)
    args = [a.replace("VOLDISK", vol) for a in args]
    p = run(hypeman, ["--no-boot", "--keep", str(tmp_path / "work")] + args + [layout])
    assert p.returncode == rc, (p.returncode, p.stderr)
    for w in words:
        assert w in p.stderr, (w, p.stderr)
    assert imgs(tmp_path / "work") == []


def test_layout_errors(hypeman, tmp_path):
    """(Directories that are no layout, names that are registry references:
    tests/host/test_run_archive.py.)"""
    empty = tmp_path / "empty"
    empty.mkdir()
    p = run(hypeman, ["--no-boot", str(empty)])
    assert p.returncode == 1
    assert "%s is a directory, but not an OCI image layout: it has no index.json" % empty \
        in p.stderr, p.stderr

    (empty / "index.json").write_text('{"schemaVersion": 2, "manifests": [')
    p = run(hypeman, ["--no-boot", str(empty)])
    assert p.returncode == 1
    assert "index.json" in p.stderr and "malformed JSON" in p.stderr, p.stderr

    p = run(hypeman, ["--no-boot", str(tmp_path / "nonexistent")])
    assert p.returncode == 1, p.stderr
    assert "%s: No such file or directory (want an OCI image layout" % (tmp_path / "nonexistent") \
        in p.stderr, p.stderr

    # A tag that is not in the index.
    layout = str(tmp_path / "image")
    whiteout_image(layout, env=("PATH=/bin",))
    p = run(hypeman, ["--no-boot", layout + ":v2"])
    assert p.returncode == 1 and 'no manifest tagged "v2"' in p.stderr, p.stderr
    p = run(hypeman, ["--no-boot", "-q", layout + ":latest"])
    assert p.returncode == 0, p.stderr


def test_layer_not_a_tar(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    descs = make_layout(layout, [b"this is not a tar archive\n" * 40], {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1
    assert "not a tar archive" in p.stderr and descs["layers"][0]["digest"] in p.stderr, p.stderr
    assert imgs(work) == []

    # gzip data that is not a tar inside
    layout2 = str(tmp_path / "image2")
    make_layout(layout2, [gzip.compress(b"plain text, gzipped\n" * 50)], {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout2])
    assert p.returncode == 1, p.stderr
    assert "not a tar archive (gzip data holds no tar header)" in p.stderr, p.stderr
    assert imgs(work) == []


def test_errors_say_what_happened(hypeman, tmp_path):
    """Raw tool errors come out as what happened and what to do."""
    work = tmp_path / "work"
    # config.json over the 1 MiB the init accepts: said before any boot.
    lay = str(tmp_path / "big-env")
    oci.write_layout(lay, [[F("x", "x")]], {"Cmd": ["/x"], "Env": ["BIG=" + "x" * (1 << 20)]})
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert "config.json would be 1.0 MB, over the 1 MiB the init accepts" in p.stderr, p.stderr
    assert "config.img" not in imgs(work)
    # A layer cut inside a file's data (its digest matches what is there).
    lay = str(tmp_path / "truncated")
    descs = oci.write_layout(lay, [oci.tar_bytes([F("data", os.urandom(10000))])[:3000]],
                             {"Cmd": ["/x"]})
    p = run(hypeman, ["--no-boot", "--keep", str(work), lay])
    assert p.returncode == 1, p.stderr
    assert "layer 1/1 (%s) is truncated" % descs["layers"][0]["digest"] in p.stderr, p.stderr
    # Kernels that are not there, or not kernels.
    p = run(hypeman, ["--kernel", "/nonexistent/vmlinuz", lay])
    assert p.returncode == 2, p.stderr
    assert "kernel /nonexistent/vmlinuz: No such file or directory" in p.stderr, p.stderr
    p = run(hypeman, ["--kernel", "/etc/hostname", lay])
    assert p.returncode == 2, p.stderr
    assert "kernel /etc/hostname: not an x86 Linux kernel image" in p.stderr, p.stderr


def test_progress_of_a_long_step(hypeman, tmp_path):
    """A step that lasts over 2 s shows its progress every 2 s (lines, when
    stderr is not a terminal). The tool is held 2.5 s on the line that starts
    a layer (its second stderr line), so that the step does last that long."""
    lay = str(tmp_path / "image")
    oci.write_layout(lay, [[F("big", os.urandom(4 << 20))]], {"Cmd": ["/x"]})
    g = hostrun.Gated([hypeman, "run", "--no-boot", lay], "hypeman: reading image %s\n" % lay)
    try:
        g.wait_blocked()
        time.sleep(2.5)			# the step's length, not a wait for an event
        rc, err = g.release()
    finally:
        g.kill()
    assert rc == 0, err
    assert re.search(r"^hypeman: layer 1/1: +\d+% \([\d.]+ [kM]B of 4.2 MB\), \d s$", err, re.M), err
    assert re.search(r"^hypeman: applied layer 1/1: 1 entry in [2-9]\.\d s$", err, re.M), err
    assert re.search(r"^hypeman: making the rootfs disk \(\w+, [\d.]+ MB of files, 1 entry\)$",
                     err, re.M), err


def test_dotdot_member_refused(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    make_layout(layout, [([("etc", "dir", None, 0o755),
                           ("etc/../../escape.txt", "file", "x", 0o644)], False)],
                {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 1 and "refusing entry" in p.stderr and ".." in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "escape.txt")
    assert not os.path.exists(work / "escape.txt")
    assert imgs(work) == []


def test_symlinks_stay_inside_the_root(hypeman, tmp_path):
    """Symlinks of a lower layer (absolute, or climbing with ..) are resolved
    as in a chroot: a later layer's files and whiteouts never reach the host.
    The tree is the one `umoci unpack` makes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("host file\n")
    rel = str(outside).lstrip("/")
    parts = rel.split("/")
    layer1 = [("/".join(parts[:i + 1]), "dir", None, 0o755) for i in range(len(parts))]
    layer1 += [(rel + "/victim.txt", "file", "image file\n", 0o644),
               ("esc", "symlink", str(outside), 0o777),
               ("up", "symlink", "../" * 12 + rel, 0o777),
               ("dang", "symlink", "/nonexistent-hypeman-test", 0o777),
               ("usr", "dir", None, 0o755), ("usr/bin", "dir", None, 0o755),
               ("bin", "symlink", "usr/bin", 0o777)]
    layer2 = [("esc/planted.txt", "file", "x", 0o644),
              ("up/planted2.txt", "file", "x", 0o644),
              ("esc/.wh.victim.txt", "file", "", 0o644),
              ("dang/f.txt", "file", "x", 0o644),
              ("bin/tool", "file", "tool", 0o755)]
    make_layout(layout := str(tmp_path / "image"), [(layer1, False), (layer2, True)],
                {"Cmd": ["/x"]})
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), layout])
    assert p.returncode == 0, p.stderr
    # The host is untouched.
    assert sorted(os.listdir(outside)) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "host file\n"
    assert not os.path.exists("/nonexistent-hypeman-test")
    # Inside the image: followed as in a chroot.
    root = work / "rootfs"
    inside = root / rel
    assert sorted(os.listdir(inside)) == ["planted.txt", "planted2.txt"]
    assert os.path.islink(root / "esc") and os.path.islink(root / "up")
    assert os.path.islink(root / "bin")
    assert (root / "usr" / "bin" / "tool").read_text() == "tool"
    # A dangling symlink is followed too: its target is made, inside the root.
    assert os.path.islink(root / "dang")
    assert (root / "nonexistent-hypeman-test" / "f.txt").read_text() == "x"
    assert len(imgs(work)) == 3
    ref = hostrun.umoci_unpack(layout, "latest", tmp_path / "umoci")
    ours, theirs = hostrun.tree(str(root), mtimes=False), hostrun.tree(ref, mtimes=False)
    assert ours == theirs, hostrun.diff(ours, theirs)


def test_layers_match_umoci(hypeman, tmp_path):
    """Three layers exercising the merge (file <-> dir, a listed directory
    over a symlink, whiteouts of directories, opaque directories, metadata
    of listed vs implied directories) against `umoci unpack`."""
    l1 = [("a", "dir", None, 0o755), ("a/f1", "file", "1", 0o644),
          ("a/sub", "dir", None, 0o700), ("a/sub/deep", "file", "d", 0o600),
          ("b", "file", "b", 0o644), ("c", "dir", None, 0o755), ("c/x", "file", "x", 0o644),
          ("lnk", "symlink", "a", 0o777), ("e", "dir", None, 0o755),
          ("e/keep", "file", "k", 0o644), ("e/gone", "dir", None, 0o755),
          ("e/gone/in", "file", "i", 0o644), ("m", "dir", None, 0o755),
          ("m/old", "file", "o", 0o644), ("rel", "dir", None, 0o755),
          ("rel/t", "file", "t", 0o644), ("rl", "symlink", "rel", 0o777)]
    l2 = [("b", "dir", None, 0o750), ("b/now_dir", "file", "n", 0o644),
          ("c", "file", "now a file", 0o640),
          ("lnk", "dir", None, 0o711), ("lnk/new", "file", "n", 0o644),
          ("e/.wh.gone", "file", "", 0o644),
          ("m", "dir", None, 0o701), ("m/.wh..wh..opq", "file", "", 0o644),
          ("m/sub", "dir", None, 0o755), ("m/sub/n", "file", "n", 0o644),
          ("a", "dir", None, 0o777), ("a/sub/added", "file", "add", 0o644),
          ("rl/via", "file", "v", 0o644)]
    l3 = [("a/.wh.f1", "file", "", 0o644), ("a/f1", "file", "re-added", 0o644),
          ("e/.wh..wh..opq", "file", "", 0o644)]
    layout = str(tmp_path / "image")
    make_layout(layout, [(l1, True), (l2, False), (l3, True)], {"Cmd": ["/x"]})
    ref = hostrun.umoci_unpack(layout, "latest", tmp_path / "umoci")
    work = tmp_path / "work"
    p = run(hypeman, ["-q", "--no-boot", "--keep", str(work), layout])
    assert p.returncode == 0, p.stderr
    ours, ref = hostrun.tree(str(work / "rootfs")), hostrun.tree(ref)
    assert ours == ref, hostrun.diff(ours, ref)
    assert ours["a"][1] == 0o777 and ours["a/sub"][1] == 0o700 and ours["m"][1] == 0o701
    assert "e" in ours and "e/keep" not in ours and "m/old" not in ours
    assert (work / "rootfs" / "a" / "f1").read_text() == "re-added"


def test_rootfs_ext4(hypeman, tmp_path):
    layout = str(tmp_path / "image")
    whiteout_image(layout)
    work = tmp_path / "work"
    p = run(hypeman, ["--no-boot", "--keep", str(work), "--rootfs-fs=ext4", layout])
    assert p.returncode == 0, p.stderr
    assert sorted(disks.ls_ext4(str(work / "rootfs.img"), "/dir")) == ["new.txt"]
    assert disks.stat_ext4(str(work / "rootfs.img"), "/etc/a.txt") is None


# ---------------------------------------------------------------- systemd

def _systemd_image():
    if os.path.exists(os.path.join(SYSTEMD_IMAGE, "index.json")):
        return SYSTEMD_IMAGE
    script = os.path.join(REPO, "tests", "testdata", "systemd", "make-image.sh")
    try:
        p = subprocess.run(["bash", script], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip("systemd image missing and not buildable: %s" % e)
    if p.returncode != 0 or not os.path.exists(os.path.join(SYSTEMD_IMAGE, "index.json")):
        pytest.skip("systemd image missing and not buildable:\n" + p.stdout[-2000:])
    return SYSTEMD_IMAGE


@pytest.mark.vm
def test_systemd_image_auto_detection(hypeman, kernel, initrd, tmp_path):
    image = _systemd_image()
    env = dict(os.environ, TMPDIR=str(tmp_path))
    t0 = time.monotonic()
    c = Console([hypeman, "run", "--kernel", kernel[0], "--initrd", initrd, image], env)
    try:
        m = c.wait_for(r"HYPEMAN-PROGRAM-START ts=\S+ mode=(\w+)\r?\n", 300)
        assert m, "no HYPEMAN-PROGRAM-START:\n" + c.text[-4000:]
        assert m.group(1) == "systemd", c.text[-4000:]
        assert c.wait_for(r"Welcome to .*Debian.*\n", 300), \
            "no systemd banner:\n" + c.text[-4000:]
        booted = time.monotonic() - t0
        # systemd mode does not end by itself: SIGTERM asks for a clean stop
        # (Ctrl-Alt-Del through QMP: systemd reboots, QEMU exits).
        c.wait_for(r"Reached target.*Multi-User.*\n", 300)
        os.killpg(c.p.pid, signal.SIGTERM)
        rc = c.finish(180)
    finally:
        c.kill()
    assert rc == 0, "rc %r after stop\n--- stderr\n%s\n--- console\n%s" % (
        rc, getattr(c, "stderr", ""), c.text[-3000:])
    assert "stopping the VM" in c.stderr
    assert "systemd mode" in c.stderr and "init_mode systemd" in c.stderr
    assert "HYPEMAN-EXIT" not in c.text
    # What runs, how to stop it; then what really happened.
    assert "systemd is running as PID 1 in the VM. Ctrl-C stops it cleanly" in c.stderr
    assert "reboot: Restarting system" in c.text
    assert "systemd rebooted on the stop request; the VM is gone" in c.stderr, c.stderr
    assert "powered off" not in c.stderr
    assert not glob.glob(str(tmp_path / "hypeman-run.*")), "work dir left behind"
    print("systemd banner after %.1f s; stderr:\n%s" % (booted, c.stderr))


@pytest.mark.vm
def test_systemd_image_forced_exec_mode(hypeman, kernel, initrd, tmp_path):
    image = _systemd_image()
    p = run(hypeman, ["--init-mode=exec", "--timeout", "600", image],
            kernel=kernel[0], initrd=initrd)
    out = p.stdout
    m = re.search(r"HYPEMAN-PROGRAM-START ts=\S+ mode=(\w+)", out)
    assert m and m.group(1) == "exec", p.stderr + out[-4000:]
    ex = re.findall(r'HYPEMAN-EXIT code=(\d+) message="([^"]*)"', out)
    assert ex, p.stderr + out[-4000:]
    # /lib/systemd/systemd, not PID 1 here, ends with its own status.
    assert p.returncode == int(ex[-1][0]), (p.returncode, ex, p.stderr)
    assert "init_mode exec" in p.stderr
