#!/usr/bin/env bash
# Crash safety of the daemon, case by case (docs/ARCHITECTURE.md,
# invariants), each checked at the lab's WhatsApp stand-in:
#
#   - what a connector said before it ended decides how an adopted
#     connector's exit is treated, since its status cannot be read;
#   - a daemon killed while its connectors start (spawned, not yet ready,
#     their pids in no store) leaves no phone connected twice: the next
#     daemon finds them by their session directories and takes them over;
#   - a session removed while no daemon ran: its connector is stopped at
#     the next start, and its IP never serves two phones.
. "$(dirname "$0")/lib.sh"

lab_start
serve_env
export RECONNECT_DELAY=200 MAX_RECONNECT_ATTEMPTS=3
: >"$T/proxies.txt"
for ip in $(lab_allocate de 3); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
phones=(+4915100000001 +4915100000002)
for i in "${!phones[@]}"; do
	run "$RESPAWN" session add --user "u$i" --phone "${phones[$i]}" --country de
	expect_rc 0 "add ${phones[$i]}"
done
serve_start
if wait_for 20 all_ready 2; then ok "both sessions ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi

# --- adopted connectors: the exit's class comes from X_RESPAWN_EVENT ------
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
serve_start
wait_for 10 grep -q 'event=connector.adopted.*+4915100000002' "$T/serve.2.log" ||
    not_ok "the connectors were not adopted"
wait_for 10 all_ready 2 || not_ok "not ready again after the restart"
ip_before=$(lab_wa | jq -r '.phones["+4915100000002"].ip')

# Logged out: the connector says so and exits 78; adopted, respawn sees
# only its end, and must not try to log in again.
curl -s -X POST -H 'Content-Type: application/json' \
	--data '{"phone":"+4915100000001","state":"logged_out"}' \
	"$LAB_API/lab/wa/phone" >/dev/null
if wait_eq 10 needs_auth status_of +4915100000001; then
	ok "an adopted connector logged out: needs_auth, not restarted"
else
	not_ok "an adopted connector logged out: $(status_of +4915100000001)"
fi
sleep 1
expect_eq "$(grep -c 'event=wa.logged_out phone=+4915100000001' "$T/lab.log")" 0 \
    "and no second login was tried"

# Proxy blocked: the IP is marked bad for the phone, which moves to another.
curl -s -X POST -H 'Content-Type: application/json' \
	--data "{\"ip\":\"$ip_before\",\"blocked\":true}" "$LAB_API/lab/wa/ip" >/dev/null
if wait_for 10 grep -q "event=proxy.refused.*+4915100000002" "$T/serve.2.log"
then ok "an adopted connector's proxy_blocked marks its IP bad"
else not_ok "no proxy.refused for the adopted connector"; fi
if wait_eq 10 true connected_of +4915100000002; then
	expect_eq "$(lab_wa | jq -r '.phones["+4915100000002"].ip' | grep -c "^$ip_before\$")" 0 \
	    "and it is back on another IP"
	expect_eq "$(grep -c 'event=wa.blocked phone=+4915100000002' "$T/lab.log")" 0 \
	    "without trying the blocked IP again"
else
	not_ok "the phone did not come back: $(status_of +4915100000002)"
fi
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"

# --- the spawn window: killed while connectors start ----------------------
# A second daemon of its own (store, state directory) on the same lab:
# connectors that take 3 s to become ready, and a kill -9 at 1.5 s.
export RESPAWN_DB="$T/window.db" RESPAWN_STATE_DIR="$T/window"
export RESPAWN_LAB_READY_DELAY_MS=3000
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,RESPAWN_LAB_READY_DELAY_MS
: >"$T/proxies.txt"
for ip in $(lab_allocate gb 5); do
	echo "$(lab_proxy_url "$ip") gb" >>"$T/proxies.txt"
done
wphones=(+447700900101 +447700900102 +447700900103 +447700900104 +447700900105)
for p in "${wphones[@]}"; do
	"$RESPAWN" session add --user w --phone "$p" --country gb >/dev/null
done
all_connected() {
	local p
	for p in "$@"; do
		[ "$(connected_of "$p")" = true ] || return 1
	done
}
serve_start
wait_for 15 all_connected "${wphones[@]}" || not_ok "the connectors did not connect"
expect_eq "$(count_status ready)" 0 "connected, none ready yet: the spawn window"
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
serve_start
if wait_for 30 all_ready 5; then ok "all 5 ready after the restart"
else not_ok "not all ready: $("$RESPAWN" session ls)"; fi
wa=$(lab_wa)
conflicts=0 connects=0
for p in "${wphones[@]}"; do
	conflicts=$((conflicts + $(jq -r --arg p "$p" '.phones[$p].conflicts' <<<"$wa")))
	connects=$((connects + $(jq -r --arg p "$p" '.phones[$p].connects' <<<"$wa")))
done
expect_eq "$conflicts" 0 "killed in the spawn window: no phone connected twice"
expect_eq "$connects" 5 "and no reconnect: the connectors were taken over"
expect_in "$(cat "$T/serve.$SERVE_N.log")" "event=connector.leftovers" \
    "found by their session directories"

# --- removed while no daemon ran ------------------------------------------
# Every IP in use: the session added while down can only get the removed
# session's IP, which its leftover connector must have let go of first.
unset RESPAWN_LAB_READY_DELAY_MS
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
gone=${wphones[0]}
run "$RESPAWN" session rm "$gone"
expect_rc 0 "removed $gone while no daemon runs"
run "$RESPAWN" session add --user w --phone +447700900199 --country gb
expect_rc 0 "a new session of the same country added meanwhile"
serve_start
if wait_eq 20 false connected_of "$gone"; then
	ok "the removed session's connector is stopped at the start"
else
	not_ok "the removed session's connector still runs"
fi
expect_in "$(cat "$T/serve.$SERVE_N.log")" "event=connector.leftover_stopped" \
    "its leftover is logged"
wait_for 20 all_ready 5 || not_ok "not all ready: $("$RESPAWN" session ls)"
shared=$(lab_wa | jq '[.phones | to_entries[] | select(.value.connected) | .value.ip] | group_by(.) | map(select(length > 1)) | length')
expect_eq "$shared" 0 "no IP serves two connected phones"
finish
