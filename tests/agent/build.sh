#!/bin/sh
# Build the test guest agent: a static, stripped musl binary.
# Usage: tests/agent/build.sh [OUTPUT]   (default: out/test-agent under the repo root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/out/test-agent}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
CC=${MUSL_GCC:-musl-gcc}
command -v "$CC" >/dev/null 2>&1 || { echo "build.sh: $CC not found (apt-get install musl-tools)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
"$CC" -static -Os -Wall -Wextra -Werror -o "$tmp" "$here/test-agent.c"
strip "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "built $out"
