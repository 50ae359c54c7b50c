#!/usr/bin/env bash
# e2e_cluster.sh - the cluster loop for real: `vmmu sweep --emit-jobs slurm`
# submitted to a single-node Slurm (Debian's slurm-wlm and munge, started
# here on localhost with a configuration of our own in a temporary folder,
# and stopped after), the same sweep through GNU parallel, --resume, then
# `vmmu merge` and `vmmu sweep --from`; the redrawn summary must equal the
# one a local sweep writes (same table, same crossover).
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e_cluster.sh
# (`make test-cluster`, part of `make test`; `make deps` installs slurm-wlm,
# munge and parallel). The daemons need root (Slurm's SlurmdUser runs jobs
# as their owner) and free local TCP ports: without root, or when a daemon
# does not start, the Slurm part is skipped with the reason and the GNU
# parallel part still runs. The last line is "cluster: N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
e2e_init cluster
VMMU=$(cd "$(dirname "$VMMU")" && pwd)/$(basename "$VMMU")

# A sweep with a crossover that runs in about a second: GUPS measured whole
# with a small TLB and no walk caches, so nested pays 24-reference walks and
# shadow its table building; shadow wins the long runs.
SWEEP=(sweep --workload random --param ops --whole-run --pages 256 --tlb 4x2:16x2
	--walk-caches off --values 4000,16000,64000,256000 --modes native,shadow,nested)
B=sweep-random-ops
cd "$T" || exit 1

# quiet CMD...: CMD with its output in $T/log (the job runs print summaries).
quiet() { "$@" >>"$T/log" 2>&1; }

check "local sweep" quiet "$VMMU" "${SWEEP[@]}" --out local -j 2
check "the local sweep has a crossover" grep -q '^- \*\*Crossover 1\*\*' local/$B.md

# ---- --emit-jobs: bad values ----
expect_msg 2 "--emit-jobs: expected parallel or slurm, got 'jobs.txt'" \
	"--emit-jobs FILE (the old form) names the new one" \
	"$VMMU" "${SWEEP[@]}" --out never --emit-jobs jobs.txt
expect_msg 2 "--resume: only meaningful with --emit-jobs" "--resume alone is refused" \
	"$VMMU" "${SWEEP[@]}" --out never --resume
expect_msg 2 "--pilot: expected on or off, got 'x'" "--pilot x is refused" \
	"$VMMU" "${SWEEP[@]}" --out never --emit-jobs slurm --pilot x
check "refused emits wrote nothing" test ! -e never

# ---- Slurm ----
slurm_skip=""
if [ "$(id -u)" -ne 0 ]; then
	slurm_skip="not root: slurmd runs jobs as their owner and needs root"
elif ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
	slurm_skip="slurm-wlm or munge is not installed (make deps installs them)"
fi

SL=$T/slurm
stop_daemons() {
	local p
	for p in slurmd slurmctld munged; do
		[ -s "$SL/$p.pid" ] && kill "$(cat "$SL/$p.pid")" 2>/dev/null
	done
	sleep 1
	for p in slurmd slurmctld munged; do
		[ -s "$SL/$p.pid" ] && kill -9 "$(cat "$SL/$p.pid")" 2>/dev/null
	done
	return 0
}
trap 'stop_daemons; rm -rf "$T"' EXIT

