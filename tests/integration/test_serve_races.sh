#!/usr/bin/env bash
# Races of the daemon with its own listing, its store and its past
# (docs/PROXIES.md, "How each race is closed"), each judged at the lab:
#
#   4. a listing asked for before a purchase and applied after it does
#      not mark the bought IP lost (a host crash then brings the phone
#      back on it, nothing bought again);
#   5. a lost proxy the provider lists again is usable again;
#   7. a purchase whose intent could not be written is tried again soon,
#      not at the next reconciliation minutes later;
#   9. an IP a phone's connector refused is never offered to that phone
#      again, across restarts;
#  10. a session stopped while no daemon ran does not keep its IP: the
#      next session of its country takes it instead of buying.
#
# test_serve_answers.sh has the untrusted answers (1, 2, 3, 6, 8).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crashlib.sh"
. "$(dirname "$0")/answerlib.sh"

lab_start --ping-ms 500
serve_env_bd
export BRIGHT_DATA_TIMEOUT=3s

# --- 4. a listing older than a purchase ---------------------------------
case_late() {
	scenario late
	start
	# A us purchase whose answer is lost has a listing asked for at once;
	# it is taken then and answered 6 s later, after the de purchase.
	lab_fault '{"endpoint":"POST /zone/ips","kind":"commit_drop","count":1}'
	lab_fault '{"endpoint":"GET /zone/ips","kind":"latency","ms":6000,"count":1}'
	add +14155550401 us
	wait_for 10 grep -q 'event=purchase.unknown' "$SERVE_LOG" ||
	    not_ok "late: the us purchase's answer was not lost"
	add +4915100000401 de
	wait_for 15 grep -q 'event=purchase.done country=de' "$SERVE_LOG" ||
	    not_ok "late: the de purchase did not complete"
	de_ip=$(sqlite3 "$RESPAWN_DB" "SELECT ip FROM proxies WHERE country = 'de' AND state <> 'released'")
	# The old listing is applied now.
	wait_for 15 grep -q 'event=reconcile.done' "$SERVE_LOG" ||
	    not_ok "late: the delayed listing was not applied"
	if wait_for 30 all_ready 2; then ok "late: both ready"
	else not_ok "late: not ready: $("$RESPAWN" session ls)"; fi
	expect_eq "$(state_of_ip "$de_ip")" active \
	    "late: the listing older than the purchase did not mark its IP lost"
	crash
	start
	if wait_for 30 all_ready 2; then ok "late: both ready after a host crash"
	else not_ok "late: not ready after the crash: $("$RESPAWN" session ls)"; fi
	expect_eq "$(ip_of +4915100000401)" "$de_ip" "late: the de phone is back on its IP"
	expect_eq "$(grep -c 'event=purchase.start' "$SERVE_LOG")" 0 \
	    "late: nothing bought after the crash"
	answers_check late 2
	stop
}

# --- 5. a lost proxy listed again ---------------------------------------
case_found() {
	scenario found
	add +4915100000501 de
	start
	wait_for 30 all_ready 1 || not_ok "found: not ready"
	ip=$(ip_of +4915100000501)
	stop
	sqlite3 "$RESPAWN_DB" "UPDATE proxies SET state = 'lost' WHERE ip = '$ip'"
	start
	if wait_for 30 all_ready 1; then ok "found: ready again"
	else not_ok "found: not ready: $("$RESPAWN" session ls)"; fi
	expect_in "$(cat "$SERVE_LOG")" "event=proxy.found proxy=$ip" \
	    "found: the lost proxy the provider lists is found again"
	expect_eq "$(ip_of +4915100000501)" "$ip" "found: the phone is back on it"
	answers_check found 1
	stop
}

