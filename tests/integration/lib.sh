# Shared helpers of the integration tests.  A test sources this file with
# the build directory and the source directory as $1 and $2; it gets a
# private temporary directory ($T) that is removed, and every process it
# started (recorded with track_pid) killed, when it exits, whatever happens.

set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
RESPAWN="$BUILD/respawn"
T=$(mktemp -d "${TMPDIR:-/tmp}/respawn-it.XXXXXX")
TRACKED_PIDS=()
FAILS=0
CHECKS=0

cleanup() {
	local pid
	for pid in "${TRACKED_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.1
	for pid in "${TRACKED_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$T" "$T.out" "$T.err"
}
trap cleanup EXIT

track_pid() { TRACKED_PIDS+=("$1"); }

# Run a command, keeping its status, stdout and stderr in $rc, $out, $err.
run() {
	"$@" >"$T.out" 2>"$T.err"
	rc=$?
	out=$(cat "$T.out")
	err=$(cat "$T.err")
}

ok() { CHECKS=$((CHECKS + 1)); echo "ok - $*"; }
not_ok() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok - $*"; }

# expect_rc WANT DESCRIPTION: checks $rc from the last run.
expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok "$2 (exit $rc)"
	else not_ok "$2: exit $rc, want $1; stderr: $err"; fi
}

# expect_in HAYSTACK NEEDLE DESCRIPTION
expect_in() {
	case "$1" in
	*"$2"*) ok "$3" ;;
	*) not_ok "$3: '$2' not found in: $1" ;;
	esac
}

# expect_not_in HAYSTACK NEEDLE DESCRIPTION
expect_not_in() {
	case "$1" in
	*"$2"*) not_ok "$3: '$2' found in: $1" ;;
	*) ok "$3" ;;
	esac
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
	if [ "$1" = "$2" ]; then ok "$3"
	else not_ok "$3: got '$1', want '$2'"; fi
}

# A fingerprint of every file under a directory, to prove nothing changed.
tree_sum() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

finish() {
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}
