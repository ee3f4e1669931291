#!/usr/bin/env python3
"""Synthetic, realistic-sized inputs for `matrice report` (tools/check_report.sh renders them).

Writes OUT/{kn,amig,matrice}.jsonl (matrice.locate.v1, 60 facts, 10 languages, 18 layers,
d_ff 2048) and OUT/eval.json (matrice.evaluate.v1, 5 relations). Numbers are made up but shaped
like real results: neurons in the upper layers, more overlap inside a language family, MATRICE
sets smaller and more shared than KN's. Deterministic (seed 0).

usage: python3 tests/report/make_demo.py OUT_DIR
"""
import json
import os
import random
import sys

LANGS = [("en", "Indo-European"), ("de", "Indo-European"), ("fr", "Indo-European"), ("es", "Indo-European"),
         ("ru", "Indo-European"), ("zh", "Sino-Tibetan"), ("ja", "Japonic"), ("ko", "Koreanic"),
         ("ar", "Afro-Asiatic"), ("tr", "Turkic")]
RELS = ["P36", "P19", "P103", "P1412", "P37"]
L, DFF = 18, 2048


def fact_neurons(rng, method):
    """Per-language neuron sets: a shared core plus language-specific extras."""
    core = {(rng.choice([12, 13, 14, 15, 16]), rng.randrange(DFF)) for _ in range(rng.randint(1, 3))}
    fam_extra = {}
    out = {}
    for code, fam in LANGS:
        s = set(c for c in core if rng.random() < (0.9 if method != "kn" else 0.7))
        if fam not in fam_extra:
            fam_extra[fam] = {(rng.choice(range(8, 18)), rng.randrange(DFF)) for _ in range(2)}
        s |= {n for n in fam_extra[fam] if rng.random() < 0.6}
        extra = {"kn": 3, "amig": 2, "matrice": 1}[method]
        s |= {(min(L - 1, int(rng.triangular(0, L, 15))), rng.randrange(DFF)) for _ in range(rng.randint(0, extra))}
        out[code] = sorted(s)
    return out


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for method in ["kn", "amig", "matrice"]:
        rng = random.Random({"kn": 1, "amig": 2, "matrice": 3}[method])
        with open(os.path.join(out, method + ".jsonl"), "w") as f:
            for i in range(60):
                rel = RELS[i % len(RELS)]
                fid = "%s:Q%d:Q%d" % (rel, 100 + i, 900 + i)
                base = {"schema": "matrice.locate.v1", "model": "cache/models/gemma-3-270m.gguf",
                        "method": method, "options": {"steps": 20}, "n_layers": L, "d_ff": DFF,
                        "fact": {"id": fid, "relation": rel, "subject": {"en": "S<%d> & co" % i},
                                 "object": {"en": "O%d" % i}}}
                if i % 29 == 7:
                    base.update(status="failed", reason="answer not in the vocabulary")
                    f.write(json.dumps(base, ensure_ascii=False) + "\n")
                    continue
                sets = fact_neurons(rng, method)
                langs, queries = {}, []
                for code, fam in LANGS:
                    p = rng.uniform(0.02, 0.6)
                    langs[code] = {"family": fam, "n_queries": 3, "w": round(p, 3), "n_eff": 2.5,
                                   "neurons": [{"layer": a, "unit": b, "score": round(rng.uniform(0.2, 1), 3)}
                                               for a, b in sets[code]]}
                    queries.append({"lang": code, "tid": "%s:%s:mlama" % (code, rel), "query": "…[Y]",
                                    "answer": "O", "n_answer": 1, "prob": round(p, 4), "confidence": round(p, 4),
                                    "seconds": 2.0})
                inter = set(map(tuple, sets["en"]))
                for code, _ in LANGS:
                    inter &= set(sets[code])
                base.update(status="ok", queries=queries, languages=langs,
                            lakn=[{"layer": a, "unit": b, "S": 0.5} for a, b in sorted(inter)],
                            seconds=round(rng.uniform(20, 40), 1))
                f.write(json.dumps(base, ensure_ascii=False) + "\n")

    rng = random.Random(4)

    def ci(m, w):
        return {"mean": m, "lo": m - w, "hi": m + w}

    def summary(strength, n):
        return {"n_facts": n, "n_queries": n * 30,
                "sup_rel": ci(-strength * rng.uniform(0.6, 1.0), 0.05), "sup_unrel": ci(rng.uniform(-0.03, 0.02), 0.02),
                "enh_rel": ci(strength * rng.uniform(0.8, 1.6), 0.08), "enh_unrel": ci(rng.uniform(-0.02, 0.03), 0.02),
                "flip_sup": ci(strength * 0.3, 0.05), "flip_enh": ci(strength * 0.1, 0.03), "succ": ci(0.9, 0.04)}

    methods = {}
    for name, s in [("matrice", 0.45), ("amig", 0.3), ("kn", 0.2), ("random", 0.01)]:
        methods[name] = {"overall": summary(s, 58),
                         "by_lang": {c: summary(s, 58) for c, _ in LANGS},
                         "by_relation": {r: summary(s, 12) for r in RELS}}
    with open(os.path.join(out, "eval.json"), "w") as f:
        json.dump({"schema": "matrice.evaluate.v1", "model": "cache/models/gemma-3-270m.gguf", "facts": 58,
                   "seed": 0, "bootstrap": 1000, "methods": methods}, f, indent=1)


if __name__ == "__main__":
    main()
