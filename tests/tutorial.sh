#!/usr/bin/env bash
# tutorial.sh - run every command of docs/tutorial.md and check that its
# output is the text the tutorial shows, so that the tutorial never goes
# stale.
#
#   VMMU=build/vmmu bash tests/tutorial.sh            check (make test-e2e does)
#   VMMU=build/vmmu bash tests/tutorial.sh --update   rewrite the outputs
#
# Run from the repository root. The tutorial marks a command as a fenced
# block that opens with ```sh and holds one line "$ build/vmmu ...",
# followed (blank lines allowed) by a ```text block with its output:
# stdout and stderr together, and a last line "[exit status N]" when the
# status is not 0. "build/vmmu" in a command is replaced by $VMMU. With
# --update, a command that has no output block yet gets one.
#
# What legitimately varies from run to run is normalised on both sides
# before the comparison, and nothing else:
#   - the wall-time line: times, simulated accesses per second and peak RSS
#     ("wall time  0.012 s (workload 0.004 s, 21.50 M simulated
#     accesses/s, peak RSS 38 MiB)");
#   - simulator heap bytes (the vmm_heap_bytes counter of `-v`);
#   - the NUMA placement note of `-v` ("vmmu: numa: ..."), which depends
#     on the host's NUMA nodes.
#
# The last line is "tutorial: N passed, M failed"; the exit status is
# non-zero when M > 0, or when the tutorial has no command at all.
set -u

VMMU=${VMMU:-build/vmmu}
DOC=${TUTORIAL:-docs/tutorial.md}
update=0
case "${1:-}" in
--update) update=1 ;;
"") ;;
*)
	echo "usage: bash tests/tutorial.sh [--update]" >&2
	exit 2
	;;
esac

if [ ! -f "$DOC" ]; then
	echo "tutorial: $DOC not found (run from the repository root)" >&2
	exit 2
fi
if [ ! -x "$VMMU" ]; then
	echo "tutorial: $VMMU not found or not executable (make first)" >&2
	exit 2
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/vmmu-tutorial.XXXXXX")
trap 'rm -rf "$T"' EXIT

normalise() {
	sed -E \
		-e 's/wall time( +)[0-9]+\.[0-9]+ s \([^)]*simulated accesses\/s[^)]*\)/wall time\1<varies>/' \
		-e 's/^( *vmm_heap_bytes +)[0-9]+/\1<varies>/' \
		-e '/^vmmu: numa: /d'
}

# Run one command the way the tutorial shows it; output to $T/actual.
run_cmd() {
	local cmd=${1//build\/vmmu/$VMMU} rc
	bash -c "$cmd" >"$T/actual" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "[exit status $rc]" >>"$T/actual"
	fi
}

pass=0
fail=0
state=none
cmd=""
: >"$T/new"
: >"$T/expected"
lineno=0

while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $state in
	none)
		printf '%s\n' "$line" >>"$T/new"
		if [ "$line" = '```sh' ]; then
			state=sh
			cmd=""
		fi
		;;
	sh)
		printf '%s\n' "$line" >>"$T/new"
		if [ "$line" = '```' ]; then
			state=aftersh
		elif [ "${line#\$ }" != "$line" ]; then
			if [ -n "$cmd" ]; then
				echo "FAIL line $lineno: two commands in one block"
				fail=$((fail + 1))
			fi
			cmd=${line#\$ }
		fi
		;;
	aftersh)
		if [ -z "$line" ]; then
			printf '\n' >>"$T/new"
		elif [ "$line" = '```text' ]; then
			printf '%s\n' "$line" >>"$T/new"
			state=text
			: >"$T/expected"
		else
			if [ -n "$cmd" ] && [ "$update" -eq 1 ]; then
				# A new command: --update writes its output block.
				run_cmd "$cmd"
				{
					echo '```text'
					cat "$T/actual"
					echo '```'
					echo
				} >>"$T/new"
				pass=$((pass + 1))
				echo "new  $cmd"
			elif [ -n "$cmd" ]; then
				echo "FAIL line $lineno: '$cmd' has no \`\`\`text output block after it"
				fail=$((fail + 1))
			fi
			printf '%s\n' "$line" >>"$T/new"
			state=none
			if [ "$line" = '```sh' ]; then
				state=sh
			fi
			cmd=""
		fi
		;;
	text)
		if [ "$line" = '```' ]; then
			if [ -z "$cmd" ]; then
				cat "$T/expected" >>"$T/new"
			else
				run_cmd "$cmd"
				if normalise <"$T/expected" >"$T/e" && normalise <"$T/actual" >"$T/a" &&
					cmp -s "$T/e" "$T/a"; then
					pass=$((pass + 1))
					echo "ok   $cmd"
				elif [ "$update" -eq 1 ]; then
					pass=$((pass + 1))
					echo "upd  $cmd"
				else
					fail=$((fail + 1))
					echo "FAIL $cmd (output block ending at line $lineno differs)"
					diff -u "$T/e" "$T/a" | sed -n '3,40s/^/     | /p'
				fi
				if [ "$update" -eq 1 ]; then
					cat "$T/actual" >>"$T/new"
				else
					cat "$T/expected" >>"$T/new"
				fi
			fi
			printf '%s\n' "$line" >>"$T/new"
			state=none
			cmd=""
		else
			printf '%s\n' "$line" >>"$T/expected"
		fi
		;;
	esac
done <"$DOC"

if [ "$state" != none ] && [ -n "$cmd" ]; then
	echo "FAIL end of $DOC: the block of '$cmd' is not closed"
	fail=$((fail + 1))
fi
if [ $((pass + fail)) -eq 0 ]; then
	echo "FAIL $DOC has no command"
	fail=1
fi
if [ "$update" -eq 1 ] && [ "$fail" -eq 0 ]; then
	cp "$T/new" "$DOC"
	echo "tutorial: $DOC updated"
fi
echo "tutorial: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
