#!/usr/bin/env bash
# Every fault of respawn-lab's admin API: latency (fixed and distributed),
# errors with chosen statuses at a rate, 429 with Retry-After in seconds
# and as an HTTP date, hangs past the client's timeout, "commit then drop
# the response", malformed JSON, revoking an allocated IP, changing a
# country's inventory, and the clock.
. "$2/lab/testlib.sh"

lab_start lab --seed 11 --ping-ms 100

fault() {
	admin POST /lab/faults "$1" >/dev/null || fail "adding fault $1"
}
took() {	# curl args -> seconds as a decimal
	curl -s -o /dev/null -w '%{time_total}' -H "$KEY" "$@" || true
}
ge() {	# a b: a >= b for decimals
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# Bad rules are refused with a reason.
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"kind":"nope"}' "$API/lab/faults")" \
    "unknown fault kind: 400"
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"kind":"error","statuses":[200]}' "$API/lab/faults")" \
    "error status outside 400..599: 400"

# Latency, fixed.
fault '{"endpoint":"GET /zone/ips","kind":"latency","ms":400,"count":1}'
t=$(took "$API/zone/ips?zone=isp_lab")
ge "$t" 0.38 || fail "fixed latency: $t s"
pass "fixed latency 400 ms ($t s)"
t=$(took "$API/zone/ips?zone=isp_lab")
ge 0.3 "$t" || fail "latency should have been used up: $t s"
pass "count limits a fault"

# Latency, distributed: uniform between 200 and 300 ms, exponential capped.
fault '{"endpoint":"GET /status","kind":"latency","dist":"uniform","ms":200,"max_ms":300,"count":3}'
for i in 1 2 3; do
	t=$(took "$API/status")
	ge "$t" 0.19 && ge 0.9 "$t" || fail "uniform latency: $t s"
done
pass "uniform latency within 200..300 ms"
fault '{"endpoint":"GET /status","kind":"latency","dist":"exponential","ms":50,"max_ms":150,"count":5}'
for i in 1 2 3 4 5; do
	t=$(took "$API/status")
	ge 0.8 "$t" || fail "exponential latency above its cap: $t s"
done
pass "exponential latency capped"
expect_eq 5 "$(admin GET /lab/faults | jq '.faults[-1].fired')" "fault fired count"
admin DELETE /lab/faults >/dev/null
expect_eq 0 "$(admin GET /lab/faults | jq '.faults | length')" "DELETE /lab/faults clears"

# Errors with chosen statuses, always and at a rate.
fault '{"endpoint":"* /zone/ips","kind":"error","statuses":[500,503],"count":6}'
for i in 1 2 3 4 5 6; do
	api GET '/zone/ips?zone=isp_lab' >/dev/null
	case $(status) in 500|503) ;; *) fail "error status $(status)" ;; esac
done
pass "error with statuses 500/503"
api GET '/zone/ips?zone=isp_lab' >/dev/null
expect_eq 200 "$(status)" "back to normal after count"
fault '{"endpoint":"GET /status","kind":"error","status":502,"rate":0.3}'
errors=0
for i in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$KEY" "$API/status")" = 502 ] &&
	    errors=$((errors + 1))
done
[ "$errors" -ge 15 ] && [ "$errors" -le 45 ] || fail "error rate 0.3 gave $errors/100"
pass "error rate 0.3 gave $errors/100"
admin DELETE /lab/faults >/dev/null

# 429 with Retry-After in seconds, then as an HTTP date.
fault '{"endpoint":"POST /zone/ips","kind":"rate_limit","retry_after":7,"count":1}'
curl -s -D "$T/h" -o /dev/null -H "$KEY" -X POST --data '{"customer":"c_lab","zone":"isp_lab","count":1}' \
    "$API/zone/ips"
grep -q "^HTTP/1.1 429" "$T/h" || fail "429 status"
expect_eq 7 "$(grep -i '^Retry-After:' "$T/h" | tr -d '\r' | awk '{print $2}')" "Retry-After seconds"
grep -qi "^x-brd-error-code: client_10110" "$T/h" || fail "x-brd-error-code"
pass "x-brd-error-code client_10110"
fault '{"endpoint":"POST /zone/ips","kind":"rate_limit","retry_after":120,"retry_as_date":true,"count":1}'
curl -s -D "$T/h" -o /dev/null -H "$KEY" -X POST --data '{"customer":"c_lab","zone":"isp_lab","count":1}' \
    "$API/zone/ips"
