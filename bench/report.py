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
        # BENCH_BF16: the BF16 copy with its weights as stored, and (once) converted at load
        self.cb, self.cbr = load(d, "c_bf16.json"), load(d, "c_bf16_f32.json")
        self.s_cb, self.s_cbr = scores(d, "scores_c_bf16.npy"), scores(d, "scores_c_bf16_f32.npy")
        # the fp32 checkpoint's C row the BF16 row is compared with: the same core's if there is one
        self.c32, self.s_c32 = (self.cf, self.s_cf) if self.cb and self.cf and \
            self.cf["blas_core"] == self.cb["blas_core"] else (self.ref_c, self.s_cref)

    def bf16_ref(self):
        """The BF16 row's score reference: (scores, mark), the same copy with MT_WEIGHTS=f32 ("*")
        when that run is there, else the fp32 checkpoint's C row ("+")."""
        if self.s_cbr is not None:
            return self.s_cbr, "*"
        return self.s_c32, "+"

    def present(self):
        return self.c or self.cf or self.t or self.cb


def rows_of(m):
    """The table rows of a model: (name, JSON, GFLOP, scores, (reference scores, mark) or None)."""
    rows = []
    if m.c:
        rows.append((f"matrice C (OpenBLAS {m.c['blas_core']})", m.c, m.c["gflop"], m.s_c, None))
    if m.cf:
        rows.append((f"matrice C (OpenBLAS {m.cf['blas_core']}, forced)", m.cf, m.cf["gflop"], m.s_cf, None))
    if m.cb:
        rows.append((f"matrice C, BF16 weights as stored ({m.cb['blas_core']})", m.cb, m.cb["gflop"], m.s_cb,
                     m.bf16_ref()))
    old = next((r for r in (m.cf, m.c) if r and r.get("old_path_seconds", -1) > 0), None)
    if old:
        o = dict(old, seconds_best=old["old_path_seconds"], seconds_mean=old["old_path_seconds"])
        rows.append(("matrice C, one layer per pass (old path)", o, old["gflop"], None, None))
    if m.t:
        rows.append(("PyTorch fp32, peer-style", m.t, m.t["gflop_estimate"], m.s_t, None))
    if m.t64:
        rows.append(("PyTorch fp64, peer-style", m.t64, m.t64["gflop_estimate"], m.s_t64, None))
    return rows


def table(models, peak):
    all_rows = [rows_of(m) for m in models]
    w = max([38] + [len(r[0]) for rows in all_rows for r in rows])
    hdr = (f"{'implementation':<{w + 2}} {'s/prompt':>9} {'(mean)':>8} {'GFLOP':>8} {'GFLOP/s':>8} "
           f"{'%peak':>6} {'RSS MB':>7} {'torch/x':>8} {'maxrel vs torch':>16}")
    print(hdr)
    print("-" * len(hdr))
    marks = set()
    for m, rows in zip(models, all_rows):
        c = m.ref_c
        kind = ("causal, answer at the last token" if c and c.get("causal") else "masked, answer at [MASK]")
        if c:
            print(f"{LABEL.get(m.name, m.name)}: {c['n_layers']} layers x {c['d_ff']}, vocab {c['vocab']}, "
                  f"T={c['T']}, m={c['steps']}; {kind}")
        else:
            print(LABEL.get(m.name, m.name))
        for name, r, gflop, s, ref in rows:
            best = r["seconds_best"]
            gfs = gflop / best
            ratio = m.t["seconds_best"] / best if m.t else None
            if ref is not None:  # the BF16 row: against its own reference, marked
                d = rel_diff(s, ref[0])
                dd = "- " if d is None else f"{d:.2e}{ref[1]}"
                if d is not None:
                    marks.add(ref[1])
            else:
                d = rel_diff(s, m.s_t) if s is not m.s_t and s is not None else None
                dd = fmt(d, ".2e") + " "
            print(f"  {name:<{w}} {best:>9.3f} {r['seconds_mean']:>8.3f} {gflop:>8.1f} {gfs:>8.1f} "
                  f"{fmt(100 * gfs / peak if peak else None, '>6.1f')} {r['peak_rss_mb']:>7.0f} "
                  f"{fmt(ratio, '>8.2f')} {dd:>16}".rstrip())
    print("GFLOP: the C rows count their own matrix-multiply FLOPs (result.flops); the PyTorch rows are an "
          "estimate of what\nthe peer-style computation does (per layer: an unpatched forward, m full-model "
          "rows with the head at every\nposition, activation-only backward of the head at every position and "
          "the layers above). %peak: of the best\nsgemm rate above. torch/x: PyTorch's s/prompt over the row's. "
          "maxrel: max |x - torch| / max |torch| over the\nlayers x d_ff scores. s/prompt: best of the repeats "
          "(mean in brackets); the machine is shared, single runs are noisy.")
    if any(m.cb for m in models):
        print("BF16 weights as stored: the same attribution (and target token) on a BF16 copy of the checkpoint "
              "(bench/to_bf16.py),\nits weight matrices kept as BF16 in memory. RSS MB: the process's peak (getrusage), which "
              "counts the checkpoint's\nmapped pages read at load as well as any copies made of them.")
    if "*" in marks:
        print("*: not vs torch: vs the same BF16 copy converted to f32 at load (MT_WEIGHTS=f32), i.e. the "
              "in-memory format alone;\nthe BF16 rounding of the weights moves the scores further (vs the fp32 "
              "rows: in the details below).")
    if "+" in marks:
        print("+: not vs torch: vs the fp32 checkpoint's C row; includes the BF16 rounding of the weights "
              "(BENCH_BF16_REF=0).")


