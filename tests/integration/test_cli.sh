#!/usr/bin/env bash
# The respawn command as a user meets it: sessions added and listed, every
# kind of bad input refused with its exit status and a message naming the
# value, nothing changed on disk by a refused command, and check-config
# never printing a secret.
. "$(dirname "$0")/lib.sh"

cd "$T"
export RESPAWN_DB="$T/respawn.db"
unset RESPAWN_CONFIG

run "$RESPAWN" session add --user u1 --phone +14155551234 --country us
expect_rc 0 "session add"
expect_in "$out" "session 1 added" "add reports the new id"

run "$RESPAWN" session ls --json
expect_rc 0 "session ls --json"
expect_eq "$(jq -r '.[0].phoneNumber' <<<"$out")" "+14155551234" "ls shows the phone"
expect_eq "$(jq -r '.[0].userId' <<<"$out")" "u1" "ls shows the user"
expect_eq "$(jq -r '.[0].country' <<<"$out")" "us" "ls shows the country"
expect_eq "$(jq -r '.[0].gracefulShutdown' <<<"$out")" "false" "seed vocabulary"
expect_eq "$(jq 'length' <<<"$out")" "1" "one session"

before=$(tree_sum "$T")

run "$RESPAWN" session add --user u2 --phone +1415555 --country us
expect_rc 65 "invalid phone"
expect_in "$err" "'+1415555'" "message names the phone"
run "$RESPAWN" session add --user u2 --phone 14155550000 --country us
expect_rc 65 "phone without +"
run "$RESPAWN" session add --user u2 --phone +04155550000 --country us
expect_rc 65 "phone with leading zero"
run "$RESPAWN" session add --user u2 --phone +14155550000 --country zz
expect_rc 65 "unknown country"
expect_in "$err" "'zz'" "message names the country"
run "$RESPAWN" session add --user u2 --phone +447700900123 --country uk
expect_rc 65 "uk is not ISO"
expect_in "$err" "'gb'" "message suggests gb"
run "$RESPAWN" session add --user u2 --phone +14155551234 --country us
expect_rc 65 "duplicate phone"
expect_in "$err" "already has a session" "duplicate is explained"
run "$RESPAWN" session add --user "bad user" --phone +14155550000 --country us
expect_rc 65 "user id with a blank"
run "$RESPAWN" session add --user u2 --phone +14155550000
expect_rc 64 "missing --country"
expect_in "$err" "usage: respawn session add" "usage line shown"
run "$RESPAWN" session add --user u2 --phone +14155550000 --country us --bogus
expect_rc 64 "unknown option"
run "$RESPAWN" session show 99
expect_rc 65 "unknown session id"
run "$RESPAWN" session show abc
expect_rc 64 "neither id nor phone"
run "$RESPAWN" frobnicate
expect_rc 64 "unknown command"

printf '[respawn]\nMAX_RECONNECT_ATTEMPTS = lots\n' >"$T/broken.ini"
before=$(tree_sum "$T")
run "$RESPAWN" -c "$T/broken.ini" session add --user u2 --phone +14155550000 --country us
expect_rc 78 "malformed config file"
expect_in "$err" "MAX_RECONNECT_ATTEMPTS='lots'" "message names the key and value"
expect_in "$err" "broken.ini" "message names the file"
printf 'this is not ini\n' >"$T/garbage.ini"
run "$RESPAWN" -c "$T/garbage.ini" session ls
expect_rc 78 "config file syntax error"
run "$RESPAWN" -c "$T/missing.ini" session ls
expect_rc 78 "missing config file"
RECONNECT_DELAY=soon run "$RESPAWN" session ls
expect_rc 78 "invalid environment value"
expect_in "$err" "from env" "message names the source"
run "$RESPAWN" --set PRIORITY_COUNTRIES=us,xx session ls
expect_rc 78 "invalid flag value"
rm -f "$T/garbage.ini" "$T/missing.ini"
after=$(tree_sum "$T")
expect_eq "$after" "$before" "refused commands changed nothing on disk"

