#!/usr/bin/env bash
# e2e_sweep.sh - end-to-end tests of compare's completeness and plots,
# vmmu sweep, --emit-jobs and vmmu merge.
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e_sweep.sh
# (`make test-e2e` does). Sizes are tiny so the whole file runs in seconds.
# The last line is "sweep: N passed, M failed"; the exit status is non-zero
# when M > 0.
set -u

. "$(dirname "$0")/lib.sh"
e2e_init sweep

# Every (workload, mode) pair of the lists appears exactly once in FILE.
complete() {
	local file=$1 wls=$2 modes=$3 w m n
	for w in $wls; do
		for m in $modes; do
			n=$(awk -F, -v w="$w" -v m="$m" 'NR > 1 && $1 == w && $2 == m' "$file" | wc -l)
			[ "$n" -eq 1 ] || { echo "     | $w/$m: $n rows" >&2; return 1; }
		done
	done
}

have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1
have_xmllint=0
command -v xmllint >/dev/null 2>&1 && have_xmllint=1

svg_ok() { [ -s "$1" ] && { [ $have_xmllint -eq 0 ] || xmllint --noout "$1"; }; }
png_ok() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

modes=$("$VMMU" list modes | tr '\n' ' ')
nm=$(echo $modes | wc -w)
wls=$("$VMMU" list workloads | tr '\n' ' ')
nw=$(echo $wls | wc -w)
header=$("$VMMU" run --workload seq --pages 4 --ops 1 --csv - 2>/dev/null | head -1)

# ---- compare: every workload x mode, header, plots ----

SMALL="--pages 16 --ops 8 --procs 2 --switch-every 64"
check "compare, every workload, tiny sizes" "$VMMU" compare --out "$T/cmp" -j 2 $SMALL
eq "compare.csv: header is the run header" "$(head -1 "$T/cmp/compare.csv")" "$header"
# Trace replays, when compare finds any, add rows of their own (nm each).
rows=$(($(wc -l <"$T/cmp/compare.csv") - 1))
check "compare.csv: at least one row per workload x mode, whole sets of modes" \
	test "$rows" -ge "$((nw * nm))" -a "$((rows % nm))" -eq 0
check "compare.csv: every workload x mode present once" complete "$T/cmp/compare.csv" "$wls" "$modes"
eq "compare.csv: every row as wide as the header" \
	"$(awk -F, '{ print NF }' "$T/cmp/compare.csv" | sort -u | wc -l)" "1"
for w in $wls; do
	grep -q "^## $w (" "$T/cmp/summary.md" || { bad "summary.md lacks workload $w"; continue; }
done
ok "summary.md has a section per workload"
for f in compare-cycles compare-exits compare-walkrefs compare-headline compare-exit-reasons; do
	check "plots/$f.dat and .gp written" test -s "$T/cmp/plots/$f.dat" -a -s "$T/cmp/plots/$f.gp"
	if [ $have_gnuplot -eq 1 ]; then
		check "plots/$f.svg is well-formed XML" svg_ok "$T/cmp/plots/$f.svg"
		check "plots/$f.png is a PNG" png_ok "$T/cmp/plots/$f.png"
	fi
done
check "headline: one shared log axis, a cluster per workload" \
	bash -c "grep -q '^set logscale y' '$T/cmp/plots/compare-headline.gp' && ! grep -q multiplot '$T/cmp/plots/compare-headline.gp'"
eq "headline: one row per workload and trace" "$(grep -vc '^#' "$T/cmp/plots/compare-headline.dat")" \
	"$(awk -F, 'NR > 1 { print $1 }' "$T/cmp/compare.csv" | sort -u | wc -l)"
check "exits: on a log axis" grep -q '^set logscale y' "$T/cmp/plots/compare-exits.gp"
check "summary: a best-virtualized column" grep -q '| winner | best virtualized | shadow vs nested |' "$T/cmp/summary.md"
check "summary: each best virtualized mode is named with its margin, or a tie" \
	test "$(grep -Ec '^\| [^|]+ \|.*\| ([a-z-]+, [0-9.e-]+% below [a-z-]+|tie \([a-z-]+, [a-z-]+\)) \| [^|]+ \|$' "$T/cmp/summary.md")" -ge "$nw"
eq "no temporary files left" "$(find "$T/cmp" -name '*.tmp*' -o -name '.*gnuplot-err*' | wc -l)" "0"

