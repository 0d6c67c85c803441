#!/usr/bin/env bash
# The daemon end to end against respawn-lab with the lab connector: every
# session comes up through a proxy of its country (or of its fallback
# country when its own has none), then survives a kill -9 of the daemon
# (connectors re-adopted, no reconnect), a graceful restart (same IPs
# reactivated, no conflict) and a handover (no reconnect); live changes
# from the CLI take effect within a second; a logged-out phone ends in
# needs_auth, a crash-looping connector in failed after its attempts, and
# a shell-script connector using systemd-notify --ready works.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 200
serve_env
export RECONNECT_DELAY=200 MAX_RECONNECT_ATTEMPTS=2 RESPAWN_STOP_TIMEOUT=2s

# IPs at the lab: de and us have room to spare, be has none (the lab has
# no be inventory), so be falls back to nl.
: >"$T/proxies.txt"
for cc in de de de de us us us gb gb nl nl fr; do
	for ip in $(lab_allocate $cc); do
		echo "$(lab_proxy_url "$ip") $cc" >>"$T/proxies.txt"
	done
done
expect_eq "$(wc -l <"$T/proxies.txt")" 12 "12 lab IPs in the proxy list"

phones=(+4915100000001 +4915100000002 +4915100000003 +14155550001 +14155550002
	+447700900001 +33612345678 +32470000001)
countries=(de de de us us gb fr be)
for i in "${!phones[@]}"; do
	run "$RESPAWN" session add --user "u$i" --phone "${phones[$i]}" --country "${countries[$i]}"
	expect_rc 0 "add ${phones[$i]} (${countries[$i]})"
