"""The README's main command: ./demo.sh builds everything and boots the
bundled systemd image with `hypeman run`, mode auto-detected; systemd comes
up as PID 1. --timeout makes it stop itself (Ctrl-Alt-Del to the guest)."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_boots_systemd_as_pid1():
    p = subprocess.run([os.path.join(REPO, "demo.sh"), "--timeout", "60", "-q"],
                       cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=900)
    out = p.stdout + p.stderr
    tail = out[-4000:]
    assert p.returncode == 0, tail
    assert "HYPEMAN-PROGRAM-START" in out and "mode=systemd" in out, tail
    assert "Welcome to" in out and "Debian GNU/Linux" in out, tail
    assert "Started hypeman-agent.service" in out.replace("\x1b[0;1;39m", "").replace("\x1b[0m", ""), tail
    assert "Kernel panic" not in out
