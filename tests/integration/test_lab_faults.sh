#!/usr/bin/env bash
# Every fault of respawn-lab's admin API: latency (fixed and distributed),
# errors with chosen statuses at a rate, 429 with Retry-After in seconds
# and as an HTTP date, hangs past the client's timeout, "commit then drop
# the response", malformed JSON, untruthful answers (known, extra, short
# and other IPs, no country) checked against the ledger, a listing
# delayed past a purchase, phones sharing an IP at the WhatsApp stand-in,
# revoking an allocated IP, changing a country's inventory, and the clock.
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

# Untruthful answers.  Each purchase or release below is checked against
# the ledger, which records what really happened.
allocs() {	# allocations ever made
	admin GET /lab/ledger | jq '.allocations | length'
}
held() {	# allocations not released
	admin GET /lab/ledger | jq '[.allocations[] | select(.released_at == null)] | length'
}
zone_ips() {	# the zone's IPs, sorted, as a JSON array
	api GET '/zone/ips?zone=isp_lab' | jq -c '[.ips[].ip] | sort'
}
buy() {	# COUNT CC: the purchase's answer
	api POST /zone/ips "{\"customer\":\"c_lab\",\"zone\":\"isp_lab\",\"count\":$1,\"country\":\"$2\"}"
}
injected() {	# KIND: the lab logged the answer fault
	grep -q "fault.injected.*answer=$1" "$T/lab.log" || fail "fault.injected answer=$1 not logged"
	pass "fault.injected answer=$1 logged"
}

# The new kinds and their fields are shown; bad fields are refused.
fault '[{"endpoint":"POST /zone/ips","kind":"known_ips","extra":0,"count":1},
	{"kind":"extra_ips","count":1},{"kind":"short_ips","fewer":3,"count":1},
	{"kind":"other_ips","count":1},{"kind":"no_country","count":1}]'
expect_eq '[["known_ips",0,null],["extra_ips",1,null],["short_ips",null,3],["other_ips",null,null],["no_country",null,null]]' \
    "$(admin GET /lab/faults | jq -c '[.faults[] | [.kind, .extra, .fewer]]')" "GET /lab/faults shows the answer kinds"
admin DELETE /lab/faults >/dev/null
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"kind":"extra_ips","extra":1001}' "$API/lab/faults")" \
    "extra above 1000: 400"
expect_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"kind":"short_ips","fewer":-1}' "$API/lab/faults")" \
    "negative fewer: 400"

# known_ips: two fr IPs are bought and billed, but the answer names
# count + extra = 3 IPs the zone already had; it has only the 2 nl ones.
before=$(zone_ips)
n0=$(allocs)
fault '{"kind":"known_ips","count":1}'
out=$(buy 2 fr)
expect_eq 200 "$(status)" "known_ips: 200"
expect_eq 2 $(( $(allocs) - n0 )) "known_ips: the ledger has the 2 new allocations"
expect_eq "$before" "$(jq -c '.new_ips | sort' <<<"$out")" "known_ips: new_ips names the IPs held before"
after=$(zone_ips)
expect_eq 4 "$(jq length <<<"$after")" "known_ips: the zone has 4 IPs"
expect_eq "$after" "$(jq -c '.ips | sort' <<<"$out")" "known_ips: ips stays truthful"
expect_eq 1 "$(admin GET /lab/faults | jq '.faults[0].fired')" "known_ips fired once"
injected known_ips
# With more IPs held than named, the most recent ones are named: the fr pair.
fr=$(jq -c --argjson b "$before" '.ips - $b | sort' <<<"$out")
fault '{"kind":"known_ips","extra":1,"count":1}'
out=$(buy 1 fr)
expect_eq "$fr" "$(jq -c '.new_ips | sort' <<<"$out")" "known_ips: names the 2 most recently bought IPs"
admin DELETE /lab/faults >/dev/null

