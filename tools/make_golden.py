#!/usr/bin/env python3
"""Golden reference data for matrice's model and IG tests (tests/unit/test_model.c).

Builds small masked LMs with random weights from configs (no model hub), saves them the way
HuggingFace does (and in three other storage layouts), and computes in float64 with
HuggingFace transformers what the C engine must reproduce: logits, answer probabilities,
gradients at the FFN intermediate activation, and integrated-gradients scores over FFN neurons
(KN zero baseline, AMIG baseline, prob/logprob target, delta/activation multiplier), following
docs METHOD.md sections 1-2.

Output (tests/golden/models/, see the README.md written there):
  bert/          BertForMaskedLM, F32, model.safetensors exactly as save_pretrained writes it
  xlmr/          XLMRobertaForMaskedLM, F32, save_pretrained
  bert_legacy/   bert's weights as BF16 with legacy names (gamma/beta, no "bert." prefix,
                 no tied decoder weight); goldens from the bf16-rounded weights
  bert_sharded/  bert's weights as F16 in two shards + model.safetensors.index.json;
                 goldens from the f16-rounded weights
  xlmr_f16/      xlmr's weights as F16 (same names), Hub-style config (torch_dtype float16);
                 goldens from the f16-rounded weights
Each folder: config.json, tokenizer.json (copied from tests/golden/tok/...), weights, and per
case <case>.json plus <case>_{logits,grad,ig_kn,ig_amig,ig_kn_logprob,ig_amig_act,amig_base}.npy
(float32; computed in float64).

Usage: python3 tools/make_golden.py [--tok-root tests/golden/tok] [--out tests/golden/models]
Deterministic: fixed seeds, one thread.
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

from safetensors.torch import save_file  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForMaskedLM,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
)
from transformers.utils import logging as hf_logging  # noqa: E402
import tokenizers  # noqa: E402

hf_logging.set_verbosity_error()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 20
MIN_PROB = 0.05  # an answer must be at least this likely (peaky predictions)
MAX_PROB = 0.95  # ... and not saturated (gradients would vanish)


# ----------------------------------------------------------------------------- tokenizers


class Vocab:
    """What the generator needs from a tokenizer.json: size, special ids, ordinary ids."""

    def __init__(self, path, kind):
        self.path = path
        tok = tokenizers.Tokenizer.from_file(path)
        self.size = tok.get_vocab_size(with_added_tokens=True)
        specials = {i for i, t in tok.get_added_tokens_decoder().items() if t.special}
        if kind == "wordpiece":
            names = {"cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]", "pad": "[PAD]", "unk": "[UNK]"}
        else:
            names = {"cls": "<s>", "sep": "</s>", "mask": "<mask>", "pad": "<pad>", "unk": "<unk>"}
        self.ids = {}
        for k, n in names.items():
            i = tok.token_to_id(n)
            if i is None:
                sys.exit(f"{path}: no token {n}")
            self.ids[k] = i
            specials.add(i)
        if kind == "unigram":
            want = {"cls": 0, "pad": 1, "sep": 2, "unk": 3, "mask": self.size - 1}
            for k, v in want.items():
                if self.ids[k] != v:
                    print(f"warning: {path}: {names[k]} has id {self.ids[k]}, expected {v}")
        self.specials = sorted(specials)
        # ordinary tokens: not special, not [unusedN]-style placeholders
        bad = set(specials)
        for t, i in tok.get_vocab(with_added_tokens=True).items():
            if t.startswith("[unused") or (t.startswith("<") and t.endswith(">") and len(t) > 2):
                bad.add(i)
        self.ordinary = np.array([i for i in range(self.size) if i not in bad], dtype=np.int64)


# ----------------------------------------------------------------------------- models


@torch.no_grad()
def randomize(model, seed, emb_std, head_ln_gain):
    """Make every parameter matter: LayerNorm gains/biases away from 1/0, nonzero biases
    (including the decoder bias), large embeddings so that predictions are peaky."""
    g = torch.Generator().manual_seed(seed)

    def n(shape):
        return torch.randn(shape, generator=g, dtype=torch.float32)

    base = model.base_model
    emb = base.embeddings.word_embeddings.weight
    pad = model.config.pad_token_id
    for name, p in model.named_parameters():
        if p is emb:
            p.copy_(emb_std * n(p.shape))
            if pad is not None:
                p[pad] = 0.1 * emb_std * n(p.shape[1:])  # nonzero but small, unlike HF init
        elif "LayerNorm" in name or "layer_norm" in name:
            if name.endswith("weight"):
                gain = head_ln_gain if ("cls." in name or "lm_head." in name) else 1.0
                p.copy_(gain * (1 + 0.1 * n(p.shape)))
            else:
                p.copy_(0.1 * n(p.shape))
        elif name.endswith("bias"):
            scale = 0.5 if p.shape[0] == emb.shape[0] else 0.05  # decoder bias vs linear biases
            p.copy_(scale * n(p.shape))
        elif "position_embeddings" in name or "token_type_embeddings" in name:
            p.copy_(0.2 * n(p.shape))
        # other weights keep HF's init with initializer_range


def build_bert(voc):
    cfg = BertConfig(
        vocab_size=voc.size,
        hidden_size=48,
        num_attention_heads=3,
        num_hidden_layers=3,
        intermediate_size=75,
        hidden_act="gelu",
        max_position_embeddings=64,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        initializer_range=0.2,
        pad_token_id=voc.ids["pad"],
        architectures=["BertForMaskedLM"],
    )
    torch.manual_seed(1001)
    m = BertForMaskedLM(cfg)
    randomize(m, 2001, emb_std=0.6, head_ln_gain=1.0)
    return m


def build_xlmr(voc):
    cfg = XLMRobertaConfig(
        vocab_size=voc.size,
        hidden_size=40,
        num_attention_heads=5,
        num_hidden_layers=2,
        intermediate_size=61,
        hidden_act="gelu",
        max_position_embeddings=66,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        initializer_range=0.2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["XLMRobertaForMaskedLM"],
    )
    torch.manual_seed(1002)
    m = XLMRobertaForMaskedLM(cfg)
    randomize(m, 2002, emb_std=0.6, head_ln_gain=1.0)
    return m


def reference(model, dtype=None):
    """float64 eval copy; with dtype, the weights are first rounded to that dtype."""
    r = copy.deepcopy(model)
    r.config._attn_implementation = "eager"
    if hasattr(r, "set_attn_implementation"):
        try:
            r.set_attn_implementation("eager")
        except Exception:
            pass
    r = r.double().eval()
    if dtype is not None:
        with torch.no_grad():
            for p in r.parameters():
                p.copy_(p.to(dtype).to(torch.float64))
    for p in r.parameters():
        p.requires_grad_(False)
    return r


def half_report(sd32, sdh, name, log):
    """What rounding an F32 state dict to a half type (F16/BF16) did: the largest magnitude
    against the type's largest finite value (65504 for F16), non-finite values, nonzero values
    that became subnormal or zero, the largest relative rounding error of the others. Exits if a
    value is not representable."""
    mx, nonfinite, sub, flushed, rel, n, dt = 0.0, 0, 0, 0, 0.0, 0, None
    for k, v in sd32.items():
        if not v.is_floating_point():
            continue
        h = sdh[k]
        dt = h.dtype
        tiny = torch.finfo(dt).tiny  # smallest normal
        x, y = v.double(), h.double()
        n += x.numel()
        mx = max(mx, float(x.abs().max()))
        nonfinite += int((~torch.isfinite(y)).sum())
        nz = x != 0
        flushed += int((nz & (y == 0)).sum())
        sub += int((nz & (y != 0) & (y.abs() < tiny)).sum())
        normal = y.abs() >= tiny
        if normal.any():
            rel = max(rel, float(((y - x).abs() / x.abs())[normal].max()))
    top = torch.finfo(dt).max
    line = (f"{name}: {n} values as {str(dt).replace('torch.', '')}: max |w| {mx:.4g} (largest finite "
            f"{top:.5g}), non-finite {nonfinite}, nonzero values that became subnormal {sub} / zero "
            f"{flushed}, largest relative rounding error of the others {rel:.2e}")
    print(line)
    log.append(line)
    if nonfinite or mx >= top:
        sys.exit(f"{name}: weights not representable in {dt}")


# ----------------------------------------------------------------------------- computations


class Runner:
    """Forward passes of a float64 model with an optional patch of one layer's FFN activation."""

    def __init__(self, model):
        self.m = model
        self.layers = model.base_model.encoder.layer
        self.L = len(self.layers)
        self.f = model.config.intermediate_size
        self.patch = None  # (layer, position, Z[B, f])
        self.acts = None  # list of [B, T, f] when recording
        for l, lay in enumerate(self.layers):
            lay.intermediate.register_forward_hook(self._hook(l))

    def _hook(self, l):
        def hook(mod, inp, out):
            if self.acts is not None:
                self.acts[l] = out.detach().clone()
            if self.patch is not None and self.patch[0] == l:
                _, p, Z = self.patch
                out = out.clone()
                out[:, p, :] = Z
                return out
            return None

        return hook

    def logits(self, ids, types, B=1, patch=None, record=False):
        x = torch.tensor([ids] * B, dtype=torch.long)
        tt = torch.tensor([types] * B, dtype=torch.long)
        self.patch = patch
        self.acts = [None] * self.L if record else None
        try:
            out = self.m(input_ids=x, attention_mask=torch.ones_like(x), token_type_ids=tt).logits
        finally:
            self.patch = None
        acts, self.acts = self.acts, None
        return (out, acts) if record else out

    def target(self, ids, types, l, p, y, Z, logprob):
        """F(z) for each row z of Z ([B, f]): P(y at p) or log P, with layer l's activation at p := z."""
        lg = self.logits(ids, types, B=Z.shape[0], patch=(l, p, Z))
        lp = torch.log_softmax(lg[:, p, :], dim=-1)[:, y]
        return lp if logprob else lp.exp()

    def grad(self, ids, types, l, p, y, Z, logprob=False):
        Z = Z.detach().clone().requires_grad_(True)
        F = self.target(ids, types, l, p, y, Z, logprob)
        (g,) = torch.autograd.grad(F.sum(), Z)
        return F.detach(), g.detach()

    def ig(self, ids, types, l, p, y, a, b, logprob=False, mult="delta"):
        k = torch.arange(1, STEPS + 1, dtype=torch.float64)[:, None] / STEPS
        Z = b[None, :] + k * (a - b)[None, :]
        _, g = self.grad(ids, types, l, p, y, Z, logprob)
        m = (a - b) if mult == "delta" else a
        return m * g.mean(0)


