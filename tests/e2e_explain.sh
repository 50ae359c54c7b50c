#!/bin/bash
# e2e_explain.sh - end-to-end tests of `vmmu explain` and `vmmu quiz`.
#
# For every mode and page-size combination, `explain --json` must be
# consistent with itself and with the x86-64 and EPT formats:
#   - each entry_addr == table_addr + 8 x index;
#   - each index is the right 9-bit field of the right address (the gVA for
#     guest, native and shadow references; the gPA being translated for EPT
#     references), and that gPA is the guest entry's own address (or the
#     data gPA of the final translation);
#   - each next table_addr is the frame of the entry before, within one
#     walk and one dimension (one nested walk for EPT references);
#   - steps are numbered 1..N, and the counts are the 2D walk's (24, 19,
#     14, 15, 29 for a 5-level guest over the default 4-level EPT, 35 over
#     a 5-level one ...) with the walk caches off.
# Then: the SVG parses (xmllint), quiz answers equal explain's, quiz output
# is a function of the seed, and bad input is refused with exit status 2.
#
# Usage: VMMU=build/vmmu bash tests/e2e_explain.sh
set -u
VMMU=${VMMU:-build/vmmu}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}

# expect STATUS TEXT NAME CMD...: exit status and a text on stderr.
expect_err() {
	local want=$1 text=$2 name=$3
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" -eq "$want" ] && grep -qF -- "$text" "$T/err"; then ok; else
		bad "$name (exit $rc, stderr: $(head -c 300 "$T/err"))"
	fi
}

