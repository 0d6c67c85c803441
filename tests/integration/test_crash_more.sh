#!/usr/bin/env bash
# Crash points of three decisions beyond the crash-point suite's
# (test_crashpoints.sh), each checked at respawn-lab, not in the store:
#
#   1. Pairing by code (SQLite): POST /api/sessions/{id}/pairing-code
#      writes pairing-code.request and records the start, then restarts
#      the connector.  The daemon is killed between the two
#      (pairing.requested), for a logged-out session without a connector
#      and for one whose connector shows a QR code (it outlives the
#      daemon).  The next start honours the request: the connector asks
#      for a code, the code is served and, typed at the lab, links the
#      phone; one connector per phone, no phone connected twice.
#   2. Succession (fleet mode, PostgreSQL, an instance and a peer): the
#      daemon restarted in place writes STATE_DIR/instances, then
#      registers in its predecessors' place in one transaction, then adopts
#      their connectors.  It is killed right after the file is written
#      (succession.saved) and right after the registration
#      (succession.registered), and started again each time.  Every
#      session stays owned by one live instance (never by a dead one, so no
#      peer claims it once the old lease has run out), every connector is
#      adopted (no reconnect), no phone connected twice, no IP served two
#      phones, nothing bought twice, all ready again.
#   3. The API's deadline (fleet mode): POST /api/sessions while every
#      PostgreSQL process is stopped gets its 503 at the 5 s deadline; the
#      write lands when the database runs again, exactly once; a blind
#      retry (Retry-After honoured, nothing read) adds nothing, a retry
#      after reading is a 409 (the phone has a session), and no second
#      session appears.  (On SQLite the call runs on the loop, and a
#      locked file fails it after STORE_LOOP_WAIT_MS, before the deadline:
#      nothing lands late there; test_api_truth.sh.)
#
# Needs the test build (scripts/build) for the crash points.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crashlib.sh"

if ! crash_supported; then
	ok "built without crash points: skipped (scripts/build has them)"
	finish
fi

