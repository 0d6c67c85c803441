#!/usr/bin/env bash
# The Bright Data client (src/provider/bdclient.c) against respawn-lab, through the
# driver program tests/bdclient_driver.c: list, buy, release and count;
# 429 with Retry-After in seconds and as an HTTP date (on reads and on a
# purchase); a 5xx storm that opens the circuit breaker, after which no
# request goes out until the cool-down; purchases waiting for a
# connection behind held requests, not sent once the breaker opened; a
# purchase whose answer is dropped after it was committed (UNKNOWN,
# exactly one allocation, no repeat), 5xx and timeouts on purchases and
# releases; malformed JSON; refusals; cancellation; a rotated API key read
# again after a 401.
# Counting fault rules at the lab prove every request was a documented
# METHOD and path; the lab's own logs and checks show the fields.
. "$2/lab/testlib.sh"

DRIVER=$BUILD_DIR/tests/bdclient_driver
[ -x "$DRIVER" ] || fail "driver not built: $DRIVER"
export BD_KEY=lab-api-key

lab_start lab --seed 5

# drv ARGS...: runs the driver against the lab; its lines go to $T/out.
drv() {
	"$DRIVER" --url "$API" --key env:BD_KEY "$@" >"$T/out" \
	    2>>"$T/driver.log" || fail "driver exited $?: $*"
	cat "$T/out" >>"$T/all.out"
}
# line N [JQ]: field(s) of the N-th output line.
line() {
	sed -n "${1}p" "$T/out" | jq -r "${2:-.}"
}
fault() {
	admin POST /lab/faults "$1" >/dev/null || fail "adding fault $1"
}
# Rule 0 counts every API request, rules 1-4 the documented calls the
# client makes; injected faults follow from index 5.
counters_reset() {
	admin DELETE /lab/faults >/dev/null
	admin POST /lab/faults '[
	    {"endpoint":"*","kind":"latency","ms":0},
	    {"endpoint":"GET /zone/ips","kind":"latency","ms":0},
	    {"endpoint":"POST /zone/ips","kind":"latency","ms":0},
	    {"endpoint":"DELETE /zone/ips","kind":"latency","ms":0},
	    {"endpoint":"GET /zone/count_available_ips","kind":"latency","ms":0}
	]' >/dev/null || fail "counting rules"
}
fired() {	# rule index
	admin GET /lab/faults | jq ".faults[$1].fired"
}
# Every request since counters_reset was one of the documented calls.
documented_only() {
	local f
	f=$(admin GET /lab/faults)
	expect_eq "$(jq '.faults[0].fired' <<<"$f")" \
	    "$(jq '[.faults[1:5][].fired] | add' <<<"$f")" \
	    "$1: only documented METHOD /path requests"
}
expect_in() {	# haystack needle what
	case "$1" in
	*"$2"*) pass "$3" ;;
	*) fail "$3: '$2' not in '$1'" ;;
	esac
}
ge() {	# a b: a >= b
	[ "$1" -ge "$2" ] || fail "$3: $1 < $2"
	pass "$3 ($1 >= $2)"
}
# tally OP JQ: how many OP lines $T/out has, and JQ's distinct values.
tally() {
	jq -sr --arg op "$1" '[.[] | select(.op == $op)] |
	    "\(length) \([.[] | '"$2"'] | unique)"' "$T/out"
}
allocs() {	# allocations in the lab's ledger, ever
	admin GET /lab/ledger | jq '.allocations | length'
}
per_country() {	# CC: the zone's IPs in that country
	api GET '/zone/ips?zone=isp_lab&ip_per_country=true' | jq ".$1 // 0"
}
FAST=(--backoff-base-ms 20 --backoff-cap-ms 50)

# --- Happy paths -----------------------------------------------------------
counters_reset
drv list + add DE 2 + list + count de + count + status
expect_eq "ok 0" "$(line 1 '"\(.status) \(.ips | length)"')" "list of an empty zone"
expect_eq "ok 200 1 2" "$(line 2 '"\(.status) \(.http_status) \(.attempts) \(.ips | length)"')" \
    "add: two IPs bought"
