# Shared helpers for tests/integration/test_lab_*.sh: each test sources
# this with the build and source directories as $1 and $2.  It makes a
# temporary directory, starts labs on ports chosen by the kernel, and kills
# everything it started (by PID) on exit.
set -euo pipefail

BUILD_DIR=$(cd "$1" && pwd)
SOURCE_DIR=$(cd "$2" && pwd)
LAB_BIN=$BUILD_DIR/lab/respawn-lab
CONNECTOR_BIN=$BUILD_DIR/lab/respawn-lab-connector
NOTIFY_BIN=$BUILD_DIR/lab/respawn-lab-notify-recv
KEY='Authorization: Bearer lab-api-key'
T=$(mktemp -d "${TMPDIR:-/tmp}/respawn-lab-test.XXXXXX")
STARTED_PIDS=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cleanup() {
	local p
	for p in "${STARTED_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 30 lines)" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}

pass() {
	echo "ok: $*"
}

expect_eq() {	# expected actual what
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
	pass "$3"
}

# Waits until a command succeeds, polling every 50 ms, for up to $1 s.
wait_for() {
	local limit=$(( $1 * 20 )) i=0
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.05
	done
}

# lab_start NAME [flags...]: starts a lab, waits for its ports file and sets
# LAB_API_PORT, LAB_PROXY_PORT, LAB_WA_PORT, LAB_PID and API.  Flags in
# $LAB_EXTRA_FLAGS are added to every lab (test_lab_workers.sh uses it).
lab_start() {
	local name=$1
	shift
	rm -f "$T/$name.ports"
	# shellcheck disable=SC2086
	"$LAB_BIN" --api-port 0 --proxy-port 0 --wa-port 0 \
	    --ports-file "$T/$name.ports" ${LAB_EXTRA_FLAGS:-} "$@" \
	    2>>"$T/$name.log" &
	STARTED_PIDS+=($!)
	wait_for 10 test -s "$T/$name.ports" || fail "lab $name did not start"
	# shellcheck disable=SC1090
	. "$T/$name.ports"
	API=http://127.0.0.1:$LAB_API_PORT
}

# Stops the current lab with SIGTERM and checks it exits cleanly (under
# AddressSanitizer, a leak makes the exit status non-zero).
lab_stop() {
	local rc=0
	kill -TERM "$LAB_PID"
	wait "$LAB_PID" || rc=$?
	[ "$rc" = 0 ] || fail "lab exited with status $rc"
}

# api METHOD PATH [BODY]: prints the body; the status goes to $T/status.
api() {
	local method=$1 path=$2 body=${3:-}
	if [ -n "$body" ]; then
		curl -s -o "$T/body" -w '%{http_code}' -X "$method" -H "$KEY" \
		    -H 'Content-Type: application/json' --data-binary "$body" \
		    "$API$path" >"$T/status" || true
	else
		curl -s -o "$T/body" -w '%{http_code}' -X "$method" -H "$KEY" \
		    "$API$path" >"$T/status" || true
	fi
	cat "$T/body"
}

status() {
	cat "$T/status"
}

# Admin calls need no key.
admin() {
	local method=$1 path=$2 body=${3:-}
	if [ -n "$body" ]; then
		curl -sf -X "$method" -H 'Content-Type: application/json' \
		    --data-binary "$body" "$API$path"
	else
		curl -sf -X "$method" "$API$path"
	fi
}

# allocate CC [COUNT]: prints the first new IP.
allocate() {
	api POST /zone/ips "{\"customer\":\"c_lab\",\"zone\":\"isp_lab\",\"count\":${2:-1},\"country\":\"$1\"}" |
	    jq -r '.new_ips[0]'
}
