#!/usr/bin/env bash
# e2e.sh - end-to-end tests of the vmmu command.
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e.sh
# (`make test-e2e` does). Every check is an exact assertion on an exit
# status, a message, or a CSV value picked by its header name. The last line
# is "e2e: N passed, M failed"; the exit status is non-zero when M > 0.
#
# Modes that the binary cannot run yet (see `vmmu list`) are skipped by the
# cross-mode checks, and are checked to fail cleanly instead.
set -u

. "$(dirname "$0")/lib.sh"
e2e_init e2e

# run_csv FILE ARGS...: vmmu run ARGS --csv - into FILE; fails on a non-zero status.
run_csv() {
	local out=$1
	shift
	"$VMMU" run "$@" --csv - >"$out" 2>"$T/err"
}

if [ ! -x "$VMMU" ]; then
	echo "e2e: $VMMU is not an executable (build it with make)"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi

modes_all="native shadow nested"
modes_ok=$("$VMMU" list modes)
workloads=$("$VMMU" list workloads)

# ---- usage and help ----

expect_msg 2 "usage: vmmu" "no arguments: usage, exit 2" "$VMMU"
expect 0 "--help exits 0" "$VMMU" --help
expect 0 "-h exits 0" "$VMMU" -h
expect 0 "help run exits 0" "$VMMU" help run
for sub in run compare list bench; do
	expect 0 "$sub --help exits 0" "$VMMU" "$sub" --help
	check "$sub --help prints usage" grep -q "usage" "$T/out"
done
"$VMMU" run --help >"$T/help"
for flag in --mode --workload --seed --pages --ops --procs --switch-every --csv --guest-mem \
	--host-mem --levels --guest-page --host-page --direct-map --walk-caches --vpid --pcid \
	--pcid-policy --kpti --tlb \
	--tlb-large --itlb --invlpg-threshold --numa --shadow-sync --shadow-roots --shadow-cap \
	--prefetch --flood-threshold --ept-levels --ept-ad --pwc --ntlb --audit; do
	if grep -q -- "^  $flag[ ,]" "$T/help"; then ok "run --help lists $flag"; else bad "run --help lacks $flag"; fi
done
check "run --help shows defaults" grep -qF "(default: 1G)" "$T/help"
"$VMMU" list >"$T/list"
check "list has a Modes and a Workloads section" \
	bash -c "grep -q '^Modes:' '$T/list' && grep -q '^Workloads' '$T/list'"
for w in $workloads; do
	if grep -qE "^  $w +[0-9]+ +[0-9]+ " "$T/list"; then ok "list shows $w with its default sizes"; else bad "list lacks $w"; fi
done
for m in $modes_all; do
	if grep -qE "^  $m " "$T/list"; then ok "list shows mode $m"; else bad "list lacks mode $m"; fi
done
expect_msg 2 "unknown command 'frobnicate'" "unknown command: exit 2" "$VMMU" frobnicate
"$VMMU" list machines >"$T/machines"
check "list machines shows both profiles, default first" \
	bash -c "grep -A2 '^Machine profiles' '$T/machines' | sed -n 2p | grep -q '^  skylake-sp ' && grep -q '^  zen2 ' '$T/machines'"
check "list machines shows every cost field" grep -qE "^  vmm_ept_violation +[0-9]+ +[0-9]+$" "$T/machines"
expect_msg 2 "--machine: unknown machine 'pentium'" "--machine pentium: exit 2, names the flag" \
	"$VMMU" run --workload faults --machine pentium
expect_msg 2 "--cost: unknown cost 'vmexits'" "--cost vmexits=1: exit 2" \
	"$VMMU" run --workload faults --cost vmexits=1
# The two profiles differ in their costs; a flag overrides a profile in any order.
est() { "$VMMU" run --workload faults --pages 64 --ops 4 --mode shadow "$@" | awk '/est cycles/ {print $3}'; }
e_intel=$(est --machine skylake-sp)
e_amd=$(est --machine zen2)
check "skylake-sp and zen2 estimate different cycles" test "$e_intel" != "$e_amd"
e1=$(est --cost vmexit=1000 --machine zen2)
e2=$(est --machine zen2 --cost vmexit=1000)
check "--cost before or after --machine: same cycles" test "$e1" = "$e2"
check "--cost changed zen2's cycles" test "$e1" != "$e_amd"
expect_msg 2 "sweep: --workload is required" "sweep without flags: exit 2, names what is missing" "$VMMU" sweep