PG_PIDS=()
# Every process whose working directory is under $T: the connectors.
our_connectors() { find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$T/*" 2>/dev/null | cut -d/ -f3; }
# The connectors running in one directory (a session's).
connectors_in() { find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$1" 2>/dev/null | cut -d/ -f3; }
more_cleanup() {
	local pid
	for pid in "${PG_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; done
	our_connectors | xargs -r kill -KILL 2>/dev/null
	pg_stop
	cleanup
	our_connectors | xargs -r kill -KILL 2>/dev/null
}
trap more_cleanup EXIT
trap 'exit 143' TERM INT HUP

lab_start --ping-ms 200
printf 'more-key\n' >"$T/api.key"
chmod 600 "$T/api.key"
KEY='x-api-key: more-key'
code_of() { curl -s -o /dev/null -w '%{http_code}' -H "$KEY" "$@"; }

# --- 1. pairing: a crash between the request and the connector's restart ---
serve_env
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
export RESPAWN_DB="$T/pair.db" RESPAWN_STATE_DIR="$T/pair"
export RECONNECT_DELAY=100 MAX_RECONNECT_ATTEMPTS=3 RESPAWN_STOP_TIMEOUT=2s
# A QR code never replaced: the connector looks for pairing-code.request
# only when it starts, as Baileys and whatsapp-web.js do.
export RESPAWN_LAB_QR_ROTATE_MS=0
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,RESPAWN_LAB_QR_ROTATE_MS
export RESPAWN_FAILPOINT_FILE="$T/pair.faults" RESPAWN_CRASH_MARK="$T/pair.crashed"
: >"$T/proxies.txt"
for ip in $(lab_allocate de 2); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
CRASH_PHONES=(+4915100000701 +4915100000702)
for p in "${CRASH_PHONES[@]}"; do
	"$RESPAWN" session add --user "u$p" --phone "$p" --country de >/dev/null
done
CONFLICTS0=$(crash_conflicts)
SHARES0=$(lab_ip_shares)
serve_start
URL=$(api_url) || { not_ok "no API address"; finish; }
id_of() { "$RESPAWN" session show "$1" --json | jq -r .id; }
if wait_for 20 all_ready 2; then ok "pairing: both sessions ready"; else not_ok "pairing: not ready"; finish; fi
for p in "${CRASH_PHONES[@]}"; do
	curl -s -X POST --data "{\"phone\":\"$p\",\"state\":\"logged_out\"}" "$LAB_API/lab/wa/phone" >/dev/null
done
if wait_eq 15 2 count_status needs_auth; then ok "pairing: both logged out at the lab: needs_auth"
else not_ok "pairing: not needs_auth: $("$RESPAWN" session ls --json | jq -c 'map(.status)')"; fi

# Started again, the second one's connector shows a QR code and waits.
QR_ID=$(id_of "${CRASH_PHONES[1]}")
curl -s -X POST -H "$KEY" "$URL/api/sessions/$QR_ID/start" >/dev/null
if wait_eq 15 200 code_of "$URL/api/sessions/$QR_ID/qr"; then ok "pairing: the second one shows a QR code"
else not_ok "pairing: no QR code: $(tail -3 "$RESPAWN_STATE_DIR/logs/$QR_ID.log")"; fi
QR_PID=$(connectors_in "$RESPAWN_STATE_DIR/sessions/$QR_ID")

# pair_crash PHONE LABEL: ask for a pairing code with the crash point armed;
# the daemon dies before the connector is restarted; start it again and
# type the code that appears.
pair_crash() {
	local phone=$1 label=$2 id code links0 n
	id=$(id_of "$phone")
	links0=$(lab_wa | jq -r ".phones[\"$phone\"].links")
	echo "pairing.requested=crash" >"$RESPAWN_FAILPOINT_FILE"
	sleep 0.3	# re-read within 100 ms
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H "$KEY" \
	    "$URL/api/sessions/$id/pairing-code")
	if crash_wait_death 15 && grep -qx pairing.requested "$RESPAWN_CRASH_MARK" 2>/dev/null; then
		ok "$label: crashed at pairing.requested (the client got $code)"
	else
		not_ok "$label: the point was not reached (HTTP $code)"
		kill -KILL "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	rm -f "$RESPAWN_FAILPOINT_FILE" "$RESPAWN_CRASH_MARK"
	expect_eq "$(cat "$RESPAWN_STATE_DIR/sessions/$id/pairing-code.request" 2>/dev/null)" "$phone" \
	    "$label: the request is in the session's directory"
	rm -f "$RESPAWN_STATE_DIR/api.addr"
	serve_start
	URL=$(api_url) || { not_ok "$label: no API address after the restart"; return; }
	if wait_eq 20 200 code_of "$URL/api/sessions/$id/pairing-code"; then
		ok "$label: the next start honours the request: a pairing code is served"
	else
		not_ok "$label: no pairing code after the restart: $(tail -4 "$RESPAWN_STATE_DIR/logs/$id.log" | tr '\n' '|')"
		return
	fi
	code=$(curl -s -H "$KEY" "$URL/api/sessions/$id/pairing-code" | jq -r .code)
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"phone\":\"$phone\",\"code\":\"$code\"}" "$LAB_API/lab/wa/link")" 200 \
	    "$label: the code typed at the lab links the phone"
	wait_eq 15 ready status_of "$phone" && ok "$label: paired by code: ready" ||
	    not_ok "$label: not ready after the code: $(status_of "$phone")"
	expect_eq "$(lab_wa | jq -r ".phones[\"$phone\"].links")" "$((links0 + 1))" "$label: one device linked"
	n=$(connectors_in "$RESPAWN_STATE_DIR/sessions/$id" | wc -l)
	expect_eq "$n" 1 "$label: one connector for the phone"
}
pair_crash "${CRASH_PHONES[0]}" "pairing (no connector)"
pair_crash "${CRASH_PHONES[1]}" "pairing (a connector showing a QR code)"
# Alive and not a zombie (whoever adopts orphans may not reap them).
running() { grep -qE '^State:[[:space:]]+[^Z]' "/proc/$1/status" 2>/dev/null; }
[ -n "$QR_PID" ] && ! running "$QR_PID" && ok "pairing: the connector that showed the QR code was replaced" ||
    not_ok "pairing: the connector that showed the QR code still runs (${QR_PID:-none found})"
c=$(crash_conflicts)
expect_eq "$((c - CONFLICTS0))" 0 "pairing: no phone connected twice"
expect_eq "$(( $(lab_ip_shares) - SHARES0 ))" 0 "pairing: no IP served two phones"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
our_connectors | xargs -r kill -KILL 2>/dev/null
unset RESPAWN_FAILPOINT_FILE RESPAWN_CRASH_MARK RESPAWN_LAB_QR_ROTATE_MS
# The fleet buys its own IPs: the static ones go back.
crash_release_all

# --- 2. succession: crashes between the file, the registration, adoption ----
pg_start
serve_env_bd
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
# Fence deadline L/4 = 7.5 s: time for two starts in place; renewal
# deadline 2L/3 = 20 s: well past the database's stop in part 3 (9 s at
# most, short of its 10 s statement timeout).
LEASE_S=30
export RESPAWN_DB="$URL" RESPAWN_LEASE=$LEASE_S RECONNECT_DELAY=500
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR
N=8
crash_phones "$N" 71 de us gb
for i in "${!CRASH_PHONES[@]}"; do
	"$RESPAWN" session add --user "f$i" --phone "${CRASH_PHONES[$i]}" \
	    --country "${CRASH_COUNTRIES[$i]}" >/dev/null || not_ok "session add $i"
done
CONFLICTS0=$(crash_conflicts)
SHARES0=$(lab_ip_shares)
BOUGHT0=$(crash_bought)
psql_q() { psql -X -At -d "$URL" -c "$1"; }

declare -A PID STARTS
# start_instance K [VAR=VALUE...]: instance K in $T/state.K, its log
# $T/serve.K.<start>.log.
start_instance() {
	local k=$1
	shift
	STARTS[$k]=$(( ${STARTS[$k]:-0} + 1 ))
	rm -f "$T/state.$k/api.addr"
	env RESPAWN_STATE_DIR="$T/state.$k" "$@" "$RESPAWN" serve \
	    2>>"$T/serve.$k.${STARTS[$k]}.log" &
	PID[$k]=$!
	track_pid "${PID[$k]}"
}
log_of() { echo "$T/serve.$1.${STARTS[$1]}.log"; }
instance_id() { grep -o 'event=daemon.started instance=[^ ]*' "$(log_of "$1")" | tail -1 | cut -d= -f3; }
instance_id_known() { [ -n "$(instance_id "$1")" ]; }
sessions_json() { "$RESPAWN" session ls --json; }
ready_count() { sessions_json | jq '[.[] | select(.status == "ready")] | length'; }
# owned_by INSTANCE [PHONE]: its sessions (but PHONE's).
owned_by() { sessions_json | jq --arg i "$1" --arg but "${2:-}" '[.[] | select(.instanceId == $i and .phoneNumber != $but)] | length'; }
connects() { lab_wa | jq --argjson ph "$(printf '%s\n' "${CRASH_PHONES[@]}" | jq -R . | jq -s .)" \
    '[.phones | to_entries[] | select(.key as $k | $ph | index($k)) | .value.connects] | add // 0'; }
# Sessions whose owner is not a running instance of a live daemon of ours,
# as "phone:owner-status:pid" words.
unowned() {
	local phone status pid
	psql_q "SELECT s.phone, coalesce(i.status, 'none'), coalesce(i.pid, 0)
	    FROM sessions s LEFT JOIN instances i ON i.id = s.owner_instance" |
	while IFS='|' read -r phone status pid; do
		if [ "$status" = running ] && { [ "$pid" = "${PID[A]}" ] || [ "$pid" = "${PID[B]}" ]; } &&
		    kill -0 "$pid" 2>/dev/null; then
			continue
		fi
		printf '%s:%s:%s ' "$phone" "$status" "$pid"
	done
}
all_owned() { [ -z "$(unowned)" ]; }
balanced() { [ "$(sessions_json | jq '[group_by(.instanceId)[] | select(.[0].instanceId != null) | length] | (length == 2 and min == 4)')" = true ]; }

start_instance A
start_instance B
if wait_for 60 all_ready "$N"; then ok "fleet: $N sessions ready under two instances"
else not_ok "fleet: $(ready_count) ready"; finish; fi
wait_for 30 balanced && ok "fleet: shared out 4 and 4" || not_ok "fleet: not shared out: $(sessions_json | jq -c 'group_by(.instanceId) | map(length)')"
IPS0=$(crash_ips)
CONNECTS0=$(connects)

# succession_crash POINT: kill -9 A, start it with POINT armed (it dies
# there), then start it again; sets LAST_KILL.
succession_crash() {
	local point=$1 old mine ids new
	old=$(instance_id A)
	mine=$(owned_by "$old")
	kill -KILL "${PID[A]}"
	wait "${PID[A]}" 2>/dev/null
	LAST_KILL=$SECONDS
	rm -f "$T/A.crashed"
	start_instance A RESPAWN_FAILPOINTS="$point=crash" RESPAWN_CRASH_MARK="$T/A.crashed"
	SERVE_PID=${PID[A]}
	if crash_wait_death 20 && grep -qx "$point" "$T/A.crashed" 2>/dev/null; then
		ok "$point: crashed there"
	else
		not_ok "$point: the point was not reached: $(tail -2 "$(log_of A)" | tr '\n' '|')"
		kill -KILL "${PID[A]}" 2>/dev/null
		wait "${PID[A]}" 2>/dev/null
	fi
	# What the crash left: the file names the predecessor and the one that
	# crashed, which is registered in its place only after the second point.
	ids=$(tr '\n' ' ' <"$T/state.A/instances")
	new=$(tail -n 1 "$T/state.A/instances")
	expect_eq "$(head -n 1 "$T/state.A/instances") $(wc -l <"$T/state.A/instances")" "$old 2" \
	    "$point: the state directory names the predecessor and the new instance ($ids)"
	case $point in
	succession.saved)
		expect_eq "$(psql_q "SELECT count(*) FROM instances WHERE id = '$new'")" 0 \
		    "$point: the new instance is not registered"
		expect_eq "$(owned_by "$old")" "$mine" "$point: the predecessor still owns its $mine sessions" ;;
	succession.registered)
		expect_eq "$(owned_by "$new")" "$mine" "$point: the new instance took the $mine sessions"
		expect_eq "$(psql_q "SELECT status FROM instances WHERE id = '$old'")" dead \
		    "$point: the predecessor is marked dead" ;;
	esac
	start_instance A
	if wait_for 20 grep -q 'event=daemon.succeeded' "$(log_of A)"; then
		ok "$point: the next start took its predecessors' place: $(grep -o 'predecessors=[0-9]* previous=[^ ]* sessions=[0-9]*' "$(log_of A)")"
	else
		not_ok "$point: no succession: $(grep -E 'succe|daemon.s' "$(log_of A)" | tail -3 | tr '\n' '|')"
	fi
	wait_for 10 instance_id_known A
	expect_eq "$(owned_by "$(instance_id A)")" "$mine" "$point: it owns the same $mine sessions"
	if wait_for 20 all_owned; then ok "$point: every session owned by a running instance of a live daemon"
	else not_ok "$point: sessions owned by no live instance: $(unowned)"; fi
	if wait_for 30 all_ready "$N"; then ok "$point: all $N ready again"; else not_ok "$point: $(ready_count) ready"; fi
}
succession_crash succession.saved
succession_crash succession.registered
MINE_A=$(owned_by "$(instance_id A)")

# --- 3. a write that commits after its 503 ---------------------------------
API_A=$(RESPAWN_STATE_DIR="$T/state.A" api_url) || not_ok "no API address of A"
pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
PG_PIDS=("$pm" $(pgrep -P "$pm"))
LATE=+4915100000799
add="{\"userId\":\"late\",\"phoneNumber\":\"$LATE\",\"country\":\"de\"}"
post_late() {
	curl -s -m 30 -D "$T/late.$1.h" -o "$T/late.$1.json" -w '%{http_code}' -X POST \
	    -H "$KEY" -H 'Content-Type: application/json' --data "$add" "$API_A/api/sessions"
}
kill -STOP "${PG_PIDS[@]}"
t0=$(date +%s%N)
post_late 1 >"$T/late.1.code" &
first=$!
for _ in $(seq 1 80); do
	kill -0 "$first" 2>/dev/null || break
	sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# A client that only honours Retry-After: sent again while still stopped.
post_late 2 >"$T/late.2.code" &
blind=$!
sleep 1
kill -CONT "${PG_PIDS[@]}"
PG_PIDS=()
wait "$first"
expect_eq "$(cat "$T/late.1.code") $(jq -r .error "$T/late.1.json")" "503 unavailable" \
    "late write: a 503 in JSON while the database is stopped"
[ "$ms" -ge 4500 ] && [ "$ms" -lt 8000 ] && ok "... at the deadline ($ms ms)" || not_ok "... after $ms ms (deadline 5000)"
expect_in "$(jq -r .message "$T/late.1.json")" "read before writing again" "... saying a write may still be made"
wait "$blind"
code=$(cat "$T/late.2.code")
[ "$code" != 201 ] && ok "late write: a blind retry adds nothing ($code $(jq -r '.error // empty' "$T/late.2.json"))" ||
    not_ok "late write: a blind retry added a session"
late_count() { sessions_json | jq --arg p "$LATE" '[.[] | select(.phoneNumber == $p)] | length'; }
if wait_eq 15 1 late_count; then ok "late write: it landed after its 503, once"
else not_ok "late write: $(late_count) sessions for the phone"; fi
# A client that reads before writing again: the session is there, and a
# retry is a 409 naming the field.
listed=$(curl -s -H "$KEY" "$API_A/api/sessions?limit=1000" | jq --arg p "$LATE" '[.sessions[] | select(.phoneNumber == $p)] | length')
expect_eq "$listed" 1 "late write: GET /api/sessions lists it"
code=$(post_late 3)
expect_eq "$code $(jq -r .field "$T/late.3.json")" "409 phoneNumber" "late write: a retry after reading is a 409 (the phone has a session)"
expect_eq "$(late_count)" 1 "late write: still one session for the phone"
N=$((N + 1))
CRASH_PHONES+=("$LATE")

# --- the invariants, once the old leases have run out ----------------------
# Past the lease of every instance killed above: a session a dead
# instance still owned would be a peer's to claim by now.
rest=$((LAST_KILL + LEASE_S + 3 - SECONDS))
[ "$rest" -gt 0 ] && sleep "$rest"
if wait_for 30 all_ready "$N"; then ok "all $N sessions ready"; else not_ok "$(ready_count) of $N ready: $(sessions_json | jq -c 'map(.status)')"; fi
all_owned && ok "every session owned by a running instance of a live daemon" || not_ok "owned by no live instance: $(unowned)"
expect_eq "$(owned_by "$(instance_id A)" "$LATE")" "$MINE_A" "A's sessions stayed A's: no peer claimed them"
kill -0 "${PID[B]}" 2>/dev/null && ok "the peer still runs" || not_ok "the peer exited"
expect_eq "$(( $(crash_conflicts) - CONFLICTS0 ))" 0 "no phone connected twice"
expect_eq "$(( $(lab_ip_shares) - SHARES0 ))" 0 "no IP served two phones"
# The late session's first connect is its only one.
expect_eq "$(connects)" "$((CONNECTS0 + 1))" "no phone reconnected: every connector adopted, the late session connected once"
bought=$(crash_bought)
[ "$bought" -le "$((BOUGHT0 + N))" ] && ok "nothing bought twice ($((bought - BOUGHT0)) IPs for $N sessions)" ||
    not_ok "$((bought - BOUGHT0)) IPs bought for $N sessions"
now=$(crash_ips)
moved=0
while read -r phone ip; do
	[ -n "$phone" ] && ! grep -q "^$phone $ip\$" <<<"$now" && moved=$((moved + 1))
done <<<"$IPS0"
expect_eq "$moved" 0 "every phone on the IP it had"
finish
