#!/usr/bin/python3
"""Boot-time and size benchmark of hypeman-init (not a test: it measures).

    /usr/bin/python3 tests/bench.py [-n RUNS] [--arch x86_64,aarch64] [--initrd FILE]

Boots a minimal exec-mode image RUNS times per architecture (QEMU,
Debian's kernel for it, TCG unless HYPEMAN_ACCEL=kvm; architectures
alternate, run by run) and reports, from the init's own JSON log (uptime_ms
is CLOCK_BOOTTIME in the guest, so host load does not skew the in-guest
numbers much):
  - kernel start -> first init line, each phase's dur_ms, init start ->
    program start, program exit -> power-off;
  - PID 1's VmRSS while the program runs;
  - the sizes of busybox, the plain initrd and the test initrd;
  - with two architectures, the ratio of their medians.
--arch defaults to the host's; --initrd (one architecture only) defaults to
its test initrd (out/initrd-test, out/<arch>/initrd-test).
Run tests/run (or build.sh) first.
"""

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import arch as archs, images, kernel, vm as vmm  # noqa: E402

PHASES = ["mount", "modules", "overlay", "config", "volumes", "network", "agent", "switch"]
KEYS = ["first_line"] + PHASES + ["init_to_program", "exit_to_poweroff", "pid1_rss_kb"]


def one_boot(tmp, arch, initrd, vmlinuz):
    root = images.rootfs(os.path.join(tmp, "root"), arch=arch)
    cmd = "grep -E '^VmRSS' /proc/1/status"
    g = images.Guest(os.path.join(tmp, "disks"), root,
                     {"cmd": ["/bin/sh", "-c", cmd], "skip_guest_agent": True})
    v = vmm.VM(os.path.join(tmp, "vm"), initrd, disks=g.disks, kernel=vmlinuz, timeout=120,
               arch=arch)
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
    ap.add_argument("--arch", default=archs.host())
    ap.add_argument("--initrd")
    args = ap.parse_args()
    arches = [archs.norm(a) for a in args.arch.split(",")]
    if args.initrd and len(arches) > 1:
        ap.error("--initrd goes with one --arch")
    setup = {}
    for a in arches:
        initrd = args.initrd or os.path.join(archs.out_dir(a), "initrd-test")
        setup[a] = (initrd, kernel.kernel_tree(arch=a)[0])
    load0 = os.getloadavg()
    runs = {a: [] for a in arches}
    for i in range(args.n):
        for a in arches:                 # alternate: load hits both alike
            with tempfile.TemporaryDirectory() as tmp:
                runs[a].append(one_boot(tmp, a, *setup[a]))
            print("run %d %s: init->program %d ms" % (i + 1, a, runs[a][-1]["init_to_program"]),
                  file=sys.stderr)
    load1 = os.getloadavg()

    print("accelerator: %s, runs: %d per architecture (median, min, max in ms); "
          "load average %.2f at start, %.2f at end" % (
              os.environ.get("HYPEMAN_ACCEL", "tcg"), args.n, load0[0], load1[0]))
    head = "| measure |" + "".join(" %s median | min | max |" % a for a in arches)
    if len(arches) == 2:
        head += " %s/%s |" % (arches[1], arches[0])
    print(head)
    print("|---|" + "---|---|---|" * len(arches) + ("---|" if len(arches) == 2 else ""))
    for k in KEYS:
        cells, meds = [], []
        for a in arches:
            vals = [r[k] for r in runs[a] if k in r]
            if not vals:
                cells.append(" - | - | - |")
                meds.append(None)
                continue
            meds.append(statistics.median(vals))
            cells.append(" %d | %d | %d |" % (meds[-1], min(vals), max(vals)))
        row = "| %s |%s" % (k, "".join(cells))
        if len(arches) == 2:
            row += (" %.2f |" % (meds[1] / meds[0])) if meds[0] and meds[1] else " - |"
        print(row)
    for a in arches:
        for name in ("busybox", "initrd", "initrd-test"):
            p = os.path.join(archs.out_dir(a), name)
            if os.path.exists(p):
                print("size of %s: %d bytes" % (os.path.relpath(p, archs.REPO), os.path.getsize(p)))


if __name__ == "__main__":
    main()