# Without gnuplot: CSV and summary still written, one clear message, status 0.
mkdir -p "$T/nogp"
expect_msg 0 "gnuplot not found in PATH" "compare without gnuplot: one message, status 0" \
	env PATH="$T/nogp" "$VMMU" compare --out "$T/cmp2" --workloads seq --modes native $SMALL
check "compare without gnuplot: CSV and summary written" test -s "$T/cmp2/compare.csv" -a -s "$T/cmp2/summary.md"
eq "compare without gnuplot: the message is said once" "$(grep -c gnuplot "$T/err")" "1"
check "compare without gnuplot: no image" test ! -e "$T/cmp2/plots/compare-cycles.svg"

# ---- sweep ----

check "sweep random pages 16,32,64" "$VMMU" sweep --workload random --param pages --values 16,32,64 \
	--ops 64 --out "$T/sw" -j 2
S=$T/sw/sweep-random-pages.csv
eq "sweep CSV: header is the run header" "$(head -1 "$S")" "$header"
eq "sweep CSV: one row per value x mode" "$(($(wc -l <"$S") - 1))" "$((3 * nm))"
eq "sweep CSV: the values in order" "$(awk -F, 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "pages") c = i; next } { print $c }' "$S" | uniq | tr '\n' ' ')" "16 32 64 "
for v in 16 32 64; do
	for m in $modes; do
		n=$(awk -F, -v m="$m" -v v="$v" 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "pages") c = i; next } $2 == m && $c == v' "$S" | wc -l)
		[ "$n" -eq 1 ] || bad "sweep CSV: pages=$v mode=$m has $n rows"
	done
done
ok "sweep CSV: every value x mode present once"
check "sweep summary written with a crossover section" grep -q "^## Crossover" "$T/sw/sweep-random-pages.md"
if [ $have_gnuplot -eq 1 ]; then
	check "sweep plot SVG is well-formed XML" svg_ok "$T/sw/plots/sweep-random-pages.svg"
	check "sweep plot PNG is a PNG" png_ok "$T/sw/plots/sweep-random-pages.png"
fi
M=$T/sw/sweep-random-pages.manifest
check "sweep: the manifest is there" test -f "$M"
eq "sweep: the manifest lists the CSV with its size" \
	"$(awk '$2 == "sweep-random-pages.csv" { print $1 }' "$M")" "$(wc -c <"$S" | tr -d ' ')"
eq "sweep: the manifest lists the summary with its size" \
	"$(awk '$2 == "sweep-random-pages.md" { print $1 }' "$M")" \
	"$(wc -c <"$T/sw/sweep-random-pages.md" | tr -d ' ')"
eq "sweep: the manifest lists the plot data" \
	"$(awk '$2 == "plots/sweep-random-pages.dat" { print $1 }' "$M")" \
	"$(wc -c <"$T/sw/plots/sweep-random-pages.dat" | tr -d ' ')"
# A failed write of the set leaves no manifest: a summary that cannot be
# replaced (a folder in its place) fails the sweep after its CSV is written.
cp -r "$T/sw" "$T/swbad"
rm "$T/swbad/sweep-random-pages.md" && mkdir "$T/swbad/sweep-random-pages.md"
expect 2 "sweep refuses a folder where its summary goes" "$VMMU" sweep --workload random \
	--param pages --values 16,32 --ops 64 --out "$T/swbad"
check "sweep refused: the old manifest is untouched" test -f "$T/swbad/sweep-random-pages.manifest"
check "categorical sweep (host-page) runs" "$VMMU" sweep --workload seq --param host-page \
	--values 4k,2m --modes native,nested --pages 16 --ops 1 --out "$T/sw2"
check "categorical sweep has its rows" test "$(wc -l <"$T/sw2/sweep-seq-host-page.csv")" -eq 5
check "categorical sweep: grouped bars, not lines" \
	bash -c "grep -q 'with histograms' '$T/sw2/plots/sweep-seq-host-page.gp' && ! grep -q linespoints '$T/sw2/plots/sweep-seq-host-page.gp'"
check "numeric sweep: lines" grep -q linespoints "$T/sw/plots/sweep-random-pages.gp"

expect_msg 2 "--param: unknown parameter 'bogus'" "sweep: unknown parameter" \
	"$VMMU" sweep --workload random --param bogus --values 1,2 --out "$T/never"
