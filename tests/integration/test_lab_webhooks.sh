#!/usr/bin/env bash
# respawn-lab's webhook sink: deliveries signed as docs/WEBHOOKS.md says,
# here with curl and openssl rather than respawn's own code; verification
# with the secret from --webhook-secret and from POST /lab/webhooks/config;
# fail_next for retry tests; clearing, the body limit and the bounded list.
. "$2/lab/testlib.sh"

SECRET='lab-webhook-secret'
lab_start lab --seed 3 --webhook-secret "$SECRET"

# sign TS BODY [SECRET]: the hex HMAC-SHA256 of "TS.BODY", as a receiver
# computes it.
sign() {
	printf '%s.%s' "$1" "$2" |
	    openssl dgst -sha256 -hmac "${3:-$SECRET}" -r | cut -d' ' -f1
}

# deliver ID BODY [SIGNATURE [TS]]: posts one delivery the way respawn does
# and prints the status the sink answered. A caller that signs the body
# itself passes the timestamp it signed, so a second boundary between the two
# cannot make a good signature fail.
deliver() {
	local id=$1 body=$2 ts=${4:-$(date +%s)} sig
	sig=${3-sha256=$(sign "$ts" "$body")}
	curl -s -o /dev/null -w '%{http_code}' -X POST \
	    -H 'Content-Type: application/json' -H 'User-Agent: respawn/test' \
	    -H 'X-Respawn-Event: session.ready' -H "X-Respawn-Delivery: $id" \
	    -H "X-Respawn-Timestamp: $ts" -H "X-Respawn-Signature: $sig" \
	    --data-binary "$body" "$API/lab/webhooks"
}

hooks() { admin GET /lab/webhooks; }

expect_eq '{"deliveries":[],"failed":0,"received":0}' "$(hooks | jq -cS .)" \
    "no deliveries at start"

# A delivery signed with the secret the lab was started with verifies.
body='{"id":"0123456789abcdef0123456789abcdef","event":"session.ready","timestamp":"2026-03-01T00:00:00.000Z","instanceId":"i-1","data":{"phone":"+4915112345678"}}'
expect_eq 200 "$(deliver 0123456789abcdef0123456789abcdef "$body")" \
    "a signed delivery is answered 200"
out=$(hooks)
expect_eq 1 "$(jq '.deliveries | length' <<<"$out")" "one delivery recorded"
expect_eq true "$(jq '.deliveries[0].verified' <<<"$out")" \
    "signature verified with --webhook-secret"
expect_eq session.ready "$(jq -r '.deliveries[0].event' <<<"$out")" "event"
expect_eq 0123456789abcdef0123456789abcdef \
    "$(jq -r '.deliveries[0].delivery' <<<"$out")" "delivery id"
expect_eq +4915112345678 "$(jq -r '.deliveries[0].body.data.phone' <<<"$out")" \
    "the body is kept as parsed JSON"
expect_eq 4 "$(jq '.deliveries[0].headers | keys | length' <<<"$out")" \
    "all four X-Respawn-* headers kept"
[[ $(jq -r '.deliveries[0].signature' <<<"$out") == sha256=* ]] ||
    fail "signature: $out"
pass "signature header kept"
[[ $(jq -r '.deliveries[0].timestamp' <<<"$out") =~ ^[0-9]+$ ]] ||
    fail "timestamp: $out"
pass "timestamp header kept"
expect_eq 200 "$(jq '.deliveries[0].status' <<<"$out")" "status recorded"

# Wrong key, a body changed after signing, no signature, another scheme:
# recorded, answered 200 (the sink is a recorder), not verified.
expect_eq 200 "$(deliver id-2 "$body" "sha256=$(sign 1 "$body" wrong)")" \
    "a delivery signed with another key is still recorded"
ts=$(date +%s)
expect_eq 200 "$(deliver id-3 '{"tampered":true}' "sha256=$(sign "$ts" "$body")" "$ts")" \
    "a tampered body is still recorded"
expect_eq 200 "$(deliver id-4 "$body" '')" "an unsigned delivery is recorded"
expect_eq 200 "$(deliver id-5 "$body" "sha1=$(sign "$ts" "$body")" "$ts")" \
    "another scheme is recorded"
expect_eq 'false,false,false,false' \
    "$(hooks | jq -r '[.deliveries[1:][] | .verified] | map(tostring) | join(",")')" \
    "wrong key, tampered body, no signature, other scheme: not verified"

