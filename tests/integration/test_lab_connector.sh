#!/usr/bin/env bash
# The lab connector end to end: allocate an IP for de, run the connector
# through it and see the phone connected from a de IP; a second connector
# for the same phone makes one conflict.  Then every exit path of the
# connector contract and every test switch.
. "$2/lab/testlib.sh"

lab_start lab --ping-ms 100
ip=$(allocate de)
PHONE=+4915112345678

"$NOTIFY_BIN" "$T/notify.sock" "$T/notify.out" &
STARTED_PIDS+=($!)
wait_for 5 test -S "$T/notify.sock" || fail "notify receiver"

# connector NAME [ENV=VALUE...]: starts one connector in the background
# (PID in $CPID) with the contract's environment for the de IP.
connector() {
	local name=$1
	shift
	env RESPAWN_SESSION_ID="s-$name" RESPAWN_USER_ID=u1 RESPAWN_PHONE="$PHONE" \
	    RESPAWN_COUNTRY=de \
	    RESPAWN_PROXY_URL="http://brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw@127.0.0.1:$LAB_PROXY_PORT" \
	    RESPAWN_SESSION_DIR="$T/session" NOTIFY_SOCKET="$T/notify.sock" \
	    RESPAWN_LAB_WA_ADDR="127.0.0.1:$LAB_WA_PORT" "$@" \
	    "$CONNECTOR_BIN" 2>>"$T/$name.log" &
	CPID=$!
	STARTED_PIDS+=($CPID)
}
# expect_exit CODE PID WHAT: waits in this shell (not a subshell, which
# cannot wait for our children) and checks the exit status.
expect_exit() {
	local rc=0
	wait "$2" || rc=$?
	expect_eq "$1" "$rc" "$3"
}
wa() {
	admin GET /lab/wa | jq -r --arg p "$PHONE" ".phones[\$p].$1"
}
connected() {
	[ "$(wa connected)" = true ]
}

# The de end-to-end test.
connector c1 WATCHDOG_USEC=200000
c1=$CPID
wait_for 10 connected || fail "phone never connected"
expect_eq "$ip" "$(wa ip)" "phone connected from the allocated IP"
expect_eq de "$(wa country)" "phone connected from a de IP"
wait_for 5 grep -q "READY=1" "$T/notify.out" || fail "READY=1"
pass "READY=1 sent"
test -s "$T/session/token" || fail "token in the session dir"
pass "token written to RESPAWN_SESSION_DIR"
wait_for 5 grep -q "WATCHDOG=1" "$T/notify.out" || fail "WATCHDOG=1"
pass "WATCHDOG=1 sent"
sleep 0.4	# several pings answered: still connected
expect_eq true "$(wa connected)" "connector answers pings"

# A second connector for the same phone: exactly one conflict.
connector c2
c2=$CPID
expect_exit 1 $c1 "older connector exits 1 on CONFLICT"
grep -q "X_RESPAWN_EVENT=conflict" "$T/notify.out" || fail "conflict event"
pass "X_RESPAWN_EVENT=conflict sent"
expect_eq 1 "$(wa conflicts)" "one conflict counted"
expect_eq 2 "$(wa connects)" "two connects counted"
expect_eq 0 "$(wa ip_changes)" "no IP change"
wait_for 5 connected || fail "second connector connected"
# The phone's own older connection is not another phone on its IP.
expect_eq 0 "$(wa ip_shared)" "a conflict is not IP sharing"
expect_eq 0 "$(admin GET /lab/wa | jq .ip_shares)" "no IP shared"

# SIGTERM: exit 0.
kill -TERM "$c2"
expect_exit 0 $c2 "SIGTERM: exit 0"

# Logged out: exit 78 with the event.
connector c3
c3=$CPID
wait_for 10 connected || fail "c3 connected"
admin POST /lab/wa/phone "{\"phone\":\"$PHONE\",\"state\":\"logged_out\"}" >/dev/null
expect_exit 78 $c3 "logged out while connected: exit 78"
[ -f "$T/session/token.logged-out" ] && [ ! -f "$T/session/token" ] || fail "the logged-out token retired"
pass "the logged-out token is moved aside"
# The retired token presented again: LOGGED_OUT at HELLO.
cp "$T/session/token.logged-out" "$T/session/token"
connector c4
expect_exit 78 $CPID "logged out at HELLO: exit 78"
grep -q "X_RESPAWN_EVENT=logged_out" "$T/notify.out" || fail "logged_out event"
pass "X_RESPAWN_EVENT=logged_out sent"
# After a logout the next start shows a QR code and waits for the scan.
connector c4q RESPAWN_LAB_QR_ROTATE_MS=0
c4q=$CPID
wait_for 5 test -s "$T/session/qr.txt" || fail "no qr.txt after a logout"
grep -q "STATUS=qr" "$T/notify.out" || fail "STATUS=qr"
pass "logged out: the next start shows a QR code (qr.txt, STATUS=qr)"
qr=$(cat "$T/session/qr.txt")
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"phone\":\"$PHONE\",\"qr\":\"$qr-x\"}" "$API/lab/wa/link")" = 403 ] ||
	fail "a wrong QR code links"