def forced_input(ids, pos, ans, t, mask_id):
    x = list(ids)
    for s, (p, y) in enumerate(zip(pos, ans)):
        x[p] = mask_id if s == t else y
    return x


def probs_at(run, ids, types, p):
    with torch.no_grad():
        return torch.softmax(run.logits(ids, types)[0, p], -1)


def argmax_ordinary(pr, voc):
    cand = torch.from_numpy(voc.ordinary)
    i = int(torch.argmax(pr[cand]))
    return int(cand[i]), float(pr[cand[i]])


def choose_answers(run, voc, ids, types, pos):
    """Answer ids = the model's argmaxes (ordinary tokens) in the teacher-forced inputs: a fixed
    point of y_t = argmax P(. at p_t | other slots filled with their y_s). None if not found."""
    mask = voc.ids["mask"]
    ans = [argmax_ordinary(probs_at(run, ids, types, p), voc)[0] for p in pos]
    for _ in range(10):
        changed = False
        for t, p in enumerate(pos):
            y, _ = argmax_ordinary(probs_at(run, forced_input(ids, pos, ans, t, mask), types, p), voc)
            if y != ans[t]:
                ans[t], changed = y, True
        if not changed:
            return ans
    return None


def make_case(run, voc, rng, n_answer, fixed=None):
    """Random prompt [CLS] w1..wn [SEP] with n_answer adjacent mask slots, retried until every
    answer probability is in [MIN_PROB, MAX_PROB] and the answer ids differ. fixed=(ids, types,
    pos) reuses a prompt as it is."""
    mask = voc.ids["mask"]
    for attempt in range(200):
        if fixed is not None:
            ids, types, pos = fixed
            ids, types, pos = list(ids), list(types), list(pos)
        else:
            n = int(rng.integers(9, 12))
            words = [int(w) for w in rng.choice(voc.ordinary, size=n)]
            ids = [voc.ids["cls"]] + words + [voc.ids["sep"]]
            p0 = int(rng.integers(1, n + 2 - n_answer))
            pos = list(range(p0, p0 + n_answer))
            for p in pos:
                ids[p] = mask
            types = [0] * len(ids)
        ans = choose_answers(run, voc, ids, types, pos)
        if ans is None:
            if fixed is not None:
                break
            continue
        probs = [
            float(probs_at(run, forced_input(ids, pos, ans, t, mask), types, p)[ans[t]])
            for t, p in enumerate(pos)
        ]
        distinct = len(set(ans)) == len(ans)  # so that a swap of answer ids cannot go unnoticed
        if fixed is not None or (distinct and all(MIN_PROB <= q <= MAX_PROB for q in probs)):
            return ids, types, pos, ans, probs, attempt
    sys.exit("no prompt with confident answers found; adjust the init scales")


