#!/usr/bin/env python3
"""Builds the benchmark's random-weight models.

mbert (default): BertForMaskedLM of bert-base-multilingual-cased shape: hidden 768, 12 layers,
  12 heads, intermediate 3072, vocab 119547, 512 positions, exact (erf) GELU.
xlmr: XLMRobertaForMaskedLM of xlm-roberta-base shape: hidden 768, 12 layers, 12 heads,
  intermediate 3072, vocab 250002 (the MLM head dominates), 514 positions, padding id 1.
qwen2: Qwen2ForCausalLM of Qwen2-0.5B shape: hidden 896, 24 layers, 14 heads, 2 KV heads,
  intermediate 4864 (SwiGLU), vocab 151936, tied embeddings, rope_theta 1e6, RMSNorm eps 1e-6,
  q/k/v biases. transformers initializes biases to zero; they are drawn here (normal, std 0.02)
  so that the bias path is exercised. About 494M parameters, 2 GB as F32.

Weights come from transformers' own initializer (seeded), so two builds are identical. Saved with
save_pretrained as safetensors F32 into the folder given (default cache/bench/mbert-base or
cache/bench/xlmr-base or cache/bench/qwen2-0.5b, which git ignores). Does nothing if the folder already holds config.json
and model.safetensors (or a sharded index).

Usage: python3 bench/make_model.py [DIR] [--arch mbert|xlmr|qwen2] [--seed N] [--force]
       (--arch defaults to qwen2 when DIR's name contains "qwen", xlmr for "xlm", else mbert)
"""
import argparse
import os
import sys
import time

BENCH_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cache", "bench"))
DEFAULT_DIRS = {"mbert": os.path.join(BENCH_DIR, "mbert-base"), "xlmr": os.path.join(BENCH_DIR, "xlmr-base"),
                "qwen2": os.path.join(BENCH_DIR, "qwen2-0.5b")}


def build_mbert():
    import torch
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(
        vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu", max_position_embeddings=512,
        type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0, initializer_range=0.02,
    )
    return BertForMaskedLM(cfg).to(torch.float32).eval()


def build_xlmr():
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    cfg = XLMRobertaConfig(
        vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, hidden_act="gelu", max_position_embeddings=514, type_vocab_size=1,
        layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, initializer_range=0.02,
    )
    return XLMRobertaForMaskedLM(cfg).to(torch.float32).eval()


def build_qwen2():
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, hidden_act="silu",
        max_position_embeddings=32768, initializer_range=0.02, rms_norm_eps=1e-6,
        tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        use_sliding_window=False, bos_token_id=151643, eos_token_id=151643,
    )
    model = Qwen2ForCausalLM(cfg).to(torch.float32).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0.0, 0.02)
    return model


def complete(d):
    return os.path.isfile(os.path.join(d, "config.json")) and (
        os.path.isfile(os.path.join(d, "model.safetensors"))
        or os.path.isfile(os.path.join(d, "model.safetensors.index.json")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--arch", choices=sorted(DEFAULT_DIRS))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--force", action="store_true", help="rebuild even if the folder exists")
    a = ap.parse_args()
    base = os.path.basename(os.path.normpath(a.dir)).lower() if a.dir else ""
    arch = a.arch or ("qwen2" if "qwen" in base else "xlmr" if "xlm" in base else "mbert")
    d = a.dir or DEFAULT_DIRS[arch]
    if not a.force and complete(d):
        print(f"make_model: {d} exists, skipping")
        return 0

    import torch

    t0 = time.time()
    torch.manual_seed(a.seed)
    model = {"mbert": build_mbert, "xlmr": build_xlmr, "qwen2": build_qwen2}[arch]()
    os.makedirs(d, exist_ok=True)
    # One file (no sharding), F32.
    model.save_pretrained(d, safe_serialization=True, max_shard_size="100GB")
    n = sum(p.numel() for p in model.parameters())
    print(f"make_model: {arch}, {n / 1e6:.1f}M parameters written to {d} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
