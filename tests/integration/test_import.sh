#!/usr/bin/env bash
# `respawn import` brings a fleet from the system respawn replaces: the
# sample Firestore export of docs/migration/ imports (its IPs being ones
# the lab's zone holds, bought there as the old system bought them), the
# daemon recovers every session on its imported IP with no purchase at the
# lab's ledger, and a second import changes nothing.  Rows that cannot be
# mapped (a bad phone, an unknown country, an IP the provider does not
# list) are refused with their line, and nothing is written unless
# --partial; --dry-run writes nothing; a store failure after every write
# leaves nothing.  A running daemon takes an import the same way.
. "$(dirname "$0")/lib.sh"

lab_start
serve_env_bd

# The old system's IPs, bought at the lab (lib.sh).
sample_export "$T/export.json"
N=${#lab_ip[@]}
expect_eq "$N" 5 "the sample has five phones with a proxy"
bought=$(lab_allocated)

db_count() { sqlite3 "$RESPAWN_DB" "SELECT (SELECT count(*) FROM sessions) || ' ' || \
	(SELECT count(*) FROM proxies) || ' ' || (SELECT count(*) FROM assignments)"; }
db_dump() { sqlite3 "$RESPAWN_DB" .dump | sha256sum; }

# --dry-run says what would happen and writes nothing.
run "$RESPAWN" import --dry-run "$T/export.json"
expect_rc 0 "dry run of the sample"
expect_in "$out" "would add  +32470123456     user_be1 be running, previous IP ${lab_ip[+32470123456]} (nl, listed)" \
	"be's session keeps its fallback IP in nl"
expect_in "$out" "5 to add, 0 unchanged, 0 refused; 3 unknown fields ignored, 1 older proxy assignments superseded" \
	"the dry run counts rows, unknown fields and older assignments"
expect_in "$out" "5 previous IPs to record, listed by brightdata zone isp_lab" "every IP checked against the zone"
expect_eq "$(db_count)" "0 0 0" "the dry run wrote nothing"

# The import: sessions with their countries, each IP the phone's previous.
run "$RESPAWN" import "$T/export.json"
expect_rc 0 "the sample imports"
expect_in "$out" "5 added, 0 unchanged, 0 refused" "five sessions added"
expect_eq "$(db_count)" "5 5 5" "five sessions, proxies and assignments"
run sqlite3 "$RESPAWN_DB" "SELECT requested_country || '>' || country || ':' || fallback_used \
	FROM assignments WHERE phone = '+32470123456'"
expect_eq "$out" "be>nl:1" "be's assignment: requested be, fallback nl"
run sqlite3 "$RESPAWN_DB" "SELECT graceful_shutdown || ' ' || shutdown_at FROM sessions WHERE phone = '+14155551234'"
expect_eq "$out" "1 1796601600000" "gracefulShutdown and shutdownAt kept"
run sqlite3 "$RESPAWN_DB" "SELECT assigned_at FROM assignments WHERE phone = '+14155551234'"
expect_eq "$out" "1796436000120" "assignedAt kept (the newest of two)"

# A reconcile shows the zone holds every imported IP, and nothing else.
run "$RESPAWN" proxy reconcile --dry-run
expect_rc 0 "reconcile after the import"
expect_in "$out" "$N listed; 0 adopted, 0 found, 0 corrected, 0 lost" "the zone holds exactly the imported IPs"

# A second import changes nothing.
before=$(db_dump)
run "$RESPAWN" import "$T/export.json"
expect_rc 0 "a second import"
expect_in "$out" "0 added, 5 unchanged, 0 refused" "every row unchanged"
expect_eq "$(db_dump)" "$before" "the database is the same"

# The daemon recovers them on their imported IPs, buying nothing.
serve_start
sample_on_its_ips ""
expect_eq "$(lab_allocated)" "$bought" "the lab allocated nothing new"
expect_eq "$(curl -s "$LAB_API/lab/ledger" | jq '.allocations | length')" "$N" "the ledger holds only the old system's IPs"
expect_eq "$(grep -c 'event=purchase.start' "$T/serve.1.log")" 0 "no purchase"
wait_for 10 grep -q 'event=recovery.completed' "$T/serve.1.log"
expect_in "$(grep 'event=recovery.completed' "$T/serve.1.log")" "reactivated=$N" "every IP reactivated"
expect_eq "$(lab_ip_shares)" 0 "no IP served two phones"

# While the daemon runs: the new session is nobody's, the daemon claims
# it with its proxy's row and reactivates the IP, buying nothing.
spare=$(lab_allocate us)
bought=$(lab_allocated)
run "$RESPAWN" import - <<<"u9,+14155550009,us,$spare"
expect_rc 0 "an import while the daemon runs"
if wait_for 20 all_ready $((N + 1)); then ok "the session imported into a running daemon is ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(ip_of +14155550009)" "$spare" "on its imported IP"
expect_eq "$(grep -c 'event=purchase.start' "$T/serve.1.log")" 0 "still no purchase"
expect_eq "$(lab_allocated)" "$bought" "the lab allocated nothing new"

kill -TERM "$SERVE_PID"; wait "$SERVE_PID"
before=$(db_dump)
run "$RESPAWN" import "$T/export.json"
expect_rc 0 "an import after the daemon ran"
expect_in "$out" "0 added, 5 unchanged, 0 refused" "still nothing to change"
expect_eq "$(db_dump)" "$before" "the database is the same"

# --- rows that cannot be mapped --------------------------------------------
export RESPAWN_DB="$T/errors.db"
cat >"$T/fleet.csv" <<EOF
user,phone,country,proxy
u1,+14155550001,us,$spare
u2,+1415555,us,
u3,+14155550003,zz,
u4,+14155550004,us,198.51.100.7
u5,+14155550005,de,
EOF
run "$RESPAWN" import "$T/fleet.csv"
expect_rc 65 "a file with bad rows"
expect_in "$err" "fleet.csv: line 3: bad phone number '+1415555'" "a bad phone, by its line"
expect_in "$err" "fleet.csv: line 4: unknown country 'zz'" "an unknown country, by its line"
expect_in "$err" "fleet.csv: line 5: proxy 198.51.100.7 is not listed by brightdata zone isp_lab" \
	"an IP the provider does not list, by its line"
expect_in "$out" "nothing written" "says nothing was written"
expect_eq "$(db_count)" "0 0 0" "all or nothing: nothing written"

run "$RESPAWN" import --partial "$T/fleet.csv"
expect_rc 65 "--partial still reports the bad rows"
expect_in "$out" "2 added, 0 unchanged, 3 refused" "--partial adds the good rows"
expect_eq "$(db_count)" "2 1 1" "two sessions, one with its proxy"
run "$RESPAWN" import --partial "$T/fleet.csv"
expect_in "$out" "0 added, 2 unchanged, 3 refused" "and a second run changes nothing"

# JSON lines: the same mapping, the same line numbers.
printf '%s\n' '{"userId":"j1","phoneNumber":"+33612345670","country":"fr"}' \
	'{"userId":"j2","phoneNumber":"+33612345671","country":"fr","proxyIp":"198.51.100.8"}' \
	'not json' >"$T/fleet.jsonl"
run "$RESPAWN" import --json "$T/fleet.jsonl"
expect_rc 65 "JSON lines with bad rows"
expect_eq "$(jq -r '[.rows[] | select(.action == "refused") | .line] | join(",")' <<<"$out")" "2,3" \
	"refused rows named by line in --json"
expect_eq "$(jq -r '.written' <<<"$out")" "false" "nothing written"

# A store failure after every write undoes them all.
run env RESPAWN_FAILPOINTS=store.import=fail "$RESPAWN" import "$T/export.json" --offline
expect_rc 74 "a store failure during the import"
expect_eq "$(db_count)" "2 1 1" "nothing of it was written"

# Imported without checking (--offline), an IP the zone does not hold is
# what a reconcile then shows as lost.
export RESPAWN_DB="$T/offline.db"
run "$RESPAWN" import --offline - <<<'{"userId":"u1","phoneNumber":"+14155550001","country":"us","proxyIp":"198.51.100.9","assignedAt":"2026-12-01T00:00:00Z"}'
expect_rc 0 "an unchecked import"
expect_in "$out" "not checked (--offline)" "says it did not check"
run "$RESPAWN" proxy reconcile --dry-run
expect_in "$out" "would lose   198.51.100.9" "a reconcile shows the zone does not hold it"

# A Firestore document that cannot be mapped is named by its path.
jq '.proxy_assignments.user_in1_919812345678.requestedCountry = "xx"' "$T/export.json" >"$T/bad.json"
export RESPAWN_DB="$T/bad.db"
run "$RESPAWN" import "$T/bad.json"
expect_rc 65 "an export with a bad document"
expect_in "$err" "bad.json: proxy_assignments/user_in1_919812345678: unknown country 'xx'" \
	"named by collection and document"
expect_eq "$(db_count)" "0 0 0" "nothing written"

finish
