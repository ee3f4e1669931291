#!/usr/bin/env python3
"""Golden references for mt_train.h (interventions and weight gradients of selected neurons).

For each committed golden model (tests/golden/models/{bert,xlmr}, tests/golden/causal/{llama,
qwen2,gemma3,bloom,gpt2}) this writes tests/golden/train/<name>/:
  iv_logits.npy  logits at the answer position with an intervention made by a transformers
                 forward pre-hook on the FFN down projection (its input is the neuron vector):
                 units (L-1, 3) x0, (L-1, 9) x2, (0, 7) x0, (1 % L, 17) x2 at that position only;
  grad.npy       [3][S]: d loss / d the parameters of neurons (L-1, 3), (1 if L > 2 else 0, 17),
                 (0, 7) in mt_ffn_rows_size's layout with MT_ROWS_VALUE (gated: gate row, up row,
                 [gate bias, up bias], value vector; otherwise: W1 row, [bias], value vector),
                 by torch autograd;
  case.json      the inputs and the loss.
The loss is the model's own: causal LMs -sum_t log P(y_t | prompt + y_<t) in one teacher-forced
pass; masked LMs -sum_t log P(y_t) at slot t masked, other slots gold. The inputs follow the
formula of tests/unit/test_train.c (make_probe): ids[i] = (37 i + 11) % (V - 10) + 5, 7 prompt
tokens, answers V / 3 and V / 2 + 1, masked slots 3 and 4, mask id 4.

References are float64 (reference() of make_golden.py, with make_golden_causal's Float64Patches).

  --check-saved DIR...   loads folders written by mt_model_save (test_train keeps them when
                         MT_TRAIN_KEEP=DIR is set, each with c_logits.npy and c_ids.json) with
                         stock transformers and compares the logits (float32: 1e-4 relative).

Usage: python3 tools/make_golden_train.py [--out tests/golden/train] [--check-saved DIR ...]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import reference  # noqa: E402
from make_golden_causal import PATCHES  # noqa: E402
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["models/bert", "models/xlmr", "causal/llama", "causal/qwen2", "causal/gemma3", "causal/bloom",
          "causal/gpt2"]
TP, NA, MASK = 7, 2, 4


def probe(V, causal):
    ids = [(37 * i + 11) % (V - 10) + 5 for i in range(TP + NA)]
    ans = [V // 3, V // 2 + 1]
    if causal:
        ids[TP] = ans[0]
        return ids[: TP + NA - 1], ans, [TP - 1, TP]
    return ids[:TP], ans, [3, 4]


def ffn(model, l):
    """(first-matrix modules [gate, up] or [W1], down module, conv1d) of layer l."""
    mt = model.config.model_type
    if mt in ("llama", "qwen2", "gemma3_text"):
        mlp = model.model.layers[l].mlp
        return [mlp.gate_proj, mlp.up_proj], mlp.down_proj, False
    if mt == "bloom":
        mlp = model.transformer.h[l].mlp
        return [mlp.dense_h_to_4h], mlp.dense_4h_to_h, False
    if mt == "gpt2":
        mlp = model.transformer.h[l].mlp
        return [mlp.c_fc], mlp.c_proj, True
    lay = model.base_model.encoder.layer[l]
    return [lay.intermediate.dense], lay.output.dense, False


def n_layers(model):
    c = model.config
    return getattr(c, "num_hidden_layers", None) or c.n_layer


def logits_of(model, ids, causal):
    x = torch.tensor([ids], dtype=torch.long)
    kw = {"use_cache": False} if causal else {"token_type_ids": torch.zeros_like(x)}
    return model(input_ids=x, attention_mask=torch.ones_like(x), **kw).logits[0]


def iv_logits(model, ids, causal, pos, units):
    hooks = []
    for l in range(n_layers(model)):
        mine = [(u, f) for (ll, u, f) in units if ll == l]
        if not mine:
            continue

        def hook(mod, args, mine=mine):
            x = args[0].clone()
            for u, f in mine:
                x[:, pos, u] *= f
            return (x,) + tuple(args[1:])

        hooks.append(ffn(model, l)[1].register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            return logits_of(model, ids, causal)[pos]
    finally:
        for h in hooks:
            h.remove()


def loss_of(model, ids, ans, pos, causal):
    if causal:
        lp = torch.log_softmax(logits_of(model, ids, causal), -1)
        return -sum(lp[pos[t], ans[t]] for t in range(NA))
    total = 0
    for t in range(NA):
        x = list(ids)
        for s in range(NA):
            x[pos[s]] = MASK if s == t else ans[s]
        total = total - torch.log_softmax(logits_of(model, x, causal)[pos[t]], -1)[ans[t]]
    return total


def grads(model, ids, ans, pos, causal, sel):
    params = []
    for l, _ in sel:
        firsts, down, _ = ffn(model, l)
        for mod in firsts + [down]:
            for p in mod.parameters():
                p.requires_grad_(True)
                params.append(p)
    loss = loss_of(model, ids, ans, pos, causal)
    loss.backward()
    out = []
    for l, i in sel:
        firsts, down, conv = ffn(model, l)
        rows, biases = [], []
        for mod in firsts:
            g = mod.weight.grad
            rows.append(g[:, i] if conv else g[i, :])
            if mod.bias is not None:
                biases.append(mod.bias.grad[i : i + 1])
        gd = down.weight.grad
        value = gd[i, :] if conv else gd[:, i]
        out.append(torch.cat(rows + biases + [value]).numpy())
    for p in params:
        p.grad = None
        p.requires_grad_(False)
    return float(loss.detach()), np.stack(out)


def generate(out_root):
    PATCHES.enable()
    for name in MODELS:
        folder = os.path.join(ROOT, "tests", "golden", name)
        causal = name.startswith("causal/")
        cls = AutoModelForCausalLM if causal else AutoModelForMaskedLM
        model = reference(cls.from_pretrained(folder, dtype=torch.float32))
        V = model.config.vocab_size
        L = n_layers(model)
        ids, ans, pos = probe(V, causal)
        apos = len(ids) - 1 if causal else pos[0]
        units = [(L - 1, 3, 0.0), (L - 1, 9, 2.0), (0, 7, 0.0), (1 % L, 17, 2.0)]
        lg = iv_logits(model, ids, causal, apos, units)
        sel = [(L - 1, 3), (1 if L > 2 else 0, 17), (0, 7)]
        loss, g = grads(model, ids, ans, pos, causal, sel)
        dst = os.path.join(out_root, name.split("/")[1])
        os.makedirs(dst, exist_ok=True)
        np.save(os.path.join(dst, "iv_logits.npy"), lg.numpy().astype(np.float32))
        np.save(os.path.join(dst, "grad.npy"), g.astype(np.float32))
        case = {"model": name, "ids": ids, "answer_ids": ans, "answer_pos": pos, "mask_id": MASK,
                "iv_position": apos, "iv_units": units, "selection": sel, "loss": loss}
        with open(os.path.join(dst, "case.json"), "w") as fh:
            json.dump(case, fh, indent=1)
        print(f"{name}: loss {loss:.9f}, |grad|max {np.abs(g).max():.4g}")
    PATCHES.disable()


def check_saved(dirs):
    bad = False
    for d in dirs:
        with open(os.path.join(d, "c_ids.json")) as fh:
            meta = json.load(fh)
        causal = meta["causal"]
        cls = AutoModelForCausalLM if causal else AutoModelForMaskedLM
        model = cls.from_pretrained(d, dtype=torch.float32).eval()
        with torch.no_grad():
            got = logits_of(model, meta["ids"], causal)[meta["pos"]].numpy()
        want = np.load(os.path.join(d, "c_logits.npy"))
        err = float(np.abs(got - want).max() / np.abs(want).max())
        ok = err < 1e-4
        bad |= not ok
        print(f"{d}: transformers vs matrice logits of the saved model: {err:.2e} {'ok' if ok else 'FAIL'}")
    if bad:
        sys.exit("checks failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "train"))
    ap.add_argument("--check-saved", nargs="+")
    args = ap.parse_args()
    if args.check_saved:
        check_saved(args.check_saved)
    else:
        generate(args.out)


if __name__ == "__main__":
    main()
