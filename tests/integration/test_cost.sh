#!/usr/bin/env bash
# `respawn cost simulate` as a user meets it: the generator's trace gives
# the same figures for the same seed and every policy's row; a trace file
# in the documented format is replayed, and the figures follow from it by
# hand (one phone, one IP, a restart); every kind of bad input is refused
# with its exit status and a message naming the file and line.
. "$(dirname "$0")/lib.sh"

cd "$T"
export RESPAWN_DB="$T/respawn.db"
unset RESPAWN_CONFIG

# A small generated trace: four policies, figures that add up.
run "$RESPAWN" cost simulate --seed 7 --phones 60 --days 4 --countries 3 --json
expect_rc 0 "simulate a generated trace"
expect_eq "$(jq -r '[.policies[].policy] | join(",")' <<<"$out")" \
    "keep,idle-timeout,aware,stable" "one row per policy, default last"
expect_eq "$(jq -r '.trace.source' <<<"$out")" "generated" "the source"
first="$out"
expect_eq "$(jq '[.policies[] | select(.ip_days < .limit)] | length' <<<"$out")" \
    "0" "no policy pays less than the limit"
expect_eq "$(jq '[.policies[] | select(.changed > .reconnects)] | length' <<<"$out")" \
    "0" "changes are reconnects"
expect_eq "$(jq '.floor >= .limit' <<<"$out")" "true" "the floor is above the limit"
keep_buys=$(jq '.policies[0].purchases' <<<"$out")
idle_buys=$(jq '.policies[1].purchases' <<<"$out")
expect_eq "$(( idle_buys >= keep_buys ))" "1" "idle-timeout buys at least as often as keep"
run "$RESPAWN" cost simulate --seed 7 --phones 60 --days 4 --countries 3 --json
expect_eq "$out" "$first" "the same seed gives the same figures"
run "$RESPAWN" cost simulate --seed 8 --phones 60 --days 4 --countries 3 --json
if [ "$out" != "$first" ]; then ok "another seed gives another trace"
else not_ok "another seed gives the same figures"; fi

# The text table names every policy.
run "$RESPAWN" cost simulate --seed 7 --phones 60 --days 4 --countries 3
expect_rc 0 "the table"
for p in keep "idle-timeout 3600s" aware stable; do
	expect_in "$out" "$p " "the table has $p"
done

# A hand-made trace: one phone online two whole days with a restart in
# between: one IP bought, the restart keeps it, 2 IP-days, nothing changed.
cat >"$T/one.trace" <<'TR'
# phone        country start                 end                   ended by
+14155550100   us      2026-03-02T00:00:00Z  2026-03-03T03:00:00Z  restart
+14155550100,us,2026-03-03T03:00:10Z,2026-03-03T23:00:00Z
TR
run "$RESPAWN" cost simulate --trace "$T/one.trace" --policy keep --policy stable --json
expect_rc 0 "simulate a trace file"
expect_eq "$(jq -c '[.limit, .floor]' <<<"$out")" "[2,2]" "limit and floor by hand"
expect_eq "$(jq -c '[.policies[] | [.policy, .purchases, .ip_days, .reconnects, .changed]]' <<<"$out")" \
    '[["keep",1,2,1,0],["stable",1,2,1,0]]' "one IP, two days, a restart on it"
expect_eq "$(jq '.policies[0].changed_deploy_pct' <<<"$out")" "0" "deploy share"

# Two phones of one country taking turns: the stable policy holds the
# first phone's IP for it while it is expected back, so the second buys.
cat >"$T/two.trace" <<'TR'
+14155550101 us 2026-03-02T08:00:00Z 2026-03-02T09:00:00Z
+14155550102 us 2026-03-02T09:10:00Z 2026-03-02T10:00:00Z
+14155550101 us 2026-03-02T09:20:00Z 2026-03-02T11:00:00Z
TR
run "$RESPAWN" cost simulate --trace "$T/two.trace" --policy aware --policy stable --json
expect_rc 0 "simulate two phones"
expect_eq "$(jq -c '[.policies[] | [.policy, .purchases, .changed]]' <<<"$out")" \
    '[["aware",2,1],["stable",2,0]]' "aware moves the first phone, stable does not"
run "$RESPAWN" cost simulate --trace "$T/two.trace" --policy stable --change-cost 0.001 --json
expect_eq "$(jq -c '[.policies[0].purchases, .policies[0].changed, .policies[0].displaced]' <<<"$out")" \
    '[2,1,1]' "a change worth less than a purchase: the held IP is taken"

# Bad input: a clear error, the file and line named.
bad() {	# bad NAME STATUS TEXT LINE...
	local name=$1 want=$2 text=$3
	shift 3
	printf '%s\n' "$@" >"$T/bad.trace"
	run "$RESPAWN" cost simulate --trace "$T/bad.trace"
	expect_rc "$want" "$name"
	expect_in "$err" "$text" "$name: the message"
}
bad "unknown country" 65 "bad.trace:1: " "+14155550100 zz 1 2"
bad "uk" 65 "'gb'" "+14155550100 uk 1 2"
bad "bad phone" 65 "E.164" "14155550100 us 1 2"
bad "end before start" 65 "end must come after start" "+14155550100 us 5 4"
bad "bad time" 65 "RFC 3339" "+14155550100 us 2026-02-30T00:00:00Z 2026-03-01T00:00:00Z"
bad "bad ending" 65 "stop or restart" "+14155550100 us 1 2 reboot"
bad "too few fields" 65 "too few fields" "+14155550100 us 1"
bad "too many fields" 65 "too many fields" "+14155550100 us 1 2 stop x"
bad "two countries" 65 "two countries" "+14155550100 us 1 2" "+14155550100 de 3 4"
bad "overlap" 65 "bad.trace:2: a phone's intervals overlap" \
    "+14155550100 us 1 10" "+14155550100 us 5 20"
bad "empty" 65 "no interval" "# nothing"
head -c 2000 /dev/zero | tr '\0' 'x' >"$T/long.trace"
run "$RESPAWN" cost simulate --trace "$T/long.trace"
expect_rc 65 "an overlong line"
expect_in "$err" "longer than" "an overlong line: the message"
run "$RESPAWN" cost simulate --trace "$T/missing.trace"
expect_rc 66 "a missing file"
run "$RESPAWN" cost simulate --trace "$T/one.trace" --seed 3
expect_rc 64 "--trace with generator options"
run "$RESPAWN" cost simulate --phones 0
expect_rc 64 "no phones"
run "$RESPAWN" cost simulate --policy cheap
expect_rc 64 "an unknown policy"
expect_in "$err" "'cheap'" "the policy is named"
run "$RESPAWN" cost simulate --price abc
expect_rc 64 "a bad price"
run "$RESPAWN" --set RESPAWN_RELEASE_POLICY=cheap cost simulate
expect_rc 78 "a bad configured policy"

finish
