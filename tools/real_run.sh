#!/bin/sh
# The real run reported in docs/RESULTS.md: Gemma 3 270M (the default model) on the 30 facts of
# data/runs/gemma3-known30.jsonl, in en, fr, es, ru and zh. Takes about an hour on 2 cores.
#   sh tools/real_run.sh [OUT]        (default OUT: build/real-run)
#
# The facts are the ones `matrice data filter` found the model to know in English (top-1 or P >= 0.05)
# among the first subjects (by Wikidata id) of P30, P36, P37 and P1376 of a 5-language build
# (`matrice data build --langs en,fr,es,ru,zh --max-per-relation 500 --seed 0`), 30 of them with
# the most languages known. Only 1 of 136 such facts is known in all 5 languages. data/runs/gemma3-new2.jsonl
# holds 2 facts the model does not know (for injection).
set -eu
: "${MATRICE:=build/matrice}"
OUT=${1:-build/real-run}
G=cache/models/gemma-3-270m-q4_k_m.gguf
D=data/runs/gemma3-known30.jsonl
L=en,fr,es,ru,zh
[ -f "$G" ] || sh tools/fetch_model.sh
mkdir -p "$OUT"
# IG: matrice (AMIG baseline, scores kept) and kn (zero baseline) side by side, one thread each
MT_THREADS=1 OPENBLAS_NUM_THREADS=1 $MATRICE locate --model $G --data $D --out "$OUT/matrice" --method matrice \
    --langs $L --queries 2 --steps 10 --keep-scores &
MT_THREADS=1 OPENBLAS_NUM_THREADS=1 $MATRICE locate --model $G --data $D --out "$OUT/kn" --method kn \
    --langs $L --queries 2 --steps 10 &
wait
# amig (first query per language) and matrice with rho = 0.6, from the kept scores
$MATRICE locate --model $G --data $D --out "$OUT/amig" --method amig --langs $L --steps 10 --reuse "$OUT/matrice" --quiet
$MATRICE locate --model $G --data $D --out "$OUT/matrice-rho06" --method matrice --langs $L --queries 2 --steps 10 \
    --rho 0.6 --reuse "$OUT/matrice" --quiet
for m in kn amig matrice matrice-rho06; do $MATRICE merge "$OUT/$m" --out "$OUT/$m.jsonl"; done
$MATRICE evaluate --model $G --data $D --neurons "$OUT/kn.jsonl,$OUT/amig.jsonl,$OUT/matrice.jsonl" --langs $L \
    --queries 1 --out "$OUT/eval.json"
$MATRICE edit --model $G --data $D --neurons "$OUT/matrice.jsonl" --fact P36:Q142:Q90 --new-object Lyon \
    --new-objects ru=Лион,zh=里昂 --lang en --langs $L --unrelated 8 --out "$OUT/edit.json"
$MATRICE edit --model $G --data $D --neurons "$OUT/matrice.jsonl" --fact P36:Q142:Q90 --new-object Lyon \
    --new-objects ru=Лион,zh=里昂 --lang en --langs $L --unrelated 8 --lambda2 3 --out "$OUT/edit-l3.json"
$MATRICE enhance --model $G --data $D --neurons "$OUT/matrice-rho06.jsonl" --langs $L --facts 10 --unrelated 1 \
    --out "$OUT/enhance.json"
for ch in lakn random all-ffn; do
    $MATRICE inject --model $G --facts data/runs/gemma3-new2.jsonl --lang en --langs $L --neurons $ch \
        --results "$OUT/matrice-rho06.jsonl" --unrelated $D --epochs 20 --lr 0.01 --out "$OUT/inject-$ch.json"
done
$MATRICE report "$OUT"/kn.jsonl "$OUT"/amig.jsonl "$OUT"/matrice.jsonl "$OUT"/eval.json "$OUT"/edit.json \
    "$OUT"/enhance.json "$OUT"/inject-*.json --out "$OUT/report"
echo "real_run: results and report in $OUT"
