#!/usr/bin/python3
"""Boot-time and size benchmark of hypeman-init (not a test: it measures).

    /usr/bin/python3 tests/bench.py [-n RUNS] [--smp N] [--arch x86_64,aarch64]
        [--kernel bookworm,hypeman] [--initrd FILE] [--variant NAME=INITRD[,KERNEL-ARGS]]...
        [--no-reference] [--no-floor] [--svg-dir DIR]
    /usr/bin/python3 tests/bench.py --gpu [-n RUNS]
    /usr/bin/python3 tests/bench.py --bundle-options [-n RUNS]
    /usr/bin/python3 tests/bench.py --headers-options [-n RUNS]

Boots a minimal exec-mode image (QEMU, Debian's kernel, TCG unless
HYPEMAN_ACCEL=kvm; disks only: no NIC, no vsock, no virtio console) with
each variant in turn, RUNS rounds of one boot each (ABAB...), and prints
medians and min/max of:
  - kernel start -> init start (the init's first line), the init's phases,
    init start -> program start (HYPEMAN-PROGRAM-START, printed just
    before execve), the module loading, the init's own work (init start ->
    program start without the module loading), program exit -> power-off;
  - PID 1's VmRSS while the program runs (the reference: its init shell's,
    just before switch_root);
  - each figure as a ratio to the floor, to the floor with the contract
    and to the reference (and the floor with the contract's to the floor),
    and the host's load average before and after;
  - where hypeman-init's time beyond the floor's goes: each of its phases
    against the floor's cost of the same syscalls, and the floor's steps
    (each module, each mount) one by one.
Variants: "hypeman-init" (--initrd, default out/initrd-test), the floor
(tests/bench/floor-init.c: a static C program doing only the syscalls of
this boot, no log, no checks, loading the .ko files hypeman-init loaded
on this VM in its order, read off one boot with hypeman.debug=1 before
the rounds), the floor with the contract ("floor+contract": the same
program built with FLOOR_CONTRACT, adding what the guest contract makes
every init do and the floor leaves out, the cheapest way: the other kernel
filesystems and /dev links, lo up, / private and /run moved, and the very
console lines hypeman-init printed before its program on this VM, read off
one plain boot; its ratio to the floor is what the contract costs, and
hypeman-init's ratio to it what our implementation costs beyond that),
the reference (tests/bench/reference-init.sh: the classic
shell initrd with Debian's busybox and the same module list, loaded whole
with insmod), and any --variant (an older build, a kernel option). In-guest
times are CLOCK_BOOTTIME (ours: uptime_ms; the floor's HYPEMAN-FLOOR line)
or the kernel's printk clock (the reference's /dev/kmsg markers, and the
"reboot: Power down" line); both start at boot, and every other figure is
a difference on one clock. Under TCG
they still follow host load: measure on an idle machine. --svg-dir
writes one boot timeline per variant (timeline-NAME.svg), all on one
time scale.
--arch (default the host's) names one or two architectures: each gets
its own hypeman-init, floor and reference variants (Debian's kernel, busybox and
out/<arch>/initrd-test of that architecture; aarch64 under
qemu-system-aarch64 -M virt), all in the same alternating rounds, and the
table adds the ratio of the second architecture to the first. --kernel
names one or two kernels of tests/lib/kernel.py: bookworm (Debian's, the
default: hypeman-init boots out/<arch>/initrd-test, the floor and the
reference load Debian's modules) and hypeman (the production shape, every
boot driver built in: hypeman-init boots the plain out/<arch>/initrd, and
no variant loads a module). Each architecture and kernel is a group of
variants with its own table, all in the same alternating rounds. --initrd
goes with one architecture and one kernel.
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
import datetime
import glob
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import arch as archs, disks, images, kernel, vm as vmm  # noqa: E402

REPO = os.path.dirname(HERE)
OUT = os.environ.get("HYPEMAN_OUT", os.path.join(REPO, "out"))
CACHE = os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init")
PHASES = ["mount", "modules", "overlay", "config", "volumes", "network", "egress-ca", "gpu", "agent",
          "headers", "switch", "exec"]
REF_PHASES = ["mount", "modules", "overlay", "config", "network", "switch"]
FLOOR_PHASES = ["mount", "modules", "overlay", "config", "network", "switch"]
PROGRAM = ["/bin/sh", "-c", "grep -E '^VmRSS' /proc/1/status"]
FIGURES = [("kernel_ms", "kernel start -> init start (ms)"),
           ("init_to_program", "init start -> program start (ms)"),
           ("modules", "module loading (ms)"),
           ("own_work", "init's own work: init -> program without modules (ms)"),
           ("after_switch", "of which switch end -> program start (ms)"),
           ("between_phases", "of which outside the phases (ms)"),
           ("exit_to_poweroff", "program exit -> power-off (ms)"),
           ("pid1_rss_kb", "PID 1 RSS (kB)"),
           ("n_modules", "modules loaded")]
KMSG = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")


def kernel_lines(console):
    """[(ms, text)] of the kernel's console lines."""
    out = []
    for line in console.splitlines():
        m = KMSG.match(line.strip())
        if m:
            out.append((float(m.group(1)) * 1000, m.group(2)))
    return out