def compute_case(run, voc, ids, types, pos, ans):
    """Everything test_model.c checks for one case, in float64."""
    mask = voc.ids["mask"]
    L, f = run.L, run.f
    special = [i for i, x in enumerate(ids) if x in (voc.ids["cls"], voc.ids["sep"])]
    replaced = [j for j in range(len(ids)) if j not in special and j not in pos]
    out = {
        "grad": torch.zeros(L, f, dtype=torch.float64),
        "ig_kn": torch.zeros(L, f, dtype=torch.float64),
        "ig_amig": torch.zeros(L, f, dtype=torch.float64),
        "ig_kn_logprob": torch.zeros(L, f, dtype=torch.float64),
        "ig_amig_act": torch.zeros(L, f, dtype=torch.float64),
        "amig_base": torch.zeros(len(pos), L, f, dtype=torch.float64),
    }
    probs = []
    dF_zero = torch.zeros(L, dtype=torch.float64)  # sum_t F_t(a) - F_t(0), per layer
    dF_amig = torch.zeros(L, dtype=torch.float64)
    dF_zero_lp = torch.zeros(L, dtype=torch.float64)
    for t, (p, y) in enumerate(zip(pos, ans)):
        x = forced_input(ids, pos, ans, t, mask)
        with torch.no_grad():
            lg, acts = run.logits(x, types, record=True)
        if t == 0:
            out["logits"] = lg[0].clone()
        P = float(torch.softmax(lg[0, p], -1)[y])
        probs.append(P)
        # AMIG baselines: mean over replaced positions j of the activation at p with x[j] = mask
        base = torch.zeros(L, f, dtype=torch.float64)
        for j in replaced:
            xj = list(x)
            xj[j] = mask
            with torch.no_grad():
                _, aj = run.logits(xj, types, record=True)
            for l in range(L):
                base[l] += aj[l][0, p]
        base /= len(replaced)
        out["amig_base"][t] = base
        for l in range(L):
            a = acts[l][0, p].clone()
            Fa, g = run.grad(x, types, l, p, y, a[None, :])
            assert abs(float(Fa[0]) - P) < 1e-12 * max(P, 1e-300) + 1e-15, "patch with a != unpatched"
            out["grad"][l] += g[0]
            zero = torch.zeros_like(a)
            out["ig_kn"][l] += run.ig(x, types, l, p, y, a, zero)
            out["ig_kn_logprob"][l] += run.ig(x, types, l, p, y, a, zero, logprob=True)
            out["ig_amig"][l] += run.ig(x, types, l, p, y, a, base[l])
            out["ig_amig_act"][l] += run.ig(x, types, l, p, y, a, base[l], mult="activation")
            with torch.no_grad():
                F0 = run.target(x, types, l, p, y, zero[None, :], False)[0]
                Fb = run.target(x, types, l, p, y, base[l][None, :], False)[0]
            dF_zero[l] += P - float(F0)
            dF_amig[l] += P - float(Fb)
            dF_zero_lp[l] += math.log(P) - math.log(float(F0))
    gaps = {
        "kn": [(float(out["ig_kn"][l].sum()), float(dF_zero[l])) for l in range(L)],
        "amig": [(float(out["ig_amig"][l].sum()), float(dF_amig[l])) for l in range(L)],
        "kn_logprob": [(float(out["ig_kn_logprob"][l].sum()), float(dF_zero_lp[l])) for l in range(L)],
    }
    return out, probs, special, replaced, gaps


