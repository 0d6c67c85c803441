#!/usr/bin/env bash
# The API's figures against the store and the provider's ledger: sessions
# by status (new and dormant as the store says, not "stopped"), proxies by
# state and country after `respawn proxy reconcile` marks an IP lost,
# released proxies listed, today's purchases and the day's charges equal
# to the lab's ledger, before and after a restart, in /api/proxy/status,
# /metrics and `respawn status` alike; the first start's recovery cause.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 500
serve_env_bd
export RESPAWN_IP_MONTHLY_PRICE=1.50 RESPAWN_STOP_TIMEOUT=2s
export RESPAWN_RECOVERY_WINDOW=1h
printf 'truth-key\n' >"$T/api.key"
chmod 600 "$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
H='x-api-key: truth-key'

for p in +4915100000001 +4915100000002 +4915100000003; do
	"$RESPAWN" session add --user "u$p" --phone "$p" --country de >/dev/null
done
"$RESPAWN" session add --user us1 --phone +14155550001 --country us >/dev/null
"$RESPAWN" session add --user us2 --phone +14155550002 --country us >/dev/null
"$RESPAWN" session add --user nl1 --phone +31612345678 --country nl >/dev/null
# be: the lab sells none there; it falls back to nl.
"$RESPAWN" session add --user be1 --phone +32470000001 --country be >/dev/null
# Never started: "new".  Idle beyond the recovery window: "dormant".
"$RESPAWN" session add --stopped --user fr1 --phone +33612345678 --country fr >/dev/null
"$RESPAWN" session add --user fr2 --phone +33612345679 --country fr >/dev/null
sqlite3 "$RESPAWN_DB" "UPDATE sessions SET last_activity_at = 1000, status = 'stopped' WHERE phone = '+33612345679'"
serve_start
URL=$(api_url) || { not_ok "no api.addr"; finish; }
if wait_for 30 all_ready 7; then ok "seven sessions ready on bought IPs"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
wait_for 10 grep -q 'event=recovery.completed' "$T/serve.1.log"

api() { curl -s -H "$H" "$URL$1"; }
# The lab's charges for the current day, in micro-dollars.
lab_today() { curl -s "$LAB_API/lab/ledger" | jq '.days | max_by(.day) | .total_micro_usd'; }
micros() { jq -r "($1 * 1000000 | round)"; }
store_count() { sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions WHERE status = '$1'"; }

# --- sessions by status: the store's words ---------------------------------
wait_for 10 test "$(api /api/proxy/status | jq .sessions.ready)" = 7
st=$(api /api/proxy/status)
for s in ready new dormant stopped; do
	expect_eq "$(jq ".sessions.$s" <<<"$st")" "$(store_count $s)" "proxy/status sessions.$s equals the store's count"
	expect_eq "$(metric "$URL" "respawn_sessions{state=\"$s\"}")" "$(store_count $s)" "respawn_sessions{state=$s} equals the store's count"
done
expect_eq "$(jq '.sessions.new, .sessions.dormant, .sessions.total' <<<"$st" | tr '\n' ' ')" "1 1 9 " "one new, one dormant, nine in all"
run "$RESPAWN" status --json
expect_eq "$(jq '.sessions.new, .sessions.dormant' <<<"$out" | tr '\n' ' ')" "1 1 " "respawn status says the same"

# --- one vocabulary: state, id, ...At; the 0.1 names kept, deprecated ------
be=$(api '/api/sessions?state=ready&country=be' | jq '.sessions[0]')
expect_eq "$(jq -r '[.state, .status, .requestedCountry, .proxyCountry, .fallbackUsed] | join(" ")' <<<"$be")" \
	"ready ready be nl true" "a session: state (status deprecated), its assignment's requested and proxy country, fallbackUsed"
expect_eq "$(jq '.lastActivityAt == .lastActivity and .lastActivityAt != null' <<<"$be")" true "lastActivityAt, and lastActivity deprecated"
de1=$(api '/api/sessions?country=de&limit=1' | jq '.sessions[0]')
expect_eq "$(jq -r '[.requestedCountry, .proxyCountry, .fallbackUsed] | join(" ")' <<<"$de1")" "de de false" "no fallback: its own country"
expect_eq "$(api '/api/sessions?status=dormant' | jq '.sessions | length')" 1 "?status= still filters (deprecated)"
expect_eq "$(api '/api/sessions?state=dormant' | jq '.sessions | length')" 1 "?state= filters"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "$URL/api/sessions?state=ready&status=ready")" 400 "both names at once: 400"
i0=$(api /api/instances | jq '.instances[0]')
expect_eq "$(jq '.id == .instanceId and .state == .status and .heartbeatAt == .heartbeat and .id != null' <<<"$i0")" true "an instance: id, state, heartbeatAt (and the deprecated names)"
ev=$(api '/api/events?limit=1' | jq '.events[0]')
expect_eq "$(jq '.occurredAt == .at and .occurredAt != null' <<<"$ev")" true "an event: occurredAt (at deprecated)"
r0=$(api '/api/recovery?limit=1' | jq '.runs[0]')
expect_eq "$(jq '.sessionCount == .sessions and .sessionCount != null' <<<"$r0")" true "a recovery run: sessionCount (sessions deprecated)"

