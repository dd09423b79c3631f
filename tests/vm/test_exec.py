"""VM acceptance tests of hypeman-init's exec mode (contract: Exec mode,
"Markers"): the program runs as PID 1's child, and PID 1 reaps, forwards
signals, stops it, reports its exit and powers off cleanly.

Run: HYPEMAN_INITRD=/path/initrd-test /usr/bin/python3 -m pytest tests/vm/test_exec.py

The programs in the guests are small static (musl) C programs, compiled
once per session from the sources below; most images have no /bin/sh.
"""

import calendar
import datetime
import os
import re
import subprocess
import time

import pytest

from lib import agent, disks, images
from lib import arch as _arch

pytestmark = [pytest.mark.vm, pytest.mark.multiarch]

GRACE = 2     # hypeman.grace=N in the tests that time the stop path

# ---- guest programs (static C) --------------------------------------------


PROGRAMS = ("hello", "exitwith", "orphans", "sigprog", "status", "writer", "agentprobe",
            "devcheck")


@pytest.fixture(scope="session")
def progs(arch):
    """{name: path of the static binary} (tests/testdata/progs/NAME.c)"""
    return {n: images.guest_program(n, arch) for n in PROGRAMS}


# ---- helpers --------------------------------------------------------------

def boot(vm_factory, tmp_path, progs, arch, cmd, install, env=None, agent_on=False,
         busybox=False, files=None, volumes=(), config=None, **vm_kw):
    """Image with programs INSTALL {image path: program name} (+FILES),
    config cmd=CMD, env=ENV; the agent runs only when AGENT_ON. Returns
    (vm, guest)."""
    f = dict(files or {})
    for dst, name in install.items():
        with open(progs[name], "rb") as fh:
            f[dst] = (fh.read(), 0o755)
    root = images.rootfs(tmp_path / "root", files=f, busybox=busybox, arch=arch)
    cfg = {"cmd": cmd, "env": env or {}, "skip_guest_agent": not agent_on}
    cfg.update(config or {})
    guest = images.Guest(tmp_path / "disks", root, cfg, volumes=volumes)
    vm = vm_factory(disks=guest.disks, **vm_kw)
    return vm, guest


def clean_lines(vm):
    return [l.rstrip() for l in vm.lines()]


def line_index(lines, pred, what):
    for i, l in enumerate(lines):
        if pred(l):
            return i
    raise AssertionError("no console line %s" % what)


def assert_clean_poweroff(vm, timeout=60):
    """Guest powered off by itself (QEMU rc 0), no panic, and the
    shutdown phase ran to its end without warnings or errors."""
    rc = vm.wait_exit(timeout=timeout)
    vm.assert_no_panic()
    assert rc == 0, "QEMU exit code %r" % rc
    logs = vm.log_lines()
    shut = [o for o in logs if o.get("phase") == "shutdown"]
    assert shut, "no shutdown-phase log line"
    assert "dur_ms" in shut[-1], "shutdown phase did not end: %r" % shut[-1]
    bad = [o for o in shut if o.get("level") != "INFO"]
    assert not bad, "shutdown warnings/errors: %r" % bad
    assert vm.malformed_log_lines() == []


TS_RX = re.compile(r"HYPEMAN-PROGRAM-START ts=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z mode=exec")


def check_program_start(vm, first_output=None):
    """Exactly one HYPEMAN-PROGRAM-START line, ts in RFC3339 UTC with 9
    fraction digits (close to the host's clock), mode=exec, and before the
    program's first line FIRST_OUTPUT (a prefix). Returns its index."""
    lines = clean_lines(vm)
    starts = [i for i, l in enumerate(lines) if l.startswith("HYPEMAN-PROGRAM-START")]
    assert len(starts) == 1, "PROGRAM-START lines: %r" % [lines[i] for i in starts]
    i = starts[0]
    m = TS_RX.fullmatch(lines[i])
    assert m, "malformed marker: %r" % lines[i]
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1e9
    assert abs(t - time.time()) < 600, "ts %s is far from the host's clock (%s)" % (
        lines[i], datetime.datetime.utcnow().isoformat())
    if first_output is not None:
        j = line_index(lines, lambda l: l.startswith(first_output), "starting with %r" % first_output)
        assert i < j, "HYPEMAN-PROGRAM-START after the program's output"
    return i


