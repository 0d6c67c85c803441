#!/usr/bin/env bash
# respawn-lab's super proxy, driven with curl --proxy: both username forms,
# source binding (the far end sees the exit address), refusals, sticky
# residential sessions with their idle expiry, byte counting and billing,
# and the CONNECT log.
. "$2/lab/testlib.sh"

lab_start lab --seed 3
PROXY=http://127.0.0.1:$LAB_PROXY_PORT
ip=$(allocate de)
ip_fr=$(allocate fr)

# Through the tunnel to the lab's own API: GET /status reports the address
# the request came from, which must be the pinned exit IP.
via() {	# user:pass
	curl -s -p --proxy "$PROXY" --proxy-user "$1" -H "$KEY" "$API/status"
}
expect_eq "$ip" "$(via "brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw" | jq -r .ip)" \
    "ISP -ip- pins the exit address"
expect_eq "$ip_fr" "$(via "brd-customer-c_lab-zone-isp_lab-country-fr:isp_lab_pw" | jq -r .ip)" \
    "ISP -country- picks the zone's IP of that country"

# The CONNECT response names the exit IP in x-brd-ip.
curl -s -p -v --proxy "$PROXY" --proxy-user "brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw" \
    -H "$KEY" "$API/status" -o /dev/null 2>"$T/v" || true
grep -qi "x-brd-ip: $ip" "$T/v" || fail "x-brd-ip header"
pass "x-brd-ip header"

# Residential: the same session id keeps its exit address while in use.
r1=$(via "brd-customer-c_lab-zone-res_lab-country-be-session-s1:res_lab_pw" | jq -r .ip)
r2=$(via "brd-customer-c_lab-zone-res_lab-country-be-session-s1:res_lab_pw" | jq -r .ip)
expect_eq "$r1" "$r2" "residential session keeps its exit address"
r3=$(via "brd-customer-c_lab-zone-res_lab-country-be-session-s2:res_lab_pw" | jq -r .ip)
[ "$r3" != "$r1" ] || fail "a new session id gets a new address"
pass "a new session id gets a new address"
expect_eq 0 "$(admin GET /lab | jq '.inventory.be.inventory')" \
    "be has no ISP inventory, yet residential be works"
# After 60 s of idle time (on the lab clock) the session gets a new peer.
admin POST /lab/clock '{"advance_ms":61000}' >/dev/null
r4=$(via "brd-customer-c_lab-zone-res_lab-country-be-session-s1:res_lab_pw" | jq -r .ip)
[ "$r4" != "$r1" ] || fail "idle session should expire"
pass "idle residential session expires after 60 s"

# Refusals.
code() {	# user:pass -> CONNECT status
	curl -s -p -o /dev/null -w '%{http_connect}' --proxy "$PROXY" \
	    --proxy-user "$1" "$API/status" || true
}
expect_eq 407 "$(code "brd-customer-c_lab-zone-isp_lab-ip-$ip:wrong")" "wrong password: 407"
expect_eq 407 "$(code "brd-customer-other-zone-isp_lab-ip-$ip:isp_lab_pw")" "wrong customer: 407"
expect_eq 407 "$(code "brd-customer-c_lab-zone-nope:isp_lab_pw")" "unknown zone: 407"
expect_eq 407 "$(code "brd-customer-c_lab-zone-isp_lab-bogus-1:isp_lab_pw")" "unknown key: 407"
expect_eq 407 "$(code "brd-customer-c_lab-zone-res_lab-session-a-b:res_lab_pw")" \
    "non-alphanumeric session: 407"
expect_eq 400 "$(code "brd-customer-c_lab-zone-isp_lab-ip-127.3.255.1:isp_lab_pw")" \
    "unallocated IP: 400"
curl -s -p -v --proxy "$PROXY" --proxy-user "brd-customer-c_lab-zone-isp_lab-ip-127.3.255.1:isp_lab_pw" \
    "$API/status" -o /dev/null 2>"$T/v" || true
grep -q "Proxy-Status: .*client-10060" "$T/v" || fail "Proxy-Status client-10060"
pass "Proxy-Status names client-10060"
expect_eq 407 "$(curl -s -p -o /dev/null -w '%{http_connect}' --proxy "$PROXY" "$API/status" || true)" \
    "no credentials: 407"
expect_eq 403 "$(curl -s -p -o /dev/null -w '%{http_connect}' --proxy "$PROXY" \
    --proxy-user "brd-customer-c_lab-zone-isp_lab-ip-$ip:isp_lab_pw" http://192.0.2.1:80/ || true)" \
    "non-loopback target: 403"
printf 'GET http://127.0.0.1/ HTTP/1.1\r\n\r\n' | timeout 5 bash -c \
    "exec 3<>/dev/tcp/127.0.0.1/$LAB_PROXY_PORT; cat >&3; head -n 1 <&3" >"$T/r" || true
grep -q "^HTTP/1.1 405" "$T/r" || fail "plain GET to the proxy: $(cat "$T/r")"
pass "only CONNECT: 405"
printf 'NOT HTTP AT ALL\r\n\r\n' | timeout 5 bash -c \
    "exec 3<>/dev/tcp/127.0.0.1/$LAB_PROXY_PORT; cat >&3; head -n 1 <&3" >"$T/r" || true
grep -q "^HTTP/1.1 400" "$T/r" || fail "garbage to the proxy: $(cat "$T/r")"
pass "garbage to the proxy: 400"

# Bytes are counted per zone; residential bytes are billed per GB.
proxy=$(admin GET /lab/proxy)
[ "$(jq '.bytes_by_zone.isp_lab' <<<"$proxy")" -gt 0 ] || fail "isp bytes"
[ "$(jq '.bytes_by_zone.res_lab' <<<"$proxy")" -gt 0 ] || fail "res bytes"
pass "bytes counted per zone"
[ "$(admin GET /lab/ledger | jq '[.days[].residential_bytes] | add')" -gt 0 ] ||
    fail "residential bytes in the ledger"
pass "residential bytes reach the ledger"

# The CONNECT log names the target host, the zone and the exit address.
log=$(admin GET /lab/proxy/log)
expect_eq "127.0.0.1:$LAB_API_PORT" \
    "$(jq -r --arg ip "$ip" '[.connects[] | select(.exit_ip == $ip)][0].target' <<<"$log")" \
    "CONNECT log target"
[ "$(jq '[.connects[] | select(.status == 407)] | length' <<<"$log")" -ge 5 ] ||
    fail "refusals in the CONNECT log"
pass "refusals in the CONNECT log"
grep -q "event=proxy.connect target=127.0.0.1:$LAB_API_PORT" "$T/lab.log" || fail "proxy.connect log line"
pass "proxy.connect log line"

lab_stop
echo "PASS"
