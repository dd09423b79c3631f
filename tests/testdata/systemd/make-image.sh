#!/bin/bash
# Build the systemd test image (an OCI image layout) for hypeman-init's tests.
#
# Equivalent of the design's Dockerfile (FROM ubuntu:22.04 + systemd systemd-sysv
# dbus, trimmed .wants, VOLUME /sys/fs/cgroup, CMD ["/lib/systemd/systemd"]) but
# on Debian bookworm via debootstrap, packaged with umoci.
#
# Usage: make-image.sh [--arch x86_64|aarch64] [--initrd FILE] [OUTDIR]
#   --arch defaults to the host's. OUTDIR defaults to
#   $HYPEMAN_CACHE/images/systemd-oci for the host's architecture and
#   $HYPEMAN_CACHE/images/systemd-oci-<debian arch> for another
#   (HYPEMAN_CACHE defaults to /var/cache/hypeman-init).
# Does nothing when OUTDIR/index.json already exists; set FORCE=1 to rebuild.
# The debootstrap package set is cached as a tarball under
# $HYPEMAN_CACHE/debootstrap/, so a rebuild needs no download.
# Another architecture's second stage (its dpkg and maintainer scripts) runs
# in one of our VMs (second-stage.py: QEMU TCG, Debian's kernel for that
# architecture, --initrd: hypeman-init with that kernel's modules, default
# out/<arch>/initrd-test), as this machine has no binfmt_misc for qemu-user.
# Needs root, debootstrap and umoci; network only to deb.debian.org.
set -eu
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${HYPEMAN_CACHE:-/var/cache/hypeman-init}
HOST_ARCH=$(uname -m)
ARCH=$HOST_ARCH INITRD= OUT=
while [ $# -gt 0 ]; do
    case $1 in
    --arch) ARCH=${2:?--arch needs x86_64 or aarch64}; shift 2 ;;
    --initrd) INITRD=$(realpath "${2:?--initrd needs a FILE}"); shift 2 ;;
    -*) echo "make-image: unknown option $1" >&2; exit 2 ;;
    *) OUT=$1; shift ;;
    esac
done
case $ARCH in
x86_64|amd64) ARCH=x86_64 DEBARCH=amd64 ;;
aarch64|arm64) ARCH=aarch64 DEBARCH=arm64 ;;
*) echo "make-image: --arch: x86_64 or aarch64, not $ARCH" >&2; exit 2 ;;
esac
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
INCLUDE=systemd,systemd-sysv,dbus
if [ "$ARCH" = "$HOST_ARCH" ]; then
    OUT=${OUT:-$CACHE/images/systemd-oci}
    TARBALL=$CACHE/debootstrap/$SUITE-minbase-systemd-systemd-sysv-dbus.tgz
    FOREIGN=
else
    OUT=${OUT:-$CACHE/images/systemd-oci-$DEBARCH}
    TARBALL=$CACHE/debootstrap/$SUITE-$DEBARCH-minbase-systemd-systemd-sysv-dbus.tgz
    FOREIGN=--foreign
    INITRD=${INITRD:-${HYPEMAN_OUT:-$REPO/out}/$ARCH/initrd-test}
    [ -f "$INITRD" ] || { echo "make-image: no initrd $INITRD for the $ARCH second stage (tests/run builds it)" >&2; exit 1; }
fi

# One build per OUTDIR at a time: a second make-image.sh waits here, then
# finds the image built (tests/run builds the arm64 one in the background
# while its tests may already ask for it).
mkdir -p "$(dirname "$OUT")"
exec 9> "$OUT.lock"
flock 9
if [ -f "$OUT/index.json" ] && [ -f "$OUT/oci-layout" ] && [ "${FORCE:-0}" != 1 ]; then
    echo "make-image: $OUT already built"
    exit 0
fi

for tool in debootstrap umoci; do
    command -v "$tool" >/dev/null || { echo "make-image: $tool not found (apt-get install $tool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "make-image: must run as root" >&2; exit 1; }

. "$(dirname "$0")/../debootstrap.sh"
deboot_start "$OUT" "$TARBALL"
# a command failing inside a step ends it with the FAILED line
set -E
trap 'step_end $? || :' ERR
LAYOUT=$WORK/layout
start=$(date +%s)

# 1. The package set, downloaded once into a cached tarball; 2. the root
# filesystem from it (no network). Another architecture's second stage runs
# in one of our VMs of that architecture.
deboot_root $SUITE $INCLUDE $MIRROR $DEBARCH $FOREIGN
if [ -n "$FOREIGN" ]; then
    step_begin "second stage in an $ARCH VM (about 11 min under TCG)"
    /usr/bin/python3 "$HERE/second-stage.py" --arch "$ARCH" --initrd "$INITRD" "$ROOT"
    step_end
fi

# 3. Trim as the Dockerfile does, and drop what a container image should not carry.
rm -f "$ROOT"/lib/systemd/system/multi-user.target.wants/* \
      "$ROOT"/etc/systemd/system/*.wants/* \
      "$ROOT"/lib/systemd/system/local-fs.target.wants/* \
      "$ROOT"/lib/systemd/system/sockets.target.wants/*udev* \
      "$ROOT"/lib/systemd/system/sockets.target.wants/*initctl*
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/cache/debconf/*-old \
       "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT"/debootstrap
# Empty /dev, /proc, /sys, /run, /tmp: the runtime provides them.
for d in dev proc sys run tmp; do
    find "$ROOT/$d" -mindepth 1 -xdev -delete 2>/dev/null || true
done
chmod 1777 "$ROOT/tmp"
# First boot: empty machine-id, systemd generates one; D-Bus follows /etc/machine-id.
: > "$ROOT/etc/machine-id"
chmod 0444 "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$ROOT/var/lib/dbus/machine-id"
# No host leftovers: init writes the nameserver; a neutral hostname.
: > "$ROOT/etc/resolv.conf"
echo hypeman > "$ROOT/etc/hostname"
chmod 0644 "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname"

# 4. Package as an OCI image layout: one layer holding the whole rootfs.
step_begin "packaging the OCI layout (umoci)"
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:latest"
umoci insert --image "$LAYOUT:latest" \
    --history.created_by "debootstrap --variant=minbase --include=$INCLUDE $SUITE" \
    "$ROOT" /
umoci config --image "$LAYOUT:latest" \
    --os=linux --architecture=$DEBARCH \
    --config.cmd=/lib/systemd/systemd \
    --config.volume=/sys/fs/cgroup \
    --config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --history.created_by 'CMD ["/lib/systemd/systemd"]'
umoci gc --layout "$LAYOUT"
# The index names the manifest's platform (umoci leaves it out), so that a
# host picking a platform finds it there as in a registry's image index.
/usr/bin/python3 - "$LAYOUT/index.json" "$DEBARCH" <<'EOF'
import json, sys
path, arch = sys.argv[1:]
with open(path) as f:
    index = json.load(f)
for m in index["manifests"]:
    m["platform"] = {"architecture": arch, "os": "linux"}
with open(path, "w") as f:
    json.dump(index, f)
EOF
chmod -R a+rX "$LAYOUT"   # umoci writes blobs 0600; let non-root tools read them
step_end

# 5. Atomic publish: replace OUT only with a complete layout.
if [ -e "$OUT" ]; then
    mv "$OUT" "$WORK/old"
fi
mv "$LAYOUT" "$OUT"

echo "make-image: built $OUT in $(( $(date +%s) - start ))s ($(du -sh "$OUT" | cut -f1))"
