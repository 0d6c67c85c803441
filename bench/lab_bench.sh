#!/usr/bin/env bash
# Benchmarks respawn-lab on this machine and prints each figure with the
# command that measured it:
#   1. idle tunnels the super proxy holds (goal: 10,000), each carrying a
#      connected phone to a WhatsApp stand-in, and the lab's memory per
#      tunnel;
#   2. requests per second of the account API on GET /zone/ips (goal:
#      2,000/s), measured with wrk.
# Everything runs on loopback and is bounded in count and time.
#
# usage: bench/lab_bench.sh [BUILD_DIR]    (default build/release)
# env:   TUNNELS=10000  HOLD_SECONDS=10  WRK_SECONDS=10  WRK_CONNECTIONS=32
#        PROXY_WORKERS=2 (relay worker processes; 0 keeps every tunnel in
#        the lab's own process, where the open-file limit caps them)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
LAB=$BUILD/lab/respawn-lab
TUNNEL_BIN=$BUILD/lab/respawn-lab-bench-tunnels
TUNNELS=${TUNNELS:-10000}
HOLD_SECONDS=${HOLD_SECONDS:-10}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
PROXY_WORKERS=${PROXY_WORKERS:-2}
KEY='Authorization: Bearer lab-api-key'
for f in "$LAB" "$TUNNEL_BIN"; do
	[ -x "$f" ] || { echo "missing $f: run scripts/build release" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/respawn-lab-bench.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

start_lab() {	# name flags...
	local name=$1
	shift
	"$LAB" --api-port 0 --proxy-port 0 --wa-port 0 --ports-file "$T/$name.ports" \
	    --log-level warn "$@" 2>"$T/$name.log" &
	PIDS+=($!)
	for _ in $(seq 1 100); do [ -s "$T/$name.ports" ] && break; sleep 0.05; done
	[ -s "$T/$name.ports" ] || { echo "lab $name did not start" >&2; exit 1; }
}
# The lab's RSS plus its relay workers' (its children).
rss_kib() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")))
	done
	echo "$total"
}

echo "== respawn-lab benchmark on $(nproc) cores, $(uname -sr)"
echo "   open-file limit: soft $(ulimit -Sn), hard $(ulimit -Hn) (a tunnel needs 2 descriptors in the lab)"

# 1. Idle tunnels.  The far end is a second lab, so the proxy's own
# descriptors are only the tunnels' two sockets.
start_lab proxy --max-tunnels 50000 --proxy-workers "$PROXY_WORKERS"
. "$T/proxy.ports"
PROXY_API=http://127.0.0.1:$LAB_API_PORT PROXY_PORT=$LAB_PROXY_PORT PROXY_PID=$LAB_PID
start_lab sink --ping-ms 600000 --log-level error
. "$T/sink.ports"
SINK_WA=$LAB_WA_PORT
ip=$(curl -sf -H "$KEY" -X POST --data '{"customer":"c_lab","zone":"isp_lab","count":1,"country":"us"}' \
    "$PROXY_API/zone/ips" | jq -r '.new_ips[0]')
rss0=$(rss_kib "$PROXY_PID")
cmd="$TUNNEL_BIN $PROXY_PORT 127.0.0.1:$SINK_WA brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw $TUNNELS $HOLD_SECONDS 120"
$cmd >"$T/tunnels.out" 2>&1 &
client=$!
PIDS+=($client)
for _ in $(seq 1 1300); do grep -q established "$T/tunnels.out" && break; sleep 0.1; done
sleep 1
held=$(curl -sf "$PROXY_API/lab/proxy" | jq .tunnels)
phones=$(curl -sf "http://127.0.0.1:$(. "$T/sink.ports"; echo "$LAB_API_PORT")/lab/wa" |
    jq '[.phones[] | select(.connected)] | length')
rss1=$(rss_kib "$PROXY_PID")
sleep $((HOLD_SECONDS / 2))
still=$(curl -sf "$PROXY_API/lab/proxy" | jq .tunnels)
wait "$client" || true
echo
echo "-- idle tunnels through the super proxy ($PROXY_WORKERS relay workers)"
echo "   command: $cmd"
echo "   client:  $(cat "$T/tunnels.out")"
echo "   tunnels held by the super proxy: $held (still $still after $((HOLD_SECONDS / 2)) s idle); phones connected at the far end: $phones"
if [ "$held" -gt 0 ]; then
	echo "   lab RSS (with workers): $rss0 KiB before, $rss1 KiB with the tunnels: $(( (rss1 - rss0) * 1024 / held )) bytes per tunnel"
fi
if grep -q accept_paused "$T/proxy.log"; then
	echo "   note: the lab ran out of descriptors (accept paused): without relay workers the hard limit of $(ulimit -Hn) open files caps one process at about $(( ($(ulimit -Hn) - 16) / 2 )) tunnels"
fi
kill -TERM "$PROXY_PID" 2>/dev/null || true
kill -TERM "$LAB_PID" 2>/dev/null || true
wait "$PROXY_PID" "$LAB_PID" 2>/dev/null || true

# 2. Requests per second on GET /zone/ips (a zone of 10 IPs).
start_lab api
. "$T/api.ports"
curl -sf -H "$KEY" -X POST --data '{"customer":"c_lab","zone":"isp_lab","count":10,"country":"de"}' \
    "http://127.0.0.1:$LAB_API_PORT/zone/ips" >/dev/null
cmd="wrk -t2 -c$WRK_CONNECTIONS -d${WRK_SECONDS}s -H '$KEY' http://127.0.0.1:$LAB_API_PORT/zone/ips?zone=isp_lab"
wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" -H "$KEY" \
    "http://127.0.0.1:$LAB_API_PORT/zone/ips?zone=isp_lab" >"$T/wrk.out" 2>&1
echo
echo "-- account API: GET /zone/ips"
echo "   command: $cmd"
grep -E "Requests/sec|Latency|requests in|Non-2xx" "$T/wrk.out" | sed 's/^/   /'
echo
echo "== summary: tunnels held $held (goal 10000); GET /zone/ips $(awk '/Requests\/sec/ { print $2 }' "$T/wrk.out") requests/s (goal 2000)"
