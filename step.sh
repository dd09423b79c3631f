# Sourced by build.sh, demo.sh, tests/run and the image scripts: one line
# when a step starts and one with its duration when it ends, on stderr.
# STEP_PREFIX (e.g. "build.sh: ") starts every line.
#
#   step_begin TEXT [DETAIL]; ...; step_end [STATUS]
#                                             a step run in this shell
#   step TEXT LOG CMD...                      CMD with its output in LOG, a
#                                             line every 10 s while it runs; on
#                                             failure the last lines of LOG
# Both return the step's status; a failure's line says what failed and why.

step_now() { echo "${EPOCHREALTIME/[.,]/}"; }   # microseconds
step_secs() { local us=$(( $(step_now) - $1 )); printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000)); }

step_begin() {   # TEXT [DETAIL: on the first line only]
	STEP_TEXT=$1
	STEP_T0=$(step_now)
	printf '%s%s%s ...\n' "${STEP_PREFIX:-}" "$STEP_TEXT" "${2:+ ($2)}" >&2
}

step_end() {
	local rc=${1:-0}
	[ -n "${STEP_TEXT:-}" ] || return "$rc"   # no step open
	if [ "$rc" -eq 0 ]; then
		printf '%s%s: done in %s s\n' "${STEP_PREFIX:-}" "$STEP_TEXT" "$(step_secs "$STEP_T0")" >&2
	else
		printf '%s%s: FAILED after %s s (exit status %d)\n' "${STEP_PREFIX:-}" "$STEP_TEXT" \
			"$(step_secs "$STEP_T0")" "$rc" >&2
	fi
	STEP_TEXT=
	return "$rc"
}

step() {
	local text=$1 log=$2 rc=0
	shift 2
	mkdir -p "$(dirname "$log")" || return 1
	step_begin "$text" "log: $log"
	# a line every 10 s while it runs: a long step never looks like a hang
	(trap 'kill "$s" 2>/dev/null; exit 0' TERM
	 while :; do sleep 10 & s=$!; wait "$s"
		printf '%s%s: running, %s s\n' "${STEP_PREFIX:-}" "$text" "$(step_secs "$STEP_T0")" >&2; done) &
	local beat=$!
	"$@" >"$log" 2>&1 || rc=$?
	kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null
	step_end "$rc" || {
		echo "    the last lines of $log:" >&2
		tail -n "${STEP_TAIL:-20}" "$log" | sed 's/^/    /' >&2
		return "$rc"
	}
}
