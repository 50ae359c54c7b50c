#!/usr/bin/env bash
# man-extra.sh - the sections of vmmu.1 that help2man cannot find by itself:
# every subcommand's --help, verbatim, then exit status and files.
#
#   bash tools/man-extra.sh build/vmmu > build/man-extra.h2m
set -eu
vmmu=${1:?usage: man-extra.sh VMMU}

# Escape a text block for roff and keep its layout (.nf ... .fi).
verbatim() {
	echo '.nf'
	sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
	echo '.fi'
}

cmds=$("$vmmu" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')

echo '[COMMANDS]'
for c in $cmds; do
	echo '.SS'" $c"
	"$vmmu" help "$c" | verbatim
done

cat <<'ROFF'
[EXIT STATUS]
.TP
.B 0
success.
.TP
.B 1
a run failed (a guest-level error such as guest out of memory), or an output
file could not be written; the reason is on standard error.
.TP
.B 2
bad usage: an unknown flag, a bad value, an unknown workload or mode; the
message names the flag and the value.

[FILES]
.TP
.I results/
what
.B make compare
writes: compare.csv, summary.md and plots/.
.TP
.I docs/
the CSV schema (csv.md), the cost model and its sources (cost-model.md), the
validation against published results (validation.md), the architecture
(architecture.md).

[SEE ALSO]
.BR valgrind (1),
.BR gnuplot (1)
ROFF
