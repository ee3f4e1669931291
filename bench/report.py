#!/usr/bin/env python3
"""Prints bench/run.sh's table from the JSON lines and score files it left in OUTDIR.

Usage: python3 bench/report.py [OUTDIR [MODEL...]]   (MODEL: subfolders of OUTDIR, e.g. mbert
qwen2 gemma3; default: those present. A flat OUTDIR from an older run reads as one model.)
"""
import json
import os
import sys

import numpy as np

ORDER = ("mbert", "xlmr", "qwen2", "gemma3")
LABEL = {"mbert": "mBERT-base (random)", "xlmr": "XLM-R-base (random)", "qwen2": "Qwen2-0.5B (random)", "gemma3": "Gemma 3 270M Q4_K_M (real)"}


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


class Model:
    def __init__(self, name, d):
        self.name, self.dir = name, d
        self.c, self.cf = load(d, "c.json"), load(d, "c_forced.json")
        self.t, self.t64 = load(d, "torch.json"), load(d, "torch64.json")
        self.s_c, self.s_cf = scores(d, "scores_c.npy"), scores(d, "scores_c_forced.npy")
        self.s_t, self.s_t64 = scores(d, "scores_torch.npy"), scores(d, "scores_torch64.npy")
        self.ref_c = self.c or self.cf  # query, target, shapes
        self.s_cref = self.s_c if self.s_c is not None else self.s_cf

    def present(self):
        return self.c or self.cf or self.t


def table(models, peak):
    hdr = (f"{'implementation':<40} {'s/prompt':>9} {'(mean)':>8} {'GFLOP':>8} {'GFLOP/s':>8} "
           f"{'%peak':>6} {'RSS MB':>7} {'torch/x':>8} {'maxrel vs torch':>16}")
    print(hdr)
    print("-" * len(hdr))
    for m in models:
        c = m.ref_c
        kind = ("causal, answer at the last token" if c and c.get("causal") else "masked, answer at [MASK]")
        if c:
            print(f"{LABEL.get(m.name, m.name)}: {c['n_layers']} layers x {c['d_ff']}, vocab {c['vocab']}, "
                  f"T={c['T']}, m={c['steps']}; {kind}")
        else:
            print(LABEL.get(m.name, m.name))
        rows = []
        if m.c:
            rows.append((f"matrice C (OpenBLAS {m.c['blas_core']})", m.c, m.c["gflop"], m.s_c))
        if m.cf:
            rows.append((f"matrice C (OpenBLAS {m.cf['blas_core']}, forced)", m.cf, m.cf["gflop"], m.s_cf))
        old = next((r for r in (m.cf, m.c) if r and r.get("old_path_seconds", -1) > 0), None)
        if old:
            o = dict(old, seconds_best=old["old_path_seconds"], seconds_mean=old["old_path_seconds"])
            rows.append(("matrice C, one layer per pass (old path)", o, old["gflop"], None))
        if m.t:
            rows.append(("PyTorch fp32, peer-style", m.t, m.t["gflop_estimate"], m.s_t))
        if m.t64:
            rows.append(("PyTorch fp64, peer-style", m.t64, m.t64["gflop_estimate"], m.s_t64))
        for name, r, gflop, s in rows:
            best = r["seconds_best"]
            gfs = gflop / best
            ratio = m.t["seconds_best"] / best if m.t else None
            d = rel_diff(s, m.s_t) if s is not m.s_t and s is not None else None
            print(f"  {name:<38} {best:>9.3f} {r['seconds_mean']:>8.3f} {gflop:>8.1f} {gfs:>8.1f} "
                  f"{fmt(100 * gfs / peak if peak else None, '>6.1f')} {r['peak_rss_mb']:>7.0f} "
                  f"{fmt(ratio, '>8.2f')} {fmt(d, '>16.2e')}")
    print("GFLOP: the C rows count their own matrix-multiply FLOPs (result.flops); the PyTorch rows are an "
          "estimate of what\nthe peer-style computation does (per layer: an unpatched forward, m full-model "
          "rows with the head at every\nposition, activation-only backward of the head at every position and "
          "the layers above). %peak: of the best\nsgemm rate above. torch/x: PyTorch's s/prompt over the row's. "
          "maxrel: max |x - torch| / max |torch| over the\nlayers x d_ff scores. s/prompt: best of the repeats "
          "(mean in brackets); the machine is shared, single runs are noisy.")


