#!/usr/bin/env bash
# POST /api/import: `respawn import` through the running daemon's API.  The
# sample Firestore export (its IPs bought at the lab's zone, as the old
# system bought them) is checked against the provider's listing, imported
# in one write, and the daemon brings every session up on its imported IP
# with no purchase; a second import changes nothing.  The rows form
# ({"rows": [...]}) names refused rows by their index and writes nothing
# unless partial=true; a dry run writes nothing; a listing that fails
# imports nothing (502); offline=true imports without asking.  Then the
# same on PostgreSQL, where the import runs on the store's worker thread.
. "$(dirname "$0")/lib.sh"

import_cleanup() {
	pg_stop
	cleanup
}
trap import_cleanup EXIT
trap 'exit 143' TERM INT HUP

lab_start
serve_env_bd
echo "import-key" >"$T/api.key"
chmod 600 "$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"

# The old system's IPs, bought at the lab (lib.sh).
sample_export "$T/export.json"
N=${#lab_ip[@]}
bought=$(lab_allocated)

# What an import writes (the running daemon writes its own rows meanwhile:
# heartbeats, statuses, the proxies its reconcile adopts).
db_count() { sqlite3 "$RESPAWN_DB" "SELECT (SELECT count(*) FROM sessions) || ' ' || \
	(SELECT count(*) FROM assignments) || ' ' || \
	(SELECT count(*) FROM events WHERE kind = 'session.imported')"; }
db_rows() {
	sqlite3 "$RESPAWN_DB" "SELECT id, user_id, phone, country, desired FROM sessions ORDER BY id;
		SELECT id, session_id, ip, country, requested_country, fallback_used, assigned_at FROM assignments ORDER BY id;
		SELECT count(*) FROM events WHERE kind = 'session.imported'" | sha256sum
}

# import [QUERY] FILE: POST /api/import; sets STATUS and BODY.
import() {
	local q=$1 file=$2
	BODY=$(curl -s -o - -w '\n%{http_code}' -X POST -H 'x-api-key: import-key' \
		-H 'Content-Type: application/json' --data-binary "@$file" "$URL/api/import$q")
	STATUS=$(tail -n 1 <<<"$BODY")
	BODY=$(sed '$d' <<<"$BODY")
}

serve_start
URL=$(api_url) || { not_ok "no api.addr"; finish; }
wait_for 20 curl -sf "$URL/readyz" || not_ok "/readyz"

# A dry run says what would happen and writes nothing.
import '?dryRun=true' "$T/export.json"
expect_eq "$STATUS" 200 "a dry run of the sample: 200"
expect_eq "$(jq -r '[.format, .dryRun, .written, .addedCount, .refusedCount] | join(" ")' <<<"$BODY")" \
	"firestore true false 0 0" "the dry run's figures"
expect_eq "$(jq '[.rows[] | select(.action == "would add" and .listed)] | length' <<<"$BODY")" 5 \
	"five rows would be added, each IP listed by the zone"
expect_eq "$(jq -r '.rows[] | select(.phoneNumber == "+32470123456") | "\(.country)>\(.proxyCountry):\(.fallbackUsed)"' <<<"$BODY")" \
	"be>nl:true" "be's session keeps its fallback IP in nl"
expect_eq "$(jq -r '[.fieldsIgnoredCount, .supersededCount] | join(" ")' <<<"$BODY")" "3 1" \
	"unknown fields and older assignments counted, as the command counts them"
expect_eq "$(db_count)" "0 0 0" "the dry run wrote nothing"

# The import, while the daemon runs: it takes the sessions at once and
# reactivates every imported IP, buying nothing.
import '' "$T/export.json"
expect_eq "$STATUS $(jq -r '[.written, .addedCount] | join(" ")' <<<"$BODY")" "200 true 5" \
	"the sample imports through the API"
expect_eq "$(db_count)" "5 5 5" "five sessions, assignments and audit events"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM events WHERE kind = 'session.imported' AND actor = 'api'")" 5 \
	"the events name the API"
sample_on_its_ips ""
expect_eq "$(lab_allocated)" "$bought" "the lab allocated nothing new"
expect_eq "$(grep -c 'event=purchase.start' "$T/serve.1.log")" 0 "no purchase"
expect_eq "$(lab_ip_shares)" 0 "no IP served two phones"

# A second import changes nothing.
before=$(db_rows)
import '' "$T/export.json"
expect_eq "$STATUS $(jq -r '[.addedCount, .unchangedCount, .refusedCount] | join(" ")' <<<"$BODY")" \
	"200 0 5 0" "a second import: every row unchanged"
expect_eq "$(db_rows)" "$before" "the database is the same"

# The rows form: bad rows named by their index, nothing written unless
# partial=true.
spare=$(lab_allocate us)
jq -n --arg spare "$spare" '{rows: [
	{userId: "r1", phoneNumber: "+14155550101", country: "us", proxyIp: $spare},
	{userId: "r2", phoneNumber: "+1415555", country: "us"},
	{userId: "r3", phoneNumber: "+14155550103", country: "zz"},
	{userId: "r4", phoneNumber: "+14155550104", country: "us", proxyIp: "198.51.100.7"},
	"not an object"]}' >"$T/rows.json"
