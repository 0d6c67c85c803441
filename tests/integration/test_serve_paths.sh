#!/usr/bin/env bash
# The daemon's failure paths against respawn-lab: a connector in a crash
# loop ends in failed after MAX_RECONNECT_ATTEMPTS with backoff between
# starts; one that never reports READY is stopped at the readiness
# timeout; an IP revoked by the provider is refused by the super proxy
# (exit 75), marked bad for the phone and replaced by another IP of the
# same country; and a shell-script connector that reports with
# `systemd-notify --ready` is supervised like any other.
. "$(dirname "$0")/lib.sh"

lab_start --ping-ms 200
serve_env
export RECONNECT_DELAY=100 MAX_RECONNECT_ATTEMPTS=2 RESPAWN_READY_TIMEOUT=1s
export RESPAWN_STOP_TIMEOUT=1s

: >"$T/proxies.txt"
for cc in de de de us us us us; do
	for ip in $(lab_allocate $cc); do
		echo "$(lab_proxy_url "$ip") $cc" >>"$T/proxies.txt"
	done
done

# One connector command for all, choosing a behaviour by phone number.
cat >"$T/connector.sh" <<SCRIPT
#!/bin/sh
case "\$RESPAWN_PHONE" in
+19990000001) echo "crashing on purpose" >&2; exit 3 ;;
+19990000002) systemd-notify --ready --status="a shell script"; exec sleep 600 ;;
+19990000003) RESPAWN_LAB_NEVER_READY=1 exec "$LAB_CONNECTOR" ;;
esac
exec "$LAB_CONNECTOR"
SCRIPT
chmod +x "$T/connector.sh"
export RESPAWN_CONNECTOR="$T/connector.sh"
export RESPAWN_CONNECTOR_ENV=RESPAWN_LAB_WA_ADDR,PATH

"$RESPAWN" session add --user a --phone +4915100000001 --country de >/dev/null
"$RESPAWN" session add --user b --phone +19990000001 --country us >/dev/null
"$RESPAWN" session add --user c --phone +19990000002 --country us >/dev/null
"$RESPAWN" session add --user d --phone +19990000003 --country us >/dev/null
"$RESPAWN" session add --user e --phone +4915100000005 --country de >/dev/null
# Last active two days ago: beyond the 24 h recovery window.
sqlite3 "$RESPAWN_DB" "UPDATE sessions SET last_activity_at = \
	(strftime('%s', 'now') - 2 * 86400) * 1000 WHERE phone = '+4915100000005'"
serve_start

# (h) the shell-script connector.
if [ -x /usr/bin/systemd-notify ]; then
	wait_eq 10 ready status_of +19990000002
	expect_eq "$(status_of +19990000002)" ready "a script using systemd-notify --ready becomes ready"
else
	ok "systemd-notify not installed: skipped"
fi

# (d) the crash loop: 1 start + 2 attempts, then failed, auth kept.
wait_eq 15 failed status_of +19990000001
run "$RESPAWN" session show +19990000001 --json
expect_eq "$(jq -r .status <<<"$out")" failed "a crash loop ends in failed"
expect_eq "$(jq -r .lastError <<<"$out")" "exit status 3" "last error says why"
expect_eq "$(jq -r .attempts <<<"$out")" 3 "after MAX_RECONNECT_ATTEMPTS restarts"
expect_eq "$(grep -c 'event=connector.exited session=2 ' "$T/serve.1.log")" 3 "three starts, no more"
expect_in "$(cat "$T/serve.1.log")" "event=session.failed session=2" "failure alert raised"
id=$(jq -r .id <<<"$out")
test -d "$T/state/sessions/$id" && ok "the session directory (auth) is kept" ||
	not_ok "session directory removed"

# Readiness timeout: never ready, stopped and retried, then failed.
wait_eq 15 failed status_of +19990000003
expect_eq "$(status_of +19990000003)" failed "never ready: failed after the attempts"
expect_in "$(cat "$T/serve.1.log")" "event=connector.exited session=4" "never-ready connector was stopped"
run "$RESPAWN" session show +19990000003 --json
expect_eq "$(jq -r .lastError <<<"$out")" ready_timeout "last error: ready_timeout"

# A session idle beyond the recovery window is dormant: not started, until
# the operator starts it.
wait_eq 5 dormant status_of +4915100000005
expect_eq "$(status_of +4915100000005)" dormant "idle beyond the window: dormant"
expect_eq "$(lab_wa | jq -r '.phones["+4915100000005"].connected')" null "a dormant session is not started"
"$RESPAWN" session start +4915100000005 >/dev/null
wait_eq 10 ready status_of +4915100000005
expect_eq "$(status_of +4915100000005)" ready "session start wakes a dormant session"

# (f) a revoked IP is replaced by another of the same country.
wait_eq 10 ready status_of +4915100000001
old_ip=$(lab_wa | jq -r '.phones["+4915100000001"].ip')
curl -s -X POST -H 'Content-Type: application/json' \
	--data "{\"zone\":\"isp_lab\",\"ip\":\"$old_ip\"}" "$LAB_API/lab/ips/revoke" >/dev/null
new_ip=$old_ip
for _ in $(seq 100); do
	new_ip=$(lab_wa | jq -r '.phones["+4915100000001"] | select(.connected) | .ip')
	[ -n "$new_ip" ] && [ "$new_ip" != "$old_ip" ] && break
	sleep 0.1
done
[ -n "$new_ip" ] && [ "$new_ip" != "$old_ip" ] && ok "revoked IP replaced ($old_ip -> $new_ip)" ||
	not_ok "revoked IP not replaced: $(lab_wa | jq -c '.phones["+4915100000001"]')"
expect_eq "$(lab_wa | jq -r '.phones["+4915100000001"].country')" de "the replacement is in the same country"
expect_in "$(cat "$T/serve.1.log")" "event=proxy.refused session=1" "the refused IP is marked bad"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "$?" 0 "graceful stop"
finish
