#!/bin/bash
# Build the hypeman-init busybox (static, musl) and the initrd cpio.
#
#   ./build.sh [--arch x86_64|aarch64] [--agent FILE] [--kernel-modules DIR]
#              [--gpu-driver DIR] [--kernel-headers DIR|FILE.tar.gz] [--extra-module FILE.ko]...
#              [--output FILE] [--busybox-only]
#   ./build.sh --clear-cache     removes $HYPEMAN_CACHE (its folders' sizes first)
#   --busybox-only               stops after out/busybox: no initrd
#
# Run as root on Debian bookworm: it installs its own build dependencies with
# apt-get, fetches busybox from Debian's source package (pinned, sha256
# checked, cached in $HYPEMAN_CACHE, default /var/cache/hypeman-init), builds
# it with our applet, and writes out/busybox and out/initrd (gzip, cpio newc).
# --arch (default: the host's) cross-builds for the other architecture into
# out/<arch>/ with Debian's cross gcc and that architecture's musl-dev
# package (fetched with foreign-apt.sh, pinned, unpacked into the cache).
# Two runs on one commit give a byte-identical initrd.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
cache=${HYPEMAN_CACHE:-/var/cache/hypeman-init}
out=${HYPEMAN_OUT:-$top/out}

BB_VERSION=1.35.0
BB_DEBIAN_VERSION=1:1.35.0-4+deb12u1
BB_ORIG=busybox_${BB_VERSION}.orig.tar.bz2
BB_ORIG_SHA256=faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694
BB_DEBIAN_TAR=busybox_${BB_VERSION}-4+deb12u1.debian.tar.xz
# musl for a cross build: Debian's musl-dev of the target architecture
MUSL_DEBIAN_VERSION=1.2.3-1

# The modules our init loads at boot; build.sh adds what they depend on.
BOOT_MODULES="virtio_pci virtio_mmio virtio_blk virtio_net virtio_console ext4 erofs overlay vmw_vsock_virtio_transport"
# Modules in the initrd that are not loaded at boot but when a boot mounts
# one of the initrd's images (--gpu-driver, --kernel-headers).
IMAGE_MODULES=

host_arch=$(uname -m)
agent= kmods= output= busybox_only= gpu_driver= kheaders= extra_modules= arch=$host_arch
# --help: this header on stdout, status 0; wrong usage: on stderr, status 2.
usage() {
	if [ "${1:-2}" = 0 ]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0; fi
	sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2
}