def poweroff_ms(console):
    return next((t for t, s in kernel_lines(console) if s.startswith("reboot: Power down")), None)


# ---- the reference initrd ------------------------------------------------------

def boot_module_names(arch):
    with open(os.path.join(REPO, "build.sh")) as f:
        text = f.read()
    names = re.search(r'^BOOT_MODULES="([^"]*)"', text, re.M).group(1).split()
    if arch == "aarch64":               # build.sh's arm64 addition
        names += re.search(r'aarch64 \] \|\| BOOT_MODULES="\$BOOT_MODULES ([^"]*)"',
                           text).group(1).split()
    return names


def reference_initrd(path, arch, moddir, rel):
    """tests/bench/reference-init.sh as /init, Debian's static busybox, the
    boot set's modules from the kernel tree MODDIR (uncompressed, as in
    ours; none when MODDIR is None: a kernel with its drivers built in) and
    their load order in /etc/modules.order."""
    order = kernel.module_closure(moddir, boot_module_names(arch)) if moddir else []
    ir = vmm.Initramfs()
    with open(os.path.join(HERE, "bench", "reference-init.sh"), "rb") as f:
        ir.file("/init", f.read(), 0o755)
    ir.file_from("/bin/busybox", images.busybox_binary(arch), 0o755)
    for app in ("sh", "mount", "umount", "mkdir", "insmod", "ip", "switch_root", "sleep"):
        ir.symlink("/bin/" + app, "busybox")
    ir.chardev("/dev/console", 5, 1)
    ir.chardev("/dev/kmsg", 1, 11)
    for d in ("/proc", "/sys", "/run", "/lower", "/overlay", "/mnt/config"):
        ir.dir(d)
    listed = []
    for p in order:
        relpath = os.path.join(rel, os.path.relpath(p, moddir))
        ir.file_from("/lib/modules/" + relpath, p, 0o644)
        listed.append(relpath)
    ir.file("/etc/modules.order", "".join(x + "\n" for x in listed))
    with open(path, "wb") as f:
        f.write(gzip.compress(ir.bytes(), 9))
    return path, len(order)


def module_paths(moddir):
    """{name: path relative to MODDIR} from modules.dep ('-' read as '_')."""
    out = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            rel = line.partition(":")[0]
            out[os.path.basename(rel).split(".ko")[0].replace("-", "_")] = rel
    return out


