#!/usr/bin/env bash
# e2e_replay.sh - end-to-end tests of `vmmu replay` and of the trace replays
# in `vmmu compare`.
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e_replay.sh
# (`make test-e2e` does). The checks:
#   - the committed real-program trace (tests/data/true.lackey) under every
#     mode: equal checksums and guest digests, and guest faults equal to the
#     distinct 4 KiB pages the trace touches, counted here independently
#     with awk (the second page of a straddling access included);
#   - exact access counts of small hand-written traces (straddles, M, sizes);
#   - every malformed trace rejected with its exact message and status 2;
#   - streaming: replaying a long synthetic trace from a pipe keeps the peak
#     RSS flat;
#   - compare adds one replay row per trace and mode.
# The last line is "replay: N passed, M failed"; the exit status is
# non-zero when M > 0.
set -u

. "$(dirname "$0")/lib.sh"
e2e_init replay
TRACE=tests/data/true.lackey

# Distinct 4 KiB pages touched by the records of a lackey trace, with the
# page arithmetic done on hex strings (exact in any awk): page = the address
# without its last 3 hex digits; a record whose offset + size - 1 passes
# 4095 touches the next page too (sizes are at most 512).
distinct_pages() {
	awk '
	function hexval(s,   i, v) {
		v = 0
		for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
		return v
	}
	/^(I  | [LSM] )/ {
		split(substr($0, 4), a, ",")
		h = a[1]; n = length(h)
		pg = hexval(n > 3 ? substr(h, 1, n - 3) : "0")
		lo = hexval(n > 3 ? substr(h, n - 2) : h)
		p[sprintf("%.0f", pg)] = 1
		if (lo + a[2] - 1 >= 4096)
			p[sprintf("%.0f", pg + 1)] = 1
	}
	END { n = 0; for (k in p) n++; print n }' "$1"
}

# replay_csv FILE ARGS...: vmmu replay ARGS --csv - into FILE.
replay_csv() {
	local out=$1
	shift
	"$VMMU" replay "$@" --csv - >"$out" 2>"$T/err"
}

# reject DESC TRACE_CONTENT_FILE EXPECTED_MESSAGE [ARGS...]: the replay
# fails with status 2, prints exactly the message (prefixed "vmmu: replay: "
# and with the trace's path), and prints no summary.
reject() {
	local desc=$1 file=$2 want=$3 rc
	shift 3
	"$VMMU" replay --trace "$file" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne 2 ]; then
		bad "$desc: exit status $rc, expected 2"
		sed 's/^/     | /' "$T/err" | head -3
	elif [ "$(cat "$T/err")" != "vmmu: replay: $want" ]; then
		bad "$desc: stderr is '$(cat "$T/err")', expected 'vmmu: replay: $want'"
	elif [ -s "$T/out" ]; then
		bad "$desc: printed a summary"
	else
		ok "$desc"
	fi
}

if [ ! -x "$VMMU" ]; then
	echo "replay: $VMMU is not an executable (build it with make)"
	echo "replay: 0 passed, 1 failed"
	exit 1
fi

# ---- the committed trace under every mode ----

modes=$("$VMMU" list modes)
want_pages=$(distinct_pages "$TRACE")
first=""
for m in $modes; do
	if ! replay_csv "$T/$m.csv" --trace "$TRACE" --mode "$m"; then
		bad "replay of $TRACE under $m: $(head -1 "$T/err")"
		continue
	fi
	ok "replay of $TRACE under $m"
	eq "$m: workload name" "$(col "$T/$m.csv" workload)" "replay:true"
	eq "$m: guest faults = distinct pages touched ($want_pages)" \
		"$(col "$T/$m.csv" guest_faults)" "$want_pages"
	eq "$m: all faults are demand-zero" "$(col "$T/$m.csv" demand_faults)" "$want_pages"
	if [ -z "$first" ]; then
		first=$m
		continue
	fi
	eq "$m: checksum equals $first's" "$(col "$T/$m.csv" checksum)" "$(col "$T/$first.csv" checksum)"
	eq "$m: guest digest equals $first's" \
		"$(col "$T/$m.csv" guest_digest)" "$(col "$T/$first.csv" guest_digest)"
	eq "$m: user accesses equal $first's" \
		"$(col "$T/$m.csv" user_accesses)" "$(col "$T/$first.csv" user_accesses)"