# R <- the value of JSON field $1 in $line (string contents or bare value).
jf() {
	if [[ $line =~ \"$1\":(\"([^\"]*)\"|([^,\}]*)) ]]; then
		R="${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
	else
		R=""
	fi
}

# Check one `explain --json` output file. $2 is a label, $3 the expected
# number of references ("" = do not check).
check_json() {
	local f=$1 name=$2 want=$3
	local errs=0 nref=0 gva="" gpa="" line
	local -A prev_entry=() prev_level=()
	local -A guest_entry_of_row=() host_gpa_of_row=()

	if [ "$(head -1 "$f")" != "[" ] || [ "$(tail -1 "$f")" != "]" ]; then
		bad "$name: not one JSON array"
		return
	fi
	if command -v jq >/dev/null 2>&1 && ! jq -e 'type == "array"' "$f" >/dev/null 2>&1; then
		bad "$name: jq does not parse it"
		return
	fi
	line=$(grep '"type":"translation"' "$f")
	jf gva
	gva=$R
	jf gpa
	gpa=$R
	jf ok
	[ "$R" = true ] || {
		bad "$name: translation not ok"
		return
	}
	while IFS= read -r line; do
		[[ $line == *'"type":"reference"'* ]] || continue
		nref=$((nref + 1))
		jf step
		local step=$R
		[ "$step" -eq "$nref" ] || {
			errs=$((errs + 1))
			echo "  $name: step $step, expected $nref"
		}
		jf dimension
		local dim=$R
		jf walk
		local walk=$R
		jf level
		local level=$R
		jf index
		local index=$R
		jf translating
		local tr=$R
		jf table_addr
		local table=$R
		jf entry_addr
		local ea=$R
		jf entry
		local entry=$R
		jf guest_level
		local gl=$R
		local shift=$((12 + 9 * (level - 1)))
		if [ $(((tr >> shift) & 0x1ff)) -ne "$index" ]; then
			errs=$((errs + 1))
			echo "  $name step $step: index $index is not bits of $tr"
		fi
		if [ "$dim" != host ] && [ "$tr" != "$gva" ]; then
			errs=$((errs + 1))
			echo "  $name step $step: $dim reference indexes $tr, not the gVA $gva"
		fi
		# The chain key: one walk and one dimension; for EPT references one
		# nested walk (the guest row it serves).
		local key="$walk/$dim"
		[ "$dim" = host ] && key="$walk/host/$gl"
		if [ "$table" != null ]; then
			if [ $((table + 8 * index)) -ne $((ea)) ]; then
				errs=$((errs + 1))
				echo "  $name step $step: entry_addr $ea != $table + 8 * $index"
			fi
			if [ -n "${prev_entry[$key]:-}" ] && [ "${prev_level[$key]}" -eq $((level + 1)) ]; then
				if [ $((prev_entry[$key] & 0x000ffffffffff000)) -ne $((table)) ]; then
					errs=$((errs + 1))
					echo "  $name step $step: table $table is not the frame of ${prev_entry[$key]}"
				fi
			fi
			prev_entry[$key]=$entry
			prev_level[$key]=$level
		else
			unset "prev_entry[$key]"
		fi
		if [ "$dim" = guest ] && [ -n "$gl" ] && [ "$gl" != 0 ] && [[ $line == *'"walker":"hardware"'* ]]; then
			guest_entry_of_row[$gl]=$ea
		fi
		if [ "$dim" = host ]; then
			host_gpa_of_row[$gl]="${host_gpa_of_row[$gl]:-} $tr"
		fi
	done <"$f"
	# Nested: the gPA each nested walk translates is its row's guest entry
	# address, and the last row translates the data gPA.
	for gl in "${!host_gpa_of_row[@]}"; do
		local want_gpa=${guest_entry_of_row[$gl]:-$gpa} g
		[ "$gl" = 0 ] && want_gpa=$gpa
		for g in ${host_gpa_of_row[$gl]}; do
			if [ $((g)) -ne $((want_gpa)) ]; then
				errs=$((errs + 1))
				echo "  $name: nested walk of row $gl translates $g, not $want_gpa"
			fi
		done
	done
	if [ -n "$want" ] && [ "$nref" -ne "$want" ]; then
		errs=$((errs + 1))
		echo "  $name: $nref references, expected $want"
	fi
	if [ "$errs" -eq 0 ] && [ "$nref" -gt 0 ]; then ok; else bad "$name: $errs inconsistencies"; fi
}

GVA=0x7f0000201008

# ---- explain --json: every mode and page-size combination ----

for mode in native shadow nested; do
	for gp in 4k 2m; do
		for hp in 4k 2m 1g; do
			[ "$mode" = native ] && [ "$hp" != 4k ] && continue
			for lv in 4 5; do
			# EPT depth: 4 by default (KVM's kvm_mmu_get_tdp_level()), 5 on request
			for el in 4 5; do
				[ "$mode" != nested ] && [ "$el" = 5 ] && continue
				rows=$lv
				[ "$gp" = 2m ] && rows=$((lv - 1))
				case $hp in 4k) m=$el ;; 2m) m=$((el - 1)) ;; 1g) m=$((el - 2)) ;; esac
				case $mode in
				native) want=$rows ;;
				nested) want=$((rows * (m + 1) + m)) ;;
				shadow)
					# the missing spte at the top, the VMM's walk, the walk again
					# (over the smaller of the guest and host pages)
					hw=$lv
					[ "$gp" = 2m ] && [ "$hp" != 4k ] && hw=$((lv - 1))
					want=$((1 + rows + hw))
					;;
				esac
				name="$mode guest $gp host $hp levels $lv ept $el"
				if ! "$VMMU" explain --mode "$mode" --gva $GVA --guest-page "$gp" --host-page "$hp" \
					--levels "$lv" --ept-levels "$el" --walk-caches off --json >"$T/x.json" 2>"$T/err"; then
					bad "$name: explain failed: $(head -c 200 "$T/err")"
					continue
				fi
				check_json "$T/x.json" "$name" "$want"
			done
			done
		done
	done
done

# Walk caches on (warmed): references served by caches keep the numbering.
for mode in native shadow nested; do
	"$VMMU" explain --mode "$mode" --gva $GVA --json >"$T/w.json" 2>"$T/err" ||
		bad "$mode walk caches on: explain failed"
	check_json "$T/w.json" "$mode walk caches on" ""
	if grep -q '"served_by":"memory"' "$T/w.json" &&
		grep -Eq '"served_by":"(walk_cache|nested_tlb)"' "$T/w.json"; then ok; else
		bad "$mode walk caches on: no reference served by a walk cache"
	fi
done

# ---- the text form ----

"$VMMU" explain --mode nested --gva 0x7f0000001000 --walk-caches off >"$T/n.txt"
if [ "$(grep -Ec '^ +[0-9]+\. (EPT|guest) ' "$T/n.txt")" -eq 24 ]; then ok; else
	bad "nested 4/4: the text does not show 24 numbered references"
fi
for k in $(seq 1 24); do grep -Eq "^ +$k\. " "$T/n.txt" || {
	bad "nested text: reference $k missing"
	break
}; done
ok
grep -q 'PML4 index = gVA bits 47:39 = 0b011111110 = 0x0fe' "$T/n.txt" && ok ||
	bad "nested text: the PML4 index line"
grep -q '^translation: gVA 0x7f0000001000 -> gPA 0x[0-9a-f]* -> hPA 0x' "$T/n.txt" && ok ||
	bad "nested text: the final translation"
