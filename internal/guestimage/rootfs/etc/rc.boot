#!/bin/sh
# The guest's whole boot: kernel modules, network by DHCP, instance metadata (config
# drive first, then the metadata service), SSH, then the boot-complete marker.
# Everything it prints to the console starts with "nimbus-guest:" so tests can find it.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

say() { echo "nimbus-guest: $*" >/dev/console; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

# Drivers in dependency order, as the image builder listed them.
while read -r module; do
	insmod "/lib/modules/$module" 2>/dev/null
done </etc/modules.order

hostname nimbus-guest
ip link set lo up
syslogd -C64
acpid -c /etc/acpi

# DHCP on every ethernet interface; udhcpc stays in the background to renew.
for path in /sys/class/net/eth*; do
	[ -e "$path" ] || continue
	iface=${path##*/}
	udhcpc -i "$iface" -s /etc/udhcpc.script -p "/run/udhcpc.$iface.pid" -t 20 -T 1 -A 2 -b -S
done

/etc/metadata

dropbear -R -p 22

for path in /sys/class/net/eth*; do
	[ -e "$path" ] || continue
	iface=${path##*/}
	for addr in $(ip -o addr show dev "$iface" scope global | awk '{print $4}'); do
		say "ip $iface $addr"
	done
done
say "hostname $(hostname)"
say "boot complete"
