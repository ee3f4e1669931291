#!/usr/bin/env python3
"""Writes GGUF twins of the causal golden models (llama, qwen2, gemma3) the way llama.cpp's
convert_hf_to_gguf.py lays them out: its tensor names, Llama's q/k rows permuted for
interleaved RoPE, Gemma's norm weights stored as 1 + w, Llama 3 rope scaling as a
rope_freqs tensor. Tensors are F32 (exact twin) and, in a second file, Q8_0 for the 2-D
weights. tests/unit/test_model.c checks the twins reproduce the safetensors goldens. The
half-precision folders get twins with their 2-D weights in their own type (llama_bf16: BF16,
q/k rows permuted as BF16; gemma3_f16: F16; norms F32 as llama.cpp writes them), which
tests/unit/test_weights.c checks against their safetensors.

usage: python3 tools/make_gguf_twins.py   (needs: pip install gguf safetensors numpy)
"""
import json
import math
import os

import gguf
import numpy as np
import torch
from safetensors.torch import load_file

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "causal")


def permute(w, n_head):
    # llama.cpp convert_hf_to_gguf.py LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_factors(c, head_dim):
    rp = c.get("rope_parameters") or c.get("rope_scaling") or {}
    theta = rp.get("rope_theta", c.get("rope_theta", 10000.0))
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    factor, lo, hi, orig = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
    out = []
    for f in inv:
        wl = 2 * math.pi / f
        if wl < orig / hi:
            out.append(1.0)
        elif wl > orig / lo:
            out.append(factor)
        else:
            s = (orig / wl - lo) / (hi - lo)
            out.append(1.0 / ((1 - s) / factor + s))
    return theta, np.array(out, dtype=np.float32)


def write(name, quant):
    """quant: None (F32), "q8_0" (2-D weights Q8_0), "half" (2-D weights in the folder's F16/BF16)."""
    src = os.path.join(ROOT, name)
    c = json.load(open(os.path.join(src, "config.json")))
    w = load_file(os.path.join(src, "model.safetensors"))
    arch = {"llama": "llama", "qwen2": "qwen2", "gemma3_text": "gemma3"}[c["model_type"]]
    H, Hk = c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or c["hidden_size"] // H
    out = os.path.join(src, "model-q8_0.gguf" if quant == "q8_0" else "model.gguf")
    g = gguf.GGUFWriter(out, arch)
    g.add_context_length(c["max_position_embeddings"])
    g.add_embedding_length(c["hidden_size"])
    g.add_block_count(c["num_hidden_layers"])
    g.add_feed_forward_length(c["intermediate_size"])
    g.add_head_count(H)
    g.add_head_count_kv(Hk)
    g.add_key_length(hd)
    g.add_value_length(hd)
    g.add_layer_norm_rms_eps(c["rms_norm_eps"])
    for k in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if isinstance(c.get(k), int):
            getattr(g, {"bos_token_id": "add_bos_token_id", "eos_token_id": "add_eos_token_id",
                        "pad_token_id": "add_pad_token_id"}[k])(c[k])
    rp = c.get("rope_parameters") or c.get("rope_scaling") or {}  # transformers 5 or Hub (4.x) spelling
    if arch == "gemma3":
        g.add_rope_freq_base(rp.get("full_attention", {}).get("rope_theta", c.get("rope_theta", 1e6)))
        g.add_sliding_window(c["sliding_window"])
        types = c["layer_types"]
        pattern = types.index("full_attention") + 1
        assert all((t == "full_attention") == ((i + 1) % pattern == 0) for i, t in enumerate(types))
        g.add_uint32("gemma3.attention.sliding_window_pattern", pattern)
        g.add_float32("gemma3.attention.scale", c["query_pre_attn_scalar"] ** -0.5)
        if c.get("final_logit_softcapping"):
            g.add_float32("gemma3.final_logit_softcapping", c["final_logit_softcapping"])
    elif rp.get("rope_type") == "llama3":
        theta, fac = llama3_factors(c, hd)
        g.add_rope_freq_base(theta)
        g.add_tensor("rope_freqs.weight", fac)
    else:
        g.add_rope_freq_base(rp.get("rope_theta", c.get("rope_theta", 10000.0)))
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
             "self_attn.k_norm": "attn_k_norm", "pre_feedforward_layernorm": "ffn_norm",
             "post_feedforward_layernorm": "post_ffw_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down",
             "post_attention_layernorm": "post_attention_norm" if arch == "gemma3" else "ffn_norm"}
    for hf, tt in sorted(w.items()):
        half = quant == "half" and tt.ndim == 2 and tt.dtype in (torch.float16, torch.bfloat16)
        bf16 = half and tt.dtype == torch.bfloat16
        # BF16: its bit patterns (numpy has no bfloat16); permuted like the values below
        t = tt.view(torch.int16).numpy().view(np.uint16) if bf16 else tt.float().numpy()
        if half and not bf16:
            t = tt.numpy()
        if hf == "model.embed_tokens.weight":
            gn = "token_embd.weight"
        elif hf == "model.norm.weight":
            gn = "output_norm.weight"
        elif hf == "lm_head.weight":
            gn = "output.weight"
        else:
            parts = hf.split(".")
            layer, rest = parts[2], ".".join(parts[3:-1])
            gn = f"blk.{layer}.{names[rest]}.{parts[-1]}"
        if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
            t = permute(t, H if ".q_proj." in hf else Hk)
        if arch == "gemma3" and "norm" in hf:
            t = t + 1
        if quant == "q8_0" and t.ndim == 2 and t.shape[1] % 32 == 0:
            g.add_tensor(gn, gguf.quants.quantize(t, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        elif bf16:
            g.add_tensor(gn, t, raw_shape=t.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            g.add_tensor(gn, t)  # float32, or float16 (F16)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    print(out, os.path.getsize(out))


if __name__ == "__main__":
    for name in ("llama", "qwen2", "gemma3"):
        write(name, None)
    write("llama", "q8_0")
    write("llama_bf16", "half")
    write("gemma3_f16", "half")