# --- spend: today's purchases and the day's charges -------------------------
expect_eq "$(jq .spendToday <<<"$st" | micros .)" 350000 "spendToday: seven IPs bought today at a day's price"
wait_for 10 test "$(api /api/proxy/status | jq .chargedToday | micros .)" = "$(lab_today)"
expect_eq "$(api /api/proxy/status | jq .chargedToday | micros .)" "$(lab_today)" "chargedToday equals the lab's charges for the day"
expect_eq "$(metric "$URL" respawn_charged_today | micros .)" "$(lab_today)" "respawn_charged_today too"
run "$RESPAWN" status --json
expect_eq "$(jq .proxies.chargedToday <<<"$out" | micros .)" "$(lab_today)" "and respawn status"

# --- a released proxy stays in the list -------------------------------------
de3=$(jq -r '.id' <<<"$("$RESPAWN" session show +4915100000003 --json)")
ip3=$(sqlite3 "$RESPAWN_DB" "SELECT ip FROM proxies WHERE session_id = $de3 AND state = 'active'")
curl -s -o /dev/null -X DELETE -H "$H" "$URL/api/sessions/$de3"
wait_for 10 test "$(sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$ip3' ORDER BY id DESC LIMIT 1")" = idle
run "$RESPAWN" proxy release "$ip3"
expect_rc 0 "respawn proxy release $ip3"
wait_for 15 test "$(sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$ip3' ORDER BY id DESC LIMIT 1")" = released
expect_eq "$(api '/api/proxies?state=released' | jq -r '[.proxies[].ip] | join(",")')" "$ip3" "?state=released lists the released IP"
expect_eq "$(api '/api/proxies?limit=100' | jq '.proxies | length')" "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies")" "the unfiltered list has every proxy of the store"
expect_eq "$(api /api/proxy/status | jq .chargedToday | micros .)" "$(lab_today)" "a released IP is still charged for today, as the lab says"

# --- an IP the provider no longer lists: lost everywhere at once ------------
us2=$(jq -r '.id' <<<"$("$RESPAWN" session show +14155550002 --json)")
ipu=$(sqlite3 "$RESPAWN_DB" "SELECT ip FROM proxies WHERE session_id = $us2 AND state = 'active'")
curl -s -o /dev/null -X POST -H "$H" "$URL/api/sessions/$us2/stop"
wait_for 10 test "$(sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$ipu'")" = idle
expect_eq "$(api /api/proxy/status | jq '.byCountry.us.idle')" 1 "us: one idle IP before the provider takes it back"
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
	--data "{\"zone\":\"isp_lab\",\"ip\":\"$ipu\"}" "$LAB_API/lab/ips/revoke"
run "$RESPAWN" proxy reconcile
expect_rc 0 "respawn proxy reconcile"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$ipu'")" lost "the store marks it lost"
wait_for 10 test "$(api /api/proxy/status | jq '.byCountry.us.idle // 0')" = 0
expect_eq "$(api /api/proxy/status | jq '.byCountry.us.idle // 0')" 0 "proxy/status byCountry no longer counts it idle"
idle_us=$(metric "$URL" 'respawn_proxies{state="idle",country="us"}')
expect_eq "${idle_us:-0}" 0 "nor does /metrics"
expect_eq "$(metric "$URL" 'respawn_proxies{state="lost",country="us"}')" 1 "/metrics counts it lost"
expect_eq "$(api '/api/proxies?state=lost' | jq -r '[.proxies[].ip] | join(",")')" "$ipu" "?state=lost lists it"
expect_eq "$(api /api/proxy/status | jq .idle)" "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies WHERE state = 'idle'")" "idle in all equals the store's"