def details(m):
    c = m.ref_c
    print(f"\n== {LABEL.get(m.name, m.name)}")
    if c:
        what = "last token" if c.get("causal") else "mask"
        print(f"Query: ids {c['ids']}, answer position {c['mask_pos']} ({what}), target {c['target']} "
              f"(P={c['prob']:.3g}); OpenBLAS threads {c['threads']}; load {c['load_seconds']:.1f} s")
        if c.get("causal") and abs(c.get("gflop_model", c["gflop"]) - c["gflop"]) > 1e-3 * c["gflop"]:
            print(f"C's FLOP count {c['gflop']:.1f} GFLOP vs {c['gflop_model']:.1f} GFLOP from the exact shapes "
                  f"(mt_ig counts 4 d^2 for the GQA attention projections and a d x d head transform)")
    if m.t:
        print(f"torch {m.t['torch']}, {m.t['threads']} threads, attention {m.t['attn_implementation']}, "
              f"forward {m.t['seconds_forward']:.1f} s + backward {m.t['seconds_backward']:.1f} s, "
              f"load {m.t['load_seconds']:.1f} s")
        if c and m.t["own_argmax"] != c["target"]:
            print(f"WARNING: torch's own argmax {m.t['own_argmax']} differs from C's target {c['target']}")
    if m.s_t64 is not None:
        for name, s in (("C", m.s_c), ("C forced", m.s_cf), ("torch fp32", m.s_t)):
            if s is not None:
                print(f"max rel diff vs torch fp64: {name}: {rel_diff(s, m.s_t64):.2e}")
    for name, r in (("C", m.c), ("C forced", m.cf)):
        if r and r.get("old_path_seconds", -1) > 0:
            d = r["old_path_max_rel_diff"]
            print(f"{name}: {r.get('layer_group', '?')} target layers per patched pass, "
                  f"{r['old_path_seconds'] / r['seconds_best']:.2f}x faster than one layer per pass; scores differ "
                  f"by {d:.2e} of the max ({'OK' if d <= 1e-4 else 'ABOVE 1e-4'})")
    if m.s_c is not None and m.s_cf is not None:
        print(f"max rel diff C vs C forced: {rel_diff(m.s_c, m.s_cf):.2e}")
    if c:
        print(f"C completeness (layer score sum vs P(a)-P(0)), worst relative error: "
              f"{c['completeness_max_rel_err']:.2e}")
        if m.s_t is not None and m.s_cref is not None:
            d = rel_diff(m.s_cref, m.s_t)
            verdict = "OK" if d is not None and d <= 1e-4 else "ABOVE 1e-4"
            print(f"C vs PyTorch fp32 score difference: {d:.2e} of the max score ({verdict})")
            k = 20  # agreement of the top neurons, the quantity users act on
            top_c = set(np.argsort(-m.s_cref.ravel())[:k])
            top_t = set(np.argsort(-m.s_t.ravel())[:k])
            print(f"top-{k} neurons in common: {len(top_c & top_t)}/{k}")

    for name, r in (("C", m.c), ("C forced", m.cf)):
        b = r and r.get("breakdown")
        if not b:
            continue
        causal = r.get("causal")
        tot = b["forward_1seq_s"] + b["patch_grad_total_s"]
        L = len(b["patch_grad_s"])
        top, per = b["fit_top_s"], b["fit_per_layer_s"]
        head_total = L * top
        layers_total = per * L * (L - 1) / 2
        M = b.get("patched_rows", b["rows_per_layer"] // r["T"])
        rows = f"{M} rows of the last token" if causal else f"{M} rows x {r['T']} tokens"
        print(f"\nWhere the time goes ({name}, OpenBLAS {r['blas_core']}), one prompt through the model API: "
              f"{tot:.2f} s")
        print(f"  unpatched forward (1 sequence):            {b['forward_1seq_s']:.3f} s")
        print(f"  patched pass at layer l (fwd+bwd, {rows}): "
              + " ".join(f"{x:.2f}" for x in b["patch_grad_s"]) + " s")
        print(f"  fit: t(l) = {top:.3f} s (head + patched layer) + (L-1-l) x {per:.4f} s (one layer above)")
        print(f"  => head (+patched layer) {head_total:.2f} s ({100 * head_total / tot:.0f}%), layers above "
              f"{layers_total:.2f} s ({100 * layers_total / tot:.0f}%), {L * (L - 1) // 2} layer passes")
        print(f"  measured directly: patched pass at the top layer (head + patched layer) "
              f"{b['patch_grad_s'][-1]:.3f} s")
        hw = "decoder d x V" if causal else "transform + decoder"
        print(f"  GEMMs alone: head ({hw}) {b['head_gemm_s']:.3f} s ({b['head_gemm_gflops']:.0f} GFLOP/s) "
              f"of {top:.3f} s; one layer {b['layer_gemm_s']:.4f} s ({b['layer_gemm_gflops']:.0f} GFLOP/s, "
              f"each weight hot in cache) of {per:.4f} s")
        if b.get("layer_gemm_stream_s"):
            print(f"  one layer's GEMMs with the weights streamed from memory (as in the pass): "
                  f"{b['layer_gemm_stream_s']:.4f} s of {per:.4f} s")
        hb = b["head_gemm_batched_per_layer_s"]
        print(f"  head GEMMs with the rows of all {L} layers stacked ({L} x {M} rows): "
              f"{hb:.3f} s per layer ({b['head_gemm_batched_gflops']:.0f} GFLOP/s), "
              f"i.e. {L * (b['head_gemm_s'] - hb):.2f} s less per prompt")
        lg = b.get("layer_gemm_stream_s") or b["layer_gemm_s"]
        rest_head = top - b["head_gemm_s"]
        rest_layer = per - lg
        nong = ("softmax over V, attention, SiLU/GELU, RMSNorm, RoPE, copies" if causal
                else "softmax over V, attention, GELU, LayerNorm, copies")
        def rest(x, of):
            return f"{x:.4f} s ({100 * x / of:.0f}%)" if x >= 0 else "none measurable (the GEMMs alone took longer: noise)"
        print(f"  non-GEMM ({nong}): head {rest(rest_head, top)}, per layer {rest(rest_layer, per)}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    names = sys.argv[2:] or [n for n in ORDER if os.path.isdir(os.path.join(out, n))]
    models = [Model(n, os.path.join(out, n)) for n in names]
    if not models and os.path.exists(os.path.join(out, "c.json")):  # older flat layout
        models = [Model("mbert", out)]
    models = [m for m in models if m.present()]
    peak_d, peak_f = load(out, "peak_default.json"), load(out, "peak_forced.json")
    peaks = [p for p in (peak_d, peak_f) if p]
    peak = max((p["gflops"] for p in peaks), default=None)
    try:
        with open(os.path.join(out, "loadavg.txt")) as f:
            la = [ln.split()[:3] for ln in f.read().splitlines() if ln.strip()]
        if la:
            print(f"load average (1, 5, 15 min) at the start {' '.join(la[0])}, at the end {' '.join(la[-1])} "
                  f"on {os.cpu_count()} CPUs" + ("; the machine was shared: expect noisy times"
                                                  if max(float(x[0]) for x in la) > 0.5 else ""))
    except OSError:
        pass
    for p in peaks:
        print(f"sgemm {p['n']}^3 peak, OpenBLAS core {p['blas_core']}: {p['gflops']:.1f} GFLOP/s "
              f"({p['threads']} threads)")
    print()
    table(models, peak)
    for m in models:
        details(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
