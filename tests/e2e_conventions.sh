#!/usr/bin/env bash
# e2e_conventions.sh - the conventions of the command line: --json of run,
# list and compare, and -q of run, list, compare, sweep, replay, bench and merge; one meaning of --out; and the help texts in step
# with the parsers, the README's flag tables and the man page.
#
# Run from the repository root: VMMU=build/vmmu MAN=build/vmmu.1 bash
# tests/e2e_conventions.sh (`make test-e2e` does). The last line is
# "conventions: N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
e2e_init conventions
MAN=${MAN:-build/vmmu.1}

SMALL=(--workload seq --pages 16 --ops 10)

# ---- run --json: the CSV's columns as keys, the CSV's values ----
"$VMMU" run "${SMALL[@]}" --mode nested --csv "$T/one.csv" --json >"$T/one.json" 2>"$T/err"
eq "run --json: exit 0" "$?" "0"
check "run --json: the summary goes to stderr" grep -q "guest digest" "$T/err"
check "run --json: the object has the CSV's keys in order, and its values" python3 - "$T/one.csv" "$T/one.json" <<'EOF'
import csv, json, sys
row = next(csv.DictReader(open(sys.argv[1])))
obj = json.load(open(sys.argv[2]))
assert list(obj) == list(row), "keys differ"
for k, v in row.items():
    j = obj[k]
    if isinstance(j, bool) or j is None:
        raise SystemExit(f"{k}: {j!r}")
    if isinstance(j, int):
        assert str(j) == v, (k, j, v)
    elif isinstance(j, float):
        assert abs(j - float(v)) <= 1e-9 * max(1, abs(float(v))), (k, j, v)
    else:
        assert j == v, (k, j, v)
assert isinstance(obj["accesses"], int) and isinstance(obj["cycles_per_access"], float)
assert obj["checksum"].startswith("0x") and obj["mode"] == "nested"
EOF
expect_msg 2 "--json: the JSON object goes to stdout, and so does --csv -" \
	"run --json with --csv -: refused" "$VMMU" run "${SMALL[@]}" --json --csv -

# ---- -q ----
"$VMMU" run "${SMALL[@]}" -q >"$T/out" 2>"$T/err"
eq "run -q: exit 0" "$?" "0"
eq "run -q: prints nothing" "$(cat "$T/out" "$T/err")" ""
"$VMMU" run "${SMALL[@]}" -q --csv "$T/q.csv" >"$T/out" 2>&1
check "run -q --csv: the CSV is still written" test "$(wc -l <"$T/q.csv")" -eq 2
eq "run -q --csv: nothing printed" "$(cat "$T/out")" ""
"$VMMU" run "${SMALL[@]}" -q --json >"$T/out" 2>"$T/err"
check "run -q --json: the JSON alone" python3 -c "import json,sys; json.load(open('$T/out'))"
eq "run -q --json: no summary on stderr" "$(cat "$T/err")" ""

# ---- list --json, list -q ----
"$VMMU" list --json >"$T/list.json"
check "list --json: modes, workloads and machines" python3 - "$T/list.json" "$("$VMMU" list modes | tr '\n' ,)" "$("$VMMU" list workloads | tr '\n' ,)" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["modes", "workloads", "machines"], list(d)
assert ",".join(m["name"] for m in d["modes"] if m["available"]) + "," == sys.argv[2]
assert ",".join(w["name"] for w in d["workloads"]) + "," == sys.argv[3]
assert d["machines"][0]["default"] and d["machines"][0]["cost"]["vmexit"] > 0
assert all(isinstance(w["pages"], int) for w in d["workloads"])
EOF
eq "list modes --json: an array of the modes" \
	"$("$VMMU" list modes --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" \
	"$("$VMMU" list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["modes"]))')"
eq "list -q machines: the names" "$("$VMMU" list -q machines | head -1)" "skylake-sp"
# Without an argument, each name under its kind: modes and workloads never mix.
"$VMMU" list -q >"$T/lq"
eq "list -q: 'mode NAME' lines are the modes" "$(awk '$1 == "mode" { print $2 }' "$T/lq" | tr '\n' ,)" \
	"$("$VMMU" list modes | tr '\n' ,)"
