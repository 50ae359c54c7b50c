# lib.sh - helpers shared by the end-to-end scripts (e2e.sh, e2e_sweep.sh,
# e2e_replay.sh). Source it after `set -u`, then call e2e_init:
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_init sweep        # VMMU defaults to build/vmmu; $T is a temporary
#                         # directory removed on exit
#   ...checks...
#   e2e_done sweep        # "sweep: N passed, M failed"; status 1 when M > 0
#
# Every helper counts into $pass and $fail and prints one line a check:
# "ok   DESC" or "FAIL DESC: why".

# e2e_init NAME: set VMMU, make $T, reset the counts.
e2e_init() {
	VMMU=${VMMU:-build/vmmu}
	T=$(mktemp -d "${TMPDIR:-/tmp}/vmmu-$1.XXXXXX")
	trap 'rm -rf "$T"' EXIT
	pass=0
	fail=0
}

# e2e_done NAME: the last line, and the script's exit status.
e2e_done() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

ok() {
	pass=$((pass + 1))
	echo "ok   $*"
}

bad() {
	fail=$((fail + 1))
	echo "FAIL $*"
}

# check DESC CMD...: CMD must succeed.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else bad "$desc"; fi
}

# eq DESC A B: A and B are the same string.
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', expected '$3'"; fi
}

# Show the first lines of the last command's stderr under a failure.
show_err() {
	sed 's/^/     | /' "$T/err" | head -5
}

# expect STATUS DESC CMD...: run CMD (stdout to $T/out, stderr to $T/err)
# and require its exit status.
expect() {
	local want=$1 desc=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$desc"
	else
		bad "$desc: exit status $rc, expected $want"
		show_err
	fi
}

# expect_msg STATUS TEXT DESC CMD...: as expect, and stderr must contain TEXT.
expect_msg() {
	local want=$1 text=$2 desc=$3 rc
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "$desc: exit status $rc, expected $want"
		show_err
	elif ! grep -qF -- "$text" "$T/err"; then
		bad "$desc: stderr lacks \"$text\""
		show_err
	else
		ok "$desc"
	fi
}

# col FILE NAME [ROW]: the value of column NAME in data row ROW (default 1);
# NO_SUCH_COLUMN when the header has no such name.
col() {
	awk -F, -v name="$2" -v row="${3:-1}" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
		NR == row + 1 { print (c ? $c : "NO_SUCH_COLUMN"); exit }' "$1"
}