done
if [ "$want_pages" -lt 50 ]; then bad "the committed trace touches only $want_pages pages"; fi

"$VMMU" replay --trace "$TRACE" >"$T/human" 2>"$T/err"
if grep -q "^vmmu run: workload replay:true, mode native, seed 1$" "$T/human" &&
	grep -q "^  guest faults   $want_pages " "$T/human" &&
	grep -q "^trace $TRACE: 10005 lines, 9981 records (I 7087, L 1969, S 873, M 52), 8 across" "$T/human"; then
	ok "human summary: the run summary and the trace's counts"
else
	bad "human summary"
	sed 's/^/     | /' "$T/human" | head -4
fi

# Standard input gives the same run.
replay_csv "$T/stdin.csv" --trace - <"$TRACE"
eq "stdin: same checksum as the file" "$(col "$T/stdin.csv" checksum)" "$(col "$T/native.csv" checksum)"
eq "stdin: workload name" "$(col "$T/stdin.csv" workload)" "replay:stdin"

# ---- exact counts of small traces ----

# tiny NAME CONTENT: write a trace file $T/NAME.lackey.
tiny() { printf "$2" >"$T/$1.lackey"; }

tiny straddle ' S 1fff000ffc,8\nI  00400ffe,5\n L 1fff000ffc,8\n'
replay_csv "$T/s.csv" --trace "$T/straddle.lackey"
eq "straddling store, fetch and load: 4 pages faulted" "$(col "$T/s.csv" guest_faults)" 4
# store 4+4, fetch 1 + 1 (one per page part), load 4+4
eq "straddling accesses split per page" "$(col "$T/s.csv" user_accesses)" 6

tiny modify ' M 10000008,8\n L 10000008,8\n'
replay_csv "$T/m.csv" --trace "$T/modify.lackey"
eq "M is a load and a store" "$(col "$T/m.csv" user_accesses)" 3
eq "one page, one fault" "$(col "$T/m.csv" guest_faults)" 1

tiny sizes ' L 10000000,16\n L 10000000,10\n S 10000000,512\n L 10000000,1\n L 10000000,32\n'
replay_csv "$T/z.csv" --trace "$T/sizes.lackey"
eq "sizes over 8 split into 8-byte pieces (2+2+64+1+4)" "$(col "$T/z.csv" user_accesses)" 73

tiny trailing 'I  00400000,4\n\n\n'
replay_csv "$T/t.csv" --trace "$T/trailing.lackey"
eq "empty lines at the end are accepted" "$(col "$T/t.csv" guest_faults)" 1

tiny high ' S 7ffffffe000,8\n'
replay_csv "$T/h.csv" --trace "$T/high.lackey"
eq "the highest user page below 2^47 - 4K maps" "$(col "$T/h.csv" guest_faults)" 1
tiny la57 ' S 10000000000000,8\n'
replay_csv "$T/l5.csv" --trace "$T/la57.lackey" --levels 5
eq "an address above 2^47 replays with --levels 5" "$(col "$T/l5.csv" guest_faults)" 1

# ---- malformed traces ----

tiny trunc 'I  0401ab70,3\n S 1fff0007'
reject "truncated line (no newline at end)" "$T/trunc.lackey" \
	"$T/trunc.lackey:2: truncated line (no newline at end of input): ' S 1fff0007'"