eq "list -q: 'workload NAME' lines are the workloads" \
	"$(awk '$1 == "workload" { print $2 }' "$T/lq" | tr '\n' ,)" "$("$VMMU" list workloads | tr '\n' ,)"
eq "list -q: every line is 'mode NAME' or 'workload NAME'" \
	"$(grep -cvE '^(mode|workload) [a-z0-9-]+$' "$T/lq")" "0"

# ---- compare --json, compare -q ----
"$VMMU" compare --out "$T/cmp" --workloads seq,random --modes native,nested --pages 16 --ops 10 \
	--traces none --json >"$T/cmp.json" 2>"$T/err"
eq "compare --json: exit 0" "$?" "0"
check "compare --json: one object per CSV row, same keys and values" python3 - "$T/cmp/compare.csv" "$T/cmp.json" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
arr = json.load(open(sys.argv[2]))
assert len(arr) == len(rows) == 4, (len(arr), len(rows))
for r, o in zip(rows, arr):
    assert list(o) == list(r)
    assert (o["workload"], o["mode"], str(o["accesses"]), o["guest_digest"]) == \
        (r["workload"], r["mode"], r["accesses"], r["guest_digest"])
EOF
check "compare --json: the files written are listed on stderr" grep -q "wrote $T/cmp/summary.md" "$T/err"
"$VMMU" compare --out "$T/cmpq" --workloads seq --modes native,nested --pages 16 --ops 10 \
	--traces none -q >"$T/out" 2>"$T/err"
eq "compare -q: exit 0" "$?" "0"
eq "compare -q: prints nothing" "$(cat "$T/out" "$T/err")" ""
check "compare -q: the files are written" test -s "$T/cmpq/compare.csv" -a -s "$T/cmpq/summary.md"

# ---- -q of sweep, replay, bench and merge: the files, and nothing printed ----
"$VMMU" sweep --workload seq --param pages --values 16,32 --modes native,nested --ops 10 \
	--out "$T/swq" -q >"$T/out" 2>"$T/err"
eq "sweep -q: exit 0" "$?" "0"
eq "sweep -q: prints nothing (no progress, no wrote, no crossover)" "$(cat "$T/out" "$T/err")" ""
check "sweep -q: the CSV, summary and manifest are written" \
	test -s "$T/swq/sweep-seq-pages.csv" -a -s "$T/swq/sweep-seq-pages.md" -a -s "$T/swq/sweep-seq-pages.manifest"
"$VMMU" sweep --workload seq --param pages --values 16,32 --modes native,nested --ops 10 \
	--out "$T/swq" --emit-jobs parallel --pilot off -q >"$T/out" 2>"$T/err"
eq "sweep --emit-jobs -q: exit 0" "$?" "0"
eq "sweep --emit-jobs -q: prints nothing" "$(cat "$T/out" "$T/err")" ""
check "sweep --emit-jobs -q: the jobs and the script are written" \
	test -s "$T/swq/sweep-seq-pages.jobs" -a -x "$T/swq/sweep-seq-pages.parallel.sh"
mkdir -p "$T/mq"
"$VMMU" merge "$T/mq/all.csv" "$T/swq/sweep-seq-pages.csv" -q >"$T/out" 2>"$T/err"
eq "merge -q: exit 0" "$?" "0"
eq "merge -q: prints nothing" "$(cat "$T/out" "$T/err")" ""
eq "merge -q: the rows are merged" "$(wc -l <"$T/mq/all.csv")" "5"
"$VMMU" sweep --workload seq --param pages --values 16,32 --modes native,nested --ops 10 \
	--out "$T/swq" --from "$T/mq/all.csv" -q >"$T/out" 2>"$T/err"