# ---- bad flags and values: exit 2, the flag named ----

expect_msg 2 "--levels: expected 4 or 5, got '7'" "--levels 7" "$VMMU" run --workload faults --levels 7
expect_msg 2 "--ept-levels: expected 4 or 5, got '3'" "--ept-levels 3" "$VMMU" run --workload faults --ept-levels 3
expect_msg 2 "--pcid-policy: expected linux or per-process, got 'lru'" "--pcid-policy lru" \
	"$VMMU" run --workload faults --pcid-policy lru
expect_msg 2 "--kpti: expected on or off, got 'maybe'" "--kpti maybe" "$VMMU" run --workload faults --kpti maybe
expect_msg 2 "--guest-page: expected 4k or 2m, got '1g'" "--guest-page 1g" \
	"$VMMU" run --workload faults --guest-page 1g
expect_msg 2 "--host-page: expected 4k, 2m or 1g, got '3m'" "--host-page 3m" \
	"$VMMU" run --workload faults --host-page 3m
expect_msg 2 "--walk-caches: expected on or off, got 'maybe'" "--walk-caches maybe" \
	"$VMMU" run --workload faults --walk-caches maybe
expect_msg 2 "--tlb: expected L1:L2" "--tlb 16x4" "$VMMU" run --workload faults --tlb 16x4
expect_msg 2 "--tlb-large: expected SETSxWAYS" "--tlb-large 3x4" \
	"$VMMU" run --workload faults --tlb-large 3x4
expect_msg 2 "--guest-mem: expected a size" "--guest-mem lots" \
	"$VMMU" run --workload faults --guest-mem lots
expect_msg 2 "--guest-mem: expected a multiple of 2M, got '17M'" "--guest-mem 17M" \
	"$VMMU" run --workload faults --guest-mem 17M
expect_msg 2 "--numa: expected local, interleave or node:N, got 'far'" "--numa far" \
	"$VMMU" run --workload faults --numa far
expect_msg 2 "--shadow-sync: expected eager or unsync, got 'lazy'" "--shadow-sync lazy" \
	"$VMMU" run --workload faults --shadow-sync lazy
expect_msg 2 "--seed: expected a non-negative integer, got '-4'" "--seed -4" \
	"$VMMU" run --workload faults --seed -4
expect_msg 2 "--pages: missing value" "--pages without a value" "$VMMU" run --workload faults --pages
expect_msg 2 "unknown flag '--bogus'" "unknown flag" "$VMMU" run --workload faults --bogus
expect_msg 2 "--workload is required" "run without --workload" "$VMMU" run --mode native
expect_msg 2 "unknown workload 'nope'" "unknown workload names it" "$VMMU" run --workload nope
check "unknown workload suggests vmmu list" grep -qF "vmmu list" "$T/err"
expect_msg 2 "unknown mode 'warp'" "unknown mode names it" "$VMMU" run --mode warp --workload faults
check "unknown mode suggests vmmu list" grep -qF "vmmu list" "$T/err"
expect_msg 2 "--csv: folder '$T/none' does not exist (it is not created)" "--csv into a missing directory" \
	"$VMMU" run --workload faults --csv "$T/none/x.csv"
expect_msg 2 "-j: expected an integer from 1 to 256, got '0'" "compare -j 0" \
	"$VMMU" compare --out "$T/never" -j 0
expect_msg 2 "--workloads: unknown workload 'nope'" "compare --workloads nope" \
	"$VMMU" compare --out "$T/never" --workloads seq,nope
expect_msg 2 "--modes: unknown mode 'warp'" "compare --modes warp" \
	"$VMMU" compare --out "$T/never" --modes native,warp
