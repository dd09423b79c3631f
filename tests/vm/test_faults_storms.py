"""Fault matrix: process storms, the console
taken by the program, and memory pressure.

- a fork bomb under hypeman.pids_max (the program's cgroup pids.max):
  forks fail with EAGAIN, a Ctrl-Alt-Del still stops the VM within the
  grace period (plus a bound) and every process is reaped;
- 10,000 orphans in 10 bursts: no zombie left;
- a program that closes its console, or reopens it (becoming its
  controlling tty, which the kernel hangs up when the program exits):
  the exit marker and the shutdown log still reach the console;
- a program that makes itself a child subreaper, then exits: its orphans
  fall to PID 1 and are reaped;
- daemons that ignore SIGTERM: SIGKILL after the grace period, all
  reaped, clean disks;
- memory exhausted with -m 128: the OOM killer takes the program, never
  PID 1; the exit marker says OOM; clean shutdown.
"""

import re
import time

import pytest

from lib import disks, faults
from lib.vm import timeout_scale

pytestmark = pytest.mark.vm

GRACE = 2
BOUND_S = 8


@pytest.fixture(scope="module")
def programs():
    return faults.build_programs()


def test_fork_bomb_bounded_and_stopped(vm_factory, tmp_path, programs):
    """hypeman.pids_max=64: the bomb runs in /hypeman-program with
    pids.max 64 and hits EAGAIN; Ctrl-Alt-Del then ends the program, the
    bomb's SIGTERM-immune children get SIGKILL after the 2 s grace, all
    are reaped, the VM powers off within grace + 8 s, disks clean."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/bomb"], install=["bomb"],
                            append_extra="hypeman.pids_max=64 hypeman.grace=%d" % GRACE)
    vm.wait_for("BOMB-LIMITED", timeout=120)
    t0 = time.monotonic()
    vm.monitor("sendkey ctrl-alt-delete")
    faults.powered_off(vm, timeout=90)
    took = time.monotonic() - t0
    text = vm.console_text
    assert "BOMB-CGROUP 0::/hypeman-program\n" in text, text[-3000:]
    assert "BOMB-PIDSMAX 64\n" in text
    stop = faults.log_lines_with(vm, "stop requested (Ctrl-Alt-Del)")
    assert stop, faults.log_summary(vm)
    end = faults.logs(vm)[-1]
    all_, killed = faults.reaped(vm)
    print("fork bomb: stop at %d ms, powered off %d ms later (guest), %.1f s (host); "
          "reaped %d, %d after SIGKILL" % (stop[0]["uptime_ms"], end["uptime_ms"] - stop[0]["uptime_ms"],
                                          took, all_, killed))
    assert killed > 0 and all_ <= 64
    assert not faults.log_lines_with(vm, "still alive")
    assert end["uptime_ms"] - stop[0]["uptime_ms"] < (GRACE + BOUND_S) * 1000
    assert took < (GRACE + BOUND_S) * timeout_scale() + 5
    assert vm.exit_marker() == {"code": 143, "message": "killed by signal 15 (SIGTERM)"}
    faults.assert_disks_clean(guest.vdb)


def test_ten_thousand_orphans(vm_factory, tmp_path, programs):
    """10 bursts of 1000 orphans: all reparented ones reaped, no zombie of
    PID 1 left, the program's own exit still reported."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/orphanstorm", "10", "1000"],
                            install=["orphanstorm"])
    m = vm.wait_for(re.compile(r"STORM-RESULT orphans=(\d+) fork_failed=(\d+) zombies=(\d+) "
                               r"waited_ms=(\d+)\n"), timeout=400)
    print(m.group(0).strip())
    faults.powered_off(vm)
    orphans, failed, zombies, _ = map(int, m.groups())
    assert orphans == 10000 and failed == 0, m.group(0)
    assert zombies == 0, "PID 1 left zombies: " + m.group(0)
    assert vm.exit_marker() == {"code": 0, "message": "success"}
    faults.assert_disks_clean(guest.vdb)


