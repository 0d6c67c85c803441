#!/usr/bin/env bash
# Pairing through the API against respawn-lab: a phone logged out at the
# lab turns needs_auth; started again, its connector shows a QR code, which
# GET /api/sessions/{id}/qr serves as a PNG and as text (404 with a JSON
# error when there is none, never cached) and the webhook session.qr
# carries; the lab's phone "scans" it and the session is ready again.  A
# second logout is paired by code: POST .../pairing-code, the code from
# GET .../pairing-code typed at the lab, ready again.  The connector's log
# tail is served; the dashboard's files are served without the key, with
# the Content-Security-Policy; every /api path still wants the key.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 200
serve_env
export RECONNECT_DELAY=100 MAX_RECONNECT_ATTEMPTS=3 RESPAWN_STOP_TIMEOUT=2s
export RESPAWN_LAB_QR_ROTATE_MS=1500
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,RESPAWN_LAB_QR_ROTATE_MS
export WH_SECRET=whsec-pair
export RESPAWN_WEBHOOK_URLS="$LAB_API/lab/webhooks" RESPAWN_WEBHOOK_SECRET=env:WH_SECRET
curl -s -X POST --data "{\"secret\":\"$WH_SECRET\"}" "$LAB_API/lab/webhooks/config" >/dev/null
KEY=pair-key-1
echo "$KEY" >"$T/api.key"
chmod 600 "$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
: >"$T/proxies.txt"
for ip in $(lab_allocate de 2); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
PHONE=+4915100000007
"$RESPAWN" session add --user u1 --phone "$PHONE" --country de >/dev/null
serve_start
URL=$(api_url) || { cat "$T/serve.1.log"; exit 1; }
ID=$("$RESPAWN" session show "$PHONE" --json | jq -r .id)
api() { curl -s -H "x-api-key: $KEY" "$@"; }
code_of() { curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $KEY" "$@"; }

wait_eq 20 ready status_of "$PHONE" || not_ok "never ready at first"
# Paired: no QR code.
expect_eq "$(code_of "$URL/api/sessions/$ID/qr")" 404 "a ready session has no QR code: 404"
expect_eq "$(api "$URL/api/sessions/$ID/qr" | jq -r .error)" not_found "... answered as a JSON error"
expect_eq "$(code_of "$URL/api/sessions/999/qr")" 404 "an unknown session: 404"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/sessions/$ID/qr")" 401 "the QR code wants the key"
expect_eq "$(code_of -X POST "$URL/api/sessions/$ID/pairing-code")" 409 "a ready session is not paired again"

# Logged out at the lab: needs_auth; started again, a QR code appears.
curl -s -X POST --data "{\"phone\":\"$PHONE\",\"state\":\"logged_out\"}" "$LAB_API/lab/wa/phone" >/dev/null
wait_eq 10 needs_auth status_of "$PHONE" && ok "logged out: needs_auth" || not_ok "not needs_auth: $(status_of "$PHONE")"
api -X POST "$URL/api/sessions/$ID/start" >/dev/null
qr_there() { [ "$(code_of "$URL/api/sessions/$ID/qr")" = 200 ]; }
if wait_for 10 qr_there; then ok "started again: the QR code is served"
else not_ok "no QR code: $(api "$URL/api/sessions/$ID/qr"); $(tail -5 "$RESPAWN_STATE_DIR/logs/$ID.log")"; fi
curl -s -D "$T/qr.h" -o "$T/qr.png" -H "x-api-key: $KEY" "$URL/api/sessions/$ID/qr"
expect_eq "$(head -c 8 "$T/qr.png" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a "the QR code is a PNG"
expect_in "$(tr -d '\r' <"$T/qr.h")" "Content-Type: image/png" "served as image/png"
expect_in "$(tr -d '\r' <"$T/qr.h")" "Cache-Control: no-store" "never cached"
QR=$(api -H 'Accept: text/plain' "$URL/api/sessions/$ID/qr")
expect_in "$QR" "respawn-lab:$PHONE:" "Accept: text/plain gives the QR code's text"
# The webhook carries it.
qr_hook() { curl -s "$LAB_API/lab/webhooks" | jq -e "[.deliveries[] | select(.event == \"session.qr\" and .body.data.sessionId == $ID)] | length > 0"; }
if wait_for 10 qr_hook; then ok "webhook session.qr delivered"
else not_ok "no session.qr: $(curl -s "$LAB_API/lab/webhooks" | jq -c '[.deliveries[].event]')"; fi
expect_in "$(curl -s "$LAB_API/lab/webhooks" | jq -r '[.deliveries[] | select(.event == "session.qr")][0].body.data.qr')" \
	"respawn-lab:$PHONE:" "session.qr carries the QR code's text"
# The QR code is replaced in time (RESPAWN_LAB_QR_ROTATE_MS) ...
qr_changed() { [ "$(api -H 'Accept: text/plain' "$URL/api/sessions/$ID/qr")" != "$QR" ]; }
wait_for 5 qr_changed && ok "the QR code is replaced in time" || not_ok "the QR code stayed"
# ... an old one does not link; the current one does.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"phone\":\"$PHONE\",\"qr\":\"$QR\"}" "$LAB_API/lab/wa/link")" 403 \
	"the lab refuses an expired QR code"
QR=$(api -H 'Accept: text/plain' "$URL/api/sessions/$ID/qr")
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"phone\":\"$PHONE\",\"qr\":\"$QR\"}" "$LAB_API/lab/wa/link")" 200 \
	"the phone scans the QR code"
