#!/usr/bin/env bash
# e2e_outputs.sh - where vmmu writes, and what it leaves when things go wrong.
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e_outputs.sh
# (`make test-e2e` does). Checks, each an exact exit status and message:
#   - output paths (report/output.h): devices, FIFOs and /dev/stdout written
#     in place and never replaced; a symlink stays a link; directories,
#     dangling links and missing folders refused with exit 2 before any run;
#     no parent folder created;
#   - write errors: a result to /dev/full exits 1 and leaves no file; stdout
#     into /dev/full exits 1 with "write error on stdout";
#   - compare and sweep: the manifest, SIGINT and SIGTERM (exit 130 and 143, only
#     complete files, no worker left), kill -9 of the parent (the workers
#     die with it); every wait is bounded.
set -u

. "$(dirname "$0")/lib.sh"
e2e_init outputs

small=(--workload seq --pages 16 --ops 100)

# ---- output paths ----

expect 0 "--csv /dev/null: exit 0" "$VMMU" run "${small[@]}" --csv /dev/null
check "--csv /dev/null: still a character device" test -c /dev/null

expect 0 "--csv /dev/stdout: exit 0" "$VMMU" run "${small[@]}" --csv /dev/stdout
eq "--csv /dev/stdout: the header on stdout" "$(grep -c '^workload,mode,seed,' "$T/out")" 1

mkfifo "$T/fifo"
cat "$T/fifo" >"$T/fifo.got" &
reader=$!
expect 0 "--csv FIFO: exit 0" timeout 30 "$VMMU" run "${small[@]}" --csv "$T/fifo"
wait "$reader"
check "--csv FIFO: still a FIFO" test -p "$T/fifo"
eq "--csv FIFO: header and row went through it" "$(wc -l <"$T/fifo.got")" 2

echo old >"$T/target.csv"
ln -s target.csv "$T/link.csv"
expect 0 "--csv symlink to a file: exit 0" "$VMMU" run "${small[@]}" --csv "$T/link.csv"
check "--csv symlink: still a symlink" test -L "$T/link.csv"
eq "--csv symlink: the file it names was written" "$(wc -l <"$T/target.csv")" 2

ln -s missing.csv "$T/dangling.csv"
expect_msg 2 "is a symlink to a missing file (refused)" "--csv dangling symlink: exit 2" \
	"$VMMU" run "${small[@]}" --csv "$T/dangling.csv"
check "--csv dangling symlink: left alone" test -L "$T/dangling.csv"
check "--csv dangling symlink: nothing created behind it" test ! -e "$T/missing.csv"

expect_msg 2 "'$T' is a directory" "--csv DIR: exit 2" "$VMMU" run "${small[@]}" --csv "$T"
expect_msg 2 "folder '$T/no/such' does not exist (it is not created)" \
	"--csv in a missing folder: exit 2" "$VMMU" run "${small[@]}" --csv "$T/no/such/x.csv"
check "--csv in a missing folder: not created" test ! -e "$T/no"

# bench would run for minutes: a bad --csv must stop it at once.
start=$SECONDS
expect_msg 2 "--csv: folder '$T/nonexistent' does not exist (it is not created)" \
	"bench --csv in a missing folder: exit 2" "$VMMU" bench --csv "$T/nonexistent/b.csv"
check "bench --csv in a missing folder: refused within 5 s" test $((SECONDS - start)) -le 5
check "bench --csv in a missing folder: not created" test ! -e "$T/nonexistent"

expect_msg 2 "--out: folder '$T/a' does not exist (it is not created)" \
	"compare --out with a missing parent: exit 2" \
	"$VMMU" compare --out "$T/a/b" --workloads seq --modes native --ops 100 --pages 16
check "compare --out with a missing parent: nothing created" test ! -e "$T/a"
echo x >"$T/plain"
expect_msg 2 "--out: '$T/plain' is not a folder" "compare --out FILE: exit 2" \
	"$VMMU" compare --out "$T/plain" --workloads seq --modes native --ops 100 --pages 16
expect_msg 2 "--out: folder '$T/a' does not exist (it is not created)" \
	"sweep --out with a missing parent: exit 2" \
	"$VMMU" sweep --workload seq --param ops --values 100,200 --out "$T/a/b"
expect_msg 2 "--out: folder '$T/a' does not exist (it is not created)" \
	"sweep --emit-jobs into a missing folder: exit 2" \
	"$VMMU" sweep --workload seq --param ops --values 100,200 --emit-jobs slurm --out "$T/a/b"
