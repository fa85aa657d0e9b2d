#!/usr/bin/env bash
# Installs what building and testing Nimbus needs on Debian 12, idempotently:
# Debian packages (only those missing; `apt-get update` only when something must be
# installed), then the Go modules. Runs as root, or through sudo when available.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-openstackclient: the real `openstack` CLI the end-to-end tests drive;
# python3-swiftclient: the `swift` CLI the object-store tests drive; awscli and s3cmd:
# the S3 clients the object store's S3 API tests drive;
# python3-glanceclient: the `glance` CLI (image uploads with --progress, metadefs),
# named on its own although openstackclient pulls it in today.
# postgresql: the identity suite and an end-to-end test also run on PostgreSQL.
# The guest image build (`nimbus image build`): dosfstools, mtools, syslinux,
# syslinux-common and qemu-utils make the whole-disk image from plain files.
# Booting it in tests: qemu-system-x86, dnsmasq-base (DHCP in a namespace),
# iproute2, openssh-client (ssh into the guest).
packages=(python3-openstackclient python3-glanceclient python3-swiftclient awscli s3cmd postgresql
	qemu-system-x86 qemu-utils dnsmasq-base iproute2 openssh-client
	dosfstools mtools syslinux syslinux-common
	nftables iptables ipset iputils-arping conntrack iputils-ping # L3 agent (NAT, gratuitous ARP, conntrack flush), security groups; ping in its tests
	isc-dhcp-client # dhclient: the DHCP agent's tests take leases as an instance would
	dnsmasq-utils # dhcp_release: the DHCP agent drops the leases of deleted ports
	tgt qemu-block-extra # the iscsi volume backend: tgtd serves, QEMU's libiscsi attaches
	genisoimage # the config drive (ISO 9660, config-2) as upstream makes it; isoinfo reads it back in tests
	curl # the metadata proxy's tests ask 169.254.169.254 as a guest's cloud-init would
	novnc) # the console proxy serves its noVNC client from /usr/share/novnc

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

# The guest build resolves its kernel from apt's package lists, which minimal
# images ship without.
need_update=false
if ((${#missing[@]} > 0)) || ! apt-cache show --no-all-versions linux-image-cloud-amd64 >/dev/null 2>&1; then
	need_update=true
fi

if $need_update; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null; then
			sudo=(sudo)
		else
			echo "deps: need root to install ${missing[*]} (run as root or install sudo)" >&2
			exit 1
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q
	if ((${#missing[@]} > 0)); then
		echo "deps: installing ${missing[*]}"
		"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
fi

if ! command -v go >/dev/null; then
	echo "deps: the Go toolchain is not on PATH (go.mod asks for $(awk '/^go /{print $2}' go.mod))" >&2
	exit 1
fi
go mod download