tiny trunc2 'I  0401ab70,3\n S\n'
reject "truncated line (no address)" "$T/trunc2.lackey" "$T/trunc2.lackey:2: truncated line: ' S'"
tiny hex ' S 1fff00g708,8\n'
reject "bad hex digit" "$T/hex.lackey" "$T/hex.lackey:1: bad hex digit 'g' in address: ' S 1fff00g708,8'"
tiny nosize '==1== banner\nI  0401ab70\n'
reject "missing size (no comma)" "$T/nosize.lackey" "$T/nosize.lackey:2: missing size: 'I  0401ab70'"
tiny nosize2 'I  0401ab70,\n'
reject "missing size (nothing after the comma)" "$T/nosize2.lackey" \
	"$T/nosize2.lackey:1: missing size: 'I  0401ab70,'"
tiny zero ' L 1fff000708,0\n'
reject "size 0" "$T/zero.lackey" "$T/zero.lackey:1: size 0: ' L 1fff000708,0'"
tiny big ' L 1fff000708,513\n'
reject "size above 512" "$T/big.lackey" "$T/big.lackey:1: size above the maximum of 512: ' L 1fff000708,513'"
tiny past ' L 200000000000000,8\n'
reject "address past 2^57" "$T/past.lackey" "$T/past.lackey:1: address past 2^57: ' L 200000000000000,8'"
tiny past2 ' L ffffffffffffffffff,8\n'
reject "address past 2^64" "$T/past2.lackey" "$T/past2.lackey:1: address past 2^57: ' L ffffffffffffffffff,8'"
tiny user ' L 800000000000,8\n'
reject "address above user space (4-level)" "$T/user.lackey" \
	"$T/user.lackey:1: address outside the guest's user space [0x1000, 0x7ffffffff000): ' L 800000000000,8'"
tiny page0 ' L 0000000ff8,8\n'
reject "address in page 0" "$T/page0.lackey" \
	"$T/page0.lackey:1: address outside the guest's user space [0x1000, 0x7ffffffff000): ' L 0000000ff8,8'"
: >"$T/empty.lackey"
reject "empty file" "$T/empty.lackey" "$T/empty.lackey: no accesses"
tiny banners '==7== Lackey\n==7== \n'
reject "banners only" "$T/banners.lackey" "$T/banners.lackey: no accesses"
tiny nul 'I  0401ab70,3\nI  04\0001ab,3\n'
reject "binary file (NUL byte)" "$T/nul.lackey" \
	"$T/nul.lackey:2: binary data (byte 0x00 at column 6): 'I  04\\x001ab,3'"
"$VMMU" replay --trace "$VMMU" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -qF "$VMMU:1: binary data (byte 0x7f at column 1): '\\x7fELF" "$T/err"; then
	ok "binary file (an executable)"
else
	bad "binary file (an executable): status $rc, $(head -c 200 "$T/err")"
fi
tiny other 'I  0401ab70,3\nhello\n'
reject "not a lackey line" "$T/other.lackey" "$T/other.lackey:2: not a lackey line: 'hello'"
tiny hole 'I  0401ab70,3\n\nI  0401ab70,3\n'
reject "empty line inside" "$T/hole.lackey" "$T/hole.lackey:2: empty line inside the trace: ''"
# valgrind's report of a fatal signal holds an empty line before its banner lines
tiny sigrep 'I  0401ab70,3\n==42==    by 0x10D2A6: ??? (in /usr/bin/sort)\n\n==42== \nI  0401ab70,3\n'
"$VMMU" replay --trace "$T/sigrep.lackey" >/dev/null 2>"$T/err"
eq "an empty line before a banner: accepted" "$?" 0
awk 'BEGIN { printf "I  0401ab70,3\n L "; for (i = 0; i < 300; i++) printf "0"; printf "1,8\n" }' >"$T/long.lackey"
reject "line longer than 255 bytes" "$T/long.lackey" \
	"$T/long.lackey:2: line longer than 255 bytes: ' L $(printf '0%.0s' $(seq 77))...'"
