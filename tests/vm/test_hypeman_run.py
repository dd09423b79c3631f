"""`hypeman run` (host/) booting images: OCI image -> disks -> QEMU -> exit
status (what it refuses before booting: tests/host/test_run_image.py).

The tool is built once per session with `make -C host OUT=<tmp>` (or taken
from $HYPEMAN_BIN). The init under test is the conftest `initrd` fixture
($HYPEMAN_INITRD, default out/initrd-test); the kernel is Debian's (the
`kernel` fixture). Run as root: `hypeman run` extracts layers with their
owners.

    /usr/bin/python3 -m pytest tests/vm/test_hypeman_run.py
"""

import glob
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
from lib import disks, hostrun  # noqa: E402
from lib.hostrun import Console, run, hypeman  # noqa: E402,F401
from lib.runimages import WHITEOUT_CMD, whiteout_image  # noqa: E402
from lib.vm import timeout_scale  # noqa: E402

REPO = hostrun.REPO
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
SYSTEMD_IMAGE = os.path.join(CACHE, "images", "systemd-oci")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="hypeman run needs root")


# ---------------------------------------------------------------- exec mode

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
    assert cfg["cmd"] == WHITEOUT_CMD and cfg["entrypoint"] == []
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
