# Shared helpers of the integration tests.  A test sources this file with
# the build directory and the source directory as $1 and $2; it gets a
# private temporary directory ($T) that is removed, and every process it
# started (recorded with track_pid) killed, when it exits, whatever happens.

set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
RESPAWN="$BUILD/respawn"
T=$(mktemp -d "${TMPDIR:-/tmp}/respawn-it.XXXXXX")
TRACKED_PIDS=()
FAILS=0
CHECKS=0

cleanup() {
	local pid
	for pid in "${TRACKED_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.1
	for pid in "${TRACKED_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# RESPAWN_TEST_KEEP=DIR keeps a copy of the test's directory, to read.
	[ -z "${RESPAWN_TEST_KEEP:-}" ] || cp -a "$T" "$RESPAWN_TEST_KEEP" 2>/dev/null
	rm -rf "$T" "$T.out" "$T.err"
}
trap cleanup EXIT

track_pid() { TRACKED_PIDS+=("$1"); }

# Run a command, keeping its status, stdout and stderr in $rc, $out, $err.
run() {
	"$@" >"$T.out" 2>"$T.err"
	rc=$?
	out=$(cat "$T.out")
	err=$(cat "$T.err")
}

ok() { CHECKS=$((CHECKS + 1)); echo "ok - $*"; }
# Failed checks are also said again by finish, last: a log cut to its
# head and tail (CI's record of a long test) still shows them.
FAILED_CHECKS=()
not_ok() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "not ok - $*"
	FAILED_CHECKS+=("$(printf '%.300s' "$*")")
}

# expect_rc WANT DESCRIPTION: checks $rc from the last run.
expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok "$2 (exit $rc)"
	else not_ok "$2: exit $rc, want $1; stderr: $err"; fi
}

# expect_in HAYSTACK NEEDLE DESCRIPTION
expect_in() {
	case "$1" in
	*"$2"*) ok "$3" ;;
	*) not_ok "$3: '$2' not found in: $1" ;;
	esac
}

# expect_not_in HAYSTACK NEEDLE DESCRIPTION
expect_not_in() {
	case "$1" in
	*"$2"*) not_ok "$3: '$2' found in: $1" ;;
	*) ok "$3" ;;
	esac
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
	if [ "$1" = "$2" ]; then ok "$3"
	else not_ok "$3: got '$1', want '$2'"; fi
}

# A fingerprint of every file under a directory, to prove nothing changed.
tree_sum() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

finish() {
	local f
	for f in "${FAILED_CHECKS[@]}"; do echo "FAILED: $f"; done
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}

# --- respawn-lab and the daemon ---------------------------------------------

LAB="$BUILD/lab/respawn-lab"
LAB_CONNECTOR="$BUILD/lab/respawn-lab-connector"
LAB_KEY='Authorization: Bearer lab-api-key'

# Wait until a command succeeds, polling every 50 ms, for up to $1 seconds.
# wait_eq SECONDS WANT CMD...: until CMD prints WANT (run again at each
# try; `wait_for N test "$(CMD)" = WANT` would run CMD only once).
wait_eq() {
	local limit=$(($1 * 20)) i=0 want=$2
	shift 2
	until [ "$("$@" 2>/dev/null)" = "$want" ]; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.05
	done
}

wait_for() {
	local limit=$(($1 * 20)) i=0
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.05
	done
}

# Start a lab on ports the kernel picks; sets LAB_API, LAB_PROXY_PORT,
# LAB_WA_PORT and LAB_PID.
lab_start() {
	rm -f "$T/lab.ports"
	"$LAB" --api-port 0 --proxy-port 0 --wa-port 0 --ports-file "$T/lab.ports" \
		"$@" 2>>"$T/lab.log" &
	LAB_PID=$!
	track_pid "$LAB_PID"
	wait_for 10 test -s "$T/lab.ports" || { echo "lab did not start"; exit 1; }
	. "$T/lab.ports"
	LAB_API="http://127.0.0.1:$LAB_API_PORT"
}