def loaded_modules(arch, initrd, kernel_image, smp):
    """The modules hypeman-init loads on the bench's VM, in its order: the
    "loaded NAME (N ms)" lines of one boot with hypeman.debug=1."""
    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        console = boot(tmp, arch, initrd, "hypeman.debug=1", smp, kernel_image)
    names = []
    for l in vmm.parse_log(console):
        m = re.match(r"loaded (\S+) \(\d+ ms\)$", l["msg"]) if l["phase"] == "modules" else None
        if m:
            names.append(m.group(1))
    return names


def c_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def console_output(arch, initrd, kernel_image, smp):
    """[(phase, line)]: what hypeman-init writes on the console up to the
    program's start in one plain boot on the bench's VM: its log lines
    (a marker counted in phase exec), each with its newline."""
    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        console = boot(tmp, arch, initrd, "", smp, kernel_image)
    out = []
    for line in vmm.console_lines(console):
        if line.startswith("{"):
            out.append((json.loads(line)["phase"], line + "\n"))
        elif vmm.parse_marker(line):
            out.append(("exec", line + "\n"))
            if line.startswith("HYPEMAN-PROGRAM-START"):
                return out
    raise RuntimeError("no HYPEMAN-PROGRAM-START:\n" + console[-3000:])


def floor_initrd(path, arch, names, moddir, rel, lines=None):
    """tests/bench/floor-init.c as /init, built with musl-gcc for the
    module files NAMES (hypeman-init's list, same order) of the kernel
    tree MODDIR, which the initrd carries where ours does. With LINES
    (console_output's), the floor with the contract (FLOOR_CONTRACT)."""
    paths = module_paths(moddir) if names else {}
    header = path + ".h"
    with open(header, "w") as f:
        if lines is not None:
            f.write("#define FLOOR_CONTRACT 1\n#define FLOOR_LINES %s\n" % " ".join(
                "{ %s, %s }," % (c_string(p), c_string(l)) for p, l in lines))
        f.write("#define FLOOR_MODULES %s\n" % " ".join(
            "{ %s, %s }," % (c_string("mod:" + n), c_string("/lib/modules/%s/%s" % (rel, paths[n])))
            for n in names))
        f.write("#define FLOOR_PROGRAM %s\n" % ", ".join(c_string(a) for a in PROGRAM))
    binary = path + ".bin"
    subprocess.run([images.musl_gcc(arch), "-static", "-Os", "-s", "-include", header, "-o", binary,
                    os.path.join(HERE, "bench", "floor-init.c")], check=True)
    ir = vmm.Initramfs()
    ir.file_from("/init", binary, 0o755)
    ir.chardev("/dev/console", 5, 1)
    for d in ("/proc", "/sys", "/run", "/lower", "/overlay", "/newroot", "/mnt/config"):
        ir.dir(d)
    for n in names:
        ir.file_from("/lib/modules/%s/%s" % (rel, paths[n]), os.path.join(moddir, paths[n]), 0o644)
    with open(path, "wb") as f:
        f.write(gzip.compress(ir.bytes(), 9))
    return path


# ---- one boot ------------------------------------------------------------------

