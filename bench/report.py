#!/usr/bin/env python3
"""Prints bench/run.sh's table from the JSON lines and score files it left in OUTDIR."""
import json
import os
import sys

import numpy as np


def load(outdir, name):
    try:
        with open(os.path.join(outdir, name)) as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError, IndexError):
        return None


def scores(outdir, name):
    path = os.path.join(outdir, name)
    return np.load(path).astype(np.float64) if os.path.exists(path) else None


def rel_diff(a, b):
    """max |a - b| / max |b| (b is the reference)."""
    if a is None or b is None:
        return None
    if a.shape != b.shape:
        return float("nan")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    peak_d, peak_f = load(out, "peak_default.json"), load(out, "peak_forced.json")
    c, cf = load(out, "c.json"), load(out, "c_forced.json")
    t, t64 = load(out, "torch.json"), load(out, "torch64.json")
    s_c, s_cf = scores(out, "scores_c.npy"), scores(out, "scores_c_forced.npy")
    s_t, s_t64 = scores(out, "scores_torch.npy"), scores(out, "scores_torch64.npy")
    peaks = [p for p in (peak_d, peak_f) if p]
    peak = max((p["gflops"] for p in peaks), default=None)

    if c:
        print(f"Query: T={c['T']} tokens, mask at {c['mask_pos']}, target {c['target']} "
              f"(P={c['prob']:.3g}), m={c['steps']}, {c['n_layers']} layers x {c['d_ff']}, "
              f"vocab {c['vocab']}; OpenBLAS threads {c['threads']}")
    for p in peaks:
        print(f"sgemm {p['n']}^3 peak, OpenBLAS core {p['blas_core']}: {p['gflops']:.1f} GFLOP/s "
              f"({p['threads']} threads)")
    if t:
        print(f"torch {t['torch']}, {t['threads']} threads, attention {t['attn_implementation']}")
        if c and t["own_argmax"] != c["target"]:
            print(f"WARNING: torch's own argmax {t['own_argmax']} differs from C's target {c['target']}")
    print()

    rows = []
    if c:
        rows.append((f"matrice C (OpenBLAS {c['blas_core']})", c, c["gflop"], s_c))
    if cf:
        rows.append((f"matrice C (OpenBLAS {cf['blas_core']}, forced)", cf, cf["gflop"], s_cf))
    if t:
        rows.append(("PyTorch fp32, peer-style", t, t["gflop_estimate"], s_t))
    if t64:
        rows.append(("PyTorch fp64, peer-style", t64, t64["gflop_estimate"], s_t64))
    ref = s_t
    hdr = (f"{'implementation':<38} {'s/prompt':>9} {'(mean)':>8} {'GFLOP':>8} {'GFLOP/s':>8} "
           f"{'%peak':>6} {'RSS MB':>7} {'torch/x':>8} {'maxrel vs torch':>16}")
    print(hdr)
    print("-" * len(hdr))
    for name, r, gflop, s in rows:
        best = r["seconds_best"]
        gfs = gflop / best
        ratio = t["seconds_best"] / best if t else None
        d = rel_diff(s, ref) if s is not ref else None
        print(f"{name:<38} {best:>9.3f} {r['seconds_mean']:>8.3f} {gflop:>8.1f} {gfs:>8.1f} "
              f"{fmt(100 * gfs / peak if peak else None, '>6.1f')} {r['peak_rss_mb']:>7.0f} "
              f"{fmt(ratio, '>8.2f')} {fmt(d, '>16.2e')}")
    print("GFLOP: the C rows count their own matrix-multiply FLOPs (result.flops); the PyTorch rows are an "
          "estimate of what\nthe peer-style computation does (per layer: an unpatched forward, m full-model "
          "rows with the head at every\nposition, activation-only backward of the head at every position and "
          "the layers above). %peak: of the best\nsgemm rate above. maxrel: max |x - torch| / max |torch| "
          "over the 12 x d_ff scores.")

    print()
    if s_t64 is not None:
        for name, s in (("C", s_c), ("C forced", s_cf), ("torch fp32", s_t)):
            if s is not None:
                print(f"max rel diff vs torch fp64: {name}: {rel_diff(s, s_t64):.2e}")
    if s_c is not None and s_cf is not None:
        print(f"max rel diff C vs C forced: {rel_diff(s_c, s_cf):.2e}")
    if c:
        print(f"C completeness (layer score sum vs P(a)-P(0)), worst relative error: "
              f"{c['completeness_max_rel_err']:.2e}")
        if s_t is not None:
            d = rel_diff(s_c, s_t)
            verdict = "OK" if d is not None and d <= 1e-4 else "ABOVE 1e-4"
            print(f"C vs PyTorch fp32 score difference: {d:.2e} of the max score ({verdict})")
            # Agreement of the top neurons, the quantity users act on.
            k = 20
            top_c = set(np.argsort(-s_c.ravel())[:k])
            top_t = set(np.argsort(-s_t.ravel())[:k])
            print(f"top-{k} neurons in common: {len(top_c & top_t)}/{k}")

    for name, r in (("C", c), ("C forced", cf)):
        b = r and r.get("breakdown")
        if not b:
            continue
        tot = b["forward_1seq_s"] + b["patch_grad_total_s"]
        L = len(b["patch_grad_s"])
        top, per = b["fit_top_s"], b["fit_per_layer_s"]
        head_total = L * top
        layers_total = per * L * (L - 1) / 2
        print(f"\nWhere the time goes ({name}, OpenBLAS {r['blas_core']}), one prompt through the model API: "
              f"{tot:.2f} s")
        print(f"  unpatched forward (1 sequence):            {b['forward_1seq_s']:.3f} s")
        print(f"  patched pass at layer l (fwd+bwd, {b['rows_per_layer'] // r['T']} rows): "
              + " ".join(f"{x:.2f}" for x in b["patch_grad_s"]) + " s")
        print(f"  fit: t(l) = {top:.3f} s (head + patched layer) + (L-1-l) x {per:.3f} s (one layer above)")
        print(f"  => head (+patched layer) {head_total:.2f} s ({100 * head_total / tot:.0f}%), layers above "
              f"{layers_total:.2f} s ({100 * layers_total / tot:.0f}%)")
        print(f"  measured directly: patched pass at the top layer (head + patched layer) "
              f"{b['patch_grad_s'][-1]:.3f} s")
        print(f"  GEMMs alone: head {b['head_gemm_s']:.3f} s ({b['head_gemm_gflops']:.0f} GFLOP/s) "
              f"of {top:.3f} s; one layer {b['layer_gemm_s']:.3f} s ({b['layer_gemm_gflops']:.0f} GFLOP/s) "
              f"of {per:.3f} s")
        if "head_gemm_batched_per_layer_s" in b:
            hb = b["head_gemm_batched_per_layer_s"]
            print(f"  head GEMMs with the rows of all {L} layers stacked ({L} x {b['rows_per_layer'] // r['T']} rows): "
                  f"{hb:.3f} s per layer ({b['head_gemm_batched_gflops']:.0f} GFLOP/s), "
                  f"i.e. {L * (b['head_gemm_s'] - hb):.2f} s less per prompt")
        rest_head = top - b["head_gemm_s"]
        rest_layer = per - b["layer_gemm_s"]
        print(f"  non-GEMM (softmax over V, attention, GELU, LayerNorm, copies): head {rest_head:.3f} s, "
              f"per layer {rest_layer:.3f} s ({100 * max(rest_layer, 0) / per:.0f}% of a layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
