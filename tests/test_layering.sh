#!/usr/bin/env bash
# test_layering.sh - the include rules pass on the tree as it is, and fail,
# naming the file and line, when a forbidden include is added.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
check="$here/tests/check-layering.sh"
pass=0
failn=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { failn=$((failn + 1)); echo "FAIL $1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$(bash "$check" "$here" 2>&1)
if [ $? -eq 0 ]; then ok "the tree passes: $out"; else bad "the tree fails: $out"; fi

# One forbidden include per case: FILE, the include, why it is forbidden.
cases=(
	"src/core/cpu.c|../guest-mm/gmm.h|core names the guest kernel"
	"src/core/vm.c|../cli/registry.h|core names the modes through the registry"
	"src/core/vm.c|../shadow/shadow.h|core includes a mode"
	"src/shadow/shadow.c|../nested/nested.h|a mode includes a sibling mode"
	"src/switching/switching.c|../shadow/shadow.h|a mode includes a sibling's private header"
	"src/switching/switching.c|../nested/walk2d.c|a mode includes a sibling's source"
	"src/core/vm.c|../shadow/api.h|core includes a mode's public header"
	"src/teach/explain.c|../nested/api.h|teach reaches a mode's api.h around the registry"
	"src/native/native.c|../guest-mm/gmm.h|a mode includes the guest kernel"
	"src/tlb/tlb.h|../core/config.h|the TLB includes more than types and entry formats"
	"src/guest-mm/proc.c|../shadow/shadow.h|the guest kernel includes a mode"
	"src/teach/explain.c|../nested/nested.h|teach reaches a mode around the registry"
	"src/report/csv.c|../cli/cli.h|report includes the command line"
	"workloads/seq.c|../src/cli/registry.h|a workload includes the registry"
	"src/core/stats.c|no-such-header.h|an include that names no file"
)

# A fresh copy of the sources in $tmp/tree.
fresh_tree() {
	rm -rf "$tmp/tree"
	mkdir -p "$tmp/tree"
	cp -r "$here/src" "$here/workloads" "$here/include" "$tmp/tree/"
}

# Append TEXT to FILE in a fresh copy of the tree; the check must exit 1 and
# name FILE at the appended line.
expect_rejected() {
	local file=$1 text=$2 why=$3 n out rc
	fresh_tree
	[ -f "$tmp/tree/$file" ] || { bad "$why: $file does not exist"; return; }
	n=$(wc -l <"$tmp/tree/$file")
	printf '%s\n' "$text" >>"$tmp/tree/$file"
	out=$(bash "$check" "$tmp/tree" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q "^$file:$((n + 1)):" <<<"$out"; then
		ok "$why: rejected ($file:$((n + 1)))"
	else
		bad "$why: exit $rc, output: $out"
	fi
}

for c in "${cases[@]}"; do
	IFS='|' read -r file inc why <<<"$c"
	expect_rejected "$file" "#include \"$inc\"" "$why"
done
# Core calling the guest kernel or naming a mode by its ops, without an include.
expect_rejected src/core/cpu.c "void gmm_handle_fault(void);" "core calls the guest kernel by name"
expect_rejected src/core/vm.c "extern int nested_mmu_ops;" "core names a mode's ops"

# An allowed include stays allowed: a mode may include core and the TLB.
fresh_tree
printf '#include "../core/cpu.h"\n#include "../tlb/ntlb.h"\n' >>"$tmp/tree/src/native/native.c"
out=$(bash "$check" "$tmp/tree" 2>&1)
if [ $? -eq 0 ]; then ok "a mode may include core and tlb"; else bad "allowed include rejected: $out"; fi

# A new mode folder is a mode: it may not include a sibling.
mkdir -p "$tmp/tree/src/agile"
printf '#include "../shadow/shadow.h"\n' >"$tmp/tree/src/agile/agile.c"
out=$(bash "$check" "$tmp/tree" 2>&1)
if [ $? -eq 1 ] && grep -q "^src/agile/agile.c:1:" <<<"$out"; then
	ok "a new mode folder may not include a sibling mode"
else
	bad "new mode including a sibling accepted: $out"
fi

# A mode may include a sibling mode's public header, src/<mode>/api.h.
fresh_tree
printf '#include "../nested/api.h"\n' >>"$tmp/tree/src/shadow/shadow.c"
out=$(bash "$check" "$tmp/tree" 2>&1)
if [ $? -eq 0 ]; then ok "a mode may include a sibling's api.h"; else bad "sibling api.h rejected: $out"; fi

# ...but an api.h outside a mode folder is no licence.
fresh_tree
printf '/* not a mode */\n' >"$tmp/tree/src/guest-mm/api.h"
printf '#include "../guest-mm/api.h"\n' >>"$tmp/tree/src/shadow/shadow.c"
n=$(wc -l <"$tmp/tree/src/shadow/shadow.c")
out=$(bash "$check" "$tmp/tree" 2>&1)
if [ $? -eq 1 ] && grep -q "^src/shadow/shadow.c:$n:" <<<"$out"; then
	ok "a mode may not include a non-mode folder's api.h"
else
	bad "non-mode api.h accepted: $out"
fi

echo "layering: $pass passed, $failn failed"
[ $failn -eq 0 ]
