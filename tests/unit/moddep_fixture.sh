#!/bin/sh
# The fixture of test_moddep.c: a module tree made the way a kernel build
# makes one, and what kmod's own modprobe makes of it.
#
#   tests/unit/moddep_fixture.sh DIR
#
# Builds small relocatable ELF modules (gcc -c) with the exports, imports
# and .modinfo (alias=, softdep=) of Debian 6.1's boot set, runs kmod's
# depmod on them (modules.dep, .softdep, .alias), writes modules.builtin,
# then records `modprobe --show-depends NAME` for each name the test asks
# for (DIR/names, DIR/show/NAME). Needs gcc and kmod.
set -eu

dir=$1
rel=6.1.0-hm-fixture
mods=$dir/lib/modules/$rel
CC=${CC:-gcc}
rm -rf "$dir"
mkdir -p "$mods" "$dir/src" "$dir/show" "$dir/conf"

# path (under kernel/) | modules whose symbols it uses | .modinfo entries
spec='
drivers/virtio/virtio_ring.ko||
drivers/virtio/virtio.ko|virtio_ring|
drivers/virtio/virtio_pci_modern_dev.ko||
drivers/virtio/virtio_pci_legacy_dev.ko||
drivers/virtio/virtio_pci.ko|virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev|
drivers/block/virtio_blk.ko|virtio virtio_ring|
net/core/failover.ko||
drivers/net/net_failover.ko|failover|
drivers/net/virtio_net.ko|net_failover virtio virtio_ring|
drivers/char/virtio_console.ko|virtio virtio_ring|
arch/x86/crypto/crc32c-intel.ko||alias=crypto-crc32c-intel;alias=crc32c-intel;alias=crypto-crc32c;alias=crc32c
crypto/crc32c_generic.ko||alias=crypto-crc32c-generic;alias=crc32c-generic;alias=crypto-crc32c;alias=crc32c
fs/jbd2/jbd2.ko||softdep=pre: crypto-crc32c
fs/mbcache.ko||
lib/crc16.ko||
fs/ext4/ext4.ko|jbd2 mbcache crc16|softdep=pre: crypto-crc32c
lib/libcrc32c.ko||softdep=pre: crc32c
fs/erofs/erofs.ko|libcrc32c|
fs/overlayfs/overlay.ko||
net/vmw_vsock/vsock.ko||
net/vmw_vsock/vmw_vsock_virtio_transport_common.ko|vsock virtio|
net/vmw_vsock/vmw_vsock_virtio_transport.ko|vmw_vsock_virtio_transport_common vsock virtio virtio_ring|
'

# sym NAME: the symbol module NAME exports
sym() { printf 'sym_%s' "$(printf %s "$1" | tr - _)"; }

echo "$spec" | while IFS='|' read -r path uses info; do
	[ -n "$path" ] || continue
	name=$(basename "$path" .ko)
	src=$dir/src/$(echo "$name" | tr - _).c
	{
		for u in $uses; do
			printf 'extern int %s(void);\n' "$(sym "$u")"
		done
		printf 'int %s(void)\n{\n\treturn 0' "$(sym "$name")"
		for u in $uses; do
			printf ' + %s()' "$(sym "$u")"
		done
		printf ';\n}\n'
		# what the kernel's EXPORT_SYMBOL and MODULE_INFO leave in a .ko
		printf '__attribute__((section("__ksymtab_strings"), used))\n'
		printf 'static const char ksymtab_strings[] = "%s";\n' "$(sym "$name")"
		if [ -n "$info" ]; then
			printf '__attribute__((section(".modinfo"), used))\n'
			printf 'static const char modinfo[] = "%s";\n' "$(echo "$info" | sed 's/;/\\0/g')"
		fi
	} > "$src"
	mkdir -p "$mods/kernel/$(dirname "$path")"
	$CC -c -O2 -o "$mods/kernel/$path" "$src"
done

echo kernel/net/unix/unix.ko > "$mods/modules.builtin"
: > "$mods/modules.order"
: > "$mods/modules.builtin.modinfo"
# -C: an empty configuration, not the host's /etc/depmod.d or modprobe.d
depmod -C "$dir/conf" -b "$dir" "$rel"

# The boot set, an alias with two modules, a name found nowhere, a builtin.
printf '%s\n' virtio_pci virtio_blk virtio_net virtio_console ext4 erofs overlay \
	vmw_vsock_virtio_transport crc32c vfat-nonexistent unix > "$dir/names"
while read -r name; do
	modprobe -C "$dir/conf" -d "$dir" -S "$rel" --show-depends "$name" \
		> "$dir/show/$name" 2>/dev/null || true
done < "$dir/names"
echo "$rel" > "$dir/release"
