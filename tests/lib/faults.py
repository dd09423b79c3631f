"""Shared pieces of the fault-matrix VM tests (tests/vm/test_faults_*.py).

  PROGRAMS                 the guest programs (tests/testdata/progs/NAME.c)
  build_programs()         {name: binary path}
  boot(vm_factory, tmp, programs, cmd, install=..., ...) -> (vm, guest)
  seeds()                  the power-cut seeds: $HYPEMAN_FAULT_SEEDS ("1,2,3")
  shutdown_report(vm)      the shutdown phase's log lines, checked
  assert_disks_clean(...)  e2fsck -fn clean and no journal left to replay

Timing comes from the console (markers, log lines) and QMP; nothing here
sleeps to synchronise.
"""

import os

from . import disks, images


PROGRAMS = ("powercut", "fill", "sleeper", "bomb", "orphanstorm", "console", "subreaper",
            "daemons", "hog")


def build_programs():
    """{name: path of the static binary} for PROGRAMS
    (tests/testdata/progs/NAME.c, compiled once)."""
    return {n: images.guest_program(n) for n in PROGRAMS}


def boot(vm_factory, tmp, programs, cmd, install=(), config=None, volumes=(),
         files=None, overlay_mb=64, start=True, **vm_kw):
    """An image holding the programs INSTALL (names, at /<name>) and
    Debian's busybox, config cmd=CMD (+CONFIG; the agent is skipped unless
    CONFIG says otherwise), the extra disks VOLUMES. Returns (vm, guest)."""
    f = dict(files or {})
    for name in install:
        with open(programs[name], "rb") as fh:
            f["/" + name] = (fh.read(), 0o755)
    root = images.rootfs(os.path.join(str(tmp), "root"), files=f)
    cfg = {"cmd": cmd, "skip_guest_agent": True}
    cfg.update(config or {})
    guest = images.Guest(os.path.join(str(tmp), "disks"), root, cfg, volumes=volumes,
                         overlay_mb=overlay_mb)
    vm = vm_factory(disks=guest.disks, start=start, **vm_kw)
    return vm, guest


def seeds():
    """The seeds of the randomised tests: $HYPEMAN_FAULT_SEEDS (comma
    separated integers), default 1,2,3."""
    text = os.environ.get("HYPEMAN_FAULT_SEEDS") or "1,2,3"
    return [int(s) for s in text.split(",") if s.strip()]


def logs(vm, phase=None, level=None):
    return [l for l in vm.log_lines()
            if (phase is None or l.get("phase") == phase)
            and (level is None or l.get("level") == level)]


def log_lines_with(vm, text):
    """The log objects whose msg contains TEXT."""
    return [l for l in vm.log_lines() if text in l.get("msg", "")]


def log_summary(vm):
    return "\n".join("%s %s %s %s" % (l.get("uptime_ms"), l.get("level"), l.get("phase"),
                                      l.get("msg")) for l in vm.log_lines())


def powered_off(vm, timeout=60):
    """QEMU ended by itself with rc 0 (the guest powered off), no panic,
    the shutdown phase (or rescue) ended with its dur_ms line."""
    rc = vm.wait_exit(timeout=timeout)
    vm.assert_no_panic()
    assert rc == 0, "QEMU exit code %r" % rc
    ends = [l for l in vm.log_lines() if "dur_ms" in l
            and l.get("phase") in ("shutdown", "rescue")]
    assert ends and ends[-1]["msg"] == "powering off", \
        "no 'powering off' end line:\n" + log_summary(vm)
    assert vm.malformed_log_lines() == []


def reaped(vm):
    """(all, after SIGKILL) from the shutdown's "reaped N processes" line."""
    import re
    for l in logs(vm, "shutdown"):
        m = re.fullmatch(r"reaped (\d+) processes \((\d+) after SIGKILL\)", l["msg"])
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AssertionError("no 'reaped' line in phase shutdown:\n" + log_summary(vm))


def assert_disks_clean(*imgs):
    """Each ext4 image: e2fsck -fn finds nothing, no journal to replay,
    state clean."""
    bad = {}
    for img in imgs:
        ok, report = disks.e2fsck_clean(img)
        if not ok:
            bad[img] = report
    assert not bad, "\n".join("%s not clean:\n%s" % kv for kv in bad.items())
