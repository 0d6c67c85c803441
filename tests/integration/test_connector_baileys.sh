#!/usr/bin/env bash
# The Baileys reference connector (connectors/baileys) under the daemon,
# against respawn-lab: its unit tests pass; it sends its WebSocket to
# WhatsApp's host through the session's proxy, reports by sd_notify
# (through systemd-notify), maps the proxy's refusal to exit 75 so that the
# daemon rotates the IP, maps a failed connection to a plain failure, and
# the daemon backs off and ends in failed after MAX_RECONNECT_ATTEMPTS.
# A SIGTERM while connecting ends it with exit 0.
. "$(dirname "$0")/lib.sh"

NAME=baileys
CONN="$SRC/connectors/$NAME"
if ! command -v node >/dev/null || ! command -v systemd-notify >/dev/null; then
	ok "node or systemd-notify not installed: skipped (run scripts/setup)"
	finish
fi
if [ ! -d "$CONN/node_modules" ]; then
	ok "connectors/$NAME/node_modules missing: skipped (run scripts/setup, or npm ci --prefix connectors/$NAME)"
	finish
fi

# --- the connector's own unit tests, and those of what both share -------
run node --test "$CONN/test/"
expect_rc 0 "node --test connectors/$NAME/test/ ($(grep -c '^ok ' <<<"$out") tests)"
run node --test "$SRC/connectors/common/test/"
expect_rc 0 "node --test connectors/common/test/ ($(grep -c '^ok ' <<<"$out") tests)"

# --- standalone: sd_notify, watchdog and SIGTERM while connecting -------
# A "proxy" that accepts and never answers keeps the connector connecting.
node -e 'const s=require("net").createServer(()=>{}).listen(0,"127.0.0.1",()=>{require("fs").writeFileSync(process.argv[1],String(s.address().port))})' "$T/blackhole.port" &
track_pid $!
wait_for 10 test -s "$T/blackhole.port" || not_ok "blackhole did not start"
"$BUILD/lab/respawn-lab-notify-recv" "$T/notify.sock" "$T/notify.out" &
track_pid $!
# The connector's first message must not race the receiver's bind.
wait_for 10 test -S "$T/notify.sock" || not_ok "notify receiver did not start"
mkdir -m 0700 "$T/standalone"
(cd "$T/standalone" && exec env -i PATH="$PATH" HOME="$T" \
	RESPAWN_SESSION_ID=1 RESPAWN_USER_ID=u RESPAWN_PHONE=+4915100000009 RESPAWN_COUNTRY=de \
	RESPAWN_PROXY_URL="http://u:p@127.0.0.1:$(cat "$T/blackhole.port")" \
	RESPAWN_SESSION_DIR="$T/standalone" NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 \
	setsid node "$CONN/index.js") 2>"$T/standalone.log" &
cpid=$!
track_pid $cpid
if wait_for 60 grep -q 'WATCHDOG=1' "$T/notify.out"; then ok "STATUS=connecting and WATCHDOG=1 sent by systemd-notify"
else not_ok "no notification: $(cat "$T/notify.out" "$T/standalone.log" 2>/dev/null)"; fi
expect_in "$(cat "$T/notify.out")" "STATUS=connecting" "STATUS=connecting reported"
kill -TERM $cpid
wait $cpid
expect_eq "$?" 0 "SIGTERM while connecting: exit 0"
expect_in "$(cat "$T/notify.out")" "STATUS=stopped" "STATUS=stopped reported"

# --- under the daemon ---------------------------------------------------
lab_start
serve_env
export RESPAWN_CONNECTOR="node $CONN/index.js"
export RESPAWN_CONNECTOR_ENV=RESPAWN_WA_URL
unset RESPAWN_WA_URL
export RECONNECT_DELAY=200 MAX_RECONNECT_ATTEMPTS=2 RESPAWN_STOP_TIMEOUT=5s RESPAWN_LOG_LEVEL=debug

: >"$T/proxies.txt"
for ip in $(lab_allocate de 5); do
	echo "$(lab_proxy_url "$ip") de" >>"$T/proxies.txt"
done
expect_eq "$(wc -l <"$T/proxies.txt")" 5 "5 lab IPs in de"

# trace PHONE: the session's status, attempts and proxy IP, every 100 ms,
# until it is failed (or 60 s pass).
trace() {
	local i s
	for i in $(seq 600); do
		s=$("$RESPAWN" session show "$1" --json 2>/dev/null) || { sleep 0.1; continue; }
		jq -r '[.status, .attempts, (.proxyIp // "-")] | join(" ")' <<<"$s"
		[ "$(jq -r .status <<<"$s")" = failed ] && return 0
		sleep 0.1
	done
	return 1
}