admin POST /lab/wa/link "{\"phone\":\"$PHONE\",\"qr\":\"$qr\"}" >/dev/null
wait_for 10 connected || fail "scanned connector connected"
[ ! -e "$T/session/qr.txt" ] || fail "qr.txt left after the scan"
pass "the scan pairs: connected, qr.txt gone"
kill -TERM "$c4q"
expect_exit 0 $c4q "c4q stopped"
# A new QR scan (a fresh session dir) pairs again.
rm -rf "$T/session"
connector c5
c5=$CPID
wait_for 10 connected || fail "re-paired connector connected"
pass "a new token pairs again"
kill -TERM "$c5"
expect_exit 0 $c5 "c5 stopped"

# Blocked phone and blocked IP: exit 75.
admin POST /lab/wa/phone "{\"phone\":\"$PHONE\",\"state\":\"blocked\"}" >/dev/null
connector c6
expect_exit 75 $CPID "blocked phone: exit 75"
admin POST /lab/wa/phone "{\"phone\":\"$PHONE\",\"state\":\"ok\"}" >/dev/null
admin POST /lab/wa/ip "{\"ip\":\"$ip\",\"blocked\":true}" >/dev/null
connector c7
expect_exit 75 $CPID "blocked IP: exit 75"
grep -q "X_RESPAWN_EVENT=proxy_blocked" "$T/notify.out" || fail "proxy_blocked event"
pass "X_RESPAWN_EVENT=proxy_blocked sent"
admin POST /lab/wa/ip "{\"ip\":\"$ip\",\"blocked\":false}" >/dev/null

# The proxy refuses: wrong password (407) and an unallocated IP (400).
connector c8 RESPAWN_PROXY_URL="http://brd-customer-c_lab-zone-isp_lab-ip-$ip:bad@127.0.0.1:$LAB_PROXY_PORT"
expect_exit 75 $CPID "proxy 407: exit 75"
connector c9 RESPAWN_PROXY_URL="http://brd-customer-c_lab-zone-isp_lab-ip-127.3.255.9:isp_lab_pw@127.0.0.1:$LAB_PROXY_PORT"
expect_exit 75 $CPID "proxy 400 (IP not allocated): exit 75"
connector c10 RESPAWN_PROXY_URL=bogus
expect_exit 2 $CPID "bad RESPAWN_PROXY_URL: exit 2"

# Switches: slow to become ready, never ready, crash, ignore SIGTERM.
: >"$T/notify.out"
connector c11 RESPAWN_LAB_READY_DELAY_MS=700
c11=$CPID
wait_for 10 connected || fail "c11 connected"
wait_for 5 grep -q "READY=1" "$T/notify.out" || fail "READY=1 after the delay"
# The delay is judged by the connector's own clock (its log's times), not
# by how fast this shell polls: on a loaded machine a poll can take longer
# than the delay itself.
log_ms() {
	local t
	t=$(grep -m1 "event=$1 " "$T/c11.log" | sed -E 's/^time=([^ ]+) .*/\1/')
	[ -n "$t" ] && date -d "$t" +%s%3N
}
wait_for 5 grep -q "event=connector.ready " "$T/c11.log" || fail "c11 logged ready"
waited=$(( $(log_ms connector.ready) - $(log_ms connector.connected) ))
[ "$waited" -ge 690 ] || fail "READY=1 $waited ms after connected, before the 700 ms delay"
pass "RESPAWN_LAB_READY_DELAY_MS (READY=1 $waited ms after connected)"
kill -TERM "$c11"
expect_exit 0 $c11 "c11 stopped"

: >"$T/notify.out"
connector c12 RESPAWN_LAB_NEVER_READY=1
c12=$CPID
wait_for 10 connected || fail "c12 connected"
sleep 0.5
grep -q "READY=1" "$T/notify.out" && fail "NEVER_READY sent READY=1"
pass "RESPAWN_LAB_NEVER_READY"
kill -TERM "$c12"
expect_exit 0 $c12 "c12 stopped"

connector c13 RESPAWN_LAB_CRASH_AFTER_MS=300
expect_exit 134 $CPID "RESPAWN_LAB_CRASH_AFTER_MS: killed by SIGABRT"

connector c14 RESPAWN_LAB_IGNORE_SIGTERM=1
c14=$CPID
wait_for 10 connected || fail "c14 connected"
kill -TERM "$c14"
sleep 0.5
kill -0 "$c14" 2>/dev/null || fail "IGNORE_SIGTERM connector died on SIGTERM"
pass "RESPAWN_LAB_IGNORE_SIGTERM"
kill -KILL "$c14"
expect_exit 137 $c14 "c14 killed"

# The endpoint can also be given as the command's argument.
env RESPAWN_PHONE="$PHONE" RESPAWN_SESSION_DIR="$T/session" \
    RESPAWN_PROXY_URL="http://brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw@127.0.0.1:$LAB_PROXY_PORT" \
    "$CONNECTOR_BIN" "127.0.0.1:$LAB_WA_PORT" 2>>"$T/argv.log" &
c16=$!
STARTED_PIDS+=($c16)
wait_for 10 connected || fail "connector with the address as argument"
pass "WhatsApp address as argument"
kill -TERM "$c16"
expect_exit 0 $c16 "c16 stopped"

# The lab going away: connection lost, exit 1.
connector c15
c15=$CPID
wait_for 10 connected || fail "c15 connected"
lab_stop
expect_exit 1 $c15 "connection lost: exit 1"
echo "PASS"
