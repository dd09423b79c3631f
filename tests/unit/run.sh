#!/bin/sh
# Host unit tests for the pure modules: the contract layer (contract/*.c),
# the init's modules that use only libc (hypeman/*.c, the rule in
# hypeman/hypeman.h) and hypeman run's (host/*.c; a test that needs one is
# built with host/'s flags, libarchive and libcrypto, and only for this
# machine's architecture: the tool runs on the host). Builds each tests/unit/test_*.c with the host
# compiler and ASan/UBSan, linked with the modules its "// needs:
# hypeman/x.c contract/y.c ..." line names (default: contract/<x>.c, else
# hypeman/<x>.c, for test_<x>.c), runs it, and also checks that every such
# module compiles cleanly with busybox's flags (host gcc and, when present,
# musl-gcc).
# A test with a "// fixture: SCRIPT" line gets SCRIPT DIR run first (a
# failure fails the test) and DIR in HM_FIXTURE.
# Prints one line per failed assertion (file:line: why) and per failed
# case, a line counting the compile checks (a failed one is also a failed
# test), and ends with the test cases (check.h's CHECK_CASE; a test that
# does not build or crashes is one failed case more) and the assertions:
#   unit: N passed, N failed
#   unit assertions: N passed, N failed
# Exit status: 0 when nothing failed.
#
#   tests/unit/run.sh          (no arguments)
#
# HM_UNIT_ARCH=aarch64 runs them for that architecture instead: built static
# with build.sh's cross musl-gcc (out/aarch64/musl-gcc, no sanitizers) and
# run under qemu-user (qemu-aarch64), which catches what differs there
# (char is unsigned on aarch64, type sizes, libc constants).
set -u
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

CC=${CC:-gcc}
CFLAGS="-std=gnu99 -Wall -Wextra -Wshadow -Wwrite-strings -Wstrict-prototypes \
-Wmissing-prototypes -Werror -g"
RUN=
BB_CCS="gcc musl-gcc"
if [ -n "${HM_UNIT_ARCH:-}" ] && [ "$HM_UNIT_ARCH" != "$(uname -m)" ]; then
	CC=${HYPEMAN_OUT:-$root/out}/$HM_UNIT_ARCH/musl-gcc
	[ -x "$CC" ] || { echo "unit: $CC missing (./build.sh --arch $HM_UNIT_ARCH)"; echo "unit: 0 passed, 1 failed"; exit 1; }
	CFLAGS="$CFLAGS -static"
	RUN=qemu-$HM_UNIT_ARCH
	BB_CCS=$CC
else
	CFLAGS="$CFLAGS -fsanitize=address,undefined -fno-sanitize-recover=all"
fi
# The flags busybox builds these files with (plus -Werror here).
BB_CFLAGS="-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DNDEBUG -std=gnu99 -Wall -Wshadow \
-Wwrite-strings -Wundef -Wstrict-prototypes -Wunused -Wunused-parameter -Wmissing-prototypes -Wmissing-declarations \
-Wdeclaration-after-statement -Wold-style-definition -Os -Werror"
all_modules=""
# As busybox's Kbuild and host/'s Makefile find the contract's headers.
INCLUDES="-iquote hypeman -iquote contract"
# host/'s own flags (host/Makefile) for tests of its modules.
HOST_CFLAGS="-std=gnu11 -Wall -Wextra -Werror -g -D_FILE_OFFSET_BITS=64 \
-fsanitize=address,undefined -fno-sanitize-recover=all -iquote host"
HOST_LIBS="-larchive -lcrypto"
host_skipped=0

out=$(mktemp -d "${TMPDIR:-/tmp}/hm-unit.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT INT TERM

passed=0
failed=0
a_passed=0
a_failed=0
compiled=0

fail() {
	echo "$1"
	failed=$((failed + 1))
}

# Field N (1: passed, 2: failed) of the last "WHAT: N passed, N failed" in FILE.
summary() {
	grep "^$1: " "$2" | tail -n 1 |
		sed -n "s/^$1: \([0-9]*\) passed, \([0-9]*\) failed\$/\\$3/p" | grep . || echo 0
}

for t in tests/unit/test_*.c; do
	name=$(basename "$t" .c)
	modules=$(sed -n 's|^// needs:||p' "$t")
	if [ -z "$modules" ]; then
		modules="contract/${name#test_}.c"
		[ -e "$modules" ] || modules="hypeman/${name#test_}.c"
	fi
	flags=$CFLAGS libs=
	case " $modules" in
	*" host/"*)
		if [ -n "$RUN" ]; then
			host_skipped=$((host_skipped + 1))
			continue
		fi
		flags=$HOST_CFLAGS libs=$HOST_LIBS ;;
	*)	all_modules="$all_modules $modules" ;;
	esac
	# shellcheck disable=SC2086
	if ! $CC $flags $INCLUDES -Itests/unit -o "$out/$name" "$t" $modules $libs \
			>"$out/$name.build" 2>&1; then
		fail "$t:1: does not build"
		sed 's/^/    /' "$out/$name.build"
		continue
	fi
	fixture=$(sed -n 's|^// fixture: *||p' "$t")
	if [ -n "$fixture" ] && ! sh "$fixture" "$out/$name.fixture" >"$out/$name.fixture.log" 2>&1; then
		fail "$t:1: fixture $fixture failed"
		sed 's/^/    /' "$out/$name.fixture.log"
		continue
	fi
	# Sanitizers exit 86 (leaks 23), a test with failed checks exits 1.
	HM_FIXTURE=${fixture:+$out/$name.fixture} \
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:exitcode=86} \
		$RUN "$out/$name" >"$out/$name.out" 2>&1
	rc=$?
	# Failure lines, sanitizer reports: everything but the summaries.
	grep -v -e '^check: ' -e '^assertions: ' "$out/$name.out"
	p=$(summary check "$out/$name.out" 1)
	f=$(summary check "$out/$name.out" 2)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	a_passed=$((a_passed + $(summary assertions "$out/$name.out" 1)))
	a_failed=$((a_failed + $(summary assertions "$out/$name.out" 2)))
	if [ "$rc" -ne 0 ] && { [ "$rc" -ne 1 ] || [ "${f:-0}" -eq 0 ]; }; then
		fail "$t:1: exited with status $rc (crash, sanitizer or leak report above)"
	fi
done

# The same sources are built inside busybox (musl, static, -Os).
for cc in $BB_CCS; do
	command -v "$cc" >/dev/null 2>&1 || continue
	for src in $(echo "$all_modules" | tr ' ' '\n' | sort -u); do
		# shellcheck disable=SC2086
		if $cc $BB_CFLAGS $INCLUDES -c "$src" -o "$out/bb.o" >"$out/bb.log" 2>&1; then
			compiled=$((compiled + 1))
		else
			fail "$src:1: $cc with busybox flags fails"
			sed 's/^/    /' "$out/bb.log"
		fi
	done
done

echo "compile: $compiled module builds with busybox's flags succeeded"
[ "$host_skipped" -eq 0 ] ||
	echo "host: $host_skipped test(s) of hypeman run's modules are for this machine only, not run"
echo "unit: $passed passed, $failed failed"
echo "unit assertions: $a_passed passed, $a_failed failed"
[ "$failed" -eq 0 ]
