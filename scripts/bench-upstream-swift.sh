#!/usr/bin/env bash
# Measures upstream OpenStack Swift on this machine with Nimbus's own scenario
# (`nimbus bench objectstore`), so docs/PERFORMANCE.md can put the two side by side.
#
# It sets up a SAIO-like cluster on loopback in a temp dir under PARENT (default
# /var/tmp: put it on the disk of Nimbus's data dir): 3 devices in 3 zones, 3
# replicas, 2^10 partitions, tempauth (tokens in a memcached of its own), and one
# worker each for the proxy, object, container and account servers (each server is
# a parent process and its one worker; Nimbus runs all of them as goroutines of one
# process). No replicator, auditor or updater runs (they would only add load). It
# then runs the scenario against the proxy's storage URL and tears everything down.
#
# Needs Debian's swift packages and memcached, installed by hand for the
# measurement only (not by scripts/deps.sh):
#   apt-get install --no-install-recommends swift-proxy swift-object swift-container swift-account memcached
#
# Usage: scripts/bench-upstream-swift.sh [PARENT] [-- extra `nimbus bench objectstore` flags]
#   NIMBUS=path/to/nimbus (default: nimbus on PATH, else ./nimbus)
set -euo pipefail

parent=/var/tmp
if [[ $# -gt 0 && $1 != -- ]]; then
	parent=$1
	shift
fi
[[ ${1:-} == -- ]] && shift

nimbus=${NIMBUS:-$(command -v nimbus || echo ./nimbus)}
for tool in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder memcached curl python3; do
	command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)" >&2; exit 1; }
done
[[ -x $nimbus ]] || { echo "no nimbus binary at $nimbus (set NIMBUS)" >&2; exit 1; }

dir=$(mktemp -d "$parent/upstream-swift.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT

# Five free loopback ports: proxy, object, container, account, memcached.
read -r proxy_port object_port container_port account_port memcache_port < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)

etc=$dir/etc devices=$dir/devices
mkdir -p "$etc" "$devices"/d1 "$devices"/d2 "$devices"/d3 "$dir/cache"
user=$(id -un)

cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_suffix = $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

[storage-policy:0]
name = Policy-0
default = yes
EOF

server_conf() { # name port
	cat >"$etc/$1-server.conf" <<EOF
[DEFAULT]
devices = $devices
mount_check = false
bind_ip = 127.0.0.1
bind_port = $2
workers = 1
user = $user
swift_dir = $etc
recon_cache_path = $dir/cache
log_name = $1-server
log_level = WARNING

[pipeline:main]
pipeline = $1-server

[app:$1-server]
use = egg:swift#$1
EOF
}
server_conf object "$object_port"
server_conf container "$container_port"
server_conf account "$account_port"

cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $proxy_port
workers = 1
user = $user
swift_dir = $etc
log_name = proxy-server
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats tempauth copy dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcache_port

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:dlo]
use = egg:swift#dlo
EOF

# The rings: as the all-in-one's, 2^10 partitions, 3 replicas, one device per zone.
for ring in object container account; do
	port_var=${ring}_port
	swift-ring-builder "$etc/$ring.builder" create 10 3 1 >/dev/null
	for i in 1 2 3; do
		swift-ring-builder "$etc/$ring.builder" add "r1z$i-127.0.0.1:${!port_var}/d$i" 100 >/dev/null
	done
	swift-ring-builder "$etc/$ring.builder" rebalance >/dev/null || true
done

memcached -l 127.0.0.1 -p "$memcache_port" -U 0 -m 64 -u "$user" &
pids+=($!)
for server in object container account proxy; do
	"swift-$server-server" "$etc/$server-server.conf" >"$dir/$server.log" 2>&1 &
	pids+=($!)
done

# Wait for every server to listen (a slow start of one makes the proxy answer 503),
# then log in with tempauth.
for port in "$object_port" "$container_port" "$account_port" "$proxy_port"; do
	for try in $(seq 150); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		if [[ $try == 150 ]]; then
			echo "nothing listens on $port after 30 s; the servers' logs:" >&2
			tail -n 20 "$dir"/*.log >&2
			exit 1
		fi
		sleep 0.2
	done
done
headers=$(curl -fsS -D - -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
	"http://127.0.0.1:$proxy_port/auth/v1.0")
storage_url=$(awk -F': ' 'tolower($1)=="x-storage-url"{print $2}' <<<"$headers" | tr -d '\r')
token=$(awk -F': ' 'tolower($1)=="x-auth-token"{print $2}' <<<"$headers" | tr -d '\r')

# Every process of the servers (parents and their workers), for memory and CPU.
sleep 1
server_pids=()
for pid in "${pids[@]:1}"; do
	server_pids+=("$pid")
	while read -r child; do server_pids+=("$child"); done < <(pgrep -P "$pid" || true)
done
echo "upstream swift $(dpkg-query -W -f '${Version}' swift) at $storage_url; processes ${server_pids[*]}" >&2

"$nimbus" bench objectstore --storage-url "$storage_url" --token "$token" --dd-dir "$dir" \
	--server-pid "$(IFS=,; echo "${server_pids[*]}")" "$@"
