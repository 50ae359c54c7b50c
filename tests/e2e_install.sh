#!/usr/bin/env bash
# e2e_install.sh - what `make install PREFIX=...` gives a user: the binary
# and --version, the man page through man(1), bash completion, and the
# library through pkg-config, compiled and run.
#
# Always installs the normal (non-sanitizer) build into a temporary prefix.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
pass=0
failn=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { failn=$((failn + 1)); echo "FAIL $1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
version=$(make -s -C "$here" print-version)

if make -s -C "$here" SANITIZE=0 install PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
	ok "make install PREFIX=$prefix"
else
	bad "make install failed: $(tail -5 "$tmp/install.log")"
	echo "install: $pass passed, $failn failed"
	exit 1
fi

# --version, from the Makefile's VERSION.
out=$("$prefix/bin/vmmu" --version)
[ "$out" = "vmmu $version" ] && ok "vmmu --version says '$out'" || bad "--version said '$out', want 'vmmu $version'"
grep -q "#define VMMU_VERSION \"$version\"" "$prefix/include/vmmu-version.h" &&
	ok "vmmu-version.h installed with VMMU_VERSION \"$version\"" || bad "vmmu-version.h has the wrong version"

# The man page, read as a user would.
if command -v man >/dev/null 2>&1; then
	page=$(MANPATH="$prefix/share/man" man -P cat vmmu 2>/dev/null)
	grep -q "memory-virtualization simulator" <<<"$page" && ok "man vmmu shows the page" || bad "man vmmu: no page"
	for c in run compare sweep explain quiz; do
		grep -q "usage: vmmu $c" <<<"$page" || { bad "man vmmu lacks the $c section"; continue; }
		ok "man vmmu documents '$c'"
	done
	grep -q "EXIT STATUS" <<<"$page" && ok "man vmmu has EXIT STATUS" || bad "man vmmu: no EXIT STATUS"
else
	bad "man(1) is not installed (make deps installs man-db)"
fi

# Bash completion: commands, flags of a command, mode names from the registry.
comp="$prefix/share/bash-completion/completions/vmmu"
complete_words() { # the words typed, the last one being completed
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_vmmu
		printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort | tr '\n' ' '
}
export PATH="$prefix/bin:$PATH"
got=$(complete_words vmmu ru)
[ "$got" = "run " ] && ok "completion: 'vmmu ru' -> run" || bad "completion of 'vmmu ru': '$got'"
got=$(complete_words vmmu run --work)
[ "$got" = "--workload " ] && ok "completion: 'vmmu run --work' -> --workload" || bad "completion of 'vmmu run --work': '$got'"
got=$(complete_words vmmu run --mode n)
[ "$got" = "native nept nested " ] && ok "completion: '--mode n' -> native nept nested" || bad "completion of '--mode n': '$got'"
got=$(complete_words vmmu compare --work)
[ "$got" = "--workloads " ] && ok "completion: 'vmmu compare --work' -> --workloads" || bad "completion of 'vmmu compare --work': '$got'"
# Every flag a command's --help lists is offered.
for c in run compare explain; do
	missing=""
	for f in $("$prefix/bin/vmmu" help "$c" | grep -oE -- '^ +--[a-z0-9-]+' | tr -d ' '); do
		grep -qw -- "$f" <<<"$(complete_words vmmu "$c" -)" || missing="$missing $f"
	done
	[ -z "$missing" ] && ok "completion offers every flag of '$c'" || bad "completion of '$c' lacks:$missing"
done

# pkg-config, and a program built against the installed prefix.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
got=$(pkg-config --modversion vmmu 2>&1)
[ "$got" = "$version" ] && ok "pkg-config --modversion vmmu = $got" || bad "pkg-config --modversion vmmu: '$got'"
cat >"$tmp/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <vmmu.h>

#if VMMU_VERSION_NUMBER < 500
#error "VMMU_VERSION_NUMBER too small"
#endif

int main(void)
{
	char err[256];
	if (strcmp(vmmu_version(), VMMU_VERSION) != 0)
		return 3;
	vmmu_config *c = vmmu_config_new();
	if (vmmu_config_set(c, "guest-mem", "64M", err, sizeof err) ||
	    vmmu_config_set(c, "pages", "64", err, sizeof err) ||
	    vmmu_config_set(c, "mode", "nested", err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 4;
	}
	vmmu_result *r = vmmu_run(c, "faults", err, sizeof err);
	if (!r) {
		fprintf(stderr, "%s\n", err);
		return 5;
	}
	printf("%s %llu\n", vmmu_version(), (unsigned long long)vmmu_result_stat(r, "guest_faults"));
	vmmu_result_free(r);
	vmmu_config_free(c);
	return 0;
}
C
if cc -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs vmmu) 2>"$tmp/cc.log"; then
	ok "cc prog.c \$(pkg-config --cflags --libs vmmu)"
	out=$("$tmp/prog" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [[ "$out" == "$version "[1-9]* ]]; then
		ok "the program runs a workload through the installed library: '$out'"
	else
		bad "the program: exit $rc, '$out'"
	fi
else
	bad "compiling against the prefix: $(cat "$tmp/cc.log")"
fi

echo "install: $pass passed, $failn failed"
[ $failn -eq 0 ]