def write_case(folder, name, ids, types, pos, ans, voc, run, log):
    out, probs, special, replaced, gaps = compute_case(run, voc, ids, types, pos, ans)
    doc = {
        "ids": ids,
        "token_type_ids": types,
        "answer_positions": pos,
        "answer_ids": ans,
        "mask_id": voc.ids["mask"],
        "special_positions": special,
        "steps": STEPS,
        "probs": probs,
        "amig_replaced_positions": replaced,
    }
    with open(os.path.join(folder, f"{name}.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    for k, v in out.items():
        np.save(os.path.join(folder, f"{name}_{k}.npy"), np.ascontiguousarray(v.numpy().astype(np.float32)))
    fold = os.path.basename(folder)
    line = f"{fold}/{name}: T={len(ids)} answers at {pos} ids {ans} P={['%.4f' % q for q in probs]}"
    print(line)
    log.append(line)
    for kind, per in gaps.items():
        rel = ["%.2e" % (abs(s - d) / max(abs(d), 1e-30)) for s, d in per]
        line = f"  completeness {kind:10s} sum(scores) vs F(a)-F(b) per layer: " + ", ".join(
            f"{s:+.5f}/{d:+.5f}" for s, d in per
        ) + f"  rel gap {rel}"
        print(line)
        log.append(line)


# ----------------------------------------------------------------------------- storage


def save_hf(model, folder, voc):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    for extra in ("generation_config.json",):
        q = os.path.join(folder, extra)
        if os.path.exists(q):
            os.remove(q)
    shutil.copyfile(voc.path, os.path.join(folder, "tokenizer.json"))


def write_config(folder, model, dtype_name, drop_keys=()):
    cfg = model.config.to_dict()
    cfg["dtype"] = dtype_name
    for k in drop_keys:
        cfg.pop(k, None)
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")


def legacy_name(name):
    n = name[len("bert."):] if name.startswith("bert.") else name
    if "LayerNorm." in n:
        n = n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    return n


def save_legacy(f32_folder, folder, voc, model):
    from safetensors.torch import load_file

    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    sd = load_file(os.path.join(f32_folder, "model.safetensors"))
    out = {}
    for k, v in sd.items():
        if k == "cls.predictions.decoder.weight":
            continue
        out[legacy_name(k)] = v.to(torch.bfloat16).contiguous()
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    write_config(folder, model, "bfloat16")
    shutil.copyfile(voc.path, os.path.join(folder, "tokenizer.json"))
    return sorted(out)


def save_sharded(f32_folder, folder, voc, model):
    from safetensors.torch import load_file

    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    sd = load_file(os.path.join(f32_folder, "model.safetensors"))
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    shards = [{}, {}]
    for k, v in sd.items():
        first = k.startswith("bert.embeddings.") or k.startswith("bert.encoder.layer.0.")
        shards[0 if first else 1][k] = v.to(torch.float16).contiguous()
    weight_map, total = {}, 0
    for name, sh in zip(shard_names, shards):
        save_file(sh, os.path.join(folder, name), metadata={"format": "pt"})
        for k, v in sh.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as fh:
        json.dump(index, fh, indent=2)
        fh.write("\n")
    write_config(folder, model, "float16")
    shutil.copyfile(voc.path, os.path.join(folder, "tokenizer.json"))


def save_f16(f32_folder, folder, voc, log):
    """Every tensor of the F32 folder as F16 (same names: what save_pretrained writes for a
    float16 model) and its config.json in the Hub's transformers-4.x spelling (torch_dtype
    float16 instead of dtype)."""
    from safetensors.torch import load_file

    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    sd = load_file(os.path.join(f32_folder, "model.safetensors"))
    out = {k: v.to(torch.float16).contiguous() if v.is_floating_point() else v for k, v in sd.items()}
    half_report(sd, out, os.path.basename(folder), log)
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(f32_folder, "config.json")) as fh:
        cfg = json.load(fh)
    cfg.pop("dtype", None)
    cfg["torch_dtype"] = "float16"
    cfg["transformers_version"] = "4.46.0"
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
        fh.write("\n")
    shutil.copyfile(voc.path, os.path.join(folder, "tokenizer.json"))


# ----------------------------------------------------------------------------- checks


def check_reload(folder, want_logits, case_json, hf_cls, log):
    """Reload the folder with transformers and compare the unpatched logits of the case."""
    from transformers import AutoModelForMaskedLM

    try:
        m = AutoModelForMaskedLM.from_pretrained(folder, dtype=torch.float64)
        if not isinstance(m, hf_cls):
            raise RuntimeError(f"loaded {type(m).__name__}")
        m.eval()
        with open(case_json) as fh:
            c = json.load(fh)
        x = forced_input(c["ids"], c["answer_positions"], c["answer_ids"], 0, c["mask_id"])
        with torch.no_grad():
            lg = m(
                input_ids=torch.tensor([x]),
                attention_mask=torch.ones(1, len(x), dtype=torch.long),
                token_type_ids=torch.tensor([c["token_type_ids"]]),
            ).logits[0]
        err = float((lg - torch.from_numpy(want_logits).double()).abs().max() / lg.abs().max())
        line = f"reload {os.path.basename(folder)} with AutoModelForMaskedLM: max rel logits diff {err:.2e}"
        ok = err < 1e-6
    except Exception as e:  # bert_legacy is not expected to load
        line = f"reload {os.path.basename(folder)} with AutoModelForMaskedLM: failed ({type(e).__name__}: {str(e)[:120]})"
        ok = None
    print(line)
    log.append(line)
    return ok



def write_rounded_case(folder, sub, base, r, case, vocab, log):
    """The f32 model's "single" case on a copy with rounded weights (runner r): the same answer,
    noted in the log when the rounded model's own argmax differs."""
    ids, tt, pos, y = case
    y2 = choose_answers(r, vocab, ids, tt, pos)
    if y2 != y:
        line = f"note: {sub}: argmax at the mask is {y2}, keeping {base}'s answer {y}"
        print(line)
        log.append(line)
    write_case(folder, "single", ids, tt, pos, y, vocab, r, log)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tok-root", default=os.path.join(ROOT, "tests", "golden", "tok"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "models"))
    args = ap.parse_args()
    wp = Vocab(os.path.join(args.tok_root, "wordpiece", "tokenizer.json"), "wordpiece")
    ug = Vocab(os.path.join(args.tok_root, "unigram", "tokenizer.json"), "unigram")
    os.makedirs(args.out, exist_ok=True)
    log = []
    import transformers

    log.append(f"torch {torch.__version__}, transformers {transformers.__version__}, "
               f"numpy {np.__version__}, tokenizers {tokenizers.__version__}")

    # ---- bert (F32, save_pretrained)
    bert = build_bert(wp)
    d_bert = os.path.join(args.out, "bert")
    save_hf(bert, d_bert, wp)
    run = Runner(reference(bert))
    rng = np.random.default_rng(31)
    single = make_case(run, wp, rng, 1)
    multi = make_case(run, wp, rng, 2)
    # "types": the single prompt with a second segment of type 1
    ids_s, _, pos_s = single[0], single[1], single[2]
    T = len(ids_s)
    cut = T // 2
    types = make_case(run, wp, rng, 1, fixed=(ids_s, [0] * cut + [1] * (T - cut), pos_s))
    for name, c in (("single", single), ("multi", multi), ("types", types)):
        write_case(d_bert, name, c[0], c[1], c[2], c[3], wp, run, log)

    # ---- bert_legacy (BF16, legacy names) and bert_sharded (F16, two shards)
    for sub, dt, saver in (("bert_legacy", torch.bfloat16, save_legacy), ("bert_sharded", torch.float16, save_sharded)):
        folder = os.path.join(args.out, sub)
        saver(d_bert, folder, wp, bert)
        write_rounded_case(folder, sub, "bert", Runner(reference(bert, dt)), single[:4], wp, log)

    # ---- xlmr (F32, save_pretrained)
    xlmr = build_xlmr(ug)
    d_xlmr = os.path.join(args.out, "xlmr")
    save_hf(xlmr, d_xlmr, ug)
    runx = Runner(reference(xlmr))
    rng = np.random.default_rng(32)
    xcases = {}
    for name, n_ans in (("single", 1), ("multi", 2)):
        c = xcases[name] = make_case(runx, ug, rng, n_ans)
        write_case(d_xlmr, name, c[0], c[1], c[2], c[3], ug, runx, log)

    # ---- xlmr_f16 (xlmr's weights as F16, Hub-style config; xlmr's single case)
    d_x16 = os.path.join(args.out, "xlmr_f16")
    save_f16(d_xlmr, d_x16, ug, log)
    write_rounded_case(d_x16, "xlmr_f16", "xlmr", Runner(reference(xlmr, torch.float16)), xcases["single"][:4], ug, log)
    got = {k: np.load(os.path.join(d_x16, f"single_{k}.npy")) for k in ("logits", "grad", "ig_kn", "ig_amig")}
    if not all(np.isfinite(v).all() for v in got.values()):
        sys.exit("xlmr_f16: non-finite goldens")
    diffs = ", ".join(f"{k} {np.abs(v - np.load(os.path.join(d_xlmr, f'single_{k}.npy'))).max() / np.abs(v).max():.1e}"
                      for k, v in got.items())
    line = f"  xlmr_f16/single vs xlmr/single (max abs diff / max abs): {diffs}"
    print(line)
    log.append(line)

    # ---- checks: sizes, reload with transformers
    for sub in ("bert", "xlmr", "bert_legacy", "bert_sharded", "xlmr_f16"):
        folder = os.path.join(args.out, sub)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".safetensors"))
        line = f"{sub}: weights {size} bytes"
        if sub == "xlmr_f16":  # the others' lines predate the folder size
            line += f", folder {sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))} bytes"
        if size >= 2 * 1024 * 1024:
            line += "  ** over 2 MB **"
        print(line)
        log.append(line)
    bad = False
    for sub, cls in (("bert", BertForMaskedLM), ("xlmr", XLMRobertaForMaskedLM),
                     ("bert_sharded", BertForMaskedLM), ("bert_legacy", BertForMaskedLM),
                     ("xlmr_f16", XLMRobertaForMaskedLM)):
        folder = os.path.join(args.out, sub)
        ok = check_reload(folder, np.load(os.path.join(folder, "single_logits.npy")),
                          os.path.join(folder, "single.json"), cls, log)
        if ok is False or (ok is None and sub != "bert_legacy"):
            bad = True
    for dirpath, _, files in os.walk(args.out):  # safetensors writes 0600
        for fn in files:
            os.chmod(os.path.join(dirpath, fn), 0o644)
    with open(os.path.join(args.out, "generate.log"), "w") as fh:
        fh.write("\n".join(log) + "\n")
    if bad:
        sys.exit("reload check failed")


if __name__ == "__main__":
    main()
