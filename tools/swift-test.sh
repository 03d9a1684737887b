#!/usr/bin/env bash
# `swift test` with its arguments, as is, and on failure a short list of the failing tests and
# their recorded issues as the last lines printed: CI logs keep only their tail, and the suites
# print thousands of lines before the one that matters.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
	echo "── failures (swift test $*) ──"
	grep -E 'recorded an issue|error: |Fatal error|failed after|Test .* failed' "$log" | grep -v '^✘ Test run' |
		cut -c1-400 | tail -n 16
	grep -E '^✘ Test run' "$log" | tail -n 1
fi
exit "$status"
