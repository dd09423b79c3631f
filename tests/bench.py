#!/usr/bin/python3
"""Boot-time and size benchmark of hypeman-init (not a test: it measures).

    /usr/bin/python3 tests/bench.py [-n RUNS] [--initrd FILE]

Boots a minimal exec-mode image RUNS times (QEMU, Debian's kernel, TCG
unless HYPEMAN_ACCEL=kvm) and reports, from the init's own JSON log
(uptime_ms is CLOCK_BOOTTIME in the guest, so host load does not skew the
in-guest numbers much):
  - kernel start -> first init line, each phase's dur_ms, init start ->
    program start, program exit -> power-off;
  - PID 1's VmRSS while the program runs;
  - the sizes of out/busybox, out/initrd and the test initrd.
Run tests/run (or build.sh) first.
"""

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import images, kernel, vm as vmm  # noqa: E402

REPO = os.path.dirname(HERE)
OUT = os.environ.get("HYPEMAN_OUT", os.path.join(REPO, "out"))
PHASES = ["mount", "modules", "overlay", "config", "volumes", "network", "egress-ca", "agent",
          "switch"]


def one_boot(tmp, initrd, vmlinuz):
    root = images.rootfs(os.path.join(tmp, "root"))
    cmd = "grep -E '^VmRSS' /proc/1/status"
    g = images.Guest(os.path.join(tmp, "disks"), root,
                     {"cmd": ["/bin/sh", "-c", cmd], "skip_guest_agent": True})
    v = vmm.VM(os.path.join(tmp, "vm"), initrd, disks=g.disks, kernel=vmlinuz, timeout=120)
    v.start()
    try:
        v.wait_exit(120)
    finally:
        v.kill()
    v.assert_no_panic()
    lines = v.log_lines()
    r = {"first_line": lines[0]["uptime_ms"]}
    for l in lines:
        if "dur_ms" in l and l["phase"] in PHASES:
            r[l["phase"]] = l["dur_ms"]
        if l["phase"] == "exec" and l["msg"].startswith("starting"):
            r["program_start"] = l["uptime_ms"]
        if l["phase"] == "shutdown" and "sending SIGTERM" in l["msg"]:
            r["exit_seen"] = l["uptime_ms"]
        if l["phase"] == "shutdown" and l["msg"] == "powering off":
            r["poweroff"] = l["uptime_ms"]
    r["init_to_program"] = r["program_start"] - r["first_line"]
    r["exit_to_poweroff"] = r["poweroff"] - r["exit_seen"]
    for line in v.console_text.splitlines():
        if line.startswith("VmRSS:"):
            r["pid1_rss_kb"] = int(line.split()[1])
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--initrd", default=os.path.join(OUT, "initrd-test"))
    args = ap.parse_args()
    vmlinuz = kernel.kernel_tree()[0]
    runs = []
    for i in range(args.n):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_boot(tmp, args.initrd, vmlinuz))
        print("run %d: init->program %d ms" % (i + 1, runs[-1]["init_to_program"]), file=sys.stderr)

    print("accelerator: %s, runs: %d (median, min, max in ms)" % (
        os.environ.get("HYPEMAN_ACCEL", "tcg"), args.n))
    print("| measure | median | min | max |")
    print("|---|---|---|---|")
    keys = ["first_line"] + PHASES + ["init_to_program", "exit_to_poweroff", "pid1_rss_kb"]
    for k in keys:
        vals = [r[k] for r in runs if k in r]
        if vals:
            print("| %s | %d | %d | %d |" % (k, statistics.median(vals), min(vals), max(vals)))
    for name in ("busybox", "initrd", "initrd-test"):
        p = os.path.join(OUT, name)
        if os.path.exists(p):
            print("size of out/%s: %d bytes" % (name, os.path.getsize(p)))


if __name__ == "__main__":
    main()