expect_eq "de de" "$(line 2 '[.ips[].country] | join(" ")')" "add: the country asked for"
bought=$(line 2 '[.ips[].ip] | sort | join(" ")')
expect_eq "$bought" "$(line 3 '[.ips[].ip] | sort | join(" ")')" "list shows what was bought"
expect_eq "de de" "$(line 3 '[.ips[].country] | join(" ")')" "list: countries from maxmind"
count_de=$(line 4 .count)
count_zone=$(line 5 .count)
expect_eq "closed 5 0" "$(line 6 '"\(.breaker) \(.requests) \(.retries)"')" "status"
grep -q 'api.allocated zone=isp_lab country=de count=2' "$T/lab.log" ||
    fail "the lab saw zone, country and count"
pass "the lab saw customer, zone, count and country"
# shellcheck disable=SC2086
drv remove $bought + list
expect_eq "ok $bought" "$(line 1 '"\(.status) \([.ips[].ip] | sort | join(" "))"')" \
    "remove: the IPs released"
expect_eq 0 "$(line 2 '.ips | length')" "zone empty again"
grep -q 'api.released zone=isp_lab count=2' "$T/lab.log" || fail "lab release"
pass "the lab released both"
expect_eq "3 1 1 2" "$(admin GET /lab/faults | jq -r '[.faults[1:5][].fired] | join(" ")')" \
    "one request per call: 3 lists, 1 purchase, 1 release, 2 counts"
documented_only "happy paths"
# Checked with curl after counting, as it adds requests of its own.
expect_eq "$(api GET '/zone/count_available_ips?plan=%7B%22country%22%3A%22de%22%7D' | jq .count)" \
    $((count_de + 2)) "count for de (before the release of two)"
expect_eq "$(api GET '/zone/count_available_ips?zone=isp_lab' | jq .count)" \
    $((count_zone + 2)) "count for the zone"

# --- 429 with Retry-After ----------------------------------------------------
counters_reset
fault '{"endpoint":"GET /zone/ips","kind":"rate_limit","retry_after":2,"count":1}'
drv list
expect_eq "ok 2" "$(line 1 '"\(.status) \(.attempts)"')" "429 (seconds) then success"
ge "$(line 1 .elapsed_ms)" 2000 "waited the Retry-After of 2 s"
grep -q 'bdclient.retry.*status=429.*retry_after_ms=2000' "$T/driver.log" ||
    fail "retry logged with its Retry-After"
pass "retry logged with retry_after_ms=2000"
fault '{"endpoint":"GET /zone/ips","kind":"rate_limit","retry_after":3,"retry_as_date":true,"count":1}'
drv list
expect_eq "ok 2" "$(line 1 '"\(.status) \(.attempts)"')" "429 (HTTP date) then success"
# The date has whole seconds: 3 s ahead of the lab's clock is 2-3 s ahead.
ge "$(line 1 .elapsed_ms)" 1900 "waited until the Retry-After date"
nl_before=$(per_country nl)
fault '{"endpoint":"POST /zone/ips","kind":"rate_limit","retry_after":1,"count":1}'
drv add nl 1
expect_eq "ok 2 1" "$(line 1 '"\(.status) \(.attempts) \(.ips | length)"')" \
    "a 429 on a purchase is retried (nothing happened)"
ge "$(line 1 .elapsed_ms)" 1000 "the purchase waited its Retry-After"
expect_eq $((nl_before + 1)) "$(per_country nl)" "exactly one IP bought"
expect_eq 2 "$(fired 2)" "two POST /zone/ips: the 429 and the purchase"
fault '{"endpoint":"GET /zone/ips","kind":"rate_limit","retry_after":1}'
drv --attempts 3 list
expect_eq "failed -11 3" "$(line 1 '"\(.status) \(.error) \(.attempts)"')" \
    "429 until the attempts run out: FAILED, -EAGAIN"
documented_only "429"

# --- A 5xx storm opens the breaker ---------------------------------------------
counters_reset
fault '{"endpoint":"GET /zone/ips","kind":"error","status":503}'
drv "${FAST[@]}" --attempts 2 --breaker-threshold 3 --breaker-cooldown-ms 1500 \
    list + list + status + list + list + status + sleep 1700 + list + status
expect_eq "failed 503 2 -5" "$(line 1 '"\(.status) \(.http_status) \(.attempts) \(.error)"')" \
    "503 twice: FAILED"