"$VMMU" run "${small[@]}" --csv "$T/one.csv" >/dev/null 2>&1
expect_msg 2 "merge: OUT: folder '$T/a' does not exist (it is not created)" \
	"merge OUT in a missing folder: exit 2" "$VMMU" merge "$T/a/m.csv" "$T/one.csv"
expect_msg 2 "--svg: '$T' is a directory" "explain --svg DIR: exit 2" \
	"$VMMU" explain --gva 0x7f0000001000 --svg "$T"
expect 0 "explain --svg /dev/null: exit 0" "$VMMU" explain --gva 0x7f0000001000 --svg /dev/null
check "explain --svg /dev/null: still a character device" test -c /dev/null

# A read-only --out, found before any run (as an unprivileged user: root
# writes anywhere).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	mkdir "$T/ro" && chmod 555 "$T/ro" && chmod 755 "$T"
	asnobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	if "${asnobody[@]}" "$VMMU" --help >/dev/null 2>&1; then
		for cmd in "compare --out $T/ro --workloads seq --modes native --ops 100 --pages 16" \
			"sweep --workload seq --param ops --values 100,200 --out $T/ro" \
			"bench --csv $T/ro/b.csv --workloads seq --modes native"; do
			expect_msg 2 "folder '$T/ro' is not writable" \
				"${cmd%% *}: read-only --out refused before any run" \
				"${asnobody[@]}" "$VMMU" $cmd
			if grep -q '\[1/' "$T/err"; then bad "${cmd%% *}: a job ran first"; fi
		done
	else
		echo "skip read-only --out checks: $VMMU is not runnable as nobody"
	fi
elif [ "$(id -u)" -ne 0 ]; then
	mkdir "$T/ro" && chmod 555 "$T/ro"
	expect_msg 2 "folder '$T/ro' is not writable" "compare: read-only --out refused" \
		"$VMMU" compare --out "$T/ro" --workloads seq --modes native --ops 100 --pages 16
fi

# ---- write errors ----

if [ -c /dev/full ]; then
	expect_msg 1 "--csv: cannot write to /dev/full: No space left on device" \
		"--csv /dev/full: exit 1" "$VMMU" run "${small[@]}" --csv /dev/full
	check "--csv /dev/full: still a character device" test -c /dev/full
	for cmd in "list" "list modes" "explain --gva 0x7f0000001000 --json" "quiz" \
		"explain --scenario cow-write" "run ${small[*]}" "--help"; do
		expect_msg 1 "write error on stdout: No space left on device" \
			"vmmu $cmd >/dev/full: exit 1" sh -c "\"\$0\" $cmd >/dev/full" "$VMMU"
	done
	# A result written through a descriptor to /dev/full: exit 1, nothing
	# that looks whole left behind.
	expect_msg 1 "cannot write to" "merge OUT /dev/fd/N on /dev/full: exit 1" \
		sh -c "\"\$0\" merge /dev/fd/7 \"\$1\" 7>/dev/full" "$VMMU" "$T/one.csv"
fi
# A full file system (a 2 MiB tmpfs, when this user may mount one): a
# result that cannot be written exits 1 and leaves no temporary file, and a
# compare leaves no manifest, so its set is not taken as whole. (A compare
# over an old set would recycle the pages of the files it replaces, so the
# full-disk compare writes a new folder.)
mkdir "$T/tiny"
if mount -t tmpfs -o size=2m tmpfs "$T/tiny" 2>/dev/null; then
	expect 0 "full disk: a first compare fits" "$VMMU" compare --out "$T/tiny/set" \
		--workloads seq --modes native,shadow --ops 200 --pages 16 --traces none
	check "full disk: its manifest is there" test -f "$T/tiny/set/compare.manifest"
	dd if=/dev/zero of="$T/tiny/fill" bs=4k count=1024 2>/dev/null
	expect_msg 1 "No space left on device" "full disk: --csv exits 1" \
		"$VMMU" run "${small[@]}" --csv "$T/tiny/x.csv"
	check "full disk: no --csv file that looks whole" test ! -e "$T/tiny/x.csv"
	expect_msg 1 "No space left on device" "full disk: a compare into a new folder exits 1" \
		"$VMMU" compare --out "$T/tiny/set2" --workloads seq,random --modes native,shadow \
		--ops 200 --pages 16 --traces none
	check "full disk: no manifest for the new set" test ! -e "$T/tiny/set2/compare.manifest"
	check "full disk: no compare.csv that looks whole" test ! -e "$T/tiny/set2/compare.csv"
	check "full disk: no temporary file" \
		sh -c "! ls \"\$0\"/*.tmp.* \"\$0\"/plots/*.tmp.* \"\$1\"/*.tmp.* 2>/dev/null | grep -q ." \
		"$T/tiny/set2" "$T/tiny"
	check "full disk: the old set is still whole" test -f "$T/tiny/set/compare.manifest"
	expect_msg 1 "No space left on device" "full disk: a sweep into a new folder exits 1" \
		"$VMMU" sweep --workload seq --param pages --values 16,32 --modes native,shadow \
		--ops 200 --out "$T/tiny/sw"
	check "full disk: no manifest for the sweep" test ! -e "$T/tiny/sw/sweep-seq-pages.manifest"
	umount "$T/tiny"