def check_exit_line(vm, code, message):
    want = 'HYPEMAN-EXIT code=%d message="%s"' % (code, message)
    lines = clean_lines(vm)
    exits = [l for l in lines if l.startswith("HYPEMAN-EXIT")]
    assert exits == [want], "HYPEMAN-EXIT lines %r, want [%r]" % (exits, want)
    assert vm.exit_marker() == {"code": code, "message": message}
    return lines.index(want)


def log_after(vm, line_idx):
    """The first JSON log object after console line LINE_IDX."""
    from lib.vm import parse_log
    lines = vm.lines()
    for l in lines[line_idx + 1:]:
        objs = parse_log(l)
        if objs:
            return objs[0]
    raise AssertionError("no log line after console line %d" % line_idx)


def pid1_signal(vm, sig, tolerate_gone=False):
    """kill -SIG 1 in the guest through the agent. With TOLERATE_GONE, the
    agent may be stopped with everything else before it answers."""
    try:
        code, out, err = agent.sh(vm.agent_socket, "kill -%s 1" % sig, timeout=20)
    except agent.AgentError:
        if tolerate_gone:
            return None
        raise
    assert code == 0, "kill -%s 1: code %d %r" % (sig, code, err)
    return code


# ---- tests ----------------------------------------------------------------

def test_static_program_without_shell_via_config_path(vm_factory, tmp_path, progs, arch):
    """No /bin/sh in the image: argv is exec'd directly; the bare name is
    found through the PATH of the config env; argv, workdir, env (HOME
    default added, PATH kept), stdin /dev/null, stdout+stderr on the
    console; exit 0 is "success"."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch,
                 cmd=["hello", "two words", ""],
                 install={"/opt/app/bin/hello": "hello"},
                 files={"/srv/app/.keep": ""},
                 env={"PATH": "/nonexistent:/opt/app/bin:/usr/bin", "GREETING": "hi there"},
                 config={"workdir": "/srv/app"})
    vm.wait_for("HELLO-FROM-STATIC argc=3")
    assert_clean_poweroff(vm)
    lines = clean_lines(vm)
    for want in ("HELLO argv[0]=<hello>", "HELLO argv[1]=<two words>", "HELLO argv[2]=<>",
                 "HELLO cwd=</srv/app>", "HELLO stdin=</dev/null>",
                 "HELLO PATH=</nonexistent:/opt/app/bin:/usr/bin>",
                 "HELLO HOME=</root>", "HELLO GREETING=<hi there>",
                 "HELLO-STDERR reaches the console"):
        assert want in lines, "missing console line %r" % want
    assert not os.path.exists(tmp_path / "root" / "bin" / "sh")
    check_program_start(vm, "HELLO-FROM-STATIC")
    check_exit_line(vm, 0, "success")


EXIT_CASES = [
    # id, cmd, files, code, message, program output expected
    ("0", ["exitwith", "0"], {}, 0, "success", True),
    ("1", ["exitwith", "1"], {}, 1, "exit code 1", True),
    ("42", ["exitwith", "42"], {}, 42, "exit code 42", True),
    ("255", ["exitwith", "255"], {}, 255, "exit code 255", True),
    ("sigkill", ["exitwith", "kill"], {}, 137, "killed by signal 9 (SIGKILL)", True),
    ("sigsegv", ["exitwith", "segv"], {}, 139, "killed by signal 11 (SIGSEGV)", True),
    ("oom", ["exitwith", "oom"], {}, 137, "killed by signal 9 (SIGKILL) - OOM", True),
    ("missing", ["no-such-program", "x"], {}, 127, "command not found", False),
    ("not-executable", ["/usr/local/bin/notexec"],
     {"/usr/local/bin/notexec": ("\x7fELF not really\n", 0o644)},
     126, "permission denied (command not executable)", False),
]


@pytest.mark.parametrize("cmd,files,code,message,runs",
                         [c[1:] for c in EXIT_CASES], ids=[c[0] for c in EXIT_CASES])
def test_exit_code(vm_factory, tmp_path, progs, arch, cmd, files, code, message, runs):
    """The exact HYPEMAN-EXIT line for each way the program ends, then a
    clean power-off. The program is a bare name found through the default
    PATH (no PATH in the config env)."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=cmd,
                 install={"/usr/local/bin/exitwith": "exitwith"}, files=files)
    vm.wait_for("HYPEMAN-EXIT")
    assert_clean_poweroff(vm)
    check_program_start(vm, "EXITWITH-RUNNING" if runs else None)
    check_exit_line(vm, code, message)
    if runs:
        assert "EXITWITH-RUNNING %s" % cmd[1] in clean_lines(vm)
        assert "EXITWITH-STILL-ALIVE" not in vm.console_text


