#!/usr/bin/env bash
# bench-replay.sh - replay throughput rows for results/bench.csv (called by
# `make bench` after `vmmu bench`, which writes the file afresh).
#
#   bash workloads/bench-replay.sh CSV
#
# One real program (GNU sort of 5,000 generated lines, one thread) is
# recorded once with lackey, then replayed under native three ways, one row
# appended to CSV for each:
#   replay:sort-text     the text trace read from a file
#   replay:sort-binary   the same trace in the binary form (vmmu trace convert)
#   replay:sort-lackey   lackey itself as the producer, through a pipe:
#                        valgrind ... --log-fd=9 sort 9>&1 | vmmu replay --trace -
# sim_accesses_per_s is the replay's accesses over its wall time (the whole
# run, reading included), so the third row is bound by lackey's speed. The
# columns that only `vmmu bench` measures (flat, warm, hitpath) are empty.
# The third row is a recording of its own: under valgrind, sort's access
# count can differ by a few accesses from run to run (its environment and
# stack placement), so its checksum need not match the first two rows'.
# Needs valgrind; without it the script says so and appends nothing.
# VMMU names the vmmu binary (default build/vmmu).
set -u

csv=${1:?usage: bench-replay.sh CSV}
vmmu=${VMMU:-build/vmmu}
if ! command -v valgrind >/dev/null 2>&1; then
	echo "bench-replay: valgrind is not installed (make traces installs it); no replay rows"
	exit 0
fi
if [ ! -s "$csv" ]; then
	echo "bench-replay: $csv is missing (run vmmu bench first)" >&2
	exit 1
fi
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

awk 'BEGIN { s = 1; for (i = 0; i < 5000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
	printf "%08d record %d %x\n", s % 100000000, i, s } }' >"$work/lines.txt"
lackey() {
	(cd "$work" && LC_ALL=C valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes \
		--log-fd=9 sort --parallel=1 lines.txt 9>&1 >/dev/null 2>/dev/null)
}
lackey >"$work/sort.lackey" || exit 1
"$vmmu" trace convert "$work/sort.lackey" "$work/sort.vtrace" 2>/dev/null || exit 1

# row NAME RUNCSV: the bench row for a replay whose `vmmu replay --csv` is RUNCSV.
row() {
	awk -F, -v OFS=, -v name="$1" -v bench="$csv" '
	BEGIN { getline hdr < bench; nb = split(hdr, bcol, ",") }
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	NR == 2 {
		for (i = 1; i <= nb; i++) {
			c = bcol[i]; v = ""
			if (c == "workload") v = name
			else if (c == "sim_accesses_per_s") v = sprintf("%.0f", $col["accesses"] / $col["wall_s"])
			else if (c == "user_accesses_per_s") v = sprintf("%.0f", $col["user_accesses"] / $col["wall_s"])
			else if (c in col) v = $col[c]
			if ((c == "walk_caches" || c == "vpid" || c == "pcid") && (v == "1" || v == "0"))
				v = v == "1" ? "on" : "off"
			printf "%s%s", v, (i < nb ? OFS : ORS)
		}
	}' "$2"
}
"$vmmu" replay --trace "$work/sort.lackey" --csv "$work/text.csv" >/dev/null || exit 1
"$vmmu" replay --trace "$work/sort.vtrace" --csv "$work/binary.csv" >/dev/null || exit 1
lackey | "$vmmu" replay --trace - --csv "$work/lackey.csv" >/dev/null || exit 1
{
	row replay:sort-text "$work/text.csv"
	row replay:sort-binary "$work/binary.csv"
	row replay:sort-lackey "$work/lackey.csv"
} >>"$csv"
echo "bench-replay: appended 3 rows to $csv ($(wc -c <"$work/sort.lackey") bytes of text, $(wc -c <"$work/sort.vtrace") binary)"
