#!/usr/bin/env bash
# No secret in any output.  Every secret respawn is given gets a marker of
# its own, random for each run: the Bright Data zone and residential zone
# passwords, the session salt, the API key (file:), the Bright Data API key
# (env:), the webhook secret (from Secret Manager through the lab), the
# credentials in the webhook URLs (user information, ?token=, ?sig=, a path) and
# in the account API, Secret Manager and metadata URLs, a static proxy's
# password holding '@', and the PostgreSQL password in a URL (with '@' in
# it, and as ?password=) when PostgreSQL is available.  The daemon runs
# against the lab with logs at debug, on the static list, on Bright Data
# and on PostgreSQL, and every output a user can see is searched for every
# marker: the daemon's logs, check-config plain and --json, status, the
# CLI's listings, /metrics, every API answer (errors included), the SQLite
# database files, the webhook bodies the lab received, and the errors for
# bad URLs (a malformed or oversize RESPAWN_DB with a password, invalid
# webhook and API URLs, a static proxy whose password holds a raw '/').
# A marker found is a failure naming where.
. "$(dirname "$0")/lib.sh"

secrets_cleanup() {
	pg_stop
	cleanup
}
trap secrets_cleanup EXIT
trap 'exit 143' TERM INT HUP

# --- the markers ------------------------------------------------------------

