#!/usr/bin/python3
"""Benchmark of `hypeman run`'s host side (not a test: it measures).

    /usr/bin/python3 tests/bench_host.py [-n RUNS] [--size MB] [--hypeman BIN]

Makes a ~500 MB OCI layout (three gzip layers of real files copied from this
machine's /usr), then times, alternating, in one run:
  A  hypeman run --no-boot: every blob checked (SHA-256), the layers applied,
     the erofs rootfs disk, the overlay and config disks;
  B  bsdtar -x of each layer, then mkfs.erofs: the same unpack and disk with
     no check, no whiteouts, no limits;
  C  sha256sum of the layers, then B: the same work A must do, by the
     usual tools.
Prints medians, min, max of the wall time and of the CPU time (user + system,
of all the processes a variant ran: the fairer number on a busy machine),
the load average seen at each run, and the ratios A/B and A/C. Needs root, libarchive-tools (bsdtar),
erofs-utils. Work goes to $TMPDIR (default /var/tmp).
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import oci  # noqa: E402

REPO = os.path.dirname(HERE)
SOURCES = ["/usr/share", "/usr/lib/x86_64-linux-gnu", "/usr/bin"]


def pick_files(root, budget):
    """Regular files and directories below root, sorted, up to budget bytes."""
    names, total = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        names.append(dirpath)
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            names.append(p)
            total += st.st_size if not os.path.islink(p) else 0
            if total >= budget:
                return names, total
    return names, total


def make_layout(layout, size_mb):
    """Three gzip layers, about size_mb MB of files in all."""
    os.makedirs(layout)
    descs, diff_ids, total = [], [], 0
    for i, src in enumerate(SOURCES):
        budget = size_mb * (2, 2, 1)[i] // 5 << 20
        names, got = pick_files(src, budget)
        total += got
        listing = os.path.join(layout, "list")
        with open(listing, "w") as f:
            f.write("\n".join(n.lstrip("/") for n in names) + "\n")
        raw = subprocess.run(["tar", "-C", "/", "--no-recursion", "--numeric-owner", "-cf", "-",
                              "-T", listing], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout
        os.unlink(listing)
        blob = subprocess.run(["gzip", "-6", "-n"], input=raw, stdout=subprocess.PIPE,
                              check=True).stdout
        descs.append(oci.write_blob(layout, blob, oci.MEDIA_LAYER + "+gzip"))
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdesc = oci.write_blob(layout, json.dumps(cfg).encode(), oci.MEDIA_CONFIG)
    man = {"schemaVersion": 2, "mediaType": oci.MEDIA_MANIFEST, "config": cdesc, "layers": descs}
    mdesc = oci.write_blob(layout, json.dumps(man).encode(), oci.MEDIA_MANIFEST)
    mdesc["annotations"] = {oci.REF_NAME: "latest"}
    oci.write_index(layout, [mdesc])
    return descs, total


def cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argvs):
    """(wall seconds, CPU seconds of the processes run)."""
    t, c = time.monotonic(), cpu()
    for argv in argvs:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - t, cpu() - c


def run_hypeman(hypeman, layout, work):
    return timed([[hypeman, "run", "--no-boot", "-q", "--keep", work, "--max-size", "8G",
                   layout]])


def run_pair(layout, descs, work, check):
    root, img = os.path.join(work, "rootfs"), os.path.join(work, "rootfs.img")
    os.makedirs(root)
    argvs = [["sha256sum"] + [oci.blob_path(layout, d) for d in descs]] if check else []
    argvs += [["bsdtar", "-x", "-p", "--numeric-owner", "-f", oci.blob_path(layout, d),
               "-C", root] for d in descs]
    argvs.append(["mkfs.erofs", "--quiet", "--preserve-mtime", img, root])
    return timed(argvs)


def build(out):
    subprocess.run(["make", "-s", "-C", os.path.join(REPO, "host"), "OUT=" + out], check=True)
    return os.path.join(out, "hypeman")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--size", type=int, default=500, help="MB of files in the layout")
    ap.add_argument("--hypeman", help="the binary (default: built from host/)")
    args = ap.parse_args()
    for tool in ("bsdtar", "mkfs.erofs", "sha256sum"):
        if not shutil.which(tool):
            sys.exit("bench_host: %s missing (apt-get install libarchive-tools erofs-utils)" % tool)
    tmp = tempfile.mkdtemp(prefix="hypeman-bench.", dir=os.environ.get("TMPDIR", "/var/tmp"))
    try:
        hypeman = args.hypeman or build(os.path.join(tmp, "bin"))
        layout = os.path.join(tmp, "layout")
        descs, total = make_layout(layout, args.size)
        blobs = sum(d["size"] for d in descs)
        print("layout: %d gzip layers, %.0f MB of files, %.0f MB of blobs; work in %s" %
              (len(descs), total / 1e6, blobs / 1e6, tmp))
        times, cpus, loads = {"A": [], "B": [], "C": []}, {"A": [], "B": [], "C": []}, []
        runs = {"A": lambda w: run_hypeman(hypeman, layout, w),
                "B": lambda w: run_pair(layout, descs, w, False),
                "C": lambda w: run_pair(layout, descs, w, True)}
        for i in range(args.n):
            for name in ("A", "B", "C") if i % 2 == 0 else ("C", "B", "A"):
                work = os.path.join(tmp, "work")
                loads.append(os.getloadavg()[0])
                wall, used = runs[name](work)
                times[name].append(wall)
                cpus[name].append(used)
                shutil.rmtree(work)
            print("run %d: A %.2f s, B %.2f s, C %.2f s (wall)" % (
                i + 1, times["A"][-1], times["B"][-1], times["C"][-1]), file=sys.stderr)
        labels = {"A": "hypeman run --no-boot (check + unpack + disks)",
                  "B": "bsdtar -x + mkfs.erofs", "C": "sha256sum + bsdtar -x + mkfs.erofs"}
        print("runs: %d, alternating; load average (1 min) %.2f..%.2f" %
              (args.n, min(loads), max(loads)))
        print("| | wall median s | min | max | CPU median s | min | max |")
        print("|---|---|---|---|---|---|---|")
        for k in "ABC":
            w, c = times[k], cpus[k]
            print("| %s: %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
                k, labels[k], statistics.median(w), min(w), max(w),
                statistics.median(c), min(c), max(c)))
        for what, t in (("wall", times), ("CPU", cpus)):
            a = statistics.median(t["A"])
            print("%s ratio A/B %.2f, A/C %.2f (median over median)" % (
                what, a / statistics.median(t["B"]), a / statistics.median(t["C"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
