#!/bin/bash
# The stand-in GPU driver bundle for hypeman-init's tests, in the layout
# build.sh --gpu-driver takes (README: GPU driver bundle):
#   OUTDIR/version, modules/<release>/nvidia*.ko (tests/gpu/standin, built
#   against Debian's linux-headers of the test kernel), firmware/nvidia/
#   <version>/gsp_standin.bin, lib/libhypeman-gpu-test.so.* (the library a
#   test program loads by soname), bin/nvidia-smi (a script).
#
#   make-standin-bundle.sh OUTDIR RELEASE
#
# Needs linux-headers-RELEASE installed (tests/run installs it).
set -euo pipefail
out=${1:?usage: make-standin-bundle.sh OUTDIR RELEASE}
rel=${2:?usage: make-standin-bundle.sh OUTDIR RELEASE}
here=$(cd "$(dirname "$0")" && pwd)
ver=900.1.2
kdir=/usr/src/linux-headers-$rel
[ -d "$kdir" ] || { echo "make-standin-bundle: $kdir missing (apt-get install linux-headers-$rel)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/standin/Kbuild "$here"/standin/*.c "$work/"
make -s -C "$kdir" M="$work" HM_NV_VERSION="$ver" modules >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
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
chmod 0755 "$out.new/bin/nvidia-smi"
rm -rf "$out"
mv "$out.new" "$out"
echo "make-standin-bundle: $out (driver $ver for $rel)"