# A free TCP port on localhost, from START upwards.
free_port() {
	local p=$1
	while (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

start_slurm() {
	local host port1 port2 i
	host=$(hostname -s)
	mkdir -p "$SL/state" "$SL/spool" "$SL/log" && chmod 755 "$SL" || return 1
	mungekey -c -k "$SL/munge.key" -b 1024 2>/dev/null || dd if=/dev/urandom of="$SL/munge.key" bs=1024 count=1 2>/dev/null
	chmod 600 "$SL/munge.key"
	munged -f -S "$SL/munge.sock" --key-file="$SL/munge.key" --log-file="$SL/log/munged.log" \
		--pid-file="$SL/munged.pid" --seed-file="$SL/munged.seed" || { echo "munged did not start"; return 1; }
	port1=$(free_port $((20000 + ($$ % 10000) * 2)))
	port2=$(free_port $((port1 + 1)))
	cat >"$SL/slurm.conf" <<-EOF
		ClusterName=vmmutest
		SlurmctldHost=$host(127.0.0.1)
		SlurmctldPort=$port1
		SlurmdPort=$port2
		AuthType=auth/munge
		CredType=cred/munge
		AuthInfo=socket=$SL/munge.sock
		SlurmUser=root
		SlurmdUser=root
		StateSaveLocation=$SL/state
		SlurmdSpoolDir=$SL/spool
		SlurmctldPidFile=$SL/slurmctld.pid
		SlurmdPidFile=$SL/slurmd.pid
		SlurmctldLogFile=$SL/log/slurmctld.log
		SlurmdLogFile=$SL/log/slurmd.log
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core_Memory
		SchedulerType=sched/backfill
		MpiDefault=none
		ReturnToService=2
		MailProg=/bin/true
		JobCompType=jobcomp/none
		AccountingStorageType=accounting_storage/none
		JobAcctGatherType=jobacct_gather/none
		PlugStackConfig=$SL/plugstack.conf
		NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1024 State=UNKNOWN
		PartitionName=vmmu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
	EOF
	: >"$SL/plugstack.conf"
	slurmctld -f "$SLURM_CONF" || { echo "slurmctld did not start"; return 1; }
	slurmd -f "$SLURM_CONF" || { echo "slurmd did not start"; return 1; }
	for i in $(seq 1 30); do
		sinfo -h -o %t 2>/dev/null | grep -qx idle && return 0
		sleep 1
	done
	echo "the node did not come up: $(sinfo -h -o '%t %E' 2>&1 | head -1)"
	tail -3 "$SL/log/slurmctld.log" "$SL/log/slurmd.log" 2>/dev/null | sed 's/^/     | /'
	return 1
}

# wait_jobs ID: until Slurm no longer lists job ID (60 s at most).
wait_jobs() {
	local i
	for i in $(seq 1 120); do
		[ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
		sleep 0.5
	done
	return 1
}

export SLURM_CONF=$SL/slurm.conf
if [ -z "$slurm_skip" ]; then
	mkdir -p "$SL"
	if ! why=$(start_slurm); then
		slurm_skip="the Slurm daemons could not start here: $why"
	fi
fi

if [ -n "$slurm_skip" ]; then
	echo "skip Slurm: $slurm_skip"
else
	check "emit-jobs slurm (with the pilot)" quiet "$VMMU" "${SWEEP[@]}" --out sl --emit-jobs slurm
	eq "slurm: every job in .jobs" "$(wc -l <sl/$B.jobs)" "12"
	eq "slurm: the pilot ran the last value's 3 jobs; 9 left in .todo" "$(wc -l <sl/$B.todo)" "9"
	check "slurm: the pilot's CSVs are the jobs' own" test -s sl/$B-jobs/0004-nested.csv
	check "slurm: an array of 9 tasks" grep -qx '#SBATCH --array=1-9' sl/$B.sbatch
	check "slurm: a --time hint from the pilot" grep -Eqx '#SBATCH --time=[0-9]+' sl/$B.sbatch
	check "slurm: a --mem hint from the pilot" grep -Eqx '#SBATCH --mem=[0-9]+M' sl/$B.sbatch
	if out=$(sbatch --parsable sl/$B.sbatch 2>&1); then
		id=${out%%;*}
		ok "sbatch accepted the array (job $id)"
		check "slurm: every array task finished within 60 s" wait_jobs "$id"
	else
		bad "sbatch: $out"
	fi
	eq "slurm: one CSV per job" "$(ls sl/$B-jobs/*.csv | wc -l)" "12"
	eq "slurm: a log per array task" "$(ls sl/$B-jobs/slurm-*.out 2>/dev/null | wc -l)" "9"
	check "slurm: merge --expect" quiet "$VMMU" merge sl/$B-merged.csv sl/$B-jobs --expect sl/$B.jobs
	check "slurm: sweep --from the merged CSV" quiet "$VMMU" "${SWEEP[@]}" --out sl --from sl/$B-merged.csv
	check "slurm: the redrawn summary equals the local one (table and crossover)" \
		cmp local/$B.md sl/$B.md
	eq "slurm: the redrawn CSV has every row" "$(wc -l <sl/$B.csv)" "13"
	check "slurm: the plot's data equals the local one" cmp local/plots/$B.dat sl/plots/$B.dat
	if command -v gnuplot >/dev/null; then
		check "slurm: the plot is drawn" test -s sl/plots/$B.svg
	fi
fi
stop_daemons
check "the daemons are stopped" bash -c "! { [ -s '$SL/slurmd.pid' ] && kill -0 \$(cat '$SL/slurmd.pid'); } 2>/dev/null"

# ---- GNU parallel, and --resume ----
if ! command -v parallel >/dev/null; then
	bad "GNU parallel is not installed (make deps installs it)"
else
	check "emit-jobs parallel, no pilot" quiet "$VMMU" "${SWEEP[@]}" --out pa --emit-jobs parallel --pilot off
	eq "parallel: every job to run" "$(wc -l <pa/$B.todo)" "12"
	check "parallel: the script calls GNU parallel on the list" grep -q "^exec parallel .*< pa/$B.todo" pa/$B.parallel.sh
	check "parallel: the jobs run" quiet sh pa/$B.parallel.sh -j 2
	eq "parallel: one CSV per job" "$(ls pa/$B-jobs/*.csv | wc -l)" "12"
	# A half-finished set: one CSV lost, one cut short.
	rm pa/$B-jobs/0002-shadow.csv
	head -1 pa/$B-jobs/0003-nested.csv >pa/cut && mv pa/cut pa/$B-jobs/0003-nested.csv
	expect_msg 2 "--resume emits only the jobs whose CSV is missing or incomplete" \
		"emit again without --resume: refused, names --resume" \
		"$VMMU" "${SWEEP[@]}" --out pa --emit-jobs parallel
	check "emit-jobs --resume" quiet "$VMMU" "${SWEEP[@]}" --out pa --emit-jobs parallel --resume
	eq "resume: only the two unfinished jobs are listed" \
		"$(grep -o -- '--csv [^ ]*' pa/$B.todo | tr '\n' ' ')" \
		"--csv pa/$B-jobs/0002-shadow.csv --csv pa/$B-jobs/0003-nested.csv "
	eq "resume: the full list is unchanged" "$(wc -l <pa/$B.jobs)" "12"
	check "resume: the two jobs run" quiet sh pa/$B.parallel.sh -j 2
	check "parallel: merge --expect" quiet "$VMMU" merge pa/$B-merged.csv pa/$B-jobs --expect pa/$B.jobs
	check "parallel: sweep --from the merged CSV" quiet "$VMMU" "${SWEEP[@]}" --out pa --from pa/$B-merged.csv
	check "parallel: the redrawn summary equals the local one" cmp local/$B.md pa/$B.md
	eq "parallel: the crossover is the local one" "$(grep '^- \*\*Crossover' pa/$B.md)" \
		"$(grep '^- \*\*Crossover' local/$B.md)"
	check "resume with every CSV complete: nothing to run" quiet "$VMMU" "${SWEEP[@]}" --out pa --emit-jobs parallel --resume
	eq "resume: an empty list" "$(wc -c <pa/$B.todo)" "0"
fi

# ---- --from: a missing row, a foreign file ----
grep -v ',nested,' local/$B.csv >part.csv
expect_msg 1 "have no row in the --from file" "--from with rows missing: exit 1" \
	"$VMMU" "${SWEEP[@]}" --out part --from part.csv
check "--from with rows missing: the points say missing" grep -q '| missing |' part/$B.md
printf 'a,b\n1,2\n' >foreign.csv
expect_msg 2 "the header is not this vmmu's" "--from a CSV of another header: exit 2" \
	"$VMMU" "${SWEEP[@]}" --out never --from foreign.csv
expect_msg 2 "--from: cannot read 'nope.csv'" "--from a missing file: exit 2" \
	"$VMMU" "${SWEEP[@]}" --out never --from nope.csv

e2e_done cluster
