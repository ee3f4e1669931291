#!/usr/bin/env python3
"""Builds a random-weight BertForMaskedLM of mBERT-base shape for the benchmark.

Shape of bert-base-multilingual-cased: hidden 768, 12 layers, 12 heads, intermediate 3072,
vocab 119547, 512 positions, exact (erf) GELU. Weights come from transformers' own initializer
(seeded), so two builds are identical. Saved with save_pretrained as safetensors F32 into the
folder given (default cache/bench/mbert-base, which git ignores). Does nothing if the folder
already holds config.json and model.safetensors.

Usage: python3 bench/make_model.py [DIR] [--force]
"""
import argparse
import os
import sys
import time

DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cache", "bench", "mbert-base")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", default=os.path.normpath(DEFAULT_DIR))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--force", action="store_true", help="rebuild even if the folder exists")
    a = ap.parse_args()
    if (not a.force and os.path.isfile(os.path.join(a.dir, "config.json"))
            and os.path.isfile(os.path.join(a.dir, "model.safetensors"))):
        print(f"make_model: {a.dir} exists, skipping")
        return 0

    import torch
    from transformers import BertConfig, BertForMaskedLM

    t0 = time.time()
    torch.manual_seed(a.seed)
    cfg = BertConfig(
        vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512,
        type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0, initializer_range=0.02,
    )
    model = BertForMaskedLM(cfg).to(torch.float32).eval()
    os.makedirs(a.dir, exist_ok=True)
    model.save_pretrained(a.dir, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    print(f"make_model: {n / 1e6:.1f}M parameters written to {a.dir} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
