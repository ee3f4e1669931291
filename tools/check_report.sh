#!/bin/sh
# Renders a `matrice report` page in headless Chromium and writes a PNG screenshot, so a person
# can look at it. Not part of `make test` (needs the Debian package chromium, installed here
# through apt-get when missing, and python3 for the synthetic inputs).
#
#   sh tools/check_report.sh [OUT_DIR] [RESULTS...]
#
# Without RESULTS it renders synthetic inputs (tests/report/make_demo.py: 3 methods, 10
# languages, 18 layers, 60 facts, one evaluation) plus the small fixtures. Writes
# OUT_DIR/report/ (the page), OUT_DIR/report.png (full page) and OUT_DIR/fig-*.png (each figure
# on its own). OUT_DIR defaults to build/check-report.
set -eu
: "${MATRICE:=build/matrice}"
out=${1:-build/check-report}
[ $# -gt 0 ] && shift
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ! command -v chromium >/dev/null 2>&1; then
    echo "check_report: installing chromium (Debian package)" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y --no-install-recommends chromium fonts-dejavu-core >&2
    else sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core >&2; fi
fi

if [ $# -eq 0 ]; then
    python3 tests/report/make_demo.py "$out/in"
    set -- "$out/in/kn.jsonl" "$out/in/amig.jsonl" "$out/in/matrice.jsonl" "$out/in/eval.json" \
        tests/report/small_eval.json tests/report/small_edit.json tests/report/small.summary.json
fi
"$MATRICE" report "$@" --out "$out/report" >/dev/null

# Chromium's --screenshot takes the window size; make the window tall enough for the whole page
# (about 1 px per 1.3 bytes of HTML is far too much: estimate from the figures' heights instead).
h=$(sed -n 's/.*<svg [^>]*height="\([0-9]*\)".*/\1/p' "$out/report/index.html" | awk '{s += $1 + 60} END {print s + 0}')
rows=$(grep -c '<tr>' "$out/report/index.html" || true)
h=$((h + rows * 30 + 2400)) # generous: white space at the end is harmless
shot() { # shot URL PNG WIDTH HEIGHT
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
        --window-size="$3,$4" --screenshot="$2" "$1" >/dev/null 2>&1
}
shot "file://$out/report/index.html" "$out/report.png" 1100 "$h"
# The full page is too tall to look at in one piece: also shoot it in slices of 1800 px, through
# a wrapper page that shifts the report up inside an iframe.
rm -f "$out"/report-part-*.png
y=0; k=1
while [ "$y" -lt "$h" ]; do
    printf '<!DOCTYPE html><html><body style="margin:0;overflow:hidden"><iframe src="report/index.html" style="position:absolute;top:-%dpx;left:0;width:1100px;height:%dpx;border:0"></iframe></body></html>\n' \
        "$y" "$h" >"$out/slice.html"
    shot "file://$out/slice.html" "$out/report-part-$k.png" 1100 1800
    y=$((y + 1800)); k=$((k + 1))
done
rm -f "$out/slice.html"
for f in "$out"/report/fig-*.svg; do
    fh=$(sed -n 's/^<svg [^>]*height="\([0-9]*\)".*/\1/p' "$f" | head -n 1)
    shot "file://$f" "$out/$(basename "$f" .svg).png" 980 "$((fh + 20))"
done
ls -l "$out"/*.png
echo "check_report: page height $h px; look at $out/report.png"
