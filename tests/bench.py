#!/usr/bin/python3
"""Boot-time and size benchmark of hypeman-init (not a test: it measures).

    /usr/bin/python3 tests/bench.py [-n RUNS] [--arch x86_64,aarch64] [--initrd FILE]
    /usr/bin/python3 tests/bench.py --gpu [-n RUNS]
    /usr/bin/python3 tests/bench.py --bundle-options [-n RUNS]
    /usr/bin/python3 tests/bench.py --headers-options [-n RUNS]

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
--gpu compares, alternating runs: the test initrd; the GPU test initrd
(stand-in bundle + the test kernel's headers) with has_gpu false and
skip_kernel_headers; with headers (the default); with has_gpu and headers.
It reports PROGRAM-START (init's "starting" line), when the headers are
ready, and the guest's MemAvailable after the switch (and after ready).
--bundle-options boots the real GPU bundle (out/initrd-gpu-real) with
has_gpu false against the same files carried the other ways (in a gzip'ed
cpio, in an uncompressed cpio): initrd size, kernel start to init, RAM.
--headers-options: the squashfs the worker mounts against extracting the
same tree from a tar.gz in the guest (the other delivery): time to ready,
RAM, disk.
Run tests/run (or build.sh) first.
"""

import argparse
import glob
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import arch as archs, images, kernel, vm as vmm  # noqa: E402

REPO = os.path.dirname(HERE)
OUT = os.environ.get("HYPEMAN_OUT", os.path.join(REPO, "out"))
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
PHASES = ["mount", "modules", "overlay", "config", "volumes", "network", "egress-ca", "gpu", "agent",
          "headers", "switch"]
KEYS = ["first_line"] + PHASES + ["init_to_program", "exit_to_poweroff", "pid1_rss_kb"]


def run_guest(tmp, initrd, vmlinuz, script, config=None, image_files=None,
              overlay_mb=64, mem_mb=512, arch=None):
    """Boots a busybox image that runs SCRIPT; returns the finished VM."""
    arch = arch or archs.host()
    root = images.rootfs(os.path.join(tmp, "root"), files=image_files, arch=arch)
    cfg = {"cmd": ["/bin/sh", "-c", script], "skip_guest_agent": True}
    cfg.update(config or {})
    extra_mb = sum(len(d) for d in (image_files or {}).values()) // (1 << 20) * 2
    g = images.Guest(os.path.join(tmp, "disks"), root, cfg, overlay_mb=overlay_mb,
                     image_mb=64 + extra_mb)
    v = vmm.VM(os.path.join(tmp, "vm"), initrd, disks=g.disks, kernel=vmlinuz, timeout=300,
               mem_mb=mem_mb, arch=arch)
    v.start()
    try:
        v.wait_exit(300)
    finally:
        v.kill()
    v.assert_no_panic()
    return v


def one_boot(tmp, arch, initrd, vmlinuz):
    v = run_guest(tmp, initrd, vmlinuz, "grep -E '^VmRSS' /proc/1/status", arch=arch)
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


MEMINFO = "grep -E '^(MemAvailable|MemFree):' /proc/meminfo | sed 's/^/%s/'; "
WAIT_READY = ("i=0; while [ ! -e /run/hypeman/headers-ready ] && [ $i -lt 600 ]; "
              "do sleep 0.05; i=$((i+1)); done; ")


def boot_measure(tmp, initrd, vmlinuz, config, script, **kw):
    """One boot of a busybox image running SCRIPT; timings from the log and
    the "KEY: N kB" lines the script prints."""
    v = run_guest(tmp, initrd, vmlinuz, script, config, **kw)
    lines = v.log_lines()
    r = {"first_line": lines[0]["uptime_ms"]}
    for l in lines:
        if l["phase"] == "switch" and "dur_ms" in l:
            switched = l["uptime_ms"]
        if l["phase"] == "exec" and l["msg"].startswith("starting"):
            r["program_start"] = l["uptime_ms"] - r["first_line"]
            # what runs between the switch and the program (the headers' fork)
            r["switch_to_start"] = l["uptime_ms"] - switched
        if l["phase"] == "headers" and " ready: " in l["msg"]:
            r["headers_ready"] = l["uptime_ms"] - r["first_line"]
    for line in v.console_text.splitlines():
        w = line.split()
        if len(w) >= 2 and w[0].endswith(":") and w[1].isdigit():
            r[w[0][:-1]] = int(w[1])
    return r