check "rejected compare wrote nothing" test ! -e "$T/never"
expect_msg 2 "list: unexpected argument 'everything'" "list with a bad argument" \
	"$VMMU" list everything

# ---- modes that cannot run yet fail cleanly ----

for m in $modes_all; do
	if echo "$modes_ok" | grep -qx "$m"; then continue; fi
	expect_msg 2 "--mode $m: cannot create the VM" "mode $m (not available) is a clean error" \
		"$VMMU" run --mode "$m" --workload faults
	expect_msg 2 "--modes: mode '$m' cannot run" "compare --modes $m (not available)" \
		"$VMMU" compare --out "$T/never" --modes "$m"
done
check "native is available" bash -c "echo '$modes_ok' | grep -qx native"

# ---- a run that fails in the guest: exit 1 with the reason ----

expect_msg 1 "run random/native failed: " "guest out of memory exits 1" \
	"$VMMU" run --workload random --guest-mem 16M --pages 16384

# ---- the foundation's done-when row ----

if run_csv "$T/faults.csv" --mode native --workload faults --walk-caches off; then
	ok "run faults --walk-caches off --csv -"
	eq "CSV is a header and one row" "$(wc -l <"$T/faults.csv")" 2
	wu=$(col "$T/faults.csv" walks_user)
	wru=$(col "$T/faults.csv" walk_refs_user)
	gf=$(col "$T/faults.csv" guest_faults)
	pages=$(col "$T/faults.csv" pages)
	ops=$(col "$T/faults.csv" ops)
	check "walks_user > 0" test "$wu" -gt 0
	eq "walk_refs_user == 4 x walks_user" "$wru" "$((4 * wu))"
	eq "vm_exits == 0" "$(col "$T/faults.csv" vm_exits)" 0
	check "guest_faults > 0" test "$gf" -gt 0
	# faults touches pages fresh pages in each of ops rounds (workloads/faults.c).
	eq "guest_faults == pages first touched (pages x rounds)" "$gf" "$((pages * ops))"
	eq "demand_faults == guest_faults" "$(col "$T/faults.csv" demand_faults)" "$gf"
	eq "walk_caches column is 0" "$(col "$T/faults.csv" walk_caches)" 0
	eq "mode column" "$(col "$T/faults.csv" mode)" native
	check "checksum is 0x + 16 hex digits" \
		grep -qE '^0x[0-9a-f]{16}$' <(col "$T/faults.csv" checksum)
	check "guest_digest is 0x + 16 hex digits" \
		grep -qE '^0x[0-9a-f]{16}$' <(col "$T/faults.csv" guest_digest)
	hdr_n=$(head -1 "$T/faults.csv" | awk -F, '{ print NF }')
	row_n=$(sed -n 2p "$T/faults.csv" | awk -F, '{ print NF }')
	eq "row has as many fields as the header" "$row_n" "$hdr_n"
	check "no quoted fields and no spaces" bash -c "! grep -q '[\" ]' '$T/faults.csv'"
	eq "header starts with the required columns" \
		"$(head -1 "$T/faults.csv" | cut -d, -f1-20)" \
		"workload,mode,seed,accesses,tlb_hits,tlb_misses,walks,walk_refs,walks_user,walk_refs_user,fault_walk_refs,guest_faults,vm_exits,tlb_flushes,est_cycles,cycles_per_access,checksum,guest_digest,wall_s,sim_accesses_per_s"
	check "summary went to stderr" grep -q "guest faults" "$T/err"
else
	bad "run faults --walk-caches off --csv -: exit status $?"
fi

# Smaller sizes, through --flag=value.
if run_csv "$T/f2.csv" --workload faults --walk-caches=off --pages=37 --ops=3; then
	eq "--pages=37 reaches the CSV" "$(col "$T/f2.csv" pages)" 37
	eq "guest_faults == 37 x 3" "$(col "$T/f2.csv" guest_faults)" 111
else
	bad "run faults --pages=37 --ops=3"
fi

# ---- CSV to a file: atomic, no temporary left ----