else
	echo "skip full-disk checks: cannot mount a tmpfs here"
fi

rm -f "$T"/*.tmp.*
expect 0 "--csv: no temporary file left after the runs above" \
	sh -c "! ls \"\$0\"/*.tmp.* 2>/dev/null | grep -q ." "$T"

# ---- compare: the set, signals, orphans ----

cmp_small=(--workloads seq,random --modes native,shadow --ops 2000 --pages 64)
expect 0 "compare: a small set" "$VMMU" compare --out "$T/set" "${cmp_small[@]}" --traces none
check "compare: the manifest is there" test -f "$T/set/compare.manifest"
eq "compare: the manifest lists compare.csv with its size" \
	"$(awk '$2 == "compare.csv" { print $1 }' "$T/set/compare.manifest")" \
	"$(stat -c %s "$T/set/compare.csv")"
eq "compare: the manifest lists summary.md with its size" \
	"$(awk '$2 == "summary.md" { print $1 }' "$T/set/compare.manifest")" \
	"$(stat -c %s "$T/set/summary.md")"
sum_before=$(cat "$T/set/compare.csv" "$T/set/summary.md" "$T/set/compare.manifest" | cksum)

# A compare long enough to be interrupted: each run takes seconds.
long=(--workloads random,seq --modes native,shadow --ops 10000000 --pages 4096 -j 2 --traces none)

# children PID: the worker pids of a running vmmu, waiting up to 10 s for them.
children() {
	local k kids=""
	for k in $(seq 1 100); do
		kids=$(ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | tr '\n' ' ')
		[ -n "$kids" ] && break
		sleep 0.1
	done
	echo "$kids"
}

# gone PIDS...: every pid has exited within 5 s.
gone() {
	local k p alive
	for k in $(seq 1 50); do
		alive=0
		for p in "$@"; do
			if kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
				alive=1
			fi
		done
		[ "$alive" -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}

for sig in INT TERM; do
	want=$((128 + $(kill -l "$sig")))
	"$VMMU" compare --out "$T/set" "${long[@]}" >"$T/out" 2>"$T/err" &
	parent=$!
	kids=$(children "$parent")
	check "compare SIG$sig: workers running" test -n "$kids"
	kill -"$sig" "$parent"
	rc=0
	timeout 20 tail --pid="$parent" -f /dev/null || rc=124
	wait "$parent"
	rc2=$?
	eq "compare SIG$sig: exits within 20 s" "$rc" 0
	eq "compare SIG$sig: exit status $want" "$rc2" "$want"
	check "compare SIG$sig: says so" grep -q "compare: interrupted by SIG$sig; nothing written" "$T/err"
	# shellcheck disable=SC2086
	check "compare SIG$sig: no worker left" gone $kids
	eq "compare SIG$sig: the old set is untouched" \
		"$(cat "$T/set/compare.csv" "$T/set/summary.md" "$T/set/compare.manifest" | cksum)" \
		"$sum_before"
	check "compare SIG$sig: no temporary file" sh -c "! ls \"\$0\"/*.tmp.* \"\$0\"/plots/*.tmp.* 2>/dev/null | grep -q ." "$T/set"
done

# kill -9 of the parent: the workers die with it (PR_SET_PDEATHSIG).
# (disowned, so that bash does not report the kill)
set +m
"$VMMU" compare --out "$T/k9" "${long[@]}" >/dev/null 2>&1 &
parent=$!
disown "$parent"
kids=$(children "$parent")
check "compare kill -9: workers running" test -n "$kids"
kill -9 "$parent"
timeout 10 tail --pid="$parent" -f /dev/null
# shellcheck disable=SC2086
check "compare kill -9: every worker gone within 5 s" gone $kids
check "compare kill -9: no manifest, so the set is not taken as whole" \
	test ! -e "$T/k9/compare.manifest"

e2e_done outputs
