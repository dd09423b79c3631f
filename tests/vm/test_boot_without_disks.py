"""A VM with no disks at all gets as far as loading its modules, names the
missing device in an ERROR line and powers off by itself (never a kernel
panic), with hypeman.rescue=0 at once, without it after the rescue shell.

Each runs for each architecture (multiarch). (The plain initrd's contents:
tests/host/test_plain_initrd.py; the agent client without an agent:
tests/vm/test_harness.py.)
Run: /usr/bin/python3 -m pytest tests/vm/test_boot_without_disks.py -q
"""

import re

import pytest

pytestmark = pytest.mark.multiarch


def boot_log_summary(vm):
    return "\n".join("%s %s %s" % (l.get("level"), l.get("phase"), l.get("msg"))
                     for l in vm.log_lines())


def assert_powered_off_cleanly(vm):
    """QEMU left by itself (the guest powered off) and the kernel never
    panicked: PID 1 did not exit."""
    assert not vm.running
    vm.assert_no_panic()
    assert "Attempted to kill init" not in vm.console_text
    assert "Kernel panic" not in vm.console_text


# ---- booting with no disks -------------------------------------------------------

def assert_boot_reached_overlay_and_named_vda(vm):
    """First JSON line is phase boot; modules were loaded; then an ERROR
    naming the missing image disk /dev/vda."""
    log = vm.log_lines()
    assert log, "no JSON log line on the console"
    assert log[0].get("phase") == "boot", "first log line: %r" % log[0]
    loaded = [l for l in log if l.get("phase") == "modules" and "dur_ms" in l
              and re.match(r"[1-9]\d* modules loaded", str(l.get("msg", "")))]
    assert loaded, "no 'N modules loaded' line in phase modules:\n" + boot_log_summary(vm)
    errors = [l for l in log if l.get("level") == "ERROR"]
    assert any("/dev/vda" in l.get("msg", "") for l in errors), \
        "no ERROR naming /dev/vda:\n" + boot_log_summary(vm)
    # the error comes after the modules were loaded
    first_err = next(i for i, l in enumerate(log) if l.get("level") == "ERROR")
    assert first_err > log.index(loaded[-1])


def test_no_disks_rescue_off_powers_off(vm_factory):
    """No disks, hypeman.rescue=0: boot and modules are logged, an ERROR
    names the missing device, and QEMU exits by itself without a panic."""
    vm = vm_factory(disks=[])
    vm.wait_exit(60)
    assert_powered_off_cleanly(vm)
    assert_boot_reached_overlay_and_named_vda(vm)
    assert "rescue#" not in vm.console_text      # no shell was started


def test_no_disks_rescue_shell_then_power_off(vm_factory):
    """Without hypeman.rescue=0 the same failure opens a working shell on
    the console; leaving it powers the VM off, without a panic."""
    vm = vm_factory(disks=[], rescue=True)
    vm.wait_for("rescue shell", timeout=60)
    vm.wait_for("rescue# ", timeout=30)
    # the tty echoes the typed line; only the shell's output has the
    # quotes removed, so seeing "rescue-ok" proves the shell ran it
    vm.send_console('echo rescue""-ok; exit\n')
    vm.wait_for(re.compile(r"^rescue-ok$", re.M), timeout=30)
    vm.wait_exit(60)
    assert_powered_off_cleanly(vm)
    assert_boot_reached_overlay_and_named_vda(vm)