MISSING_INTERPRETER_CASES = [
    # id, cmd, files: the program exists, what it needs to start does not
    ("script", ["hello.sh"],
     {"/usr/local/bin/hello.sh": ("#!/bin/bash -e\necho HELLO\n", 0o755)},
     "/usr/local/bin/hello.sh: its interpreter /bin/bash (its #! line) is not in the image"),
    ("elf", ["/dyn"], None,
     "/dyn: its ELF interpreter (dynamic loader) /lib/hm-no-such-loader.so.1 is not in the image"),
]


@pytest.mark.parametrize("cmd,files,why", [c[1:] for c in MISSING_INTERPRETER_CASES],
                         ids=[c[0] for c in MISSING_INTERPRETER_CASES])
def test_missing_interpreter_named(vm_factory, tmp_path, progs, arch, cmd, files, why):
    """A program that exists but whose interpreter (#! line, or an ELF's
    dynamic loader) does not: the ERROR names the missing interpreter, not
    the program; the code stays 127 ("command not found")."""
    if files is None:
        # a PIE without libc: PT_INTERP names the loader, nothing else needed
        dyn = tmp_path / "dyn"
        cc = "gcc" if arch == _arch.host() else arch + "-linux-gnu-gcc"
        subprocess.run([cc, "-x", "c", "-o", str(dyn), "-", "-nostdlib", "-pie", "-fPIE",
                        "-Wl,--dynamic-linker=/lib/hm-no-such-loader.so.1"],
                       input=b"void _start(void) { for (;;); }\n", check=True)
        files = {"/dyn": (dyn.read_bytes(), 0o755)}
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=cmd, install={}, files=files,
                 busybox=True)
    vm.wait_for("HYPEMAN-EXIT")
    assert_clean_poweroff(vm)
    check_exit_line(vm, 127, "command not found")
    errors = [o for o in vm.log_lines() if o.get("phase") == "exec" and o.get("level") == "ERROR"]
    assert [o["msg"] for o in errors] == ["cannot execute " + why], errors
    assert errors[0]["error"] == "No such file or directory"


