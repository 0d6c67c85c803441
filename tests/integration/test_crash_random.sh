#!/usr/bin/env bash
# The random crash campaign: one fleet of sessions on respawn-lab's Bright
# Data, crashed again and again, each time in a way drawn from a seed:
#
#   time    kill -9 of the daemon at a random moment (often mid-recovery);
#   point   a crash at a named point (test build), at a random pass,
#           reached by a random operator action (a session added, one
#           removed, one stopped or started: purchases, spawns, releases);
#   host    the daemon and every connector at once (the machine went down);
#   double  any of these, then again within 1.5 s of the next start
#           (a crash during recovery).
#
# After every round the daemon is started again and, once it has settled,
# the invariants are checked against the lab (crashlib.sh): no phone
# connected twice, no session lost, no IP billed that the store does not
# know, nothing bought twice, the same IP after recovery.
#
#   ROUNDS=8 SEED=1    (CI runs this short campaign)
#   ROUNDS=160 SEED=7 tests/integration/test_crash_random.sh build/release .
#                      (the long one: docs/BENCHMARKS.md has its figures)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crashlib.sh"

ROUNDS=${ROUNDS:-8}
SEED=${SEED:-1}
if ! crash_supported; then
	ok "built without crash points: skipped (scripts/build has them)"
	finish
fi
RANDOM=$SEED
lab_start
serve_env_bd
export RECONNECT_DELAY=100 RESPAWN_READY_TIMEOUT=20s
# A purchase cut short by a crash is settled from the listing once the
# provider cannot still carry it out: the request timeout and 5 s.
export BRIGHT_DATA_TIMEOUT=5s
export RESPAWN_RELEASE_POLICY=idle-timeout RESPAWN_IDLE_TIMEOUT=1s
export RESPAWN_LAB_READY_REPEAT_MS=500
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,RESPAWN_LAB_READY_REPEAT_MS

POINTS=(reconcile.applied purchase.intent purchase.answered purchase.recorded
	recovery.loaded spawn.recorded spawn.started ready.received adopt.done
	exit.reaped proxy.detached release.requested release.answered)
crash_phones 6 900 de us gb
crash_fresh campaign
CONFLICTS0=$(crash_conflicts)
SHARES0=$(lab_ip_shares)
BOUGHT_MAX=$(( $(crash_bought) + ${#CRASH_PHONES[@]} ))
cli() { env -u RESPAWN_FAILPOINT_FILE "$RESPAWN" "$@"; }
rand() { echo $((RANDOM % $1)); }
crashes=0 added=0
declare -A kinds=()

# One operator action, drawn: what reaches purchases, spawns and releases.
act() {
	local phone i
	case $(rand 4) in
	0)	added=$((added + 1))
		phone="+49151$(printf '%03d%05d' 901 "$added")"
		cli session add --user r --phone "$phone" --country de >/dev/null &&
		    CRASH_PHONES+=("$phone") && BOUGHT_MAX=$((BOUGHT_MAX + 1)) ;;
	1)	i=$(rand ${#CRASH_PHONES[@]})
		cli session rm "${CRASH_PHONES[$i]}" >/dev/null 2>&1 &&
		    CRASH_PHONES=("${CRASH_PHONES[@]:0:$i}" "${CRASH_PHONES[@]:$((i + 1))}") ;;
	2)	cli session stop "${CRASH_PHONES[$(rand ${#CRASH_PHONES[@]})]}" >/dev/null 2>&1 ;;
	3)	# A stopped one back: its IP may be gone, a new need then.
		phone=$(sqlite3 "$RESPAWN_DB" "SELECT phone FROM sessions WHERE desired = 'stopped' LIMIT 1")
		[ -n "$phone" ] && cli session start "$phone" >/dev/null 2>&1 &&
		    BOUGHT_MAX=$((BOUGHT_MAX + 1)) ;;
	esac
}

# Crash the running daemon now; host: its connectors too.
crash_now() {
	kill -KILL "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
	crashes=$((crashes + 1))
	[ "$1" = host ] && crash_kill_connectors
}

serve_start
wait_for 40 crash_all_ready || not_ok "not ready at the start"
for ((round = 1; round <= ROUNDS; round++)); do
	IPS0=$(crash_ips)
	kind=$(( $(rand 10) < 4 ? 0 : $(rand 10) < 6 ? 1 : 2 ))
	case $kind in
	0)	# At a random moment, 0 to 2.5 s after a start.
		kill -KILL "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
		crashes=$((crashes + 1))
		serve_start
		sleep "0.$(printf '%03d' "$(rand 1000)")"
		[ "$(rand 2)" = 0 ] && sleep 1.5
		how=time ;;
	1)	# At a named point, reached by an action (or killed after 8 s).
		crash_arm "${POINTS[$(rand ${#POINTS[@]})]}" "$(( $(rand 3) + 1 ))"
		act
		crash_wait_death 8 || true
		crash_disarm
		how=point ;;
	2)	act
		sleep "0.$(printf '%03d' "$(rand 1000)")"
		how=action ;;
	esac
	variant=daemon
	[ "$(rand 4)" = 0 ] && variant=host
	crash_now "$variant"
	kinds[$how.$variant]=$(( ${kinds[$how.$variant]:-0} + 1 ))
	# A crash during the recovery that follows, now and then.
	if [ "$(rand 4)" = 0 ]; then
		serve_start
		sleep "$(rand 2).$(printf '%03d' "$(rand 1000)")"
		crash_now "$([ "$(rand 3)" = 0 ] && echo host || echo daemon)"
		kinds[double]=$(( ${kinds[double]:-0} + 1 ))
	fi
	serve_start
	crash_recovered 40 || true
	crash_check "round $round ($how, $variant)"
done
summary=$(for k in "${!kinds[@]}"; do echo "$k=${kinds[$k]}"; done | sort | tr '\n' ' ')
echo "# seed $SEED: $ROUNDS rounds, $crashes crash points ($summary), $CRASH_VIOLATIONS violations"
expect_eq "$CRASH_VIOLATIONS" 0 "no invariant violated over $crashes crash points (seed $SEED)"
finish
