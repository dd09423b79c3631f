#!/bin/bash
# A real NVIDIA driver bundle (the layout build.sh --gpu-driver takes, see
# README "GPU driver bundle") from one Debian suite's non-free and contrib
# packages: the kernel modules built from nvidia-kernel-dkms against that
# suite's linux-headers of kernel RELEASE, firmware-nvidia-gsp, and what
# libnvidia-container's utility and compute sets name where Debian
# packages it (PACKAGES below; what is not in the suite is left out and
# said), all of the suite's current version of the driver.
#
#   make-bundle.sh [--suite SUITE] [RELEASE] [OUTDIR]
#
# SUITE: bookworm (default: driver 535, built on this machine against the
# installed linux-headers-RELEASE, which tests/run installs), or trixie or
# sid (driver 550 on): those suites' kernel and headers are fetched with a
# private apt configuration (RELEASE defaults to the suite's current
# linux-image-amd64) and the modules are built in a debootstrap'ed build
# root of that suite, with its compiler, the one the kernel was built with
# (cached in $HYPEMAN_CACHE/gpu/buildroot-SUITE, about 500 MB). The suite's kernel
# itself (vmlinuz, modules) is unpacked into $HYPEMAN_CACHE/gpu/kernel-RELEASE
# for the tests, and printed as "kernel DIR".
#
# OUTDIR defaults to $HYPEMAN_CACHE/gpu/bundle-<driver version>-RELEASE-<set>
# (<set>: a hash of the package list); a finished bundle there is reused
# (the module build takes minutes). The last line printed is the bundle's
# path. Everything comes through private apt configurations in
# $HYPEMAN_CACHE/gpu/apt[-SUITE] (the machine's own is not touched). Needs
# root, gcc, make, debootstrap (other suites).
set -euo pipefail
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
suite=bookworm
if [ "${1:-}" = --suite ]; then suite=${2:?--suite needs a SUITE}; shift 2; fi
rel=${1:-}
cache=${HYPEMAN_CACHE:-/var/cache/hypeman-init}
arch=amd64 triplet=x86_64-linux-gnu
# libnvidia-container's utility and compute sets, as Debian packages them
# (nvidia-opencl-common: the ICD file); persistenced and modprobe are in
# contrib and have versions of their own. Not packaged by Debian:
# libnvidia-nscq, nv-fabricmanager, nvidia-debugdump, libnvidia-tileiras;
# gone from current drivers: libnvidia-fatbinaryloader, libnvidia-compiler.
driver_pkgs="nvidia-kernel-dkms firmware-nvidia-gsp libcuda1 libnvidia-ptxjitcompiler1
	libnvidia-pkcs11-openssl3 libnvidia-ml1 libnvidia-cfg1 libnvidia-allocator1 nvidia-smi
	libcudadebugger1 libnvidia-nvvm4 nvidia-opencl-icd libnvidia-gpucomp nvidia-cuda-mps"
other_pkgs="nvidia-opencl-common nvidia-persistenced nvidia-modprobe"
log() { printf 'make-bundle: %s\n' "$*" >&2; }

# --- private apt configuration: the suite with contrib and non-free ------------
if [ "$suite" = bookworm ]; then
	apt=$cache/gpu/apt
	mkdir -p "$apt/sources"
	for src in /etc/apt/sources.list.d/*.sources; do
		[ -e "$src" ] || continue
		sed 's/^Components:.*/Components: main contrib non-free non-free-firmware/' "$src" > "$apt/sources/$(basename "$src")"
	done
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^\(deb .* main\)\( .*\)\{0,1\}$/\1 contrib non-free non-free-firmware/p' /etc/apt/sources.list > "$apt/sources/sources.list"
	fi
else
	case $suite in trixie|sid) ;; *) log "--suite: bookworm, trixie or sid, not $suite"; exit 2 ;; esac
	apt=$cache/gpu/apt-$suite
	mkdir -p "$apt/sources"
	sec=
	[ "$suite" = sid ] || sec="
Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	cat > "$apt/sources/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
$sec
EOF
fi
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
apto=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources"
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root
	-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o Dir::State::status=/dev/null)