@pytest.mark.parametrize("how", ["close", "reopen"])
def test_program_takes_the_console(vm_factory, tmp_path, programs, how):
    """The program closes its stdout/stderr, or reopens PID 1's console
    device as its controlling tty, then exits 3: the exit marker and the
    shutdown's log lines still reach the console."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/console", how],
                            install=["console"])
    vm.wait_for("CONSOLE-PROGRAM %s" % how, timeout=90)
    faults.powered_off(vm)
    if how == "reopen":
        assert "CONSOLE-REOPENED ctty=1" in vm.console_text
    assert vm.exit_marker() == {"code": 3, "message": "exit code 3"}
    faults.assert_disks_clean(guest.vdb)


def test_subreaper_program_orphans_reaped(vm_factory, tmp_path, programs):
    """The program becomes a child subreaper, leaves 20 zombies and 20
    live orphans of its own and exits: PID 1 inherits and reaps them."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/subreaper"],
                            install=["subreaper"], append_extra="hypeman.grace=%d" % GRACE)
    vm.wait_for("SUBREAPER-READY", timeout=90)
    faults.powered_off(vm)
    all_, killed = faults.reaped(vm)
    print("subreaper: shutdown reaped %d (%d after SIGKILL)" % (all_, killed))
    assert all_ >= 20 and killed == 0
    assert not faults.logs(vm, "shutdown", "WARN")
    assert vm.exit_marker() == {"code": 0, "message": "success"}
    faults.assert_disks_clean(guest.vdb)


def test_daemons_ignoring_sigterm_killed_after_grace(vm_factory, tmp_path, programs):
    """Five daemons (own sessions) ignore SIGTERM and keep writing with
    fsync; the program exits 0: SIGTERM, then SIGKILL after the 2 s grace,
    all five reaped, disks clean, their files on the overlay disk."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/daemons"], install=["daemons"],
                            append_extra="hypeman.grace=%d" % GRACE)
    vm.wait_for("DAEMONS-STARTED 5", timeout=90)
    faults.powered_off(vm)
    term = faults.log_lines_with(vm, "sending SIGTERM to all processes")
    kill = faults.log_lines_with(vm, "processes left after %ds, sending SIGKILL" % GRACE)
    assert term and kill, faults.log_summary(vm)
    waited = kill[0]["uptime_ms"] - term[0]["uptime_ms"]
    all_, killed = faults.reaped(vm)
    print("daemons: SIGKILL %d ms after SIGTERM; reaped %d (%d after SIGKILL)" % (waited, all_, killed))
    assert GRACE * 1000 <= waited < (GRACE + BOUND_S) * 1000
    assert killed == 5 and all_ == 5
    assert not faults.log_lines_with(vm, "still alive")
    assert vm.exit_marker() == {"code": 0, "message": "success"}
    faults.assert_disks_clean(guest.vdb)
    names = disks.ls_ext4(guest.vdb, "/upper/data")
    assert all("daemon-%d" % i in names for i in range(5)), names


def test_oom_takes_the_program_not_pid1(vm_factory, tmp_path, programs):
    """-m 128: the program eats memory; the kernel's OOM killer kills it
    (named in the kernel log), never PID 1; HYPEMAN-EXIT says OOM; clean
    power-off."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/hog"], install=["hog"],
                            mem_mb=128)
    vm.wait_for("HOG-RUNNING", timeout=90)
    faults.powered_off(vm, timeout=120)
    killed = re.findall(r"Out of memory: Killed process (\d+) \(([^)]*)\)", vm.console_text)
    print("OOM kills: %s" % killed)
    assert killed and all(name == "hog" for _, name in killed), killed
    assert all(pid != "1" for pid, _ in killed)
    assert vm.exit_marker() == {"code": 137, "message": "killed by signal 9 (SIGKILL) - OOM"}
    faults.assert_disks_clean(guest.vdb)