run "$RESPAWN" session stop +14155551234
expect_rc 0 "session stop by phone"
run "$RESPAWN" session show 1 --json
expect_eq "$(jq -r .desiredState <<<"$out")" "stopped" "stop recorded"
run "$RESPAWN" session start 1
expect_rc 0 "session start by id"
run "$RESPAWN" session show +14155551234 --json
expect_eq "$(jq -r .desiredState <<<"$out")" "running" "start recorded"
run "$RESPAWN" session rm 1
expect_rc 0 "session rm"
run "$RESPAWN" session ls --json
expect_eq "$(jq 'length' <<<"$out")" "0" "removed"
run sqlite3 "$RESPAWN_DB" "SELECT group_concat(kind, ',') FROM events"
expect_eq "$out" "session.added,session.stop_requested,session.start_requested,session.removed" "audit log"

# Config precedence: defaults < file < environment < flags.
printf 'MAX_RECONNECT_ATTEMPTS = 4\nRECONNECT_DELAY = 1000\nAUTO_RECONNECT = false\n' >"$T/ok.ini"
run env MAX_RECONNECT_ATTEMPTS=5 RECONNECT_DELAY=2000 "$RESPAWN" -c "$T/ok.ini" \
	--set RECONNECT_DELAY=3000 check-config --json
expect_rc 0 "check-config --json"
expect_eq "$(jq -r .AUTO_RECONNECT.value <<<"$out")" "false" "file beats default"
expect_eq "$(jq -r .MAX_RECONNECT_ATTEMPTS.source <<<"$out")" "env" "env beats file"
expect_eq "$(jq -r .RECONNECT_DELAY.value <<<"$out")" "3000" "flag beats env"
expect_eq "$(jq -r .RESPAWN_DB.source <<<"$out")" "env" "RESPAWN_DB from env"

# Every key of the configuration is documented.
run "$RESPAWN" check-config --json --no-resolve
for key in $(jq -r 'keys[]' <<<"$out"); do
	if grep -q "| \`$key\` |" "$SRC/docs/CONFIGURATION.md"; then ok "$key documented"
	else not_ok "$key missing from docs/CONFIGURATION.md"; fi
done

# Secrets in every reference form are resolved but never printed.
umask 077
printf 'file-secret-VALUE\n' >"$T/bd.key"
mkdir -p "$T/creds" && printf 'cred-secret-VALUE' >"$T/creds/api.key"
for form in text json; do
	flag=; [ "$form" = json ] && flag=--json
	for ref in "env:BD_KEY" "file:$T/bd.key" "file:api.key" "exec:printenv EXEC_SECRET"; do
		run env BD_KEY=env-secret-VALUE EXEC_SECRET=exec-secret-VALUE CREDENTIALS_DIRECTORY="$T/creds" \
			BRIGHT_DATA_ZONE_PASSWORD=zone-secret-VALUE \
			BRIGHT_DATA_API_KEY_SECRET="$ref" "$RESPAWN" check-config $flag
		expect_rc 0 "check-config $form with $ref"
		expect_not_in "$out$err" "secret-VALUE" "no secret value printed ($form, $ref)"
		expect_in "$out" "resolved" "reference resolved ($form, $ref)"
	done
done
chmod 644 "$T/bd.key"
run env BRIGHT_DATA_API_KEY_SECRET="file:$T/bd.key" "$RESPAWN" check-config
expect_rc 78 "world-readable secret file refused"
expect_not_in "$out$err" "secret-VALUE" "refusal does not show the value"
run env BRIGHT_DATA_API_KEY_SECRET="env:NOT_SET_ANYWHERE" "$RESPAWN" check-config
expect_rc 78 "unresolvable secret"
expect_in "$out$err" "NOT_SET_ANYWHERE" "message names the reference"

