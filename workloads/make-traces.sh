#!/usr/bin/env bash
# make-traces.sh - record valgrind lackey traces of real programs, with
# their memory system calls, for `vmmu replay` and `vmmu compare` (called
# by `make traces`).
#
#   bash workloads/make-traces.sh DIR
#
# Writes DIR/<name>.vtrace, the binary form (`vmmu trace convert`), for each
# program below, from generated inputs so that a run is deterministic. Each
# program runs to its natural end under
#   valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --trace-children=yes
# Every process writes its own log (--log-file=l.%p.%n): processes that run
# at once would otherwise interleave their lines with no pid on the access
# lines. The logs are then merged into one stream in a serial order: a
# child's log right after the clone line that created it, then a "==PID=="
# line naming the parent again (a process's logs before and after an exec
# in the order they were last written). The stream is converted on the fly;
# the text logs are deleted once converted.
#
# A trace that exists already is kept; delete it (or DIR) to record it
# again. TRACES="gcc xz" records only the programs named (default: all). Recording is a one-off cost (minutes per program: lackey writes a
# line per access); a progress line every 15 s gives the text written so
# far. Runs under nice. VMMU names the vmmu binary (default build/vmmu).
#
# valgrind, sqlite3 and xz are installed with apt-get when missing (with
# sudo when not root), as `make deps` does. Exit status: 0 when every trace
# exists at the end, 1 otherwise (each failure is named on stderr).
set -u

out=${1:?usage: make-traces.sh DIR}
vmmu=${VMMU:-build/vmmu}

need=""
command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
command -v sqlite3 >/dev/null 2>&1 || need="$need sqlite3"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
if [ -n "$need" ]; then
	echo "make traces: installing$need"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	if ! { $SUDO apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need; }; then
		echo "make traces: cannot install$need; no traces recorded" >&2
		exit 1
	fi
fi
if [ ! -x "$vmmu" ]; then
	echo "make traces: $vmmu is not built (run make first)" >&2
	exit 1
fi

mkdir -p "$out" || exit 1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

# ---- deterministic inputs ----
# Text lines from a fixed LCG: 'lines.txt' (~0.1 MB), 'sort.txt' (~0.7 MB)
# and 'xz-in.txt' (256 KiB). The sizes keep each recording to minutes.
gen_lines() {
	awk -v n="$1" 'BEGIN { s = 1; for (i = 0; i < n; i++) { s = (s * 1103515245 + 12345) % 2147483648;
		printf "%08d record %d %x\n", s % 100000000, i, s } }'
}
gen_lines 4000 >"$work/lines.txt"
gen_lines 20000 >"$work/sort.txt"
head -c 262144 "$work/sort.txt" >"$work/xz-in.txt"
cat >"$work/script.py" <<'EOF'
import json, re
words = {}
for i in range(20000):
    k = (i * 7919) % 1009
    words[k] = words.get(k, 0) + i
text = json.dumps(words)
print(sum(words.values()), len(words), len(re.findall(r'"\d+"', text)))
EOF
cat >"$work/small.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
struct node { int key; struct node *left, *right; };
static struct node *insert(struct node *t, int key)
{
	if (!t) {
		t = calloc(1, sizeof(*t));
		t->key = key;
	} else if (key < t->key) {
		t->left = insert(t->left, key);
	} else {
		t->right = insert(t->right, key);
	}
	return t;
}
static int depth(const struct node *t)
{
	int l, r;
	if (!t)
		return 0;
	l = depth(t->left);
	r = depth(t->right);
	return 1 + (l > r ? l : r);
}
int main(void)
{
	struct node *t = NULL;
	unsigned s = 1;
	for (int i = 0; i < 100000; i++) {
		s = s * 1103515245u + 12345u;
		t = insert(t, (int)(s >> 8));
	}
	printf("%d\n", depth(t));
	return 0;
}
EOF
# A table of ~9 MB, past the TLB reach (1536 x 4 KiB = 6 MiB), built
# outside the recording; the query then scans it through mmap.
rm -f "$work/t.db"
sqlite3 "$work/t.db" "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, w INTEGER);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 60000)
INSERT INTO t SELECT i, printf('%0100d', (i * 7919) % 1000003), (i * 31) % 997 FROM c;" || exit 1

failed=0

# progress NAME LOGDIR: a line every 15 s while the recording runs.
progress() {
	local name=$1 dir=$2 t=0
	while sleep 15; do
		t=$((t + 15))
		echo "make traces: $name: recording, ${t}s, $(du -sm "$dir" 2>/dev/null | cut -f1) MB of text so far"
	done
}

# merge LOGDIR ROOTPID: the per-process logs as one stream (see the header).
merge() {
	awk -v dir="$1" -v root="$2" '
	function emit(pid,   cmd, n, i, f, line, list, c) {
		cmd = "ls -tr " dir "/l." pid ".* 2>/dev/null"
		n = 0
		while ((cmd | getline f) > 0)
			list[++n] = f
		close(cmd)
		for (i = 1; i <= n; i++) {
			while ((getline line < list[i]) > 0) {
				print line
				if (line ~ /^SYSCALL\[/ && match(line, /created child [0-9]+/)) {
					c = substr(line, RSTART + 14, RLENGTH - 14)
					emit(c)
					print "==" pid "== (the parent resumes)"
				}
			}
			close(list[i])
		}
	}
	BEGIN { emit(root) }'
}

# record NAME PROGRAM [ARGS...]: trace PROGRAM into $out/NAME.vtrace.
record() {
	local name=$1 dst="$out/$1.vtrace" logs="$work/$1.logs" pid ppid rc
	shift
	case " ${TRACES:-$name} " in
	*" $name "*) ;;
	*) return 0 ;;
	esac
	if [ -s "$dst" ]; then
		echo "make traces: $dst exists, kept"
		return 0
	fi
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "make traces: $name: '$1' is not installed, skipped" >&2
		failed=1
		return 0
	fi
	mkdir -p "$logs"
	echo "make traces: $name: recording $*"
	(cd "$work" && LC_ALL=C exec nice -n 19 valgrind --tool=lackey --trace-mem=yes \
		--trace-syscalls=yes --trace-children=yes --log-file="$logs/l.%p.%n" "$@" \
		>/dev/null 2>"$work/$name.err") &
	pid=$!
	progress "$name" "$logs" &
	ppid=$!
	wait "$pid"
	rc=$?
	kill "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
	if ! ls "$logs"/l.$pid.* >/dev/null 2>&1; then
		echo "make traces: $name: recording failed (status $rc):" >&2
		head -n 5 "$work/$name.err" >&2
		failed=1
		rm -rf "$logs"
		return 0
	fi
	if merge "$logs" "$pid" | nice -n 19 "$vmmu" trace convert - "$dst.tmp"; then
		mv "$dst.tmp" "$dst"
		echo "make traces: wrote $dst ($(du -h "$dst" | cut -f1))"
	else
		rm -f "$dst.tmp"
		echo "make traces: $name: conversion failed" >&2
		failed=1
	fi
	rm -rf "$logs"
}

record python3 /usr/bin/python3 -S "$work/script.py"
record pipeline /bin/sh -c "sort lines.txt | uniq -c | sort -rn | head -n 20; grep -c record lines.txt"
record gcc gcc -O1 -c small.c -o small.o
record sort sort --parallel=1 sort.txt
record xz xz -2 -c xz-in.txt
record sqlite3 sqlite3 t.db "PRAGMA mmap_size=268435456; SELECT w, count(*), sum(length(v)) FROM t GROUP BY w ORDER BY 2 DESC LIMIT 3;"

exit "$failed"