expect_eq "failed 1 -112" "$(line 2 '"\(.status) \(.attempts) \(.error)"')" \
    "third 503 opens the breaker; the retry is not sent"
expect_in "$(line 2 .message)" "circuit breaker open" "message says the breaker is open"
expect_eq "open 1 3" "$(line 3 '"\(.breaker) \(.trips) \(.requests)"')" "breaker open after 3 failures"
expect_eq "failed 0 -112" "$(line 4 '"\(.status) \(.attempts) \(.error)"')" "while open: nothing sent"
expect_eq "failed 0" "$(line 5 '"\(.status) \(.attempts)"')" "still nothing sent"
expect_eq "open 3" "$(line 6 '"\(.breaker) \(.requests)"')" "no request while open"
expect_eq "failed 1" "$(line 7 '"\(.status) \(.attempts)"')" "after the cool-down one probe goes out"
expect_eq "open 2 4" "$(line 8 '"\(.breaker) \(.trips) \(.requests)"')" "the failed probe opens it again"
expect_eq 4 "$(fired 5)" "the lab saw exactly 4 requests"
documented_only "breaker"

# --- Requests queued for a connection ask the breaker when their turn comes ---
# Eight lists hold every connection (BDCLIENT_CONNECTIONS_MAX) and are
# answered 500 after a second; two more lists, then four purchases, wait
# behind them.  The first two 500s leave the breaker closed and give their
# connections to the two lists; the third opens it, so the purchases, whose
# turn comes after that, must fail unsent.  Queued in curl instead, they
# would go out as the connections freed, breaker or not.
counters_reset
allocs_before=$(allocs)
fault '{"endpoint":"GET /zone/ips","kind":"latency","ms":1000}'
fault '{"endpoint":"GET /zone/ips","kind":"error","status":500}'
ops=()
for _ in 1 2 3 4 5 6 7 8; do ops+=(list '&'); done
# The sleeps keep the order: the lists start first, the purchases last.
ops+=(sleep 200 '&' list '&' list '&' sleep 100)
for _ in 1 2 3 4; do ops+=('&' add de 1); done
ops+=('&' sleep 200 '&' status + status)
drv --attempts 1 --timeout-ms 5000 --breaker-threshold 3 \
    --breaker-cooldown-ms 60000 "${ops[@]}"
expect_eq 0 "$(fired 2)" "no purchase reached the lab"
expect_eq "$allocs_before" "$(allocs)" "nothing bought (ledger)"
expect_eq 10 "$(fired 1)" "the ten lists reached it, two after waiting"
expect_eq '4 ["failed -112 0"]' \
    "$(tally add '"\(.status) \(.error) \(.attempts)"')" \
    "each queued purchase: FAILED, -EHOSTDOWN, never sent"
expect_eq '4 ["POST /zone/ips: circuit breaker open: not sent"]' \
    "$(tally add .message)" "each says the breaker was open"
expect_eq '10 ["failed 500"]' "$(tally list '"\(.status) \(.http_status)"')" \
    "the lists got their 500s"
expect_eq "closed 14 6 8" \
    "$(line 1 '"\(.breaker) \(.pending) \(.queued) \(.requests)"')" \
    "while held: 14 pending, 6 queued for a connection, 8 sent"
expect_eq "open 1 0 0 10" "$(tail -n 1 "$T/out" |
    jq -r '"\(.breaker) \(.trips) \(.pending) \(.queued) \(.requests)"')" \
    "after: breaker open, nothing left, 10 requests"
documented_only "queued behind the breaker"

# --- Purchases and releases whose outcome is unknown -------------------------------
counters_reset
nl_before=$(per_country nl)
# A list first, so a kept-alive connection exists that curl could reuse.
fault '{"endpoint":"POST /zone/ips","kind":"commit_drop","count":1}'
drv list + add nl 2 + status
expect_eq "unknown 1 -104" "$(line 2 '"\(.status) \(.attempts) \(.error)"')" \
    "commit then drop: UNKNOWN"