def test_orphans_reaped(vm_factory, tmp_path, progs, arch):
    """1000 orphaned grandchildren (double fork) exit; PID 1 reaps them all
    (no zombie with ppid 1 left), and the program's own code still arrives."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/orphans", "1000"],
                 install={"/orphans": "orphans"})
    m = vm.wait_for(re.compile(
        r"ORPHANS-RESULT children_failed=(\d+) reparented=(\d+) not_reparented=(\d+) "
        r"at_eof_zombies=(\d+) at_eof_left=(\d+) zombies=(\d+) left=(\d+) waited_ms=(\d+)\n"),
        timeout=180)
    print(m.group(0))
    failed, orphaned, other, _, _, zombies, left, _ = map(int, m.groups())
    assert failed == 0 and orphaned == 1000 and other == 0, m.group(0)
    assert zombies == 0 and left == 0, "PID 1 left zombies: " + m.group(0)
    assert_clean_poweroff(vm)
    check_exit_line(vm, 7, "exit code 7")


def test_sigterm_to_pid1_reaches_program(vm_factory, tmp_path, progs, arch):
    """SIGTERM to PID 1 (as the agent's shutdown does) is a stop request:
    the program gets SIGTERM, its death by SIGTERM is reported, power-off."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/sigprog"],
                 install={"/sigprog": "sigprog"}, agent_on=True, busybox=True)
    vm.wait_for("SIGPROG-READY")
    agent.wait_ready(vm.agent_socket, 30)
    pid1_signal(vm, "TERM", tolerate_gone=True)
    vm.wait_for("SIGPROG-GOT SIGTERM from pid=1", timeout=30)
    assert_clean_poweroff(vm)
    check_exit_line(vm, 143, "killed by signal 15 (SIGTERM)")


def test_signals_forwarded(vm_factory, tmp_path, progs, arch):
    """SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH sent to PID 1 reach the
    program (from PID 1), one by one, and do not stop it."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/sigprog"],
                 install={"/sigprog": "sigprog"}, agent_on=True, busybox=True)
    vm.wait_for("SIGPROG-READY")
    agent.wait_ready(vm.agent_socket, 30)
    for sig in ("HUP", "USR1", "QUIT", "USR2", "WINCH"):
        pid1_signal(vm, sig)
        vm.wait_for("SIGPROG-GOT SIG%s from pid=1" % sig, timeout=20)
    assert "HYPEMAN-EXIT" not in vm.console_text
    assert vm.running
    pid1_signal(vm, "TERM", tolerate_gone=True)
    vm.wait_for("SIGPROG-GOT SIGTERM from pid=1", timeout=30)
    assert_clean_poweroff(vm)
    check_exit_line(vm, 143, "killed by signal 15 (SIGTERM)")
    got = [l for l in clean_lines(vm) if l.startswith("SIGPROG-GOT")]
    assert got == ["SIGPROG-GOT SIG%s from pid=1" % s
                   for s in ("HUP", "USR1", "QUIT", "USR2", "WINCH", "TERM")]


def test_sigterm_ignored_killed_after_grace(vm_factory, tmp_path, progs, arch):
    """A program that ignores SIGTERM is SIGKILLed after hypeman.grace=2 s."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/sigprog", "ignore-term"],
                 install={"/sigprog": "sigprog"}, agent_on=True, busybox=True,
                 append_extra="hypeman.grace=%d" % GRACE)
    vm.wait_for("SIGPROG-READY ignoring SIGTERM")
    agent.wait_ready(vm.agent_socket, 30)
    t0 = time.monotonic()
    pid1_signal(vm, "TERM", tolerate_gone=True)
    vm.wait_for("HYPEMAN-EXIT", timeout=30)
    host_s = time.monotonic() - t0
    vm.wait_exit(timeout=60)
    exit_idx = check_exit_line(vm, 137, "killed by signal 9 (SIGKILL)")
    logs = vm.log_lines()
    stops = [o for o in logs if o.get("phase") == "exec" and "stop" in o.get("msg", "").lower()]
    assert stops, "no log line for the stop request"
    after = log_after(vm, exit_idx)
    guest_ms = after["uptime_ms"] - stops[0]["uptime_ms"]
    print("stop request -> program killed: guest %d ms (stop log line -> first log "
          "line after HYPEMAN-EXIT), host %.2f s (kill sent -> HYPEMAN-EXIT seen)"
          % (guest_ms, host_s))
    assert guest_ms >= GRACE * 1000, "killed before the grace period: %d ms" % guest_ms
    assert guest_ms < GRACE * 1000 + 5000, "hypeman.grace=%d not honoured: %d ms" % (GRACE, guest_ms)
    assert host_s >= GRACE - 0.1
    assert_clean_poweroff(vm)


