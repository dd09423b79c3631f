#!/bin/bash
# The DKMS test image for hypeman-init's GPU and kernel-headers tests: Debian
# bookworm (minbase) with systemd, gcc, make, libc6-dev, kmod and the
# libraries Debian's kbuild tools load (libelf1, libssl3), as a rootfs
# tarball: a program in it can build an out-of-tree module against
# /lib/modules/$(uname -r)/build, insmod it, and dlopen libraries by soname;
# systemd can run it as PID 1.
#
# Usage: make-image.sh [OUT]   (default $HYPEMAN_CACHE/images/dkms-rootfs.tar)
# Does nothing when OUT exists (FORCE=1 rebuilds). The package set is cached
# as a debootstrap tarball in $HYPEMAN_CACHE/debootstrap/. Needs root and
# debootstrap; network only to deb.debian.org.
set -eu
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

CACHE=${HYPEMAN_CACHE:-/var/cache/hypeman-init}
OUT=${1:-$CACHE/images/dkms-rootfs.tar}
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
INCLUDE=systemd,systemd-sysv,dbus,gcc,make,libc6-dev,kmod,libelf1,libssl3
TARBALL=$CACHE/debootstrap/$SUITE-minbase-dkms.tgz

if [ -f "$OUT" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "make-image: $OUT already built"
	exit 0
fi
command -v debootstrap >/dev/null || { echo "make-image: debootstrap not found" >&2; exit 1; }
. "$(dirname "$0")/../debootstrap.sh"
deboot_start "$OUT" "$TARBALL"
start=$(date +%s)
deboot_root $SUITE $INCLUDE $MIRROR

# As the systemd test image: no units that need hardware, no leftovers.
rm -f "$ROOT"/etc/systemd/system/*.wants/* \
      "$ROOT"/lib/systemd/system/sockets.target.wants/*udev* \
      "$ROOT"/lib/systemd/system/sockets.target.wants/*initctl*
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/* "$ROOT"/var/log/*.log \
       "$ROOT"/var/log/apt/* "$ROOT"/debootstrap "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/*
for d in dev proc sys run tmp; do
	find "$ROOT/$d" -mindepth 1 -xdev -delete 2>/dev/null || true
done
chmod 1777 "$ROOT/tmp"
: > "$ROOT/etc/machine-id"
: > "$ROOT/etc/resolv.conf"
echo hypeman > "$ROOT/etc/hostname"

tar -C "$ROOT" --numeric-owner -cf "$WORK/rootfs.tar" .
mv "$WORK/rootfs.tar" "$OUT"
echo "make-image: built $OUT in $(( $(date +%s) - start ))s ($(du -sh "$OUT" | cut -f1))"