mkdir -p "$T/csvdir"
expect 0 "run --csv FILE" "$VMMU" run --workload faults --pages 8 --ops 2 --csv "$T/csvdir/run.csv"
check "summary on stdout with --csv FILE" grep -q "checksum" "$T/out"
check "CSV file written" test -s "$T/csvdir/run.csv"
eq "only the CSV file is left in its directory" "$(ls -A "$T/csvdir")" run.csv
eq "CSV file is a header and one row" "$(wc -l <"$T/csvdir/run.csv")" 2
expect 0 "run --csv FILE over an existing file" \
	"$VMMU" run --workload faults --pages 8 --ops 2 --seed 5 --csv "$T/csvdir/run.csv"
eq "the file was replaced" "$(col "$T/csvdir/run.csv" seed)" 5
eq "still no temporary file" "$(ls -A "$T/csvdir")" run.csv

# ---- bench: the memory a run adds is its own, not the bench process's ----

# A run of ctxswitch touches 128 data pages: what it adds to the resident
# set stays far below the recording the bench holds meanwhile.
if "$VMMU" bench --workloads ctxswitch --modes native --repeat 1 --record-limit 100000 \
	--ops 200000 -q --csv "$T/bench.csv"; then
	rr=$(col "$T/bench.csv" rss_run_bytes)
	if [ "$(col "$T/bench.csv" workload)" = ctxswitch ] && [ -n "$rr" ]; then
		check "bench: ctxswitch adds under 64 MiB to the resident set (rss_run_bytes $rr)" \
			test "$rr" -ge 0 -a "$rr" -lt $((64 << 20))
	else
		bad "bench: no rss_run_bytes for ctxswitch"
	fi
	# The hit path is replayed a second time with the cache model off.
	nc=$(col "$T/bench.csv" hitpath_nocache_accesses_per_s)
	check "bench: a hit-path rate with the cache model off ($nc)" test -n "$nc" -a "${nc:-0}" -gt 0
	eq "bench: ... over the same flat window" \
		"$(col "$T/bench.csv" hitpath_nocache_ratio | grep -c '^[0-9][0-9.]*$')" 1
else
	bad "bench --workloads ctxswitch: exit status $?"
fi

# ---- big guests: memory follows the pages touched, not --guest-mem ----

big_digest=""
for m in $modes_ok; do
	if run_csv "$T/big-$m.csv" --mode "$m" --workload seq --pages 64 --ops 1 --guest-mem 1T; then
		rss=$(col "$T/big-$m.csv" rss_bytes)
		# The sanitizer build (no jemalloc: vmm_heap_bytes is 0) keeps
		# shadow memory for every allocation, touched or not: no bound.
		# pv populates its p2m and m2p for the whole guest at creation,
		# as Xen's domain builder does (README, "Not built yet").
		if [ "$m" = pv ]; then
			echo "skip $m: memory follows --guest-mem (up-front p2m, as Xen's domain builder)"
		elif [ "$(col "$T/big-$m.csv" vmm_heap_bytes)" != 0 ]; then
			check "$m: a 1 TiB guest touching 64 pages peaks under 64 MiB (rss_bytes $rss)" \
				test "$rss" -gt 0 -a "$rss" -lt $((64 << 20))
		fi
		check "$m: sim_s <= wall_s" awk -v s="$(col "$T/big-$m.csv" sim_s)" \
			-v w="$(col "$T/big-$m.csv" wall_s)" 'BEGIN { exit !(s <= w) }'
		d=$(col "$T/big-$m.csv" guest_digest)
		[ -z "$big_digest" ] && big_digest=$d
		eq "$m: the 1 TiB guest has native's digest" "$d" "$big_digest"
	else
		bad "run seq --guest-mem 1T under $m: exit status $?"
		show_err
	fi
done

# ---- determinism: same seed, same result ----

