#!/usr/bin/env python3
"""Checks matrice on the real default model (Gemma 3 270M, Q4_K_M GGUF) against an independent
implementation: HuggingFace transformers loading the same GGUF (dequantized to float32).
For each prompt: token ids must be identical, and the next-token distribution must agree
(max |p_matrice - p_hf| over the top tokens, and the top-1). Prints a table.

usage: python3 tools/check_default_model.py [GGUF]   (needs: pip install torch transformers accelerate gguf)
"""
import json
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF = sys.argv[1] if len(sys.argv) > 1 else "cache/models/gemma-3-270m-q4_k_m.gguf"
MATRICE = os.environ.get("MATRICE", "build/matrice")
PROMPTS = [
    ("en", "The capital of France is"),
    ("de", "Die Hauptstadt von Frankreich ist"),
    ("fr", "La capitale de la France est"),
    ("es", "La capital de Francia es"),
    ("ru", "Столица Франции —"),
    ("zh", "法国的首都是"),
    ("ja", "フランスの首都は"),
    ("ko", "프랑스의 수도는"),
    ("ar", "عاصمة فرنسا هي"),
    ("tr", "Fransa'nın başkenti"),
    ("fi", "Ranskan pääkaupunki on"),
    ("id", "Ibu kota Prancis adalah"),
]


def main():
    torch.set_num_threads(2)
    d, f = os.path.split(GGUF)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    print(f"{'lang':5} {'ids equal':9} {'top-1 HF':>14} {'p HF':>8} {'top-1 ours':>14} {'p ours':>8} {'max |dp|':>9}")
    worst, ok_ids = 0.0, True
    for lang, text in PROMPTS:
        ids = tok(text).input_ids
        with torch.no_grad():
            p = torch.softmax(model(torch.tensor([ids])).logits[0, -1].double(), -1)
        out = subprocess.run([MATRICE, "predict", "--model", GGUF, "--query", text + " [Y]", "--top", "10"],
                             capture_output=True, text=True)
        if out.returncode:
            print(lang, "matrice failed:", out.stderr.strip())
            ok_ids = False
            continue
        ours = json.loads(out.stdout)
        same = ours["ids"] == ids
        ok_ids &= same
        dp = max(abs(t["prob"] - float(p[t["id"]])) for t in ours["top"])
        worst = max(worst, dp)
        h = int(torch.argmax(p))
        t0 = ours["top"][0]
        print(f"{lang:5} {str(same):9} {repr(tok.decode([h])):>14} {float(p[h]):8.4f} {repr(t0['text']):>14} "
              f"{t0['prob']:8.4f} {dp:9.2e}")
    print(f"token ids identical: {ok_ids}; largest probability difference: {worst:.2e}")
    return 0 if ok_ids and worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
