#!/usr/bin/env bash
# Fleet mode: the event loop never waits for PostgreSQL.  Every PostgreSQL
# process is stopped (SIGSTOP: the database accepts connections and
# answers nothing, the worst case, worse than a refused connection) for a
# few seconds, shorter than the fencing deadline.  Meanwhile:
#   - /healthz, /readyz, /api/proxy/status and /metrics answer at once;
#   - /metrics shows the store's worker stuck in a call;
#   - a connector killed during the stall is seen to exit at once;
#   - a store route (/api/sessions) waits for the database, then answers.
# After SIGCONT everything carries on: the killed session is ready again,
# the instance never fenced itself, and it stops gracefully (exit 0).
# Then, with a short lease, a freeze past the fencing deadline: the
# instance fences itself and exits 75 while the database is still frozen.
. "$(dirname "$0")/lib.sh"

N=20
# Long enough for every probe below to finish inside it under a sanitizer
# build on a busy machine (8 to 12 s seen); the lease is 30 s, so fencing
# comes only after 20 s.
STALL_S=14
PG_PIDS=()
stall_cleanup() {
	local pid
	for pid in "${PG_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; done
	pg_stop
	cleanup
}
trap stall_cleanup EXIT
trap 'exit 143' TERM INT HUP

pg_start

lab_start
serve_env_bd
export RESPAWN_DB="$URL" RESPAWN_LEASE=30 RECONNECT_DELAY=300
printf 'stall-key\n' >"$T/api.key"
chmod 600 "$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
for i in $(seq 1 $N); do
	printf 'u%d +4917%09d de\n' "$i" "$i"
done >"$T/sessions.txt"
"$RESPAWN" session import "$T/sessions.txt" >/dev/null || not_ok "session import"
serve_start
API=$(api_url) || { not_ok "no API address"; finish; }
KEYLESS=(-s -m 3 -o /dev/null -w '%{http_code} %{time_total}')
if wait_for 60 all_ready $N; then ok "$N sessions ready in fleet mode"
else not_ok "only $(count_status ready) ready"; finish; fi
expect_in "$(cat "$T/serve.1.log")" "fleet=true" "the instance runs in fleet mode"

# Every process of the cluster: the postmaster (from its pid file, never
# found by name) and its children, the backends.
pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
PG_PIDS=("$pm" $(pgrep -P "$pm"))
expect_eq "$([ "${#PG_PIDS[@]}" -gt 2 ] && echo yes)" yes \
    "the postmaster and its backends found (${#PG_PIDS[@]} processes)"

# The connector to kill during the stall: session 7's.
victim_dir="$RESPAWN_STATE_DIR/sessions/$("$RESPAWN" session show +4917000000007 --json | jq .id)"

# A store route sent during the stall waits for the database, up to the
# API's deadline (5 s): then it is a 503 in JSON, on the open connection.
kill -STOP "${PG_PIDS[@]}"
t0=$SECONDS
curl -s -m 60 -D "$T/sessions.hdr" -o "$T/sessions.json" -w '%{http_code} %{time_total}' \
    "$API/api/sessions?limit=1000" -H "x-api-key: stall-key" >"$T/sessions.code" &
sessions_curl=$!
sleep 1.5	# a tick or two: the worker is now inside a call

# The loop answers while the worker waits.
slowest=0
bad=0
for _ in $(seq 1 10); do
	read -r code secs < <(curl "${KEYLESS[@]}" "$API/healthz")
	[ "$code" = 200 ] || bad=$((bad + 1))
	ms=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')
	[ "$ms" -gt "$slowest" ] && slowest=$ms
	sleep 0.1
done
expect_eq "$bad" 0 "/healthz answered 10 times during the stall"
expect_eq "$([ "$slowest" -lt 1000 ] && echo fast)" fast \
    "the slowest /healthz took $slowest ms (under 1000)"
expect_eq "$(curl "${KEYLESS[@]}" "$API/readyz" | cut -d' ' -f1)" 200 \
    "/readyz answers during the stall"
expect_eq "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$API/metrics")" 200 \
    "/metrics answers during the stall"
busy=$(curl -s -m 3 "$API/metrics" | awk '$1 == "respawn_store_busy_seconds" { print ($2 > 0.5) ? "stuck" : "idle" }')
expect_eq "$busy" stuck "/metrics shows the store's worker stuck in a call"
pending=$(curl -s -m 3 "$API/metrics" | awk '$1 == "respawn_store_jobs_pending" { print $2 }')
expect_eq "$([ "${pending:-0}" -ge 1 ] && echo some)" some \
    "store calls wait in the queue ($pending pending)"

