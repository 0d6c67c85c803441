# Helpers of the provider-answer tests (test_serve_answers.sh and
# test_serve_races.sh), sourced after lib.sh and crashlib.sh.
#
# Each scenario has its own store and state directory, starts from a
# zone the lab bills nothing in, and is judged at the lab, by what the
# daemon does not write: the WhatsApp stand-in's IP sharing, the phones'
# IPs and countries, and the billing ledger.

# scenario NAME: a fresh store and state directory; no fault, nothing
# billed; the baselines of the checks.
scenario() {
	SCEN=$1
	export RESPAWN_DB="$T/$SCEN.db" RESPAWN_STATE_DIR="$T/$SCEN"
	lab_faults_clear
	crash_release_all
	BOUGHT0=$(crash_bought)
	SHARES0=$(lab_ip_shares)
	SERVE_LOG=
}

# add PHONE COUNTRY: a session, through the CLI.
add() {
	"$RESPAWN" session add --user "u$1" --phone "$1" --country "$2" >/dev/null ||
	    not_ok "$SCEN: session add $1"
}

# start: the daemon of the scenario; SERVE_LOG is its log.
start() {
	serve_start
	SERVE_LOG=$T/serve.$SERVE_N.log
	wait_for 20 grep -Eq 'event=recovery.(completed|nothing)' "$SERVE_LOG" ||
	    not_ok "$SCEN: the daemon did not recover: $(tail -3 "$SERVE_LOG")"
}

# stop: a graceful stop (TERM), waited for.
stop() {
	kill -TERM "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
}

# crash: the daemon and every connector of the scenario killed at once.
crash() {
	kill -KILL "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
	crash_kill_connectors
}

# IPs the lab allocated since the scenario began.
bought() { echo $(($(crash_bought) - BOUGHT0)); }

# The store's state of the live row of an IP ("" when none).
state_of_ip() {
	sqlite3 "$RESPAWN_DB" "SELECT state FROM proxies WHERE ip = '$1' AND state <> 'released' ORDER BY id DESC LIMIT 1"
}

# The invariants, at the lab (LABEL names the check; BOUGHT_MAX the IPs
# the scenario needs at most):
#   - no IP served two phones at once (the stand-in's ip_shares);
#   - every phone connected is on an IP of its session's country;
#   - every IP the lab bills is in the store, live;
#   - nothing bought twice: at most BOUGHT_MAX allocations.
answers_check() {
	local label=$1 max=$2 billed phone cc want
	expect_eq "$(lab_ip_shares)" "$SHARES0" "$label: no IP served two phones"
	for phone in $(sqlite3 "$RESPAWN_DB" "SELECT phone FROM sessions WHERE desired = 'running'"); do
		[ "$(connected_of "$phone")" = true ] || continue
		cc=$(country_at_lab "$phone")
		want=$(sqlite3 "$RESPAWN_DB" "SELECT country FROM sessions WHERE phone = '$phone'")
		expect_eq "$cc" "$want" "$label: $phone is on an IP of its country"
	done
	billed=$(curl -s "$LAB_API/lab/ledger" | jq -r '.allocations[] | select(.released_at == null) | .ip')
	expect_eq "$(crash_unknown_ips "$billed")" "" "$label: every billed IP is in the store"
	if [ "$(bought)" -le "$max" ]; then ok "$label: nothing bought twice ($(bought) IPs, $max needed)"
	else not_ok "$label: $(bought) IPs bought, $max needed"; fi
}
