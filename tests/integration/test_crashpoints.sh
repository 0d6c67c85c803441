#!/usr/bin/env bash
# The crash-point suite: the daemon is killed (as by kill -9) at each named
# step between a decision and its record (src/base/failpoint.h lists how;
# docs/ARCHITECTURE.md which steps), then started again, and the
# invariants are checked against the lab (tests/integration/crashlib.sh):
# no phone connected twice, no session lost, no IP billed that the store
# does not know, nothing bought twice, the same IP after recovery.
#
# Each point runs in its own scenario (store, state directory, phones) on
# one respawn-lab that sells IPs through its Bright Data account API: four
# sessions in three countries on an empty store, so the first start buys.
# Points marked "host" are also crashed with every connector killed (the
# machine went down), not only the daemon.  Points naming answer faults
# are crashed a third time with the lab answering untruthfully
# (docs/LAB.md): purchase answers naming known IPs, more or fewer than
# asked, release answers naming other IPs, listings without countries.
#
# CRASHPOINTS="a b" runs only those.  Needs the test build (scripts/build).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crashlib.sh"

if ! crash_supported; then
	ok "built without crash points: skipped (scripts/build has them)"
	finish
fi
lab_start
serve_env_bd
export RECONNECT_DELAY=100 RESPAWN_READY_TIMEOUT=20s
# A purchase cut short by a crash is settled from the listing once the
# provider cannot still carry it out: the request timeout and 5 s.
export BRIGHT_DATA_TIMEOUT=5s
export RESPAWN_LAB_READY_REPEAT_MS=500
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,RESPAWN_LAB_READY_REPEAT_MS

# point phase [host|-] [answers]: phase says how the point is reached;
# answers, which untruthful answers the third variant has.
POINTS=(
	"reconcile.applied start - nocountry"
	"purchase.intent start - known"
	"purchase.answered start host extra"
	"purchase.recorded start - short"
	"recovery.loaded start"
	"spawn.recorded start"
	"spawn.started start host"
	"ready.received start host"
	"adopt.done restart"
	"exit.reaped exit"
	"proxy.detached release"
	"release.requested release - other"
	"release.answered release"
	"handover stop"
	"shutdown.stopped stop"
)

n=0
# The lab's untruthful answers of a variant (docs/LAB.md); the IPs it
# makes the provider allocate beyond the needs.
answers_on() {
	case $1 in
	known) lab_fault '{"endpoint":"POST /zone/ips","kind":"known_ips","rate":0.5}' ;;
	extra) lab_fault '{"endpoint":"POST /zone/ips","kind":"extra_ips","extra":1,"count":1}'
		SURPLUS=1 ;;
	short) lab_fault '{"endpoint":"POST /zone/ips","kind":"short_ips","fewer":1,"count":1}' ;;
	other) lab_fault '{"endpoint":"DELETE /zone/ips","kind":"other_ips","count":1}' ;;
	nocountry) lab_fault '{"endpoint":"GET /zone/ips","kind":"no_country","rate":0.5}' ;;
	esac
}

for entry in "${POINTS[@]}"; do
	read -r point phase host answers <<<"$entry"
	[ "$host" = - ] && host=
	if [ -n "${CRASHPOINTS:-}" ] && ! grep -qw "$point" <<<"$CRASHPOINTS"; then
		continue
	fi
	for variant in daemon ${host:+host} ${answers:+answers}; do
		n=$((n + 1))
		crash_phones 4 "$n" de de us gb
		crash_fresh "p$n"
		lab_faults_clear
		SURPLUS=0
		[ "$variant" = answers ] && answers_on "$answers"
		BOUGHT_MAX=$(( $(crash_bought) + 4 + SURPLUS ))
		CONFLICTS0=$(crash_conflicts)
		SHARES0=$(lab_ip_shares)
		unset RESPAWN_RELEASE_POLICY RESPAWN_IDLE_TIMEOUT
		if [ "$phase" = release ]; then
			export RESPAWN_RELEASE_POLICY=idle-timeout RESPAWN_IDLE_TIMEOUT=1s
		fi
		label="$point ($variant)"
		[ "$variant" = answers ] && label="$point (answers: $answers)"
		IPS0=
		# Reach the point.
		if [ "$phase" = start ]; then
			crash_arm "$point"
			serve_start
		else
			serve_start
			wait_for 30 crash_all_ready || not_ok "$label: not ready before"
			IPS0=$(crash_ips)
			case $phase in
			restart)
				kill -KILL "$SERVE_PID"
				wait "$SERVE_PID" 2>/dev/null
				crash_arm "$point"
				serve_start ;;
			exit)
				crash_arm "$point"
				sleep 0.3
				kill -KILL "$(crash_connectors | head -n 1)" ;;
			release)
				crash_arm "$point"
				sleep 0.3
				env -u RESPAWN_FAILPOINT_FILE "$RESPAWN" session stop \
				    "${CRASH_PHONES[3]}" >/dev/null ;;
			stop)
				crash_arm "$point"
				sleep 0.3
				kill -"$([ "$point" = handover ] && echo USR2 || echo TERM)" \
				    "$SERVE_PID" ;;
			esac
		fi
		if crash_wait_death 30 && grep -qx "$point" "$RESPAWN_CRASH_MARK" 2>/dev/null; then
			ok "$label: crashed there"
		else
			not_ok "$label: the point was not reached"
			kill -KILL "$SERVE_PID" 2>/dev/null
			wait "$SERVE_PID" 2>/dev/null
		fi
		[ "$phase" = start ] && IPS0=$(crash_ips)
		[ "$variant" = host ] && { crash_kill_connectors; IPS0=$IPS0; }
		crash_disarm
		# Recover.
		serve_start
		crash_recovered 40 || true
		crash_check "$label"
		# The stopped phone's IP, idle past RESPAWN_IDLE_TIMEOUT, is given
		# back after the restart too: a crash does not leave it billed.
		if [ "$phase" = release ]; then
			ip3=$(awk -v p="${CRASH_PHONES[3]}" '$1 == p { print $2 }' <<<"$IPS0")
			given_back() {
				curl -s "$LAB_API/lab/ledger" | jq -e --arg ip "$ip3" \
				    '[.allocations[] | select(.ip == $ip and .released_at == null)] | length == 0' >/dev/null
			}
			if [ -n "$ip3" ] && wait_for 30 given_back; then
				ok "$label: the stopped phone's idle IP was given back after the restart"
			else
				crash_violation "$label: the stopped phone's IP ${ip3:-?} is still billed"
			fi
		fi
		kill -TERM "$SERVE_PID"
		wait "$SERVE_PID" 2>/dev/null
		crash_kill_connectors
		lab_faults_clear
		crash_release_all
	done
done
expect_eq "$CRASH_VIOLATIONS" 0 "no invariant violated over $n crash points"
finish