"$VMMU" explain --mode shadow --gva 0x7f0000001000 --walk-caches off >"$T/s.txt"
grep -q 'VMM software walk of the guest table' "$T/s.txt" && grep -q 'VM exit, reason 0' "$T/s.txt" &&
	ok || bad "shadow text: no VMM software walk or exit"
"$VMMU" explain --mode native --gva 0x7f0000001000 --levels 5 --walk-caches off >"$T/l5.txt"
grep -q 'PML5 index = gVA bits 56:48' "$T/l5.txt" && ok || bad "native 5-level: no PML5 line"
# A 5-level guest over the default 4-level EPT (kvm_mmu_get_tdp_level()):
# (5 + 1)(4 + 1) - 1 = 29 references; over a 5-level EPT, 35.
for el in 4 5; do
	want=$((el == 4 ? 29 : 35))
	"$VMMU" explain --mode nested --gva 0x7f0000001000 --levels 5 --ept-levels $el \
		--walk-caches off >"$T/n5.txt"
	n=$(grep -Ec '^ +[0-9]+\. (EPT|guest) ' "$T/n5.txt")
	if [ "$n" -eq "$want" ]; then ok; else
		bad "nested 5-level guest over a $el-level EPT: $n numbered references, expected $want"
	fi
	grep -q "5-level guest tables over a $el-level EPT" "$T/n5.txt" && ok ||
		bad "nested 5/$el: the machine line does not name the EPT depth"
done
expect_err 2 "--ept-levels" "bad --ept-levels" "$VMMU" explain --mode nested --gva 0x1000 --ept-levels 3

# pv: a 1D walk of the guest's own tables, which hold machine frames. The
# labels come from the mode's paravirt fact: mPA, never "guest-physical =
# host-physical" nor a table at a gPA.
for lv in 4 5; do
	"$VMMU" explain --mode pv --gva $GVA --levels $lv --walk-caches off --json >"$T/pv.json" 2>"$T/err" ||
		bad "pv levels $lv: explain failed: $(head -c 200 "$T/err")"
	check_json "$T/pv.json" "pv levels $lv" "$lv"
	grep -q '"table_space":"mpa"' "$T/pv.json" && ! grep -Eq '"table_space":"(pa|gpa)"' "$T/pv.json" &&
		ok || bad "pv levels $lv JSON: table_space is not mpa"
done
"$VMMU" explain --mode pv --gva 0x7f0000001000 --walk-caches off >"$T/pv.txt"
grep -q '^guest CR3: 0x[0-9a-f]* (table at mPA 0x' "$T/pv.txt" && ok || bad "pv text: CR3 not at an mPA"
[ "$(grep -c '^       table   mPA 0x[0-9a-f]* (a machine address' "$T/pv.txt")" -eq 4 ] && ok ||
	bad "pv text: not 4 tables at machine addresses"
grep -q '^translation: gVA 0x7f0000001000 -> mPA 0x[0-9a-f]* (.*guest frame gPA 0x' "$T/pv.txt" && ok ||
	bad "pv text: the final translation"
grep -Eq 'guest-physical = host-physical|table at gPA|table   gPA|table   PA ' "$T/pv.txt" &&
	bad "pv text: a physical or guest-physical label for a machine address" || ok

# ---- SVG ----

for mode in native shadow nested nept shadow-on-ept; do
	rm -f "$T/w.svg"
	"$VMMU" explain --mode "$mode" --gva $GVA --svg "$T/w.svg" >/dev/null 2>"$T/err" ||
		bad "$mode --svg failed: $(head -c 200 "$T/err")"
	if xmllint --noout "$T/w.svg" 2>"$T/err"; then ok; else bad "$mode SVG: $(head -c 300 "$T/err")"; fi
	grep -q 'TLB fill' "$T/w.svg" && ok || bad "$mode SVG: no TLB fill mark"
done
# Nested virtualization: the SVG says which level built each table.
"$VMMU" explain --mode nept --gva $GVA --svg "$T/w.svg" >/dev/null
grep -q '>tables: the guest tables are L2.s own (built by the L2 kernel); EPT02 is built by L0 from L1.s EPT12 and L0.s EPT01<' "$T/w.svg" &&
	ok || bad "nept SVG: no line saying which level built each table"
"$VMMU" explain --mode nested --gva $GVA --walk-caches off --svg "$T/g.svg" >/dev/null
[ "$(grep -c 'class="n"' "$T/g.svg")" -eq 24 ] && ok || bad "nested SVG: not 24 numbered cells"
ls "$T" | grep -q 'tmp\.' && bad "SVG: a temporary file was left behind" || ok

