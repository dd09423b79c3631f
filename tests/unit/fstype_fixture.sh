#!/bin/sh
# The fixture of test_fstype.c: small disks made by the real tools, as the
# host makes them (mke2fs for ext2/3/4, mkfs.erofs), and one of zeros.
#
#   tests/unit/fstype_fixture.sh DIR
set -eu

dir=$1
rm -rf "$dir"
mkdir -p "$dir/src"
echo hello > "$dir/src/hello"
for t in ext2 ext3 ext4; do
	truncate -s 8M "$dir/$t.img"
	mke2fs -q -F -t "$t" -d "$dir/src" "$dir/$t.img"
done
mkfs.erofs --quiet "$dir/erofs.img" "$dir/src"
mkfs.erofs --quiet -zlz4hc "$dir/erofs-lz4.img" "$dir/src"
truncate -s 1M "$dir/zero.img"
