#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium driven by
# puppeteer-core (dashboard.mjs) against the daemon and respawn-lab.
# Arguments: the build directory and the source directory (as the
# integration tests).  Skips (exit 77) only when chromium is not installed;
# puppeteer-core missing is a failure (scripts/setup installs it).
# RESPAWN_SCREENSHOTS=DIR writes the main pages' screenshots there (the
# README's, in docs/).
. "$2/tests/integration/lib.sh"

CHROMIUM=${RESPAWN_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "SKIP: no chromium at $CHROMIUM"
	exit 77
fi
if [ ! -d "$SRC/tests/browser/node_modules/puppeteer-core" ]; then
	echo "not ok - tests/browser/node_modules is missing: run scripts/setup (npm ci --prefix tests/browser)"
	exit 1
fi

lab_start --ping-ms 200
# Proxies bought from the lab's account API, as from Bright Data.
serve_env_bd
export RESPAWN_IP_MONTHLY_PRICE=1.50 RESPAWN_DAILY_SPEND_LIMIT=20
export RECONNECT_DELAY=100 MAX_RECONNECT_ATTEMPTS=3 RESPAWN_STOP_TIMEOUT=2s
export KEY=browser-key-1
echo "$KEY" >"$T/api.key"
chmod 600 "$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
export PHONE=+4915100000042
"$RESPAWN" session add --user acme-gmbh --phone "$PHONE" --country de >/dev/null
"$RESPAWN" session add --user acme-gmbh --phone +4915100000043 --country de >/dev/null
"$RESPAWN" session add --user tea-ltd --phone +447700900042 --country gb >/dev/null
"$RESPAWN" session add --user 'xss<b>x</b><img/src=x/onerror=window.__xss=1>' --phone +14155550142 --country us >/dev/null
# The lab sells no IP in Belgium: it falls back to the Netherlands.
"$RESPAWN" session add --user frites-sa --phone +32470000042 --country be >/dev/null
serve_start
URL=$(api_url) || { cat "$T/serve.1.log"; exit 1; }
export URL LAB_API CHROMIUM
export SESSIONS=5
wait_eq 20 5 count_status ready || { echo "not ok - the sessions never got ready"; exit 1; }
# A bounded run: the browser test has 60 s, the whole script a little more.
if timeout 90 node "$SRC/tests/browser/dashboard.mjs"; then
	exit 0
fi
echo "# daemon log tail:"; tail -20 "$T/serve.1.log"
exit 1
