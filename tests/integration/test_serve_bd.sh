#!/usr/bin/env bash
# The daemon buying from Bright Data (respawn-lab's account API): twenty
# sessions needing de cause one purchase call with count=20; a country
# the provider has no IPs for falls back along its chain and buys there; a
# restart after a host crash buys nothing and reactivates every IP; a
# purchase whose answer is lost (commit, then the connection drops) is
# settled from the listing, never bought twice; the lab's allocations
# always equal the store's proxies.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 500
serve_env_bd
# A lost answer is settled once the provider cannot still act on it: the
# request's timeout and 5 s (8 s here).
export BRIGHT_DATA_TIMEOUT=3s

# The key is a Google Secret Manager reference, resolved through the
# metadata server's token, and never printed.
run "$RESPAWN" check-config
expect_rc 0 "check-config resolves the Secret Manager reference"
expect_in "$out" "secret reference resolved" "reported as resolved"
expect_not_in "$out$err" "lab-api-key" "the key is not printed"
run env BRIGHT_DATA_API_KEY_SECRET=projects/lab/secrets/nope/versions/latest "$RESPAWN" check-config
expect_rc 78 "an unknown secret is a configuration error"
expect_in "$out" "HTTP 404" "and says why"

for i in $(seq -w 1 20); do
	"$RESPAWN" session add --user "de$i" --phone "+49151000000$i" --country de >/dev/null
done
"$RESPAWN" session add --user us1 --phone +14155550001 --country us >/dev/null
"$RESPAWN" session add --user be1 --phone +32470000001 --country be >/dev/null
N=22
serve_start
if wait_for 30 all_ready "$N"; then ok "all $N sessions ready on bought IPs"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
log=$T/serve.1.log
expect_eq "$(grep -c 'event=purchase.start country=de count=20' "$log")" 1 "20 de sessions: one purchase call with count=20"
expect_eq "$(grep -c 'event=purchase.start country=de' "$log")" 1 "no other de purchase"
expect_in "$(cat "$log")" "event=purchase.sold_out country=be" "be is sold out at the provider"
run sqlite3 "$RESPAWN_DB" "SELECT requested_country || '>' || country || ':' || fallback_used || ':' || reason FROM assignments WHERE phone = '+32470000001'"
expect_eq "$out" "be>nl:1:purchased" "be fell back to nl and bought there"
expect_eq "$(lab_allocated)" "$(db_proxies)" "the lab's allocations equal the store's proxies"
expect_eq "$(db_proxies)" "$N" "one IP per session"
run sqlite3 "$RESPAWN_DB" "SELECT group_concat(state) FROM (SELECT DISTINCT state FROM purchase_intents)"
expect_eq "$(tr ',' '\n' <<<"$out" | sort | tr '\n' ' ')" "failed owned " "intents settled: owned, and failed for be"

# A host crash: daemon and connectors killed; the restart buys nothing.
kill_connectors() {
	local p
	for p in $(sqlite3 "$RESPAWN_DB" "SELECT connector_pid FROM sessions WHERE connector_pid > 1"); do
		kill -KILL -- "-$p" 2>/dev/null
	done
}
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
kill_connectors
before=$(lab_allocated)
serve_start
wait_for 10 grep -q 'event=recovery.completed' "$T/serve.2.log"
if wait_for 20 all_ready "$N"; then ok "all ready after a host crash"
else not_ok "after host crash: $("$RESPAWN" session ls)"; fi
expect_eq "$(grep -c 'event=purchase.start' "$T/serve.2.log")" 0 "no purchase after the crash"
expect_eq "$(lab_allocated)" "$before" "the lab allocated nothing new"
expect_in "$(grep 'event=recovery.completed' "$T/serve.2.log")" "reactivated=$N" "every IP reactivated"

# The answer of a purchase is lost: settled from the listing, bought once.
curl -s -X POST -H 'Content-Type: application/json' \
	--data '{"endpoint":"POST /zone/ips","kind":"commit_drop","count":1}' "$LAB_API/lab/faults" >/dev/null
# Both needs must reach the daemon in one look at the store (it looks
# once a second): added stopped, then started together in one transaction.
"$RESPAWN" session add --stopped --user fr1 --phone +33612345678 --country fr >/dev/null
"$RESPAWN" session add --stopped --user fr2 --phone +33612345679 --country fr >/dev/null
sqlite3 "$RESPAWN_DB" "BEGIN IMMEDIATE; UPDATE sessions SET desired = 'running' \
	WHERE phone IN ('+33612345678', '+33612345679'); UPDATE meta SET value = value + 1 \
	WHERE key = 'sessions_generation'; COMMIT;"
wait_for 20 all_ready $((N + 2))
expect_eq "$(count_status ready)" $((N + 2)) "sessions of a lost purchase come up"
expect_in "$(cat "$T/serve.2.log")" "event=purchase.unknown country=fr" "the lost answer is noticed"
wait_for 20 grep -q 'event=purchase.settled' "$T/serve.2.log"
expect_in "$(cat "$T/serve.2.log")" "event=purchase.settled" "settled from the listing, once it could no longer change"
expect_eq "$(grep -c 'event=purchase.start country=fr' "$T/serve.2.log")" 1 "fr was asked for once"
expect_eq "$(lab_allocated)" "$(db_proxies)" "still: the lab's allocations equal the store's proxies"
expect_eq "$(curl -s "$LAB_API/lab/ledger" | jq '[.allocations[] | select(.country == "fr")] | length')" 2 "two fr IPs, not four"

