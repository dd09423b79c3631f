#!/bin/sh
# libFuzzer runs of the init's parsers of untrusted text:
#   fuzz_config   config.json (config.c, json.c; then detect.c, env.c)
#   fuzz_moddep   modules.dep / .softdep / .alias / .builtin and the module list (moddep.c)
# Each is built with clang (-fsanitize=fuzzer,address,undefined) and run
# for SECONDS (default 30) from its seed corpus in tests/fuzz/corpus/NAME
# (copied: the tree is not changed). A crash, leak or sanitizer report
# fails the run; its input is kept in $HYPEMAN_OUT/fuzz/ (default out/fuzz).
#
#   tests/fuzz/run.sh [SECONDS]        e.g. tests/fuzz/run.sh 3600 for a long run
#
# Ends with "fuzz: N passed, N failed"; exit status 0 when nothing failed.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
secs=${1:-30}
out=${HYPEMAN_OUT:-$root/out}/fuzz
CLANG=${CLANG:-clang}
CFLAGS="-g -O1 -std=gnu99 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
mkdir -p "$out" || exit 1
passed=0
failed=0

run() {
	name=$1
	shift
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS -iquote hypeman -iquote contract -o "$out/$name" "tests/fuzz/$name.c" "$@" >"$out/$name.build" 2>&1; then
		echo "fuzz: $name does not build"
		sed 's/^/    /' "$out/$name.build"
		failed=$((failed + 1))
		return
	fi
	rm -rf "$out/$name.corpus"
	cp -r "tests/fuzz/corpus/${name#fuzz_}" "$out/$name.corpus"
	if "$out/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$out/$name-" \
			"$out/$name.corpus" >"$out/$name.log" 2>&1; then
		echo "fuzz: $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" |
			grep -o '[0-9]*$') runs in ${secs}s, no finding"
		passed=$((passed + 1))
	else
		echo "fuzz: $name FAILED (log: $out/$name.log)"
		grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$out/$name.log" | head -n 20 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

run fuzz_config contract/config.c contract/json.c contract/detect.c hypeman/env.c
run fuzz_moddep hypeman/moddep.c

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
