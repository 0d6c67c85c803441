#!/usr/bin/env bash
# Each phone keeps its IP (RESPAWN_RELEASE_POLICY=stable, the default),
# judged at the lab's Bright Data: a phone that stops leaves its IP idle
# but held for it, so phones of its country that start meanwhile get IPs
# of their own, across a daemon restart too (the hold is in the store),
# and the phone gets its own IP back when it starts again.  Under `aware`
# the same idle IP goes to the next phone that asks.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 500
serve_env_bd
# 3.00 an IP-month: buying costs 0.10 a day, a change is worth 1.00.
export RESPAWN_IP_MONTHLY_PRICE=3

A=+14155550201 B=+14155550202 C=+14155550203 D=+14155550204
"$RESPAWN" session add --user a --phone "$A" --country us >/dev/null
serve_start
if wait_for 15 all_ready 1; then ok "a ready"
else not_ok "a not ready: $("$RESPAWN" session ls)"; fi
ip_a=$(ip_of "$A")

"$RESPAWN" session stop "$A" >/dev/null
wait_eq 15 stopped status_of "$A"
wait_eq 10 "1" sqlite3 "$RESPAWN_DB" "SELECT held_for FROM proxies WHERE ip = '$ip_a'"
held=$(sqlite3 "$RESPAWN_DB" "SELECT state, held_for, held_until > $(date +%s)000 + 5 * 3600000 FROM proxies WHERE ip = '$ip_a'")
expect_eq "$held" "idle|1|1" "a's IP is idle, held for a for hours, in the store"
expect_eq "$(metric "$(api_url)" respawn_proxy_held)" 1 "/metrics: one IP held"

"$RESPAWN" session add --user b --phone "$B" --country us >/dev/null
if wait_for 15 all_ready 1 && [ "$(status_of "$B")" = ready ]; then ok "b ready"
else not_ok "b not ready: $("$RESPAWN" session ls)"; fi
ip_b=$(ip_of "$B")
if [ "$ip_b" != "$ip_a" ] && [ -n "$ip_b" ]; then ok "b bought its own IP ($ip_b), a's stays held"
else not_ok "b got a's IP $ip_a"; fi
expect_eq "$(lab_allocated)" 2 "two IPs bought"

# The hold survives a restart of the daemon.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "graceful stop"
serve_start
"$RESPAWN" session add --user c --phone "$C" --country us >/dev/null
if wait_for 20 all_ready 2; then ok "b and c ready after the restart"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
ip_c=$(ip_of "$C")
if [ "$ip_c" != "$ip_a" ] && [ -n "$ip_c" ]; then ok "c bought its own IP, a's still held after the restart"
else not_ok "c got a's IP $ip_a after the restart"; fi

# a comes back to its own IP.
"$RESPAWN" session start "$A" >/dev/null
wait_eq 15 ready status_of "$A"
expect_eq "$(ip_of "$A")" "$ip_a" "a is back on its own IP"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT reason FROM assignments WHERE phone = '$A' ORDER BY id DESC LIMIT 1")" \
    "reactivated" "recorded as a reactivation"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT coalesce(held_for, 0) FROM proxies WHERE ip = '$ip_a'")" "0" "the hold ends once a uses it"
expect_eq "$(lab_allocated)" 3 "three phones, three IPs"
expect_eq "$(lab_wa | jq '.ip_shares')" 0 "no IP served two phones"

# Under aware, a's idle IP goes to the next phone.
"$RESPAWN" session stop "$A" >/dev/null
wait_eq 15 stopped status_of "$A"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
export RESPAWN_RELEASE_POLICY=aware
serve_start
"$RESPAWN" session add --user d --phone "$D" --country us >/dev/null
if wait_for 20 all_ready 3; then ok "b, c and d ready under aware"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(ip_of "$D")" "$ip_a" "under aware, d takes a's idle IP"
expect_eq "$(lab_allocated)" 3 "nothing bought for d"
expect_eq "$(metric "$(api_url)" respawn_proxy_displaced_total)" 1 \
    "/metrics: one IP taken while held (aware does not hold)"
expect_eq "$(lab_allocated)" "$(db_proxies)" "the lab's allocations equal the store's proxies"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
finish