# lab_allocate CC [COUNT]: buys IPs at the lab, prints them one per line.
lab_allocate() {
	curl -s -X POST -H "$LAB_KEY" -H 'Content-Type: application/json' \
		--data "{\"customer\":\"c_lab\",\"zone\":\"isp_lab\",\"count\":${2:-1},\"country\":\"$1\"}" \
		"$LAB_API/zone/ips" | jq -r '.new_ips[]'
}

# The proxy URL of a lab IP through the lab's super proxy.
lab_proxy_url() {
	echo "http://brd-customer-c_lab-zone-isp_lab-ip-$1:isp_lab_pw@127.0.0.1:$LAB_PROXY_PORT"
}

# The lab's WhatsApp view of every phone, as JSON.
lab_wa() { curl -s "$LAB_API/lab/wa"; }

# Environment for a daemon on SQLite in $T with the lab connector.
serve_env() {
	export RESPAWN_DB="$T/respawn.db" RESPAWN_STATE_DIR="$T/state"
	export RESPAWN_STATIC_PROXIES="$T/proxies.txt"
	export RESPAWN_CONNECTOR="$LAB_CONNECTOR"
	export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR
	export RESPAWN_LAB_WA_ADDR="127.0.0.1:$LAB_WA_PORT"
	export RESPAWN_LOG_LEVEL=${RESPAWN_LOG_LEVEL:-info}
	# The HTTP API on a port the kernel picks: tests run side by side.
	export RESPAWN_API_LISTEN=127.0.0.1:0
}

# The running daemon's API base URL (waits for RESPAWN_STATE_DIR/api.addr).
api_url() {
	wait_for 10 test -s "$RESPAWN_STATE_DIR/api.addr" || { echo "no api.addr" >&2; return 1; }
	echo "http://$(cat "$RESPAWN_STATE_DIR/api.addr")"
}

# Start the daemon in the background; its log is $T/serve.N.log.
SERVE_N=0
serve_start() {
	SERVE_N=$((SERVE_N + 1))
	"$RESPAWN" serve "$@" 2>>"$T/serve.$SERVE_N.log" &
	SERVE_PID=$!
	track_pid "$SERVE_PID"
}

# One session's status (by id or phone), and a phone's connection at the lab.
status_of() { "$RESPAWN" session show "$1" --json | jq -r .status; }
connected_of() { lab_wa | jq -r ".phones[\"$1\"].connected"; }

# How many sessions have a given status.
count_status() {
	"$RESPAWN" session ls --json | jq "[.[] | select(.status == \"$1\")] | length"
}
all_ready() { [ "$(count_status ready)" = "$1" ]; }

# Environment for a daemon buying from the lab through its account API.
serve_env_bd() {
	serve_env
	unset RESPAWN_STATIC_PROXIES
	export RESPAWN_PROVIDER=brightdata
	export BRIGHT_DATA_API_URL="$LAB_API" BRIGHT_DATA_CUSTOMER_ID=c_lab
	export BRIGHT_DATA_ZONE=isp_lab BRIGHT_DATA_ZONE_PASSWORD=isp_lab_pw
	# The API key comes from the lab's Secret Manager stand-in.
	export BRIGHT_DATA_API_KEY_SECRET=projects/lab/secrets/brightdata-api-key/versions/latest
	export RESPAWN_GSM_URL="$LAB_API" RESPAWN_METADATA_URL="$LAB_API"
	export BRIGHT_DATA_PROXY_HOST=127.0.0.1 BRIGHT_DATA_PROXY_PORT="$LAB_PROXY_PORT"
}

# store_names_live PHONE DEAD: the store says PHONE is ready on a live
# connector, not on the dead pid DEAD.
store_names_live() {
	local pid
	pid=$(sqlite3 "$RESPAWN_DB" "SELECT connector_pid FROM sessions WHERE phone = '$1' AND status = 'ready'")
	[ -n "$pid" ] && [ "$pid" != "$2" ] && kill -0 "$pid" 2>/dev/null
}

