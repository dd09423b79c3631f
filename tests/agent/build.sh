#!/bin/sh
# Build the test guest agent: a static, stripped musl binary.
# Usage: tests/agent/build.sh [OUTPUT]   (default: out/test-agent under the repo root)
# MUSL_GCC picks the compiler: another architecture's is the musl-gcc wrapper
# that `build.sh --arch` writes (out/aarch64/musl-gcc).
set -eu
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/out/test-agent}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
CC=${MUSL_GCC:-musl-gcc}
command -v "$CC" >/dev/null 2>&1 || { echo "build.sh: $CC not found (apt-get install musl-tools)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
# -s: the linker strips (the host's strip may not know the target)
"$CC" -static -Os -s -Wall -Wextra -Werror -o "$tmp" "$here/test-agent.c"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "built $out"