reject "missing file" "$T/nope.lackey" "--trace: cannot open '$T/nope.lackey': No such file or directory"
tiny mid 'I  0401ab70,3\n S 1fff00g708,8\n'
"$VMMU" replay --trace "$T/mid.lackey" --mode shadow >"$T/out" 2>"$T/err"
eq "a bad line after good ones: status 2 under shadow" "$?" 2

# ---- streaming: memory stays flat ----

# gen N: N records cycling over 512 pages of data and 16 of code.
gen() {
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n; i++) {
			if (i % 4 == 0) printf "I  %x,4\n", 4194304 + (i % 65536)
			else printf " %s %x,8\n", (i % 3 ? "L" : "S"), 268435456 + (i * 72) % 2097152
		}
	}'
}
rss() {
	gen "$1" | "$VMMU" replay --trace - --maxrss 2>&1 >/dev/null | sed -n 's/^vmmu: replay: max RSS \([0-9]*\) KiB$/\1/p'
}
small=$(rss 20000)
large=$(rss 2000000)
if [ -n "$small" ] && [ -n "$large" ] && [ "$large" -le $((small + 4096)) ]; then
	ok "streaming: 2M records peak at $large KiB, 20K records at $small KiB"
else
	bad "streaming: 2M records peak at '$large' KiB, 20K records at '$small' KiB"
fi
gen 2000000 | "$VMMU" replay --trace - >"$T/out" 2>"$T/err"
eq "streaming: every line of a 2M-line pipe replayed" \
	"$(sed -n 's/^trace <stdin>: \([0-9]*\) lines.*/\1/p' "$T/out")" 2000000

# ---- system calls (tests/data/syscalls.lackey) ----
#
# The trace (pid 100) touches two image pages (a fetch at 0x401000, the
# stack at 0x1ffefff000), grows the heap by brk to [0x600000, 0x602000) and
# writes both pages, maps 4 pages at 0x10000000 and touches each (3 writes,
# 1 read), makes the first read-only (mprotect), unmaps the last two and an
# unmapped range (munmap), shrinks the heap by a page (brk), forks pid 101,
# whose write to the stack and modify of 0x10001000 copy two shared frames,
# exits, and the parent then writes 0x10001000 and 0x600000, frames it now
# holds alone (copy-on-write reuses them), and exits. So:
#   demand faults 8 (the 8 pages first touched), copy-on-write faults 4;
#   INVLPG: mprotect 1, munmap 2 (two present pages; none for the unmapped
#   range), brk 1, and 2 from the child's two frame copies: 6 in all;
#   one guest TLB flush (the fork's flush of the parent's PCID);
#   shadow's page-table-write exits from munmap: 0 under unsync (the leaf
#   table is unsync), 2 under eager (one per cleared leaf).
SC=tests/data/syscalls.lackey
"$VMMU" trace convert "$SC" "$T/sc.vtrace" 2>"$T/err"
eq "trace convert of $SC: status 0" "$?" 0
first=""
for m in $modes; do
	for form in text binary; do
		f=$SC
		[ "$form" = binary ] && f=$T/sc.vtrace
		if ! "$VMMU" replay --trace "$f" --mode "$m" --csv "$T/sc-$m-$form.csv" >"$T/sc-$m-$form.out" 2>"$T/err"; then
			bad "syscalls $m $form: $(head -1 "$T/err")"
			continue
		fi
		c=$T/sc-$m-$form.csv
		eq "syscalls $m $form: guest faults" "$(col "$c" guest_faults)" 12
		eq "syscalls $m $form: demand faults" "$(col "$c" demand_faults)" 8
		eq "syscalls $m $form: copy-on-write faults" "$(col "$c" cow_faults)" 4
		eq "syscalls $m $form: INVLPG" "$(col "$c" invlpgs)" 6
		eq "syscalls $m $form: guest TLB flushes" "$(col "$c" guest_tlb_flushes)" 1
		eq "syscalls $m $form: munmap line" \
			"$(grep '^  munmap ' "$T/sc-$m-$form.out" | sed 's/page-table-write exits//')" \
			"  munmap   2 INVLPG, 0 TLB flushes, 0 "
		eq "syscalls $m $form: call counts" "$(grep '^system calls:' "$T/sc-$m-$form.out" | sed 's/ (binary trace)//')" \
			"system calls: mmap 1, munmap 2, mprotect 1, brk 3, mremap 0, fork 1, exec 0, exit 2, thread 0, others 1, failed 0; 2 processes, 2 image pages"
		if [ -z "$first" ]; then
			first=$c
			continue
		fi
		eq "syscalls $m $form: checksum" "$(col "$c" checksum)" "$(col "$first" checksum)"
		eq "syscalls $m $form: guest digest" "$(col "$c" guest_digest)" "$(col "$first" guest_digest)"
	done
