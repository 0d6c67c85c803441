#!/usr/bin/env bash
# Webhooks end to end: the daemon against respawn-lab, whose sink records
# every delivery and checks its signature.  The first two deliveries are
# answered 500 and must be retried; every kind of status change arrives
# (ready, fallback used, needs-auth, failed, proxy replaced) signed with
# the configured secret, each with its session's data; the daemon's
# metrics count them; a sink that is down loses nothing while the queue
# has room, and the daemon never waits for it.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
lab_start --ping-ms 200
serve_env
export RECONNECT_DELAY=100 MAX_RECONNECT_ATTEMPTS=2 RESPAWN_STOP_TIMEOUT=1s
export WH_SECRET=whsec-test-1
export RESPAWN_WEBHOOK_URLS="$LAB_API/lab/webhooks" RESPAWN_WEBHOOK_SECRET=env:WH_SECRET
export RESPAWN_WEBHOOK_ATTEMPTS=8 RESPAWN_WEBHOOK_TIMEOUT=2s
curl -s -X POST --data "{\"secret\":\"$WH_SECRET\",\"fail_next\":2}" "$LAB_API/lab/webhooks/config" >/dev/null

: >"$T/proxies.txt"
for cc in de de de us us nl; do
	for ip in $(lab_allocate $cc); do
		echo "$(lab_proxy_url "$ip") $cc" >>"$T/proxies.txt"
	done
done
cat >"$T/connector.sh" <<SCRIPT
#!/bin/sh
case "\$RESPAWN_PHONE" in
+19990000001) echo "crashing on purpose" >&2; exit 3 ;;
esac
exec "$LAB_CONNECTOR"
SCRIPT
chmod +x "$T/connector.sh"
export RESPAWN_CONNECTOR="$T/connector.sh"
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,PATH

"$RESPAWN" session add --user a --phone +4915100000001 --country de >/dev/null
"$RESPAWN" session add --user b --phone +32470000001 --country be >/dev/null
"$RESPAWN" session add --user c --phone +447700900001 --country de >/dev/null
"$RESPAWN" session add --user d --phone +19990000001 --country us >/dev/null
serve_start

# The deliveries the sink accepted (it also lists the ones it refused).
hooks() { curl -s "$LAB_API/lab/webhooks" | jq '.deliveries |= map(select(.status < 300))'; }
all_hooks() { curl -s "$LAB_API/lab/webhooks"; }
count_event() { hooks | jq "[.deliveries[] | select(.event == \"$1\")] | length"; }
# has_event EVENT N: at least N deliveries of EVENT (re-read at each try).
has_event() { [ "$(count_event "$1")" -ge "$2" ]; }
if wait_for 20 has_event session.ready 3; then ok "session.ready for the three good sessions"
else not_ok "session.ready: $(hooks | jq -c '[.deliveries[].event]')"; fi
if wait_for 20 has_event session.failed 1; then ok "session.failed for the crash loop"
else not_ok "no session.failed: $(hooks | jq -c '[.deliveries[].event]')"; fi
if wait_for 20 has_event session.fallback_used 1; then ok "session.fallback_used for be"
else not_ok "no session.fallback_used: $(all_hooks | jq -c '[.deliveries[] | [.event, .status, .delivery]]'; grep webhook "$T"/serve.1.log | head)"; fi
H=$(hooks)
A=$(all_hooks)
expect_eq "$(jq '.failed' <<<"$A")" 2 "the sink refused the first two attempts"
# Every refused delivery is retried under its id until accepted.  (The two
# refusals may hit two deliveries, or one delivery and its first retry:
# that depends on timing, not on the sender.)
refused_retried() {
	all_hooks | jq -e '(.deliveries | map(select(.status >= 300) | .delivery) | unique) as $f
	    | ($f | length) >= 1 and ([.deliveries[] | select(.status < 300 and (.delivery | IN($f[]))) | .delivery]
	    | unique | length) == ($f | length)' >/dev/null
}
if wait_for 20 refused_retried; then ok "every refused delivery was retried under the same id, and accepted"
else not_ok "a refused delivery was not retried: $(all_hooks | jq -c '[.deliveries[] | [.delivery, .status]]')"; fi
expect_eq "$(jq '[.deliveries | group_by(.delivery)[] | map(.body) | unique | length] | max' <<<"$A")" 1 \
	"a retry carries the same body"
