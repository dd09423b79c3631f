#!/bin/bash
# Build a guest kernel of hypeman's production shape from Debian's kernel
# source: every boot driver built in (kernel/hypeman.config and
# kernel/<arch>.config on top of `make allnoconfig`), loadable modules
# possible. The plain initrd (./build.sh, no modules) boots it.
#
#   kernel/build.sh --version DEBIAN_VERSION [--arch x86_64|aarch64] [--jobs N]
#
# DEBIAN_VERSION is a version of Debian's linux source package, e.g.
# 6.1.192-3 (tests/lib/kernel.py passes the test kernel's). It fetches
# linux-source-<major.minor> of that version with apt-get download (cached in
# $HYPEMAN_CACHE/kernel-build/), unpacks it, configures, builds and installs
# the kernel and its module indexes into
#   $HYPEMAN_CACHE/kernel-build/hypeman-<version>-<arch>-<key>/
#       vmlinuz                      bzImage (x86_64) or Image (aarch64)
#       config                       the .config it was built from
#       lib/modules/<release>/       modules.builtin, modules.order, depmod's indexes
#       build-seconds                how long the build took (wall, CPU), and the load
# where <key> is a hash of the fragments and RECIPE (below), so that a
# change to either builds anew and an unchanged one never builds twice. The last
# line printed on stdout is that directory. Another architecture is
# cross-built with Debian's gcc-<triplet>. Build output goes to
# $HYPEMAN_OUT/logs/ (default out/logs/).
set -euo pipefail

# Bump when a change to this script changes what it builds.
RECIPE=1

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HYPEMAN_CACHE:-/var/cache/hypeman-init}/kernel-build
logs=${HYPEMAN_OUT:-$top/out}/logs
arch=$(uname -m) version= jobs=$(nproc)
# --help: this header on stdout, status 0; wrong usage: the synopsis on stderr, 2.
usage() {
	if [ "${1:-2}" = 0 ]; then sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0; fi
	sed -n '7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--version) version=${2:?--version needs a Debian version}; shift 2 ;;
	--arch)
		case ${2:-} in
		x86_64|amd64) arch=x86_64 ;;
		aarch64|arm64) arch=aarch64 ;;
		*) echo "kernel/build.sh: --arch: x86_64 or aarch64, not '${2:-}'" >&2; exit 2 ;;
		esac
		shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
	-h|--help) usage 0 ;;
	*) echo "kernel/build.sh: unknown option '$1'" >&2; usage ;;
	esac
done
[ -n "$version" ] || usage
case $version in [0-9]*.[0-9]*) ;; *) echo "kernel/build.sh: '$version' is not a Debian kernel version" >&2; exit 2 ;; esac
series=$(echo "$version" | cut -d. -f1-2)          # 6.1
case $arch in
x86_64) karch=x86_64 image=arch/x86/boot/bzImage target=bzImage cross= ;;
aarch64) karch=arm64 image=arch/arm64/boot/Image target=Image cross=aarch64-linux-gnu- ;;
esac
[ "$arch" != "$(uname -m)" ] || cross=

. "$top/step.sh"
STEP_PREFIX="kernel/build.sh: "
set -E
trap 'step_end $? || :' ERR

key=$( (cat "$top/kernel/hypeman.config" "$top/kernel/$arch.config"; echo "recipe $RECIPE") |
	sha256sum | cut -c1-12)
dest=$cache/hypeman-$version-$arch-$key
if [ -f "$dest/.hypeman-kernel-ready" ]; then
	echo "$dest"
	exit 0
fi
mkdir -p "$cache" "$logs"
# one build per key at a time; a second caller waits and takes its result
exec 8> "$cache/.lock-$version-$arch-$key"
flock 8
if [ -f "$dest/.hypeman-kernel-ready" ]; then
	echo "$dest"
	exit 0
fi