# --- 7. an intent the store did not take --------------------------------
case_intent() {
	scenario intent
	export RESPAWN_FAILPOINT_FILE="$T/intent.faults"
	echo "store.intent=fail" >"$RESPAWN_FAILPOINT_FILE"
	start
	add +4915100000701 de
	wait_for 15 grep -q 'event=store.intent_failed' "$SERVE_LOG" ||
	    not_ok "intent: the intent write did not fail"
	sleep 2
	rm -f "$RESPAWN_FAILPOINT_FILE"
	if wait_for 15 all_ready 1; then ok "intent: ready soon after the store took writes again"
	else not_ok "intent: still waiting: $("$RESPAWN" session ls)"; fi
	unset RESPAWN_FAILPOINT_FILE
	answers_check intent 1
	stop
}

# --- 9. refused IPs, across a restart -----------------------------------
block() {
	curl -s -X POST -H 'Content-Type: application/json' \
	    --data "{\"ip\":\"$1\",\"blocked\":$2}" "$LAB_API/lab/wa/ip" >/dev/null
}
case_refused() {
	local p=+4915100000901 ip1 ip2 ip3
	scenario refused
	add "$p" de
	start
	wait_for 30 all_ready 1 || not_ok "refused: not ready"
	ip1=$(ip_of "$p")
	block "$ip1" true
	wait_for 15 grep -q "event=proxy.refused.*phone=$p proxy=$ip1" "$SERVE_LOG" ||
	    not_ok "refused: $ip1 was not refused"
	block "$ip1" false
	wait_for 30 sh -c "[ \"\$(curl -s '$LAB_API/lab/wa' | jq -r '.phones[\"$p\"].ip')\" != '$ip1' ] &&
	    [ \"\$(curl -s '$LAB_API/lab/wa' | jq -r '.phones[\"$p\"].connected')\" = true ]" ||
	    not_ok "refused: the phone is not on another IP"
	ip2=$(ip_of "$p")
	stop
	start
	wait_for 30 all_ready 1 || not_ok "refused: not ready after the restart"
	expect_eq "$(ip_of "$p")" "$ip2" "refused: back on $ip2 after the restart"
	# The phone needs another IP now; the one it refused before is idle.
	block "$ip2" true
	wait_for 15 grep -q "event=proxy.refused.*phone=$p proxy=$ip2" "$SERVE_LOG" ||
	    not_ok "refused: $ip2 was not refused"
	block "$ip2" false
	if wait_for 30 sh -c "ip=\$(curl -s '$LAB_API/lab/wa' | jq -r '.phones[\"$p\"].ip');
	    [ \"\$ip\" != '$ip2' ] && [ \"\$(curl -s '$LAB_API/lab/wa' | jq -r '.phones[\"$p\"].connected')\" = true ]"; then
		ip3=$(ip_of "$p")
		[ "$ip3" != "$ip1" ] && ok "refused: not given $ip1, which it refused before the restart" ||
		    not_ok "refused: given $ip1 again, which it refused before the restart"
	else
		not_ok "refused: the phone is not back"
	fi
	expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM refused_ips WHERE phone = '$p'")" 2 \
	    "refused: the store keeps both refusals"
	answers_check refused 3
	stop
}

# --- 10. stopped while no daemon ran ------------------------------------
case_stopped() {
	scenario stopped
	add +4915100001001 de
	start
	wait_for 30 all_ready 1 || not_ok "stopped: not ready"
	ip=$(ip_of +4915100001001)
	stop
	"$RESPAWN" session stop +4915100001001 >/dev/null
	add +4915100001002 de
	start
	if wait_for 30 all_ready 1; then ok "stopped: the new session is ready"
	else not_ok "stopped: not ready: $("$RESPAWN" session ls)"; fi
	expect_eq "$(ip_of +4915100001002)" "$ip" \
	    "stopped: the new session took the IP of the one stopped while down"
	expect_eq "$(grep -c 'event=purchase.start' "$SERVE_LOG")" 0 "stopped: nothing bought"
	answers_check stopped 1
	stop
}

# ONLY="case ..." runs some of them.
for c in ${ONLY:-late found intent refused stopped}; do
	"case_$c"
done
finish