done
N=${#phones[@]}

serve_start
if wait_for 20 all_ready "$N"; then ok "all $N sessions ready"
else not_ok "not all ready: $("$RESPAWN" session ls)"; fi

wa=$(lab_wa)
for i in "${!phones[@]}"; do
	p=${phones[$i]}
	want=${countries[$i]}
	[ "$want" = be ] && want=nl
	expect_eq "$(jq -r --arg p "$p" '.phones[$p].connected' <<<"$wa")" true "$p connected"
	expect_eq "$(jq -r --arg p "$p" '.phones[$p].country' <<<"$wa")" "$want" "$p exits in $want"
done
run sqlite3 "$RESPAWN_DB" "SELECT requested_country || '>' || country || ':' || fallback_used FROM assignments WHERE phone = '+32470000001'"
expect_eq "$out" "be>nl:1" "be fell back to nl, and the assignment says so"
expect_in "$(cat "$T"/serve.1.log)" 'msg="using fallback country"' "fallback logged"
expect_in "$(cat "$T"/serve.1.log)" 'msg="session recovery completed"' "recovery logged"

# Each phone's IP, to compare after every restart.
ips_of() { lab_wa | jq -c '[.phones | to_entries[] | [.key, .value.ip]] | sort'; }
ips0=$(ips_of)

# (a) kill -9: the connectors live on and are adopted, not restarted.
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
sleep 0.3
expect_eq "$(lab_wa | jq '[.phones[] | select(.connected)] | length')" "$N" "connectors survive the daemon's crash"
serve_start
if wait_for 10 grep -q 'event=recovery' "$T/serve.2.log" && wait_for 10 all_ready "$N"; then
	ok "all ready after kill -9"
else not_ok "after kill -9: $("$RESPAWN" session ls)"; fi
expect_in "$(cat "$T/serve.2.log")" "cause=crash" "the crash is recognised"
expect_eq "$(grep -c 'event=connector.adopted' "$T/serve.2.log")" "$N" "every connector re-adopted"
wa=$(lab_wa)
expect_eq "$(jq '[.phones[].connects] | add' <<<"$wa")" "$N" "no reconnect after kill -9"
expect_eq "$(jq '[.phones[].conflicts] | add' <<<"$wa")" 0 "no conflict after kill -9"
expect_eq "$(ips_of)" "$ips0" "same IPs after kill -9"

# (b) graceful restart: connectors stop, and come back on their IPs.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
expect_eq "$rc" 0 "graceful stop exits 0"
expect_eq "$(lab_wa | jq '[.phones[] | select(.connected)] | length')" 0 "connectors stopped"
run sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions WHERE graceful_shutdown = 1 AND shutdown_at IS NOT NULL AND owner_instance IS NULL"
expect_eq "$out" "$N" "sessions marked gracefulShutdown and released"
run sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies WHERE state = 'active' AND session_id IS NOT NULL"
expect_eq "$out" "$N" "proxies kept reserved over the restart"
serve_start
if wait_for 20 all_ready "$N"; then ok "all ready after a graceful restart"
else not_ok "after graceful restart: $("$RESPAWN" session ls)"; fi
expect_in "$(cat "$T/serve.3.log")" "cause=graceful" "graceful shutdown recognised"
expect_eq "$(grep -c 'msg="reactivated existing proxy"' "$T/serve.3.log")" "$N" "every proxy reactivated"
wa=$(lab_wa)
expect_eq "$(jq '[.phones[].conflicts] | add' <<<"$wa")" 0 "no conflict after a graceful restart"
expect_eq "$(jq '[.phones[].ip_changes] | add' <<<"$wa")" 0 "no IP change after a graceful restart"
expect_eq "$(ips_of)" "$ips0" "same IPs after a graceful restart"
run sqlite3 "$RESPAWN_DB" "SELECT cause || ':' || sessions_total || ':' || recovered || ':' || reactivated FROM recovery_runs ORDER BY id DESC LIMIT 1"
expect_eq "$out" "graceful:$N:$N:$N" "recovery run recorded with its figures"

# (c) handover: the daemon leaves, connectors stay, the next one adopts.
connects=$(lab_wa | jq '[.phones[].connects] | add')
kill -USR2 "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$(lab_wa | jq '[.phones[] | select(.connected)] | length')" "$N" "connectors run on during a handover"
serve_start
wait_for 10 grep -q 'event=recovery' "$T/serve.4.log"
if wait_for 10 all_ready "$N"; then ok "all ready after a handover"
else not_ok "after handover: $("$RESPAWN" session ls)"; fi
expect_eq "$(grep -c 'event=connector.adopted' "$T/serve.4.log")" "$N" "every connector adopted"
expect_eq "$(lab_wa | jq '[.phones[].connects] | add')" "$connects" "zero reconnects over a handover"

# Live changes: stop, start, add, remove, each within a second or two.
run "$RESPAWN" session stop +14155550002
wait_eq 5 false connected_of +14155550002
expect_eq "$(lab_wa | jq -r '.phones["+14155550002"].connected')" false "session stop takes effect"
run "$RESPAWN" session start +14155550002
wait_eq 5 true connected_of +14155550002
expect_eq "$(lab_wa | jq -r '.phones["+14155550002"].connected')" true "session start takes effect"
run "$RESPAWN" session add --user late --phone +4915100000009 --country de
wait_eq 5 true connected_of +4915100000009
expect_eq "$(lab_wa | jq -r '.phones["+4915100000009"].connected')" true "a new session starts"
run "$RESPAWN" session rm +4915100000009
wait_eq 5 false connected_of +4915100000009
expect_eq "$(lab_wa | jq -r '.phones["+4915100000009"].connected')" false "a removed session stops"

# (e) logged out: needs_auth, not restarted, its proxy back in the pool.
curl -s -X POST -H 'Content-Type: application/json' \
	--data '{"phone":"+447700900001","state":"logged_out"}' "$LAB_API/lab/wa/phone" >/dev/null
wait_eq 5 needs_auth status_of +447700900001
run "$RESPAWN" session show +447700900001 --json
expect_eq "$(jq -r .status <<<"$out")" needs_auth "logged out: needs_auth"
expect_eq "$(jq -r .proxyIp <<<"$out")" null "its proxy is returned to the pool"
expect_in "$(cat "$T/serve.4.log")" "event=session.needs_auth" "needs-auth alert logged"

# The operator's summary.
run "$RESPAWN" status --json
expect_rc 0 "respawn status --json"
expect_eq "$(jq .sessions.total <<<"$out")" "$N" "status counts the sessions"
expect_eq "$(jq .sessions.needs_auth <<<"$out")" 1 "status counts needs_auth"
expect_eq "$(jq -r .lastRecovery.cause <<<"$out")" graceful "status shows the last recovery run (the handover adopted, recovered none)"
expect_eq "$(jq '.instances | map(select(.status == "running")) | length' <<<"$out")" 1 "one running instance"
run "$RESPAWN" status
expect_in "$out" "last recovery (graceful" "the text summary"
run timeout 10 "$RESPAWN" status --watch
expect_rc 0 "status --watch ends once every session has settled"
expect_in "$out" "ready $((N - 1))/$N" "plain progress lines when not a terminal"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "final graceful stop"
finish