def test_ctrl_alt_del_stops_program(vm_factory, tmp_path, progs, arch):
    """Ctrl-Alt-Del from the QEMU monitor is a stop request (CAD disabled,
    no reboot): the program gets SIGTERM, exit reported, power-off."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/sigprog"],
                 install={"/sigprog": "sigprog"})
    vm.wait_for("SIGPROG-READY")
    vm.ctrl_alt_del()
    vm.wait_for("SIGPROG-GOT SIGTERM from pid=1", timeout=30)
    assert_clean_poweroff(vm)
    check_exit_line(vm, 143, "killed by signal 15 (SIGTERM)")
    assert "SIGPROG-GOT SIGINT" not in vm.console_text


def test_program_signal_state_clean(vm_factory, tmp_path, progs, arch):
    """The program starts with an empty signal mask and no ignored signal
    (nor anything pending)."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/status"], install={"/status": "status"})
    m = vm.wait_for(re.compile(r"STATUS self SigPnd=<(\w+)> ShdPnd=<(\w+)> SigBlk=<(\w+)> "
                               r"SigIgn=<(\w+)> SigCgt=<(\w+)>"))
    print(m.group(0))
    pnd, shd, blk, ign, cgt = (int(x, 16) for x in m.groups())
    assert blk == 0, "signal mask not empty: " + m.group(3)
    assert ign == 0, "ignored signals inherited: " + m.group(4)
    assert pnd == 0 and shd == 0, m.group(0)
    assert_clean_poweroff(vm)
    check_exit_line(vm, 0, "success")


def test_durability_overlay_and_volume(vm_factory, tmp_path, progs, arch):
    """Files written without sync just before the program exits are on the
    overlay disk and the rw volume after power-off, and both ext4 disks are
    clean (no journal recovery needed)."""
    vol = disks.empty_ext4(tmp_path / "vol.img", 32)
    vm, guest = boot(vm_factory, tmp_path, progs, arch, cmd=["/writer"], install={"/writer": "writer"},
                     files={"/vol/.keep": ""}, volumes=[vol],
                     config={"volume_mounts": [{"device": "/dev/vdd", "path": "/vol", "mode": "rw"}]})
    vm.wait_for("WRITER-DONE bad=0")
    assert_clean_poweroff(vm)
    check_exit_line(vm, 0, "success")
    ovl = b"".join(b"ovl %06d\n" % i for i in range(30000))
    vdata = b"".join(b"vol %06d\n" % i for i in range(30000))
    got = disks.read_file_from_ext4(guest.vdb, "/upper/data.txt")
    assert got is not None, "overlay file missing on vdb"
    assert got == ovl, "overlay file content differs (%d of %d bytes)" % (len(got), len(ovl))
    got = disks.read_file_from_ext4(vol, "/file")
    assert got is not None, "volume file missing"
    assert got == vdata, "volume file content differs (%d of %d bytes)" % (len(got), len(vdata))
    unclean = {}
    for name, img in (("overlay disk vdb", guest.vdb), ("volume vdd", vol)):
        ok, report = disks.e2fsck_clean(img)
        if not ok:
            unclean[name] = report
    assert not unclean, "\n".join("%s not clean:\n%s" % kv for kv in unclean.items())


def _agent_probe(vm):
    m = vm.wait_for(re.compile(r"AGENTPROBE boottime_ms=(\d+) ready_file=(\w+)\n"))
    return int(m.group(1)), m.group(2)


