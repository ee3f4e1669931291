#!/bin/sh
# The README's main job: fetch the default model (Gemma 3 270M, Q4_K_M GGUF) and ask it
# "The capital of France is [Y]" in several languages, then attribute "Paris" to its FFN
# neurons with AMIG. Prints each command's JSON (summarised when python3 is present).
set -e
MATRICE=${MATRICE:-build/matrice}
MODEL=${MODEL:-${MATRICE_CACHE:-cache/models}/gemma-3-270m-q4_k_m.gguf}
[ -f "$MODEL" ] || sh tools/fetch_model.sh
summary() { # compact view of predict's JSON
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys; d=json.load(sys.stdin); print("%-45s" % d["query"], "  ".join("%r %.3f" % (t["text"], t["prob"]) for t in d["top"]))'
    else
        cat
    fi
}
echo "== matrice predict (top 3 next tokens) on $MODEL"
while IFS='|' read -r lang q; do
    printf '%s  ' "$lang"
    "$MATRICE" predict --model "$MODEL" --query "$q" --top 3 | summary
done <<'QUERIES'
en|The capital of France is [Y]
de|Die Hauptstadt von Frankreich ist [Y]
fr|La capitale de la France est [Y]
es|La capital de Francia es [Y]
ru|Столица Франции — [Y]
zh|法国的首都是[Y]
ja|フランスの首都は[Y]
fi|Ranskan pääkaupunki on [Y]
QUERIES
echo "== matrice attribute: 'Paris' after 'The capital of France is' (AMIG, 20 steps, all 18 layers)"
"$MATRICE" attribute --model "$MODEL" --query "The capital of France is [Y]" --answer Paris --method amig \
    --top 10 --scores build/demo_scores.npy
