#!/usr/bin/env bash
# compare-diff.sh REF.csv NEW.csv - set a fresh `vmmu compare` beside the
# committed reference: one line per (workload, mode, seed) with cycles per
# access in each and the change, then the rows that are only in one of the
# two. Columns are picked by name, so the files may differ in width.
# Exit status 0 (a difference is a finding, not an error); 2 on bad usage.
set -u
if [ $# -ne 2 ] || [ ! -r "$1" ] || [ ! -r "$2" ]; then
	echo "usage: compare-diff.sh REF.csv NEW.csv (both readable)" >&2
	exit 2
fi
awk -F, -v ref="$1" -v new="$2" '
function cols(line,   n, i, f) {
	n = split(line, f, ",")
	for (i = 1; i <= n; i++) c[f[i]] = i
}
FNR == 1 { delete c; cols($0); next }
{
	key = $c["workload"] "," $c["mode"] "," $c["seed"]
	if (FILENAME == ref) { r[key] = $c["cycles_per_access"]; order[++n] = key }
	else { v[key] = $c["cycles_per_access"]; if (!(key in r)) extra[++m] = key }
}
END {
	printf "%-28s %-10s %5s %12s %12s %9s\n", "workload", "mode", "seed", "reference", "new", "change"
	same = 0; changed = 0
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, p, ",")
		if (!(k in v)) { printf "%-28s %-10s %5s %12.2f %12s %9s\n", p[1], p[2], p[3], r[k], "-", "missing"; continue }
		d = r[k] > 0 ? 100 * (v[k] - r[k]) / r[k] : 0
		if (v[k] == r[k]) same++; else changed++
		printf "%-28s %-10s %5s %12.2f %12.2f %+8.1f%%\n", p[1], p[2], p[3], r[k], v[k], d
	}
	for (i = 1; i <= m; i++) { split(extra[i], p, ","); printf "%-28s %-10s %5s %12s %12.2f %9s\n", p[1], p[2], p[3], "-", v[extra[i]], "new row" }
	printf "%d rows equal, %d changed, %d only in the reference, %d only in the new run\n", same, changed, n - same - changed, m
}' "$1" "$2"
