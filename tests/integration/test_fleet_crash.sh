#!/usr/bin/env bash
# Fleet mode: a crashed instance never leaves a phone connected twice,
# counted at the lab's WhatsApp stand-in.  Three instances on one
# PostgreSQL (scripts/pg-cluster) and respawn-lab, 60 sessions.
#   1. kill -9 of an instance's daemon, restarted in place a second later
#      (systemd's Restart=always, RestartSec=1s): it takes its predecessor's
#      place and sessions in one step and adopts every connector; no peer
#      claims them, no phone reconnects, no conflict;
#   1b. the same after a handover (SIGUSR2) in fleet mode;
#   2. kill -9 of a daemon that never comes back, its host alive: its
#      connectors fence themselves (RESPAWN_FENCE_USEC) before the lease
#      expires, the peers take the sessions over on the same IPs, no
#      conflict;
#   3. an instance started while PostgreSQL restarts: it retries instead of
#      exiting, joins, and gets its share; no conflict;
#   4. a start that never reaches the database gives up after a lease with
#      exit 74 (EX_IOERR).
. "$(dirname "$0")/lib.sh"

N=60
LEASE_S=12		# renew every 2 s, fence after 8 s, connectors after 3 s
our_connectors() { find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$T/${1:-}*" 2>/dev/null | cut -d/ -f3; }
fleet_cleanup() {
	our_connectors | xargs -r kill -KILL 2>/dev/null
	pg_stop
	cleanup
	our_connectors | xargs -r kill -KILL 2>/dev/null
}
trap fleet_cleanup EXIT
trap 'exit 143' TERM INT HUP

pg_start
lab_start --ping-ms 500
serve_env_bd
export RESPAWN_DB="$URL" RESPAWN_LEASE=$LEASE_S RECONNECT_DELAY=500
printf 'fleet-key\n' >"$T/api.key"
chmod 600 "$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"

countries=(us gb de)
for i in $(seq 1 $N); do
	printf 'u%d +4917%09d %s\n' "$i" "$i" "${countries[$((i % 3))]}"
done >"$T/sessions.txt"
"$RESPAWN" session import "$T/sessions.txt" >/dev/null || not_ok "session import"

declare -A PID
start_instance() {	# K: instance K's state directory is $T/state.K
	RESPAWN_STATE_DIR="$T/state.$1" "$RESPAWN" serve 2>>"$T/serve.$1.log" &
	PID[$1]=$!
	track_pid "${PID[$1]}"
}
instance_id() { grep -o 'event=daemon.started instance=[^ ]*' "$T/serve.$1.log" | tail -1 | cut -d= -f3; }
sessions_json() { "$RESPAWN" session ls --json; }
ready_count() { sessions_json | jq '[.[] | select(.status == "ready")] | length'; }
all_ready() { [ "$(ready_count)" = "$N" ]; }
owners() { sessions_json | jq -c '[group_by(.instanceId)[] | {(.[0].instanceId // "none"): length}] | add'; }
owned_by() { sessions_json | jq --arg i "$1" '[.[] | select(.instanceId == $i)] | length'; }
wa() { curl -s "$LAB_API/lab/wa"; }
connected() { wa | jq '[.phones[] | select(.connected)] | length'; }
all_connected() { [ "$(connected)" = "$N" ]; }
connects() { wa | jq '[.phones[].connects] | add // 0'; }
ips() { wa | jq -c '[.phones | to_entries[] | [.key, .value.ip]] | sort'; }
conflicts() { wa | jq '[.phones[].conflicts] | add // 0'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
within() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}
balanced3() { [ "$(owners | jq '(keys | map(select(. != "none")) | length) == 3 and ([.[]] | min) >= 16')" = true ]; }

start_instance 1; start_instance 2; start_instance 3
if within 60 all_ready; then ok "all $N ready under three instances"; else not_ok "$(ready_count) ready: $(owners)"; fi
within 30 balanced3 && ok "shared out: $(owners)" || not_ok "not shared out: $(owners)"
expect_eq "$(conflicts)" 0 "no conflict at the start"

# A session instance 2 runs, asked of instance 1's API: its connector and
# its files are on instance 2, and the answer says so.
api_of() { echo "http://$(cat "$T/state.$1/api.addr")"; }
sid2=$(sessions_json | jq --arg i "$(instance_id 2)" '[.[] | select(.instanceId == $i)][0].id')
body=$(curl -s -H 'x-api-key: fleet-key' "$(api_of 1)/api/sessions/$sid2/qr")
expect_in "$body" "is run by instance $(instance_id 2), not this one" \
	"a peer's session: its QR code asked of another instance names the owner"
code=$(curl -s -o "$T/pair.json" -w '%{http_code}' -X POST -H 'x-api-key: fleet-key' \
	"$(api_of 1)/api/sessions/$sid2/pairing-code")
expect_eq "$code $(jq -r .error "$T/pair.json")" "409 conflict" \
	"a pairing code asked of another instance: 409, nothing written there"
expect_eq "$(test -e "$T/state.1/sessions/$sid2/pairing-code.request" && echo written)" "" \
	"no request file in the wrong state directory"
body=$(curl -s -H 'x-api-key: fleet-key' "$(api_of 2)/api/sessions/$sid2/qr")
expect_in "$body" "it is paired and ready" "asked of its owner, the answer is the session's own"
ips_before=$(ips)

# --- 1. kill -9 and restart in place -----------------------------------------
old=$(instance_id 1)
mine=$(owned_by "$old")
c0=$(connects)
kill -KILL "${PID[1]}"
wait "${PID[1]}" 2>/dev/null
sleep 1
start_instance 1
if within 20 grep -q 'event=daemon.succeeded' "$T/serve.1.log"; then ok "the restarted daemon took its predecessor's place"
else not_ok "no succession: $(grep -E 'instance.crashed|daemon.s' "$T/serve.1.log" | tail -3)"; fi
new=$(instance_id 1)
# Past the old lease: a peer that would claim the sessions has done so.
sleep $((LEASE_S + 2))
expect_eq "$(owned_by "$new")" "$mine" "the restarted instance kept all $mine of its sessions"
if within 30 all_ready; then ok "all $N ready after the restart"; else not_ok "$(ready_count) ready: $(owners)"; fi
expect_eq "$(conflicts)" 0 "no conflict across a kill -9 and restart in place"
expect_eq "$(connects)" "$c0" "no phone reconnected: every connector adopted"
expect_eq "$(grep -c 'event=connector.adopted' "$T/serve.1.log")" "$mine" "$mine connectors adopted"

# --- 1b. a handover (SIGUSR2) and the new daemon in place ---------------------
# The sessions and the lease stay as they are for the successor: released,
# the peers would take them while the connectors still run.
old=$(instance_id 1)
c0=$(connects)
kill -USR2 "${PID[1]}"
wait "${PID[1]}" 2>/dev/null
expect_eq "$?" 0 "the handover exits 0"
start_instance 1
if within 20 grep -q "event=daemon.succeeded.*previous=$old" "$T/serve.1.log"; then ok "the new daemon succeeded the handed-over one"
else not_ok "no succession after the handover"; fi
sleep 3
expect_eq "$(owned_by "$(instance_id 1)")" "$mine" "it owns the same $mine sessions"
if within 30 all_ready; then ok "all $N ready after the handover"; else not_ok "$(ready_count) ready: $(owners)"; fi
expect_eq "$(conflicts)" 0 "no conflict across a handover"
expect_eq "$(connects)" "$c0" "no phone reconnected across the handover"

# --- 2. kill -9, never restarted, host alive -----------------------------------
victim=2
vid=$(instance_id $victim)
moved=$(owned_by "$vid")
kill -KILL "${PID[$victim]}"
wait "${PID[$victim]}" 2>/dev/null
t0=$(now_ms)
gone() { [ -z "$(our_connectors "state.$victim/")" ]; }
if within $((LEASE_S)) gone; then
	ok "its $moved connectors fenced themselves after $(( $(now_ms) - t0 )) ms (fence $((LEASE_S * 250)) ms)"
else not_ok "connectors of the killed instance still run: $(our_connectors "state.$victim/" | wc -l)"; fi
moved_ready() { [ "$(owned_by "$vid")" = 0 ] && all_ready; }
if within $((LEASE_S + 30)) moved_ready; then
	took=$(( $(now_ms) - t0 ))
	bound=$(( (LEASE_S + LEASE_S / 6) * 1000 + 10000 ))
	[ "$took" -le "$bound" ] && ok "its $moved sessions ready elsewhere after $took ms (<= $bound)" ||
		not_ok "takeover took $took ms (bound $bound)"
else not_ok "not taken over: $(owners)"; fi
expect_eq "$(conflicts)" 0 "no conflict after a kill -9 with the host alive"
expect_eq "$(ips)" "$ips_before" "every phone kept its IP"
expect_eq "$(lab_allocated)" $N "nothing bought for the takeover"

# --- 3. started while PostgreSQL restarts ------------------------------------
"$PG_CLUSTER" stop "$PGDIR" >/dev/null
start_instance 4
sleep 2
"$PG_CLUSTER" start "$PGDIR" >/dev/null
if within 30 grep -q 'event=daemon.started' "$T/serve.4.log"; then ok "instance 4 started once the database was back"
else not_ok "instance 4: $(tail -3 "$T/serve.4.log")"; fi
expect_in "$(cat "$T/serve.4.log")" "event=daemon.start_retry" "it retried while the database restarted"
joined() { [ "$(owners | jq '(keys | map(select(. != "none")) | length) == 3 and ([.[]] | min) >= 16')" = true ] && all_ready; }
if within 60 joined; then ok "instance 4 got its share: $(owners)"; else not_ok "not shared: $(owners)"; fi
kill -0 "${PID[4]}" 2>/dev/null && ok "instance 4 still runs" || not_ok "instance 4 exited"
expect_eq "$(conflicts)" 0 "no conflict across a start during a PostgreSQL restart"
if within 20 all_connected; then ok "one connection per phone"; else not_ok "$(connected) of $N connected"; fi

# --- 4. a start that never reaches the database ------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t0=$(now_ms)
RESPAWN_DB="postgresql://respawn@127.0.0.1:$port/respawn" RESPAWN_LEASE=3 \
	RESPAWN_STATE_DIR="$T/state.5" timeout 30 "$RESPAWN" serve 2>"$T/serve.5.log"
rc=$?
expect_eq "$rc" 74 "no database: exit 74 after $(( $(now_ms) - t0 )) ms"
expect_in "$(cat "$T/serve.5.log")" "event=daemon.start_retry" "after retrying"
finish
