#!/usr/bin/env bash
# Residential sessions against respawn-lab's residential zone: each phone
# gets a sticky peer in its country through
# brd-customer-C-zone-Z-country-cc-session-<id>, the id derived from the
# phone, so a restart lands on the same exit address; nothing is bought.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 500
serve_env_bd
export BRIGHT_DATA_RESIDENTIAL_ZONE=res_lab BRIGHT_DATA_RESIDENTIAL_ZONE_PASSWORD=res_lab_pw
export RESPAWN_SESSION_SALT=test-salt

"$RESPAWN" session add --user r1 --phone +4915100000011 --country de --proxy-type residential >/dev/null
"$RESPAWN" session add --user r2 --phone +14155550011 --country us --proxy-type residential >/dev/null
serve_start
if wait_for 20 all_ready 2; then ok "two residential sessions ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
wa=$(lab_wa)
expect_eq "$(jq -r '.phones["+4915100000011"].country' <<<"$wa")" de "the de phone exits in de"
expect_eq "$(jq -r '.phones["+14155550011"].country' <<<"$wa")" us "the us phone exits in us"
expect_eq "$(lab_allocated)" 0 "no IP bought for residential sessions"
ips0=$(jq -c '[.phones | to_entries[] | [.key, .value.ip]] | sort' <<<"$wa")
log=$(curl -s "$LAB_API/lab/proxy/log")
expect_eq "$(jq -r '[.connects[] | select(.zone == "res_lab")] | length > 0' <<<"$log")" true "tunnels went through the residential zone"

# A graceful restart asks for the same session ids: the same peers.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
serve_start
wait_for 10 grep -q 'event=recovery' "$T/serve.2.log"
if wait_for 20 all_ready 2; then ok "ready again after a restart"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
ips1=$(lab_wa | jq -c '[.phones | to_entries[] | [.key, .value.ip]] | sort')
expect_eq "$ips1" "$ips0" "the same exit addresses after a restart (sticky sessions)"
expect_eq "$(lab_wa | jq '[.phones[].ip_changes] | add')" 0 "no IP change"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "graceful stop"
finish