before=$(db_rows)
import '' "$T/rows.json"
expect_eq "$STATUS $(jq -r '[.written, .refusedCount] | join(" ")' <<<"$BODY")" "422 false 4" \
	"rows with bad ones: 422, nothing written"
expect_eq "$(jq -r '[.rows[] | select(.action == "refused") | .from] | join(",")' <<<"$BODY")" \
	"rows[1],rows[2],rows[3],rows[4]" "refused rows named by their index"
expect_in "$(jq -r '.rows[3].error' <<<"$BODY")" "198.51.100.7 is not listed by brightdata zone isp_lab" \
	"an IP the provider does not list is refused"
expect_in "$(jq -r '.rows[1].error' <<<"$BODY")" "bad phone number" "a bad phone is refused"
expect_eq "$(db_rows)" "$before" "all or nothing: nothing written"
import '?partial=true' "$T/rows.json"
expect_eq "$STATUS $(jq -r '[.written, .addedCount, .refusedCount] | join(" ")' <<<"$BODY")" "200 true 1 4" \
	"partial=true: the good row added, the others refused"
if wait_for 20 all_ready $((N + 1)); then ok "the row imported with partial=true is ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(ip_of +14155550101)" "$spare" "on its imported IP"
expect_eq "$(grep -c 'event=purchase.start' "$T/serve.1.log")" 0 "still no purchase"

# A csv file's text, as the command reads the file: its IP checked
# against the zone, its row named by its line.
spare3=$(lab_allocate de)
jq -n --arg ip "$spare3" '{format: "csv", text: ("user,phone,country,proxy\nc1,+4915100000301,de," + $ip + "\n")}' >"$T/csv.json"
import '' "$T/csv.json"
expect_eq "$STATUS $(jq -r '[.format, .addedCount, .listedCount, .rows[0].from] | join(" ")' <<<"$BODY")" \
	"200 csv 1 1 line 2" "a csv file's text: imported, its IP listed, its row named by line"
if wait_for 20 all_ready $((N + 2)); then ok "the csv row is ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(ip_of +4915100000301)" "$spare3" "on its imported IP"

# A listing that fails imports nothing; offline=true imports unchecked.
spare2=$(lab_allocate us)
jq -n --arg ip "$spare2" '{rows: [{userId: "o1", phoneNumber: "+14155550201",
	country: "us", proxyIp: $ip, desiredState: "stopped"}]}' >"$T/one.json"
lab_fault '{"endpoint": "GET /zone/ips", "kind": "error", "statuses": [400], "count": 5}'
before=$(db_rows)
import '' "$T/one.json"
expect_eq "$STATUS $(jq -r .error <<<"$BODY")" "502 bad_gateway" "a failed listing: 502"
expect_in "$(jq -r .message <<<"$BODY")" "offline=true" "the answer says how to import without checking"
expect_eq "$(db_rows)" "$before" "and nothing was written"
import '?offline=true' "$T/one.json"
expect_eq "$STATUS $(jq -r '[.addedCount, .listedCount] | join(" ")' <<<"$BODY")" "200 1 0" \
	"offline=true: imported without asking the provider"
lab_faults_clear

