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

# step.sh at the top of the repo: a line per step with its duration
. "$(dirname "${BASH_SOURCE[0]}")/../../step.sh"
STEP_PREFIX="make-image: "

deboot_start() {
	DEBOOT_TARBALL=$2
	mkdir -p "$(dirname "$1")" "$(dirname "$DEBOOT_TARBALL")"
	WORK=$(mktemp -d "$(dirname "$1")/.$(basename "$1")-build.XXXXXX")
	ROOT=$WORK/rootfs
	trap 'deboot_cleanup $?' EXIT
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
	# the logs go with it on success; a failure keeps them (named above)
	[ "${1:-1}" != 0 ] || rm -f "$WORK.download.log" "$WORK.debootstrap.log"
}

# debootstrap ARGS... as step TEXT: its output in LOG, a running count of
# the packages it has handled on stderr (the progress meter), the last
# lines of LOG when it fails.
deboot_step() {
	local text=$1 log=$2 rc
	shift 2
	step_begin "$text" "log: $log"
	# a meter that rewrites its line on a terminal; in a log (CI), a line
	# every 50 steps
	local tty=0
	[ -t 2 ] && tty=1
	debootstrap "$@" 2>&1 | tee "$log" | awk -v tty="$tty" '
		/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) / {
			n++
			if (tty) { printf "\r    %d package steps", n > "/dev/stderr"; fflush("/dev/stderr") }
			else if (n % 50 == 0) printf "    %d package steps\n", n > "/dev/stderr" }
		END { if (n && tty) printf "\n" > "/dev/stderr" }'
	rc=${PIPESTATUS[0]}
	step_end "$rc" && return 0
	tail -n 20 "$log" | sed 's/^/    /' >&2
	return "$rc"
}

deboot_root() {
	local suite=$1 include=$2 mirror=$3 arch=${4:+--arch=$4} foreign=${5:-}
	if [ ! -f "$DEBOOT_TARBALL" ]; then
		deboot_step "downloading the $suite ${4:-} packages into $DEBOOT_TARBALL" \
			"$WORK.download.log" $arch --variant=minbase --include="$include" \
			--make-tarball="$DEBOOT_TARBALL.part.$$" "$suite" "$WORK/dl" "$mirror" || return 1
		mv -f "$DEBOOT_TARBALL.part.$$" "$DEBOOT_TARBALL"   # same directory: atomic
		rm -rf "$WORK/dl"
	fi
	deboot_step "debootstrap $suite ${4:-} into $ROOT" "$WORK.debootstrap.log" \
		$arch $foreign --variant=minbase --include="$include" \
		--unpack-tarball="$DEBOOT_TARBALL" "$suite" "$ROOT" "$mirror"
}
