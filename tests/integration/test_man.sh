#!/usr/bin/env bash
# The manual pages say what the binaries do: the configuration keys that
# respawn knows, docs/CONFIGURATION.md lists and respawn.ini(5) describes
# are the same; every command and option of `respawn --help` (and of each
# command's --help) is in respawn(8) with the same synopsis, and nothing
# else is; the flags of `respawn-lab --help`, docs/LAB.md and
# respawn-lab(1) agree; groff formats every page without a warning.
. "$(dirname "$0")/lib.sh"

MAN="$BUILD/man"
LAB="$BUILD/lab/respawn-lab"
unset RESPAWN_CONFIG

# The tags (the line after each .TP) of one section of a page, roff
# escapes removed: "\fBrespawn session ls\fR [\fB\-\-json\fR]" becomes
# "respawn session ls [--json]".
section_tags() {
	awk -v want="$2" '
		/^\.SH / { sec = substr($0, 5); gsub(/"/, "", sec); next }
		sec == want && tp { print; tp = 0; next }
		sec == want && /^\.TP/ { tp = 1 }
	' "$1" | sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' \
		-e 's/^\.B //' -e 's/^\.I //'
}

# The lines of a list that another lacks, as one line each ("" when none).
missing() { comm -23 <(sort -u <<<"$1") <(sort -u <<<"$2") | paste -sd' ' -; }

for page in respawn.8 respawn.ini.5 respawn-lab.1; do
	if [ -s "$MAN/$page" ]; then ok "$page generated"
	else not_ok "$page missing in $MAN"; fi
	if [ -s "$MAN/$page.gz" ] && [ "$(gzip -dc "$MAN/$page.gz")" = "$(cat "$MAN/$page")" ]
	then ok "$page.gz is $page"
	else not_ok "$page.gz is not $page"; fi
done

# --- configuration keys: code, docs/CONFIGURATION.md, respawn.ini(5) ----
run "$RESPAWN" check-config --json --no-resolve
expect_rc 0 "check-config --json --no-resolve"
code_keys=$(jq -r 'keys[]' <<<"$out" | sort)
doc_keys=$(grep -o '^| `[A-Z_]*` |' "$SRC/docs/CONFIGURATION.md" | tr -d '|` ' | sort)
man_keys=$(section_tags "$MAN/respawn.ini.5" KEYS | sort)
expect_eq "$(wc -l <<<"$code_keys")" "$(jq 'keys | length' <<<"$out")" "keys counted"
if [ "$(wc -l <<<"$code_keys")" -ge 40 ]; then ok "respawn knows $(wc -l <<<"$code_keys") keys"
else not_ok "too few keys from check-config: $code_keys"; fi
expect_eq "$(missing "$code_keys" "$doc_keys")" "" "every key respawn knows is in docs/CONFIGURATION.md"
expect_eq "$(missing "$doc_keys" "$code_keys")" "" "docs/CONFIGURATION.md lists no key respawn does not know"
expect_eq "$(missing "$code_keys" "$man_keys")" "" "every key respawn knows is in respawn.ini(5)"
expect_eq "$(missing "$man_keys" "$code_keys")" "" "respawn.ini(5) lists no key respawn does not know"
expect_eq "$(section_tags "$MAN/respawn.ini.5" KEYS | sort | uniq -d)" "" "respawn.ini(5) lists each key once"

# --- commands: respawn --help and each command's, respawn(8) ------------
run "$RESPAWN" --help
expect_rc 0 "respawn --help"
top=$(sed -n '/^commands:/,/^$/p' <<<"$out" | awk 'NF && !/:$/ { print $1 }')
if [ "$(wc -l <<<"$top")" -ge 8 ]; then ok "--help lists $(wc -l <<<"$top") commands"
else not_ok "too few commands in --help: $top"; fi
help_opts=$(sed -n '/^options:/,/^$/p' <<<"$out" | grep -o -- '--[a-z-]*\|^  -[a-z]' | tr -d ' ' | sort -u)
# Each command's synopsis: its own usage line, or for a group of
# subcommands (session, proxy, cost) the "  respawn GROUP SUB ..." lines.
help_synopses=
for c in $top; do
	run "$RESPAWN" "$c" --help
	expect_rc 0 "respawn $c --help"
	lines=$(grep '^  respawn ' <<<"$out" | sed 's/^  //')
	if [ -z "$lines" ]; then
		lines=$(sed -n '1s/^usage: //p' <<<"$out")
	fi
	if [ -n "$lines" ]; then ok "respawn $c --help has a synopsis"
	else not_ok "respawn $c --help: no synopsis in: $out"; fi
	help_synopses+="$lines"$'\n'
done
help_synopses=$(sed '/^$/d' <<<"$help_synopses")
man_synopses=$(section_tags "$MAN/respawn.8" COMMANDS)
expect_eq "$(missing "$help_synopses" "$man_synopses")" "" "every synopsis of --help is in respawn(8) as written"
expect_eq "$(missing "$man_synopses" "$help_synopses")" "" "respawn(8) has no command --help does not"
man_opts=$(section_tags "$MAN/respawn.8" OPTIONS | grep -o -- '--[a-z-]*\|^-[a-z]' | sort -u)
expect_eq "$(missing "$help_opts" "$man_opts")" "" "every option of --help is in respawn(8)"
expect_eq "$(missing "$man_opts" "$help_opts")" "" "respawn(8) has no option --help does not"

# --- respawn-lab: --help, docs/LAB.md, respawn-lab(1) -------------------
if [ -x "$LAB" ]; then
	run "$LAB" --help
	expect_rc 0 "respawn-lab --help"
	lab_help=$( (grep -o -- '\[--[a-z-]*' <<<"$out" | tr -d '['; echo --help) | sort -u)
	lab_doc=$(sed -n '/^### Flags/,/^###* [^F]/p' "$SRC/docs/LAB.md" |
		grep -o '^| `--[a-z-]*' | tr -d '|` ' | sort -u)
	lab_man=$(section_tags "$MAN/respawn-lab.1" OPTIONS | awk '{ print $1 }' | sort -u)
	expect_eq "$(missing "$lab_help" "$lab_doc")" "" "every flag of respawn-lab --help is in docs/LAB.md"
	expect_eq "$(missing "$lab_doc" "$lab_help")" "" "docs/LAB.md has no flag respawn-lab does not"
	expect_eq "$(missing "$lab_help" "$lab_man")" "" "every flag of respawn-lab --help is in respawn-lab(1)"
	expect_eq "$(missing "$lab_man" "$lab_help")" "" "respawn-lab(1) has no flag respawn-lab does not"
else
	not_ok "respawn-lab not built at $LAB"
fi

# --- the pages format cleanly --------------------------------------------
if command -v groff >/dev/null; then
	for page in respawn.8 respawn.ini.5 respawn-lab.1; do
		run groff -man -ww -z -Kutf8 -Tutf8 "$MAN/$page"
		expect_eq "$rc:$err" "0:" "groff formats $page without a warning"
	done
else
	ok "groff not installed: formatting not checked (scripts/setup installs man-db)"
fi

finish