run_csv "$T/s1.csv" --workload random --seed 7 --pages 512 --ops 20000
run_csv "$T/s2.csv" --workload random --seed 7 --pages 512 --ops 20000
run_csv "$T/s3.csv" --workload random --seed 8 --pages 512 --ops 20000
eq "same seed, same checksum" "$(col "$T/s1.csv" checksum)" "$(col "$T/s2.csv" checksum)"
eq "same seed, same guest_digest" "$(col "$T/s1.csv" guest_digest)" "$(col "$T/s2.csv" guest_digest)"
eq "same seed, same accesses" "$(col "$T/s1.csv" accesses)" "$(col "$T/s2.csv" accesses)"
check "another seed, another checksum" \
	test "$(col "$T/s1.csv" checksum)" != "$(col "$T/s3.csv" checksum)"

# ---- equivalence: every mode that runs sees the same memory ----
# The guest program is the same under every mode, so are its user-mode
# accesses; kernel accesses may differ (a mode may emulate some stores).

for w in $workloads; do
	ref=""
	for m in $modes_ok; do
		if ! run_csv "$T/eq-$w-$m.csv" --workload "$w" --mode "$m" --seed 3; then
			bad "run $w under $m"
			continue
		fi
		f="$T/eq-$w-$m.csv"
		eq "$w/$m: tlb_hits + tlb_misses == accesses" \
			"$(($(col "$f" tlb_hits) + $(col "$f" tlb_misses)))" "$(col "$f" accesses)"
		[ "$m" = native ] && eq "$w/native: vm_exits == 0" "$(col "$f" vm_exits)" 0
		sum="$(col "$f" checksum) $(col "$f" guest_digest) $(col "$f" user_accesses)"
		if [ -z "$ref" ]; then
			ref=$sum
			refm=$m
			continue
		fi
		eq "$w: $m has the checksum, digest and user accesses of $refm" "$sum" "$ref"
	done
	[ -n "$ref" ] && ok "$w runs under $(echo $modes_ok | tr ' ' ',')"
done

# ---- compare ----

nm=$(echo "$modes_ok" | wc -w)
mkdir "$T/cmp" # --out creates its last component only
expect 0 "compare two workloads" "$VMMU" compare --out "$T/cmp/sub" -j 2 --workloads faults,seq
check "compare.csv written" test -s "$T/cmp/sub/compare.csv"
check "summary.md written" test -s "$T/cmp/sub/summary.md"
eq "compare.csv has a header and one row per run" "$(wc -l <"$T/cmp/sub/compare.csv")" "$((1 + 2 * nm))"
eq "rows in workload order" "$(col "$T/cmp/sub/compare.csv" workload 1) $(col "$T/cmp/sub/compare.csv" workload "$((nm + 1))")" "faults seq"
eq "first mode first" "$(col "$T/cmp/sub/compare.csv" mode 1)" "$(echo "$modes_ok" | head -1)"
check "summary has a section per workload, saying what was measured" \
	bash -c "grep -qx '## faults (whole run: the workload marks no region)' '$T/cmp/sub/summary.md' && grep -qx '## seq (region of interest: the sweeps after the first)' '$T/cmp/sub/summary.md'"
check "summary heading says regions of interest" grep -qx "# vmmu compare: regions of interest" "$T/cmp/sub/summary.md"
eq "compare.csv: seq's counters are its region" "$(col "$T/cmp/sub/compare.csv" roi "$((nm + 1))")" "region"
eq "compare.csv: faults is measured whole" "$(col "$T/cmp/sub/compare.csv" roi 1)" "whole"
check "plot titles say what was measured" grep -q "region of interest" "$T/cmp/sub/plots/compare-cycles.gp"
check "summary names a winner" grep -q "^Winner: \*\*" "$T/cmp/sub/summary.md"
if echo "$modes_ok" | grep -qx nept; then
	check "summary has the nested-virtualization section" \
		grep -q "^## Nested virtualization: nept against nested" "$T/cmp/sub/summary.md"
	check "its faults row counts exits at each level" \
		grep -qE "^\| faults \| [0-9]+ \| [0-9]+ \| [0-9.]+ \| [1-9][0-9]* \| [1-9][0-9]* \| [1-9][0-9]* \|$" \
		"$T/cmp/sub/summary.md"
