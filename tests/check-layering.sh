#!/usr/bin/env bash
# check-layering.sh - the include rules of the source tree, checked.
#
# Every quoted #include of every .c and .h file under src/, workloads/ and
# include/ is resolved to a path in the tree and checked against the table
# below (docs/architecture.md explains it). A forbidden include is printed
# as FILE:LINE: and the script exits 1; an include that names no file in
# the tree is an error too. Angle-bracket includes (the C library, libnuma,
# jemalloc) are not checked. Core files must also not name a mode's ops or
# a guest-kernel function.
#
# usage: tests/check-layering.sh [ROOT]      (ROOT: the tree, default: .)
#
# A folder of src/ that the table does not name is an MMU mode: it may
# include core, tlb and itself, and of a sibling mode only that mode's
# public header, src/<sibling>/api.h (what the sibling lets others call);
# never a sibling's private headers or sources.
set -u
root=${1:-.}
cd "$root" || { echo "check-layering: cannot enter '$root'" >&2; exit 2; }

# The table: what each wing may include (folders, or single files).
allowed_for() {
	case "$1" in
	src/core) echo "src/core src/tlb" ;;
	src/tlb) echo "src/tlb src/core/types.h src/core/pte.h" ;;
	src/guest-mm) echo "src/guest-mm src/core" ;;
	workloads) echo "workloads src/guest-mm src/core" ;;
	src/report) echo "src/report src/core workloads src/lib/run.h" ;;
	src/teach) echo "src/teach src/core src/tlb src/guest-mm workloads src/report src/lib/run.h src/cli/registry.h" ;;
	src/lib) echo "src/lib src/core src/guest-mm workloads src/cli/registry.h src/cli/cli.h include" ;;
	src/cli) echo "src include workloads" ;;
	include) echo "include" ;;
	src/*) echo "$1 src/core src/tlb" ;; # an MMU mode
	*) echo "" ;;
	esac
}

# Is wing $1 an MMU mode (a folder of src/ that the table does not name)?
is_mode() {
	case "$1" in
	src/core | src/tlb | src/guest-mm | src/report | src/teach | src/lib | src/cli) return 1 ;;
	src/*) return 0 ;;
	*) return 1 ;;
	esac
}

# Normalise a path: drop "./" and resolve "dir/../".
normpath() {
	local IFS=/ part out=()
	for part in $1; do
		case "$part" in
		'' | .) ;;
		..) [ ${#out[@]} -gt 0 ] && unset 'out[${#out[@]}-1]' ;;
		*) out+=("$part") ;;
		esac
	done
	local IFS=/
	echo "${out[*]}"
}

fail=0
nfiles=0
ninc=0
while IFS= read -r f; do
	nfiles=$((nfiles + 1))
	dir=${f%/*}
	case "$f" in
	src/*/*) wing=$(echo "$f" | cut -d/ -f1-2) ;;
	workloads/*) wing=workloads ;;
	include/*) wing=include ;;
	*) continue ;;
	esac
	allowed=$(allowed_for "$wing")
	lineno=0
	while IFS= read -r line; do
		lineno=$((lineno + 1))
		case "$line" in
		'#include "'*) ;;
		*) continue ;;
		esac
		inc=${line#\#include \"}
		inc=${inc%%\"*}
		ninc=$((ninc + 1))
		target=$(normpath "$dir/$inc")
		if [ ! -f "$target" ]; then
			# -Iinclude: the public header; the build writes vmmu-version.h
			if [ "$inc" = vmmu-version.h ]; then
				target="include/$inc"
			elif [ -f "include/$inc" ]; then
				target="include/$inc"
			else
				echo "$f:$lineno: #include \"$inc\" names no file in the tree"
				fail=1
				continue
			fi
		fi
		ok=0
		for a in $allowed; do
			case "$target" in
			"$a" | "$a"/*) ok=1; break ;;
			esac
		done
		# A mode may include a sibling mode's public header, nothing else of it.
		if [ $ok -eq 0 ] && is_mode "$wing"; then
			case "$target" in
			src/*/api.h)
				is_mode "${target%/api.h}" && ok=1
				;;
			esac
		fi
		if [ $ok -eq 0 ]; then
			echo "$f:$lineno: $wing may not include $target (allowed: $allowed, and a sibling mode's api.h)"
			fail=1
		fi
	done <"$f"
done < <(find src workloads include -name '*.[ch]' 2>/dev/null | sort)

# Core names no mode and no guest-kernel function: no <mode>_mmu_ops, no
# gmm_ call (it reaches them through struct mmu_ops and the vCPU's vectors).
while IFS= read -r hit; do
	echo "$hit: core names a mode or the guest kernel"
	fail=1
done < <(grep -nE '\b[a-z0-9_]+_mmu_ops\b|\bgmm_[a-z_]+' src/core/*.[ch] 2>/dev/null)

if [ $nfiles -eq 0 ]; then
	echo "check-layering: no source files under '$root'" >&2
	exit 2
fi
if [ $fail -ne 0 ]; then
	echo "check-layering: forbidden includes found ($nfiles files, $ninc includes)"
	exit 1
fi
echo "check-layering: $nfiles files, $ninc includes, all allowed"
