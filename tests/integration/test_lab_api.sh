#!/usr/bin/env bash
# respawn-lab's account API, Secret Manager and metadata stand-ins, and its
# answers to malformed requests, driven with curl.
. "$2/lab/testlib.sh"

lab_start lab --seed 7

# Authentication: 401 with a plain-text body.
curl -s -o "$T/b" -w '%{http_code} %{content_type}' "$API/status" >"$T/s"
expect_eq "401 text/html; charset=utf-8" "$(cat "$T/s")" "401 without a key"
expect_eq "User authentication is required" "$(cat "$T/b")" "401 body"
curl -s -o "$T/b" -w '%{http_code}' -H 'Authorization: Bearer wrong' \
    "$API/zone/ips?zone=isp_lab" >"$T/s"
expect_eq "401:Invalid credentials" "$(cat "$T/s"):$(cat "$T/b")" \
    "401 with a wrong key"

# GET /status and the legacy /api prefix.
expect_eq c_lab "$(api GET /status | jq -r .customer)" "GET /status"
expect_eq active "$(api GET /api/status | jq -r .status)" "GET /api/status"
expect_eq '[{"name":"isp_lab","type":"isp"},{"name":"res_lab","type":"res_rotating"}]' \
    "$(api GET /zone/get_active_zones | jq -c .)" "GET /zone/get_active_zones"

# POST /zone/ips: all of the zone's IPs and the new ones.
out=$(api POST /zone/ips '{"customer":"c_lab","zone":"isp_lab","count":2,"country":"de"}')
expect_eq 200 "$(status)" "POST /zone/ips"
expect_eq 2 "$(jq '.new_ips | length' <<<"$out")" "two new IPs"
ip1=$(jq -r '.new_ips[0]' <<<"$out")
ip2=$(jq -r '.new_ips[1]' <<<"$out")
[[ $ip1 == 127.* && $ip2 == 127.* && $ip1 != "$ip2" ]] || fail "loopback IPs: $out"
pass "distinct loopback IPs $ip1 $ip2"
out=$(api POST /zone/ips '{"customer":"c_lab","zone":"isp_lab","count":1,"country":"fr"}')
expect_eq 3 "$(jq '.ips | length' <<<"$out")" "ips lists the whole zone"

# Errors: missing field, wrong customer, unknown zone, rotating zone,
# a country without inventory, a bad count.
api POST /zone/ips '{"customer":"c_lab","zone":"isp_lab"}' >/dev/null
expect_eq 400 "$(status)" "missing count: 400"
api POST /zone/ips '{"customer":"other","zone":"isp_lab","count":1}' >/dev/null
expect_eq 400 "$(status)" "wrong customer: 400"
api POST /zone/ips '{"customer":"c_lab","zone":"nope","count":1}' >/dev/null
expect_eq 422 "$(status)" "unknown zone: 422"
expect_eq "Wrong zone plan" "$(api POST /zone/ips '{"customer":"c_lab","zone":"res_lab","count":1}')" \
    "residential zone: Wrong zone plan"
expect_eq 400 "$(status)" "residential zone: 400"
api POST /zone/ips '{"customer":"c_lab","zone":"isp_lab","count":1,"country":"be"}' >/dev/null
expect_eq 400 "$(status)" "no inventory in be: 400"
api POST /zone/ips '{"customer":"c_lab","zone":"isp_lab","count":0}' >/dev/null
expect_eq 400 "$(status)" "count 0: 400"
api POST /zone/ips 'not json' >/dev/null
expect_eq 400 "$(status)" "malformed JSON body: 400"

# GET /zone/ips, with and without ip_per_country.
out=$(api GET '/zone/ips?zone=isp_lab')
expect_eq "de" "$(jq -r --arg ip "$ip1" '.ips[] | select(.ip == $ip) | .maxmind' <<<"$out")" \
    "GET /zone/ips gives maxmind country"
expect_eq '{}' "$(jq -c '.ips[0].ext' <<<"$out")" "ext is an object"
expect_eq '{"de":2,"fr":1}' "$(api GET '/zone/ips?zone=isp_lab&ip_per_country=true' | jq -cS .)" \
    "ip_per_country"
api GET '/zone/ips' >/dev/null
expect_eq 400 "$(status)" "GET /zone/ips without zone: 400"
api GET '/zone/ips?zone=nope' >/dev/null
expect_eq 422 "$(status)" "GET /zone/ips unknown zone: 422"
expect_eq "Wrong zone plan" "$(api GET '/zone/ips?zone=res_lab')" "GET /zone/ips rotating zone"

# Counting what is for sale: both paths, by zone or by plan.
expect_eq 98 "$(api GET '/zone/count_available_ips?plan=%7B%22country%22%3A%22de%22%7D' | jq .count)" \
    "count_available_ips by plan"
expect_eq 0 "$(api GET '/count_available_ips?plan=%7B%22country%22%3A%22be%22%7D' | jq .count)" \
    "/count_available_ips (no /zone) for be"
[ "$(api GET '/zone/count_available_ips?zone=isp_lab' | jq .count)" -gt 1000 ] ||
    fail "count by zone"
pass "count_available_ips by zone"
api GET '/zone/count_available_ips' >/dev/null
expect_eq 400 "$(status)" "count_available_ips without zone or plan: 400"

# route_ips: plain text, or JSON with list_countries.
expect_eq 3 "$(api GET '/zone/route_ips?zone=isp_lab' | wc -l)" "route_ips lines"
expect_eq "$ip1" "$(api GET '/zone/route_ips?zone=isp_lab&country=de' | head -n 1)" \
    "route_ips by country"