# (a) WhatsApp's real host: the lab's super proxy refuses it (403, never
# leaves the machine) -> X_RESPAWN_EVENT=proxy_blocked, exit 75, the
# daemon marks the IP bad for the phone and retries on another.
PA=+4915100000001
run "$RESPAWN" session add --user ua --phone $PA --country de
expect_rc 0 "add $PA"
serve_start
if trace $PA >"$T/trace.a"; then ok "(a) session ends in failed"
else not_ok "(a) not failed: $(tail -3 "$T/trace.a")"; fi
expect_eq "$(grep -c 'session.state.*from=starting to=backoff' "$T/serve.1.log")" 2 "(a) backs off after the first two failures"
expect_eq "$(cut -d' ' -f2 "$T/trace.a" | sort -n | tail -1)" 3 "(a) attempts counted up to MAX_RECONNECT_ATTEMPTS + 1"
n_ips=$(awk '$3 != "-" {print $3}' "$T/trace.a" | sort -u | wc -l)
[ "$n_ips" -ge 2 ] && ok "(a) the refused IP is replaced ($n_ips IPs used)" || not_ok "(a) one IP only: $(cat "$T/trace.a")"
log=$(curl -s "$LAB_API/lab/proxy/log")
# (A CONNECT without credentials, answered 407 before a client retries
# with them, is logged without a zone.)
wa_host=$(jq -r '[.connects[] | select(.target == "web.whatsapp.com:443" and .zone == "isp_lab")] | length' <<<"$log")
[ "$wa_host" -ge 3 ] && ok "(a) $wa_host CONNECTs to web.whatsapp.com:443 in the session's zone in the lab's log" || not_ok "(a) CONNECT log: $log"
expect_eq "$(jq -r '[.connects[] | select(.target == "web.whatsapp.com:443" and .zone == "isp_lab") | .status] | unique | join(",")' <<<"$log")" \
	"403" "(a) refused by the lab's super proxy (403: it never leaves the machine)"
# Each attempt went out through the IP the session had then.
ips_a=$(sqlite3 "$RESPAWN_DB" "SELECT DISTINCT ip FROM assignments WHERE phone = '$PA'" | sed -E 's/.*-ip-([0-9.]+)@.*/\1/' | tr '\n' ' ')
wa_exits=$(jq -r '[.connects[] | select(.target == "web.whatsapp.com:443" and .zone == "isp_lab") | .exit_ip] | unique | join(" ")' <<<"$log")
for ip in $wa_exits; do
	case " $ips_a " in
	*" $ip "*) ok "(a) web.whatsapp.com:443 was tried from the session's IP $ip" ;;
	*) not_ok "(a) exit IP $ip is not one of the session's IPs ($ips_a)" ;;
	esac
done
[ -n "$wa_exits" ] || not_ok "(a) no exit IP logged for web.whatsapp.com:443"
expect_eq "$(grep -c "event=connector.exited.*status=75" "$T/serve.1.log")" 3 "(a) the connector exited 75 three times"
expect_eq "$(grep -c "event=proxy.refused" "$T/serve.1.log")" 3 "(a) the daemon marked each IP bad"
expect_in "$(cat "$T/serve.1.log")" "status=connecting" "(a) the daemon received STATUS=connecting"
expect_in "$(cat "$T/serve.1.log")" "event=session.failed" "(a) session.failed alert"
clog=$(cat "$T"/state/logs/*.log)
expect_in "$clog" "exit 75: proxy answered CONNECT with 403" "(a) the connector's log says why"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
run "$RESPAWN" session stop $PA

# (b) WhatsApp's endpoint pointed at the lab's WhatsApp stand-in (through
# the super proxy, which lets loopback targets through): the tunnel opens
# from the session's IP, TLS fails (the stand-in speaks a line protocol),
# the connector exits 1 and the daemon backs off, then fails the session.
export RESPAWN_WA_URL="wss://localhost:$LAB_WA_PORT/ws/chat"
PB=+4915100000002
run "$RESPAWN" session add --user ub --phone $PB --country de
expect_rc 0 "add $PB"
serve_start
if trace $PB >"$T/trace.b"; then ok "(b) session ends in failed"
else not_ok "(b) not failed: $(tail -3 "$T/trace.b")"; fi
expect_eq "$(grep -c 'session.state.*from=starting to=backoff' "$T/serve.2.log")" 2 "(b) backs off after the first two failures"
expect_eq "$(cut -d' ' -f2 "$T/trace.b" | sort -n | tail -1)" 3 "(b) attempts counted up to MAX_RECONNECT_ATTEMPTS + 1"
# proxyIp names the static proxy (user@host:port); its -ip- is the exit IP.
ips_b=$(awk '$3 != "-" {print $3}' "$T/trace.b" | sed -E 's/.*-ip-([0-9.]+)@.*/\1/' | sort -u)
log=$(curl -s "$LAB_API/lab/proxy/log")
exits=$(jq -r --arg t "localhost:$LAB_WA_PORT" '.connects[] | select(.target == $t and .zone == "isp_lab") | "\(.exit_ip) \(.status)"' <<<"$log" | sort -u)
n=$(jq -r --arg t "localhost:$LAB_WA_PORT" '[.connects[] | select(.target == $t and .zone == "isp_lab")] | length' <<<"$log")
[ "$n" -ge 3 ] && ok "(b) $n tunnels to the WhatsApp endpoint" || not_ok "(b) CONNECT log: $log"
expect_eq "$exits" "$(sed 's/$/ 200/' <<<"$ips_b")" "(b) every tunnel left from the session's IP ($ips_b)"
expect_eq "$(grep -c "event=connector.exited.*status=1 " "$T/serve.2.log")" 3 "(b) the connector exited 1 three times"
expect_eq "$(grep -c "event=proxy.refused" "$T/serve.2.log")" 0 "(b) no IP marked bad"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "daemon stops"
finish
