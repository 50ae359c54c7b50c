#!/usr/bin/env bash
# e2e_errors.sh - run every row of docs/errors.md: each bad input must give
# the exit status of its row, and stderr must contain its message exactly.
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e_errors.sh
# (`make test-e2e` does). The rows run in a scratch folder holding the
# fixtures that docs/errors.md describes; "vmmu" in a command is $VMMU.
# The script also checks that the table has at least 30 rows and that the
# commands cover every subcommand.
set -u

. "$(dirname "$0")/lib.sh"
e2e_init errors

DOC=${DOC:-docs/errors.md}
VMMU=$(cd "$(dirname "$VMMU")" && pwd)/$(basename "$VMMU")

# ---- fixtures ----
(
	cd "$T" || exit 1
	"$VMMU" run --workload seq --pages 16 --ops 100 --csv good.csv >/dev/null 2>&1
	cp good.csv good2.csv
	head -c -1 good.csv >trunc.csv
	sed '1s/,tlb_hits,/,tlb_hitz,/' good.csv >nohits.csv
	printf 'I  0400000,4\r\n' >crlf.lackey
	printf 'I  04\001\002\n' >bin.lackey
	: >empty.lackey
	mkdir dir
	ln -s missing.csv dangling.csv
)
check "fixtures made" test -s "$T/good.csv" -a -s "$T/trunc.csv"

# strip_code TEXT: the text inside a markdown code span (` or ``).
strip_code() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	if [ "${s:0:2}" = '``' ]; then
		s=${s:2:${#s}-4}
	else
		s=${s:1:${#s}-2}
	fi
	printf '%s' "$s"
}

# ASan reserves terabytes of shadow address space: under `ulimit -v` an
# ASan build cannot start, so those rows are skipped there.
asan=0
grep -q __asan_init "$VMMU" 2>/dev/null && asan=1

rows=0
subs=""
while IFS= read -r line; do
	case $line in
	'| '[0-9]*) ;;
	*) continue ;;
	esac
	# | N | command | exit | message |
	rest=${line#| }
	num=${rest%% |*}
	rest=${rest#* | }
	cmd=$(strip_code "${rest%% | *}")
	rest=${rest#* | }
	want=${rest%% | *}
	rest=${rest#* | }
	msg=$(strip_code "${rest% |}")
	rows=$((rows + 1))
	sub=$(printf '%s\n' "$cmd" | sed -n 's/.*vmmu \([a-z]*\).*/\1/p')
	subs="$subs ${sub:-none}"
	if [ "$asan" -eq 1 ] && [[ $cmd == *"ulimit -v"* ]]; then
		echo "skip row $num under ASan: $cmd"
		continue
	fi
	run=${cmd//vmmu/\"\$VMMU\"}
	(cd "$T" && eval "$run") >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "row $num ($cmd): exit status $rc, expected $want"
		show_err
	elif ! grep -qF -- "$msg" "$T/err"; then
		bad "row $num ($cmd): stderr lacks \"$msg\""
		show_err
	else
		ok "row $num: $cmd"
	fi
	if [ "$(stat -c %s "$T/out")" -gt 0 ] && [ "$rc" -eq 2 ]; then
		case $cmd in
		*">/dev/full"*) ;;
		*) grep -q '^wrote ' "$T/out" && bad "row $num: bad usage, yet something was written" ;;
		esac
	fi
done <"$DOC"

check "docs/errors.md has at least 30 rows ($rows)" test "$rows" -ge 30
for s in run list compare bench sweep merge replay explain quiz help; do
	case " $subs " in
	*" $s "*) ok "a row for vmmu $s" ;;
	*) bad "no row for vmmu $s" ;;
	esac
done
check "missing/ was never created" test ! -e "$T/missing"

e2e_done errors