done
"$VMMU" replay --trace "$SC" --mode shadow --shadow-sync eager >"$T/out" 2>"$T/err"
eq "syscalls shadow eager: munmap's page-table-write exits" "$(grep '^  munmap ' "$T/out")" \
	"  munmap   2 INVLPG, 0 TLB flushes, 2 page-table-write exits"
eq "syscalls shadow unsync: munmap's page-table-write exits" "$(grep '^  munmap ' "$T/sc-shadow-text.out")" \
	"  munmap   2 INVLPG, 0 TLB flushes, 0 page-table-write exits"
"$VMMU" replay --trace "$SC" --no-syscalls --csv "$T/nosys.csv" >/dev/null 2>"$T/err"
eq "--no-syscalls: one fault per page touched, no copy-on-write" \
	"$(col "$T/nosys.csv" guest_faults) $(col "$T/nosys.csv" cow_faults)" "8 0"

# A thread (clone with CLONE_VM|CLONE_THREAD) shares its process's address
# space: its first access, glued by valgrind to the clone line, is replayed;
# its exit() ends the thread only, so the process's later access is fine.
{ head -2 "$SC"; echo ' S 1ffefff000,8';
	echo 'SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x522bf70, 0x522c990, 0x522c990, 0x522c6c0 ) --> [pre-success] Success(0x5959) I  00401000,3';
	echo ' L 1ffefff000,8'; echo 'SYSCALL[100,2](60) exit( 0 ) --> [pre-success] Success(0x0) ';
	echo ' L 1ffefff008,8'; echo 'SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) '; } >"$T/thr"
"$VMMU" replay --trace "$T/thr" >"$T/out" 2>"$T/err"
eq "a thread: status 0" "$?" 0
eq "a thread: the glued access replayed" "$(sed -n 's/^trace [^:]*: [0-9]* lines, \([0-9]*\) records.*/\1/p' "$T/out")" 4
eq "a thread: one process, one thread, one exit" \
	"$(grep -o 'exit [0-9]*, thread [0-9]*, others [0-9]*, failed 0; [0-9]* processes' "$T/out")" \
	"exit 1, thread 1, others 0, failed 0; 1 processes"

# Bad input around system calls: status 2, the line named.
head -2 "$SC" >"$T/h"
{ cat "$T/h"; echo 'SYSCALL[100,x](9) sys_mmap ( 0x0, 4096, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x10000000) '; } >"$T/b1"
reject "malformed SYSCALL head" "$T/b1" \
	"$T/b1:3: malformed SYSCALL line (expected SYSCALL[PID,TID](NR) NAME ...): 'SYSCALL[100,x](9) sys_mmap ( 0x0, 4096, 3, 34, 4294967295, 0 ) --> [pre-success]...'"
{ cat "$T/h"; echo 'SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 3, 34, 4294967295, 0 )'; } >"$T/b2"
reject "mmap line without a result" "$T/b2" \
	"$T/b2:3: malformed sys_mmap line: no Success(...) or Failure(...)"
{ cat "$T/h"; echo 'SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x10000000) ';
	echo 'SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x10001000) '; } >"$T/b3"
