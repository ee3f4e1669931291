#!/bin/sh
# matrice evaluate / edit / enhance / inject on the planted-knowledge BERT, and bad input (each
# case appended to $MT_BAD_INPUT_TABLE like the other CLI tests).
: "${MATRICE:=build/matrice}"
P=tests/golden/planted
M=$P/bert
D=$P/planted.jsonl
NEW=tests/data/planted-new-facts.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/cli/lib/expect.sh

"$MATRICE" locate --model $M --data $D --out "$tmp/loc" --quiet 2>/dev/null
"$MATRICE" merge "$tmp/loc" --out "$tmp/loc.jsonl" 2>/dev/null
check "locate + merge on the planted model" '[ -s "$tmp/loc.jsonl" ]'

"$MATRICE" evaluate --model $M --data $D --neurons "$tmp/loc.jsonl" --bootstrap 100 --out "$tmp/ev.json" --quiet
check "evaluate writes its JSON" 'grep -q "matrice.evaluate.v1" "$tmp/ev.json"'
check "evaluate has the random control" 'grep -q "\"random\"" "$tmp/ev.json"'
"$MATRICE" evaluate --model $M --data $D --neurons "$tmp/loc" --bootstrap 50 --control none --quiet >"$tmp/ev2.json"
check "evaluate reads a locate folder and prints to stdout" 'grep -q "\"matrice\"" "$tmp/ev2.json" && ! grep -q "\"random\"" "$tmp/ev2.json"'

"$MATRICE" edit --model $M --data $D --neurons "$tmp/loc.jsonl" --fact P1:Q1:Q101 --new-object vextor --unrelated 3 \
    --save "$tmp/edited" >"$tmp/ed.json"
check "edit reports reliability per language" 'grep -q "\"reliability\"" "$tmp/ed.json"'
check "edit --save writes a model folder" '[ -s "$tmp/edited/model.safetensors" ] && [ -s "$tmp/edited/config.json" ]'
"$MATRICE" predict --model "$tmp/edited" --query "bbbor bbnap bbses [Y]." --top 1 >"$tmp/pred.json" 2>/dev/null
check "the saved edited model answers the new object in another language" 'grep -q "vextor" "$tmp/pred.json"'
"$MATRICE" predict --model $M --query "bbbor bbnap bbses [Y]." --top 1 >"$tmp/pred0.json" 2>/dev/null
check "the original model is untouched" 'grep -q "zebrix" "$tmp/pred0.json"'

"$MATRICE" enhance --model $M --data $D --neurons "$tmp/loc.jsonl" >"$tmp/enh.json"
check "enhance runs (every planted fact is known everywhere: none eligible)" 'grep -q "\"facts_eligible\": 0" "$tmp/enh.json"'

"$MATRICE" inject --model $M --facts $NEW --lang aa --neurons lakn --results "$tmp/loc.jsonl" --unrelated $D \
    --value --epochs 40 --out "$tmp/inj.json"
check "inject writes its JSON" 'grep -q "matrice.inject.v1" "$tmp/inj.json"'

# ---- bad input
expect_error "evaluate: results file missing" "$tmp/none.jsonl" -- \
    evaluate --model $M --data $D --neurons "$tmp/none.jsonl"
printf '{"schema":"matrice.locate.v1","fact":{"id":"x"}}\n' >"$tmp/bad.jsonl"
expect_error "evaluate: damaged results line" "bad.jsonl:1: missing field" -- \
    evaluate --model $M --data $D --neurons "$tmp/bad.jsonl"
expect_error "evaluate: results of another data file" "no fact of the data file" -- \
    evaluate --model $M --data tests/data/locate-mini.jsonl --neurons "$tmp/loc.jsonl"
expect_error "evaluate: language not in the data file" "language 'en' is not in the data file" -- \
    evaluate --model $M --data $D --neurons "$tmp/loc.jsonl" --langs en
expect_error "edit: unknown fact" "fact 'P9:Q9:Q9' is not in the data file" -- \
    edit --model $M --data $D --neurons "$tmp/loc.jsonl" --fact P9:Q9:Q9 --new-object vextor
expect_error "edit: new object the tokenizer cannot express" "--new-object: no language" -- \
    edit --model $M --data $D --neurons "$tmp/loc.jsonl" --fact P1:Q1:Q101 --new-object "☃☃"
expect_error "edit: --save onto an existing folder" "exists" -- \
    edit --model $M --data $D --neurons "$tmp/loc.jsonl" --fact P1:Q1:Q101 --new-object vextor --save "$tmp/edited"
expect_error "edit: activation mode" "--mode: only 'weight'" -- \
    edit --model $M --data $D --neurons "$tmp/loc.jsonl" --fact P1:Q1:Q101 --new-object vextor --mode activation
expect_error "inject: training language not in the facts file" "language 'en' is not in the data file" -- \
    inject --model $M --facts $NEW --lang en --neurons lakn --results "$tmp/loc.jsonl"
expect_error "inject: lakn without results" "--results: needed" -- inject --model $M --facts $NEW --lang aa --neurons lakn
expect_error "inject: unknown neuron choice" "--neurons must be lakn|random|all-ffn" -- \
    inject --model $M --facts $NEW --lang aa --neurons some

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