# Everything the builds and tests downloaded or made there; the next build
# fetches it again (README: "The cache"). Never follows a mount point.
clear_cache() {
	case $cache in /|'') echo "build.sh: HYPEMAN_CACHE='$cache': refusing to remove it" >&2; exit 1 ;; esac
	[ -d "$cache" ] || { echo "build.sh: $cache: no cache to clear"; exit 0; }
	echo "build.sh: removing $cache ($(du -sh "$cache" | cut -f1)):"
	(shopt -s nullglob dotglob; du -sh "$cache"/*) | sed 's/^/    /'
	rm -rf --one-file-system "$cache"
	[ ! -e "$cache" ] || { echo "build.sh: $cache: not everything could be removed" >&2; exit 1; }
	exit 0
}
while [ $# -gt 0 ]; do
	case $1 in
	--arch)
		case ${2:-} in
		x86_64|amd64) arch=x86_64 ;;
		aarch64|arm64) arch=aarch64 ;;
		*) echo "build.sh: --arch: x86_64 or aarch64, not '${2:-}'" >&2; exit 2 ;;
		esac
		shift 2 ;;
	--agent) agent=$(realpath "${2:?--agent needs a FILE}"); shift 2 ;;
	--kernel-modules) kmods=$(realpath "${2:?--kernel-modules needs a DIR}"); shift 2 ;;
	--gpu-driver) gpu_driver=$(realpath "${2:?--gpu-driver needs a DIR}"); shift 2 ;;
	--kernel-headers) kheaders=$(realpath "${2:?--kernel-headers needs a DIR or a FILE.tar.gz}"); shift 2 ;;
	--extra-module) extra_modules="$extra_modules $(realpath "${2:?--extra-module needs a FILE}")"; shift 2 ;;
	--output) output=$(realpath -m "${2:?--output needs a FILE}"); shift 2 ;;
	--busybox-only) busybox_only=1; shift ;;
	--clear-cache) clear_cache ;;
	-h|--help) usage 0 ;;
	*) echo "build.sh: unknown option '$1'" >&2; usage ;;
	esac
done
[ -z "$agent" ] || [ -f "$agent" ] || { echo "build.sh: --agent: no file $agent" >&2; exit 1; }
[ -z "$kmods" ] || [ -d "$kmods" ] || { echo "build.sh: --kernel-modules: no directory $kmods" >&2; exit 1; }
[ -z "$gpu_driver" ] || [ -d "$gpu_driver" ] || { echo "build.sh: --gpu-driver: no directory $gpu_driver" >&2; exit 1; }
[ -z "$kheaders" ] || [ -d "$kheaders" ] || [ -f "$kheaders" ] ||
	{ echo "build.sh: --kernel-headers: no directory or file $kheaders" >&2; exit 1; }
for f in $extra_modules; do
	[ -f "$f" ] && [ -n "$kmods" ] || { echo "build.sh: --extra-module: no file $f, or no --kernel-modules" >&2; exit 1; }
done
# Another architecture's build (and its busybox tree) lives in out/<arch>/.
[ "$arch" = "$host_arch" ] || out=$out/$arch
# An initrd with modules is named after their kernel release: hypeman run
# finds out/[<arch>/]initrd-<release> for that kernel by itself.
[ -n "$output" ] || output=$out/initrd${kmods:+-$(basename "$kmods")}
# The target's names: GNU triplet of Debian's cross tools, Debian's arch.
triplet=$arch-linux-gnu
case $arch in x86_64) debarch=amd64 ;; aarch64) debarch=arm64 ;; esac
# ARM virtual machines have no PS/2 keyboard: Ctrl-Alt-Del (contract: Stop requests: a stop
# request) arrives through a virtio keyboard, which needs virtio_input.
[ "$arch" != aarch64 ] || BOOT_MODULES="$BOOT_MODULES virtio_input"

log() { printf 'build.sh: %s\n' "$*" >&2; }
# A line when each step starts and one with its duration; the output of
# apt, make and the compiler goes to log files in $logs (the failing
# one's last lines are shown).
# shellcheck source=step.sh
. "$top/step.sh"
STEP_PREFIX="build.sh: "
# a command that fails inside a step ends it with the FAILED line
set -E
trap 'step_end $? || :' ERR
logs=$out/logs

# --- build dependencies -----------------------------------------------------
need_pkgs() {
	local missing= cmd pkg
	for pair in musl-gcc:musl-tools make:make gcc:gcc ccache:ccache bzip2:bzip2 xz:xz-utils \
		cpio:cpio gzip:gzip patch:patch depmod:kmod modprobe:kmod apt-get:apt; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
	done
	[ -e /usr/include/linux/version.h ] || missing="$missing linux-libc-dev"
	if [ -n "$gpu_driver$kheaders" ]; then
		command -v mksquashfs >/dev/null 2>&1 || missing="$missing squashfs-tools"
	fi
	if [ "$arch" != "$host_arch" ]; then
		command -v "$triplet-gcc" >/dev/null 2>&1 || missing="$missing gcc-${triplet//_/-}"
		[ -e "/usr/$triplet/include/linux/version.h" ] ||
			missing="$missing linux-libc-dev-$debarch-cross"
	fi
	command -v flock >/dev/null 2>&1 || missing="$missing util-linux"
	if [ -n "$missing" ]; then
		step "installing:$missing" "$logs/apt-install.log" sh -c "apt-get update &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing" || exit 1
	fi
}

# --- busybox source from Debian, cached and verified -------------------------
busybox_cached() {
	[ -f "$1/$BB_ORIG" ] && [ -f "$1/$BB_DEBIAN_TAR" ] &&
		echo "$BB_ORIG_SHA256  $1/$BB_ORIG" | sha256sum -c --quiet 2>/dev/null
}

fetch_busybox() {
	local dir=$cache/busybox
	busybox_cached "$dir" && return
	# One fetch at a time (two builds at once, e.g. tests/run's two
	# architectures, share the cache and apt's lists lock); the second
	# finds the first one's download.
	mkdir -p "$cache"
	exec 8> "$cache/.busybox-fetch.lock"
	flock 8
	if busybox_cached "$dir"; then
		exec 8>&-
		return
	fi
	step_begin "fetching busybox $BB_DEBIAN_VERSION source from Debian (apt's downloads below)" "log: $logs/busybox-fetch.log"
	mkdir -p "$dir" "$cache/apt/sources" "$cache/apt/lists/partial"
	# A private apt configuration: deb-src entries mirroring the machine's
	# deb entries, without touching /etc/apt.
	local src
	for src in /etc/apt/sources.list.d/*.sources; do
		[ -e "$src" ] || continue
		sed 's/^Types:.*/Types: deb-src/' "$src" > "$cache/apt/sources/$(basename "$src")"
	done
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$cache/apt/sources/sources-src.list"
	fi
	local apto=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$cache/apt/sources"
		-o "Dir::State::Lists=$cache/apt/lists" -o APT::Sandbox::User=root)
	apt-get "${apto[@]}" update -qq || step_end 1 || exit 1
	# apt's whole output to the log; on the terminal only its download lines
	# and errors (not its NOTICE about where Debian keeps the packaging).
	mkdir -p "$logs"
	(cd "$dir" && apt-get "${apto[@]}" source --download-only "busybox=$BB_DEBIAN_VERSION" 2>&1) |
		tee "$logs/busybox-fetch.log" | { grep -E --line-buffered '^(Need to get|Get:|Fetched|[EW]:)' >&2 || :; } ||
		{ step_end 1; log "the whole output: $logs/busybox-fetch.log"; exit 1; }
	echo "$BB_ORIG_SHA256  $dir/$BB_ORIG" | sha256sum -c --quiet ||
		{ step_end 1; log "sha256 of $BB_ORIG does not match the pinned one"; exit 1; }
	exec 8>&-
	step_end
}