# extra_ips: one gb IP asked, three bought, billed and named.
n0=$(allocs)
fault '{"kind":"extra_ips","extra":2,"count":1}'
out=$(buy 1 gb)
expect_eq 200 "$(status)" "extra_ips: 200"
expect_eq 3 "$(jq '.new_ips | length' <<<"$out")" "extra_ips: 3 IPs named"
expect_eq 3 $(( $(allocs) - n0 )) "extra_ips: the ledger has 3 new allocations"
expect_eq "$(admin GET /lab/ledger | jq -c '[.allocations[-3:][] | .ip] | sort')" \
    "$(jq -c '.new_ips | sort' <<<"$out")" "extra_ips: the named IPs are the billed ones"
expect_eq '["gb","gb","gb"]' "$(admin GET /lab/ledger | jq -c '[.allocations[-3:][] | .country]')" \
    "extra_ips: all of the asked country"
injected extra_ips
# With 2 left in eg, the extras are what the stock allows.
admin POST /lab/inventory '{"eg":2}' >/dev/null
n0=$(allocs)
fault '{"kind":"extra_ips","extra":5,"count":1}'
out=$(buy 1 eg)
expect_eq 2 "$(jq '.new_ips | length' <<<"$out")" "extra_ips: short stock, 1 extra named"
expect_eq 2 $(( $(allocs) - n0 )) "extra_ips: short stock, 2 allocations"
expect_eq 0 "$(api GET '/zone/count_available_ips?plan=%7B%22country%22%3A%22eg%22%7D' | jq .count)" \
    "extra_ips: eg sold out"

# short_ips: 3 asked, 2 bought; 2 asked with fewer 5, a 200 naming none.
n0=$(allocs)
fault '{"kind":"short_ips","count":1}'
out=$(buy 3 fr)
expect_eq 200 "$(status)" "short_ips: 200"
expect_eq 2 "$(jq '.new_ips | length' <<<"$out")" "short_ips: 2 IPs named"
expect_eq 2 $(( $(allocs) - n0 )) "short_ips: the ledger has 2 new allocations"
expect_eq "$(admin GET /lab/ledger | jq -c '[.allocations[-2:][] | .ip] | sort')" \
    "$(jq -c '.new_ips | sort' <<<"$out")" "short_ips: the named IPs are the billed ones"
injected short_ips
n0=$(allocs)
fault '{"kind":"short_ips","fewer":5,"count":1}'
out=$(buy 2 fr)
expect_eq 200 "$(status)" "short_ips to none: 200"
expect_eq '[]' "$(jq -c .new_ips <<<"$out")" "short_ips to none: new_ips empty"
expect_eq 0 $(( $(allocs) - n0 )) "short_ips to none: nothing billed"

# other_ips: nothing released, the answer names other IPs of the zone.
all=$(zone_ips)
asked=$(jq -c '.[:2]' <<<"$all")
h0=$(held)
fault '{"kind":"other_ips","count":1}'
out=$(api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":$asked}")
expect_eq 200 "$(status)" "other_ips: 200"
expect_eq "$h0" "$(held)" "other_ips: the ledger shows nothing released"
expect_eq "$all" "$(zone_ips)" "other_ips: the zone keeps its IPs"
expect_eq 2 "$(jq '.ips | length' <<<"$out")" "other_ips: as many IPs named as asked"
jq -e --argjson a "$asked" --argjson z "$all" \
    'all(.ips[]; . as $ip | ($a | index([$ip])) == null and ($z | index([$ip])) != null)' <<<"$out" >/dev/null ||
    fail "other_ips: named IPs must be the zone's and not the asked ones: $out"
pass "other_ips: names other IPs of the zone"
injected other_ips
fault '{"kind":"other_ips","count":1}'
expect_eq '[]' "$(api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":$all}" | jq -c .ips)" \
    "other_ips: none left to name, an empty list"
expect_eq "$h0" "$(held)" "other_ips: still nothing released"