# Every command has --help with a usage line, even with a broken config.
for cmd in "check-config" "version" "session" "session add" "session ls" \
	"session show" "session rm" "session start" "session stop" "serve" \
	"proxy" "proxy ls" "proxy release" "proxy reconcile" "status" "demo"; do
	run "$RESPAWN" -c "$T/broken.ini" $cmd --help
	expect_rc 0 "$cmd --help"
	expect_in "$out" "usage: respawn $cmd" "$cmd usage line"
done
run "$RESPAWN" version
expect_rc 0 "version"
expect_in "$out" "respawn " "version printed"

# Control bytes a user typed are never written raw to the terminal.
esc=$(printf '\033')
run "$RESPAWN" session add --user u9 --phone "+1${esc}[31mred" --country us
expect_rc 65 "a phone with an escape sequence"
expect_not_in "$err" "$esc" "the escape byte is not written raw"
expect_in "$err" '\x1b[31m' "it is shown escaped"
run "$RESPAWN" "${esc}]0;title$(printf '\007')"
expect_rc 64 "an unknown command with escape sequences"
expect_not_in "$err" "$esc" "an unknown command: not raw"
run "$RESPAWN" session add "--x${esc}[1m"
expect_rc 64 "an unknown option with an escape sequence"
expect_not_in "$err" "$esc" "an unknown option: not raw"
# A database an older respawn left readable by others is tightened.
chmod 0644 "$RESPAWN_DB"
run "$RESPAWN" session ls
expect_eq "$(stat -c %a "$RESPAWN_DB")" 600 "an existing 0644 database becomes 0600"

# A fleet from a file: valid lines added in one transaction, the others
# refused by line number, nothing half-written.
cat >"$T/fleet.txt" <<'EOF2'
# user  phone           country  type         priority
fleet1  +4915200000001  de
fleet1, +4915200000002, de, residential, 5
fleet2  +4915200000003  uk
fleet2  +4915200000004  de  satellite
fleet2  +4915200000001  de
fleet2  +4915200000005
fleet3  +4915200000006  fr  isp  -3

EOF2
before=$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions")
run "$RESPAWN" session import "$T/fleet.txt"
expect_rc 65 "an import with refused lines exits 65"
expect_in "$out" "3 sessions added, 4 lines refused" "the summary"
expect_in "$err" "fleet.txt:4: " "the uk line is named"
expect_in "$err" "'gb'" "with its hint"
expect_in "$err" "fleet.txt:5: the proxy type must be isp or residential" "a bad proxy type"
expect_in "$err" "fleet.txt:6: +4915200000001: the phone number already has a session" "a duplicate within the file"
expect_in "$err" "fleet.txt:7: want USER PHONE COUNTRY" "too few fields"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT count(*) FROM sessions")" "$((before + 3))" "three sessions added"
expect_eq "$(sqlite3 "$RESPAWN_DB" "SELECT proxy_type || ',' || priority FROM sessions WHERE phone = '+4915200000002'")" \
    "residential,5" "type and priority taken"
run "$RESPAWN" session import --json "$T/fleet.txt"
expect_rc 65 "importing again"
expect_eq "$(jq '.added | length' <<<"$out")" 0 "nothing added twice"
expect_eq "$(jq -c '[.refused[].line]' <<<"$out")" "[2,3,4,5,6,7,8]" "every line refused, by number"
head -c 1500 /dev/zero | tr '\0' 'x' >"$T/long.txt"
printf '\nfleet4 +4915200000009 de\n' >>"$T/long.txt"
run "$RESPAWN" session import "$T/long.txt"
expect_rc 65 "a line over 1024 bytes"
expect_in "$err" "long.txt:1: line longer than 1024 bytes" "named"
expect_in "$out" "1 sessions added" "the next line still read"
run "$RESPAWN" session import "$T/none.txt"
expect_rc 66 "a missing file"
printf 'fleet5 +4915200000010 de\n' | "$RESPAWN" session import - >/dev/null
expect_eq "$?" 0 "standard input"

finish
