#!/usr/bin/env python3
"""The benchmark's IG attribution in PyTorch, written the way the peers do it.

EleutherAI knowledge-neurons / Dai et al. style (ENGINEERING.md 1.1): for every layer l, one
unpatched forward to read the activation a of encoder.layer[l].intermediate at the mask, then
ONE batch of m rows of the whole model, with a forward hook on that intermediate module that
replaces the activation at the mask position by z_k = (k/m) a (k = 1..m, zero baseline);
probs = softmax(logits[:, mask_pos]); g = torch.autograd.grad(probs[:, y].sum(), z);
score = a * mean_k g. Nothing is reused between layers, the head runs at every position.
Same query and target as bench/bench_ig.c (target: argmax at the mask of the unpatched model).

Causal LMs (config.is_decoder-style models loaded with AutoModelForCausalLM: Llama, Qwen2,
Gemma 3; knowledge-neurons' and EasyEdit KN's way): the neuron is the input of
model.layers[l].mlp.down_proj (act(gate) * up), read and replaced by a forward_pre_hook at the
last prompt position; the m rows run through the whole model at every position (no KV cache
reuse), probs = softmax(logits[:, -1]). The ids must then be given (--ids, from bench_ig).

Prints one line of JSON (seconds per prompt, an estimate of the FLOPs spent, peak RSS) and,
with --scores, writes the [n_layers][d_ff] float32 scores as .npy.

Usage: python3 bench/ig_torch.py MODEL_DIR [--steps 20] [--tokens 12] [--repeats 1]
           [--ids 101,...] [--target Y] [--scores F.npy] [--float64] [--threads 2]
           [--gguf FILE] (MODEL_DIR/FILE is a GGUF file; transformers dequantizes it)
"""
import argparse
import json
import resource
import sys
import time

import numpy as np
import torch


def bench_query(T, V):
    """Same as bench_query() in bench/bench_ig.c."""
    ids = [(1000 + (7919 * i) % 100000) % V for i in range(T)]
    ids[0], ids[-1] = 101, 102
    mask_pos = T // 2
    ids[mask_pos] = 103
    return ids, mask_pos


def flops_estimate(cfg, T, m, causal=False):
    """Matrix-multiply FLOPs of one prompt done this way (the same terms bench_ig's count uses:
    projections, FFN, attention scores and context, MLM head transform and decoder; causal LMs:
    q/o at n_heads x head_dim, k/v at n_kv_heads x head_dim, gate/up/down, the decoder only)."""
    d, f, L, V = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.vocab_size
    if causal:
        hd = getattr(cfg, "head_dim", None) or d // cfg.num_attention_heads
        qd, kd = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd
        # SDPA computes the full T x T scores (masked), as counted here
        F_tok = 2.0 * (2 * d * qd + 2 * d * kd + 3 * d * f) + 4.0 * T * qd
        H = 2.0 * d * V
    else:
        F_tok = 2.0 * (4 * d * d + 2 * d * f) + 4.0 * T * d  # one layer, one position, forward
        H = 2.0 * (d * d + d * V)  # head at one position, forward
    total = 0.0
    for l in range(L):
        total += T * (L * F_tok + H)  # unpatched forward for a (EleutherAI: once per layer)
        total += m * T * (L * F_tok + H)  # patched batch: whole model, head at all positions
        # autograd.grad w.r.t. z only (no dW): head at all positions, layers above l, W2 of layer l
        total += m * T * (H + (L - 1 - l) * F_tok + 2.0 * d * f)
    return total


def attribute_causal(model, ids, target, m, dtype, layers=None):
    """Causal LM, one prompt: scores [L][d_ff] and the time split (forward, backward). The neuron
    is the input of mlp.down_proj at the last position. layers: a subset (warm-up)."""
    L = model.config.num_hidden_layers
    inp = torch.tensor([ids], dtype=torch.long)
    batch = inp.repeat(m, 1)
    scores = []
    t_fwd = t_bwd = 0.0
    for l in range(L) if layers is None else layers:
        module = model.model.layers[l].mlp.down_proj
        grabbed = {}

        def grab(mod, args):
            grabbed["a"] = args[0][0, -1].detach().clone()

        h = module.register_forward_pre_hook(grab)
        t0 = time.perf_counter()
        with torch.no_grad():
            model(input_ids=inp)
        t_fwd += time.perf_counter() - t0
        h.remove()
        a = grabbed["a"]
        alphas = torch.arange(1, m + 1, dtype=dtype) / m
        z = (alphas[:, None] * a[None, :]).requires_grad_(True)

        def patch(mod, args):
            x = args[0].clone()
            x[:, -1] = z
            return (x,) + tuple(args[1:])

        h = module.register_forward_pre_hook(patch)
        t0 = time.perf_counter()
        logits = model(input_ids=batch).logits  # [m, T, V]: every position, every layer
        probs = torch.softmax(logits[:, -1], dim=-1)
        t1 = time.perf_counter()
        (g,) = torch.autograd.grad(probs[:, target].sum(), z)
        t2 = time.perf_counter()
        h.remove()
        t_fwd += t1 - t0
        t_bwd += t2 - t1
        scores.append((a * g.mean(dim=0)).detach())
    return torch.stack(scores), t_fwd, t_bwd


