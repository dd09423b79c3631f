#!/bin/bash
# A kernel headers tarball shaped like hypeman's kernel-headers-<arch>.tar.gz
# (released with its kernel): one self-contained headers tree at the top of
# the archive, which hypeman's init extracts into
# /usr/src/linux-headers-$(uname -r). Made from Debian's installed packages
# of RELEASE: linux-headers-RELEASE-common, linux-headers-RELEASE (its
# .config, Module.symvers, generated headers) and linux-kbuild (scripts/
# and tools/ with their host programs), merged into one tree whose Makefile
# is the kernel's own (it reads the arch tree's .kernelvariables).
#
#   make-tarball.sh RELEASE OUT.tar.gz       e.g. 6.1.0-57-amd64
#
# Needs linux-headers-RELEASE installed (tests/run installs it).
set -euo pipefail
# --help: the comment above on stdout, status 0
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac

rel=${1:?RELEASE}
out=${2:?OUT.tar.gz}
arch_tree=/usr/src/linux-headers-$rel
[ -d "$arch_tree" ] || { echo "make-tarball: no $arch_tree (apt-get install linux-headers-$rel)" >&2; exit 1; }
# the -amd64 tree's Makefile includes the -common one by its absolute path
common=$(sed -n 's@^include \(/usr/src/[^ ]*\)/Makefile$@\1@p' "$arch_tree/Makefile")
[ -d "$common" ] || { echo "make-tarball: $arch_tree/Makefile names no common tree" >&2; exit 1; }
kbuild=$(realpath "$arch_tree/scripts/..")

work=$(mktemp -d "$(dirname "$(realpath -m "$out")")/.headers-tarball.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/tree
mkdir "$tree"
cp -a "$common/." "$tree/"
rm "$tree/scripts" "$tree/tools"
cp -a "$kbuild/scripts" "$kbuild/tools" "$tree/"
# the arch tree over it, but its Makefile (an include of the common one)
tar -C "$arch_tree" --exclude=./Makefile --exclude=./scripts --exclude=./tools -cf - . | tar -C "$tree" -xf -
if find "$tree" -type l -lname '/*' | grep -q .; then
	echo "make-tarball: absolute symlinks left in the tree:" >&2
	find "$tree" -type l -lname '/*' >&2
	exit 1
fi
tar -C "$tree" --owner=0 --group=0 --numeric-owner --sort=name -cf - . | gzip -6 -n > "$work/out.tar.gz"
mv "$work/out.tar.gz" "$out"
echo "make-tarball: $out ($(stat -c %s "$out") bytes) for $rel"
