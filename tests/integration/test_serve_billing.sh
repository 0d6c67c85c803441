#!/usr/bin/env bash
# Spend and release against respawn-lab's Bright Data: a daily spending
# limit refuses a purchase (the session is served from the idle pool once
# an IP frees up, not bought for), and the seed's idle-timeout policy gives
# an idle IP back to the provider, after which the lab's allocations still
# equal the store's proxies.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 500
serve_env_bd
# $30 an IP-month billed by the day: $1 a day each; at most $2.50 a day.
export RESPAWN_IP_MONTHLY_PRICE=30 RESPAWN_DAILY_SPEND_LIMIT=2.50
export RESPAWN_RELEASE_POLICY=idle-timeout RESPAWN_IDLE_TIMEOUT=2s

"$RESPAWN" session add --user a --phone +4915100000001 --country de >/dev/null
"$RESPAWN" session add --user b --phone +4915100000002 --country de >/dev/null
serve_start
if wait_for 15 all_ready 2; then ok "two sessions ready on two bought IPs"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(lab_allocated)" 2 "two IPs bought"

# A third would take today's spend to $3: refused, nothing bought.
"$RESPAWN" session add --user c --phone +4915100000003 --country de >/dev/null
wait_for 10 grep -q 'event=purchase.refused' "$T/serve.1.log"
expect_in "$(cat "$T/serve.1.log")" "event=purchase.refused" "the spending limit refuses the purchase"
sleep 1
expect_eq "$(lab_allocated)" 2 "nothing bought beyond the limit"
expect_eq "$("$RESPAWN" session show +4915100000003 --json | jq -r .status)" backoff "the session waits"

# Session a stops: its IP goes to the waiting session, not back to Bright Data.
ip_a=$(lab_wa | jq -r '.phones["+4915100000001"].ip')
"$RESPAWN" session stop +4915100000001 >/dev/null
wait_eq 15 ready status_of +4915100000003
expect_eq "$("$RESPAWN" session show +4915100000003 --json | jq -r .status)" ready "the waiting session is served from the idle pool"
expect_eq "$(lab_wa | jq -r '.phones["+4915100000003"].ip')" "$ip_a" "on the freed IP"
expect_eq "$(lab_allocated)" 2 "still two IPs"

# Session b stops and nobody wants its IP: released after the idle timeout.
ip_b=$(lab_wa | jq -r '.phones["+4915100000002"].ip')
"$RESPAWN" session stop +4915100000002 >/dev/null
wait_eq 15 1 lab_allocated
expect_eq "$(lab_allocated)" 1 "the idle IP is given back after the idle timeout"
expect_in "$(grep 'event=proxy.release ' "$T/serve.1.log")" "$ip_b" "the released IP is b's"
expect_in "$(grep 'event=proxy.release ' "$T/serve.1.log")" "why=idle_long" "because it was idle too long"
expect_eq "$(lab_allocated)" "$(db_proxies)" "the lab's allocations equal the store's proxies"

# The operator's figures: one IP held at $30 a month; today two IPs were
# held, the one given back too, so the provider charges $2 for today.
run "$RESPAWN" status --json
expect_eq "$(jq '.proxies.estimatedMonthlyCost == 30 and .proxies.chargedToday == 2' <<<"$out")" true "status: estimatedMonthlyCost and today's charges"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "graceful stop"
finish
