#!/usr/bin/python3
"""debootstrap's second stage for another architecture, in one of our VMs.

    second-stage.py --arch aarch64 --initrd INITRD ROOT

ROOT is a `debootstrap --foreign` tree of that architecture: its packages
are unpacked but not configured, which needs that architecture's binaries
to run (dpkg, maintainer scripts). This machine has no binfmt_misc for
qemu-user, so the tree boots as the image of an exec-mode VM instead
(QEMU TCG, Debian's kernel, INITRD: hypeman-init with the kernel's
modules): the program runs `/debootstrap/debootstrap --second-stage` on
the overlay root, then writes the finished root as a tar stream onto a raw
disk (vdd). That stream is unpacked over ROOT, which then holds the
configured system. Exit status 0 on success; the VM's console is kept in
ROOT/../second-stage-console.log.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from lib import disks, vm as vmm  # noqa: E402

# The tar stream excludes the mounts (proc, sys, dev, run, the disks init
# moved under /run): --one-file-system stays on the overlay root; and
# lost+found, which comes from the ext4 disk, not the image. Its exit
# status 1 means a file changed while it was read: only the directories
# that debootstrap's exit unmounts (/proc, /sys) do that here.
SCRIPT = ("/debootstrap/debootstrap --second-stage || exit; "
          "tar --one-file-system --numeric-owner --xattrs --acls --exclude=./lost+found "
          "-cf /dev/vdd -C / .; "
          "[ $? -le 1 ] && echo SECOND-STAGE-TAR-DONE")
# dpkg syncs every file it unpacks; the disks are scratch until the clean
# power-off, so neither dpkg nor QEMU need to flush.
UNSAFE_IO = "etc/dpkg/dpkg.cfg.d/hypeman-second-stage"
TIMEOUT = 3600          # seconds


def du_mb(path):
    out = subprocess.run(["du", "-sm", "--one-file-system", path], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("root")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    with open(os.path.join(root, UNSAFE_IO), "w") as f:
        f.write("force-unsafe-io\n")
    size = du_mb(root)
    with tempfile.TemporaryDirectory(prefix="second-stage-",
                                     dir=os.path.dirname(root)) as tmp:
        # vda: the foreign tree; vdb: the overlay takes what the second
        # stage writes; vdc: config; vdd: raw, room for the whole root as tar
        vda = disks.ext4_from_dir(os.path.join(tmp, "vda.img"), root, size * 2 + 256)
        vdb = disks.empty_ext4(os.path.join(tmp, "vdb.img"), size * 3 + 512)
        vdc = disks.config_disk(os.path.join(tmp, "vdc.img"), {
            "init_mode": "exec", "skip_guest_agent": True,
            "cmd": ["/bin/sh", "-c", SCRIPT]})
        out = os.path.join(tmp, "out.tar")
        with open(out, "wb") as f:
            f.truncate((size * 3 + 512) << 20)
        disk_list = [vmm.Disk(p, cache="unsafe") for p in (vda, vdb, vdc, out)]
        v = vmm.VM(os.path.join(tmp, "vm"), args.initrd, disks=disk_list,
                   arch=args.arch, mem_mb=1024, smp=1, agent_socket=False,
                   timeout=TIMEOUT)
        v.start()
        try:
            v.wait_exit(TIMEOUT)
        finally:
            v.kill()
            shutil.copy(v.console_log, os.path.join(os.path.dirname(root),
                                                    "second-stage-console.log"))
        ex = v.exit_marker()
        if v.panicked or not ex or ex["code"] != 0 or \
                "SECOND-STAGE-TAR-DONE" not in v.console_text:
            sys.stderr.write("second stage failed (exit %s):\n%s\n" % (ex, v.console_tail(40)))
            return 1
        shutil.rmtree(root)
        os.mkdir(root)
        subprocess.run(["tar", "-xpf", out, "-C", root, "--numeric-owner",
                        "--xattrs", "--xattrs-include=*", "--acls"], check=True)
    os.unlink(os.path.join(root, UNSAFE_IO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