# ---- quiz ----

for mode in native shadow nested; do
	"$VMMU" quiz --mode "$mode" --seed 5 >"$T/q1" 2>&1
	"$VMMU" quiz --mode "$mode" --seed 5 >"$T/q2" 2>&1
	"$VMMU" quiz --mode "$mode" --seed 6 >"$T/q3" 2>&1
	cmp -s "$T/q1" "$T/q2" && ok || bad "$mode quiz: same seed, different output"
	cmp -s "$T/q1" "$T/q3" && bad "$mode quiz: different seeds, same problem" || ok
	grep -q '^CR3  = 0x' "$T/q1" && ok || bad "$mode quiz: no CR3"
	[ "$mode" = nested ] && { grep -q '^EPTP = 0x' "$T/q1" && ok || bad "nested quiz: no EPTP"; }
	[ "$mode" = shadow ] && { grep -q 'gfn 0x[0-9a-f]* -> hfn' "$T/q1" && ok || bad "shadow quiz: no p2m"; }
done

# The answers of -c are explain's, for every question.
quiz_vs_explain() {
	local mode=$1
	shift
	"$VMMU" quiz --mode "$mode" --seed 11 -c "$@" >"$T/qa" 2>&1 || {
		bad "quiz $mode $*: failed"
		return
	}
	local cmd faults=0
	cmd=$(grep -A1 '^Check one answer with:' "$T/qa" | tail -1 | sed 's/^ *vmmu //; s/--gva ADDR$//')
	for k in 1 2 3 4 5; do
		local a
		a=$(grep "^  $k\. gVA" "$T/qa" | awk '{print $3}')
		awk -v k="$k" '$0 ~ "^==== answer "k":" { on = 1; next } /^==== answer/ { on = 0 } on' "$T/qa" |
			sed '${/^$/d}' >"$T/ans"
		# shellcheck disable=SC2086
		"$VMMU" $cmd --gva "$a" >"$T/exp" 2>&1
		if cmp -s "$T/ans" "$T/exp"; then ok; else
			bad "quiz $mode $* answer $k differs from explain"
			diff "$T/ans" "$T/exp" | head -5
		fi
		grep -q ' FAULTS at level ' "$T/ans" && faults=$((faults + 1))
	done
	[ "$faults" -ge 1 ] && [ "$faults" -le 3 ] && ok || bad "quiz $mode $*: $faults faulting questions"
}
quiz_vs_explain native
quiz_vs_explain shadow
quiz_vs_explain nested
quiz_vs_explain nested --levels 5 --host-page 2m
quiz_vs_explain shadow --guest-page 2m

# ---- bad input ----