# The operator gives an idle IP back: the daemon releases it at the lab.
"$RESPAWN" session stop +33612345679 >/dev/null
idle_fr() { "$RESPAWN" proxy ls --json | jq -r '[.[] | select(.country == "fr" and .state == "idle")] | length'; }
wait_eq 10 1 idle_fr
ip=$("$RESPAWN" proxy ls --json | jq -r '.[] | select(.country == "fr" and .state == "idle") | .proxyIp')
busy=$("$RESPAWN" proxy ls --json | jq -r '.[] | select(.country == "fr" and .state == "active") | .proxyIp')
run "$RESPAWN" proxy release "$busy"
expect_rc 65 "a proxy in use cannot be released"
run "$RESPAWN" proxy release 203.0.113.9
expect_rc 65 "an unknown proxy cannot be released"
run "$RESPAWN" proxy release "$ip"
expect_rc 0 "proxy release of the idle fr IP"
proxy_state() { sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$1' ORDER BY id DESC LIMIT 1"; }
wait_eq 10 released proxy_state "$ip"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$ip' ORDER BY id DESC LIMIT 1")" released "the daemon released it"
expect_eq "$(curl -s "$LAB_API/lab/ledger" | jq -r --arg ip "$ip" '.allocations[] | select(.ip == $ip) | .released_at != null')" true "the lab stopped billing it"
expect_eq "$(lab_allocated)" "$(db_proxies)" "the lab's allocations equal the store's proxies after the release"

# Killed between the intent and the answer: the purchase is slow (the lab
# answers after 3 s) and the daemon dies meanwhile.  Restarted, it settles
# the intent from the listing and converges: the lab's allocations equal
# the store's proxies, and every session runs.
curl -s -X POST -H 'Content-Type: application/json' \
	--data '{"endpoint":"POST /zone/ips","kind":"latency","ms":3000,"count":1}' "$LAB_API/lab/faults" >/dev/null
"$RESPAWN" session add --user es1 --phone +34612345678 --country es >/dev/null
wait_for 10 grep -q 'event=purchase.start country=es' "$T/serve.2.log"
sleep 0.5
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
run sqlite3 "$RESPAWN_DB" "SELECT state FROM purchase_intents WHERE country = 'es'"
expect_eq "$out" pending "the intent was on disk before the answer"
sleep 3
serve_start
wait_for 10 grep -q 'event=recovery' "$T/serve.3.log"
M=$("$RESPAWN" session ls --json | jq '[.[] | select(.desiredState == "running")] | length')
if wait_for 20 all_ready "$M"; then ok "all $M running sessions ready after a kill between intent and answer"
else not_ok "not converged: $("$RESPAWN" session ls)"; fi
wait_for 20 grep -q 'event=purchase.settled' "$T/serve.3.log"
expect_in "$(cat "$T/serve.3.log")" "event=purchase.settled" "the open intent was settled"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM purchase_intents WHERE state IN ('pending', 'unknown')")" 0 "no intent left open"
expect_eq "$(lab_allocated)" "$(db_proxies)" "the lab's allocations equal the store's proxies after the kill"
expect_eq "$(curl -s "$LAB_API/lab/ledger" | jq '[.allocations[] | select(.country == "es")] | length')" 1 "one es IP, not two"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "graceful stop"

# By hand: an IP bought outside respawn, and one the provider took back.
extra=$(lab_allocate gb)
gone=$("$RESPAWN" proxy ls --json | jq -r '[.[] | select(.state == "active")][0].proxyIp')
curl -s -X POST -H 'Content-Type: application/json' \
	--data "{\"zone\":\"isp_lab\",\"ip\":\"$gone\"}" "$LAB_API/lab/ips/revoke" >/dev/null
before=$(tree_sum "$T/state"; sqlite3 "$RESPAWN_DB" "SELECT count(*), group_concat(state) FROM proxies")
run "$RESPAWN" proxy reconcile --dry-run
expect_rc 0 "proxy reconcile --dry-run"
expect_in "$out" "would adopt  $extra" "the dry run would adopt the unknown IP"
expect_in "$out" "would lose   $gone" "the dry run would mark the revoked IP lost"
expect_eq "$(tree_sum "$T/state"; sqlite3 "$RESPAWN_DB" "SELECT count(*), group_concat(state) FROM proxies")" "$before" "a dry run changes nothing"
run "$RESPAWN" proxy reconcile
expect_rc 0 "proxy reconcile"
expect_in "$out" "1 adopted, 0 found, 0 corrected, 1 lost" "adopted one, lost one"
expect_eq "$(lab_allocated)" "$(db_proxies)" "the lab's allocations equal the store's proxies after reconcile"
run "$RESPAWN" proxy reconcile
expect_in "$out" "0 adopted, 0 found, 0 corrected, 0 lost" "a second run finds nothing to do"
finish