fi
if echo "$modes_ok" | grep -qx pvm && echo "$modes_ok" | grep -qx shadow-on-shadow; then
	check "summary sets the L2 designs side by side" \
		grep -q "^## Nested virtualization: the L2 designs side by side" "$T/cmp/sub/summary.md"
	check "its faults row under pvm counts switcher round trips, no reflection" \
		grep -qE "^\| faults \| pvm \| [1-9][0-9]* \| 0 \| [0-9]+ \| [1-9][0-9]* \|$" \
		"$T/cmp/sub/summary.md"
	check "its faults row names the cheapest design" \
		grep -qE "^\| faults \| [0-9]+ \([0-9.]+\) \|.* \| (nept|shadow-on-ept|pvm|shadow-on-shadow|tie \(.*\)) \|$" \
		"$T/cmp/sub/summary.md"
fi
eq "no temporary files in the output directory" "$(ls -A "$T/cmp/sub" | sort | tr '\n' ' ')" "compare.csv compare.manifest plots summary.md "
check "non-tty progress is plain lines" grep -q "^compare: \[2/$((2 * nm))\]" "$T/err"
"$VMMU" run --workload seq --csv - 2>/dev/null >"$T/seq1.csv"
eq "compare row equals the run row (checksum)" \
	"$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "checksum") c = i; next } $1 == "seq" && $2 == "native" { print $c }' "$T/cmp/sub/compare.csv")" \
	"$(col "$T/seq1.csv" checksum)"

# ---- regions of interest ----

# random: the region is the update loop (2 accesses per update, no fault);
# the whole run is beside it, and --whole-run measures it all.
run_csv "$T/roi.csv" --workload random --mode native --pages 256 --ops 1000 --guest-mem 64M
eq "run: random's region is the update loop" \
	"$(col "$T/roi.csv" roi) $(col "$T/roi.csv" user_accesses) $(col "$T/roi.csv" guest_faults)" "region 2000 0"
check "run: the whole run is larger" test "$(col "$T/roi.csv" whole_accesses)" -gt 4512
run_csv "$T/whole.csv" --workload random --mode native --pages 256 --ops 1000 --guest-mem 64M --whole-run
eq "run --whole-run: the whole run" \
	"$(col "$T/whole.csv" roi) $(col "$T/whole.csv" whole_run) $(col "$T/whole.csv" guest_faults) $(col "$T/whole.csv" whole_accesses)" \
	"whole 1 256 $(col "$T/roi.csv" whole_accesses)"
eq "run --whole-run: accesses = whole_accesses" "$(col "$T/whole.csv" accesses)" "$(col "$T/whole.csv" whole_accesses)"
expect 0 "run summary says what was measured" "$VMMU" run --workload random --pages 256 --ops 1000 --guest-mem 64M
check "  ... the region" grep -q "measured       the workload's region of interest" "$T/out"
expect 0 "run --whole-run summary" "$VMMU" run --workload random --pages 256 --ops 1000 --guest-mem 64M --whole-run
check "  ... the whole run" grep -q "measured       the whole run (--whole-run)" "$T/out"

# replay --warmup N: the first N records are not measured.
TR=tests/data/true.lackey
"$VMMU" replay --trace "$TR" --mode shadow --csv - 2>/dev/null >"$T/rp0.csv"
"$VMMU" replay --trace "$TR" --mode shadow --warmup 5000 --csv - 2>/dev/null >"$T/rpw.csv"
eq "replay without --warmup is measured whole" "$(col "$T/rp0.csv" roi)" "whole"
eq "replay --warmup 5000: a region, the same whole run" \
	"$(col "$T/rpw.csv" roi) $(col "$T/rpw.csv" whole_accesses) $(col "$T/rpw.csv" whole_est_cycles)" \
	"region $(col "$T/rp0.csv" accesses) $(col "$T/rp0.csv" est_cycles)"
check "replay --warmup: the region is smaller" test "$(col "$T/rpw.csv" accesses)" -lt "$(col "$T/rp0.csv" accesses)"
expect_msg 2 "--warmup: 99999999 is more than the 9981 accesses (records) of $TR" \
	"replay --warmup larger than the trace: exit 2, checked at its end" \
	"$VMMU" replay --trace "$TR" --warmup 99999999
