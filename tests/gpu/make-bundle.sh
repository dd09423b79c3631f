#!/bin/bash
# A real NVIDIA driver bundle (the layout build.sh --gpu-driver takes, see
# README "GPU driver bundle") from Debian bookworm's non-free packages:
# the kernel modules built from nvidia-kernel-dkms against Debian's
# linux-headers of kernel RELEASE, firmware-nvidia-gsp, libcuda1 and the
# libraries it needs, libnvidia-ml1, libnvidia-cfg1, libnvidia-allocator1
# and nvidia-smi, all of the archive's current version of the driver.
#
#   make-bundle.sh RELEASE [OUTDIR]
#
# OUTDIR defaults to $HYPEMAN_CACHE/gpu/bundle-<driver version>-RELEASE;
# a finished bundle there is reused (the module build takes minutes). The
# last line printed is the bundle's path. Non-free comes from a private apt
# configuration in $HYPEMAN_CACHE/gpu/apt (the machine's own is not
# touched). Needs root, linux-headers-RELEASE installed (tests/run installs
# it) and gcc, make.
set -euo pipefail
rel=${1:?usage: make-bundle.sh RELEASE [OUTDIR]}
cache=${HYPEMAN_CACHE:-/var/cache/hypeman-init}
apt=$cache/gpu/apt
# bookworm has no nvidia-open-kernel-dkms: nvidia-kernel-dkms it is
packages="nvidia-kernel-dkms firmware-nvidia-gsp libcuda1 libnvidia-ptxjitcompiler1
	libnvidia-pkcs11-openssl3 libnvidia-ml1 libnvidia-cfg1 libnvidia-allocator1 nvidia-smi"
log() { printf 'make-bundle: %s\n' "$*" >&2; }
[ -d "/lib/modules/$rel/build/" ] || { log "no /lib/modules/$rel/build (apt-get install linux-headers-$rel)"; exit 1; }

# --- private apt configuration: the machine's deb sources plus non-free --------
mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial"
for src in /etc/apt/sources.list.d/*.sources; do
	[ -e "$src" ] || continue
	sed 's/^Components:.*/Components: main non-free non-free-firmware/' "$src" > "$apt/sources/$(basename "$src")"
done
if [ -f /etc/apt/sources.list ]; then
	sed -n 's/^\(deb .* main\)\( .*\)\{0,1\}$/\1 non-free non-free-firmware/p' /etc/apt/sources.list > "$apt/sources/sources.list"
fi
apto=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
apt-get "${apto[@]}" update -qq
version=$(apt-cache "${apto[@]}" policy nvidia-kernel-dkms | sed -n 's/^ *Candidate: //p')
[ -n "$version" ] && [ "$version" != "(none)" ] || { log "no nvidia-kernel-dkms in the archive"; exit 1; }
nv=${version%%-*}
out=${2:-$cache/gpu/bundle-$nv-$rel}
if [ -f "$out/version" ]; then
	log "reusing $out"
	echo "$out"
	exit 0
fi

start=$(date +%s)
work=$(mktemp -d "$cache/gpu/.bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading driver $version"
pkgs=
for p in $packages; do pkgs="$pkgs $p=$version"; done
(cd "$work" && apt-get "${apto[@]}" download -qq $pkgs)
for d in "$work"/*.deb; do dpkg -x "$d" "$work/x"; done
src=$work/x/usr/src/nvidia-current-$nv
[ -d "$src" ] || { log "no $src in nvidia-kernel-dkms"; exit 1; }

log "building the kernel modules for $rel (takes minutes)"
t=$(date +%s)
make -C "$src" -j"$(nproc)" modules KERNEL_UNAME="$rel" >"$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log" >&2; log "module build failed"; exit 1; }
log "modules built in $(( $(date +%s) - t ))s"

b=$work/bundle
mkdir -p "$b/modules/$rel" "$b/lib" "$b/bin"
for m in nvidia nvidia-uvm nvidia-modeset nvidia-drm; do
	strip --strip-debug -o "$b/modules/$rel/$m.ko" "$src/$m.ko"
done
cp -a "$work/x/lib/firmware" "$b/firmware"
cp -a "$work/x/usr/lib/x86_64-linux-gnu/nvidia/current"/lib*.so* \
	"$work/x/usr/lib/x86_64-linux-gnu"/libnvidia-pkcs11*.so* "$b/lib/"
cp -a "$work/x/usr/lib/nvidia/current/nvidia-smi" "$b/bin/"
echo "$nv" > "$b/version"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$b" "$out"
log "bundle of driver $nv for $rel in $(( $(date +%s) - start ))s: $(du -sh "$out" | cut -f1)"
echo "$out"
