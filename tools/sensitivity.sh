#!/usr/bin/env bash
# sensitivity.sh - how robust is the shadow/nested verdict of each workload?
#
# Runs `vmmu compare --modes shadow,nested` (regions of interest, the default
# machine, seed 1) once as it is, once with each per-handler cost of the
# machine profile at x0.5 and at x2 (--cost NAME=VALUE, the other costs left
# as they are), and once with 2M host pages (--host-page 2m). For every
# workload it reports the winner of shadow against nested and the margin,
# and marks the cells where the winner differs from the baseline's.
#
#   bash tools/sensitivity.sh [VMMU] [OUTDIR] [JOBS]
#     VMMU    the binary (default: build/vmmu)
#     OUTDIR  where sensitivity.{csv,md} go (default: results)
#     JOBS    runs in parallel (default: 2)
#
# The handler costs varied are the cost fields that price the work of the
# VMM (vmexit and every vmm_* field, docs/cost-model.md). Their x0.5 and x2
# values come from the profile's defaults as `vmmu list machines` prints
# them, rounded to whole cycles. Every counter is the same under a cost
# change (costs price counts, they do not change them); only the host page
# size changes the counts.
#
# Invariant: the output lists every workload of WORKLOADS in every row, or
# the script fails; a failed run fails the script (exit 1).
set -eu

vmmu=${1:-build/vmmu}
out=${2:-results}
jobs=${3:-2}
WORKLOADS=${WORKLOADS:-seq,random,ptrchase,kv,faults,fork,ctxswitch,mmap-churn,procs,phases}

if [ ! -x "$vmmu" ]; then
	echo "sensitivity.sh: $vmmu: not an executable (build it with make)" >&2
	exit 2
fi
case $jobs in
'' | *[!0-9]*)
	echo "sensitivity.sh: JOBS: '$jobs' is not a positive number" >&2
	exit 2
	;;
esac
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmmu-sens.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The default profile's value of each handler cost: the first column of
# `vmmu list machines` is the default machine.
costs=$("$vmmu" list machines |
	awk '/cost fields/ { on = 1; next }
	     on && ($1 == "vmexit" || $1 ~ /^vmm_/) { print $1 "=" $2 }')
if [ -z "$costs" ]; then
	echo "sensitivity.sh: no handler costs in '$vmmu list machines'" >&2
	exit 1
fi

# One line per variant: NAME|LABEL|FLAGS
variants="base|baseline (skylake-sp, 4K host pages)|"
for c in $costs; do
	name=${c%%=*}
	val=${c#*=}
	half=$(((val + 1) / 2))
	double=$((val * 2))
	variants="$variants
$name-x0.5|\`$name\` x0.5 ($half)|--cost $name=$half
$name-x2|\`$name\` x2 ($double)|--cost $name=$double"
done
variants="$variants
host-2m|2M host pages (\`--host-page 2m\`)|--host-page 2m"

csv="$out/sensitivity.csv"
printf 'variant,flags,workload,shadow_cycles_per_access,nested_cycles_per_access,winner,margin_pct\n' >"$tmp/all.csv"
n=0
while IFS='|' read -r name _ flags; do
	n=$((n + 1))
	echo "sensitivity: [$n] $name" >&2
	# shellcheck disable=SC2086 # flags are words on purpose
	if ! "$vmmu" compare --workloads "$WORKLOADS" --modes shadow,nested \
		--traces none -j "$jobs" --out "$tmp/$name" $flags \
		>"$tmp/$name.log" 2>&1; then
		echo "sensitivity.sh: variant $name failed:" >&2
		tail -5 "$tmp/$name.log" >&2
		exit 1
	fi
	awk -F, -v v="$name" -v f="$flags" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{ cpa[$(col["workload"]) "," $(col["mode"])] = $(col["cycles_per_access"])
		  if (!($(col["workload"]) in seen)) { seen[$(col["workload"])] = 1; order[++k] = $(col["workload"]) } }
		END {
			for (i = 1; i <= k; i++) {
				w = order[i]; s = cpa[w ",shadow"]; n = cpa[w ",nested"]
				if (s == "" || n == "") { print "missing " w > "/dev/stderr"; exit 1 }
				if (s <= n) { win = "shadow"; m = 100 * (n - s) / n }
				else { win = "nested"; m = 100 * (s - n) / s }
				printf "%s,%s,%s,%.2f,%.2f,%s,%.1f\n", v, f, w, s, n, win, m
			}
		}' "$tmp/$name/compare.csv" >>"$tmp/all.csv"
done <<EOF
$variants
EOF
mv "$tmp/all.csv" "$csv"

# The table: one row per variant, one column per workload; a cell is the
# winner's initial and its margin (percent of the dearer mode), bold where
# the winner differs from the baseline's.
md="$out/sensitivity.md"
{
	echo "# Sensitivity of the shadow/nested verdict"
	echo
	echo "Written by \`bash tools/sensitivity.sh\` with \`$("$vmmu" --version | head -1)\`."
	echo "Each row runs \`vmmu compare --modes shadow,nested\` (regions of interest,"
	echo "seed 1, default sizes and machine) with one change. A cell is the"
	echo "cheaper of shadow (S) and nested (N) in cycles per access and by how"
	echo "much (percent of the dearer); **bold** where the winner differs from"
	echo "the baseline's. The numbers are in \`sensitivity.csv\`."
	echo
	echo "$WORKLOADS" | awk -F, '{ printf "| change |"; for (i = 1; i <= NF; i++) printf " %s |", $i
		printf "\n|---|"; for (i = 1; i <= NF; i++) printf "---|"; printf "\n" }'
	awk -F, -v variants="$variants" '
		BEGIN { nv = split(variants, vl, "\n")
			for (i = 1; i <= nv; i++) { split(vl[i], p, "|"); label[p[1]] = p[2]; vo[i] = p[1] } }
		NR == 1 { next }
		{ if (!($3 in wi)) { wi[$3] = ++nw; wn[nw] = $3 }
		  win[$1, $3] = $6; mar[$1, $3] = $7 }
		END {
			for (i = 1; i <= nv; i++) {
				v = vo[i]; printf "| %s |", label[v]
				for (j = 1; j <= nw; j++) {
					w = wn[j]; c = (win[v, w] == "shadow" ? "S" : "N") " " mar[v, w] "%"
					if (win[v, w] != win["base", w]) c = "**" c "**"
					printf " %s |", c
				}
				printf "\n"
			}
		}' "$csv"
	echo
	flips=$(awk -F, 'NR > 1 { if ($1 == "base") b[$3] = $6; else r[NR] = $0 }
		END { n = 0; for (i in r) { split(r[i], f, ","); if (f[6] != b[f[3]]) n++ } print n }' "$csv")
	echo "Cells where the winner differs from the baseline's: $flips."
} >"$md"
echo "sensitivity: wrote $csv and $md" >&2