# lab_fault JSON: add a fault rule at the lab (docs/LAB.md); lab_faults_clear.
lab_fault() {
	curl -sf -X POST -H 'Content-Type: application/json' --data "$1" \
	    "$LAB_API/lab/faults" >/dev/null || not_ok "fault rule refused: $1"
}
lab_faults_clear() { curl -s -X DELETE "$LAB_API/lab/faults" >/dev/null; }
# Connections the WhatsApp stand-in saw from an IP another phone used at
# that moment (docs/LAB.md): one IP serving two phones.
lab_ip_shares() { lab_wa | jq '.ip_shares'; }
# A phone's IP and its country at the stand-in.
ip_of() { lab_wa | jq -r ".phones[\"$1\"].ip"; }
country_at_lab() { lab_wa | jq -r ".phones[\"$1\"].country"; }
# A counter or gauge of the daemon's /metrics, with its labels if any:
# metric URL 'name{kind="known"}'.
metric() {
	curl -s "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

# IPs the lab has allocated now (not released), and the store's live ones.
lab_allocated() { curl -s "$LAB_API/lab/ledger" | jq '[.allocations[] | select(.released_at == null)] | length'; }
db_proxies() { sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies WHERE state NOT IN ('released', 'lost')"; }

# A throwaway PostgreSQL cluster (scripts/pg-cluster) for fleet tests, in
# $PGDIR, outside $T: the cluster runs as an unprivileged user, and $T is
# private.  pg_start sets URL, or ends the test; pg_stop (for the test's
# EXIT trap) stops the cluster and removes its directory.
PG_CLUSTER="$SRC/scripts/pg-cluster"
PGDIR=""
pg_start() {
	PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/respawn-pg.XXXXXX")
	if ! URL=$("$PG_CLUSTER" start "$PGDIR" 2>"$T/pg.err"); then
		not_ok "PostgreSQL cluster did not start: $(cat "$T/pg.err")"
		finish
	fi
	ok "PostgreSQL cluster on loopback"
}
pg_stop() {
	[ -n "$PGDIR" ] || return 0
	"$PG_CLUSTER" stop "$PGDIR" >/dev/null 2>&1
	rm -rf "$PGDIR"
}

# sample_export OUT: a copy of docs/migration/sample-export.json whose
# proxies are IPs bought at the lab in each one's country, as the old
# system bought them, in place of its documentation addresses; lab_ip maps
# each phone to its IP.  Its sessions were active a moment ago (lastUpdated
# now): idle beyond RESPAWN_RECOVERY_WINDOW they would come up dormant.
SAMPLE="$SRC/docs/migration/sample-export.json"
declare -A lab_ip
sample_export() {
	local out=$1 now phone ip cc new
	now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
	jq --arg now "$now" '.session_recovery |= map_values(.lastUpdated = $now)' \
		"$SAMPLE" >"$out"
	while read -r phone ip cc; do
		new=$(lab_allocate "$cc")
		[ -n "$new" ] || { not_ok "the lab sold no IP in $cc"; finish; }
		lab_ip[$phone]=$new
		sed -i "s/\"$ip\"/\"$new\"/" "$out"
	done < <(jq -r '.proxy_assignments[] | select(.proxyIp != "203.0.113.99") |
		"\(.phoneNumber) \(.proxyIp) \(.country)"' "$SAMPLE")
}

# sample_on_its_ips LABEL: every phone of sample_export ready, at the lab's
# WhatsApp on the IP the export gave it.
sample_on_its_ips() {
	local phone
	if wait_for 30 all_ready "${#lab_ip[@]}"; then ok "$1all ${#lab_ip[@]} imported sessions ready"
	else not_ok "$1not ready: $("$RESPAWN" session ls)"; fi
	for phone in "${!lab_ip[@]}"; do
		expect_eq "$(ip_of "$phone")" "${lab_ip[$phone]}" "$1$phone at WhatsApp on its imported IP"
	done
}
