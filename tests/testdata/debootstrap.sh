# Sourced by the test images' make-image.sh scripts: a Debian root made by
# debootstrap in a work directory next to the output (so that the final
# rename is atomic), its package set downloaded once into a cached tarball.
#
#   deboot_start OUT TARBALL     sets WORK and ROOT, removes them at exit
#   deboot_root SUITE INCLUDE MIRROR [DEBARCH [--foreign]]
#                                ROOT from TARBALL (downloaded when missing);
#                                DEBARCH: another architecture's packages,
#                                --foreign: first stage only (its second
#                                stage runs that architecture's binaries)

deboot_start() {
	DEBOOT_TARBALL=$2
	mkdir -p "$(dirname "$1")" "$(dirname "$DEBOOT_TARBALL")"
	WORK=$(mktemp -d "$(dirname "$1")/.$(basename "$1")-build.XXXXXX")
	ROOT=$WORK/rootfs
	trap deboot_cleanup EXIT
	trap 'exit 130' INT TERM
}

deboot_cleanup() {
	local m
	# debootstrap mounts proc/sys inside the target; never leave them behind.
	for m in $(awk -v r="$WORK/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$WORK"
	rm -f "$DEBOOT_TARBALL.part.$$"
}

deboot_root() {
	local suite=$1 include=$2 mirror=$3 arch=${4:+--arch=$4} foreign=${5:-}
	if [ ! -f "$DEBOOT_TARBALL" ]; then
		echo "make-image: downloading $suite ${4:-} packages into $DEBOOT_TARBALL"
		debootstrap $arch --variant=minbase --include="$include" \
			--make-tarball="$DEBOOT_TARBALL.part.$$" "$suite" "$WORK/dl" "$mirror"
		mv -f "$DEBOOT_TARBALL.part.$$" "$DEBOOT_TARBALL"   # same directory: atomic
		rm -rf "$WORK/dl"
	fi
	echo "make-image: debootstrap $suite ${4:-} into $ROOT"
	debootstrap $arch $foreign --variant=minbase --include="$include" \
		--unpack-tarball="$DEBOOT_TARBALL" "$suite" "$ROOT" "$mirror"
}
