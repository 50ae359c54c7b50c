#!/usr/bin/env bash
# make-traces.sh - record valgrind lackey traces of real programs for
# `vmmu replay` and `vmmu compare` (called by `make traces`).
#
#   bash workloads/make-traces.sh DIR
#
# Writes DIR/<name>.lackey for each program below, from small generated
# inputs so that a run is deterministic. Each trace keeps lackey's banner and
# at most TRACE_LINES lines (default 250000, about 3.5 MB): the recording is
# cut there (the program is stopped by SIGPIPE), so a long program yields the
# first TRACE_LINES lines of its run. A trace that exists already is kept;
# delete it (or DIR) to record it again. The program's own output is
# discarded: lackey writes to file descriptor 9, so the two never mix.
#
# valgrind is installed with apt-get when missing (with sudo when not root),
# as `make deps` does. Exit status: 0 when every trace exists at the end,
# 1 otherwise (each failure is named on stderr).
set -u

out=${1:?usage: make-traces.sh DIR}
lines=${TRACE_LINES:-250000}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "make traces: installing valgrind"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	if ! { $SUDO apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends valgrind; }; then
		echo "make traces: cannot install valgrind; no traces recorded" >&2
		exit 1
	fi
fi

mkdir -p "$out" || exit 1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

# Deterministic inputs: pseudo-random text lines (a fixed LCG).
awk 'BEGIN { s = 1; for (i = 0; i < 2000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
	printf "%08d record %d\n", s % 100000000, i } }' >"$work/lines.txt"
head -c 16384 "$work/lines.txt" >"$work/small.txt"
cat >"$work/script.py" <<'EOF'
words = {}
for i in range(3000):
    k = (i * 7919) % 1009
    words[k] = words.get(k, 0) + i
print(sum(words.values()), len(words))
EOF

failed=0

# record NAME PROGRAM [ARGS...]: trace PROGRAM into $out/NAME.lackey.
record() {
	local name=$1 dst="$out/$1.lackey" tmp="$out/.$1.lackey.tmp.$$"
	shift
	if [ -s "$dst" ]; then
		echo "make traces: $dst exists, kept"
		return 0
	fi
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "make traces: $name: '$1' is not installed, skipped" >&2
		return 0
	fi
	# lackey on fd 9 -> head; the program's stdout and stderr are dropped.
	LC_ALL=C valgrind --tool=lackey --trace-mem=yes --log-fd=9 "$@" \
		9>&1 >/dev/null 2>"$work/$name.err" | head -n "$lines" >"$tmp"
	if grep -q '^I  ' "$tmp" 2>/dev/null; then
		mv "$tmp" "$dst"
		echo "make traces: wrote $dst ($(wc -l <"$dst") lines)"
	else
		rm -f "$tmp"
		echo "make traces: $name: recording failed:" >&2
		head -n 5 "$work/$name.err" >&2
		failed=1
	fi
}

record sort sort "$work/lines.txt"
record gzip gzip -9 -c "$work/small.txt"
record python3 /usr/bin/python3 -S "$work/script.py"

exit "$failed"
