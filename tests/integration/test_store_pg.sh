#!/usr/bin/env bash
# The PostgreSQL store against a real server: a throwaway cluster
# (scripts/pg-cluster) in a temporary directory, the store's shared unit
# cases run against it (test_store with RESPAWN_TEST_PG_URL), the cases
# only PostgreSQL has (test_store_pg: fair-share claims from concurrent
# connections, leases by the database's clock, stale epochs, lock
# timeouts, lost connections and a restarted server), and the CLI on a
# postgresql:// RESPAWN_DB.  The cluster is stopped, by its pid, whatever
# happens.
. "$(dirname "$0")/lib.sh"

PG_CLUSTER="$SRC/scripts/pg-cluster"
# Not under $T: when run as root the cluster belongs to an unprivileged
# user, who must be able to reach its directory.
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/respawn-pg.XXXXXX")

pg_cleanup() {
	"$PG_CLUSTER" stop "$PGDIR" >/dev/null 2>&1
	rm -rf "$PGDIR"
	cleanup
}
trap pg_cleanup EXIT
trap 'exit 143' TERM INT HUP

# Run a test binary; on failure show what it printed.
run_test() {
	local name=$1
	shift
	run "$@"
	if [ "$rc" -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name (exit $rc)"
		echo "$out"
		echo "$err"
	fi
}

t0=$(date +%s%N)
if ! URL=$("$PG_CLUSTER" start "$PGDIR"); then
	not_ok "throwaway PostgreSQL cluster started"
	finish
fi
ok "throwaway PostgreSQL cluster started ($((($(date +%s%N) - t0) / 1000000)) ms)"
expect_eq "$(cat "$PGDIR/url")" "$URL" "the URL is written to DIR/url"
expect_eq "$("$PG_CLUSTER" url "$PGDIR")" "$URL" "pg-cluster url prints it again"
expect_in "$URL" "@127.0.0.1:" "the cluster listens on loopback"

export RESPAWN_TEST_PG_URL="$URL"
run_test "store unit cases on SQLite and PostgreSQL" "$BUILD/tests/test_store"
expect_eq "$(grep -c 'PASSED' <<<"$out$err")" 2 "both groups ran: SQLite and PostgreSQL"
RESPAWN_TEST_PG_CLUSTER="$PG_CLUSTER" RESPAWN_TEST_PG_DIR="$PGDIR" \
	run_test "PostgreSQL-only store cases" "$BUILD/tests/test_store_pg"
expect_not_in "$out" "SKIPPED" "no PostgreSQL case skipped"

# The CLI on PostgreSQL: the same commands, the same answers.
CLI_URL="$URL?options=-csearch_path%3Dcli"
export RESPAWN_DB="$CLI_URL" RESPAWN_STATE_DIR="$T/state"
run psql -X -q -d "$URL" -c "CREATE SCHEMA cli"
expect_rc 0 "a schema for the CLI"
run "$RESPAWN" session add --user u1 --phone +14155550123 --country us
expect_rc 0 "session add on PostgreSQL"
run "$RESPAWN" session add --user u2 --phone +14155550123 --country us
expect_rc 65 "the same phone twice is refused"
run "$RESPAWN" session ls --json
expect_rc 0 "session ls on PostgreSQL"
expect_eq "$(jq -r '.[0].phoneNumber' <<<"$out")" "+14155550123" "the session is listed"
run "$RESPAWN" session rm +14155550123
expect_rc 0 "session rm on PostgreSQL"
expect_eq "$(psql -X -At -d "$CLI_URL" \
	-c "SELECT string_agg(kind, ',' ORDER BY id) FROM events")" \
	"session.added,session.removed" "each change left its audit event"

# An import (docs/MIGRATION.md) on PostgreSQL: each phone with its IP as
# the previous one, all or nothing, and a second run changing nothing.
pg_count() { psql -X -At -d "$CLI_URL" -c "SELECT (SELECT count(*) FROM sessions) \
	|| ' ' || (SELECT count(*) FROM proxies WHERE state = 'active') || ' ' || \
	(SELECT count(*) FROM assignments)"; }
export RESPAWN_PROVIDER=brightdata BRIGHT_DATA_CUSTOMER_ID=c BRIGHT_DATA_ZONE=z \
	BRIGHT_DATA_ZONE_PASSWORD=pw BRIGHT_DATA_API_KEY_SECRET=env:BD_KEY BD_KEY=k
run env RESPAWN_FAILPOINTS=store.import=fail "$RESPAWN" import --offline "$SRC/docs/migration/sample-export.json"
expect_rc 74 "an import whose store fails"
expect_eq "$(pg_count)" "0 0 0" "leaves nothing"
run "$RESPAWN" import --offline "$SRC/docs/migration/sample-export.json"
expect_rc 0 "the sample export imports on PostgreSQL"
expect_eq "$(pg_count)" "5 5 5" "five sessions, each with its IP assigned"
run "$RESPAWN" import --offline "$SRC/docs/migration/sample-export.json"
expect_in "$out" "0 added, 5 unchanged, 0 refused" "a second import changes nothing"

# A password never shows in what respawn prints.
pw=$(cat "$PGDIR/password")
RESPAWN_DB="postgresql://respawn:$pw@127.0.0.1:1/none?connect_timeout=2" \
	run "$RESPAWN" session ls
expect_rc 74 "an unreachable server is reported (EX_IOERR)"
expect_not_in "$err$out" "$pw" "the password is not printed"

t0=$(date +%s%N)
"$PG_CLUSTER" stop "$PGDIR"
ok "cluster stopped ($((($(date +%s%N) - t0) / 1000000)) ms)"
pid=$(head -n 1 "$PGDIR/data/postmaster.pid" 2>/dev/null || true)
expect_eq "$pid" "" "no postmaster left"
finish