expect_in "$(line 2 .message)" "settle by listing" "message asks to settle by listing"
expect_eq 1 "$(fired 2)" "the purchase was sent once, never repeated"
expect_eq $((nl_before + 2)) "$(per_country nl)" "exactly one allocation at the lab"
expect_eq 1 "$(line 3 .unknown)" "counted as unknown"
drv list
expect_eq $((nl_before + 2)) "$(line 1 '[.ips[] | select(.country == "nl")] | length')" \
    "listing settles it: the IPs are there"

nl_before=$(per_country nl)
fault '{"endpoint":"POST /zone/ips","kind":"error","status":500,"count":1}'
drv "${FAST[@]}" add nl 1
expect_eq "unknown 500 1" "$(line 1 '"\(.status) \(.http_status) \(.attempts)"')" \
    "500 on a purchase: UNKNOWN, not repeated"
expect_eq "$nl_before" "$(per_country nl)" "nothing bought by the 500"
expect_eq 2 "$(fired 2)" "one more POST, no repeat"

ip=$(api GET '/zone/ips?zone=isp_lab' | jq -r '.ips[0].ip')
fault '{"endpoint":"DELETE /zone/ips","kind":"hang","ms":3000,"count":1}'
drv --timeout-ms 500 remove "$ip"
expect_eq "unknown 0 1 -110" "$(line 1 '"\(.status) \(.http_status) \(.attempts) \(.error)"')" \
    "a release that times out: UNKNOWN, not repeated"
fault '{"endpoint":"DELETE /zone/ips","kind":"error","status":502,"count":1}'
drv "${FAST[@]}" remove "$ip"
expect_eq "unknown 502 1" "$(line 1 '"\(.status) \(.http_status) \(.attempts)"')" \
    "502 on a release: UNKNOWN"
expect_eq 2 "$(fired 3)" "two DELETEs, each sent once"

# Cancelling: a purchase in flight may have left; a read has not happened.
fault '{"endpoint":"POST /zone/ips","kind":"hang","ms":2000,"count":1}'
drv --free-after-ms 300 add de 1
expect_eq "unknown -125" "$(line 1 '"\(.status) \(.error)"')" "cancelled purchase: UNKNOWN, -ECANCELED"
fault '{"endpoint":"GET /zone/ips","kind":"hang","ms":2000,"count":1}'
drv --free-after-ms 300 list
expect_eq "failed -125" "$(line 1 '"\(.status) \(.error)"')" "cancelled list: FAILED, -ECANCELED"
# A purchase still waiting for a connection was never sent: FAILED.
posts=$(fired 2)
fault '{"endpoint":"GET /zone/ips","kind":"hang","ms":2000,"count":8}'
ops=()
for _ in 1 2 3 4 5 6 7 8; do ops+=(list '&'); done
ops+=(sleep 100 '&' add de 1 '&' sleep 100 '&' status)
drv --free-after-ms 400 "${ops[@]}"
expect_eq "9 1" "$(line 1 '"\(.pending) \(.queued)"')" \
    "a purchase waits for a connection"
expect_eq '1 ["failed -125 0"]' \
    "$(tally add '"\(.status) \(.error) \(.attempts)"')" \
    "cancelled while waiting: FAILED, -ECANCELED, never sent"
expect_eq '8 ["failed -125"]' "$(tally list '"\(.status) \(.error)"')" \
    "the held lists cancelled too, each once"
expect_eq "$posts" "$(fired 2)" "the waiting purchase never reached the lab"
documented_only "unknown outcomes"

# --- Malformed answers and refusals ---------------------------------------------------
counters_reset
fr_before=$(per_country fr)
fault '{"endpoint":"POST /zone/ips","kind":"malformed_json","count":1}'
drv add fr 1
expect_eq "unknown 200 1 -74" "$(line 1 '"\(.status) \(.http_status) \(.attempts) \(.error)"')" \
    "malformed answer to a purchase: UNKNOWN"
expect_in "$(line 1 .message)" "malformed answer: malformed JSON" "message says malformed JSON"
expect_eq $((fr_before + 1)) "$(per_country fr)" "the purchase happened once"
fault '{"endpoint":"GET /zone/ips","kind":"malformed_json","count":1}'
drv "${FAST[@]}" list
expect_eq "ok 2" "$(line 1 '"\(.status) \(.attempts)"')" "malformed listing is read again"
fault '{"endpoint":"GET /zone/count_available_ips","kind":"malformed_json","count":5}'
drv "${FAST[@]}" --attempts 2 count de
expect_eq "failed -74 2" "$(line 1 '"\(.status) \(.error) \(.attempts)"')" \
    "malformed count every time: FAILED, -EBADMSG"