expect_msg 2 "--warmup: expected a non-negative integer, got '-3'" "replay --warmup -3" \
	"$VMMU" replay --trace "$TR" --warmup -3
expect 0 "replay --warmup equal to the trace: an empty region" "$VMMU" replay --trace "$TR" --warmup 9981 --csv "$T/rpe.csv"
eq "  ... measures nothing" "$(col "$T/rpe.csv" accesses) $(col "$T/rpe.csv" est_cycles)" "0 0"

# ---- repeated seeds ----

expect_msg 2 "--seeds: expected an integer from 1 to 1000, got '0'" "compare --seeds 0" \
	"$VMMU" compare --out "$T/never" --seeds 0
expect_msg 2 "--seeds: expected an integer from 1 to 1000, got 'x'" "compare --seeds x" \
	"$VMMU" compare --out "$T/never" --seeds x
check "rejected compare wrote nothing" test ! -e "$T/never"
expect 0 "compare --seeds 3" "$VMMU" compare --out "$T/cmp/seeds" --workloads random,faults --modes shadow,nested \
	--seeds 3 --pages 256 --ops 2000 --guest-mem 64M
eq "one row per run, seeds 1..3 in each cell" \
	"$(awk -F, 'NR > 1 { print $3 }' "$T/cmp/seeds/compare.csv" | tr '\n' ' ')" "1 2 3 1 2 3 1 2 3 1 2 3 "
check "stdout prints means with intervals" grep -q "mean ± 95% interval over 3 seeds" "$T/out"
check "  ... one line per workload with ±" grep -Eq "^  random +[0-9.]+ ± [0-9.]+ +[0-9.]+ ± [0-9.]+ " "$T/out"
check "summary gives mean ± half-width" grep -q "| random | the update loop | [0-9.]* ± [0-9.]* |" "$T/cmp/seeds/summary.md"
check "summary explains the winner rule" grep -q "no clear winner" "$T/cmp/seeds/summary.md"
check "summary names the seeds" grep -q "seeds 1..3" "$T/cmp/seeds/summary.md"
check "plot draws error bars" grep -q "with yerrorbars" "$T/cmp/seeds/plots/compare-cycles.gp"
check "plot data has the interval column" grep -q "ci95_half" "$T/cmp/seeds/plots/compare-cycles.dat"
expect 0 "compare --seeds 2 --seed 5" "$VMMU" compare --out "$T/cmp/seeds5" --workloads faults --modes nested \
	--seeds 2 --seed 5 --pages 64 --ops 16 --guest-mem 64M
eq "  ... runs seeds 5 and 6" "$(awk -F, 'NR > 1 { print $3 }' "$T/cmp/seeds5/compare.csv" | tr '\n' ' ')" "5 6 "
mkdir -p "$T/mg"
expect 0 "merge keeps working on seeded CSVs" "$VMMU" merge "$T/mg/all.csv" "$T/cmp/seeds/compare.csv" "$T/cmp/seeds5/compare.csv"
eq "  ... every row" "$(wc -l <"$T/mg/all.csv")" "15"
expect 0 "compare --seeds 1 keeps one-run summaries" "$VMMU" compare --out "$T/cmp/one" --workloads faults --modes nested \
	--seeds 1 --pages 64 --ops 16 --guest-mem 64M
check "  ... no intervals" bash -c "! grep -q '±' '$T/cmp/one/summary.md'"
check "  ... no error bars" bash -c "! grep -q yerrorbars '$T/cmp/one/plots/compare-cycles.gp'"

# A failed run: reported, exit 1, the other rows still written.
expect_msg 1 "random/native FAILED" "compare with a failing run exits 1" \
	"$VMMU" compare --out "$T/cmp/fail" --modes native --workloads faults,random --guest-mem 16M
eq "the failed run has no row, the others do" \
	"$(cut -d, -f1 "$T/cmp/fail/compare.csv" | tr '\n' ' ')" "workload faults "
check "summary reports the failure" grep -q "| native | failed |" "$T/cmp/fail/summary.md"

e2e_done e2e