# --- what the build needs ------------------------------------------------------
missing=
for pair in make:make gcc:gcc flex:flex bison:bison bc:bc perl:perl depmod:kmod xz:xz-utils; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done
[ -e /usr/include/libelf.h ] || missing="$missing libelf-dev"
[ -e /usr/include/openssl/evp.h ] || missing="$missing libssl-dev"
[ -z "$cross" ] || command -v "${cross}gcc" >/dev/null 2>&1 || missing="$missing gcc-${cross%-}"
if [ -n "$missing" ]; then
	step "installing:$missing" "$logs/kernel-apt.log" sh -c "apt-get update &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=900 \
		--no-install-recommends $missing"
fi

# --- Debian's source: linux-source-<series>, the tree as Debian builds it --------
deb=$cache/linux-source-${series}_${version}_all.deb
if [ ! -f "$deb" ]; then
	step "downloading linux-source-$series $version" "$logs/kernel-download.log" \
		sh -c "cd '$cache' && apt-get -o APT::Sandbox::User=root download 'linux-source-$series=$version'"
fi
[ -f "$deb" ] || { echo "kernel/build.sh: apt-get download left no $deb" >&2; exit 1; }

t0=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d "$cache/.build-$arch.XXXXXX")
trap 'rm -rf "$work"' EXIT
step_begin "unpacking linux-source-$series $version"
dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/linux-source-$series.tar.xz" | xz -dc |
	tar -x -C "$work" --strip-components=1
step_end

# --- configure: allnoconfig with the fragments, and check every line held --------
frag=$work/hypeman-fragment.config
cat "$top/kernel/hypeman.config" "$top/kernel/$arch.config" > "$frag"
kmake() { make -C "$work" ARCH="$karch" CROSS_COMPILE="$cross" KBUILD_BUILD_USER=hypeman \
	KBUILD_BUILD_HOST=build KBUILD_BUILD_TIMESTAMP="Debian $version" "$@"; }
step "configuring (allnoconfig + kernel/hypeman.config + kernel/$arch.config)" \
	"$logs/kernel-config-$arch.log" kmake KCONFIG_ALLCONFIG="$frag" allnoconfig
dropped=
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$work/.config" || dropped="$dropped $line" ;;
	'# CONFIG_'*' is not set')
		line=${line#\# }
		! grep -q "^${line%% *}=" "$work/.config" || dropped="$dropped ${line%% *}=n" ;;
	esac
done < "$frag"
if [ -n "$dropped" ]; then
	echo "kernel/build.sh: kconfig dropped these (a missing dependency?):$dropped" >&2
	exit 1
fi

# --- build, and install the module indexes (modules.builtin: what is built in) ----
step "compiling the kernel ($arch, $jobs jobs)" "$logs/kernel-make-$arch.log" \
	kmake -j"$jobs" "$target" modules
rel=$(kmake -s kernelrelease)
stage=$work/.stage
mkdir -p "$stage"
step "installing the module indexes of $rel" "$logs/kernel-install-$arch.log" \
	kmake INSTALL_MOD_PATH="$stage" DEPMOD=/sbin/depmod modules_install
cp "$work/$image" "$stage/vmlinuz"
cp "$work/.config" "$stage/config"
rm -f "$stage/lib/modules/$rel/build" "$stage/lib/modules/$rel/source"
secs=$(( $(date +%s) - t0 ))
# CPU time of the commands (user and system): what an idle machine's
# cores must give, whatever the load was
times > "$work/.times"      # this shell's, then its children's
cpu=$(tail -n 1 "$work/.times")
printf '%s s wall, CPU (user system) %s (load average before: %s, after: %s; %s jobs)\n' \
	"$secs" "$cpu" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$jobs" > "$stage/build-seconds"
touch "$stage/.hypeman-kernel-ready"
rm -rf "$dest"
mv -T "$stage" "$dest"
echo "kernel/build.sh: $rel ($arch) built in $secs s: $dest" >&2
echo "$dest"
