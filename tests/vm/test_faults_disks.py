"""Fault matrix: missing and broken disks.

Each case boots with hypeman.rescue=0 and checks the rule of contract: Failure: a
missing or unusable image, overlay or config disk is fatal (an ERROR
naming the device and what was expected, then power-off without a shell,
never a kernel panic, no program); a missing or broken volume is an ERROR
and the boot goes on (the program runs and the VM stops cleanly). No disk
that the init must only read is written: every disk's checksum is the same
before and after, except the overlay disk's once it was mounted.

Covered elsewhere: config.json missing, no config disk, bad JSON
(test_pipeline.py test_config_error_is_fatal_and_clean), no disk at all
(test_boot_without_disks.py).
"""

import os
import random

import pytest

from lib import disks, faults, images

pytestmark = pytest.mark.vm

VOLUME = {"volume_mounts": [{"device": "/dev/vdd", "path": "/vol", "mode": "rw"}]}


def garbage(path, size_mb=8):
    """Random bytes (seeded: the same on every run): no filesystem."""
    block = random.Random(12).randbytes(64 * 1024)
    with open(path, "wb") as f:
        f.write(block * (size_mb * 16))
    return str(path)


def corrupt_superblock(path):
    """The ext4 at PATH with its primary superblock zeroed."""
    with open(path, "r+b") as f:
        f.seek(1024)
        f.write(b"\0" * 1024)
    return str(path)


def erofs_disk(path):
    src = str(path) + ".src"
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "x"), "w") as f:
        f.write("x\n")
    return disks.erofs_from_dir(str(path), src)


# id -> (what to do to the guest's disks, fatal phase or None, ERROR words)
CASES = {
    "no-vdb": (lambda g, t: [g.vda], "overlay", ["overlay disk /dev/vdb", "did not appear"]),
    "no-vdc": (lambda g, t: [g.vda, g.vdb], "config", ["config disk /dev/vdc", "did not appear"]),
    "vda-bad-superblock": (lambda g, t: [corrupt_superblock(g.vda), g.vdb, g.vdc], "overlay",
                           ["image disk /dev/vda", "expected an erofs or ext4 filesystem"]),
    "vda-not-a-filesystem": (lambda g, t: [garbage(g.vda), g.vdb, g.vdc], "overlay",
                             ["image disk /dev/vda", "expected an erofs or ext4 filesystem"]),
    "vdb-erofs": (lambda g, t: [g.vda, erofs_disk(g.vdb), g.vdc], "overlay",
                  ["overlay disk /dev/vdb", "expected an ext4 filesystem"]),
    "vdb-not-a-filesystem": (lambda g, t: [g.vda, garbage(g.vdb), g.vdc], "overlay",
                             ["overlay disk /dev/vdb", "expected an ext4 filesystem"]),
    "vdc-not-a-filesystem": (lambda g, t: [g.vda, g.vdb, garbage(g.vdc)], "config",
                             ["config disk /dev/vdc", "expected an ext4 filesystem"]),
    "volume-missing": (lambda g, t: [g.vda, g.vdb, g.vdc], None,
                       ["volume device /dev/vdd", "did not appear"]),
    "volume-corrupt": (lambda g, t: [g.vda, g.vdb, g.vdc,
                                     corrupt_superblock(disks.empty_ext4(t / "vdd.img", 16))],
                       None, ["/dev/vdd", "/vol", "expected an ext4 filesystem"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_disk(vm_factory, tmp_path, case):
    """The case's ERROR names the device and what was expected; then the
    rule of contract: Failure (fatal: no program, power-off at once; volume: the program
    runs), no panic, and no write to a disk that was not mounted rw."""
    make, fatal, words = CASES[case]
    root = images.rootfs(tmp_path / "root", dirs=("vol",))
    cfg = dict(VOLUME, cmd=["/bin/true"], skip_guest_agent=True)
    guest = images.Guest(tmp_path / "disks", root, cfg)
    dlist = make(guest, tmp_path)
    overlay_mounted = fatal is None or fatal == "config"
    before = {d: disks.sha256(d) for d in dlist if not (overlay_mounted and d == guest.vdb)}
    vm = vm_factory(disks=dlist)
    faults.powered_off(vm, timeout=90)

    phase = fatal or "volumes"
    errors = [l["msg"] for l in faults.logs(vm, phase, "ERROR")]
    print("\n".join(errors))
    assert any(all(w in m for w in words) for m in errors), \
        "no ERROR in phase %s naming %s:\n%s" % (phase, words, faults.log_summary(vm))
    changed = [d for d, h in before.items() if disks.sha256(d) != h]
    assert not changed, "disks written: %s" % changed
    if fatal:
        assert "HYPEMAN-PROGRAM-START" not in vm.console_text
        assert any("fatal" in m for m in errors), errors
        assert [l for l in faults.logs(vm, "rescue") if "without a shell" in l["msg"]]
        assert "rescue#" not in vm.console_text
    else:
        assert vm.exit_marker() == {"code": 0, "message": "success"}
        faults.assert_disks_clean(guest.vdb)