apt-get "${apto[@]}" update -qq
# Every package's candidate version, from one apt-cache run (each run reads
# the whole package cache: half a second, and there are 20 packages).
# shellcheck disable=SC2086
candidates=$(apt-cache "${apto[@]}" policy nvidia-kernel-dkms "linux-image-$arch" $driver_pkgs $other_pkgs 2>/dev/null |
	awk '/^[^ ]/ { name = $1; sub(/:$/, "", name) } /^ *Candidate:/ && $2 != "(none)" { print name, $2 }')
candidate() { printf '%s\n' "$candidates" | awk -v p="$1" '$1 == p { print $2; exit }'; }

version=$(candidate nvidia-kernel-dkms)
[ -n "$version" ] || { log "no nvidia-kernel-dkms in $suite"; exit 1; }
nv=${version%%-*}
if [ -z "$rel" ]; then
	[ "$suite" != bookworm ] || { log "usage: make-bundle.sh [--suite SUITE] RELEASE [OUTDIR]"; exit 2; }
	# linux-image-amd64 depends on linux-image-<release>
	rel=$(apt-cache "${apto[@]}" show "linux-image-$arch=$(candidate "linux-image-$arch")" |
		sed -n "s/^Depends: .*linux-image-\([^ ,]*-$arch\) .*/\1/p" | head -n 1)
	[ -n "$rel" ] || { log "no kernel release for linux-image-$arch in $suite"; exit 1; }
fi
[ "$suite" != bookworm ] || [ -d "/lib/modules/$rel/build/" ] ||
	{ log "no /lib/modules/$rel/build (apt-get install linux-headers-$rel)"; exit 1; }
# the driver's packages that the suite has in its version; the others
pkgs="" missing=""
for p in $driver_pkgs; do
	if [ "$(candidate "$p")" = "$version" ]; then pkgs="$pkgs $p=$version"; else missing="$missing $p"; fi
done
for p in $other_pkgs; do
	v=$(candidate "$p")
	if [ -n "$v" ]; then pkgs="$pkgs $p=$v"; else missing="$missing $p"; fi
done
[ -z "$missing" ] || log "not in $suite for driver $version, left out:$missing"
set_id=$(echo "$pkgs" | md5sum | cut -c1-8)
out=${2:-$cache/gpu/bundle-$nv-$rel-$set_id}
kdir=$cache/gpu/kernel-$rel

# --- another suite's kernel, and a build root with its compiler ---------------------
fetch_kernel() {
	local d=$1 p
	[ -f "$kdir/lib/modules/$rel/modules.dep" ] && return 0
	log "fetching kernel $rel from $suite"
	(cd "$d" && apt-get "${apto[@]}" download -qq "linux-image-$rel")
	rm -rf "$kdir.new"
	dpkg -x "$d"/linux-image-"$rel"_*.deb "$kdir.new"
	# usr-merged suites ship /usr/lib/modules
	[ -d "$kdir.new/lib/modules/$rel" ] || { mkdir -p "$kdir.new/lib"; mv "$kdir.new/usr/lib/modules" "$kdir.new/lib/modules"; }
	depmod -b "$kdir.new" "$rel"
	rm -rf "$kdir"
	mv "$kdir.new" "$kdir"
}