drv add be 1
expect_eq "failed 400 -22 1" "$(line 1 '"\(.status) \(.http_status) \(.error) \(.attempts)"')" \
    "no inventory: FAILED at once"
expect_in "$(line 1 .message)" "HTTP 400: Not enough available IPs" "the provider's words in the message"
drv --zone nope list
expect_eq "failed 422 -2" "$(line 1 '"\(.status) \(.http_status) \(.error)"')" "unknown zone: 422"
drv --customer someone_else add de 1
expect_eq "failed 400" "$(line 1 '"\(.status) \(.http_status)"')" "wrong customer: 400"
documented_only "malformed and refused"

# Bad arguments are refused synchronously, never sent.
rc=0
"$DRIVER" --url "$API" --key env:BD_KEY add de 0 >"$T/out" 2>>"$T/driver.log" || rc=$?
expect_eq "1 -22" "$rc $(line 1 .start_error)" "count 0 is refused before sending"
rc=0
"$DRIVER" --url "$API" --key env:BD_KEY remove 1.2.3 >"$T/out" 2>>"$T/driver.log" || rc=$?
expect_eq "1 -22" "$rc $(line 1 .start_error)" "a bad IP is refused before sending"

# The key never reaches any output.
if grep -q "$BD_KEY" "$T/all.out" "$T/driver.log"; then
	fail "the API key appears in the driver's output"
fi
pass "the API key is in no output"
lab_stop

# --- A rotated key --------------------------------------------------------------
lab_start lab2 --api-key rotated-key
counters_reset
printf 'old-key\n' >"$T/key"
chmod 600 "$T/key"
"$DRIVER" --url "$API" --key "file:$T/key" --ready-file "$T/ready" \
    wait-file "$T/go" + list + list + status >"$T/out" 2>>"$T/driver.log" &
DPID=$!
STARTED_PIDS+=("$DPID")
wait_for 10 test -e "$T/ready" || fail "driver ready"
printf 'rotated-key\n' >"$T/key"
touch "$T/go"
wait "$DPID" || fail "driver exit"
expect_eq "ok 2" "$(line 1 '"\(.status) \(.attempts)"')" "401, key read again, success"
expect_eq "ok 1" "$(line 2 '"\(.status) \(.attempts)"')" "the new key is kept"
expect_eq "1 3" "$(line 3 '"\(.key_reloads) \(.requests)"')" "one reload, three requests"
expect_eq 3 "$(fired 0)" "the lab saw three requests"
printf 'wrong-key\n' >"$T/key"
"$DRIVER" --url "$API" --key "file:$T/key" list >"$T/out" 2>>"$T/driver.log"
expect_eq "failed 401 -13 1" "$(line 1 '"\(.status) \(.http_status) \(.error) \(.attempts)"')" \
    "a refused key that did not change: FAILED, one request"
expect_in "$(line 1 .message)" "has not changed" "message says the key did not change"
# The re-read takes its time (a command: 2 s here) off the loop: the
# loop's 20 ms timer keeps its pace meanwhile.
cat >"$T/slowkey" <<EOF
#!/bin/sh
if [ -e "$T/slowkey.once" ]; then sleep 2; echo rotated-key; else touch "$T/slowkey.once"; echo old-key; fi
EOF
chmod 700 "$T/slowkey"
"$DRIVER" --url "$API" --key "exec:$T/slowkey" list + status >"$T/out" 2>>"$T/driver.log"
expect_eq "ok 2" "$(line 1 '"\(.status) \(.attempts)"')" "a slow re-read (2 s): 401, key read again, success"
gap=$(line 2 .max_tick_gap_ms)
[ "$gap" -lt 1000 ] || fail "the loop waited $gap ms for the key's re-read"
pass "the loop did not wait for the re-read (longest gap $gap ms)"
if grep -q -e wrong-key -e rotated-key -e old-key "$T/out" "$T/driver.log"; then
	fail "a key appears in the output"
fi
pass "no key in any output"
lab_stop
echo PASS