eq "sweep --from -q: exit 0" "$?" "0"
eq "sweep --from -q: prints nothing" "$(cat "$T/out" "$T/err")" ""
"$VMMU" replay --trace tests/data/true.lackey -q >"$T/out" 2>"$T/err"
eq "replay -q: exit 0" "$?" "0"
eq "replay -q: prints nothing" "$(cat "$T/out" "$T/err")" ""
"$VMMU" replay --trace tests/data/true.lackey -q --csv - >"$T/out" 2>"$T/err"
eq "replay -q --csv -: the CSV alone on stdout" "$(wc -l <"$T/out") $(cat "$T/err")" "2 "
"$VMMU" bench --workloads seq --modes native --pages 16 --ops 10 --runs 1 --repeat 1 \
	--csv "$T/bq.csv" -q >"$T/out" 2>"$T/err"
eq "bench -q: exit 0" "$?" "0"
eq "bench -q: prints nothing (no progress, no table)" "$(cat "$T/out" "$T/err")" ""
eq "bench -q: the CSV is written" "$(wc -l <"$T/bq.csv")" "2"
for cmd in sweep replay bench merge; do
	check "$cmd --help: -q, --quiet" bash -c "'$VMMU' $cmd --help | grep -q -- '-q, --quiet'"
done

# ---- one meaning of --out: a folder ----
expect_msg 2 "--out: bench writes one CSV file: use --csv FILE" "bench --out: refused, names --csv" \
	"$VMMU" bench --out "$T/b.csv"

# ---- help texts in step with the parsers ----
# Every flag a command's parser compares against must be in its --help.
# merge.c's --workload/--mode/--csv/-v are words of the job lines it reads,
# and bench's --out is the refused old form.
flags_of() {
	grep -oE '(cli_take_value\(|strcmp\([a-z]+(\[i\])?, )"-{1,2}[a-z][a-z0-9-]*"' "$@" |
		grep -oE '"-[^"]*"' | tr -d '"' | sort -u
}
help_has() { # CMD FLAG
	"$VMMU" $1 --help | grep -qE -- "(^|[][ ,|])$2([][ ,=|.]|$)"
}
missing=""
while read -r cmd files skip; do
	for f in $(flags_of $files); do
		case " $skip " in *" $f "*) continue ;; esac
		help_has "$cmd" "$f" || missing="$missing $cmd:$f"
	done
done <<EOF
run src/cli/main.c --version
list src/cli/main.c --csv --mode --workload --verbose -v --version
compare src/cli/compare.c
sweep src/cli/sweep.c
bench src/cli/bench.c --out
merge src/cli/merge.c --workload --mode --csv -v
explain src/cli/cmd_explain.c
explain src/cli/cmd_scenario.c
quiz src/cli/cmd_quiz.c
replay src/cli/cmd_replay.c --maxrss
EOF
eq "every flag each parser accepts is in that command's --help" "$missing" ""
check "run --help: -q and --json" bash -c "'$VMMU' run --help | grep -q -- '-q, --quiet' && '$VMMU' run --help | grep -q -- '--json'"
check "list --help: -q and --json" bash -c "'$VMMU' list --help | grep -q -- '-q, --quiet' && '$VMMU' list --help | grep -q -- '--json'"

# Every flag of the README's flag tables is in `vmmu run --help` and in the
# man page.
tables=$(awk '/^### Workload flags/ || /^### Machine flags/ { on = 1; next } /^#/ { on = 0 } on && /^\| `--/' README.md |
	grep -oE '^\| `--[a-z0-9-]+' | sed 's/^| `//' | sort -u)
check "the README's flag tables list flags" test "$(echo "$tables" | wc -w)" -ge 40
missing=""
for f in $tables; do help_has run "$f" || missing="$missing $f"; done
eq "every flag of the README's tables is in run --help" "$missing" ""
if [ -s "$MAN" ]; then
	man_text=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN")
	missing=""
	for f in $tables; do
		grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$man_text" || missing="$missing $f"
	done
	eq "every flag of the README's tables is in the man page" "$missing" ""
	for f in --json --quiet --emit-jobs --resume --from --brief --html; do
		grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$man_text" || bad "the man page lacks $f"
	done
	ok "the man page has the new flags"
else
	bad "no man page at $MAN (make $MAN)"
fi

e2e_done conventions
