#!/usr/bin/env bash
# Fleet mode end to end: three respawn instances on one PostgreSQL
# (scripts/pg-cluster, in $T) and respawn-lab, 300 sessions bought from the
# lab's account API.
#   1. three instances started at once: each session owned by exactly one,
#      each recovered once (one WhatsApp connection per phone), no IP
#      bought twice, the work spread;
#   2. PostgreSQL restarted mid-run: every instance carries on;
#   3. kill -9 of one instance and its connectors (a lost host): its
#      sessions ready elsewhere within lease + renew period, on their
#      previous IPs;
#   4. a graceful stop: the peers take the sessions at once (LISTEN/NOTIFY),
#      not after the lease;
#   5. SIGSTOP of one past its lease, then SIGCONT: its connectors fence
#      themselves while it is stopped (its notify queue fills, nothing is
#      taken), so no conflict even during the pause; on waking it fences
#      itself (exit 75, its connectors gone) and WhatsApp shows one
#      connection per phone;
#   6. a new instance joins: it gets its share by gradual rebalancing, on
#      the same IPs.
. "$(dirname "$0")/lib.sh"

N=300
LEASE_S=15		# renew every 2.5 s, fence after 10 s
# Connectors outlive a killed daemon on purpose; ours run under $T.
our_connectors() { find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$T/*" 2>/dev/null | cut -d/ -f3; }
fleet_cleanup() {
	cleanup_connectors() { our_connectors | xargs -r kill -KILL 2>/dev/null; }
	local pid
	for pid in "${TRACKED_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; done
	cleanup_connectors
	pg_stop
	cleanup
	cleanup_connectors
}
trap fleet_cleanup EXIT
trap 'exit 143' TERM INT HUP

pg_start

lab_start --ping-ms 500
serve_env_bd
export RESPAWN_DB="$URL" RESPAWN_LEASE=$LEASE_S RECONNECT_DELAY=500
export RESPAWN_START_CONCURRENCY=64

countries=(us gb de fr in)
for i in $(seq 1 $N); do
	printf 'u%d +4917%09d %s\n' "$i" "$i" "${countries[$((i % 5))]}"
done >"$T/sessions.txt"
# One write for all of them (a command per session took most of a minute).
"$RESPAWN" session import "$T/sessions.txt" >/dev/null || not_ok "session import"
expect_eq "$("$RESPAWN" session ls --json | jq length)" $N "$N sessions in PostgreSQL"

# Instance k has its own state directory (notify socket, logs, api.addr).
declare -A PID
start_instance() {	# K
	RESPAWN_STATE_DIR="$T/state.$1" "$RESPAWN" serve 2>>"$T/serve.$1.log" &
	PID[$1]=$!
	track_pid "${PID[$1]}"
}
sessions_json() { "$RESPAWN" session ls --json; }
ready_count() { sessions_json | jq '[.[] | select(.status == "ready")] | length'; }
all_ready() { [ "$(ready_count)" = "$N" ]; }
owners() { sessions_json | jq -c '[group_by(.instanceId)[] | {(.[0].instanceId // "none"): length}] | add'; }
wa() { curl -s "$LAB_API/lab/wa"; }
connected() { wa | jq '[.phones[] | select(.connected)] | length'; }
ips() { wa | jq -c '[.phones | to_entries[] | [.key, .value.ip]] | sort'; }
conflicts() { wa | jq '[.phones[].conflicts] | add // 0'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# within SECONDS CMD...: like wait_for, but bounded by the wall clock (the
# checks here query PostgreSQL and the lab, which take a while each).
within() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# --- 1. three at once --------------------------------------------------------
t0=$(now_ms)
start_instance 1; start_instance 2; start_instance 3
if within 120 all_ready; then ok "all $N ready under three instances in $(( $(now_ms) - t0 )) ms"
else not_ok "only $(ready_count) ready: $(owners)"; fi
o=$(owners)
expect_eq "$(jq 'keys | map(select(. != "none")) | length' <<<"$o")" 3 "three owners: $o"
expect_eq "$(jq '.none // 0' <<<"$o")" 0 "no session without an owner"
expect_eq "$(jq '[.[]] | min > 0' <<<"$o")" true "each instance has sessions"
expect_eq "$(sessions_json | jq '[.[].id] | unique | length')" $N "each session listed (owned) once"
expect_eq "$(wa | jq '[.phones[] | select(.connects > 1)] | length')" 0 "no session recovered twice (one connect per phone)"
expect_eq "$(connected)" $N "WhatsApp sees $N phones"
expect_eq "$(lab_allocated)" $N "the lab sold exactly $N IPs: none bought twice"
expect_eq "$(wa | jq '[.phones[].ip] | unique | length')" $N "every phone on its own IP"
expect_eq "$(conflicts)" 0 "no conflict"
ips_before=$(ips)

# --- 2. PostgreSQL restarted mid-run ---------------------------------------
t0=$(now_ms)
"$PG_CLUSTER" stop "$PGDIR" >/dev/null
"$PG_CLUSTER" start "$PGDIR" >/dev/null
down=$(( $(now_ms) - t0 ))
sleep $((LEASE_S / 3 + 1))
alive=0
for k in 1 2 3; do kill -0 "${PID[$k]}" 2>/dev/null && alive=$((alive + 1)); done
expect_eq "$alive" 3 "all three instances carry on after a PostgreSQL restart ($down ms down)"
if within 30 all_ready; then ok "all $N still ready"; else not_ok "$(ready_count) ready after the restart"; fi
expect_eq "$(conflicts)" 0 "no conflict across the PostgreSQL restart"
# A call that meets the restart reconnects first (the server's goodbye is
# read before it), so a short outage may cost no failed renewal at all.
ok "the outage was carried through ($(cat "$T"/serve.*.log | grep -c 'event=lease.renew_failed') lease renewals failed meanwhile)"

# --- 3. kill -9 of one instance and its connectors --------------------------
victim=1
vid=$(grep -o 'event=daemon.started instance=[^ ]*' "$T/serve.$victim.log" | head -1 | cut -d= -f3)
moved=$(sessions_json | jq -c --arg v "$vid" '[.[] | select(.instanceId == $v) | .phoneNumber]')
nmoved=$(jq length <<<"$moved")
kill -KILL "${PID[$victim]}"
wait "${PID[$victim]}" 2>/dev/null
# Its connectors: the ones working under its state directory.
find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$T/state.$victim/*" 2>/dev/null | cut -d/ -f3 | xargs -r kill -KILL 2>/dev/null
t0=$(now_ms)
moved_ready() {
	[ "$(sessions_json | jq --argjson m "$moved" --arg v "$vid" \
		'[.[] | select((.phoneNumber | IN($m[])) and .status == "ready" and .instanceId != $v)] | length')" = "$nmoved" ]
}
if within 90 moved_ready; then
	took=$(( $(now_ms) - t0 ))
	ok "the $nmoved sessions of the killed instance are ready elsewhere after $took ms"
	bound=$(( (LEASE_S + LEASE_S / 6) * 1000 + 15000 ))
	[ "$took" -le "$bound" ] && ok "within lease + renew period + recovery ($took <= $bound ms)" ||
		not_ok "takeover took $took ms (bound $bound)"
else not_ok "moved sessions not ready: $(owners)"; fi
if within 30 all_ready; then ok "all $N ready on two instances"; else not_ok "$(ready_count) ready"; fi
expect_eq "$(ips)" "$ips_before" "every phone kept its IP (proxies reactivated)"
expect_eq "$(lab_allocated)" $N "nothing bought for the takeover"

# --- 4. a graceful stop: peers react at once --------------------------------
kill -TERM "${PID[2]}"
wait "${PID[2]}" 2>/dev/null
expect_eq "$?" 0 "instance 2 stopped gracefully"
t0=$(now_ms)
if within 60 all_ready; then
	took=$(( $(now_ms) - t0 ))
	ok "its sessions ready on instance 3 after $took ms"
else not_ok "$(ready_count) ready after the graceful stop"; fi
expect_eq "$(owners | jq 'keys | length')" 1 "one instance owns everything"
expect_eq "$(ips)" "$ips_before" "same IPs after the graceful handoff"
start_instance 4
if within 30 grep -q 'event=recovery' "$T/serve.4.log"; then ok "instance 4 started"; else not_ok "instance 4 did not start"; fi

# --- 5. SIGSTOP past the lease, then SIGCONT --------------------------------
sleep 3
c0=$(conflicts)
kill -STOP "${PID[3]}"
sleep $((LEASE_S + 3))
if within 60 all_ready; then ok "sessions taken over while instance 3 was stopped"; else not_ok "$(ready_count) ready"; fi
kill -CONT "${PID[3]}"
wait "${PID[3]}" 2>/dev/null
expect_eq "$?" 75 "instance 3 fenced itself on waking (exit 75)"
expect_in "$(cat "$T/serve.3.log")" "event=lease.lost" "the fencing is logged"
sleep 3
expect_eq "$(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$T/state.3/*" 2>/dev/null | wc -l)" 0 \
	"no connector of the fenced instance is left"
if within 30 all_ready; then ok "all $N ready after the fencing"; else not_ok "$(ready_count) ready"; fi
all_connected() { [ "$(connected)" = "$N" ]; }
if within 30 all_connected; then ok "one WhatsApp connection per phone once settled"
else
	not_ok "$(connected) of $N phones connected once settled"
	for k in 4; do
		echo "# instance $k alive: $(kill -0 "${PID[$k]}" 2>/dev/null && echo yes || echo no)"
		grep -v 'event=proxy.reactivated' "$T/serve.$k.log" | tail -15 | sed 's/^/# /'
	done
	wa | jq -c '[.phones | to_entries[:3][] | .value]' | sed 's/^/# /'
fi
settled=$(conflicts)
sleep 3
expect_eq "$((settled - c0))" 0 "no conflict during the pause: the stopped instance's connectors fenced themselves"
expect_eq "$(conflicts)" "$settled" "no new conflict once settled"
expect_eq "$(ips)" "$ips_before" "same IPs after the fencing"

# --- 6. a new instance joins: gradual rebalancing ---------------------------
start_instance 5
balanced() { [ "$(owners | jq "(keys | length) == 2 and ([.[]] | min) >= $((N / 2 - 8))")" = true ]; }
if within 90 balanced; then ok "a new instance got its share: $(owners)"; else not_ok "not balanced: $(owners)"; fi
if within 30 all_ready; then ok "all $N ready after rebalancing"; else not_ok "$(ready_count) ready"; fi
expect_eq "$(ips)" "$ips_before" "rebalanced sessions kept their IPs"
expect_eq "$(connected)" $N "one connection per phone after rebalancing"
expect_eq "$(lab_allocated)" $N "still $N IPs bought"
finish
