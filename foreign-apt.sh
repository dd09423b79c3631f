#!/bin/bash
# apt-get or apt-cache for another architecture's binary packages, through a
# private configuration: the machine's deb sources, its own package lists and
# an empty dpkg status in $HYPEMAN_CACHE/apt-ARCH/. The machine's apt and
# dpkg configuration (architectures, sources, installed packages) stay as
# they are. Used to fetch .deb files that are unpacked with `dpkg -x`
# (arm64 musl for build.sh's cross build, Debian's arm64 kernel for tests).
# With --suite, the packages of another Debian suite (trixie, sid) of
# Debian's archive instead of the machine's suites (tests/lib/kernel.py's
# other kernels), in $HYPEMAN_CACHE/apt-SUITE-ARCH/.
#
#   ./foreign-apt.sh [--suite SUITE] ARCH apt-get|apt-cache ARGS...
#   e.g. ./foreign-apt.sh arm64 apt-get download musl-dev=1.2.3-1
#
# ARCH is a Debian architecture (arm64, amd64). The package lists are
# fetched on first use and again when older than a day.
set -euo pipefail
# --help: this header on stdout, status 0 (wrong usage: stderr, status 2)
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

suite=
if [ "${1:-}" = --suite ]; then
	suite=${2:-}
	shift 2 || :
	case $suite in *[!a-z0-9-]*|'') echo "foreign-apt.sh: bad suite '$suite'" >&2; exit 2 ;; esac
fi
[ $# -ge 2 ] || { sed -n '12,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
arch=$1 tool=$2
shift 2
case $arch in *[!a-z0-9]*|'') echo "foreign-apt.sh: bad architecture '$arch'" >&2; exit 2 ;; esac
case $tool in apt-get|apt-cache) ;; *) echo "foreign-apt.sh: apt-get or apt-cache, not '$tool'" >&2; exit 2 ;; esac

dir=${HYPEMAN_CACHE:-/var/cache/hypeman-init}/apt-${suite:+$suite-}$arch
mkdir -p "$dir/sources" "$dir/lists/partial" "$dir/cache/archives/partial"
[ -f "$dir/status" ] || : > "$dir/status"
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/sources"
	-o "Dir::State::Lists=$dir/lists" -o "Dir::State::status=$dir/status"
	-o "Dir::Cache=$dir/cache" -o "APT::Architecture=$arch"
	-o "APT::Architectures=$arch" -o APT::Sandbox::User=root)

# One process at a time refreshes the lists (apt refuses a second one).
exec 9> "$dir/.lock"
flock 9
if [ -z "$(find "$dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit)" ]; then
	rm -f "$dir"/sources/*
	if [ -n "$suite" ]; then
		# the machine's Debian mirror, the archive's own keyring
		uri=$(sed -n 's@^URIs: *\(\S*/debian\)/*$@\1@p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
		printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
			"${uri:-http://deb.debian.org/debian}" "$suite" \
			/usr/share/keyrings/debian-archive-keyring.gpg > "$dir/sources/$suite.sources"
	else
		for src in /etc/apt/sources.list.d/*.sources; do
			[ -e "$src" ] && cp "$src" "$dir/sources/"
		done
		if [ -f /etc/apt/sources.list ]; then
			grep '^deb ' /etc/apt/sources.list > "$dir/sources/sources.list" || :
		fi
	fi
	apt-get "${opts[@]}" update -qq >&2
fi
flock -u 9
exec "$tool" "${opts[@]}" "$@"
