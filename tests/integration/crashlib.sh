# Helpers of the crash-point suite (test_crashpoints.sh) and of the
# random crash campaign (test_crash_random.sh), sourced after lib.sh.
#
# A crash is checked against sources the daemon does not write: the lab's
# WhatsApp stand-in (who is connected, from which IP, and whether a phone
# was ever connected twice at once: its "conflicts") and the lab's billing
# ledger (every IP ever allocated, and whether it was given back).  The
# daemon's store is only compared with them.

# The test build's crash points: none in a plain build.
crash_supported() { "$RESPAWN" version 2>/dev/null | grep -q failpoints; }

# Phones of one scenario: distinct per scenario, so the stand-in's counts
# of one scenario never mix with another's.  crash_phones N PREFIX COUNTRY...
CRASH_PHONES=()
CRASH_COUNTRIES=()
crash_phones() {
	local n=$1 prefix=$2 i cc
	shift 2
	local ccs=("$@")
	CRASH_PHONES=()
	CRASH_COUNTRIES=()
	for ((i = 0; i < n; i++)); do
		cc=${ccs[$((i % ${#ccs[@]}))]}
		case $cc in
		de) CRASH_PHONES+=("+49151$(printf '%03d%05d' "$prefix" "$i")") ;;
		us) CRASH_PHONES+=("+1415$(printf '%03d%04d' "$prefix" "$i")") ;;
		gb) CRASH_PHONES+=("+447$(printf '%03d%06d' "$prefix" "$i")") ;;
		esac
		CRASH_COUNTRIES+=("$cc")
	done
}

# A fresh store and state directory for a scenario, its sessions added.
crash_fresh() {
	local name=$1 i
	export RESPAWN_DB="$T/$name.db" RESPAWN_STATE_DIR="$T/$name"
	export RESPAWN_FAILPOINT_FILE="$T/$name.faults" RESPAWN_CRASH_MARK="$T/$name.crashed"
	rm -f "$RESPAWN_FAILPOINT_FILE" "$RESPAWN_CRASH_MARK"
	for i in "${!CRASH_PHONES[@]}"; do
		env -u RESPAWN_FAILPOINT_FILE "$RESPAWN" session add --user "u$i" \
		    --phone "${CRASH_PHONES[$i]}" --country "${CRASH_COUNTRIES[$i]}" >/dev/null
	done
}

# Give every IP the lab bills back (as a customer would, through the
# account API), so the next scenario's empty store starts from an empty
# zone: what it needs, it buys.
crash_release_all() {
	local ips
	ips=$(curl -s "$LAB_API/lab/ledger" | jq -c '[.allocations[] | select(.released_at == null) | .ip]')
	[ "$ips" = "[]" ] && return 0
	curl -s -X DELETE -H "$LAB_KEY" -H 'Content-Type: application/json' \
	    --data "{\"zone\":\"isp_lab\",\"ips\":$ips}" "$LAB_API/zone/ips" >/dev/null
}

# Arm a crash point (the daemon re-reads the file within 100 ms).
crash_arm() { echo "$1=crash${2:+@$2}" >"$RESPAWN_FAILPOINT_FILE"; }
crash_disarm() { rm -f "$RESPAWN_FAILPOINT_FILE"; }

# Wait for the daemon ($SERVE_PID) to die; true if it did within $1 s.
crash_wait_death() {
	local limit=$(($1 * 20)) i=0
	while kill -0 "$SERVE_PID" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.05
	done
	wait "$SERVE_PID" 2>/dev/null
	return 0
}

# Every process of the scenario's state directory (its connectors): a host
# crash kills them with the daemon.
crash_connectors() {
	find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$RESPAWN_STATE_DIR/*" 2>/dev/null |
	    cut -d/ -f3
}
crash_kill_connectors() { crash_connectors | xargs -r kill -KILL 2>/dev/null; sleep 0.2; }

# The phones' IPs at the stand-in now, as "phone ip" lines (connected ones).
crash_ips() {
	lab_wa | jq -r --argjson ph "$(printf '%s\n' "${CRASH_PHONES[@]}" | jq -R . | jq -s .)" \
	    '.phones | to_entries[] | select(.key as $k | $ph | index($k)) |
	     select(.value.connected) | "\(.key) \(.value.ip)"' | sort
}

# Sum of the scenario's phones' conflicts at the stand-in.
crash_conflicts() {
	lab_wa | jq --argjson ph "$(printf '%s\n' "${CRASH_PHONES[@]}" | jq -R . | jq -s .)" \
	    '[.phones | to_entries[] | select(.key as $k | $ph | index($k)) | .value.conflicts] | add // 0'
}

# The scenario's sessions that should run are all ready.
crash_all_ready() {
	local want
	want=$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions WHERE desired = 'running'")
	[ "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions WHERE desired = 'running' AND status = 'ready'")" = "$want" ]
}

# The daemon just started ($SERVE_N) has recovered, and every session that
# should run is ready.  Until its recovery is done, the store may still say
# "ready" of connectors that died with the last one: that is no answer.
crash_recovered() {
	wait_for "$1" grep -Eq 'event=recovery\.(completed|nothing)' "$T/serve.$SERVE_N.log" &&
	    wait_for "$1" crash_all_ready
}

# IPs the lab bills now (allocated, not released), and ever allocated.
crash_billed() { curl -s "$LAB_API/lab/ledger" | jq '[.allocations[] | select(.released_at == null)] | length'; }
crash_bought() { curl -s "$LAB_API/lab/ledger" | jq '.allocations | length'; }

# The invariants after a crash and a recovery (LABEL names the case):
#   1. no phone was connected twice at once (the stand-in's conflicts rose
#      by none since CONFLICTS0), and no IP served two phones at once
#      (its ip_shares rose by none since SHARES0, when set);
#   2. no session is lost: every one that should run is ready;
#   3. no IP is billed that the store does not know;
#   4. nothing is bought twice for one need: the lab allocated BOUGHT_MAX at
#      most, ever;
#   5. every phone connected before the crash (IPS0 lines) is back on the
#      same IP, where the provider still bills it.
# Of the IPs given (one per line), those the lab still bills that the
# store does not hold live, each with what the store says of it (no row,
# or its state, session, intent and times).
crash_unknown_ips() {
	local ip
	while read -r ip; do
		[ -n "$ip" ] || continue
		[ "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies WHERE ip = '$ip' AND state NOT IN ('released', 'lost')")" = 1 ] &&
		    continue
		curl -s "$LAB_API/lab/ledger" | jq -e --arg ip "$ip" \
		    '[.allocations[] | select(.ip == $ip and .released_at == null)] | length > 0' \
		    >/dev/null || continue
		printf '%s=[%s] ' "$ip" "$(sqlite3 "$RESPAWN_DB" "SELECT state || ',s' || coalesce(session_id, 0) || ',i' || coalesce(intent_id, 0) || ',p' || coalesce(purchased_at, 0) || ',r' || coalesce(released_at, 0) FROM proxies WHERE ip = '$ip'" | tr '\n' ';')"
	done <<<"$1"
}
# The daemon's last words on proxies, for a violation's message.
crash_last_words() {
	tail -n 400 "$T/serve.$SERVE_N.log" | grep -E 'event=(reconcile|proxy\.(lost|release)|purchase)' | tail -n 8 | tr '\n' '|'
}

CRASH_VIOLATIONS=0
crash_violation() { CRASH_VIOLATIONS=$((CRASH_VIOLATIONS + 1)); not_ok "$*"; }
crash_check() {
	local label=$1 c billed billed_ips unknown bought line phone ip now
	c=$(crash_conflicts)
	[ "$c" -le "$CONFLICTS0" ] && ok "$label: no phone connected twice" ||
	    crash_violation "$label: phones connected twice: $((c - CONFLICTS0))"
	if [ -n "${SHARES0:-}" ]; then
		c=$(lab_ip_shares)
		[ "$c" -le "$SHARES0" ] && ok "$label: no IP served two phones" ||
		    crash_violation "$label: IPs that served two phones at once: $((c - SHARES0))"
	fi
	crash_all_ready && ok "$label: no session lost" ||
	    crash_violation "$label: sessions not ready: $(sqlite3 "$RESPAWN_DB" "SELECT phone || ':' || status FROM sessions WHERE desired = 'running' AND status <> 'ready'" | tr '\n' ' ')"
	# One snapshot of the ledger; an IP the store does not hold live is
	# unknown only if the lab still bills it afterwards (the daemon may
	# give an idle IP back between the two reads).
	billed_ips=$(curl -s "$LAB_API/lab/ledger" | jq -r '.allocations[] | select(.released_at == null) | .ip')
	billed=$(grep -c . <<<"$billed_ips" || true)
	unknown=$(crash_unknown_ips "$billed_ips")
	[ -z "$unknown" ] && ok "$label: every billed IP is in the store ($billed)" ||
	    crash_violation "$label: billed IPs unknown to the store (of $billed): $unknown $(crash_last_words)"
	bought=$(crash_bought)
	[ "$bought" -le "$BOUGHT_MAX" ] && ok "$label: nothing bought twice ($bought IPs for $BOUGHT_MAX needs)" ||
	    crash_violation "$label: $bought IPs bought for $BOUGHT_MAX needs"
	now=$(crash_ips)
	while read -r phone ip; do
		[ -n "$phone" ] || continue
		# A session stopped meanwhile is not expected back.
		[ "$(sqlite3 "$RESPAWN_DB" "SELECT desired FROM sessions WHERE phone = '$phone'")" = running ] ||
		    continue
		# Given back meanwhile (a stopped session's): no longer the point.
		curl -s "$LAB_API/lab/ledger" | jq -e --arg ip "$ip" \
		    '[.allocations[] | select(.ip == $ip and .released_at == null)] | length > 0' \
		    >/dev/null || continue
		grep -q "^$phone $ip\$" <<<"$now" ||
		    crash_violation "$label: $phone moved from $ip to $(grep "^$phone " <<<"$now" | cut -d' ' -f2)"
	done <<<"$IPS0"
}
