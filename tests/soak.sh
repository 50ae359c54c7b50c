#!/usr/bin/env bash
# soak.sh - the differential soak (make soak): the random-operation program
# of tests/test_differential.c, run again and again under every MMU mode
# with --audit on, across the machine settings the binary lists
# (VMMU_DIFF_SETTING=list), until TOTAL operations have run.
#
#   bash tests/soak.sh BIN [TOTAL] [OPS_PER_RUN] [JOBS]
#
# Run i uses setting i mod (number of settings) and seed SEED + i. SEED is
# $SOAK_SEED, or taken from the clock, and is printed first. Each run's
# program runs under every mode; its checksum and guest digest must agree
# across modes, every user read must match the flat model, and the shadow
# audit must hold after every exit and in full at the end. A failing run
# prints its error and the one-line command that reruns it alone. At the
# end: the operation count, the runs, the settings and the modes covered.
set -euo pipefail

bin=${1:?usage: soak.sh BIN [TOTAL] [OPS_PER_RUN] [JOBS]}
total=${2:-10000000}
per=${3:-50000}
jobs=${4:-2}
for v in "$total" "$per" "$jobs"; do
	if ! [[ $v =~ ^[1-9][0-9]*$ ]]; then
		echo "soak.sh: not a positive number: '$v'" >&2
		exit 2
	fi
done
seed=${SOAK_SEED:-$(( $(date +%s) % 1000000 * 1000 ))}
if ! [[ $seed =~ ^[0-9]+$ ]]; then
	echo "soak.sh: SOAK_SEED: not a number: '$seed'" >&2
	exit 2
fi
mapfile -t settings < <(VMMU_DIFF_SETTING=list "$bin" | cut -f1)
nset=${#settings[@]}
runs=$(( (total + per - 1) / per ))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "soak: seed $seed; $runs runs of $per operations (>= $total), $jobs at a time;" \
	"settings: ${settings[*]}"
start=$(date +%s)

run_one() {
	local i=$1 s=${settings[$(( $1 % nset ))]} sd=$(( seed + $1 ))
	if VMMU_DIFF_SETTING=$s VMMU_DIFF_SEED=$sd VMMU_DIFF_OPS=$per "$bin" >"$tmp/$i.log" 2>&1; then
		echo ok >"$tmp/$i.st"
	else
		echo "fail $s $sd" >"$tmp/$i.st"
	fi
}

running=0
for (( i = 0; i < runs; i++ )); do
	run_one "$i" &
	running=$(( running + 1 ))
	if (( running >= jobs )); then
		wait -n || true
		running=$(( running - 1 ))
	fi
done
wait

fails=0
ops=0
modes=""
for (( i = 0; i < runs; i++ )); do
	st=$(cat "$tmp/$i.st" 2>/dev/null || echo "fail ? ?")
	if [[ $st == ok ]]; then
		line=$(grep -m1 ' operations, ' "$tmp/$i.log" || true)
		n=$(sed -n 's/^seed [0-9]*: \([0-9]*\) operations,.*/\1/p' <<<"$line")
		ops=$(( ops + ${n:-0} ))
		[[ -z $modes ]] && modes=$(sed -n 's/.*compared under //p' <<<"$line")
		continue
	fi
	fails=$(( fails + 1 ))
	read -r _ s sd <<<"$st"
	echo "soak: MISMATCH in run $i (setting $s, seed $sd):"
	grep -E 'ERROR|error|seed|aborted|audit' "$tmp/$i.log" | head -5 | sed 's/^/  /'
	echo "  rerun: VMMU_DIFF_SETTING=$s VMMU_DIFF_SEED=$sd VMMU_DIFF_OPS=$per $bin"
done
secs=$(( $(date +%s) - start ))
nmodes=$(wc -w <<<"$modes")
echo "soak: $ops operations in $(( runs - fails )) passing runs, each under every mode" \
	"($modes: $(( ops * nmodes )) mode-operations), settings: ${settings[*]}; $secs s"
if (( fails )); then
	echo "soak: FAILED: $fails of $runs runs"
	exit 1
fi
if (( ops < total )); then
	echo "soak: FAILED: only $ops of $total operations ran"
	exit 1
fi
echo "soak: PASS"
