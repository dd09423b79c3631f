#!/bin/sh
# libFuzzer runs of the init's parsers of untrusted text:
#   fuzz_config   config.json (config.c, json.c; then detect.c, env.c)
#   fuzz_moddep   modules.dep / .softdep / .alias / .builtin and the module list (moddep.c)
#   fuzz_interp   an image's executable: its #! line or PT_INTERP (interp.c)
#   fuzz_fstype   a disk's first bytes: its filesystem type (fstype.c)
#   fuzz_oci_json hypeman run: index.json, an image index or manifest, an image
#                 config (host/ocidoc.c)
#   fuzz_layer    hypeman run: a layer's blob through libarchive onto a
#                 temporary root (host/unpack.c, host/tree.c; as root)
#   fuzz_archive  hypeman run: an image archive (a tar of a layout): indexed,
#                 its documents read in place and verified, its layers applied
#                 (host/tarindex.c, layout.c, oci.c, unpack.c; as root)
#   fuzz_console  hypeman run: the guest's console, its log lines and markers
#                 (host/serial.c; contract/logline.c, marker.c)
#   fuzz_nvinfo   the NVIDIA /proc files, PCI ids and bundle lists (nvinfo.c)
# Each is built with clang (-fsanitize=fuzzer,address,undefined) and run
# for SECONDS (default 30) from its seed corpus in tests/fuzz/corpus/NAME
# (copied: the tree is not changed) and what earlier runs on this machine
# found, $HYPEMAN_CACHE/fuzz-corpus/NAME (default /var/cache/hypeman-init):
# a passing run merges into it the inputs that add coverage (while it holds
# fewer than CORPUS_MAX files), so short runs go on where the last one
# stopped. A crash, leak or sanitizer report fails the run; its input is
# kept in $HYPEMAN_OUT/fuzz/ (default out/fuzz).
#
#   tests/fuzz/run.sh [SECONDS]        e.g. tests/fuzz/run.sh 3600 for a long run
#
# Ends with "fuzz: N passed, N failed"; exit status 0 when nothing failed.
set -u
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
secs=${1:-30}
out=${HYPEMAN_OUT:-$root/out}/fuzz
carried=${HYPEMAN_CACHE:-/var/cache/hypeman-init}/fuzz-corpus
CORPUS_MAX=5000
CLANG=${CLANG:-clang}
CFLAGS="-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
# libFuzzer's options for a run and for a merge
LIMITS="-max_len=65536 -timeout=10 -rss_limit_mb=2048"
mkdir -p "$out" || exit 1
passed=0
failed=0

# run NAME SOURCES...; LIBS and FUZZ_ARGS (libFuzzer's) from the environment.
run() {
	name=$1
	shift
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS -iquote hypeman -iquote contract -iquote host -o "$out/$name" \
			"tests/fuzz/$name.c" "$@" ${LIBS:-} >"$out/$name.build" 2>&1; then
		echo "fuzz: $name does not build"
		sed 's/^/    /' "$out/$name.build"
		failed=$((failed + 1))
		return
	fi
	rm -rf "$out/$name.corpus" "$out/$name.tmp"
	cp -r "tests/fuzz/corpus/${name#fuzz_}" "$out/$name.corpus"
	mkdir -p "$out/$name.tmp" "$carried/$name"
	ncarried=$(find "$carried/$name" -type f | wc -l)
	# libFuzzer writes what it finds into the first directory, reads the others
	# shellcheck disable=SC2086
	if TMPDIR=$out/$name.tmp "$out/$name" -max_total_time="$secs" $LIMITS ${FUZZ_ARGS:-} \
			-print_final_stats=1 -artifact_prefix="$out/$name-" \
			"$out/$name.corpus" "$carried/$name" >"$out/$name.log" 2>&1; then
		# only the inputs that add coverage to what is carried (-merge)
		if [ "$ncarried" -lt "$CORPUS_MAX" ]; then
			# shellcheck disable=SC2086
			TMPDIR=$out/$name.tmp "$out/$name" -merge=1 $LIMITS ${FUZZ_ARGS:-} \
				"$carried/$name" "$out/$name.corpus" >"$out/$name.merge.log" 2>&1 ||
				echo "fuzz: $name: could not add to $carried/$name (log: $out/$name.merge.log)"
		fi
		echo "fuzz: $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" |
			grep -o '[0-9]*$') runs in ${secs}s (and $ncarried inputs of earlier runs), no finding"
		passed=$((passed + 1))
	else
		echo "fuzz: $name FAILED (log: $out/$name.log)"
		grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$out/$name.log" | head -n 20 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	rm -rf "$out/$name.tmp"
}

run fuzz_config contract/config.c contract/json.c contract/detect.c hypeman/env.c
run fuzz_moddep hypeman/moddep.c
run fuzz_interp hypeman/interp.c
run fuzz_fstype hypeman/fstype.c
# hypeman run's: its messages on stderr are not shown (-close_fd_mask=2:
# libFuzzer's and the sanitizers' reports still are)
host="host/util.c host/tool.c contract/json.c contract/rmtree.c contract/fdio.c contract/logline.c"
# shellcheck disable=SC2086
FUZZ_ARGS=-close_fd_mask=2 run fuzz_oci_json host/ocidoc.c $host
# shellcheck disable=SC2086
LIBS="-larchive -lcrypto" FUZZ_ARGS=-close_fd_mask=2 run fuzz_layer host/unpack.c host/tree.c \
	host/pathset.c host/layout.c host/tarindex.c host/magic.c host/source.c host/meter.c $host
# shellcheck disable=SC2086
LIBS="-larchive -lcrypto" FUZZ_ARGS=-close_fd_mask=2 run fuzz_archive host/layout.c \
	host/tarindex.c host/magic.c host/source.c host/oci.c host/ocidoc.c host/unpack.c \
	host/tree.c host/pathset.c host/meter.c $host
# shellcheck disable=SC2086
FUZZ_ARGS=-close_fd_mask=2 run fuzz_console host/serial.c contract/marker.c $host
run fuzz_nvinfo hypeman/nvinfo.c hypeman/confine.c contract/fdio.c contract/config.c contract/json.c

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
