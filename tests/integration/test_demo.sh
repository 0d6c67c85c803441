#!/usr/bin/env bash
# `respawn demo`, the README's main job: every phase succeeds and the JSON
# summary says so (all sessions recovered after the host crash, every proxy
# reactivated, nothing bought, no conflict, no IP changed, the sessions of
# be, bd and ng on fallback countries), and whatever way it ends (success,
# SIGINT, SIGTERM) no process it started survives and its temporary
# directory is gone.
. "$(dirname "$0")/lib.sh"

# The demo's directory goes under the test's own, to find it from here.
export TMPDIR=$T

# leftovers DIR: processes that still mention the demo's directory in
# their command line or environment (one grep for all of them: the machine
# may run thousands of processes).
leftovers() {
	local n
	n=$(pgrep -f -- "$1" | wc -l)
	n=$((n + $(grep -lsF -- "$1" /proc/[0-9]*/environ | wc -l)))
	echo "$n"
}

run "$RESPAWN" demo --json
expect_rc 0 "respawn demo --json"
sum=$out
n=$(jq -r .sessions <<<"$sum")
expect_eq "$n" 50 "50 sessions by default"
expect_eq "$(jq -r .ok <<<"$sum")" true "every phase succeeded"
expect_eq "$(jq -r .provider <<<"$sum")" brightdata "IPs bought from the lab's account API"
expect_eq "$(jq -r .firstStart.ready <<<"$sum")" "$n" "first start: all ready"
expect_eq "$(jq -r .firstStart.bought <<<"$sum")" "$n" "first start: one IP bought per session"
expect_eq "$(jq -r .daemonKill.ready <<<"$sum")" "$n" "kill -9: all ready after the restart"
expect_eq "$(jq -r .daemonKill.adopted <<<"$sum")" "$n" "kill -9: every connector re-adopted"
expect_eq "$(jq -r .daemonKill.reconnects <<<"$sum")" 0 "kill -9: no reconnect at WhatsApp"
expect_eq "$(jq -r .hostCrash.connectorsKilled <<<"$sum")" "$n" "host crash: every connector killed"
expect_eq "$(jq -r .recovered <<<"$sum")" "$n" "host crash: all recovered"
expect_eq "$(jq -r .reactivated <<<"$sum")" "$n" "host crash: every proxy reactivated"
expect_eq "$(jq -r .bought <<<"$sum")" 0 "host crash: nothing bought"
expect_eq "$(jq -r .conflicts <<<"$sum")" 0 "no conflict at WhatsApp"
expect_eq "$(jq -r .ipsChanged <<<"$sum")" 0 "no IP changed"
expect_eq "$(jq -r '.fallback >= 3' <<<"$sum")" true "at least three sessions on a fallback country"
expect_eq "$(jq -r '[.fallbacks[] | "\(.requested)>\(.country)"] | sort | join(" ")' <<<"$sum")" \
	"bd>in be>nl ng>za" "be, bd and ng fell back along their chains"
expect_eq "$(jq -r .gracefulShutdown <<<"$sum")" "$n" "graceful stop marks every session"
expect_eq "$(jq -r '.spendUsd > 0' <<<"$sum")" true "the lab billed the IPs"
expect_eq "$(jq -r '.failures | length' <<<"$sum")" 0 "no failed check"
expect_eq "$(jq -r .leftoverProcesses <<<"$sum")" 0 "nothing escaped the demo's own bookkeeping"
dir=$(jq -r .dir <<<"$sum")
expect_in "$dir" "$T/respawn-demo." "the directory was made under TMPDIR"
sleep 0.2
expect_eq "$(leftovers "$dir")" 0 "no process of the demo survives"
if [ -e "$dir" ]; then not_ok "the temporary directory is left: $dir"
else ok "the temporary directory is removed"; fi

run "$RESPAWN" demo --sessions 3 --keep --json
expect_rc 0 "respawn demo --sessions 3 --keep"
dir=$(jq -r .dir <<<"$out")
expect_eq "$(jq -r .recovered <<<"$out")" 3 "three sessions recovered"
if [ -s "$dir/respawn.db" ] && [ -s "$dir/serve3.log" ]; then ok "--keep keeps the store and logs"
else not_ok "--keep: $(ls -la "$dir" 2>&1)"; fi
expect_eq "$(leftovers "$dir")" 0 "--keep: no process survives"
rm -rf "$dir"

# Interrupted: SIGTERM during the first start, SIGINT after the kill -9
# (a background job ignores SIGINT unless it is given back its default).
for case in "TERM serve1.log" "INT serve2.log"; do
	read -r sig log <<<"$case"
	rm -rf "$T"/respawn-demo.*
	env --default-signal=INT "$RESPAWN" demo >"$T/int.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	if wait_for 60 compgen -G "$T/respawn-demo.*/$log"; then
		dir=$(dirname "$(compgen -G "$T/respawn-demo.*/$log")")
		sleep 0.3
		kill -"$sig" "$pid"
		wait "$pid"
		rc=$?
		err=$(cat "$T/int.out")
		expect_rc $((128 + $(kill -l "$sig"))) "SIG$sig: the demo stops"
		expect_in "$err" "interrupted" "SIG$sig: says so"
		sleep 0.2
		expect_eq "$(leftovers "$dir")" 0 "SIG$sig: no process of the demo survives"
		if [ -e "$dir" ]; then not_ok "SIG$sig: the temporary directory is left: $dir"
		else ok "SIG$sig: the temporary directory is removed"; fi
	else
		not_ok "SIG$sig: the demo never reached $log: $(cat "$T/int.out")"
	fi
done

run "$RESPAWN" demo --lab "$T/nowhere"
expect_rc 69 "the lab's binaries missing"
expect_in "$err" "respawn-lab not found: $T/nowhere/respawn-lab" "the error names what is missing"
run "$RESPAWN" demo --sessions 1000
expect_rc 64 "--sessions is bounded"
finish