expect_msg 2 "--values: --ops: expected a non-negative integer, got 'x'" "sweep: bad value" \
	"$VMMU" sweep --workload random --param ops --values 1,x --out "$T/never"
expect_msg 2 "--values: --host-page: expected 4k, 2m or 1g, got '3m'" "sweep: bad categorical value" \
	"$VMMU" sweep --workload random --param host-page --values 4k,3m --out "$T/never"
expect_msg 2 "--workload: unknown workload 'nope'" "sweep: unknown workload" \
	"$VMMU" sweep --workload nope --param ops --values 1 --out "$T/never"
expect_msg 2 "--param is required" "sweep: --param missing" \
	"$VMMU" sweep --workload random --values 1 --out "$T/never"
expect_msg 2 "cannot also be given as --ops" "sweep: parameter given twice" \
	"$VMMU" sweep --workload random --param ops --values 1,2 --ops 5 --out "$T/never"
expect_msg 2 "--values: '2' is given twice" "sweep: duplicate value" \
	"$VMMU" sweep --workload random --param ops --values 2,2 --out "$T/never"
expect_msg 2 "--seeds: expected an integer from 1 to 1000, got '0'" "sweep: --seeds 0" \
	"$VMMU" sweep --workload random --param ops --values 1,2 --seeds 0 --out "$T/never"
expect_msg 2 "--seeds: each point already has its own seed when --param is seed" "sweep: --seeds with --param seed" \
	"$VMMU" sweep --workload random --param seed --values 1,2 --seeds 2 --out "$T/never"
check "rejected sweeps wrote nothing" test ! -e "$T/never"

# ---- sweep --seeds: means, intervals, error bars, the crossover's interval ----

check "sweep --seeds 3" "$VMMU" sweep --workload random --param ops --values 64,128 --pages 64 \
	--modes shadow,nested --seeds 3 --out "$T/sws" -j 2
SS=$T/sws/sweep-random-ops.csv
eq "sweep --seeds: one row per value x mode x seed" "$(($(wc -l <"$SS") - 1))" "12"
eq "sweep --seeds: seeds 1..3 in every point" "$(awk -F, 'NR > 1 { print $3 }' "$SS" | tr '\n' ' ')" "1 2 3 1 2 3 1 2 3 1 2 3 "
check "sweep --seeds: mean ± half-width in the table" grep -Eq "^\| 64 \| [0-9.]+ ± [0-9.]+ \| [0-9.]+ ± [0-9.]+ \|" "$T/sws/sweep-random-ops.md"
check "sweep --seeds: the seeds are named" grep -q "Each point ran seeds 1..3" "$T/sws/sweep-random-ops.md"
check "sweep heading says what was measured" grep -qx "# vmmu sweep: random, ops (region of interest)" "$T/sws/sweep-random-ops.md"
check "sweep --seeds: error bars in the plot" grep -q "with yerrorbars" "$T/sws/plots/sweep-random-ops.gp"
check "sweep --seeds: interval columns in the plot data" grep -q "shadow_ci95_half" "$T/sws/plots/sweep-random-ops.dat"
check "sweep --seeds 1: no error bars" bash -c "! grep -q yerrorbars '$T/sw/plots/sweep-random-pages.gp'"
# A crossover with its interval: fork's page count moves nested ahead of
# shadow or the reverse; when the winner changes the line carries its
# interval, else the no-crossover sentence; either way the text is there.
check "sweep --seeds: a crossover is reported with its interval, or none" \
	bash -c "grep -q '95% interval .* \.\. ' '$T/sws/sweep-random-ops.md' || grep -q '^No crossover' '$T/sws/sweep-random-ops.md'"

# ---- --emit-jobs and merge ----

JS=$T/cls/sweep-faults-pages.jobs
check "emit-jobs --seeds 2" "$VMMU" sweep --workload faults --param pages --values 8,16 --ops 2 \
	--modes native --seeds 2 --out "$T/cls" --emit-jobs parallel --pilot off
eq "emit-jobs --seeds: one line per value x mode x seed" "$(wc -l <"$JS")" "4"
eq "emit-jobs --seeds: the seeds" "$(grep -o -- '--seed=[0-9]*' "$JS" | tr '\n' ' ')" "--seed=1 --seed=2 --seed=1 --seed=2 "
runs() { while IFS= read -r line; do sh -c "$line" >/dev/null 2>&1 || return 1; done <"$1"; }
check "every seeded job runs" runs "$JS"
check "merge --expect of seeded jobs" "$VMMU" merge "$T/cls/m.csv" "$T/cls/sweep-faults-pages-jobs" --expect "$JS"
eq "merge: one row per seeded job" "$(wc -l <"$T/cls/m.csv")" "5"