# A marker: a name and 16 random hex digits, distinct in every run.
marker() { printf 'mk%s%s' "$1" "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }
declare -A MARK
for name in zoneA zoneB resA resB stA stB salt apikey bdkey whsec \
	whurl whtok whsig bdurl gsmurl mdurl pgA pgB pgq pgbad dbbig dbbad \
	dbpct dbslA dbslB dbq whbad whbadtok bdbad stbadA stbadB whpath; do
	MARK[$name]=$(marker "$name")
done
declare -A NAME_OF
for name in "${!MARK[@]}"; do
	NAME_OF[${MARK[$name]}]=$name
	echo "${MARK[$name]}"
done >"$T/markers"
# Secrets holding '@' (the user information ends at the last one): each
# part is a marker, so half a password shown is found too.
# The zone's password also holds what ends a URL's parts ('/', '?', '#',
# ':', '%'): respawn percent-encodes it in the proxy URLs it hands out.
ZONE_PW="${MARK[zoneA]}@/?#:%${MARK[zoneB]}"
RES_PW="${MARK[resA]}@${MARK[resB]}"
ST_PW="${MARK[stA]}@${MARK[stB]}"

SEEN="$T/seen"
mkdir -p "$SEEN"
# capture NAME CMD...: CMD's standard output and error, kept to search.
capture() {
	local name=$1
	shift
	"$@" >"$SEEN/$name" 2>&1
	rc=$?
	err=$(tail -c 400 "$SEEN/$name")
}

# scan WHERE FILE...: no marker in any of the files (one grep for all).
scan() {
	local where=$1 hit found=""
	shift
	for hit in $(grep -ahoF -f "$T/markers" -- "$@" 2>/dev/null | sort -u); do
		found="$found ${NAME_OF[$hit]}"
	done
	if [ -z "$found" ]; then ok "no secret in $where"
	else not_ok "$where shows the secrets:$found"; fi
}

# --- the lab: every password, key and secret a marker -------------------------

cat >"$T/lab.json" <<EOF
{
  "api_keys": ["${MARK[bdkey]}"],
  "zones": [
    {"name": "isp_lab", "type": "isp", "password": "$ZONE_PW", "price_usd_per_month": 1.5},
    {"name": "isp_st", "type": "isp", "password": "$ST_PW", "price_usd_per_month": 1.5},
    {"name": "res_lab", "type": "residential", "password": "$RES_PW", "price_usd_per_gb": 4}
  ],
  "secrets": {"projects/lab/secrets/wh-secret": "${MARK[whsec]}"}
}
EOF
lab_start --ping-ms 500 --config "$T/lab.json"
curl -s -X POST --data "{\"secret\":\"${MARK[whsec]}\"}" "$LAB_API/lab/webhooks/config" >/dev/null

# allocate ZONE CC: an IP of the zone bought at the lab.
allocate() {
	curl -s -X POST -H "Authorization: Bearer ${MARK[bdkey]}" \
		-H 'Content-Type: application/json' \
		--data "{\"customer\":\"c_lab\",\"zone\":\"$1\",\"count\":1,\"country\":\"$2\"}" \
		"$LAB_API/zone/ips" | jq -r '.new_ips[]'
}

# The environment every phase shares: each secret a marker.
serve_env
export RESPAWN_LOG_LEVEL=debug
umask 077
printf '%s\n' "${MARK[apikey]}" >"$T/api.key"
export RESPAWN_API_KEY_SECRET="file:$T/api.key"
export SECRETS_BD_KEY="${MARK[bdkey]}"
export BRIGHT_DATA_API_KEY_SECRET=env:SECRETS_BD_KEY
export RESPAWN_WEBHOOK_SECRET=projects/lab/secrets/wh-secret/versions/latest
export RESPAWN_GSM_URL="http://gsm:${MARK[gsmurl]}@127.0.0.1:$LAB_API_PORT"
export RESPAWN_METADATA_URL="http://md:${MARK[mdurl]}@127.0.0.1:$LAB_API_PORT"
export RESPAWN_WEBHOOK_URLS="http://wh:${MARK[whurl]}@127.0.0.1:$LAB_API_PORT/lab/webhooks?token=${MARK[whtok]}&x=1, http://127.0.0.1:$LAB_API_PORT/lab/webhooks?sig=${MARK[whsig]}"
export BRIGHT_DATA_API_URL="http://bd:${MARK[bdurl]}@127.0.0.1:$LAB_API_PORT"
export BRIGHT_DATA_CUSTOMER_ID=c_lab BRIGHT_DATA_ZONE=isp_lab
export BRIGHT_DATA_ZONE_PASSWORD="$ZONE_PW"
export BRIGHT_DATA_RESIDENTIAL_ZONE=res_lab BRIGHT_DATA_RESIDENTIAL_ZONE_PASSWORD="$RES_PW"
export RESPAWN_SESSION_SALT="${MARK[salt]}"
export BRIGHT_DATA_PROXY_HOST=127.0.0.1 BRIGHT_DATA_PROXY_PORT="$LAB_PROXY_PORT"
export RECONNECT_DELAY=200 RESPAWN_STOP_TIMEOUT=2s

# The static list: a password holding '@', unencoded.
: >"$T/proxies.txt"
for cc in de de us; do
	ip=$(allocate isp_st "$cc")
	echo "http://brd-customer-c_lab-zone-isp_st-ip-$ip:$ST_PW@127.0.0.1:$LAB_PROXY_PORT $cc" >>"$T/proxies.txt"
done
# One no session uses, with a short user: only listed, stored and shown.
echo "http://u:$ST_PW@127.0.0.1:1 gb" >>"$T/proxies.txt"

# --- check-config, and the errors for bad values --------------------------------

for prov in static brightdata; do
	capture "check-config ($prov)" env RESPAWN_PROVIDER=$prov "$RESPAWN" check-config
	expect_rc 0 "check-config resolves every reference ($prov)"
	capture "check-config --json ($prov)" env RESPAWN_PROVIDER=$prov "$RESPAWN" check-config --json
	expect_rc 0 "check-config --json ($prov)"
done
expect_eq "$(jq -r '.RESPAWN_WEBHOOK_URLS.redacted' "$SEEN/check-config --json (static)")" true \
	"check-config --json says the webhook URLs were redacted"
expect_in "$(cat "$SEEN/check-config (static)")" "http://127.0.0.1:$LAB_API_PORT/<redacted>, http://127.0.0.1:$LAB_API_PORT/<redacted>" \
	"check-config shows each webhook URL as its origin only"
# A chat service's incoming-webhook URL: the path is the credential.
capture "check-config, a token in the webhook path" env \
	RESPAWN_WEBHOOK_URLS="https://hooks.example.com/services/T01/B02/${MARK[whpath]}" \
	"$RESPAWN" check-config
expect_rc 0 "a webhook URL whose path is its token"
expect_in "$(cat "$SEEN/check-config, a token in the webhook path")" \
	"https://hooks.example.com/<redacted>" "is shown as its origin"

big=$(head -c 5000 /dev/zero | tr '\0' a)
capture "RESPAWN_DB oversize" env RESPAWN_DB="postgresql://u:${MARK[dbbig]}@h/db?x=$big" \
	"$RESPAWN" check-config
expect_rc 78 "an oversize RESPAWN_DB is a configuration error"
capture "RESPAWN_DB oversize, ?password=" env RESPAWN_DB="postgresql://u@h/db?password=${MARK[dbbig]}&x=$big" \
	"$RESPAWN" session ls
expect_rc 78 "an oversize RESPAWN_DB with ?password= too"
capture "RESPAWN_DB malformed" env RESPAWN_DB="postgresql://u:${MARK[dbbad]}@[bad/db" \
	"$RESPAWN" session ls
expect_rc 74 "a malformed RESPAWN_DB is refused"
capture "RESPAWN_DB bad percent-encoding" env RESPAWN_DB="postgresql://u:${MARK[dbpct]}%zz@127.0.0.1:1/db" \
	"$RESPAWN" session ls
expect_rc 74 "a password with bad percent-encoding is refused"
capture "RESPAWN_DB raw slash" env RESPAWN_DB="postgresql://u:${MARK[dbslA]}/${MARK[dbslB]}@127.0.0.1:1/db" \
	"$RESPAWN" session ls
expect_rc 74 "a password with a raw '/' is refused"
expect_in "$(cat "$SEEN/RESPAWN_DB raw slash")" "percent-encoded" "and the message says how to write it"
capture "RESPAWN_DB unreachable" env RESPAWN_DB="postgresql://u:${MARK[dbbad]}@127.0.0.1:1/db?connect_timeout=2&password=${MARK[dbq]}" \
	"$RESPAWN" status
expect_rc 74 "an unreachable database"
capture "serve, RESPAWN_DB malformed" env RESPAWN_DB="postgresql://u:${MARK[dbbad]}@[bad/db" \
	timeout 20 "$RESPAWN" serve
expect_rc 74 "serve refuses a malformed RESPAWN_DB"
capture "RESPAWN_WEBHOOK_URLS invalid" env RESPAWN_WEBHOOK_URLS="http://u:${MARK[whbad]}@h/,ftp://h/?token=${MARK[whbadtok]}" \
	"$RESPAWN" check-config
expect_rc 78 "an invalid webhook URL"
capture "BRIGHT_DATA_API_URL invalid" env BRIGHT_DATA_API_URL="ftp://u:${MARK[bdbad]}@h" \
	"$RESPAWN" check-config --json
expect_rc 78 "an invalid account API URL"
capture "--set without '='" "$RESPAWN" --set "RESPAWN_DBpostgresql://u:${MARK[dbbad]}@h/db" check-config
expect_rc 78 "--set without '='"
printf 'http://u:%s/%s@127.0.0.1:1 de\n' "${MARK[stbadA]}" "${MARK[stbadB]}" >"$T/badproxies.txt"
capture "serve, static proxy with a raw slash" env RESPAWN_STATIC_PROXIES="$T/badproxies.txt" \
	RESPAWN_DB="$T/bad.db" RESPAWN_STATE_DIR="$T/state-bad" timeout 20 "$RESPAWN" serve
expect_rc 78 "serve refuses a static proxy whose password holds a raw '/'"

# --- a daemon phase: sessions ready, then every output kept -------------------------

KEY=${MARK[apikey]}
# api NAME PATH [curl args...]: an API answer, kept (status line and body).
api() {
	local name=$1 path=$2
	shift 2
	capture "$PHASE: API $name" curl -s -i "$@" "$URL$path"
}
# outputs: everything a user of this phase's daemon sees.
outputs() {
	local id
	URL=$(api_url) || { not_ok "$PHASE: no api.addr"; return; }
	api healthz /healthz
	api readyz /readyz
	api metrics /metrics
	api "proxy status" /api/proxy/status -H "x-api-key: $KEY"
	api "proxy status, no key" /api/proxy/status
	api "proxy status, wrong key" /api/proxy/status -H "x-api-key: wrong"
	api sessions /api/sessions -H "Authorization: Bearer $KEY"
	for id in $("$RESPAWN" session ls --json | jq -r '.[].id'); do
		api "session $id" "/api/sessions/$id" -H "x-api-key: $KEY"
	done
	api "session 999999" /api/sessions/999999 -H "x-api-key: $KEY"
	api "bad session" /api/sessions -H "x-api-key: $KEY" \
		-H 'Content-Type: application/json' --data '{"userId":"x","phoneNumber":"1","country":"zz"}'
	api proxies /api/proxies -H "x-api-key: $KEY"
	api instances /api/instances -H "x-api-key: $KEY"
	api recovery /api/recovery -H "x-api-key: $KEY"
	api events /api/events -H "x-api-key: $KEY"
	expect_in "$(head -n 1 "$SEEN/$PHASE: API sessions")" " 200" "$PHASE: the API answers with the key"
	capture "$PHASE: status" "$RESPAWN" status
	capture "$PHASE: status --json" "$RESPAWN" status --json
	capture "$PHASE: session ls" "$RESPAWN" session ls
	capture "$PHASE: session ls --json" "$RESPAWN" session ls --json
	for id in $("$RESPAWN" session ls --json | jq -r '.[].id'); do
		capture "$PHASE: session show $id" "$RESPAWN" session show "$id" --json
	done
	capture "$PHASE: proxy ls" "$RESPAWN" proxy ls
	capture "$PHASE: proxy ls --json" "$RESPAWN" proxy ls --json
	capture "$PHASE: check-config" "$RESPAWN" check-config
	capture "$PHASE: check-config --json" "$RESPAWN" check-config --json
}
# stop_serve: a graceful stop; the daemon's output is kept.
stop_serve() {
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID"
	expect_eq "$?" 0 "$PHASE: graceful stop"
}

# (a) The static list, on SQLite, logs in logfmt: the password holding '@'
# reaches the lab whole (the sessions get ready) and nowhere else.
PHASE=static
export RESPAWN_PROVIDER=static RESPAWN_DB="$T/static.db" RESPAWN_STATE_DIR="$T/state-static"
"$RESPAWN" session add --user s1 --phone +4915100000101 --country de >/dev/null
"$RESPAWN" session add --user s2 --phone +14155550101 --country us >/dev/null
serve_start >"$T/serve.static.out"
if wait_for 20 all_ready 2; then ok "static: sessions ready through a proxy whose password holds '@'"
else not_ok "static: not ready: $("$RESPAWN" session ls)"; fi
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies WHERE ip LIKE 'brd-customer-c_lab-zone-isp_st-ip-%@127.0.0.1:$LAB_PROXY_PORT'")" 3 \
	"static: each proxy's key is its user and host"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM proxies WHERE ip = 'u@127.0.0.1:1'")" 1 \
	"static: the unused proxy is known as u@127.0.0.1:1"
outputs
stop_serve

# (b) Bright Data, on SQLite, logs in JSON: bought IPs, a residential
# session, webhooks to URLs with credentials, signed with a secret from
# Secret Manager.
PHASE=brightdata
export RESPAWN_PROVIDER=brightdata RESPAWN_DB="$T/bd.db" RESPAWN_STATE_DIR="$T/state-bd"
export RESPAWN_LOG_FORMAT=json
"$RESPAWN" session add --user b1 --phone +4915100000201 --country de >/dev/null
"$RESPAWN" session add --user b2 --phone +14155550201 --country us >/dev/null
"$RESPAWN" session add --user b3 --phone +4915100000202 --country de --proxy-type residential >/dev/null
serve_start >"$T/serve.bd.out"
if wait_for 30 all_ready 3; then ok "brightdata: sessions ready (bought and residential)"
else not_ok "brightdata: not ready: $("$RESPAWN" session ls)"; fi
hooks_ready() {
	[ "$(curl -s "$LAB_API/lab/webhooks" | jq '[.deliveries[] | select(.event == "session.ready" and .verified)] | length')" -ge 6 ]
}
if wait_for 20 hooks_ready; then ok "brightdata: session.ready delivered to both URLs, signed"
else not_ok "brightdata: webhooks: $(curl -s "$LAB_API/lab/webhooks" | jq -c '[.deliveries[] | [.event, .status, .verified]]')"; fi
outputs
# A restart: more log lines and webhooks.
n=$(curl -s "$LAB_API/lab/webhooks" | jq '.deliveries | length')
more_hooks() { [ "$(curl -s "$LAB_API/lab/webhooks" | jq '.deliveries | length')" -gt "$n" ]; }
curl -s -X POST -H "x-api-key: $KEY" "$URL/api/sessions/1/restart" >/dev/null
wait_for 10 more_hooks || not_ok "brightdata: no webhook after a restart"
stop_serve
unset RESPAWN_LOG_FORMAT
# What the receivers were sent: the bodies and respawn's headers (the
# request line carries the URL's own query, meant for the receiver).
curl -s "$LAB_API/lab/webhooks" | jq '[.deliveries[] | {headers, body}]' >"$SEEN/webhook deliveries"
expect_eq "$(jq 'length > 0' "$SEEN/webhook deliveries")" true "webhooks were received"

# (c) PostgreSQL, when there is one: its password holds '@' in the URL,
# and comes as ?password= too.
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/respawn-pg.XXXXXX")
if ! PGURL=$("$PG_CLUSTER" start "$PGDIR" 2>"$T/pg.err"); then
	echo "# PostgreSQL not available, its part skipped: $(head -n 1 "$T/pg.err")"
	rm -rf "$PGDIR"
	PGDIR=""
else
	ok "PostgreSQL cluster on loopback"
	PG_PW="${MARK[pgA]}@${MARK[pgB]}"
	psql -X -q -d "$PGURL" -c "ALTER ROLE respawn PASSWORD '$PG_PW'" >/dev/null
	hostport=${PGURL##*@}
	hostport=${hostport%%/*}
	PHASE=postgresql
	export RESPAWN_PROVIDER=static RESPAWN_STATE_DIR="$T/state-pg"
	export RESPAWN_DB="postgresql://respawn:$PG_PW@$hostport/respawn"
	capture "postgresql: session add" "$RESPAWN" session add --user p1 --phone +4915100000301 --country de
	expect_rc 0 "postgresql: a password holding '@' connects"
	capture "postgresql: session ls, ?password=" env \
		RESPAWN_DB="postgresql://respawn@$hostport/respawn?password=${MARK[pgq]}${MARK[pgA]}%40${MARK[pgB]}" \
		"$RESPAWN" session ls
	expect_rc 74 "postgresql: a wrong ?password= is refused"
	expect_in "$(cat "$SEEN/postgresql: session ls, ?password=")" "password authentication failed" \
		"postgresql: and the message says why"
	capture "postgresql: wrong password" env RESPAWN_DB="postgresql://respawn:${MARK[pgbad]}@$hostport/respawn" \
		"$RESPAWN" check-config
	capture "postgresql: wrong password, status" env RESPAWN_DB="postgresql://respawn:${MARK[pgbad]}@$hostport/respawn" \
		"$RESPAWN" status
	expect_rc 74 "postgresql: a wrong password is refused"
	serve_start >"$T/serve.pg.out"
	if wait_for 30 all_ready 1; then ok "postgresql: the session is ready (fleet mode)"
	else not_ok "postgresql: not ready: $("$RESPAWN" session ls)"; fi
	outputs
	stop_serve
	pg_dump -d "postgresql://respawn:${MARK[pgA]}%40${MARK[pgB]}@$hostport/respawn" >"$T/pg.dump" 2>&1
	expect_in "$(cat "$T/pg.dump")" "CREATE TABLE" "postgresql: the database dumped"
	scan "the PostgreSQL database" "$T/pg.dump"
fi

# --- every output searched for every marker -----------------------------------------

for f in "$SEEN"/*; do
	scan "$(basename "$f")" "$f"
done
for f in "$T"/serve.*; do
	scan "the daemon's output $(basename "$f")" "$f"
done
for f in "$T"/static.db* "$T"/bd.db*; do
	scan "the SQLite database file $(basename "$f")" "$f"
done
for f in "$T"/state-*/logs/*.log "$T"/state-*/api.addr; do
	[ -e "$f" ] && scan "${f#"$T/"}" "$f"
done
finish