def guest(tmp, arch):
    """The disks: the image, the overlay disk, and a config disk with both
    config.json (ours) and config.sh (the reference's stand-in)."""
    cfg = {"cmd": PROGRAM, "skip_guest_agent": True}
    root = images.rootfs(os.path.join(tmp, "root"), arch=arch)
    g = images.Guest(os.path.join(tmp, "disks"), root, cfg)
    src = os.path.join(tmp, "config")
    os.makedirs(src)
    with open(os.path.join(src, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(src, "config.sh"), "w") as f:
        f.write("set -- %s\n" % " ".join("'%s'" % a.replace("'", "'\\''") for a in PROGRAM))
    disks.ext4_from_dir(g.vdc, src, 16)
    return g


def boot(tmp, arch, initrd, append, smp, vmlinuz):
    g = guest(tmp, arch)
    # the kernel's timestamps, which the floor and the reference are read
    # by (the production-shape kernel has them off by default)
    append = " ".join(x for x in ("printk.time=1", append) if x)
    v = vmm.VM(os.path.join(tmp, "vm"), initrd, disks=g.disks, append_extra=append,
               kernel=vmlinuz, agent_socket=False, smp=smp, timeout=120, arch=arch)
    v.start()
    try:
        v.wait_exit(120)
    finally:
        v.kill()
    v.assert_no_panic()
    return v.console_text


def ours(console):
    """Figures and phase spans [start, end] (ms) from hypeman-init's log."""
    lines = vmm.parse_log(console)
    if not lines:
        raise RuntimeError("no log lines:\n" + console[-3000:])
    r = {"kernel_ms": lines[0]["uptime_ms"], "spans": {}}
    for l in lines:
        if "dur_ms" in l and l["phase"] in PHASES:
            r["spans"][l["phase"]] = (l["uptime_ms"] - l["dur_ms"], l["uptime_ms"])
            if l["phase"] == "modules":
                r["modules"] = l["dur_ms"]
                m = re.match(r"(\d+) modules loaded", l["msg"])
                r["n_modules"] = int(m.group(1)) if m else 0
        if l["phase"] == "exec" and "dur_ms" in l:
            exec_line = l
        if l["phase"] == "shutdown" and "exit" not in r:
            r["exit"] = l["uptime_ms"]
        if l["phase"] == "shutdown" and "dur_ms" in l:
            r["poweroff"] = l["uptime_ms"]
    r["program"] = program_start(exec_line, console)
    return r


def realtime_s(rfc3339):
    """Seconds since the epoch of "2026-12-01T01:02:03.456[789123]Z"."""
    whole, _, frac = rfc3339.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + float("0." + (frac or "0"))


def program_start(exec_line, console):
    """The uptime (ms) of HYPEMAN-PROGRAM-START, printed by the program's
    process just before execve: the exec phase's last line plus the
    realtime between the two."""
    marker = next(m[1] for m in map(vmm.parse_marker, console.splitlines())
                  if m and m[0] == "HYPEMAN-PROGRAM-START")
    return exec_line["uptime_ms"] + (realtime_s(marker["ts"]) - realtime_s(exec_line["time"])) * 1000


def reference(console):
    """The same from the reference's kernel-log markers."""
    marks = {}
    for t, text in kernel_lines(console):
        if text.startswith("hmref: "):
            word = text[7:].split()
            marks.setdefault(word[0], (t, word[1:]))
    r = {"kernel_ms": marks["start"][0], "spans": {}, "program": marks["program"][0],
         "exit": marks["exit"][0], "poweroff": poweroff_ms(console),
         "pid1_rss_kb": int(marks["rss"][1][0])}
    prev = r["kernel_ms"]
    for p in REF_PHASES:
        # switch_root's work (emptying the initramfs, exec) ends at the
        # program's first marker
        end = marks["program" if p == "switch" else p][0]
        r["spans"][p] = (prev, end)
        prev = end
    r["modules"] = r["spans"]["modules"][1] - r["spans"]["modules"][0]
    return r


def floor(console):
    """The same from the floor's HYPEMAN-FLOOR line (ms since boot after
    each step; floor-init.c)."""
    line = next(((t, s) for t, s in kernel_lines(console) if s.startswith("HYPEMAN-FLOOR ")), None)
    if line is None:
        raise RuntimeError("no HYPEMAN-FLOOR line:\n" + console[-3000:])
    marks = [(k, float(v)) for k, v in (w.split("=", 1) for w in line[1].split()[1:])]
    at = dict(marks)
    # the line is written to /dev/kmsg at the program's exit: power-off on
    # the kernel's clock
    r = {"kernel_ms": at["start"], "program": at["program"], "exit": at["exit"],
         "poweroff": poweroff_ms(console) - line[0] + at["exit"], "spans": {},
         "modules": at["modules"] - at["mount"],
         "n_modules": sum(1 for k, _ in marks if k.startswith("mod:"))}
    prev = at["start"]
    for p in FLOOR_PHASES:
        if p in at:     # network: the floor with the contract only
            r["spans"][p] = (prev, at[p])
            prev = at[p]
    # each step on its own (a module, a mount): "where the difference goes"
    r["steps"] = {k: t - marks[i - 1][1] for i, (k, t) in enumerate(marks) if i and k != "program"}
    r["steps"]["program"] = at["program"] - at["switch"]
    return r


def vmrss_kb(console):
    for line in console.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def figures(console, kind, ref_modules=None):
    """KIND: "ours", "reference" (REF_MODULES: its module count) or "floor"."""
    r = {"ours": ours, "reference": reference, "floor": floor}[kind](console)
    if kind == "reference":
        r["n_modules"] = ref_modules
    elif vmrss_kb(console) is not None:
        r["pid1_rss_kb"] = vmrss_kb(console)
    r["init_to_program"] = r["program"] - r["kernel_ms"]
    r["own_work"] = r["init_to_program"] - r.get("modules", 0)
    r["after_switch"] = r["program"] - r["spans"]["switch"][1]
    r["between_phases"] = (r["init_to_program"] - r["after_switch"]
                           - sum(e - s for p, (s, e) in r["spans"].items() if p != "exec"))
    if "poweroff" in r and "exit" in r:
        r["exit_to_poweroff"] = r["poweroff"] - r["exit"]
    return r


# ---- report ----------------------------------------------------------------------

def stats(runs, key):
    vals = [r[key] for r in runs if key in r]
    return (statistics.median(vals), min(vals), max(vals)) if vals else None


def phase_stats(runs, p):
    return stats([{"v": r["spans"][p][1] - r["spans"][p][0]} for r in runs if p in r["spans"]], "v")


def report(results, bases):
    """A table of every figure: each variant's median (min-max), then each
    other variant's median over each of BASES' (the floor, the floor with
    the contract, the reference), and the floor with the contract's over
    the floor's."""
    names = list(results)
    pairs = [(n, b) for b in bases for n in names if n not in bases]
    # the floor with the contract over the floor: what the contract costs
    pairs += [(n, b) for b in bases[:1] for n in bases[1:] if n.startswith("floor+contract")]
    print("| figure | " + " | ".join("%s median (min-max)" % n for n in names)
          + "".join(" | %s / %s" % pr for pr in pairs) + " |")
    print("|---" * (1 + len(names) + len(pairs)) + "|")
    rows = FIGURES + [("phase:" + p, "phase %s (ms)" % p) for p in PHASES]
    for key, label in rows:
        cells, meds = [], {}
        for n in names:
            s = phase_stats(results[n], key[6:]) if key.startswith("phase:") else stats(results[n], key)
            meds[n] = s[0] if s else None
            cells.append("%g (%g-%g)" % tuple(round(x, 1) for x in s) if s else "-")
        if all(c == "-" for c in cells):
            continue
        ratios = ["%.2f" % (meds[n] / meds[b]) if meds[n] is not None and meds[b] else "-"
                  for n, b in pairs]
        print("| %s | %s |" % (label, " | ".join(cells + ratios)))


def report_gap(ours_runs, floor_runs):
    """Where hypeman-init's time beyond the floor's goes: each of our phases
    against the floor's cost of the same syscalls (medians, ms)."""
    print("| span | hypeman-init | floor | difference |")
    print("|---|---|---|---|")
    rows = [(p, "phase " + p) for p in PHASES if p != "exec"] + [
        ("after_switch", "switch end -> program start"),
        ("between_phases", "outside the phases (log lines, stop point)"),
        ("init_to_program", "init start -> program start")]
    for key, label in rows:
        if key in PHASES:
            a, b = phase_stats(ours_runs, key), phase_stats(floor_runs, key)
        else:
            a, b = stats(ours_runs, key), stats(floor_runs, key)
        if not a:
            continue
        fl = b[0] if b else 0.0
        print("| %s | %.1f | %s | %+.1f |" % (label, a[0], "%.1f" % fl if b else "-", a[0] - fl))
    steps = {}
    for r in floor_runs:
        for k, v in r["steps"].items():
            steps.setdefault(k, []).append(v)
    print("\nthe floor's steps (median ms): " + ", ".join(
        "%s %.1f" % (k, statistics.median(v)) for k, v in steps.items()))


def report_arches(first, second):
    """The second architecture's medians over the first's, figure by figure."""
    print("| figure | ratio |")
    print("|---|---|")
    for key, label in FIGURES:
        a, b = stats(first, key), stats(second, key)
        if a and b and a[0]:
            print("| %s | %.2f |" % (label, b[0] / a[0]))


def timeline_svg(path, name, runs, phases, span_ms):
    """Median phase spans after the init starts, kernel time as a shaded
    box (not to scale), like systemd-analyze plot. SPAN_MS: the time axis
    (the same for every variant, so that the pictures compare)."""
    spans = {}
    for p in phases:
        ss = [r["spans"][p] for r in runs if p in r["spans"]]
        if ss:
            spans[p] = (statistics.median(s[0] for s in ss), statistics.median(s[1] for s in ss))
    init = statistics.median(r["kernel_ms"] for r in runs)
    program = statistics.median(r["program"] for r in runs)
    width, left, kbox, row = 900, 90, 110, 22
    scale = (width - left - kbox - 70) / span_ms
    x = lambda t: left + kbox + (t - init) * scale
    top, rows = 30, len(spans) + 1
    height = top + row * rows + 40
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-weight="bold">%s: from kernel start to the program, '
           'median of %d boots</text>' % (name, len(runs)),
           '<rect x="%d" y="%d" width="%d" height="%d" fill="#ddd"/>' % (left, top, kbox - 6, row * rows),
           '<text x="%d" y="%d" fill="#444">kernel</text>' % (left + 6, top + 16),
           '<text x="%d" y="%d" fill="#444">%d ms</text>' % (left + 6, top + 32, init),
           '<text x="%d" y="%d" fill="#444">(not to scale)</text>' % (left + 6, top + 48)]
    for i, (p, (s0, e0)) in enumerate(spans.items()):
        y = top + row * (i + 1)
        w = max((e0 - s0) * scale, 1)
        out.append('<text x="10" y="%d">%s</text>' % (y + 15, p))
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#4a7fc1"/>'
                   % (x(s0), y + 3, w, row - 6))
        out.append('<text x="%.1f" y="%d">%d ms</text>' % (x(s0) + w + 4, y + 15, round(e0 - s0)))
    bottom = top + row * rows
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c33" stroke-width="2"/>'
               % (x(program), top, x(program), bottom))
    right = x(program) > width - 260
    out.append('<text x="%.1f" y="%d" fill="#c33" text-anchor="%s">program starts: %d ms after '
               'the init</text>' % (x(program) + (-4 if right else 4), top + 14,
                                    "end" if right else "start", program - init))
    step = 100 if span_ms <= 1500 else 500
    for t in range(0, int(span_ms) + 1, step):
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>'
                   % (x(init + t), bottom, x(init + t), bottom + 5))
        out.append('<text x="%.1f" y="%d" fill="#555" text-anchor="middle">+%d</text>'
                   % (x(init + t), bottom + 18, t))
    out.append('<text x="%d" y="%d" fill="#555">ms after the init starts</text>'
               % (left + kbox, bottom + 34))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ---- GPU bundle and kernel headers (--gpu, --bundle-options, --headers-options) ----