expect_err 2 "--gva" "bad --gva" "$VMMU" explain --mode native --gva zz
expect_err 2 "--gva: missing value" "missing --gva value" "$VMMU" explain --mode native --gva
expect_err 2 "--gva is required" "no --gva" "$VMMU" explain --mode native
expect_err 2 "--mode: unknown mode 'bogus'" "unknown mode" "$VMMU" explain --mode bogus --gva 0x1000
expect_err 2 "not canonical" "non-canonical address" "$VMMU" explain --mode nested --gva 0x0000800000000000
expect_err 2 "not canonical" "non-canonical with LA57" "$VMMU" explain --mode native --levels 5 --gva 0x0100000000000000
expect_err 2 "--levels" "bad --levels" "$VMMU" explain --mode native --gva 0x1000 --levels 7
expect_err 2 "--map" "bad --map" "$VMMU" explain --mode native --gva 0x1000 --map 0x1000,xyz
expect_err 2 "unknown flag '--bogus'" "unknown flag" "$VMMU" explain --mode native --gva 0x1000 --bogus
expect_err 2 "--seed" "bad quiz seed" "$VMMU" quiz --mode native --seed abc
expect_err 2 "--mode: unknown mode 'x'" "quiz unknown mode" "$VMMU" quiz --mode x
expect_err 2 "--svg: folder '/nonexistent/dir' does not exist" "unwritable --svg (exit 2, before the walk)" "$VMMU" explain --mode native --gva 0x7f0000001000 --svg /nonexistent/dir/x.svg
"$VMMU" explain --scenario no-such-scenario --mode native >/dev/null 2>"$T/err"
grep -q "unknown flag '--scenario'" "$T/err" && bad "--scenario is not dispatched" || ok
# The narrated scenarios name each walk by what walks what, from the mode's
# own description (mmu_ops two_dim, guest_table, host_table), not its name:
# every hardware walk that reaches an EPT is told as a 2D walk, the VMM's
# software walks apart from the hardware's, and no reference goes unnamed.
narr() { "$VMMU" explain --scenario "$1" --mode "$2" >"$T/narr" 2>&1; }
narr_has() { grep -qF -- "$1" "$T/narr" && ok || bad "$2: no '$1'"; }
narr_lacks() { grep -qF -- "$1" "$T/narr" && bad "$2: '$1'" || ok; }
narr first-touch nept
narr_has "2D hardware walk (L2's guest tables through EPT02) for 0x10001000: 1 memory reference, 3 2D-PWC hits, 4 nested-TLB hits" "nept first-touch"
narr first-touch shadow-on-ept
narr_has "2D hardware walk (SPT12 through EPT01) for 0x10001000" "shadow-on-ept first-touch"
narr_has "    VMM software walk of the guest tables for 0x10001000: PML4 L1-cache 4c, PDPT L1-cache 4c, PD L1-cache 4c, PT L1-cache 4c = 4 memory references" "shadow-on-ept first-touch (L1's walk under the exit)"
narr first-touch switching
narr_has "2D hardware walk (guest tables through the EPT) for 0x10001000" "switching first-touch (nested phase)"
narr first-touch shadow-on-shadow
narr_has "  hardware walk of the shadow tables for 0x10001000: PML4 L1-cache 4c, PDPT L1-cache 4c, PD L1-cache 4c, PT L1-cache 4c = 4 memory references" "shadow-on-shadow first-touch (SPT02 alone)"
for m in native shadow nested agile switching pv nept shadow-on-ept pvm shadow-on-shadow; do
	for s in first-touch fork ept-violation; do
		narr "$s" "$m"
		if grep -qE ' \? [0-9]+c' "$T/narr"; then bad "$m $s: a reference with no place named"; else ok; fi
	done
	case $m in
	nested | switching | nept | shadow-on-ept | pvm) narr_lacks "EPT violations exist only" "$m ept-violation note" ;;
	*) narr_has "EPT violations exist only where the hardware walks an EPT; $m took none" "$m ept-violation note" ;;
	esac
done
# --access: a store and a fetch are explained like a load. A store through a
# populated, never-walked page: native and nested walk it and set D (the
# TLB entry carries D); shadow paging takes its one hidden fault, whose
# handler sets A and D in the gpte (0x67) before it installs a writable,
# dirty spte. A fetch maps the page executable (no NX in the TLB entry);
# the kernel's direct map is NX, so a kernel fetch faults.
xa() { "$VMMU" explain --mode "$1" --gva 0x7f0000001000 --access "$2" ${3:+"$3"} >"$T/xa" 2>&1; }
xa_has() { grep -qF -- "$1" "$T/xa" && ok || bad "explain --access: $2: no '$1'"; }
for m in native nested; do
	xa "$m" write
	xa_has "vmmu explain: user store of gVA 0x00007f0000001000 under $m paging" "$m write"
	xa_has "4k entry, flags W U NX D" "$m write"
	xa_has "value stored: 0x0123456789abcdef" "$m write"
	xa_has "VM exits: 0, guest page faults: 0" "$m write"
done
xa shadow write
xa_has "VMM: VMM sets guest A/D bits, level 1, entry at gPA 0x7008 = 0x8000000000009067" "shadow write"
xa_has "VM exits: 1, guest page faults: 0" "shadow write"
xa_has "4k entry, flags W U NX D" "shadow write"
xa native fetch
xa_has "vmmu explain: user fetch of gVA 0x00007f0000001000 under native paging" "native fetch"
xa_has "4k entry, flags W U" "native fetch"
grep -q "value loaded\|value stored\|flags W U NX" "$T/xa" && bad "explain --access fetch: a value or NX" || ok
xa native fetch --json
grep -q '"type":"translation".*"access":"fetch".*"value":null' "$T/xa" && ok || bad "explain --access fetch --json"
"$VMMU" explain --mode native --gva 0xffff888000009000 --access fetch >"$T/xa" 2>&1
xa_has "kernel instruction fetch at 0xffff888000009000 (#PF error code 0x11)" "kernel fetch"
xa native read --json
grep -q '"type":"translation".*"access":"read"' "$T/xa" && ok || bad "explain --access read --json"
expect_err 2 "--access: expected read, write or fetch, got 'bogus'" "bad --access" "$VMMU" explain --gva 0x7f0000001000 --access bogus
"$VMMU" explain --help >/dev/null && ok || bad "explain --help"
"$VMMU" quiz --help >/dev/null && ok || bad "quiz --help"

echo "explain-e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