def attribute(model, ids, mask_pos, target, m, dtype, layers=None):
    """One prompt: scores [L][d_ff] and the time split (forward, backward). layers: a subset
    (warm-up)."""
    L = model.config.num_hidden_layers
    inp = torch.tensor([ids], dtype=torch.long)
    batch = inp.repeat(m, 1)  # einops.repeat(..., "b d -> (r b) d") in the peers
    scores = []
    t_fwd = t_bwd = 0.0
    for l in range(L) if layers is None else layers:
        module = model.base_model.encoder.layer[l].intermediate  # .bert or .roberta
        # 1. unpatched forward, grabbing the activation at the mask (get_baseline_with_activations)
        grabbed = {}

        def grab(mod, args, out):
            grabbed["a"] = out[0, mask_pos].detach().clone()

        h = module.register_forward_hook(grab)
        t0 = time.perf_counter()
        with torch.no_grad():
            model(input_ids=inp)
        t_fwd += time.perf_counter() - t0
        h.remove()
        a = grabbed["a"]
        # 2. the path z_k = (k/m) a, k = 1..m, one batch of m rows
        alphas = torch.arange(1, m + 1, dtype=dtype) / m
        z = (alphas[:, None] * a[None, :]).requires_grad_(True)

        def patch(mod, args, out):
            out = out.clone()
            out[:, mask_pos] = z
            return out

        h = module.register_forward_hook(patch)
        t0 = time.perf_counter()
        logits = model(input_ids=batch).logits  # [m, T, V]: the head runs at every position
        probs = torch.softmax(logits[:, mask_pos], dim=-1)
        t1 = time.perf_counter()
        (g,) = torch.autograd.grad(probs[:, target].sum(), z)
        t2 = time.perf_counter()
        h.remove()
        t_fwd += t1 - t0
        t_bwd += t2 - t1
        scores.append((a * g.mean(dim=0)).detach())
    return torch.stack(scores), t_fwd, t_bwd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--ids", help="comma-separated ids (default: the same formula as bench_ig.c)")
    ap.add_argument("--mask-pos", type=int, help="default: the position of id 103 (or T/2)")
    ap.add_argument("--target", type=int, help="target id (default: argmax at the mask here)")
    ap.add_argument("--scores", help="write the scores here (.npy, float32)")
    ap.add_argument("--float64", action="store_true", help="run the model in float64 (reference)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gguf", help="GGUF file name inside MODEL_DIR")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up (the top layer's batch once: the first pass pays for "
                         "fresh memory, about twice the steady-state time on this machine)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.float64 else torch.float32
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

    t0 = time.perf_counter()
    kw = {"gguf_file": a.gguf} if a.gguf else {}
    cfg = AutoConfig.from_pretrained(a.model, **kw)
    causal = cfg.model_type not in ("bert", "xlm-roberta")
    if causal:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype, **kw).eval()
    else:
        model = AutoModelForMaskedLM.from_pretrained(a.model, dtype=dtype).eval()  # eval: no dropout
    load_s = time.perf_counter() - t0

    if a.ids:
        ids = [int(x) for x in a.ids.split(",")]
        mask_pos = len(ids) - 1 if causal else a.mask_pos if a.mask_pos is not None else ids.index(103)
    elif causal:
        sys.exit("ig_torch: causal models need --ids (bench_ig prints them)")
    else:
        ids, mask_pos = bench_query(a.tokens, cfg.vocab_size)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, mask_pos]
    own_target = int(torch.argmax(logits))
    target = own_target if a.target is None else a.target
    prob = float(torch.softmax(logits, -1)[target])

    if not a.no_warmup:
        t0 = time.perf_counter()
        L = model.config.num_hidden_layers
        if causal:
            attribute_causal(model, ids, target, a.steps, dtype, layers=[L - 1])
        else:
            attribute(model, ids, mask_pos, target, a.steps, dtype, layers=[L - 1])
        print(f"ig_torch: warm-up (layer {L - 1} only): {time.perf_counter() - t0:.3f} s", file=sys.stderr)
    secs, splits = [], []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        if causal:
            scores, t_fwd, t_bwd = attribute_causal(model, ids, target, a.steps, dtype)
        else:
            scores, t_fwd, t_bwd = attribute(model, ids, mask_pos, target, a.steps, dtype)
        secs.append(time.perf_counter() - t0)
        splits.append((t_fwd, t_bwd))
        print(f"ig_torch: repeat {r + 1}/{a.repeats}: {secs[-1]:.3f} s "
              f"(forward {t_fwd:.2f} s, backward {t_bwd:.2f} s)", file=sys.stderr)
    best = min(secs)
    fwd_s, bwd_s = splits[secs.index(best)]
    sc = scores.to(torch.float32).numpy()
    if a.scores:
        np.save(a.scores, sc)
    gflop = flops_estimate(model.config, len(ids), a.steps, causal) / 1e9
    out = {
        "impl": "torch-float64" if a.float64 else "torch",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "model_type": cfg.model_type, "causal": causal,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "T": len(ids), "steps": a.steps, "mask_pos": mask_pos, "ids": ids,
        "target": target, "own_argmax": own_target, "prob": prob,
        "warmup": not a.no_warmup, "repeats": a.repeats, "seconds_all": [round(s, 4) for s in secs],
        "seconds_best": round(best, 4), "seconds_mean": round(sum(secs) / len(secs), 4),
        "seconds_forward": round(fwd_s, 4), "seconds_backward": round(bwd_s, 4),
        "gflop_estimate": round(gflop, 3), "gflops_best": round(gflop / best, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "load_seconds": round(load_s, 3), "max_abs_score": float(np.abs(sc).max()),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
