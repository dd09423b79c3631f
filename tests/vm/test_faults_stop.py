"""Fault matrix: stop requests at every moment.

Ctrl-Alt-Del (QMP sendkey; SIGINT to PID 1) during module loading, during
the overlay phase, while the guest agent is awaited, and just after the
program started; SIGTERM (from a guest agent that sends it instead of its
readiness) while the agent is awaited. The moments are found on the
console (phase end lines, the agent's first line, the PROGRAM-START
marker). Each time the VM powers off by itself within the grace period
plus a small bound, the disks are clean, the image disk unwritten; the
HYPEMAN-EXIT marker is there when the program had started and absent
when it had not (README: a stop request before the program ends the boot
without starting it).
"""

import re
import time

import pytest

from lib import disks, faults
from lib.vm import Initramfs, concat_initrd, timeout_scale

pytestmark = pytest.mark.vm

GRACE = 2
BOUND_S = 8     # stop noticed -> QEMU gone, beyond the grace period (scaled)
DELAYED_AGENT = {"skip_guest_agent": False, "env": {"TEST_AGENT_READY_DELAY_MS": "30000"}}
# A guest agent that asks for a stop instead of signalling readiness.
STOPPING_AGENT = "#!/bin/sh\necho 'stopping-agent: SIGTERM to PID 1'\nkill -TERM 1\nexec sleep 600\n"

# id -> (console pattern to wait for, how to stop, config, program starts?,
#        where the init notices it)
MOMENTS = {
    "modules-cad": (r'"phase":"mount",[^\n]*"dur_ms"', "cad", {}, False,
                    "stop requested (Ctrl-Alt-Del) before the disks were mounted"),
    "overlay-cad": (r'"phase":"modules",[^\n]*"dur_ms"', "cad", {}, False,
                    "stop requested (Ctrl-Alt-Del) during boot"),
    "agent-wait-cad": ("test-agent: started", "cad", DELAYED_AGENT, False,
                       "stop requested (Ctrl-Alt-Del) before the program started"),
    "agent-wait-sigterm": ("stopping-agent: SIGTERM to PID 1", "agent",
                           {"skip_guest_agent": False}, False,
                           "stop requested (SIGTERM) before the program started"),
    "program-first-ms-cad": ("HYPEMAN-PROGRAM-START", "cad", {}, True,
                             "stop requested (Ctrl-Alt-Del): SIGTERM to the program"),
}


@pytest.fixture(scope="module")
def programs():
    return faults.build_programs()


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_stop_request(vm_factory, tmp_path, programs, initrd, moment):
    pattern, how, config, starts, noticed = MOMENTS[moment]
    vm_kw = {"append_extra": "hypeman.grace=%d" % GRACE}
    if how == "agent":
        agent = Initramfs().file("/usr/local/bin/guest-agent", STOPPING_AGENT, 0o755)
        vm_kw["initrd"] = concat_initrd(tmp_path / "initrd", initrd, agent)
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/sleeper"], install=["sleeper"],
                            config=config, start=False, **vm_kw)
    vda_before = disks.sha256(guest.vda)
    vm.start()
    vm.wait_for(re.compile(pattern), timeout=90)
    t0 = time.monotonic()
    if how == "cad":
        vm.monitor("sendkey ctrl-alt-delete")
    faults.powered_off(vm, timeout=60)
    took = time.monotonic() - t0
    stop = [l for l in faults.log_lines_with(vm, noticed)]
    assert stop, "no log line %r:\n%s" % (noticed, faults.log_summary(vm))
    end = faults.logs(vm)[-1]
    guest_ms = end["uptime_ms"] - stop[0]["uptime_ms"]
    print("%s: %s at %d ms; powered off %d ms later (guest); host: %.2f s from the "
          "request to QEMU's exit" % (moment, stop[0]["msg"], stop[0]["uptime_ms"], guest_ms, took))
    assert guest_ms < (GRACE + BOUND_S) * 1000, "stop took %d ms in the guest" % guest_ms
    assert took < (GRACE + BOUND_S) * timeout_scale() + 5, "stop took %.1f s" % took

    started = "HYPEMAN-PROGRAM-START" in vm.console_text
    assert started == starts
    if starts:
        assert vm.exit_marker() == {"code": 143, "message": "killed by signal 15 (SIGTERM)"}
    else:
        assert "HYPEMAN-EXIT" not in vm.console_text
        assert "SLEEPER-RUNNING" not in vm.console_text
    assert disks.sha256(guest.vda) == vda_before, "the image disk was written"
    faults.assert_disks_clean(guest.vdb)