# --- busybox tree with our applet --------------------------------------------
# The tree is unpacked once per pinned version and patched with Debian's
# patches; our sources are copied in on every build (mtimes kept, so make only
# rebuilds what changed).
# What of ours goes into the tree (the applet, its phases, the contract layer).
our_sources=("$top/Config.in" "$top/Kbuild" "$top/applets" "$top/hypeman" "$top/contract")
prepare_tree() {
	bbdir=$out/build/busybox-$BB_VERSION
	if [ ! -f "$bbdir/.hypeman-prepared" ]; then
		step_begin "unpacking and patching busybox $BB_VERSION"
		rm -rf "$out/build"
		mkdir -p "$out/build"
		tar -xjf "$cache/busybox/$BB_ORIG" -C "$out/build"
		mkdir -p "$out/build/debian"
		tar -xJf "$cache/busybox/$BB_DEBIAN_TAR" -C "$out/build"
		local p
		while read -r p; do
			case $p in ''|'#'*) continue ;; esac
			patch -d "$bbdir" -p1 -s < "$out/build/debian/patches/$p"
		done < "$out/build/debian/patches/series"
		# The two one-line hooks for a new top-level directory:
		sed -i '/^source sysklogd\/Config.in$/a source hypeman_init/Config.in' "$bbdir/Config.in"
		# core-y: its built-in.o is linked whole (libs-y would want a lib.a)
		sed -i 's@^\t\tapplets/ \\$@\t\tapplets/ \\\n\t\thypeman_init/ \\@' "$bbdir/Makefile"
		grep -q '^source hypeman_init/Config.in' "$bbdir/Config.in"
		grep -q 'hypeman_init/ \\' "$bbdir/Makefile"
		touch "$bbdir/.hypeman-prepared"
		step_end
	fi
	mkdir -p "$bbdir/hypeman_init"
	cp -a "${our_sources[@]}" "$bbdir/hypeman_init/"
	# Files deleted from our tree must not linger in the build copy.
	local f
	for f in "$bbdir"/hypeman_init/{applets,hypeman,contract}/*.[ch]; do
		[ -e "$top/${f#$bbdir/hypeman_init/}" ] || rm -f "$f" "${f%.c}.o"
	done
}

# --- the compiler ------------------------------------------------------------
# Native: Debian's musl-gcc. Cross: $out/musl-gcc, a wrapper of the same kind
# around Debian's cross gcc and the target's musl-dev package, unpacked once
# into $cache/musl-<debarch>/ (its specs file's paths moved there). Tests use
# that wrapper for their static guest programs too.
musl_cc() {
	if [ "$arch" = "$host_arch" ]; then
		echo musl-gcc
		return
	fi
	local dir=$cache/musl-$debarch tmp mtriplet=$arch-linux-musl
	if [ ! -f "$dir/.hypeman-ready" ]; then
		log "fetching musl-dev $MUSL_DEBIAN_VERSION ($debarch) from Debian"
		mkdir -p "$cache"
		tmp=$(mktemp -d "$cache/.musl-$debarch.XXXXXX")
		(cd "$tmp" && "$top/foreign-apt.sh" "$debarch" apt-get download -qq \
			"musl-dev=$MUSL_DEBIAN_VERSION" >&2)
		dpkg -x "$tmp/musl-dev_${MUSL_DEBIAN_VERSION}_$debarch.deb" "$tmp/root"
		touch "$tmp/.hypeman-ready"
		rm -rf "$dir"
		mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"  # lost a race: same content
	fi
	mkdir -p "$out"
	sed "s@/usr/\(include\|lib\)/$mtriplet@$dir/root/usr/\1/$mtriplet@g" \
		"$dir/root/usr/lib/$mtriplet/musl-gcc.specs" > "$out/musl-gcc.specs"
	printf '#!/bin/sh\nexec %s "$@" -specs %s\n' "$triplet-gcc" "$out/musl-gcc.specs" > "$out/musl-gcc"
	chmod 0755 "$out/musl-gcc"
	echo "$out/musl-gcc"
}

# Debian's musl-gcc hides the kernel headers busybox needs; give them back
# without the glibc headers around them (the cross packages keep the
# target's in /usr/<triplet>/include).
musl_kernel_headers() {
	local inc=$out/build/musl-kernel-headers src=/usr/include asm=/usr/include/$triplet/asm
	if [ "$arch" != "$host_arch" ]; then
		src=/usr/$triplet/include
		asm=$src/asm
	fi
	mkdir -p "$inc"
	ln -sfn "$src/linux" "$inc/linux"
	ln -sfn "$asm" "$inc/asm"
	ln -sfn "$src/asm-generic" "$inc/asm-generic"
	ln -sfn "$src/mtd" "$inc/mtd"
	echo "$inc"
}

configure_busybox() {
	local inc=$1 line name
	# allnoconfig, then our fragment on top, then oldconfig for the rest.
	make -C "$bbdir" -s HOSTCC="ccache gcc" allnoconfig || return 1
	while IFS= read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		name=${line%%=*}
		sed -i "/^# $name is not set\$/d; /^$name=/d" "$bbdir/.config"
		printf '%s\n' "$line" >> "$bbdir/.config"
	done < "$top/busybox-config"
	sed -i '/^CONFIG_EXTRA_CFLAGS=/d' "$bbdir/.config"
	printf 'CONFIG_EXTRA_CFLAGS="-isystem %s"\n' "$inc" >> "$bbdir/.config"
	{ yes '' || :; } | make -C "$bbdir" -s HOSTCC="ccache gcc" oldconfig || return 1
	# Every option we asked for must have survived (a missing dependency
	# would silently drop it).
	while IFS= read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		grep -qxF "$line" "$bbdir/.config" ||
			{ log "busybox-config: '$line' was dropped by kconfig (missing dependency?)"; return 1; }
	done < "$top/busybox-config"
}

build_busybox() {
	local inc cc cross= stamp made
	cc=$(musl_cc)
	inc=$(musl_kernel_headers)
	[ "$arch" = "$host_arch" ] || cross=$triplet-   # strip, ar, ...
	# ccache ($cache/ccache): a new clone or commit takes busybox's own
	# objects from there (a new commit's banner date in autoconf.h costs
	# only a preprocessor run each). Paths relative to the tree, so that
	# every clone hits; the compiler named by its target and exact version
	# (the cross wrapper is a script that every build rewrites).
	# CCACHE_DISABLE=1 compiles everything (tests/run's reproducibility check).
	export CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=1 \
		CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-512M} \
		CCACHE_COMPILERCHECK="string:$arch $("$cc" -v 2>&1 | tail -n 1)"
	# Configured again only when what the configuration comes from changed:
	# this script, the fragment, the //config blocks, the headers' path,
	# the banner's date (tests/run builds a dozen initrds on one).
	stamp=$({ cat "$top/build.sh" "$top/busybox-config" "$top/Config.in"
		grep -rh '^//config' "$top/applets" "$top/hypeman" "$top/contract"
		printf '%s\n' "$inc" "$SOURCE_DATE_EPOCH"; } | sha256sum | cut -c1-64)
	if [ ! -f "$bbdir/.config" ] || [ "$(cat "$bbdir/.hypeman-configured" 2>/dev/null)" != "$stamp" ]; then
		rm -f "$bbdir/.hypeman-configured"
		step "configuring busybox ($arch)" "$logs/busybox-config.log" configure_busybox "$inc" || exit 1
		# The banner's date (SOURCE_DATE_EPOCH, in autoconf.h) is no
		# CONFIG_ symbol, so kbuild's fixdep does not rebuild messages.o
		# when it changes: an incremental build after a new commit would
		# keep the old date and differ from a build from scratch.
		rm -f "$bbdir/libbb/messages.o"
		echo "$stamp" > "$bbdir/.hypeman-configured"
	fi
	# Compiled again only when our sources or the configuration changed:
	# busybox's make takes 1.6 s to find nothing to do (tests/run builds a
	# dozen initrds on one busybox).
	made=$({ echo "$stamp $cc $cross"
		find "${our_sources[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
		} | sha256sum | cut -c1-64)
	if [ -f "$bbdir/busybox" ] && [ "$(cat "$bbdir/.hypeman-made" 2>/dev/null)" = "$made" ]; then
		log "busybox ($arch): compiled, nothing changed since"
	else
		rm -f "$bbdir/.hypeman-made"
		# busybox's own code warns (gcc 12): into the log, not the terminal
		step "compiling busybox ($arch)" "$logs/busybox-make.log" \
			make -C "$bbdir" -s -j"$(nproc)" CC="ccache $cc" CROSS_COMPILE="$cross" HOSTCC="ccache gcc" \
			busybox busybox.links || exit 1
		echo "$made" > "$bbdir/.hypeman-made"
	fi
	mkdir -p "$out"
	cp "$bbdir/busybox" "$out/busybox.new"
	mv "$out/busybox.new" "$out/busybox"
}

# --- kernel modules ------------------------------------------------------------
# SRC/F to DST/F, decompressed (init loads modules with finit_module and no
# flags: the kernel takes them as they are); DST/F without .xz/.zst/.gz.
copy_module() {
	local src=$1 f=$2 dst=$3
	mkdir -p "$dst/$(dirname "$f")"
	case $f in
	*.ko) cp -L "$src/$f" "$dst/$f" ;;
	*.ko.xz) xz -dc "$src/$f" > "$dst/${f%.xz}" ;;
	*.ko.zst) zstd -qdc "$src/$f" > "$dst/${f%.zst}" ;;
	*.ko.gz) gzip -dc "$src/$f" > "$dst/${f%.gz}" ;;
	*) log "unexpected module file $f"; exit 1 ;;
	esac
}

# Copies the boot set and what it depends on (modules.dep, softdeps and their
# aliases, as kmod's modprobe sees them) and runs depmod on the copy.
add_modules() {
	local stage=$1 src=$2 rel base dst m f
	rel=$(basename "$src")
	base=$(dirname "$(dirname "$(dirname "$src")")")
	[ "$(basename "$(dirname "$src")")" = modules ] ||
		{ log "--kernel-modules wants a /lib/modules/<release> directory, got $src"; exit 1; }
	if [ ! -f "$src/modules.dep" ]; then
		log "running depmod for $src (no modules.dep there)"
		depmod -b "$base" "$rel"
	fi
	dst=$stage/lib/modules/$rel
	mkdir -p "$dst"
	for m in $BOOT_MODULES $IMAGE_MODULES; do
		modprobe -d "$base" -S "$rel" --show-depends "$m" ||
			{ log "module $m: not found in $src"; exit 1; }
	done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r f; do
		copy_module "$src" "${f#"$src"/}" "$dst"
	done
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ ! -f "$src/$f" ] || cp "$src/$f" "$dst/$f"
	done
	# Out-of-tree modules for the boot list (e.g. the tests' stand-in
	# NVIDIA PCI device): loaded like the others, a driver for a present
	# device only. They may need only what the boot set brings.
	local extra=
	for f in $extra_modules; do
		# the name the module gives itself, whatever its file's
		m=$(modinfo -F name "$f")
		mkdir -p "$dst/extra"
		cp "$f" "$dst/extra/$m.ko"
		extra="$extra $m"
	done
	depmod -b "$stage" "$rel"
	# modules.builtin: only the names init may look up there (the boot
	# list, softdeps, alias targets); init parses it at every boot, and a
	# distribution kernel lists hundreds (aarch64: 15 ms under TCG).
	[ ! -f "$dst/modules.builtin" ] || {
		printf '%s\n' $BOOT_MODULES $extra
		cat "$dst/modules.softdep" "$dst/modules.alias" 2>/dev/null | tr ' \t' '\n\n'
	} | awk 'FNR == NR { gsub("-", "_"); keep[$0] = 1; next }
		{ n = $0; sub(".*/", "", n); sub("[.]ko.*$", "", n); gsub("-", "_", n); if (n in keep) print }' \
		- "$dst/modules.builtin" > "$dst/modules.builtin.new" &&
		mv "$dst/modules.builtin.new" "$dst/modules.builtin"
	# Keep only the text indexes init reads; the .bin ones serve kmod.
	rm -f "$dst"/*.bin "$dst/modules.builtin.modinfo" "$dst/modules.order" \
		"$dst/modules.symbols" "$dst/modules.devname"
	mkdir -p "$stage/etc/hypeman"
	printf '%s\n' $BOOT_MODULES $extra > "$stage/etc/hypeman/modules"
}

# --- GPU driver bundle and kernel headers ------------------------------------------
# The load order of IMAGE_MODULES (and what they need), as paths under
# /lib/modules/<release>, so that init opens and loads them without
# resolving anything at boot (builtin ones are left out).
image_modules_list() {
	local stage=$1 src=$2 rel base m
	rel=$(basename "$src")
	base=$(dirname "$(dirname "$(dirname "$src")")")
	for m in $IMAGE_MODULES; do
		modprobe -d "$base" -S "$rel" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
		sed -e "s@^$src/@@" -e 's@\.ko\.\(xz\|zst\|gz\)$@.ko@' > "$stage/etc/hypeman/image-modules"
}

# Each becomes a squashfs image (zstd) in a second, uncompressed cpio appended
# to the initrd: the kernel only copies such a file into the initramfs, so a
# boot that does not use it pays a copy of its compressed size, no unpacking;
# init loop-mounts it only when the boot uses it. A small list in the
# gzip'ed part (/etc/hypeman/gpu, /etc/hypeman/headers) says what it holds.
# An image is cached in $cache/squashfs by what it holds (names, types,
# modes, link targets, contents; every time in it is 0): zstd -19 of a GPU
# bundle takes minutes, and the same bundle goes into every initrd built
# after a change to the init. The 8 most recently used stay.
mk_squashfs() {
	local root=$1 img=$2 key dir=$cache/squashfs
	key=$({ mksquashfs -version 2>&1 | head -n 1; echo "-comp zstd -Xcompression-level 19 -all-root"
		cd "$root" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum; } | sha256sum | cut -c1-64)
	rm -f "$img"
	if [ -f "$dir/$key.sqfs" ] && cp "$dir/$key.sqfs" "$img"; then
		touch "$dir/$key.sqfs"
		return
	fi
	SOURCE_DATE_EPOCH=0 mksquashfs "$root" "$img" -comp zstd -Xcompression-level 19 -noappend -quiet \
		-all-root >/dev/null
	mkdir -p "$dir"
	cp "$img" "$dir/$key.sqfs.new" && mv "$dir/$key.sqfs.new" "$dir/$key.sqfs"
	ls -t "$dir"/*.sqfs | tail -n +9 | xargs -r rm -f
}

# The bundle layout (README: GPU driver bundle): version, modules/<release>/,
# firmware/, lib/, bin/, etc/. The image: lib/modules/<release> (the nvidia
# modules and what they need from the --kernel-modules tree, depmod'ed),
# lib/firmware, usr/lib, usr/bin, etc, version.
gpu_image() {
	local stage=$1 imgs=$2 src=$gpu_driver root ver rel kbase m f
	ver=$(head -n 1 "$src/version" 2>/dev/null) ||
		{ log "--gpu-driver: no $src/version"; exit 1; }
	rel=$(cd "$src/modules" 2>/dev/null && ls) ||
		{ log "--gpu-driver: no $src/modules/<release>"; exit 1; }
	[ "$(echo "$rel" | wc -l)" = 1 ] || { log "--gpu-driver: one release in $src/modules, found: $rel"; exit 1; }
	[ -n "$kmods" ] && [ "$(basename "$kmods")" = "$rel" ] ||
		{ log "--gpu-driver needs --kernel-modules of kernel $rel (the nvidia modules' dependencies)"; exit 1; }
	root=$out/build/gpu-root
	kbase=$out/build/gpu-kernel
	rm -rf "$root" "$kbase"
	# The kernel's tree (symlinks) plus the nvidia modules, for depmod and
	# modprobe to resolve the dependencies as they would on the target.
	mkdir -p "$kbase/lib/modules"
	cp -rs "$kmods" "$kbase/lib/modules/$rel"
	mkdir -p "$kbase/lib/modules/$rel/extra"
	cp "$src/modules/$rel"/*.ko "$kbase/lib/modules/$rel/extra/"
	depmod -b "$kbase" "$rel"
	mkdir -p "$root/lib/modules/$rel"
	for m in nvidia nvidia_uvm nvidia_modeset nvidia_drm; do
		modprobe -d "$kbase" -S "$rel" --show-depends "$m" ||
			{ log "--gpu-driver: module $m not in $src/modules/$rel"; exit 1; }
	done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r f; do
		copy_module "$kbase/lib/modules/$rel" "${f#"$kbase/lib/modules/$rel"/}" "$root/lib/modules/$rel"
	done
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ ! -f "$kmods/$f" ] || cp "$kmods/$f" "$root/lib/modules/$rel/$f"
	done
	depmod -b "$root" "$rel"
	rm -rf "$kbase"
	rm -f "$root/lib/modules/$rel"/*.bin
	[ ! -d "$src/firmware" ] || { mkdir -p "$root/lib"; cp -a "$src/firmware" "$root/lib/firmware"; }
	[ ! -d "$src/lib" ] || { mkdir -p "$root/usr"; cp -a "$src/lib" "$root/usr/lib"; }
	[ ! -d "$src/bin" ] || { mkdir -p "$root/usr"; cp -a "$src/bin" "$root/usr/bin"; }
	[ ! -d "$src/etc" ] || cp -a "$src/etc" "$root/etc"
	echo "$ver" > "$root/version"
	mkdir -p "$imgs"
	mk_squashfs "$root" "$imgs/gpu.sqfs"
	rm -rf "$root"
	printf 'release %s\nversion %s\n' "$rel" "$ver" > "$stage/etc/hypeman/gpu"
	log "GPU bundle: driver $ver for $rel, image $(stat -c %s "$imgs/gpu.sqfs") bytes"
}

# The paths a headers tree needs besides itself, as the distribution laid
# them out (Debian: the -common tree its Makefile includes, the kbuild tools
# its scripts/ and tools/ links reach): absolute paths under ROOT that the
# tree's symlinks or its Makefile's "include /..." lines name. Prints every
# path, the tree first.
headers_closure() {
	local root=$1 p l t d inc
	local -a queue=("$2") seen=("$2")
	covered() {
		local s
		for s in "${seen[@]}"; do
			case $1/ in "$s"/*) return 0 ;; esac
		done
		return 1
	}
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		echo "$p"
		while IFS= read -r -d '' l; do
			t=$(readlink "$l")
			d=$(dirname "${l#"$root"}")
			case $t in /*) ;; *) t=$d/$t ;; esac
			t=$(realpath -m -s "/$t")
			covered "$t" && continue
			[ -e "$root$t" ] || { log "--kernel-headers: ${l#"$root"} -> $t does not exist: left out"; continue; }
			queue+=("$t")
			seen+=("$t")
		done < <(find "$root$p" -type l -print0)
		[ -f "$root$p/Makefile" ] || continue
		for inc in $(sed -n 's@^include \(/[^ ]*\)/[^/ ]*$@\1@p' "$root$p/Makefile"); do
			covered "$inc" || [ ! -d "$root$inc" ] || { queue+=("$inc"); seen+=("$inc"); }
		done
	done
}

# hypeman's kernel-headers-<arch>.tar.gz (released with its kernel): a
# whole tree at the top of the archive, as hypeman's init extracts it into
# /usr/src/linux-headers-$(uname -r). Unpacked here into that layout under
# $out/build/headers-tar; prints the tree's path there.
headers_from_tarball() {
	local tarball=$1 x=$out/build/headers-tar rel
	rm -rf "$x"
	mkdir -p "$x/top"
	# GNU tar refuses members with ".." and absolute names
	tar -xzf "$tarball" -C "$x/top" --no-same-owner --no-same-permissions ||
		{ log "--kernel-headers: cannot unpack $tarball"; exit 1; }
	rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$x/top/include/generated/utsrelease.h" 2>/dev/null)
	[ -n "$rel" ] || { log "--kernel-headers: $tarball has no include/generated/utsrelease.h at its top (a headers tree, as hypeman's kernel-headers-<arch>.tar.gz)"; exit 1; }
	mkdir -p "$x/usr/src"
	mv "$x/top" "$x/usr/src/linux-headers-$rel"
	echo "$x/usr/src/linux-headers-$rel"
}

# DIR is a headers tree as installed, .../usr/src/<name>; ROOT is what
# its absolute paths are relative to (/ for an installed one).
headers_image() {
	local stage=$1 imgs=$2 dir=$kheaders root tree rel p list
	[ -d "$dir" ] || dir=$(headers_from_tarball "$dir")
	case $dir in */usr/src/?*) ;; *) log "--kernel-headers wants a .../usr/src/<name> directory, got $dir"; exit 1 ;; esac
	tree=/usr/src/${dir##*/usr/src/}
	root=${dir%"$tree"}
	# what uname -r says (Debian's include/config/kernel.release does not)
	rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$dir/include/generated/utsrelease.h" 2>/dev/null)
	[ -n "$rel" ] || { log "--kernel-headers: no UTS_RELEASE in $dir/include/generated/utsrelease.h"; exit 1; }
	list=$out/build/headers.list
	printf 'release %s\ntree %s\n' "$rel" "$tree" > "$list"
	rm -rf "$out/build/headers-root"
	# hard links where the filesystem allows (mksquashfs only reads them;
	# a copy of Debian's headers took 6 s), a copy elsewhere
	headers_closure "$root" "$tree" | while read -r p; do
		mkdir -p "$out/build/headers-root$(dirname "$p")"
		cp -al "$root$p" "$out/build/headers-root$p" 2>/dev/null ||
			{ rm -rf "$out/build/headers-root$p"; cp -a "$root$p" "$out/build/headers-root$p"; }
		[ "$p" = "$tree" ] || echo "path $p" >> "$list"
	done
	mkdir -p "$imgs"
	mk_squashfs "$out/build/headers-root" "$imgs/headers.sqfs"
	rm -rf "$out/build/headers-root" "$out/build/headers-tar"
	mv "$list" "$stage/etc/hypeman/headers"
	log "kernel headers: $tree for $rel ($(grep -c '^path' "$stage/etc/hypeman/headers" || :) more paths), image $(stat -c %s "$imgs/headers.sqfs") bytes"
}