J=$T/cl/sweep-faults-pages.jobs
check "emit-jobs" "$VMMU" sweep --workload faults --param pages --values 8,16 --ops 2 \
	--out "$T/cl" --emit-jobs slurm --pilot off
eq "emit-jobs: one line per value x mode" "$(wc -l <"$J")" "$((2 * nm))"
check "emit-jobs: every line is a self-contained vmmu run with --csv" \
	test "$(grep -c ' run --workload faults --mode .* --levels=4 .* --csv ' "$J")" -eq "$((2 * nm))"
check "emit-jobs ran nothing" test ! -e "$T/cl/sweep-faults-pages.csv" -a ! -e "$T/cl/sweep-faults-pages-jobs/0001-native.csv"
check "emit-jobs --pilot off: no time hint" grep -q "no --time or --mem hint" "$T/cl/sweep-faults-pages.sbatch"
runall() { while IFS= read -r line; do sh -c "$line" >/dev/null 2>&1 || return 1; done <"$J"; }
check "every emitted job runs" runall
# A job reproduces the run it stands for: every cost field is on its line
# (a --cost list cut short once gave the jobs other handler costs).
estcol() { awk -F, -v c=est_cycles 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } NR == 2 { print $k }' "$1"; }
"$VMMU" run --workload faults --mode shadow --pages 8 --ops 2 --csv "$T/direct-shadow.csv" >/dev/null 2>&1
eq "an emitted shadow job's cycles equal the direct run's" \
	"$(estcol "$T/cl/sweep-faults-pages-jobs/0001-shadow.csv")" "$(estcol "$T/direct-shadow.csv")"
JD=$T/cl/sweep-faults-pages-jobs
check "merge a directory with --expect" "$VMMU" merge "$T/cl/m.csv" "$JD" --expect "$J"
eq "merge: header and one row per job" "$(wc -l <"$T/cl/m.csv")" "$((1 + 2 * nm))"
eq "merge: the header is the run header" "$(head -1 "$T/cl/m.csv")" "$header"
# The CSV of job 1 (its file names the mode, so the listing's order is not
# the jobs' order).
first=$(sed -n 1p "$J" | sed 's/.* --csv \([^ ]*\).*/\1/')
first=${first##*/}
mv "$JD/$first" "$T/held.csv"
expect_msg 2 "missing row: job $J:1" "merge --expect detects a missing row" \
	"$VMMU" merge "$T/cl/m2.csv" "$JD" --expect "$J"
check "merge with a problem wrote nothing" test ! -e "$T/cl/m2.csv"
mv "$T/held.csv" "$JD/$first"
cp "$JD/$first" "$JD/zz-copy.csv"
expect_msg 2 "duplicate row: faults/" "merge detects a duplicated row" \
	"$VMMU" merge "$T/cl/m2.csv" "$JD"
rm "$JD/zz-copy.csv"
cut -d, -f1-10 "$JD/$first" >"$T/narrow.csv"
expect_msg 2 "header differs from that of" "merge detects a mismatched header" \
	"$VMMU" merge "$T/cl/m2.csv" "$JD" "$T/narrow.csv"
head -1 "$JD/$first" >"$T/short.csv"
tail -1 "$JD/$first" | cut -d, -f1-20 >>"$T/short.csv"
expect_msg 2 "short.csv:2: 20 fields" "merge detects a short row" \
	"$VMMU" merge "$T/cl/m2.csv" "$T/short.csv"
: >"$T/empty.csv"
expect_msg 2 "empty file, no header" "merge rejects an empty file" \
	"$VMMU" merge "$T/cl/m2.csv" "$JD" "$T/empty.csv"
expect_msg 2 "input '$T/nope.csv'" "merge names a missing input" \
	"$VMMU" merge "$T/cl/m2.csv" "$T/nope.csv"
check "merge of the sweep CSV and compare CSV (different rows) works" \
	"$VMMU" merge "$T/both.csv" "$S" "$T/cmp/compare.csv"

e2e_done sweep