# A body that is not JSON is kept as a string.
expect_eq 200 "$(deliver id-6 'plain text')" "a text body is recorded"
expect_eq '"plain text",true' \
    "$(hooks | jq -r '.deliveries[-1] | "\(.body | tojson),\(.verified)"')" \
    "text body kept as a string, and verified"

# DELETE clears the list.
expect_eq '{"deliveries":[],"failed":0,"received":0}' \
    "$(admin DELETE /lab/webhooks | jq -cS .)" "DELETE clears"
expect_eq 0 "$(hooks | jq '.deliveries | length')" "nothing left"

# fail_next: the next two deliveries get 500, the third 200; all three are
# recorded, as a retrying sender sends the same body each time.
expect_eq '{"fail_next":2,"secret_set":true}' \
    "$(admin POST /lab/webhooks/config '{"fail_next":2}' | jq -cS .)" \
    "fail_next set"
codes=""
for _ in 1 2 3; do
	codes="$codes$(deliver retry-1 "$body") "
done
expect_eq "500 500 200 " "$codes" "two injected failures, then success"
out=$(hooks)
expect_eq 2 "$(jq .failed <<<"$out")" "failed counts the injected 500s"
expect_eq "500,500,200" "$(jq -r '[.deliveries[].status] | map(tostring) | join(",")' <<<"$out")" \
    "each attempt recorded with its answer"
expect_eq 1 "$(jq '[.deliveries[].body] | unique | length' <<<"$out")" \
    "the same body every attempt"
expect_eq 200 "$(deliver retry-2 "$body")" "fail_next is used up"

# The secret can be changed, and cleared to stop verifying.
expect_eq '{"fail_next":0,"secret_set":true}' \
    "$(admin POST /lab/webhooks/config '{"secret":"rotated"}' | jq -cS .)" \
    "secret changed"
ts=$(date +%s)
deliver rot-1 "$body" "sha256=$(sign "$ts" "$body" rotated)" "$ts" >/dev/null
deliver rot-2 "$body" >/dev/null
expect_eq true,false \
    "$(hooks | jq -r '[.deliveries[-2:][] | .verified] | map(tostring) | join(",")')" \
    "the new secret verifies, the old one no longer does"
admin POST /lab/webhooks/config '{"secret":""}' >/dev/null
ts=$(date +%s)
deliver rot-3 "$body" "sha256=$(sign "$ts" "$body" rotated)" "$ts" >/dev/null
expect_eq false "$(hooks | jq '.deliveries[-1].verified')" \
    "without a secret nothing verifies"

# Bad configuration is refused whole.
curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary \
    '{"secret":"x","fail_next":-1}' "$API/lab/webhooks/config" >"$T/s"
expect_eq 400 "$(cat "$T/s")" "fail_next -1: 400"
curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary '{"secret":5}' \
    "$API/lab/webhooks/config" >"$T/s"
expect_eq 400 "$(cat "$T/s")" "a secret that is not a string: 400"
expect_eq '{"fail_next":0,"secret_set":false}' \
    "$(admin POST /lab/webhooks/config '{}' | jq -cS .)" \
    "nothing changed by refused calls"

# The body limit: 64 KiB.
head -c 65537 /dev/zero | tr '\0' 'x' >"$T/big"
curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/big" \
    "$API/lab/webhooks" >"$T/s"
expect_eq 413 "$(cat "$T/s")" "a body over 64 KiB: 413"

# The list is bounded: the newest 256 are kept, all are counted.
admin DELETE /lab/webhooks >/dev/null
urls=()
for i in $(seq 1 260); do
	urls+=("$API/lab/webhooks?n=$i")
done
curl -s -X POST --data-binary '{}' "${urls[@]}" >/dev/null
out=$(hooks)
expect_eq 256 "$(jq '.deliveries | length' <<<"$out")" "256 deliveries kept"
expect_eq 260 "$(jq .received <<<"$out")" "260 received"
expect_eq "/lab/webhooks?n=5" "$(jq -r '.deliveries[0].path' <<<"$out")" \
    "the oldest were forgotten"

# Other methods and paths under the sink.
curl -s -o /dev/null -w '%{http_code}' -X PUT "$API/lab/webhooks" >"$T/s"
expect_eq 404 "$(cat "$T/s")" "PUT /lab/webhooks: 404"
curl -s -o /dev/null -w '%{http_code}' "$API/lab/webhooksx" >"$T/s"
expect_eq 404 "$(cat "$T/s")" "/lab/webhooksx is not the sink"

lab_stop
pass "lab stopped cleanly"
