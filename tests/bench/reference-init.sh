#!/bin/sh
# The reference for tests/bench.py: the classic shell initrd a user would
# write instead of hypeman-init, doing the same steps with Debian's busybox:
# kernel filesystems, the whole module list with insmod, the overlay root,
# a JSON-less config (shell assignments on the config disk), lo up, the
# switch, then the program under a shell that powers off when it ends.
# Each step ends with a marker in the kernel log (/dev/kmsg, shown on the
# console with the kernel's timestamp), which the bench reads.
mark() { echo "<3>hmref: $1" > /dev/kmsg; }
mark start

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 shm /dev/shm
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
mark mount

# the list in load order, dependencies first (made when the initrd was)
while read -r m; do
	insmod "/lib/modules/$m"
done < /etc/modules.order
mark modules

wait_for() { while [ ! -b "$1" ]; do sleep 0.01; done; }
wait_for /dev/vda
wait_for /dev/vdb
mount -t ext4 -o ro,noload /dev/vda /lower 2>/dev/null || mount -t erofs -o ro /dev/vda /lower
mount -t ext4 -o noatime /dev/vdb /overlay
mkdir -p /overlay/upper /overlay/work /overlay/newroot
mount -t overlay -o lowerdir=/lower,upperdir=/overlay/upper,workdir=/overlay/work overlay /overlay/newroot
mark overlay

wait_for /dev/vdc
mount -t ext4 -o ro,noload,nosuid,nodev,noexec /dev/vdc /mnt/config
. /mnt/config/config.sh
umount /mnt/config
mark config

ip link set lo up
mark network

# this shell's memory: the figure to set beside PID 1's of hypeman-init
while read -r key value unit; do
	[ "$key" = VmRSS: ] && mark "rss $value"
done < /proc/self/status
new=/overlay/newroot
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
for d in dev sys run proc; do
	mount --move "/$d" "$new/$d"
done
# config.sh set "$@" to the program's argv; the program's shell writes
# the last marker, so the switch ends with the program's start
exec switch_root "$new" /bin/sh -c 'echo "<3>hmref: program" > /dev/kmsg; "$@"
	echo "<3>hmref: exit" > /dev/kmsg; sync; poweroff -f' sh "$@"