def test_agent_readiness_awaited(vm_factory, tmp_path, progs, arch):
    """The program starts only after the agent's readiness byte (here
    2 s late): "ready" is logged before HYPEMAN-PROGRAM-START and the
    program runs >= 2 s after the agent was started."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/agentprobe"],
                 install={"/agentprobe": "agentprobe"}, agent_on=True,
                 env={"TEST_AGENT_READY_DELAY_MS": "2000"})
    prog_ms, ready_file = _agent_probe(vm)
    assert_clean_poweroff(vm)
    check_exit_line(vm, 0, "success")
    start_idx = check_program_start(vm, "AGENTPROBE")
    lines = clean_lines(vm)
    ready_idx = line_index(
        lines, lambda l: '"phase":"agent-start"' in l and "ready" in l and '"level":"INFO"' in l,
        "logging the agent ready")
    assert ready_idx < start_idx, "agent ready logged after HYPEMAN-PROGRAM-START"
    ready = [o for o in vm.log_lines() if o.get("phase") == "agent-start" and "ready" in o["msg"]
             and o["level"] == "INFO"][0]
    assert not [o for o in vm.log_lines() if o.get("phase") == "agent-start" and o["level"] == "ERROR"]
    assert "dur_ms" in ready, "the agent phase's end has no dur_ms: %r" % ready
    agent_start = ready["uptime_ms"] - ready["dur_ms"]
    print("agent started at %d ms, ready logged at %d ms (dur_ms %d), program ran at %d ms "
          "(+%d ms), ready file at program start: %s"
          % (agent_start, ready["uptime_ms"], ready["dur_ms"], prog_ms,
             prog_ms - agent_start, ready_file))
    assert prog_ms - agent_start >= 2000, "program did not wait for the agent's readiness"
    assert ready["dur_ms"] >= 2000
    assert prog_ms - agent_start < 9500, "waited (nearly) the whole 10 s time-out"


def _gate_failed(vm, guest, cause):
    """The strict agent gate closed: one ERROR (phase agent-start) naming
    the agent and CAUSE, no program, no HYPEMAN-EXIT, then the shutdown
    path (power-off, clean disks). Returns the ERROR."""
    assert_clean_poweroff(vm)
    errors = [o for o in vm.log_lines() if o["level"] == "ERROR"]
    assert len(errors) == 1, errors
    err = errors[0]
    assert err["phase"] == "agent-start", err
    assert "guest agent /opt/hypeman/guest-agent (pid " in err["msg"] and cause in err["msg"], err
    assert "HYPEMAN-PROGRAM-START" not in vm.console_text
    assert "AGENTPROBE" not in vm.console_text
    assert vm.exit_marker() is None
    ok, report = disks.e2fsck_clean(guest.vdb)
    assert ok, report
    return err


def test_agent_exits_before_readiness(vm_factory, tmp_path, progs, arch):
    """An agent that exits at once: the program never starts (strict gate,
    contract: Exec mode), the ERROR says how the agent ended, power-off,
    without waiting for the readiness time-out."""
    vm, guest = boot(vm_factory, tmp_path, progs, arch, cmd=["/agentprobe"],
                     install={"/agentprobe": "agentprobe"}, agent_on=True,
                     env={"TEST_AGENT_DIE": "1"})
    err = _gate_failed(vm, guest, "exited (exit code 3) before signalling readiness")
    assert "test-agent: TEST_AGENT_DIE=1" in vm.console_text
    shut = [o for o in vm.log_lines() if o["phase"] == "shutdown"][0]
    assert shut["uptime_ms"] - err["uptime_ms"] < 2000, (err, shut)


def test_mute_agent_powers_off(vm_factory, tmp_path, progs, arch):
    """An agent that never signals readiness: after the 10 s time-out the
    program never starts; the agent, still running, is stopped by the
    shutdown path."""
    vm, guest = boot(vm_factory, tmp_path, progs, arch, cmd=["/agentprobe"],
                     install={"/agentprobe": "agentprobe"}, agent_on=True,
                     env={"TEST_AGENT_READY_DELAY_MS": "600000"}, timeout=120)
    err = _gate_failed(vm, guest, "did not signal readiness within 10000 ms")
    switch = [o for o in vm.log_lines() if o["phase"] == "switch"][0]
    assert err["uptime_ms"] - switch["uptime_ms"] >= 10000, (switch, err)
    # the agent itself was still running: the shutdown reaped it
    reaped = [o for o in vm.log_lines() if o["msg"].startswith("reaped ")][0]
    assert not reaped["msg"].startswith("reaped 0 "), reaped


def test_agentless_initrd_is_quiet(vm_factory, tmp_path, progs, arch):
    """An initrd built without --agent (as the README builds one for
    hypeman run): one INFO line says so, no ERROR or WARN at all, and the
    program starts (skip_guest_agent false)."""
    initrd = os.path.join(_arch.out_dir(arch), "initrd-noagent")
    if not os.path.exists(initrd):
        pytest.skip("%s not built (tests/run builds it)" % initrd)
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/hello"], install={"/hello": "hello"},
                 config={"skip_guest_agent": False}, initrd=initrd)
    vm.wait_for("HELLO-FROM-STATIC")
    assert_clean_poweroff(vm)
    check_exit_line(vm, 0, "success")
    logs = vm.log_lines()
    assert [o for o in logs if o["level"] != "INFO"] == []
    agent_lines = [o for o in logs if o["phase"] in ("agent", "agent-start")]
    assert [o["msg"] for o in agent_lines] == [
        "this initrd has no guest agent (/usr/local/bin/guest-agent): none installed or started"]


DEV_LINKS = ["DEVCHECK link /dev/fd -> /proc/self/fd", "DEVCHECK link /dev/stdin -> /proc/self/fd/0",
             "DEVCHECK link /dev/stdout -> /proc/self/fd/1", "DEVCHECK link /dev/stderr -> /proc/self/fd/2",
             "DEVCHECK link /dev/core -> /proc/kcore", "DEVCHECK written to /dev/stdout",
             "DEVCHECK written to /dev/stderr", "DEVCHECK fs /dev/mqueue mqueue /dev/shm tmpfs"]


@pytest.mark.parametrize("mode", ["exec", "systemd"])
def test_dev_as_docker_gives_it(vm_factory, tmp_path, progs, arch, mode):
    """/dev as Docker gives a container, before anything of the image runs
    (contract: Devices): /dev/fd and /dev/std{in,out,err} (output written
    to /dev/stdout and /dev/stderr reaches the console), /dev/core,
    /dev/mqueue, /dev/shm, /dev/ptmx. In systemd mode the image's first
    program (here PID 1 itself) sees them."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/devcheck"], install={"/devcheck": "devcheck"},
                 config={"init_mode": mode})
    vm.wait_for("DEVCHECK done")
    assert vm.wait_exit() == 0
    vm.assert_no_panic()
    lines = clean_lines(vm)
    for want in DEV_LINKS:
        assert want in lines, "missing %r" % want
    assert any(re.fullmatch(r"DEVCHECK ptmx /dev/pts/\d+", l) for l in lines), lines
    assert "HYPEMAN-PROGRAM-START" in vm.console_text and "mode=%s" % mode in vm.console_text


def test_pid1_memory(vm_factory, tmp_path, progs, arch):
    """PID 1's resident memory while the program runs (agent running too)."""
    vm, _ = boot(vm_factory, tmp_path, progs, arch, cmd=["/status"], install={"/status": "status"},
                 agent_on=True)
    m = vm.wait_for(re.compile(r"STATUS pid1 [^\n]*\n"))
    kv = dict(re.findall(r"(\w+)=<([^>]*)>", m.group(0)))
    kb = {k: int(kv[k].split()[0]) for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")
          if k in kv}
    assert "VmRSS" in kb, m.group(0)
    rss = kb["VmRSS"]
    print("PID 1 (%s) memory while the program runs: VmRSS %d kB (RssAnon %s kB, "
          "RssFile %s kB, RssShmem %s kB), VmHWM %s kB"
          % (kv.get("Name"), rss, kb.get("RssAnon"), kb.get("RssFile"),
             kb.get("RssShmem"), kb.get("VmHWM")))
    assert_clean_poweroff(vm)
    check_exit_line(vm, 0, "success")
    assert rss < 1024, "PID 1 VmRSS %d kB >= 1 MiB" % rss
