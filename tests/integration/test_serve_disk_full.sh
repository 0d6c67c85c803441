#!/usr/bin/env bash
# The store on a disk that fills up (a 1 MiB tmpfs; skipped where mounting
# is not permitted): while SQLite cannot commit, the daemon replaces no
# connector and says it is not ready, and once there is space again the
# store holds the truth, not a dead connector's pid and a stale "ready".
# test_serve_store_fail.sh checks the same with the test build's failure
# point, everywhere; this is the real thing.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/disk"
if ! mount -t tmpfs -o size=1m tmpfs "$T/disk" 2>/dev/null; then
	ok "mounting a tmpfs is not permitted here: skipped"
	finish
fi
# The daemon holds the database open: stopped first, then the disk goes.
unmount() {
	local pid
	for pid in "${TRACKED_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	umount "$T/disk" 2>/dev/null
	cleanup
}
trap unmount EXIT
lab_start
serve_env
export RESPAWN_DB="$T/disk/respawn.db" RECONNECT_DELAY=100
: >"$T/proxies.txt"
for ip in $(lab_allocate de 3); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
"$RESPAWN" session add --user a --phone +4915100000001 --country de >/dev/null
"$RESPAWN" session add --user b --phone +4915100000002 --country de >/dev/null
serve_start
if wait_for 20 all_ready 2; then ok "both sessions ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
URL=$(api_url)

dd if=/dev/zero of="$T/disk/fill" bs=4k 2>/dev/null
pid_a=$(sqlite3 "$RESPAWN_DB" "SELECT connector_pid FROM sessions WHERE phone = '+4915100000001'")
kill -KILL "$pid_a"
sleep 3
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" 503 \
    "disk full: /readyz says 503"
expect_eq "$(connected_of +4915100000001)" false \
    "disk full: the crashed connector is not replaced unrecorded"
rm -f "$T/disk/fill"
if wait_for 20 all_ready 2; then ok "space again: both ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
if wait_for 20 store_names_live +4915100000001 "$pid_a"; then
	ok "the store names the live connector, not the dead one"
else
	not_ok "the store names: $(sqlite3 "$RESPAWN_DB" "SELECT status, connector_pid FROM sessions WHERE phone = '+4915100000001'") (the dead one was $pid_a)"
fi
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" 200 \
    "/readyz says 200 again"
finish