# The images as an uncompressed cpio after the gzip'ed one (the kernel reads
# both; a cpio header must start 4-byte aligned).
append_images() {
	local file=$1 imgs=$2 epoch=$3 pad
	pad=$(( (4 - $(stat -c %s "$file") % 4) % 4 ))
	head -c "$pad" /dev/zero >> "$file"
	rm -rf "$out/build/images-root"
	mkdir -p "$out/build/images-root/hypeman"
	mv "$imgs"/*.sqfs "$out/build/images-root/hypeman/"
	find "$out/build/images-root" -exec touch -h -d "@$epoch" {} +
	(cd "$out/build/images-root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) >> "$file"
	rm -rf "$out/build/images-root"
}

# --- initrd --------------------------------------------------------------------
make_initrd() {
	local stage=$out/build/initrd-root epoch app
	step_begin "making the initrd $output"
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,lower,overlay,mnt/config,etc,usr/bin,usr/sbin}
	install -m 0755 "$out/busybox" "$stage/bin/busybox"
	while read -r app; do
		[ "$app" = /bin/busybox ] && continue
		mkdir -p "$stage$(dirname "$app")"
		ln -sfn "$(realpath -m --relative-to="$(dirname "$app")" /bin/busybox)" "$stage$app"
	done < "$bbdir/busybox.links"
	# The kernel runs /init; busybox dispatches "init" to hypeman-init.
	ln -sfn bin/busybox "$stage/init"
	# The kernel opens /dev/console before init runs.
	mknod -m 0600 "$stage/dev/console" c 5 1
	chmod 1777 "$stage/tmp"
	if [ -n "$agent" ]; then
		mkdir -p "$stage/usr/local/bin"
		install -m 0755 "$agent" "$stage/usr/local/bin/guest-agent"
	fi
	[ -z "$gpu_driver$kheaders" ] || { IMAGE_MODULES="loop squashfs"; mkdir -p "$stage/etc/hypeman"; }
	[ -z "$kmods" ] || add_modules "$stage" "$kmods"
	[ -z "$kmods" ] || [ -z "$IMAGE_MODULES" ] || image_modules_list "$stage" "$kmods"
	[ -z "$gpu_driver" ] || gpu_image "$stage" "$out/build/images"
	[ -z "$kheaders" ] || headers_image "$stage" "$out/build/images"

	epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
	find "$stage" -exec touch -h -d "@$epoch" {} +
	mkdir -p "$(dirname "$output")"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n > "$output.new"
	[ -z "$gpu_driver$kheaders" ] || append_images "$output.new" "$out/build/images" "$epoch"
	mv "$output.new" "$output"
	step_end
	log "wrote $output ($(stat -c %s "$output") bytes)"
}

need_pkgs
# One build at a time per out/ (tests/run's background GPU builds and
# demo.sh share out/build/): a second one waits.
mkdir -p "$out"
exec 7> "$out/.build.lock"
flock -n 7 || { log "another build.sh uses $out: waiting for it"; flock 7; }
fetch_busybox
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
export KBUILD_BUILD_USER=hypeman KBUILD_BUILD_HOST=build
prepare_tree
build_busybox
[ -n "$busybox_only" ] || make_initrd
