#!/bin/sh
# CLI tests of `matrice report`: a page from the fixtures in tests/report, and bad input. A bad
# input must give a non-zero exit, one line on stderr naming the file/field, nothing on stdout,
# and no output folder (nor a temporary one next to it).
: "${MATRICE:=build/matrice}"
F=tests/report
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/cli/lib/expect.sh

# expect_error NAME EXPECTED_SUBSTRING OUT_DIR -- matrice args...: also no OUT_DIR, no temp folder
expect_error() {
    name=$1; want=$2; dir=$3; shift 4
    "$MATRICE" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    lines=$(wc -l <"$tmp/err")
    first=$(head -n 1 "$tmp/err")
    if [ "$rc" -eq 0 ]; then ko "$name: exit 0"; return; fi
    if [ -s "$tmp/out" ]; then ko "$name: wrote to stdout"; return; fi
    case "$first" in *"$want"*) ;; *) ko "$name: stderr '$first' lacks '$want'"; return ;; esac
    if [ "$rc" -ne 2 ] && [ "$lines" -ne 1 ]; then ko "$name: $lines lines on stderr"; return; fi
    if [ -n "$dir" ] && [ -e "$dir" ]; then ko "$name: $dir was created"; return; fi
    if ls -d "$tmp"/*.tmp-* >/dev/null 2>&1; then ko "$name: a temporary folder was left"; return; fi
    ok
    bad_input_row "$name" "$rc" "$first" "none (no $(basename "${dir:-DIR}"), no temporary folder)" "$@"
}

# ---- a page from every kind of input
if "$MATRICE" report $F/small.jsonl $F/small_eval.json $F/small_edit.json $F/small.summary.json --out "$tmp/rep" \
    >"$tmp/out" 2>"$tmp/err"; then ok; else ko "report: exit $?: $(head -n 1 "$tmp/err")"; fi
for f in index.html fig-layers.svg fig-counts.svg fig-jaccard.svg fig-lakn.svg fig-eval.svg; do
    if [ -s "$tmp/rep/$f" ]; then ok; else ko "report: $f missing"; fi
done
if grep -q '"fig-eval.svg"' "$tmp/out"; then ok; else ko "report: stdout lacks the file list"; fi
if grep -q 'Jaccard 0.750 over 2 facts' "$tmp/rep/index.html"; then ok; else ko "report: Jaccard value missing"; fi
if grep -q '<script' "$tmp/rep/index.html"; then ko "report: page has a script"; else ok; fi
if [ "$(ls "$tmp" | grep -c 'rep\.')" -eq 0 ]; then ok; else ko "report: temporary folder left"; fi
# a second run replaces the previous report
if "$MATRICE" report $F/small.jsonl --out "$tmp/rep" >/dev/null 2>"$tmp/err" && [ ! -e "$tmp/rep/fig-eval.svg" ]; then
    ok; else ko "report: rewrite did not replace the old report"; fi

# ---- bad input: one line, non-zero exit, nothing written
D="$tmp/bad"
expect_error "report: missing file" "no_such.jsonl" "$D" -- report $F/no_such.jsonl --out "$D"
expect_error "report: malformed JSON" "$F/bad_malformed.json: malformed JSON at line 1" "$D" -- report $F/bad_malformed.json --out "$D"
expect_error "report: unknown schema" "$F/bad_schema.json: field 'schema': unknown schema 'other.thing.v1'" "$D" -- report $F/bad_schema.json --out "$D"
expect_error "report: interval not a number" "methods.kn.by_lang.en.sup_rel.mean" "$D" -- report $F/bad_ci.json --out "$D"
expect_error "report: layer out of range" "$F/bad_layer.jsonl:3: field 'languages.en.neurons[0].layer'" "$D" -- report $F/bad_layer.jsonl --out "$D"
expect_error "report: two methods in one file" "field 'method'" "$D" -- report $F/bad_mixed.jsonl --out "$D"
expect_error "report: good then bad input" "bad_schema.json" "$D" -- report $F/small.jsonl $F/bad_schema.json --out "$D"
printf '' >"$tmp/empty.json"
expect_error "report: empty file" "empty file" "$D" -- report "$tmp/empty.json" --out "$D"
expect_error "report: missing parent folder" "no/such/dir" "" -- report $F/small.jsonl --out "$tmp/no/such/dir"
if [ -e "$tmp/no" ]; then ko "report: missing parent: something was created"; else ok; fi
mkdir -p "$tmp/mine" && echo keep >"$tmp/mine/notes.txt"
expect_error "report: folder with other files" "not replacing it" "" -- report $F/small.jsonl --out "$tmp/mine"
if [ "$(cat "$tmp/mine/notes.txt")" = keep ] && [ ! -e "$tmp/mine/index.html" ]; then ok; else ko "report: foreign folder touched"; fi
expect_error "report: no --out" "--out" "" -- report $F/small.jsonl
expect_error "report: no inputs" "at least one RESULTS" "" -- report --out "$D"
expect_error "report: unknown option" "unknown option --bogus" "" -- report $F/small.jsonl --bogus --out "$D"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