# no_country: every entry of the listing has an empty country.
fault '{"kind":"no_country","count":1}'
out=$(api GET '/zone/ips?zone=isp_lab')
expect_eq "$(jq length <<<"$all")" "$(jq '.ips | length' <<<"$out")" "no_country: the whole listing"
expect_eq '[""]' "$(jq -c '[.ips[].maxmind] | unique' <<<"$out")" "no_country: maxmind empty"
injected no_country
expect_eq false "$(api GET '/zone/ips?zone=isp_lab' | jq '[.ips[].maxmind] | any(. == "")')" \
    "no_country used up: countries back"

# A listing delayed by latency shows the zone as it was when asked: here a
# purchase made during the delay is missing from it.
fault '{"endpoint":"GET /zone/ips","kind":"latency","ms":1500,"count":1}'
curl -s -H "$KEY" "$API/zone/ips?zone=isp_lab" >"$T/late.json" &
late=$!
wait_for 5 sh -c "curl -sf $API/lab/faults | jq -e '.faults[0].fired == 1'" || fail "delayed listing asked"
new=$(allocate fr)
wait "$late" || fail "delayed listing"
jq -e --arg ip "$new" '[.ips[].ip] | index([$ip]) == null' "$T/late.json" >/dev/null ||
    fail "the delayed listing names an IP bought after it was asked"
pass "a listing delayed past a purchase does not name the new IP"
admin DELETE /lab/faults >/dev/null

# known_ips on an empty zone names the real new IPs.
api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":$(zone_ips)}" >/dev/null
expect_eq 0 "$(held)" "every IP released"
fault '{"kind":"known_ips","count":1}'
out=$(buy 1 fr)
expect_eq "$(zone_ips)" "$(jq -c '.new_ips' <<<"$out")" "known_ips on an empty zone: the real new IP"
api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":$(zone_ips)}" >/dev/null
admin DELETE /lab/faults >/dev/null

# IP sharing at the WhatsApp stand-in: a second phone connecting through an
# IP another phone is connected from is counted once.
ip=$(allocate fr)
share_connector() {	# PHONE: through $ip, PID in $CPID
	env RESPAWN_PHONE="$1" RESPAWN_SESSION_DIR="$T/share$1" \
	    RESPAWN_PROXY_URL="http://brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw@127.0.0.1:$LAB_PROXY_PORT" \
	    RESPAWN_LAB_WA_ADDR="127.0.0.1:$LAB_WA_PORT" "$CONNECTOR_BIN" 2>>"$T/connector.log" &
	CPID=$!
	STARTED_PIDS+=($CPID)
}
phone_connected() {	# PHONE
	curl -sf "$API/lab/wa" | jq -e --arg p "$1" '.phones[$p].connected' >/dev/null
}
shares0=$(admin GET /lab/wa | jq .ip_shares)
share_connector +33611110001
s1=$CPID
wait_for 10 phone_connected +33611110001 || fail "first sharing phone connected"
expect_eq "$shares0" "$(admin GET /lab/wa | jq .ip_shares)" "one phone on the IP: no sharing"
share_connector +33611110002
s2=$CPID
wait_for 10 phone_connected +33611110002 || fail "second sharing phone connected"
expect_eq $((shares0 + 1)) "$(admin GET /lab/wa | jq .ip_shares)" "two phones on one IP: ip_shares rises by 1"
expect_eq "0 1" "$(admin GET /lab/wa | jq -r '[.phones["+33611110001","+33611110002"].ip_shared] | "\(.[0]) \(.[1])"')" \
    "ip_shared counts the phone that joined"
grep -q "wa.ip_shared phone=+33611110002 ip=$ip others=1" "$T/lab.log" || fail "wa.ip_shared not logged"
pass "wa.ip_shared logged"
kill -TERM "$s1" "$s2"
wait "$s1" "$s2" || fail "sharing connectors stopped"
api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":[\"$ip\"]}" >/dev/null

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
