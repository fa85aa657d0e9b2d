#!/usr/bin/env bash
# Starts the local PostgreSQL cluster from Debian's packages (no systemd needed) and
# creates, once, the role nimbus_test and its two databases:
#   nimbus_test  the database-backed unit suites (each test creates and drops a schema of its own)
#   nimbus_e2e   the end-to-end test that runs a whole cloud on PostgreSQL
# Idempotent: on a ready cluster it changes nothing and only says so.
set -euo pipefail
cd /  # the postgres user may not be able to read the caller's directory

role=${NIMBUS_PG_ROLE:-nimbus_test}
password=${NIMBUS_PG_PASSWORD:-nimbus_test}
databases=(nimbus_test nimbus_e2e)

if [ "$(id -u)" -eq 0 ]; then
	root=()
	as_postgres=(runuser -u postgres --)
else
	root=(sudo)
	as_postgres=(sudo -u postgres)
fi

# The newest cluster named main (Debian 12: 15/main, created by the postgresql package).
cluster=${NIMBUS_PG_CLUSTER:-main}
version= port= status=
read -r version port status < <(pg_lsclusters --no-header | awk -v c="$cluster" '$2 == c {print $1, $3, $4}' | sort -k1,1n | tail -n1) || true
if [ -z "$version" ]; then
	version=$(ls /usr/lib/postgresql | sort -n | tail -n1)
	echo "postgres: creating cluster $version/$cluster"
	"${root[@]}" pg_createcluster "$version" "$cluster" >/dev/null
	read -r port status < <(pg_lsclusters --no-header "$version" "$cluster" | awk '{print $3, $4}')
fi
if [ "$status" != online ]; then
	echo "postgres: starting cluster $version/$cluster"
	"${root[@]}" pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 1 60); do
	pg_isready -q -h 127.0.0.1 -p "$port" && break
	sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
	echo "postgres: cluster $version/$cluster is not accepting connections on port $port" >&2
	exit 1
fi

sql() { "${as_postgres[@]}" psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres -tAc "$1"; }

# The suites run many service instances at once (each PostgreSQL pool holds up to 32
# connections, and the concurrency tests start two instances per service): Debian's
# 100 connections run out. Raising the limit needs a restart, done once.
max_connections=400
if [ "$(sql 'SHOW max_connections')" -lt "$max_connections" ]; then
	echo "postgres: max_connections $max_connections (restarting cluster $version/$cluster)"
	sql "ALTER SYSTEM SET max_connections = $max_connections"
	"${root[@]}" pg_ctlcluster "$version" "$cluster" restart
	for _ in $(seq 1 60); do
		pg_isready -q -h 127.0.0.1 -p "$port" && break
		sleep 0.5
	done
fi

if [ "$(sql "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
	echo "postgres: creating role $role"
	sql "CREATE ROLE $role LOGIN PASSWORD '$password'"
fi
for db in "${databases[@]}"; do
	if [ "$(sql "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
		echo "postgres: creating database $db"
		sql "CREATE DATABASE $db OWNER $role"
	fi
done
# Check the credentials as the tests use them: password over TCP.
for db in "${databases[@]}"; do
	PGPASSWORD=$password psql -X -q -h 127.0.0.1 -p "$port" -U "$role" -d "$db" -tAc 'SELECT 1' >/dev/null
done
echo "postgres: ready on 127.0.0.1:$port (role $role, databases ${databases[*]})"