def table(title, variants, runs, keys):
    print("\n%s (accelerator %s, %d runs each, alternating; median [min-max])" % (
        title, os.environ.get("HYPEMAN_ACCEL", "tcg"), len(runs[variants[0][0]])))
    print("| variant | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, *_ in variants:
        cells = []
        for k in keys:
            vals = [r[k] for r in runs[name] if k in r]
            cells.append("%d [%d-%d]" % (statistics.median(vals), min(vals), max(vals)) if vals else "-")
        print("| %s | %s |" % (name, " | ".join(cells)))


def run_variants(variants, n, vmlinuz):
    runs = {v[0]: [] for v in variants}
    for i in range(n):
        for name, initrd, config, script, kw in variants:
            with tempfile.TemporaryDirectory() as tmp:
                runs[name].append(boot_measure(tmp, initrd, vmlinuz, config, script, **kw))
            print("run %d %s: %s" % (i + 1, name, runs[name][-1]), file=sys.stderr)
    return runs


def bench_gpu(n, vmlinuz):
    test, gpu = os.path.join(OUT, "initrd-test"), os.path.join(OUT, "initrd-gpu-test")
    plain = MEMINFO % "switch-"
    waiting = plain + WAIT_READY + MEMINFO % "ready-"
    variants = [
        ("test initrd", test, {}, plain, {}),
        ("gpu initrd, no gpu, skip headers", gpu, {"skip_kernel_headers": True}, plain, {}),
        ("gpu initrd, no gpu, headers", gpu, {}, waiting, {}),
        ("gpu initrd, has_gpu, headers", gpu, {"has_gpu": True}, waiting, {}),
    ]
    runs = run_variants(variants, n, vmlinuz)
    table("PROGRAM-START and RAM (ms, kB)", variants, runs,
          ["first_line", "program_start", "switch_to_start", "headers_ready",
           "switch-MemAvailable", "ready-MemAvailable"])
    for p in (test, gpu):
        print("size of %s: %d bytes" % (p, os.path.getsize(p)))


def bench_bundle_options(n, vmlinuz):
    """The real bundle carried three ways; has_gpu false in all."""
    import subprocess
    real, test = os.path.join(OUT, "initrd-gpu-real"), os.path.join(OUT, "initrd-test")
    bundle = sorted(glob.glob(os.path.join(CACHE, "gpu", "bundle-*")))[-1]
    cpio = os.path.join(OUT, "bench-bundle.cpio")
    subprocess.run("cd %s && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 > %s"
                   % (bundle, cpio), shell=True, check=True)
    made = {}
    for name, comp in (("files-gzip", "gzip -6 -c"), ("files-plain", "cat")):
        out = os.path.join(OUT, "bench-initrd-" + name)
        with open(out, "wb") as f:
            data = open(test, "rb").read()
            f.write(data + b"\0" * (-len(data) % 4))
        subprocess.run("%s %s >> %s" % (comp, cpio, out), shell=True, check=True)
        made[name] = out
    os.unlink(cpio)
    plain = MEMINFO % "switch-"
    variants = [
        ("test initrd (no bundle)", test, {}, plain, {"mem_mb": 1536}),
        ("squashfs in plain cpio (build.sh)", real, {}, plain, {"mem_mb": 1536}),
        ("files in gzip cpio", made["files-gzip"], {}, plain, {"mem_mb": 1536}),
        ("files in plain cpio", made["files-plain"], {}, plain, {"mem_mb": 1536}),
    ]
    runs = run_variants(variants, n, vmlinuz)
    table("the real GPU bundle carried unused (has_gpu false, 1536 MB guest)", variants, runs,
          ["first_line", "program_start", "switch-MemAvailable"])
    for _, p, *_ in variants:
        print("size of %s: %d bytes" % (p, os.path.getsize(p)))
    for p in made.values():
        os.unlink(p)


def bench_headers_options(n, vmlinuz):
    """The chosen delivery (squashfs mounted by the worker) against a
    tar.gz of the same tree extracted into the image by the guest."""
    import subprocess
    gpu = os.path.join(OUT, "initrd-gpu-test")
    rel = kernel.kernel_tree()[2]
    with tempfile.TemporaryDirectory() as tmp:
        tgz = os.path.join(tmp, "h.tgz")
        # the paths build.sh carries for the test kernel (/etc/hypeman/headers)
        subprocess.run(["tar", "-C", "/", "-czf", tgz, "usr/src/linux-headers-" + rel,
                        "usr/src/linux-headers-" + rel.replace("-amd64", "-common"),
                        "usr/lib/linux-kbuild-6.1"], check=True)
        data = open(tgz, "rb").read()
    extract = ("read t0 x < /proc/uptime; tar -xzf /headers.tgz -C /; read t1 x < /proc/uptime; "
               "echo \"t0: ${t0%%.*}${t0#*.}0\"; echo \"t1: ${t1%%.*}${t1#*.}0\"; "
               "echo \"disk_kB: $(du -sk /usr/src /usr/lib/linux-kbuild-6.1 | awk '{s+=$1} END {print s}')\"; "
               + MEMINFO % "ready-")
    variants = [
        ("squashfs, worker mounts", gpu, {}, MEMINFO % "switch-" + WAIT_READY + MEMINFO % "ready-", {}),
        ("tar.gz extracted in the guest", gpu, {"skip_kernel_headers": True},
         MEMINFO % "switch-" + extract, {"image_files": {"/headers.tgz": data}, "overlay_mb": 512}),
    ]
    runs = run_variants(variants, n, vmlinuz)
    for r in runs[variants[1][0]]:
        if "t0" in r and "t1" in r:
            r["extract_ms"] = r["t1"] - r["t0"]
    table("kernel headers delivery (ms, kB)", variants, runs,
          ["program_start", "headers_ready", "extract_ms", "switch-MemAvailable",
           "ready-MemAvailable", "disk_kB"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--arch", default=archs.host())
    ap.add_argument("--initrd")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--bundle-options", action="store_true")
    ap.add_argument("--headers-options", action="store_true")
    args = ap.parse_args()
    if args.gpu or args.bundle_options or args.headers_options:
        vmlinuz = kernel.kernel_tree()[0]
        if args.gpu:
            bench_gpu(args.n, vmlinuz)
        if args.bundle_options:
            bench_bundle_options(args.n, vmlinuz)
        if args.headers_options:
            bench_headers_options(args.n, vmlinuz)
        return
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
