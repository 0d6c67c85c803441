#!/usr/bin/env bash
# Crash safety of the daemon, case by case (docs/ARCHITECTURE.md,
# invariants): what a connector said before it ended decides how an
# adopted connector's exit is treated, since its status cannot be read.
. "$(dirname "$0")/lib.sh"

lab_start
serve_env
export RECONNECT_DELAY=200 MAX_RECONNECT_ATTEMPTS=3
: >"$T/proxies.txt"
for ip in $(lab_allocate de 3); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
phones=(+4915100000001 +4915100000002)
for i in "${!phones[@]}"; do
	run "$RESPAWN" session add --user "u$i" --phone "${phones[$i]}" --country de
	expect_rc 0 "add ${phones[$i]}"
done
serve_start
if wait_for 20 all_ready 2; then ok "both sessions ready"
else not_ok "not ready: $("$RESPAWN" session ls)"; fi

# --- adopted connectors: the exit's class comes from X_RESPAWN_EVENT ------
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
serve_start
wait_for 10 grep -q 'event=connector.adopted.*+4915100000002' "$T/serve.2.log" ||
    not_ok "the connectors were not adopted"
wait_for 10 all_ready 2 || not_ok "not ready again after the restart"
ip_before=$(lab_wa | jq -r '.phones["+4915100000002"].ip')

# Logged out: the connector says so and exits 78; adopted, respawn sees
# only its end, and must not try to log in again.
curl -s -X POST -H 'Content-Type: application/json' \
	--data '{"phone":"+4915100000001","state":"logged_out"}' \
	"$LAB_API/lab/wa/phone" >/dev/null
if wait_eq 10 needs_auth status_of +4915100000001; then
	ok "an adopted connector logged out: needs_auth, not restarted"
else
	not_ok "an adopted connector logged out: $(status_of +4915100000001)"
fi
sleep 1
expect_eq "$(grep -c 'event=wa.logged_out phone=+4915100000001' "$T/lab.log")" 0 \
    "and no second login was tried"

# Proxy blocked: the IP is marked bad for the phone, which moves to another.
curl -s -X POST -H 'Content-Type: application/json' \
	--data "{\"ip\":\"$ip_before\",\"blocked\":true}" "$LAB_API/lab/wa/ip" >/dev/null
if wait_for 10 grep -q "event=proxy.refused.*+4915100000002" "$T/serve.2.log"
then ok "an adopted connector's proxy_blocked marks its IP bad"
else not_ok "no proxy.refused for the adopted connector"; fi
if wait_eq 10 true connected_of +4915100000002; then
	expect_eq "$(lab_wa | jq -r '.phones["+4915100000002"].ip' | grep -c "^$ip_before\$")" 0 \
	    "and it is back on another IP"
	expect_eq "$(grep -c 'event=wa.blocked phone=+4915100000002' "$T/lab.log")" 0 \
	    "without trying the blocked IP again"
else
	not_ok "the phone did not come back: $(status_of +4915100000002)"
fi
finish
