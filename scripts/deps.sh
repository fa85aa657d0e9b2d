#!/usr/bin/env bash
# Installs what building and testing Nimbus needs on Debian 12, idempotently:
# Debian packages (only those missing; `apt-get update` only when something must be
# installed), then the Go modules. Runs as root, or through sudo when available.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-openstackclient: the real `openstack` CLI the end-to-end tests drive.
# postgresql: the identity suite and an end-to-end test also run on PostgreSQL.
packages=(python3-openstackclient postgresql)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null; then
			sudo=(sudo)
		else
			echo "deps: need root to install ${missing[*]} (run as root or install sudo)" >&2
			exit 1
		fi
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null; then
	echo "deps: the Go toolchain is not on PATH (go.mod asks for $(awk '/^go /{print $2}' go.mod))" >&2
	exit 1
fi
go mod download
