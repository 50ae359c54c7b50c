#!/usr/bin/env bash
# run-units.sh - run the cmocka test binaries JOBS at a time (make test-unit).
#
# Usage: bash tests/run-units.sh JOBS LOGDIR BINARY...
#
# Each binary's output goes to LOGDIR/NAME.log; one line per binary says
# how it ended, in the order given, and a failed binary's log is printed
# whole after the list. Exit status 0 when every binary passed, else 1.
# The binaries are independent processes (each makes its own guests), so
# running them side by side changes nothing they assert.
set -u
jobs=$1
logdir=$2
shift 2
case $jobs in '' | *[!0-9]* | 0) echo "run-units.sh: JOBS must be a positive integer, got '$jobs'" >&2; exit 2 ;; esac
mkdir -p "$logdir" || exit 2
rm -f "$logdir"/*.status

# Start the longest first (the order of the last run's times, when known),
# so that the last binary to start is a short one.
order=()
if [ -s "$logdir/times" ]; then
	while read -r _ t; do
		for b in "$@"; do [ "$b" = "$t" ] && order+=("$t"); done
	done < <(sort -rn "$logdir/times")
fi
for b in "$@"; do
	case " ${order[*]-} " in *" $b "*) ;; *) order+=("$b") ;; esac
done

run_one() {
	local t=$1 name log start rc
	name=$(basename "$t")
	log=$LOGDIR/$name.log
	start=$(date +%s%N)
	"$t" >"$log" 2>&1
	rc=$?
	echo "$rc $((($(date +%s%N) - start) / 1000000))" >"$LOGDIR/$name.status"
}
export -f run_one
export LOGDIR=$logdir
printf '%s\n' "${order[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {}

fail=0
n=0
: >"$logdir/times.new"
for t in "$@"; do
	name=$(basename "$t")
	n=$((n + 1))
	if [ ! -s "$logdir/$name.status" ]; then
		echo "FAILED: $t (did not finish)"
		fail=$((fail + 1))
		continue
	fi
	read -r rc ms <"$logdir/$name.status"
	echo "$ms $t" >>"$logdir/times.new"
	if [ "$rc" -eq 0 ]; then
		passed=$(grep -E '^\[  PASSED  \]' "$logdir/$name.log" | tail -1 | sed 's/^\[  PASSED  \] *//')
		echo "== $t: ${passed:-passed} ($((ms / 1000)).$((ms % 1000 / 100)) s)"
	else
		echo "FAILED: $t (exit status $rc)"
		fail=$((fail + 1))
	fi
done
mv "$logdir/times.new" "$logdir/times"
for t in "$@"; do
	name=$(basename "$t")
	read -r rc _ <"$logdir/$name.status" 2>/dev/null || rc=1
	if [ "$rc" -ne 0 ]; then
		echo "---- $t (log $logdir/$name.log)"
		cat "$logdir/$name.log"
	fi
done
echo "unit test binaries: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
