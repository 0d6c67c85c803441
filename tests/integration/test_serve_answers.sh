#!/usr/bin/env bash
# The provider's answers are untrusted input (docs/PROXIES.md, "What is
# trusted"): each case has the lab's account API answer what a provider
# should not, and the daemon buying from it must give no IP to two
# phones, buy nothing twice and keep every billed IP in its store.
#
#   1. a purchase answer naming IPs the store holds already;
#   2. a purchase answer naming more IPs than asked, and one naming fewer;
#   3. a release answer naming other IPs than the one asked for;
#   6. a purchase whose answer was lost, while the listings that should
#      settle it fail;
#   8. a listing that gives no country.
#
# test_serve_races.sh has the races (4, 5, 7, 9, 10).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crashlib.sh"
. "$(dirname "$0")/answerlib.sh"

lab_start --ping-ms 500
serve_env_bd
# A lost answer is settled once the provider cannot still act on it: the
# request's timeout and a margin (8 s here).
export BRIGHT_DATA_TIMEOUT=3s
URL=

# --- 1. a purchase answer naming IPs the store holds --------------------
case_known() {
scenario known
add +14155550101 us
start
wait_for 20 all_ready 1 || not_ok "known: the us session is not ready"
us_ip=$(ip_of +14155550101)
lab_fault '{"endpoint":"POST /zone/ips","kind":"known_ips","count":1}'
add +4915100000101 de
if wait_for 30 all_ready 2; then ok "known: the de session is ready"
else not_ok "known: not ready: $("$RESPAWN" session ls)"; fi
de_ip=$(ip_of +4915100000101)
[ "$de_ip" != "$us_ip" ] && ok "known: the de session is not given the us session's IP" ||
    not_ok "known: the de session was given $us_ip, the us session's"
expect_in "$(grep 'event=purchase.answer_mismatch' "$SERVE_LOG")" "known=1" \
    "known: the answer's known IP is logged"
URL=$(api_url)
expect_eq "$(metric "$URL" 'respawn_provider_answer_anomalies_total{kind="known"}')" 1 \
    "known: and counted as the provider's"
answers_check known 2
stop
}

# --- 2. more IPs than asked, and fewer ----------------------------------
case_extra() {
scenario extra
lab_fault '{"endpoint":"POST /zone/ips","kind":"extra_ips","extra":1,"count":1}'
add +4915100000201 de
start
if wait_for 30 all_ready 1; then ok "extra: ready"
else not_ok "extra: not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(grep -c 'event=purchase.done country=de count=1 ' "$SERVE_LOG")" 1 \
    "extra: one IP asked for, one bought (purchase.done count=1)"
URL=$(api_url)
expect_eq "$(metric "$URL" respawn_proxy_purchased_total)" 1 \
    "extra: respawn_proxy_purchased_total counts what was asked"
expect_eq "$(metric "$URL" 'respawn_provider_answer_anomalies_total{kind="surplus"}')" 1 \
    "extra: the surplus is the provider's"
expect_eq "$(crash_billed)" 2 "extra: the lab bills both"
answers_check extra 2
stop
}

case_short() {
scenario short
lab_fault '{"endpoint":"POST /zone/ips","kind":"short_ips","fewer":1,"count":1}'
add +4915100000301 de
add +4915100000302 de
start
if wait_for 40 all_ready 2; then ok "short: both ready"
else not_ok "short: not ready: $("$RESPAWN" session ls)"; fi
URL=$(api_url)
expect_eq "$(metric "$URL" 'respawn_provider_answer_anomalies_total{kind="shortfall"}')" 1 \
    "short: the missing IP is the provider's"
answers_check short 2
stop
}

# --- 3. a release answer naming other IPs -------------------------------
case_release() {
scenario release
add +4915100000401 de
add +14155550401 us
start
wait_for 30 all_ready 2 || not_ok "release: not ready: $("$RESPAWN" session ls)"
de_ip=$(ip_of +4915100000401)
us_ip=$(ip_of +14155550401)
"$RESPAWN" session stop +4915100000401 >/dev/null
wait_eq 10 idle state_of_ip "$de_ip" || not_ok "release: $de_ip is not idle: $(state_of_ip "$de_ip")"
lab_fault '{"endpoint":"DELETE /zone/ips","kind":"other_ips","count":1}'
run "$RESPAWN" proxy release "$de_ip"
expect_rc 0 "release: respawn proxy release $de_ip"
wait_for 10 grep -q 'event=proxy.release_unconfirmed' "$SERVE_LOG" ||
    not_ok "release: the answer naming other IPs is taken as a release"
expect_eq "$(state_of_ip "$de_ip")" releasing \
    "release: while the provider still bills it, the store does not say released"
expect_eq "$(state_of_ip "$us_ip")" active "release: the IP the answer named is still the us session's"
if wait_for 30 sh -c "curl -s '$LAB_API/lab/ledger' | jq -e --arg ip '$de_ip' '[.allocations[] | select(.ip == \$ip and .released_at == null)] | length == 0' >/dev/null"; then
	ok "release: asked again after a listing still showed it: released"
else
	not_ok "release: the lab still bills $de_ip"
fi
wait_eq 10 "" state_of_ip "$de_ip" || not_ok "release: the store has $de_ip as $(state_of_ip "$de_ip")"
URL=$(api_url)
expect_eq "$(metric "$URL" 'respawn_provider_answer_anomalies_total{kind="other"}')" 1 \
    "release: the other IP named is counted"
answers_check release 2
stop
}

# --- 6. a lost answer, and failing listings -----------------------------
case_settle() {
scenario settle
start
lab_fault '{"endpoint":"POST /zone/ips","kind":"commit_drop","count":1}'
lab_fault '{"endpoint":"GET /zone/ips","kind":"error","statuses":[500],"count":5}'
add +4915100000601 de
if wait_for 60 all_ready 1; then ok "settle: ready on what the lost answer bought"
else not_ok "settle: not ready: $("$RESPAWN" session ls)"; fi
expect_in "$(cat "$SERVE_LOG")" "event=purchase.waiting_settlement" \
    "settle: the need waited for the listing instead of buying again"
answers_check settle 1
stop
}

# --- 8. a listing without countries -------------------------------------
case_nocountry() {
scenario nocountry
add +4915100000801 de
start
wait_for 30 all_ready 1 || not_ok "nocountry: not ready"
ip=$(ip_of +4915100000801)
stop
lab_fault '{"endpoint":"GET /zone/ips","kind":"no_country","count":3}'
start
if wait_for 30 all_ready 1; then ok "nocountry: ready again"
else not_ok "nocountry: not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(ip_of +4915100000801)" "$ip" "nocountry: back on its IP, not lost for a missing country"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT country FROM proxies WHERE ip = '$ip' AND state = 'active'")" de \
    "nocountry: the store keeps the country it knew"
answers_check nocountry 1
stop
}

# ONLY="case ..." runs some of them.
for c in ${ONLY:-known extra short release settle nocountry}; do
	"case_$c"
done
finish