wait_eq 10 ready status_of "$PHONE" && ok "scanned: ready again" || not_ok "not ready after the scan: $(status_of "$PHONE")"
expect_eq "$(code_of "$URL/api/sessions/$ID/qr")" 404 "paired: the QR code is gone"
expect_eq "$(lab_wa | jq -r ".phones[\"$PHONE\"].links")" 1 "the lab counts one link"

# Logged out again; paired by code this time.
curl -s -X POST --data "{\"phone\":\"$PHONE\",\"state\":\"logged_out\"}" "$LAB_API/lab/wa/phone" >/dev/null
wait_eq 10 needs_auth status_of "$PHONE" || not_ok "not needs_auth again"
expect_eq "$(code_of "$URL/api/sessions/$ID/pairing-code")" 404 "no pairing code before one is asked for"
run curl -s -w '\n%{http_code}' -X POST -H "x-api-key: $KEY" "$URL/api/sessions/$ID/pairing-code"
expect_eq "$(tail -1 <<<"$out")" 202 "POST pairing-code: 202"
expect_eq "$(head -1 <<<"$out" | jq -r .state)" requested "... requested"
have_code() { [ "$(code_of "$URL/api/sessions/$ID/pairing-code")" = 200 ]; }
if wait_for 10 have_code; then ok "the connector's pairing code is served"
else not_ok "no pairing code: $(tail -5 "$RESPAWN_STATE_DIR/logs/$ID.log")"; fi
CODE=$(api "$URL/api/sessions/$ID/pairing-code" | jq -r .code)
expect_eq "$(grep -cE '^[A-Z2-9]{4}-[A-Z2-9]{4}$' <<<"$CODE")" 1 "a code of 8 characters: $CODE"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"phone\":\"$PHONE\",\"code\":\"AAAA-AAAA\"}" "$LAB_API/lab/wa/link")" 403 \
	"a wrong code does not link"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"phone\":\"$PHONE\",\"code\":\"$CODE\"}" "$LAB_API/lab/wa/link")" 200 \
	"the customer types the code on the phone"
wait_eq 10 ready status_of "$PHONE" && ok "paired by code: ready again" || not_ok "not ready after the code"
expect_eq "$(code_of "$URL/api/sessions/$ID/pairing-code")" 404 "paired: the code is gone"
expect_eq "$(lab_wa | jq -r ".phones[\"$PHONE\"].connected")" true "connected at the lab"

# The connector's log tail.
run curl -s -H "x-api-key: $KEY" "$URL/api/sessions/$ID/log?bytes=4096"
expect_in "$out" "connector.paired" "the log tail shows the pairing"
expect_eq "$(code_of "$URL/api/sessions/$ID/log?bytes=0")" 400 "a tail of 0 bytes is refused"

# The dashboard: served without the key, with the policy; /api still guarded.
curl -s -D "$T/dash.h" -o "$T/dash.html" "$URL/"
expect_in "$(tr -d '\r' <"$T/dash.h")" "Content-Security-Policy: default-src 'none'; script-src 'self'" "the page has a strict CSP"
expect_in "$(tr -d '\r' <"$T/dash.h")" "Content-Type: text/html" "the page is HTML"
expect_in "$(cat "$T/dash.html")" '<script src="app.js"' "the page loads its script from a file"
expect_not_in "$(grep -v 'src=' "$T/dash.html")" "<script" "no inline script"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/app.js")" 200 "app.js served"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/app.css")" 200 "app.css served"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/sessions")" 401 "the API still wants the key"
finish