def bf16_details(m):
    b, r, c32 = m.cb, m.cbr, m.c32

    def wmb(x):
        if not x or "weights_mb_f32" not in x:
            return "?"
        h = x["weights_mb_half"]
        return f"{h:.0f} MB bf16 + {x['weights_mb_f32']:.0f} MB f32" if h else f"{x['weights_mb_f32']:.0f} MB f32"

    print(f"BF16 copy {b['model']}, weights as stored ({b['blas_core']}): P(target) {b['prob']:.3g}, "
          f"load {b['load_seconds']:.1f} s, weights held {wmb(b)}, peak RSS {b['peak_rss_mb']:.0f} MB")
    if r:
        print(f"  same copy, MT_WEIGHTS=f32 (1 run, {r['seconds_best']:.3f} s/prompt): load {r['load_seconds']:.1f} s, "
              f"weights held {wmb(r)}, peak RSS {r['peak_rss_mb']:.0f} MB")
    if c32:
        print(f"  fp32 checkpoint ({c32['blas_core']} row, {c32['seconds_best']:.3f} s/prompt): load "
              f"{c32['load_seconds']:.1f} s, weights held {wmb(c32)}, peak RSS {c32['peak_rss_mb']:.0f} MB; BF16 "
              f"as stored: {b['peak_rss_mb'] / c32['peak_rss_mb']:.2f}x its peak RSS, "
              f"{c32['seconds_best'] / b['seconds_best']:.2f}x its speed")
        if b["target"] != c32["target"]:
            print(f"  WARNING: target {b['target']} differs from the fp32 row's {c32['target']}: the scores "
                  f"do not compare")
    diffs = []
    if m.s_cbr is not None:
        diffs.append(("the same copy with MT_WEIGHTS=f32", rel_diff(m.s_cb, m.s_cbr)))
    if m.s_c32 is not None:
        diffs.append(("the fp32 checkpoint's C row", rel_diff(m.s_cb, m.s_c32)))
    if m.s_t is not None:
        diffs.append(("PyTorch fp32 (fp32 checkpoint)", rel_diff(m.s_cb, m.s_t)))
    if m.s_cb is not None and diffs:
        print("  BF16 row's scores, max rel diff vs " + "; vs ".join(
            f"{n}: {fmt(d, '.2e')}" for n, d in diffs))
        if m.s_c32 is not None and m.s_c32.shape == m.s_cb.shape:
            k = 20
            top_b = set(np.argsort(-m.s_cb.ravel())[:k])
            top_f = set(np.argsort(-m.s_c32.ravel())[:k])
            print(f"  top-{k} neurons in common with the fp32 checkpoint's C row: {len(top_b & top_f)}/{k}")


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
    if m.cb:
        bf16_details(m)
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
