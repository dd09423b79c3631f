"""Fault matrix: power cuts during writes, and
an overlay disk that fills up.

Power cut: the program appends numbered records with fsync after each
(to the overlay and to an rw volume) and acknowledges each on the
console; after a seeded random number of acknowledgements the host kills
QEMU with SIGKILL, then boots the same disks again. The reboot must
replay the journals, end with clean disks, and hold every acknowledged
record. Seeds: $HYPEMAN_FAULT_SEEDS (default 1,2,3), printed.

Run: HYPEMAN_INITRD=out/initrd-test /usr/bin/python3 -m pytest tests/vm/test_faults_power.py
"""

import random
import re

import pytest

from lib import disks, faults

pytestmark = pytest.mark.vm

VOLUME = {"volume_mounts": [{"device": "/dev/vdd", "path": "/vol", "mode": "rw"}]}


@pytest.fixture(scope="module")
def programs():
    return faults.build_programs()


def records(data):
    """The record numbers in a records file, in order; a torn tail (a
    record the program never acknowledged) is dropped."""
    lines = data.split(b"\n")
    nums = []
    for line in lines[:-1]:
        m = re.fullmatch(rb"rec (\d{8}) payload +", line)
        assert m and len(line) == 63, "malformed record line %r" % line[:80]
        nums.append(int(m.group(1)))
    return nums


@pytest.mark.parametrize("seed", faults.seeds())
def test_power_cut_keeps_acknowledged_records(vm_factory, tmp_path, programs, seed):
    """SIGKILL to QEMU after N acknowledged records (N from the seed):
    the disks are left needing journal recovery; the reboot of the same
    disks replays them, the program finds every acknowledged record, the
    VM powers off, and afterwards e2fsck -fn is clean with no
    needs_recovery, and every acknowledged record (and every 16th file) is
    on the overlay disk and the volume, in order."""
    rng = random.Random(seed)
    acks_wanted = rng.randint(20, 300)
    print("seed %d: power cut after ACK %d (HYPEMAN_FAULT_SEEDS=%d reproduces it)"
          % (seed, acks_wanted, seed))
    vol = disks.empty_ext4(tmp_path / "vol.img", 32)
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/powercut"],
                            install=["powercut"], config=VOLUME, volumes=[vol],
                            files={"/vol/.keep": ""})
    vm.wait_for("POWERCUT-WRITING", timeout=90)
    vm.wait_for(re.compile(r"^ACK %d$" % acks_wanted, re.M), timeout=180)
    vm.kill()                                    # SIGKILL: the power cut
    acked = max(int(n) for n in re.findall(r"^ACK (\d+)$", vm.console_text, re.M))
    print("last acknowledged record on the console: %d" % acked)
    assert "HYPEMAN-EXIT" not in vm.console_text
    for img in (guest.vdb, vol):
        assert disks.needs_recovery(img), "%s was left clean: the cut was not a cut" % img

    again = vm_factory(disks=guest.disks)
    m = again.wait_for(re.compile(r"RECOVERED data=(\d+) vol=(\d+) bad=(\d+)\n"), timeout=90)
    faults.powered_off(again)
    data_last, vol_last, bad = map(int, m.groups())
    print("after the reboot: data=%d vol=%d bad lines=%d" % (data_last, vol_last, bad))
    assert data_last >= acked and vol_last >= acked, m.group(0)
    assert again.exit_marker() == {"code": 0, "message": "success"}

    faults.assert_disks_clean(guest.vdb, vol)
    for img, path in ((guest.vdb, "/upper/data/records"), (vol, "/records")):
        nums = records(disks.read_file_from_ext4(img, path))
        assert nums[:acked] == list(range(1, acked + 1)), "%s:%s lost records" % (img, path)
    names = disks.ls_ext4(guest.vdb, "/upper/data")
    missing = [n for n in range(16, acked + 1, 16) if "f%d" % n not in names]
    assert not missing, "acknowledged files missing: %s" % missing


def test_overlay_disk_full(vm_factory, tmp_path, programs):
    """The program fills / (a 16 MiB overlay disk) until a write fails:
    it gets ENOSPC; the shutdown names /dev/vdb as full, still unmounts
    cleanly and powers off; the disk is clean and holds what fsync
    acknowledged."""
    vm, guest = faults.boot(vm_factory, tmp_path, programs, ["/fill"], install=["fill"],
                            overlay_mb=16)
    m = vm.wait_for(re.compile(r"FILL-END errno=(\d+) written=(\d+) fsync=(\d+)\n"), timeout=120)
    faults.powered_off(vm)
    err, written, fsync_err = map(int, m.groups())
    print(m.group(0).strip())
    assert err == 28, "the program's write did not fail with ENOSPC: " + m.group(0)
    assert written > 4 << 20, m.group(0)
    full = [l for l in faults.logs(vm, "shutdown", "WARN") if "is full" in l["msg"]]
    assert full and "/dev/vdb" in full[0]["msg"], faults.log_summary(vm)
    print(full[0]["msg"])
    assert vm.exit_marker() == {"code": 0, "message": "success"}
    assert not [l for l in faults.logs(vm, "shutdown") if l["level"] == "ERROR"]
    faults.assert_disks_clean(guest.vdb)
    st = disks.stat_ext4(guest.vdb, "/upper/filled")
    assert st is not None, "/filled is not on the overlay disk"
    if fsync_err == 0:
        assert st["size"] == written, "fsync said yes but the disk holds %d of %d bytes" % (
            st["size"], written)