expect_eq "$(jq '[.deliveries[] | select(.verified | not)] | length' <<<"$H")" 0 "every delivery's signature verifies"
fb=$(jq -c '[.deliveries[] | select(.event == "session.fallback_used")][0].body' <<<"$H")
expect_eq "$(jq -r '[.data.phoneNumber, .data.requestedCountry, .data.fallbackCountry, .data.proxyCountry] | join(" ")' <<<"$fb")" \
	"+32470000001 be nl nl" "fallback data: be -> nl"
expect_eq "$(jq -r '.instanceId | length > 0' <<<"$fb")" true "payload names the instance"
expect_eq "$(jq -r '[.deliveries[] | select(.event == "session.failed")][0].body.data.cause' <<<"$H")" exit \
	"failed: the cause"
expect_eq "$(jq '[.deliveries[].delivery] | unique | length == (. | length)' <<<"$H")" true "delivery ids are unique"

# (b) logged out: needs_auth.
curl -s -X POST -H 'Content-Type: application/json' \
	--data '{"phone":"+447700900001","state":"logged_out"}' "$LAB_API/lab/wa/phone" >/dev/null
if wait_for 10 has_event session.needs_auth 1; then ok "session.needs_auth when WhatsApp logs the phone out"
else not_ok "no session.needs_auth"; fi
expect_eq "$(hooks | jq -r '[.deliveries[] | select(.event == "session.needs_auth")][0].body.data.phoneNumber')" \
	"+447700900001" "needs_auth names the phone"

# (c) a revoked IP: the session gets another IP of its country.
old_ip=$(lab_wa | jq -r '.phones["+4915100000001"].ip')
old_key=$("$RESPAWN" session show +4915100000001 --json | jq -r .proxyIp)
curl -s -X POST -H 'Content-Type: application/json' \
	--data "{\"zone\":\"isp_lab\",\"ip\":\"$old_ip\"}" "$LAB_API/lab/ips/revoke" >/dev/null
if wait_for 20 has_event session.proxy_replaced 1; then ok "session.proxy_replaced after a revoked IP"
else not_ok "no session.proxy_replaced: $(hooks | jq -c '[.deliveries[].event]')"; fi
pr=$(hooks | jq -c '[.deliveries[] | select(.event == "session.proxy_replaced")][0].body.data')
expect_eq "$(jq -r .previousIp <<<"$pr")" "$old_key" "previousIp is the revoked one"
expect_eq "$(jq -r '.proxyIp != .previousIp and .proxyCountry == "de"' <<<"$pr")" true "a new IP in de"

# (d) metrics agree with the sink.
URL=$(api_url)
curl -s "$URL/metrics" >"$T/metrics.txt"
run "$PY" "$SRC/tests/tools/promcheck.py" "$T/metrics.txt"
expect_rc 0 "metrics well-formed"
delivered=$(awk '$1 == "respawn_webhook_delivered_total" { print $2 }' "$T/metrics.txt")
expect_eq "$delivered" "$(hooks | jq '.deliveries | length')" "delivered_total equals what the sink recorded"
expect_eq "$(awk '$1 == "respawn_webhook_attempts_failed_total" { print $2 }' "$T/metrics.txt")" 2 \
	"two failed attempts counted"

# (e) the sink down: the daemon goes on; deliveries wait and arrive later.
curl -s -X POST --data '{"fail_next":1000000}' "$LAB_API/lab/webhooks/config" >/dev/null
before=$(hooks | jq '.deliveries | length')
refused=$(all_hooks | jq .failed)
run "$RESPAWN" session stop +4915100000001
wait_eq 10 stopped status_of +4915100000001
run "$RESPAWN" session start +4915100000001
if wait_eq 10 ready status_of +4915100000001; then
	ok "sessions still start while the sink fails"; else not_ok "not ready again"; fi
refused_more() { [ "$(all_hooks | jq .failed)" -gt "$refused" ]; }
if wait_for 10 refused_more; then ok "the new event was tried and refused"; else not_ok "no attempt during the outage"; fi
curl -s -X POST --data '{"fail_next":0}' "$LAB_API/lab/webhooks/config" >/dev/null
more_than() { [ "$(hooks | jq '.deliveries | length')" -gt "$1" ]; }
if wait_for 40 more_than "$before"; then
	ok "the waiting delivery arrives once the sink is back"; else not_ok "nothing delivered after the outage"; fi
finish