def run_guest(tmp, initrd, vmlinuz, script, config=None, image_files=None,
              overlay_mb=64, mem_mb=512):
    """Boots a busybox image that runs SCRIPT; returns the finished VM."""
    root = images.rootfs(os.path.join(tmp, "root"), files=image_files)
    cfg = {"cmd": ["/bin/sh", "-c", script], "skip_guest_agent": True}
    cfg.update(config or {})
    extra_mb = sum(len(d) for d in (image_files or {}).values()) // (1 << 20) * 2
    g = images.Guest(os.path.join(tmp, "disks"), root, cfg, overlay_mb=overlay_mb,
                     image_mb=64 + extra_mb)
    v = vmm.VM(os.path.join(tmp, "vm"), initrd, disks=g.disks, kernel=vmlinuz, timeout=300,
               mem_mb=mem_mb)
    v.start()
    try:
        v.wait_exit(300)
    finally:
        v.kill()
    v.assert_no_panic()
    return v


MEMINFO = "grep -E '^(MemAvailable|MemFree):' /proc/meminfo | sed 's/^/%s/'; "
WAIT_READY = ("i=0; until grep -qx ready /run/hypeman/kernel-headers.status 2>/dev/null || [ $i -ge 600 ]; "
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


def kernel_of(arch, flavour):
    """(vmlinuz, modules dir, release, whether its boot drivers are
    modules) of tests/lib/kernel.py's FLAVOUR: "bookworm" (Debian's) or
    "hypeman" (the production shape: every boot driver built in)."""
    if flavour == "bookworm":
        return kernel.kernel_tree(arch=arch) + (True,)
    return kernel.kernel_tree(arch=arch, flavour=flavour) + (False,)


def make_variants(args, arches, flavours, tmp):
    """[{name, kind, arch, initrd, append, vmlinuz, ref_modules, group}]:
    for each architecture and kernel, hypeman-init (the test initrd with
    Debian's modules, the plain one for a kernel without), the --variant
    ones, the floor (built for the modules hypeman-init loads on this VM,
    read off one debug boot) and the reference."""
    variants = []
    for a in arches:
        for fl in flavours:
            group = " ".join(x for x in (a if len(arches) > 1 else "",
                                         fl + " kernel" if len(flavours) > 1 else "") if x)
            tag = " (%s)" % group if group else ""
            vmlinuz, moddir, rel, modular = kernel_of(a, fl)
            base = dict(arch=a, append="", vmlinuz=vmlinuz, kind="ours", ref_modules=None,
                        group=group or a)
            initrd = args.initrd or os.path.join(archs.out_dir(a), "initrd-test" if modular else "initrd")
            variants.append(dict(base, name="hypeman-init" + tag, initrd=initrd))
            for v in args.variant:
                name, rest = v.split("=", 1)
                vinitrd, _, append = rest.partition(",")
                variants.append(dict(base, name=name + tag, initrd=vinitrd, append=append))
            stem = os.path.join(tmp, "%s-%s" % (a, fl))
            if not args.no_floor:
                names = loaded_modules(a, initrd, vmlinuz, args.smp)
                print("floor%s: the modules hypeman-init loaded (hypeman.debug=1): %s"
                      % (tag, " ".join(names) or "none"), file=sys.stderr)
                variants.append(dict(base, name="floor" + tag, kind="floor",
                                     initrd=floor_initrd(stem + "-floor", a, names, moddir, rel)))
                lines = console_output(a, initrd, vmlinuz, args.smp)
                print("floor+contract%s: hypeman-init's %d console lines before the program, %d bytes"
                      % (tag, len(lines), sum(len(l) for _, l in lines)), file=sys.stderr)
                variants.append(dict(base, name="floor+contract" + tag, kind="floor",
                                     initrd=floor_initrd(stem + "-floorc", a, names, moddir, rel, lines)))
            if not args.no_reference:
                rinitrd, n = reference_initrd(stem + "-ref", a, moddir if modular else None, rel)
                variants.append(dict(base, name="reference" + tag, kind="reference", initrd=rinitrd,
                                     ref_modules=n))
    return variants


def run_rounds(variants, n, smp):
    """N rounds of one boot per variant, in the same order (ABCABC...)."""
    results = {v["name"]: [] for v in variants}
    for i in range(n):
        for v in variants:
            with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
                console = boot(tmp, v["arch"], v["initrd"], v["append"], smp, v["vmlinuz"])
                r = figures(console, v["kind"], v["ref_modules"])
            results[v["name"]].append(r)
            print("round %d %s: init->program %.1f ms, modules %.1f ms" % (
                i + 1, v["name"], r["init_to_program"], r.get("modules", 0)), file=sys.stderr)
    return results


def print_results(variants, results, arches):
    groups = list(dict.fromkeys(v["group"] for v in variants))
    for g in groups:
        mine = [v for v in variants if v["group"] == g]
        if len(groups) > 1:
            print("\n%s:" % g)
        bases = [v["name"] for k in ("floor", "reference") for v in mine if v["kind"] == k]
        report({v["name"]: results[v["name"]] for v in mine}, bases)
        ours = next(v["name"] for v in mine if v["kind"] == "ours")
        for v in (v for v in mine if v["kind"] == "floor"):
            print("\nwhere hypeman-init's time beyond %s's goes (%s, medians):" % (v["name"], g))
            report_gap(results[ours], results[v["name"]])
    if len(arches) == 2:
        first, second = ([v["name"] for v in variants if v["arch"] == a and v["kind"] == "ours"][0]
                         for a in arches)
        print("\n%s / %s (medians):" % (arches[1], arches[0]))
        report_arches(results[first], results[second])
    for a in arches:
        for name in ("busybox", "initrd", "initrd-test"):
            p = os.path.join(archs.out_dir(a), name)
            if os.path.exists(p):
                print("size of %s: %d bytes" % (os.path.relpath(p, REPO), os.path.getsize(p)))


def write_svgs(svg_dir, variants, results):
    """One timeline per variant, on one time scale per architecture and
    kernel."""
    os.makedirs(svg_dir, exist_ok=True)
    span = {}
    for v in variants:
        s = 1.05 * statistics.median(r["program"] - r["kernel_ms"] for r in results[v["name"]])
        span[v["group"]] = max(span.get(v["group"], 0), s)
    phases = {"ours": PHASES, "reference": REF_PHASES, "floor": FLOOR_PHASES}
    for v in variants:
        path = os.path.join(svg_dir, "timeline-%s.svg" % re.sub(r"[^a-z0-9_.]+", "-", v["name"]).strip("-"))
        timeline_svg(path, v["name"], results[v["name"]], phases[v["kind"]], span[v["group"]])
        print("wrote %s" % path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=9)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--arch", default=archs.host())
    ap.add_argument("--kernel", default="bookworm", metavar="FLAVOUR[,FLAVOUR]")
    ap.add_argument("--initrd")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=INITRD[,ARGS]")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--svg-dir")
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
    flavours = args.kernel.split(",")
    if (len(arches) > 1 or len(flavours) > 1) and args.initrd:
        ap.error("--initrd goes with one --arch and one --kernel")
    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        variants = make_variants(args, arches, flavours, tmp)
        load_before = os.getloadavg()
        results = run_rounds(variants, args.n, args.smp)
        load_after = os.getloadavg()
    print("accelerator: %s, -smp %d, %d boots per variant, alternating; disks only "
          "(no NIC, vsock or console device)" % (os.environ.get("HYPEMAN_ACCEL", "tcg"), args.smp, args.n))
    print("host load average before: %.2f %.2f %.2f, after: %.2f %.2f %.2f"
          % (load_before + load_after))
    print_results(variants, results, arches)
    if args.svg_dir:
        write_svgs(args.svg_dir, variants, results)


if __name__ == "__main__":
    main()