expect_eq fr "$(api GET '/zone/route_ips?zone=isp_lab&list_countries=true' | jq -r '.[2].country')" \
    "route_ips list_countries"
api GET '/zone/route_ips?zone=res_lab' >/dev/null
expect_eq 403 "$(status)" "route_ips rotating zone: 403"

# POST /zone/ips/refresh: the listed IP is replaced by another of de.
out=$(api POST /zone/ips/refresh "{\"zone\":\"isp_lab\",\"ips\":[\"$ip2\"]}")
new=$(jq -r '.new_ips[0]' <<<"$out")
[[ $new != "$ip2" && $new == 127.* ]] || fail "refresh: $out"
expect_eq de "$(api GET '/zone/ips?zone=isp_lab' | jq -r --arg ip "$new" '.ips[] | select(.ip == $ip) | .maxmind')" \
    "refresh keeps the country"
api POST /zone/ips/refresh '{"zone":"isp_lab","ips":["127.200.0.1"]}' >/dev/null
expect_eq 400 "$(status)" "refresh of an unknown IP: 400"
expect_eq 3 "$(api POST /zone/ips/refresh '{"zone":"isp_lab"}' | jq '.new_ips | length')" \
    "refresh without ips replaces all"

# DELETE /zone/ips (with a JSON body) lists what it released.
all=$(api GET '/zone/ips?zone=isp_lab' | jq -c '[.ips[].ip]')
one=$(jq -r '.[0]' <<<"$all")
expect_eq "[\"$one\"]" "$(api DELETE /zone/ips "{\"zone\":\"isp_lab\",\"ips\":[\"$one\",\"127.250.0.1\"]}" | jq -c .ips)" \
    "DELETE /zone/ips"
expect_eq 2 "$(api GET '/zone/ips?zone=isp_lab' | jq '.ips | length')" "one fewer IP"
api DELETE /zone/ips '{"zone":"isp_lab"}' >/dev/null
expect_eq 400 "$(status)" "DELETE without ips: 400"
api DELETE /zone/ips '{"ips":[]}' >/dev/null
expect_eq 400 "$(status)" "DELETE without zone: 400"

# Metadata server and Secret Manager stand-ins.
curl -s -o "$T/b" -w '%{http_code}' \
    "$API/computeMetadata/v1/instance/service-accounts/default/token" >"$T/s"
expect_eq 403 "$(cat "$T/s")" "metadata token without Metadata-Flavor: 403"
tok=$(curl -sf -H 'Metadata-Flavor: Google' \
    "$API/computeMetadata/v1/instance/service-accounts/default/token")
expect_eq Bearer "$(jq -r .token_type <<<"$tok")" "metadata token_type"
[ "$(jq .expires_in <<<"$tok")" -gt 0 ] || fail "expires_in"
token=$(jq -r .access_token <<<"$tok")
sec="$API/v1/projects/lab/secrets/brightdata-api-key/versions/latest:access"
expect_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$sec")" "GSM without a token: 401"
out=$(curl -sf -H "Authorization: Bearer $token" "$sec")
expect_eq "projects/lab/secrets/brightdata-api-key/versions/1" "$(jq -r .name <<<"$out")" "GSM name"
expect_eq lab-api-key "$(jq -r .payload.data <<<"$out" | base64 -d)" "GSM payload"
admin POST /lab/gsm/secrets '{"name":"projects/lab/secrets/brightdata-api-key","value":"rotated"}' >/dev/null
expect_eq rotated "$(curl -sf -H "Authorization: Bearer $token" "$sec" | jq -r .payload.data | base64 -d)" \
    "GSM latest after a new version"
expect_eq lab-api-key "$(curl -sf -H "Authorization: Bearer $token" \
    "$API/v1/projects/lab/secrets/brightdata-api-key/versions/1:access" | jq -r .payload.data | base64 -d)" \
    "GSM version 1"
expect_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    "$API/v1/projects/lab/secrets/nope/versions/latest:access")" "GSM unknown secret: 404"

# Malformed requests get clear 4xx answers, never a crash.
raw() {
	printf '%b' "$1" | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LAB_API_PORT; cat >&3; cat <&3" |
	    head -n 1 | tr -d '\r'
}
expect_eq "HTTP/1.1 400 Bad Request" "$(raw 'GARBAGE\r\n\r\n')" "garbage request line: 400"
expect_eq "HTTP/1.1 400 Bad Request" "$(raw 'GET / HTTP/9.9\r\n\r\n')" "bad version: 400"
expect_eq "HTTP/1.1 501 Not Implemented" \
    "$(raw 'POST /zone/ips HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" "chunked: 501"
expect_eq "HTTP/1.1 413 Content Too Large" \
    "$(raw 'POST /zone/ips HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n')" "huge body: 413"
big=$(head -c 9000 /dev/zero | tr '\0' a)
expect_eq "HTTP/1.1 431 Request Header Fields Too Large" \
    "$(raw "GET / HTTP/1.1\r\nX: $big\r\n\r\n")" "huge header: 431"
expect_eq "HTTP/1.1 400 Bad Request" \
    "$(raw 'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')" "conflicting lengths: 400"
expect_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "$API/lab/nope")" "unknown admin path: 404"
expect_eq c_lab "$(api GET /status | jq -r .customer)" "the lab still answers"

lab_stop
echo "PASS"
