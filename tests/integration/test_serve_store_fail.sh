#!/usr/bin/env bash
# A store that refuses writes (a full disk: every SQLite commit fails,
# through the test build's failure point store.commit) loses nothing and
# starts nothing it could not record:
#
#   - the refused writes are kept and retried in order; once the store
#     takes writes again, it holds the truth (a dead connector's pid and a
#     stale "ready" do not linger);
#   - meanwhile /readyz answers 503, respawn_ready is 0, the failures and
#     the waiting writes are counted, and sd_notify STATUS says so;
#   - no connector starts meanwhile: not a crashed one's replacement, not
#     a session added meanwhile.
. "$(dirname "$0")/lib.sh"

if ! "$RESPAWN" version 2>/dev/null | grep -q failpoints; then
	ok "built without failure points: skipped (scripts/build has them)"
	finish
fi
lab_start
serve_env
export RECONNECT_DELAY=100 RESPAWN_FAILPOINT_FILE="$T/faults"
: >"$T/proxies.txt"
for ip in $(lab_allocate de 3); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
# The CLI must not see the fault: it writes to the same database.
cli() { env -u RESPAWN_FAILPOINT_FILE "$RESPAWN" "$@"; }
cli session add --user a --phone +4915100000001 --country de >/dev/null
cli session add --user b --phone +4915100000002 --country de >/dev/null
# The daemon's own sd_notify messages, to see its STATUS.
"$BUILD/lab/respawn-lab-notify-recv" "$T/systemd.sock" "$T/systemd.out" &
track_pid $!
wait_for 10 test -S "$T/systemd.sock" || not_ok "notify receiver did not start"
NOTIFY_SOCKET="$T/systemd.sock" serve_start
if wait_for 20 all_ready 2; then ok "both sessions ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
URL=$(api_url)
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" 200 "ready"

# --- the disk is full -----------------------------------------------------
echo "store.commit=fail" >"$T/faults"
sleep 0.3
pid_a=$(sqlite3 "$RESPAWN_DB" "SELECT connector_pid FROM sessions WHERE phone = '+4915100000001'")
kill -KILL "$pid_a"
if wait_for 10 grep -q 'event=store.write_failed' "$T/serve.1.log"; then
	ok "the refused write is logged"
else
	not_ok "no store.write_failed"
fi
cli session add --user c --phone +4915100000003 --country de >/dev/null
sleep 3
expect_eq "$(connected_of +4915100000001)" false \
    "the crashed connector is not replaced while nothing can be recorded"
expect_eq "$(lab_wa | jq -r '.phones["+4915100000003"].connects // 0')" 0 \
    "a session added meanwhile does not start"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" 503 \
    "/readyz says 503"
metrics=$(curl -s "$URL/metrics")
expect_in "$metrics" "respawn_ready 0" "respawn_ready is 0"
failures=$(awk '/^respawn_store_write_failures_total/ { print $2 }' <<<"$metrics")
waiting=$(awk '/^respawn_store_writes_waiting/ { print $2 }' <<<"$metrics")
batches=$(awk '/^respawn_store_batch_failures_total/ { print $2 }' <<<"$metrics")
[ "${failures%.*}" -ge 2 ] && ok "refused writes counted ($failures)" ||
    not_ok "respawn_store_write_failures_total is $failures"
[ "${waiting%.*}" -ge 1 ] && ok "waiting writes shown ($waiting)" ||
    not_ok "respawn_store_writes_waiting is $waiting"
[ "${batches%.*}" -ge 2 ] && ok "failed batches counted ($batches)" ||
    not_ok "respawn_store_batch_failures_total is $batches"
expect_in "$(cat "$T/systemd.out")" "STATUS=the store refuses writes" \
    "sd_notify STATUS says the store refuses writes"

# --- space again ------------------------------------------------------------
rm -f "$T/faults"
if wait_for 20 all_ready 3; then
	ok "once the store takes writes: the crashed one and the new one ready"
else
	not_ok "not all ready: $(cli session ls)"
fi
expect_in "$(cat "$T/serve.1.log")" "event=store.writable_again" "logged"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" 200 \
    "/readyz says 200 again"
if wait_for 20 store_names_live +4915100000001 "$pid_a"; then
	ok "the store names the live connector, not the dead one"
else
	not_ok "the store names: $(sqlite3 "$RESPAWN_DB" "SELECT status, connector_pid FROM sessions WHERE phone = '+4915100000001'") (the dead one was $pid_a)"
fi
expect_in "$(cat "$T/systemd.out")" "STATUS=the store takes writes again" \
    "and sd_notify STATUS says so"
finish
