#!/usr/bin/env bash
# The README's main job runs from the source tree and reports what it
# should: all 50 sessions back after each restart, IPs reactivated, no IP
# bought, no IP changed, no conflict, and it cleans up after itself.
. "$(dirname "$0")/lib.sh"

run "$SRC/scripts/demo"
expect_rc 0 "scripts/demo"
expect_in "$out" "recovered after the host crash:   50 / 50" "all 50 recovered after the host crash"
expect_in "$out" "proxies reactivated (same IP):    50" "every proxy reactivated"
expect_in "$out" "IPs bought for the recoveries:    0" "nothing bought"
expect_in "$out" "phones whose IP changed:          0" "no IP changed"
expect_in "$out" "conflicts seen by WhatsApp:       0" "no conflict"
expect_in "$out" "re-adopted connectors: 50, reconnects at WhatsApp: 0" "kill -9: adopted, no reconnect"
expect_in "$out" "sessions on a fallback country:   3" "three fallbacks"
finish