build_root() {
	local br=$cache/gpu/buildroot-$suite
	if [ ! -x "$br/usr/bin/gcc" ]; then
		log "debootstrap $suite build root (gcc, make) in $br"
		rm -rf "$br.new"
		debootstrap --variant=minbase --include=gcc,make,libc6-dev,kmod,xz-utils,libelf-dev \
			"$suite" "$br.new" http://deb.debian.org/debian >"$cache/gpu/buildroot-$suite.log" 2>&1 ||
			{ tail -n 20 "$cache/gpu/buildroot-$suite.log" >&2; log "debootstrap failed"; exit 1; }
		rm -f "$br.new"/var/cache/apt/archives/*.deb
		rm -rf "$br"
		mv "$br.new" "$br"
	fi
	echo "$br"
}

# Builds the modules in SRC (the dkms source) for RELEASE; prints their directory.
build_modules() {
	local work=$1 src=$2 br hdr
	if [ "$suite" = bookworm ]; then
		make -C "$src" -j"$(nproc)" modules KERNEL_UNAME="$rel" >"$work/build.log" 2>&1 ||
			{ tail -n 40 "$work/build.log" >&2; log "module build failed"; exit 1; }
		echo "$src"
		return
	fi
	br=$(build_root)
	(cd "$work" && apt-get "${apto[@]}" download -qq "linux-headers-$rel")
	hdr=$(dpkg -I "$work"/linux-headers-"$rel"_*.deb | sed -n 's/^ Depends: //p' | tr ',' '\n' |
		sed -n 's/^ *\(linux-\(headers\|kbuild\)-[^ ]*\).*/\1/p')
	(cd "$work" && apt-get "${apto[@]}" download -qq $hdr)
	rm -rf "$br/usr/src/nvidia-build" "$br/usr/src/linux-headers-"* "$br/usr/lib/linux-kbuild-"* "$br/usr/lib/modules"
	for d in "$work"/linux-headers-*.deb "$work"/linux-kbuild-*.deb; do dpkg -x "$d" "$br"; done
	cp -a "$src" "$br/usr/src/nvidia-build"
	chroot "$br" make -C /usr/src/nvidia-build -j"$(nproc)" modules KERNEL_UNAME="$rel" >"$work/build.log" 2>&1 ||
		{ tail -n 40 "$work/build.log" >&2; log "module build failed (in $br)"; exit 1; }
	echo "$br/usr/src/nvidia-build"
}

if [ -f "$out/version" ]; then
	log "reusing $out"
	[ "$suite" = bookworm ] || { fetch_kernel "$(mktemp -d)"; echo "kernel $kdir"; }
	echo "$out"
	exit 0
fi
start=$(date +%s)
mkdir -p "$cache/gpu"
work=$(mktemp -d "$cache/gpu/.bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ "$suite" = bookworm ] || fetch_kernel "$work"
log "downloading driver $version ($suite)"
# shellcheck disable=SC2086
(cd "$work" && apt-get "${apto[@]}" download -qq $pkgs)
for d in "$work"/*.deb; do
	case $d in */linux-*) ;; *) dpkg -x "$d" "$work/x" ;; esac
done
src=$work/x/usr/src/nvidia-current-$nv
[ -d "$src" ] || { log "no $src in nvidia-kernel-dkms"; exit 1; }

log "building the kernel modules for $rel (takes minutes)"
t=$(date +%s)
mods=$(build_modules "$work" "$src")
log "modules built in $(( $(date +%s) - t ))s"

b=$work/bundle
mkdir -p "$b/modules/$rel" "$b/lib" "$b/bin"
for m in nvidia nvidia-uvm nvidia-modeset nvidia-drm; do
	strip --strip-debug -o "$b/modules/$rel/$m.ko" "$mods/$m.ko"
done
cp -a "$work/x/lib/firmware" "$b/firmware" 2>/dev/null || cp -a "$work/x/usr/lib/firmware" "$b/firmware"
cp -a "$work/x/usr/lib/$triplet/nvidia/current"/lib*.so* "$b/lib/"
cp -a "$work/x/usr/lib/$triplet"/libnvidia-pkcs11*.so* "$b/lib/" 2>/dev/null || :
cp -a "$work/x/usr/lib/nvidia/current/nvidia-smi" "$b/bin/"
for f in nvidia-persistenced nvidia-modprobe nvidia-cuda-mps-control nvidia-cuda-mps-server; do
	for d in usr/bin usr/sbin; do [ ! -f "$work/x/$d/$f" ] || cp -a "$work/x/$d/$f" "$b/bin/"; done
done
if [ -f "$work/x/etc/OpenCL/vendors/nvidia.icd" ]; then
	mkdir -p "$b/etc/OpenCL/vendors"
	cp -a "$work/x/etc/OpenCL/vendors/nvidia.icd" "$b/etc/OpenCL/vendors/"
fi
echo "$nv" > "$b/version"
# the build root keeps the headers (make-standin-bundle.sh builds there),
# not the driver's objects
[ "$suite" = bookworm ] || rm -rf "$cache/gpu/buildroot-$suite/usr/src/nvidia-build"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$b" "$out"
log "bundle of driver $nv for $rel in $(( $(date +%s) - start ))s: $(du -sh "$out" | cut -f1)"
[ "$suite" = bookworm ] || echo "kernel $kdir"
echo "$out"
