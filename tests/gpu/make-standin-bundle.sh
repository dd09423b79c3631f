#!/bin/bash
# The stand-in GPU driver bundle for hypeman-init's tests, in the layout
# build.sh --gpu-driver takes (README: GPU driver bundle):
#   OUTDIR/version, modules/<release>/nvidia*.ko (tests/gpu/standin, built
#   against Debian's linux-headers of the test kernel), firmware/nvidia/
#   <version>/gsp_standin.bin, lib/libhypeman-gpu-test.so.* (the library a
#   test program loads by soname), bin/nvidia-smi and bin/nvidia-modprobe
#   (scripts), bin/nvidia-persistenced (a static stand-in daemon);
# and OUTDIR-pci.ko, the stand-in NVIDIA PCI device (hm-gpu-pci: for
# build.sh --extra-module, not part of the bundle).
#
#   make-standin-bundle.sh OUTDIR RELEASE [GEN]
#
# GEN is the driver generation the modules act: 535 (default; version
# 900.1.2, the major named "nvidia-frontend", nodes root 0666) or 550
# (version 900.550.1, "nvidia" and "nvidiactl", nodes gid 44 0660).
# Needs linux-headers-RELEASE installed (tests/run installs it), or another
# suite's headers of RELEASE in a build root of make-bundle.sh
# ($HYPEMAN_CACHE/gpu/buildroot-SUITE, built there with its compiler).
set -euo pipefail
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
out=${1:?usage: make-standin-bundle.sh OUTDIR RELEASE [GEN]}
rel=${2:?usage: make-standin-bundle.sh OUTDIR RELEASE [GEN]}
gen=${3:-535}
here=$(cd "$(dirname "$0")" && pwd)
case $gen in
535) ver=900.1.2 ;;
550) ver=900.550.1 ;;
*) echo "make-standin-bundle: GEN is 535 or 550, not $gen" >&2; exit 2 ;;
esac
kdir=/usr/src/linux-headers-$rel
root=
if [ ! -d "$kdir" ]; then
	for br in "${HYPEMAN_CACHE:-/var/cache/hypeman-init}"/gpu/buildroot-*; do
		[ ! -d "$br$kdir" ] || root=$br
	done
	[ -n "$root" ] || { echo "make-standin-bundle: $kdir missing (apt-get install linux-headers-$rel)" >&2; exit 1; }
fi

# in the build root, when building there
if [ -n "$root" ]; then work=$(mktemp -d "$root/tmp/hm-standin.XXXXXX"); else work=$(mktemp -d); fi
trap 'rm -rf "$work"' EXIT
cp "$here"/standin/Kbuild "$here"/standin/*.c "$work/"
kbuild=(make -s -C "$kdir" M="${work#"$root"}" HM_NV_VERSION="$ver" HM_NV_GEN="$gen" modules)
# a build root has no pahole: no BTF for the stand-ins (nvidia's own
# build leaves it out the same way)
if [ -n "$root" ]; then kbuild=(chroot "$root" "${kbuild[@]}" PAHOLE=true); fi
"${kbuild[@]}" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
rm -rf "$out.new"
mkdir -p "$out.new/modules/$rel" "$out.new/firmware/nvidia/$ver" "$out.new/lib" "$out.new/bin"
for m in nvidia nvidia-uvm nvidia-modeset nvidia-drm; do
	strip --strip-debug -o "$out.new/modules/$rel/$m.ko" "$work/$m.ko"
done
echo "$ver" > "$out.new/version"
{ yes hypeman-standin-firmware || :; } | head -c 4096 > "$out.new/firmware/nvidia/$ver/gsp_standin.bin"
lib=libhypeman-gpu-test.so
gcc -shared -fPIC -O2 -DHM_NV_VERSION="\"$ver\"" -Wl,-soname,$lib.1 \
	-o "$out.new/lib/$lib.$ver" "$work/libhypeman-gpu-test.c"
ln -s "$lib.$ver" "$out.new/lib/$lib.1"
ln -s "$lib.1" "$out.new/lib/$lib"
printf '#!/bin/sh\necho "nvidia-smi stand-in %s"\n' "$ver" > "$out.new/bin/nvidia-smi"
printf '#!/bin/sh\necho "nvidia-modprobe stand-in %s: $*"\n' "$ver" > "$out.new/bin/nvidia-modprobe"
chmod 0755 "$out.new/bin/nvidia-smi" "$out.new/bin/nvidia-modprobe"
gcc -static -O2 -s -o "$out.new/bin/nvidia-persistenced" "$here/standin/nvidia-persistenced.c"
strip --strip-debug -o "$out-pci.ko" "$work/hm-gpu-pci.ko"
rm -rf "$out"
mv "$out.new" "$out"
echo "make-standin-bundle: $out (driver $ver for $rel, generation $gen), $out-pci.ko"