reject "mmap result over a live mapping without MAP_FIXED" "$T/b3" \
	"$T/b3:4: mmap result 0x10001000 (+4096) overlaps the live mapping [0x10000000, 0x10002000) without MAP_FIXED"
{ cat "$T/h"; echo 'SYSCALL[100,1](9) sys_mmap ( 0x10001000, 4096, 3, 50, 4294967295, 0 ) --> [pre-success] Success(0x10001000) '; echo ' S 10001000,8'; } >"$T/ok1"
"$VMMU" replay --trace "$T/ok1" >/dev/null 2>"$T/err"
eq "mmap with MAP_FIXED over a mapping: accepted" "$?" 0
{ cat "$T/h"; echo 'SYSCALL[555,1](39) sys_getpid() --> [pre-success] Success(0x22b) '; } >"$T/b4"
reject "a pid never created" "$T/b4" "$T/b4:3: pid 555 was never created (no fork or clone made it)"
{ cat "$T/h"; echo 'SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x10000000) ';
	echo ' S 10001000,8'; echo 'SYSCALL[100,1](11) sys_munmap ( 0x10000000, 8192 )[sync] --> Success(0x0) '; echo ' L 10001008,8'; } >"$T/b5"
reject "an access after munmap" "$T/b5" \
	"$T/b5:6: pid 100: read at 0x10001008 outside any mapping (a system call unmapped it or never mapped it; the program would have died of SIGSEGV)"
{ cat "$T/h"; echo 'SYSCALL[100,1](11) sys_munmap ( 0x30000000, 65536 )[sync] --> Success(0x0) '; echo ' S 1ffefff000,8'; } >"$T/ok2"
"$VMMU" replay --trace "$T/ok2" >/dev/null 2>"$T/err"
eq "munmap of an unmapped range: accepted" "$?" 0
{ cat "$T/h"; echo 'SYSCALL[100,1](9) sys_mmap ( 0x0, 4294967296, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x10000000) '; } >"$T/big"
"$VMMU" replay --trace "$T/big" --guest-mem 64M >/dev/null 2>"$T/err"
eq "a mapping larger than the guest: a failed run (status 1), not bad input" "$?:$(cat "$T/err")" \
	"1:vmmu: replay replay:big/native failed: $T/big:3: the guest kernel could not map [0x10000000, +4294967296) (Cannot allocate memory; a larger --guest-mem may help)"
size=$(stat -c %s "$T/sc.vtrace")
head -c $((size - 9)) "$T/sc.vtrace" >"$T/cut.vtrace"
"$VMMU" replay --trace "$T/cut.vtrace" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "^vmmu: replay: $T/cut.vtrace: truncated compressed trace" "$T/err"; then
	ok "a truncated compressed trace: status 2"
else
	bad "a truncated compressed trace: status $rc, '$(cat "$T/err")'"
fi
head -c 12 "$T/sc.vtrace" >"$T/cut2.vtrace"
"$VMMU" replay --trace "$T/cut2.vtrace" >"$T/out" 2>"$T/err"
eq "a binary header cut short: status 2" "$?:$(cat "$T/err")" \
	"2:vmmu: replay: $T/cut2.vtrace: truncated compressed trace: header cut at byte 12"
"$VMMU" trace convert "$T/b1" "$T/b1.vtrace" >/dev/null 2>"$T/err"
eq "trace convert of a malformed line: status 2" "$?" 2
"$VMMU" trace convert "$T/sc.vtrace" "$T/again.vtrace" >/dev/null 2>"$T/err"
eq "trace convert of a binary trace: status 2" "$?:$(cat "$T/err")" \
	"2:vmmu: trace convert: $T/sc.vtrace: already in the binary form"

# ---- compare ----

