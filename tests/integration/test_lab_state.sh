#!/usr/bin/env bash
# Billing on a fast lab clock (a month in seconds), and the lab's state
# surviving a restart; one seed gives the same world every run.
. "$2/lab/testlib.sh"

# A month of billing: per day of allocation, a partly used day charged.
lab_start lab --seed 5 --clock-start 2026-03-01T00:00:00Z --state "$T/state.json"
admin POST /lab/clock '{"set":"2026-03-01T10:00:00Z"}' >/dev/null
a=$(allocate us)
b=$(allocate us)
# b is released after 2.5 days: charged 3 days (Mar 1, 2, 3).
admin POST /lab/clock '{"advance_ms":216000000}' >/dev/null
api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":[\"$b\"]}" >/dev/null
# a is kept to Mar 31 14:00: charged 31 days; at 3600x the month passes
# in about twelve minutes of real time, so jump most of it and run the
# rest fast.
admin POST /lab/clock '{"set":"2026-03-31T13:59:00Z","speed":3600}' >/dev/null
sleep 0.2
admin POST /lab/clock '{"speed":1}' >/dev/null
l=$(admin GET /lab/ledger)
expect_eq 3 "$(jq --arg ip "$b" '.allocations[] | select(.ip == $ip) | .days_charged' <<<"$l")" \
    "released after 2.5 days: 3 days charged"
expect_eq 31 "$(jq --arg ip "$a" '.allocations[] | select(.ip == $ip) | .days_charged' <<<"$l")" \
    "held all month: 31 days charged"
# $1.50 a month is 50,000 micro-dollars a day.
expect_eq 1700000 "$(jq .spend.static_micro_usd <<<"$l")" "spend: 34 IP-days at \$0.05"
expect_eq 31 "$(jq '.days | length' <<<"$l")" "charges by day: 31 days"
expect_eq '2026-03-02 2' "$(jq -r '.days[1] | "\(.day) \(.static_ips)"' <<<"$l")" "two IPs on Mar 2"
expect_eq '2026-03-04 1' "$(jq -r '.days[3] | "\(.day) \(.static_ips)"' <<<"$l")" "one IP on Mar 4"

# A phone's record and the allocations survive a restart.
lab_stop
test -s "$T/state.json" || fail "state file written at exit"
pass "state file written at exit"
lab_start lab2 --seed 5 --state "$T/state.json"
expect_eq "$a" "$(api GET '/zone/ips?zone=isp_lab' | jq -r '.ips[0].ip')" "allocation survives a restart"
expect_eq 1700000 "$(admin GET /lab/ledger | jq .spend.static_micro_usd)" "ledger survives a restart"
now=$(admin GET /lab/clock | jq .now_ms)
[ "$now" -ge 1774965540000 ] || fail "clock survives a restart: $now"
pass "clock survives a restart"
admin POST /lab/wa/phone '{"phone":"+14155550100","state":"blocked"}' >/dev/null
admin POST /lab/state/save >/dev/null
lab_stop
lab_start lab3 --state "$T/state.json"
expect_eq blocked "$(admin GET /lab/wa | jq -r '.phones["+14155550100"].state')" "phone state survives"
expect_eq 0 "$(admin GET /lab/wa | jq '.ip_shares')" "ip_shares saved and loaded"
expect_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "{\"path\":\"$T/copy.json\"}" \
    "$API/lab/state/save")" "save to a chosen path"
test -s "$T/copy.json" || fail "saved copy"
lab_stop

# The IP sharing counters survive a restart, and a state saved before
# they existed still loads.
jq '.wa.ip_shares = 5 | .wa.phones[0].ip_shared = 2' "$T/copy.json" >"$T/shares.json"
lab_start lab4 --state "$T/shares.json"
expect_eq 5 "$(admin GET /lab/wa | jq .ip_shares)" "ip_shares survives a restart"
expect_eq 2 "$(admin GET /lab/wa | jq '.phones["+14155550100"].ip_shared')" "ip_shared survives a restart"
lab_stop
jq 'del(.wa.ip_shares) | del(.wa.phones[].ip_shared)' "$T/copy.json" >"$T/old.json"
lab_start lab5 --state "$T/old.json"
expect_eq blocked "$(admin GET /lab/wa | jq -r '.phones["+14155550100"].state')" "a state without the sharing counters loads"
expect_eq "0 0" "$(admin GET /lab/wa | jq -r '"\(.ip_shares) \(.phones["+14155550100"].ip_shared)"')" \
    "missing sharing counters start at 0"
lab_stop

# One seed, one world: two fresh labs with the same seed sell the same IPs.
lab_start s1 --seed 42
x=$(allocate gb 3 >/dev/null; api GET '/zone/ips?zone=isp_lab' | jq -c '[.ips[].ip]')
lab_stop
lab_start s2 --seed 42
y=$(allocate gb 3 >/dev/null; api GET '/zone/ips?zone=isp_lab' | jq -c '[.ips[].ip]')
lab_stop
expect_eq "$x" "$y" "same seed, same IPs"
lab_start s3 --seed 43
z=$(allocate gb 3 >/dev/null; api GET '/zone/ips?zone=isp_lab' | jq -c '[.ips[].ip]')
lab_stop
[ "$x" != "$z" ] || fail "another seed should sell other IPs"
pass "another seed, other IPs"

# A broken state file is refused with a clear message.
echo '{"version":1' >"$T/bad.json"
rc=0
"$LAB_BIN" --api-port 0 --proxy-port 0 --wa-port 0 --state "$T/bad.json" 2>"$T/bad.log" || rc=$?
expect_eq 71 "$rc" "broken state file: exit 71"
grep -q "state file" "$T/bad.log" || fail "message names the state file"
pass "message names the state file"
echo "PASS"
