#!/usr/bin/env bash
# e2e_browser.sh - `vmmu explain --brief` and `vmmu explain --html`, the
# page tested in a real headless browser (Debian's chromium, installed by
# `make deps`), driven by tests/browser_explain.py over the DevTools
# protocol on a pipe: it steps through all 24 references of a cold nested
# walk with Next, the arrow keys and Back, and checks the highlighted cell,
# table entry and narration at each step. The screenshot of step 12 is kept
# in OUTDIR (default build/test-output).
#
# Run from the repository root: VMMU=build/vmmu bash tests/e2e_browser.sh
# (`make test-e2e` does). The last line is "browser: N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"
e2e_init browser
OUTDIR=${OUTDIR:-build/test-output}
GVA=0x7f0000001000

# ---- --brief: the 2D walk as a 5x5 grid ----
"$VMMU" explain --mode nested --gva $GVA --walk-caches off --brief >"$T/brief" 2>"$T/err"
eq "brief: exit 0" "$?" "0"
check "brief: at most 20 lines (the full text takes 169)" test "$(wc -l <"$T/brief")" -le 20
eq "brief: the 24 references are numbered 1..24 in the grid" \
	"$(grep -E '^  (gL[0-9]|data page)' "$T/brief" | grep -oE '[0-9]+ (L1|L2|LC|DR|WC|NT)' | awk '{ print $1 }' | tr '\n' ' ')" \
	"$(seq 1 24 | tr '\n' ' ')"
eq "brief: five rows (four guest levels and the data page)" \
	"$(grep -cE '^  (gL[0-9] |data page)' "$T/brief")" "5"
check "brief: the counts in its heading" grep -q '^24 references read from memory, 0 served by walk caches, in 1 walk$' "$T/brief"
"$VMMU" explain --mode nested --gva $GVA --brief >"$T/brief2"
check "brief, warm caches: 1 reference from memory, 23 from walk caches" \
	grep -q '^1 reference read from memory, 23 served by walk caches, in 1 walk$' "$T/brief2"
eq "brief, warm caches: 20 nested-TLB cells and 3 walk-cache cells" \
	"$(grep -oE '[0-9]+ NT' "$T/brief2" | wc -l) $(grep -oE '[0-9]+ WC' "$T/brief2" | wc -l)" "20 3"
"$VMMU" explain --mode shadow --gva $GVA --walk-caches off --brief >"$T/brief3"
check "brief, shadow: the hidden fault (a not-present shadow entry), the VMM walk, the walk again" \
	bash -c "grep -q '1 DR!\|1 L[12C]!' '$T/brief3' && grep -q '^walk 2 (VMM, guest table)' '$T/brief3' && grep -q '^walk 3 (hardware, shadow table)' '$T/brief3'"
expect_msg 2 "--brief: cannot be combined with --json" "brief with --json: refused" \
	"$VMMU" explain --mode nested --gva $GVA --brief --json

# ---- the SVG cells: cycles and addresses; the title counts references made ----
"$VMMU" explain --mode nested --gva $GVA --svg "$T/w.svg" >/dev/null
check "svg, warm: the title counts the references actually read" \
	grep -q '1 reference read from memory, 23 served by walk caches' "$T/w.svg"
"$VMMU" explain --mode nested --gva $GVA --walk-caches off --svg "$T/c.svg" >/dev/null
eq "svg, cold: cycles in each of the 24 cells" "$(grep -c '[0-9] cyc</text>' "$T/c.svg")" "24"
eq "svg, cold: the entry address in each of the 24 cells" "$(grep -cE 'class="a">[gh]:[0-9a-f]+<' "$T/c.svg")" "24"

# ---- --html: one self-contained page ----
"$VMMU" explain --mode nested --gva $GVA --walk-caches off --html "$T/walk.html" >"$T/explain.txt"
eq "html: exit 0" "$?" "0"
check "html: no network and no other file (no src=, href= or url())" \
	bash -c "! grep -Eiq 'src=|href=|url\(|https?:' '$T/walk.html'"
eq "html: 24 numbered cells" "$(grep -o 'data-step="[0-9]*"' "$T/walk.html" | sort -u | wc -l)" "24"
expect_msg 2 "--html: folder '$T/nope' does not exist" "html into a missing folder: refused before the walk" \
	"$VMMU" explain --mode nested --gva $GVA --html "$T/nope/x.html"

if ! command -v chromium >/dev/null 2>&1; then
	bad "chromium is not installed (make deps installs it): the page is not tested in a browser"
else
	mkdir -p "$OUTDIR"
	if /usr/bin/python3 tests/browser_explain.py chromium "$T/walk.html" "$T/explain.txt" "$OUTDIR" >"$T/browser.log" 2>&1; then
		ok "chromium: $(grep -c '^ok' "$T/browser.log") checks of the page, step by step (screenshot: $OUTDIR/explain-html-step12.png)"
	else
		bad "chromium: the page failed in the browser"
		grep -v '^ok' "$T/browser.log" | head -10 | sed 's/^/     | /'
	fi
fi

e2e_done browser
