#!/usr/bin/env bash
# The super proxy with relay workers (--proxy-workers 2): the proxy, fault
# (revocation closes tunnels held by a worker) and connector tests again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LAB_EXTRA_FLAGS="--proxy-workers 2"
for t in test_lab_proxy.sh test_lab_connector.sh test_lab_faults.sh; do
	echo "== $t with $LAB_EXTRA_FLAGS"
	bash "$here/$t" "$1" "$2"
done
echo "PASS"
