#!/usr/bin/env bash
# How `respawn serve` starts, and how it refuses to: a first start on an
# empty database is logged as such (cause=first_start, not graceful), and
# each reason a daemon cannot start has the exit status the README lists:
# 78 configuration, 74 a database that cannot be read, 70 a database of a
# newer schema, 73 a state directory that cannot be created.
. "$(dirname "$0")/lib.sh"

lab_start
serve_env
: >"$T/proxies.txt"
for ip in $(lab_allocate de); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done

# --- a first start, on an empty database ---------------------------------
# Under a loose umask and in a state directory anybody may enter, what
# respawn writes is still its owner's alone.
umask 022
mkdir -m 0777 "$RESPAWN_STATE_DIR"
chmod 0777 "$RESPAWN_STATE_DIR"
run "$RESPAWN" session add --user u1 --phone +4915100000001 --country de
expect_rc 0 "a session added before the first start"
expect_eq "$(stat -c %a "$RESPAWN_DB")" 600 "the database is created 0600 under umask 022"
serve_start
if wait_for 20 all_ready 1; then ok "the session is ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
expect_in "$(cat "$T/serve.1.log")" "cause=first_start" \
    "the first start is logged as such"
expect_eq "$(stat -c %a "$RESPAWN_STATE_DIR")" 700 "a 0777 state directory is tightened to 0700"
expect_in "$(cat "$T/serve.1.log")" "event=daemon.state_dir_tightened" "and the daemon says so"
wait_for 10 test -e "$RESPAWN_STATE_DIR/api.addr" || true
expect_eq "$(stat -c %a "$RESPAWN_STATE_DIR/api.addr")" 600 "api.addr is 0600"
expect_eq "$(stat -c %a "$RESPAWN_STATE_DIR/logs")" 700 "the logs directory is 0700"
expect_not_in "$(cat "$T/serve.1.log")" "cause=graceful" \
    "and not as a graceful restart"
run sqlite3 "$RESPAWN_DB" "SELECT cause FROM recovery_runs ORDER BY id LIMIT 1"
expect_eq "$out" first_start "the recovery run records it"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "a graceful stop exits 0"
serve_start
wait_for 20 all_ready 1 || true
expect_in "$(cat "$T/serve.2.log")" "cause=graceful" \
    "the next start follows a graceful stop"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"

# --- starts that cannot go on, and their exit statuses -------------------
# serve_exit WANT WHAT ENV...: the daemon, with ENV, exits WANT at once.
serve_exit() {
	local want=$1 what=$2 rc
	shift 2
	env "$@" timeout 20 "$RESPAWN" serve 2>>"$T/refused.log"
	rc=$?
	expect_eq "$rc" "$want" "$what: exit $want"
}
echo junk >"$T/junk.db"
serve_exit 74 "a file that is not a database" RESPAWN_DB="$T/junk.db"
cp "$RESPAWN_DB" "$T/future.db"
sqlite3 "$T/future.db" "PRAGMA user_version = 999"
serve_exit 70 "a database of a newer schema" RESPAWN_DB="$T/future.db"
sqlite3 "$T/negative.db" "PRAGMA user_version = -3"
serve_exit 74 "a database whose schema version is negative" \
    RESPAWN_DB="$T/negative.db"
expect_in "$(tail -3 "$T/refused.log")" "not written by respawn" \
    "a negative schema version: the message says so"
serve_exit 78 "no connector command" RESPAWN_CONNECTOR=
serve_exit 78 "an unknown database scheme" RESPAWN_DB=mysql://localhost/x
: >"$T/file"
serve_exit 73 "a state directory that cannot be created" \
    RESPAWN_STATE_DIR="$T/file/state"
expect_in "$(cat "$T/refused.log")" "daemon.store_failed" \
    "the store's refusal is logged"
finish
