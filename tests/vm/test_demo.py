"""The README's main command: ./demo.sh builds everything and boots the
bundled systemd image with `hypeman run`, mode auto-detected; systemd comes
up as PID 1, the demo says so, and Ctrl-C (SIGINT to its process group, as a
terminal sends it) stops it cleanly (Ctrl-Alt-Del to the guest).
Its initrd with the test agent is its own (out/demo/): the one `hypeman run`
picks by itself afterwards has no agent."""

import glob
import gzip
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.hostrun import Console  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.environ.get("HYPEMAN_OUT") or os.path.join(REPO, "out")
AGENT = "usr/local/bin/guest-agent"


def _names(initrd):
    """The entries of a gzip'ed newc initrd, as cpio lists them."""
    with open(initrd, "rb") as f:
        data = gzip.decompress(f.read())
    p = subprocess.run(["cpio", "-t", "--quiet"], input=data, capture_output=True, check=True)
    return set(p.stdout.decode().split())


def test_demo_boots_systemd_as_pid1():
    # stderr (the demo's lines, hypeman run's) into stdout, read as it comes
    c = Console(["bash", "-c", 'cd "$1" && exec ./demo.sh -q 2>&1', "demo", REPO],
                dict(os.environ))
    try:
        up = c.wait_for(r"demo: systemd is up", 600)
        assert up, c.text[-4000:]
        os.killpg(c.p.pid, signal.SIGINT)        # Ctrl-C
        rc = c.finish(300)
    finally:
        c.kill()
    out = c.text
    tail = out[-4000:]
    assert rc == 0, tail
    assert "stopping the VM" in out and "killing" not in out, tail
    assert "its exit status 0" in out, tail
    assert "HYPEMAN-PROGRAM-START" in out and "mode=systemd" in out, tail
    assert "Welcome to" in out and "Debian GNU/Linux" in out, tail
    assert "Started hypeman-agent.service" in out.replace("\x1b[0;1;39m", "").replace("\x1b[0m", ""), tail
    assert "Kernel panic" not in out
    assert "demo: systemd is up" in out, tail

    # The agent is in the demo's initrd only; hypeman run picks the other.
    demo_initrds = glob.glob(os.path.join(OUT, "demo", "initrd-*"))
    assert len(demo_initrds) == 1, demo_initrds
    default = os.path.join(OUT, os.path.basename(demo_initrds[0]))
    assert AGENT in _names(demo_initrds[0])
    assert AGENT not in _names(default), "%s carries the test agent" % default
    image = os.path.join(os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init"),
                         "images", "systemd-oci")
    # as a user runs it: without the harness's HYPEMAN_INITRD and HYPEMAN_KERNEL
    env = {k: v for k, v in os.environ.items() if k not in ("HYPEMAN_INITRD", "HYPEMAN_KERNEL")}
    p = subprocess.run([os.path.join(OUT, "hypeman"), "run", "-q", "--print-qemu", image],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                       env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    argv = p.stdout.split()
    assert argv[argv.index("-initrd") + 1] == default, p.stdout