# Bad requests.
printf '[1,2]' >"$T/array.json"
import '' "$T/array.json"
expect_eq "$STATUS $(jq -r .error <<<"$BODY")" "400 invalid_request" "a body that is neither form: 400"
import '?dryRun=yes' "$T/one.json"
expect_eq "$STATUS $(jq -r .field <<<"$BODY")" "400 dryRun" "dryRun=yes: 400 naming it"
import '?force=true' "$T/one.json"
expect_eq "$STATUS $(jq -r .field <<<"$BODY")" "400 force" "an unknown parameter: 400 naming it"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "graceful stop"

# --- killed during an import ------------------------------------------------
# Before its commit (store.import: every row written, the transaction
# open) nothing of it is in the store; after it (import.applied: committed,
# not answered) all of it, and the client's retry changes nothing.
if "$RESPAWN" version | grep -q failpoints; then
	jq -n '{rows: [range(2) | {userId: "k\(.)", phoneNumber: "+4915100007\(.)00",
		country: "de", desiredState: "stopped"}]}' >"$T/crash.json"
	imported() { sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions WHERE user_id LIKE 'k%'"; }
	for point in store.import import.applied; do
		rm -f "$RESPAWN_STATE_DIR/api.addr"
		export RESPAWN_FAILPOINTS="$point=crash"
		serve_start
		unset RESPAWN_FAILPOINTS
		URL=$(api_url) || { not_ok "no api.addr ($point)"; finish; }
		wait_for 20 curl -sf "$URL/readyz" || not_ok "/readyz ($point)"
		import '' "$T/crash.json"
		wait "$SERVE_PID"
		expect_eq "$? $STATUS" "137 000" "$point: the daemon was killed before it answered"
		if [ "$point" = store.import ]; then
			expect_eq "$(imported)" 0 "$point: nothing of the import is in the store"
		else
			expect_eq "$(imported)" 2 "$point: the whole import is in the store"
		fi
	done
	rm -f "$RESPAWN_STATE_DIR/api.addr"
	serve_start
	URL=$(api_url) || { not_ok "no api.addr after the crashes"; finish; }
	import '' "$T/crash.json"
	expect_eq "$STATUS $(jq -r '[.addedCount, .unchangedCount] | join(" ")' <<<"$BODY")" "200 0 2" \
		"the client's retry after the crash changes nothing"
	expect_eq "$(imported)" 2 "each session once"
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
else
	ok "built without crash points: the crash cases skipped"
fi

# --- fleet mode: the import runs on the store's worker thread -------------
# The same export into a daemon on PostgreSQL (its phones stopped above):
# imported in one transaction of the worker's connection, the sessions up
# on the same IPs, nothing bought; a refused row writes nothing.
pg_start
export RESPAWN_DB="$URL" RESPAWN_STATE_DIR="$T/state.pg"
serve_start
URL=$(api_url) || { not_ok "no api.addr (PostgreSQL)"; finish; }
wait_for 20 curl -sf "$URL/readyz" || not_ok "/readyz (PostgreSQL)"
bought=$(lab_allocated)
import '?partial=false' "$T/rows.json"
expect_eq "$STATUS $(jq -r '[.written, .refusedCount] | join(" ")' <<<"$BODY")" "422 false 4" \
	"PostgreSQL: rows with bad ones: 422, nothing written"
expect_eq "$("$RESPAWN" session ls --json | jq length)" 0 "PostgreSQL: no session added"
import '' "$T/export.json"
expect_eq "$STATUS $(jq -r '[.written, .addedCount, .listedCount] | join(" ")' <<<"$BODY")" "200 true 5 5" \
	"PostgreSQL: the sample imports through the API"
sample_on_its_ips "PostgreSQL: "
expect_eq "$(lab_allocated)" "$bought" "PostgreSQL: the lab allocated nothing new"
expect_eq "$(grep -c 'event=purchase.start' "$T/serve.2.log")" 0 "PostgreSQL: no purchase"
import '' "$T/export.json"
expect_eq "$STATUS $(jq -r '[.addedCount, .unchangedCount] | join(" ")' <<<"$BODY")" "200 0 5" \
	"PostgreSQL: a second import changes nothing"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "PostgreSQL: graceful stop"
finish
