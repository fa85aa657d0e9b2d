#!/bin/bash
# Exports of one filled 1 GiB qcow2 by qemu-storage-daemon, one daemon option
# changed at a time (serve.py), against the same file read and written
# locally, O_DIRECT with Linux AIO on both sides, qemu-img bench at queue
# depth 8; variants interleaved round by round (docs/PERFORMANCE.md, Block
# storage). Usage: run.sh [work dir] [rounds]. Needs port 10899 free.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-/var/tmp/nimbus-nbd-variants}
ROUNDS=${2:-3}
mkdir -p "$DIR" && cd "$DIR" || exit 1
IMG=$DIR/vol.qcow2
if [ ! -f "$IMG" ]; then
  qemu-img create -q -f qcow2 "$IMG" 1G
  qemu-img bench -q -d 8 -c 1024 -s 1M -S 1M -w -t none -i native -f qcow2 "$IMG" >/dev/null
fi
bench() { # name size count write step args...
  local n=$1 s=$2 c=$3 w=$4 st=$5; shift 5
  local wf=""; [ "$w" = 1 ] && wf="-w"
  local out; out=$(qemu-img bench -d 8 -c "$c" -s "$s" -S "$st" $wf "$@" 2>&1)
  local secs; secs=$(echo "$out" | sed -n 's/.*Run completed in \([0-9.]*\) seconds.*/\1/p')
  [ -z "$secs" ] && { echo "$n ERR $out"; return; }
  echo "$n $(awk -v s="$s" -v c="$c" -v t="$secs" 'BEGIN{printf "%.0f", s*c/t/1e6}')"
}
cases() { local l=$1; shift
  bench "$l rand4kR" 4096 5000 0 $((1021*4096)) "$@"
  bench "$l rand4kW" 4096 5000 1 $((1021*4096)) "$@"
  bench "$l seq1mR" 1048576 256 0 1048576 "$@"
  bench "$l seq1mW" 1048576 256 1 1048576 "$@"
}
T="driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=10899,export=v"
U="driver=nbd,server.type=unix,server.path=$DIR/nbd.sock,export=v"
for round in $(seq "$ROUNDS"); do
  echo "round $round $(cat /proc/loadavg)"
  cases local -t none -i native -f qcow2 "$IMG"
  for v in base io_uring bufs unix; do
    rm -f pid; python3 "$HERE/serve.py" "$v" || { echo "$v failed"; continue; }
    P=$(cat pid)
    if [ "$v" = unix ]; then cases "$v" --image-opts "$U"; else cases "$v" --image-opts "$T"; fi
    [ "$P" -gt 0 ] && kill "$P"; while kill -0 "$P" 2>/dev/null; do sleep 0.2; done
  done
done