# --- a restart: the figures come back from the store ------------------------
before=$(api /api/proxy/status | jq .spendToday | micros .)
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
serve_start
URL=$(api_url) || { not_ok "no api.addr after the restart"; finish; }
wait_for 20 grep -q 'event=recovery.completed' "$T/serve.2.log"
wait_for 10 test "$(api /api/proxy/status | jq '.chargedToday // -1' | micros .)" = "$(lab_today)"
expect_eq "$(api /api/proxy/status | jq .spendToday | micros .)" "$before" "spendToday is the same after a restart"
expect_eq "$(metric "$URL" respawn_spend_today | micros .)" "$before" "respawn_spend_today too"
expect_eq "$(api /api/proxy/status | jq .chargedToday | micros .)" "$(lab_today)" "chargedToday equals the lab's charges after a restart"
expect_eq "$(api /api/proxy/status | jq .sessions.new)" 1 "the new session is still new"

# --- a store that cannot answer: a 503 in JSON, in bounded time -----------
# Another process holds the SQLite file's write lock for 12 s (longer than
# the API's 5 s deadline and the daemon's 1 s wait): every write through
# the API is answered 503 within the deadline, with Retry-After, and
# nothing is added; once the lock goes, the same request is a 201.
python3 -c "
import sqlite3, time, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN IMMEDIATE')
open(sys.argv[2], 'w').close()
time.sleep(12)
c.execute('COMMIT')" "$RESPAWN_DB" "$T/locked" &
LOCKER=$!
track_pid "$LOCKER"
wait_for 5 test -e "$T/locked"
add='{"userId":"late","phoneNumber":"+4915100000099","country":"de"}'
for i in 1 2 3; do
	t0=$(date +%s%N)
	hdrs=$(curl -s -m 30 -D - -o "$T/late.json" -X POST -H "$H" -H 'Content-Type: application/json' --data "$add" "$URL/api/sessions")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	code=$(awk 'NR == 1 { print $2 }' <<<"$hdrs")
	expect_eq "$code" 503 "locked store, request $i: 503"
	expect_eq "$(jq -r .error "$T/late.json")" unavailable "in JSON"
	expect_in "$hdrs" "Retry-After: 1" "with Retry-After"
	[ "$ms" -le 6000 ] && ok "answered in $ms ms (at most the 5 s deadline and a second)" || not_ok "answered in $ms ms"
	sleep 1
done
wait "$LOCKER"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions WHERE phone = '+4915100000099'")" 0 "nothing was added while locked"
# For up to a second after a refused write the daemon does not wait again:
# a client that honours Retry-After gets its 201 at the next try or so.
add_late() {
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$H" -H 'Content-Type: application/json' --data "$add" "$URL/api/sessions")
	[ "$code" = 201 ]
}
wait_for 5 add_late
expect_eq "$code" 201 "the lock gone, the same request adds the session"
wait_for 10 test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" 200 "the daemon is ready again"

# --- recovery runs: the first start says so --------------------------------
runs=$(api '/api/recovery?limit=10')
expect_eq "$(jq -r '.runs | map(.cause) | reverse | join(",")' <<<"$runs")" "first_start,graceful" "causes: first_start, then graceful"

# --- instances: each recovery's end is on its row, however short ----------
wait_for 10 test "$(api /api/instances | jq '[.instances[] | select(.recoveryCompletedAt == null)] | length')" = 0
inst=$(api /api/instances)
expect_eq "$(jq '[.instances[] | select(.recoveryCompletedAt != null)] | length' <<<"$inst")" 2 "both instances have a recoveryCompletedAt"
expect_eq "$(jq '[.instances[] | select(.recoveryInProgress)] | length' <<<"$inst")" 0 "none says it is still recovering"
last=$(jq '.runs[0]' <<<"$runs")
cur=$(jq --arg id "$(jq -r .instanceId <<<"$last")" '.instances[] | select(.id == $id)' <<<"$inst")
expect_eq "$(jq '.recoveryTotal' <<<"$cur")" "$(jq .sessions <<<"$last")" "the instance's recoveryTotal is its run's sessions"
expect_eq "$(jq '.recoveryDone' <<<"$cur")" "$(jq '.recovered + .failed' <<<"$last")" "and recoveryDone its recovered and failed"


finish