"$VMMU" compare --out "$T/cmp" --workloads faults --pages 8 --ops 2 --traces "$TRACE" \
	--modes native,nested >"$T/out" 2>"$T/err"
eq "compare with --traces: status 0" "$?" 0
eq "compare with --traces: rows" "$(cut -d, -f1,2 "$T/cmp/compare.csv" | tail -n +2 | tr '\n' ' ')" \
	"faults,native faults,nested replay:true,native replay:true,nested "
eq "compare replay row = replay checksum" "$(col "$T/cmp/compare.csv" checksum 3)" \
	"$(col "$T/native.csv" checksum)"
if grep -q "^## replay:true (whole run: the workload marks no region)$" "$T/cmp/summary.md"; then ok "summary has the replay"; else bad "summary lacks the replay"; fi
"$VMMU" compare --out "$T/cmpsc" --workloads faults --pages 8 --ops 2 --traces "$SC" >"$T/out" 2>"$T/err"
eq "compare with the system-call trace: status 0" "$?" 0
eq "summary: the system calls replayed" "$(grep '^Memory system calls replayed' "$T/cmpsc/summary.md")" \
	"Memory system calls replayed (page-table updates): mmap 1, munmap 2, mprotect 1, brk 3, mremap 0, fork 1, exec 0, exit 2, thread 0; 12 guest faults (4 copy-on-write), 6 INVLPG, 1 guest TLB flushes."
if grep -q "^Shadow exits by reason: .* Page-table-write exits inside system calls: fork 2, exit 19.$" "$T/cmpsc/summary.md" &&
	grep -q "^Between the two virtualized modes, \*\*\(shadow\|nested\)\*\* wins" "$T/cmpsc/summary.md"; then
	ok "summary: shadow's exits by reason and by system call, the winner"
else
	bad "summary: shadow's exits by reason and by system call, the winner"
fi
"$VMMU" compare --out "$T/cmp2" --workloads faults --pages 8 --ops 2 --modes native >"$T/out" 2>"$T/err"
eq "compare --workloads without --traces: no replay" "$(tail -n +2 "$T/cmp2/compare.csv" | cut -d, -f1)" "faults"
"$VMMU" compare --out "$T/cmp3" --workloads faults --traces "$T/nope" >"$T/out" 2>"$T/err"
eq "compare --traces with a missing path: status 2" "$?" 2

# compare --warmup: each trace's first N records are warm-up; a trace of N
# records or fewer is measured whole.
"$VMMU" compare --out "$T/cmpw" --workloads faults --pages 8 --ops 2 --modes native \
	--traces "$TRACE" --warmup 1000 >"$T/out" 2>"$T/err"
eq "compare --warmup 1000: status 0" "$?" 0
wrow=$(grep '^replay:true,' "$T/cmpw/compare.csv")
wroi=$(echo "$wrow" | awk -F, -v h="$(head -1 "$T/cmpw/compare.csv")" \
	'BEGIN { n = split(h, c, ","); for (i = 1; i <= n; i++) k[c[i]] = i } { print $k["roi"] }')
eq "compare --warmup 1000: the trace's row covers its region" "$wroi" region
"$VMMU" compare --out "$T/cmpw2" --workloads faults --pages 8 --ops 2 --modes native \
	--traces "$TRACE" --warmup 100000000 >"$T/out" 2>"$T/err"
eq "compare --warmup longer than the trace: status 0" "$?" 0
wroi=$(grep '^replay:true,' "$T/cmpw2/compare.csv" | awk -F, -v h="$(head -1 "$T/cmpw2/compare.csv")" \
	'BEGIN { n = split(h, c, ","); for (i = 1; i <= n; i++) k[c[i]] = i } { print $k["roi"] }')
eq "compare --warmup longer than the trace: measured whole" "$wroi" whole
"$VMMU" compare --out "$T/cmpw3" --workloads faults --warmup x >"$T/out" 2>"$T/err"
eq "compare --warmup x: status 2" "$?" 2

e2e_done replay