# A connector killed now: the loop reaps it at once.  (Its pid comes from
# the daemon's children by their working directory, not from the store,
# which answers nothing now.)
victim=""
for p in $(pgrep -P "$SERVE_PID"); do
	[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$victim_dir" ] && victim=$p
done
if [ -n "$victim" ] && kill -KILL -- "-$victim" 2>/dev/null; then
	if wait_for 30 grep -q "event=connector.exited.*pid=$victim" "$T/serve.1.log"; then
		ok "a connector killed during the stall was reaped at once"
	else
		not_ok "the killed connector's exit was not seen during the stall"
	fi
else
	not_ok "no connector found in $victim_dir"
fi
expect_eq "$(($SECONDS - t0 < STALL_S + 2 ? 1 : 0))" 1 \
    "all of that within the stall ($((SECONDS - t0)) s)"
wait "$sessions_curl"
read -r code secs <"$T/sessions.code"
expect_eq "$code $(jq -r .error "$T/sessions.json")" "503 unavailable" \
    "GET /api/sessions during the stall: a 503 in JSON at the deadline"
# Not before the deadline, and while the database is still frozen (the
# loop's timers run late under the sanitizers, so no tighter bound).
expect_eq "$(awk -v s="$secs" -v stall="$STALL_S" 'BEGIN { print (s >= 4.5 && s < stall) ? "bounded" : s }')" bounded \
    "... after waiting ${secs} s for the database (deadline 5 s, stall ${STALL_S} s)"
expect_in "$(cat "$T/sessions.hdr")" "Retry-After: 1" "... with Retry-After"

# Let the database go on.
sleep $((STALL_S - (SECONDS - t0) > 0 ? STALL_S - (SECONDS - t0) : 0))
kill -CONT "${PG_PIDS[@]}"
ok "database stalled for $((SECONDS - t0)) s, then resumed"
sessions_ok() {
	[ "$(curl -s -m 10 -o "$T/sessions.json" -w '%{http_code}' \
	    "$API/api/sessions?limit=1000" -H "x-api-key: stall-key")" = 200 ]
}
if wait_for 20 sessions_ok; then ok "GET /api/sessions answered once the database was back"
else not_ok "GET /api/sessions not answered after the stall"; fi
expect_eq "$(jq '.sessions | length' "$T/sessions.json")" $N "... with all $N sessions"
if wait_for 60 all_ready $N; then ok "all $N ready again, the killed one too"
else not_ok "$(count_status ready) ready after the stall"; fi
expect_eq "$(kill -0 "$SERVE_PID" 2>/dev/null && echo alive)" alive \
    "the instance carries on"
expect_not_in "$(cat "$T/serve.1.log")" "event=lease.lost" "it never fenced itself"
expect_eq "$(lab_wa | jq '[.phones[] | select(.connected)] | length')" $N \
    "one WhatsApp connection per phone"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "a graceful stop after the stall (exit 0)"

# A frozen database past the fencing deadline: the instance fences itself
# on time (its loop is free to notice), stops its connectors and exits 75
# while the database is still frozen, leaving behind the threads stuck in
# their calls (no timeout fires against a frozen server).  A short lease
# for this part: fencing after 4 s.
export RESPAWN_LEASE=6
serve_start
if wait_for 60 all_ready $N; then ok "restarted with a 6 s lease: $N ready"
else not_ok "only $(count_status ready) ready"; fi
running=$(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$RESPAWN_STATE_DIR/*" 2>/dev/null | wc -l)
expect_eq "$([ "$running" -ge $N ] && echo yes)" yes "its connectors run ($running processes)"
pm=$(head -n 1 "$PGDIR/data/postmaster.pid")
PG_PIDS=("$pm" $(pgrep -P "$pm"))
kill -STOP "${PG_PIDS[@]}"
t0=$SECONDS
wait_for 30 bash -c "! kill -0 $SERVE_PID 2>/dev/null"
wait "$SERVE_PID"
rc=$?
took=$((SECONDS - t0))
# Connectors by their working directory (an orphan's parent is not us).
left=$(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$RESPAWN_STATE_DIR/*" 2>/dev/null | wc -l)
kill -CONT "${PG_PIDS[@]}"
expect_eq "$rc" 75 "fenced while the database was frozen: exit 75"
expect_eq "$([ "$took" -le 12 ] && echo soon)" soon \
    "exited $took s after the freeze (fencing at 4 s, threads given 2 s each)"
expect_in "$(cat "$T/serve.2.log")" "event=lease.lost" "the fencing is logged"
expect_in "$(cat "$T/serve.2.log")" "event=store.worker_stuck" \
    "the store's worker was left behind, stuck in its call"
expect_eq "$left" 0 "no connector of the fenced instance is left"
finish