date_hdr=$(grep -i '^Retry-After:' "$T/h" | tr -d '\r' | cut -d' ' -f2-)
[[ $date_hdr =~ ^[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ GMT$ ]] ||
    fail "Retry-After date: '$date_hdr'"
lab_s=$(( $(admin GET /lab/clock | jq .now_ms) / 1000 ))
diff=$(( $(date -u -d "$date_hdr" +%s) - lab_s ))
[ "$diff" -ge 115 ] && [ "$diff" -le 121 ] || fail "Retry-After date is $diff s ahead"
pass "Retry-After as an HTTP date, 120 s ahead"
expect_eq 0 "$(api GET '/zone/ips?zone=isp_lab' | jq '.ips | length')" "429s allocated nothing"

# A hang outlives the client's timeout; the next request is served.
fault '{"endpoint":"GET /zone/ips","kind":"hang","ms":5000,"count":1}'
rc=0
curl -s --max-time 1 -H "$KEY" "$API/zone/ips?zone=isp_lab" >/dev/null || rc=$?
expect_eq 28 "$rc" "hang: the client times out"
api GET '/zone/ips?zone=isp_lab' >/dev/null
expect_eq 200 "$(status)" "served after the hang"

# Commit then drop: the purchase happens but the answer never comes.
fault '{"endpoint":"POST /zone/ips","kind":"commit_drop","count":1}'
rc=0
curl -s -H "$KEY" -X POST --data '{"customer":"c_lab","zone":"isp_lab","count":2,"country":"nl"}' \
    "$API/zone/ips" >/dev/null || rc=$?
expect_eq 52 "$rc" "commit_drop: empty reply"
expect_eq '{"nl":2}' "$(api GET '/zone/ips?zone=isp_lab&ip_per_country=true' | jq -c .)" \
    "commit_drop: the purchase was committed"

# Malformed JSON.
fault '{"endpoint":"GET /zone/ips","kind":"malformed_json","count":1}'
body=$(api GET '/zone/ips?zone=isp_lab')
expect_eq 200 "$(status)" "malformed_json keeps 200"
jq . <<<"$body" >/dev/null 2>&1 && fail "body should not parse: $body"
pass "malformed_json body does not parse"
admin DELETE /lab/faults >/dev/null

# Revoking an allocated IP closes its tunnels and refuses it afterwards.
ip=$(allocate de)
"$NOTIFY_BIN" "$T/notify.sock" "$T/notify.out" &
STARTED_PIDS+=($!)
wait_for 5 test -S "$T/notify.sock" || fail "notify receiver"
run_connector() {
	env RESPAWN_PHONE=+33612345678 RESPAWN_SESSION_DIR="$T/session" \
	    RESPAWN_PROXY_URL="http://brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw@127.0.0.1:$LAB_PROXY_PORT" \
	    RESPAWN_LAB_WA_ADDR="127.0.0.1:$LAB_WA_PORT" NOTIFY_SOCKET="$T/notify.sock" \
	    "$CONNECTOR_BIN" 2>>"$T/connector.log" &
	CPID=$!
	STARTED_PIDS+=($CPID)
}
run_connector
wait_for 10 sh -c "curl -sf $API/lab/wa | jq -e '.phones[\"+33612345678\"].connected' >/dev/null" ||
    fail "connector connected"
out=$(admin POST /lab/ips/revoke "{\"zone\":\"isp_lab\",\"ip\":\"$ip\"}")
expect_eq 1 "$(jq .tunnels_closed <<<"$out")" "revoke closed the live tunnel"
rc=0; wait "$CPID" || rc=$?
expect_eq 1 "$rc" "connector lost its connection"
run_connector
rc=0; wait "$CPID" || rc=$?
expect_eq 75 "$rc" "reconnecting through a revoked IP: exit 75"
api GET '/zone/ips?zone=isp_lab' | jq -e --arg ip "$ip" '[.ips[].ip] | index($ip) == null' >/dev/null ||
    fail "revoked IP still listed"
pass "revoked IP no longer listed"
admin GET /lab/ledger | jq -e --arg ip "$ip" '.allocations[] | select(.ip == $ip) | .released_at != null' >/dev/null ||
    fail "revoked IP still billed"
pass "revoked IP stops accruing"
expect_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"zone\":\"isp_lab\",\"ip\":\"$ip\"}" \
    "$API/lab/ips/revoke")" "revoking twice: 404"

# Changing a country's inventory.
admin POST /lab/inventory '{"country":"de","count":0}' >/dev/null
expect_eq 0 "$(api GET '/zone/count_available_ips?plan=%7B%22country%22%3A%22de%22%7D' | jq .count)" \
    "de sold out"
api POST /zone/ips '{"customer":"c_lab","zone":"isp_lab","count":1,"country":"de"}' >/dev/null
expect_eq 400 "$(status)" "buying in a sold-out country: 400"
admin POST /lab/inventory '{"be":3,"de":100}' >/dev/null
expect_eq 3 "$(api GET '/zone/count_available_ips?plan=%7B%22country%22%3A%22be%22%7D' | jq .count)" \
    "be restocked"
[[ $(allocate be) == 127.* ]] || fail "buying in be"
pass "buying in a restocked country"
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"country":"DE","count":1}' \
    "$API/lab/inventory")" "bad inventory change: 400"

# The clock: set, advance, speed.
admin POST /lab/clock '{"set":"2030-01-01T00:00:00Z","speed":1}' >/dev/null
now=$(admin GET /lab/clock | jq .now_ms)
[ "$now" -ge 1893456000000 ] && [ "$now" -lt 1893456060000 ] || fail "clock set: $now"
pass "clock set to 2030-01-01"
admin POST /lab/clock '{"advance_ms":86400000}' >/dev/null
now2=$(admin GET /lab/clock | jq .now_ms)
[ $((now2 - now)) -ge 86400000 ] || fail "clock advance"
pass "clock advanced one day"
admin POST /lab/clock '{"speed":3600}' >/dev/null
a=$(admin GET /lab/clock | jq .now_ms); sleep 0.5; b=$(admin GET /lab/clock | jq .now_ms)
[ $((b - a)) -ge 1500000 ] || fail "clock speed: $((b - a)) ms in 0.5 s"
pass "clock at 3600x"
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"speed":0}' "$API/lab/clock")" \
    "bad clock speed: 400"

lab_stop
echo "PASS"
