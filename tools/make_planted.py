#!/usr/bin/env python3
"""Planted-knowledge fixtures: two tiny models (BertForMaskedLM, LlamaForCausalLM) whose weights
are constructed so that a known set of FFN units carries each fact's answer in three artificial
"languages", plus a benchmark file in our dataset schema and the truth sets.

Why: attribution (KN, AMIG), MATRICE and the suppress/edit/inject experiments need a model where
the right answer is known. Here it is known by construction. See tests/golden/planted/README.md
for the full construction; in short:

- Vocabulary: languages aa, bb, cc with their own words (subjects "aa" + stem, template words
  "aa" + stem, ...) and 8 shared object words (the answers, the same token in every language).
- Residual stream (d = 64): dims 0-7 one per fact, 8-15 one per fact for the one-language unit,
  16 a filler, 17-24 one per object (read by the output head), 25 a "subject marker", 26 a
  ballast (8.0 in every token, so that the norms act almost linearly on the small planted
  signals), 27-43 the subject's own copy of dims 0-16, 44-63 token noise. The subject of fact f
  has +1 on dim 27+f in every language, +1 on dim 27+8+f in the one language of its
  one-language unit (dim 27+16, the filler, in the others: every subject has the same norm).
- Layer 0 attention, head 0: a constant query meets keys that read the marker, so the answer
  position attends to the subject; V copies dims 27-43 into dims 0-16. Other heads and layers:
  small random weights.
- FFN: each fact has 4 shared units (2 in each of 2 layers) that read its fact dim and write its
  object's dim; some facts have 1 more unit that reads the one-language dim (fires in that
  language only) and writes the same object dim. Thresholds and gains are calibrated layer by
  layer on the actual FFN inputs, so that a unit fires for its fact only. Every other unit has
  small random weights.
- Head: the object dims map to the object tokens (scaled so that the median P(answer) is 0.6,
  which keeps integrated gradients informative); every other token gets a small random row.

Outputs under tests/golden/planted/: bert/ and llama/ (config.json, model.safetensors,
tokenizer.json), planted.jsonl (docs/DATA_SCHEMA.md), truth.json, and checks.json (what this
script measured with transformers: probabilities, suppression, random-unit ablations).

usage: python3 tools/make_planted.py [--out tests/golden/planted]
Deterministic: fixed seeds, one thread; a rerun writes byte-identical files.
"""
import argparse
import json
import os

import numpy as np
import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

from safetensors.torch import save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()

# ---------------------------------------------------------------------------------------------
# The artificial benchmark

LANGS = [  # code, name, family, branch
    ("aa", "Planted A", "Planted-A", "A"),
    ("bb", "Planted B", "Planted-B", "B"),
    ("cc", "Planted C", "Planted-C", "C"),
]
SUBJECT_STEMS = ["bor", "dun", "fel", "gim", "hak", "jol", "kep", "lum"]
OBJECTS = ["zebrix", "quolan", "vextor", "yumbra", "xilpha", "wostra", "ruvenk", "pirzol"]
RELATIONS = ["P1", "P2"]  # facts 0-3: P1, facts 4-7: P2
TEMPLATE_STEMS = {"P1": ["nap", "ses", "tol", "vim", "wok", "yat"],
                  "P2": ["ral", "pom", "mib", "lek", "kuz", "gop"]}
# template shapes: word indices into the relation's stems; "[Y]." ends two of them
SHAPES = ["[X] {0} {1} [Y].", "{2} [X] {3} [Y]", "{4} {5} [X] [Y]", "{1} [X] {3} {5} [Y]."]
N_FACTS = 8

# Planted units per fact: two layers with two shared units each, and for some facts one more
# unit (in the first of the two layers) that fires in one language only.
FACT_LAYERS = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3), (0, 1), (2, 3)]
ONE_LANG = {0: "aa", 3: "bb", 5: "cc", 6: "aa"}

D, D_FF, N_LAYERS, N_HEADS = 64, 48, 4, 2
DIM_FACT, DIM_ONE, DIM_FILL, DIM_OBJ, DIM_MARK, DIM_BAL, DIM_SRC, DIM_NOISE = 0, 8, 16, 17, 25, 26, 27, 44
N_COPY = DIM_FILL + 1  # dims 0-16 are written by layer 0's attention from the subject's dims 27-43
# Every token has BALLAST on dim 26. It dominates the norm of the residual stream, so that
# LayerNorm/RMSNorm act almost linearly on the small planted signals: without it the answer dim
# saturates the norm and units of one fact compete (one unit firing more makes the others
# fire less after the next normalization).
BALLAST = 8.0


def subject(lang, f):
    return lang + SUBJECT_STEMS[f]


def template_words(lang, rel):
    return [lang + s for s in TEMPLATE_STEMS[rel]]


def fact_relation(f):
    return RELATIONS[0] if f < 4 else RELATIONS[1]


def templates(lang, rel):
    w = template_words(lang, rel)
    return [s.format(*w) for s in SHAPES]


def queries(lang, f):
    """(tid, text) for every template of fact f in lang."""
    rel = fact_relation(f)
    return [("%s:%s:planted:%d" % (lang, rel, i + 1), t.replace("[X]", subject(lang, f)))
            for i, t in enumerate(templates(lang, rel))]


def all_words():
    words = []
    for lang, *_ in LANGS:
        words += [subject(lang, f) for f in range(N_FACTS)]
        for rel in RELATIONS:
            words += template_words(lang, rel)
    return words + OBJECTS


def write_benchmark(path):
    tpl = {rel: {lang: [{"id": "%s:%s:planted:%d" % (lang, rel, i + 1), "template": t, "sources": ["planted"],
                         "human_checked": False, "y_final": True}
                        for i, t in enumerate(templates(lang, rel))]
                 for lang, *_ in LANGS} for rel in RELATIONS}
    facts = []
    for f in range(N_FACTS):
        rel = fact_relation(f)
        langs = {}
        for lang, _, fam, _ in LANGS:
            langs[lang] = {"family": fam, "subject": subject(lang, f), "object": OBJECTS[f], "alt_objects": [],
                           "queries": [{"tid": tid, "text": text, "y_final": True} for tid, text in queries(lang, f)]}
        facts.append({"id": "%s:Q%d:Q%d" % (rel, f + 1, 101 + f), "uuid": None, "relation": rel, "lineid": f,
                      "sub_uri": "Q%d" % (f + 1), "obj_uri": "Q%d" % (101 + f), "alt_obj_uris": [], "langs": langs})
    nq = sum(len(x["queries"]) for fa in facts for x in fa["langs"].values())
    header = {
        "format": "matrice-cloze-benchmark", "schema_version": 1,
        "licence": "CC0-1.0 (artificial facts made by tools/make_planted.py)",
        "sources": [{"dir": "tools/make_planted.py", "repo": "matrice", "commit": "generated", "licence": "CC0-1.0"}],
        "input_digest": "none", "build": {"langs": [x[0] for x in LANGS], "max_per_relation": None, "seed": 0,
                                           "max_templates": len(SHAPES), "min_templates": len(SHAPES),
                                           "one_per_subject": True, "zh_script": None, "template_rank": ["planted"],
                                           "generator": "tools/make_planted.py"},
        "languages": [{"code": c, "name": n, "family": fam, "branch": br} for c, n, fam, br in LANGS],
        "families": [x[2] for x in LANGS], "relations": RELATIONS, "templates": tpl,
        "counts": {"facts": len(facts), "queries": nq, "relations": len(RELATIONS),
                   "templates": len(RELATIONS) * len(LANGS) * len(SHAPES)},
    }
    with open(path, "w", encoding="utf-8") as fh:
        for obj in [header] + facts:
            fh.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
    return facts


# ---------------------------------------------------------------------------------------------
# Tokenizers

SPECIAL_BERT = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def bert_tokenizer():
    vocab = {t: i for i, t in enumerate(SPECIAL_BERT + [".", ","] + all_words())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(SPECIAL_BERT)
    return tok


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def llama_tokenizer():
    """Byte-level BPE with ignore_merges (as Llama 3): every word is one vocabulary entry, with
    and without the leading space marker; no merges are needed."""
    b2u = bytes_to_unicode()
    toks = ["<s>", "</s>"] + [b2u[b] for b in range(256)]
    for w in all_words():
        toks += [w, "\u0120" + w]
    # A few merges (the language prefixes) so that the BPE is not empty: our tokenizer refuses
    # a merge-less BPE. With ignore_merges they only affect words outside the vocabulary.
    merges = []
    for lang, *_ in LANGS:
        c = lang[0]
        merges += [("\u0120", c), (c, c), ("\u0120" + c, c)]
        toks += ["\u0120" + c, c + c, "\u0120" + c + c]
    vocab = {t: i for i, t in enumerate(toks)}
    tok = Tokenizer(models.BPE(vocab, merges, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", 0)])
    tok.add_special_tokens(["<s>", "</s>"])
    return tok


# ---------------------------------------------------------------------------------------------
# Model construction


def token_embeddings(tok, rng, vocab_size):
    """Rows as described in the module docstring; returns [V, D] float64."""
    E = np.zeros((vocab_size, D))
    E[:, DIM_NOISE:] = rng.normal(0, 0.5, (vocab_size, D - DIM_NOISE))
    E[:, DIM_BAL] = BALLAST
    for li, (lang, *_) in enumerate(LANGS):
        for f in range(N_FACTS):
            for form in (subject(lang, f), "\u0120" + subject(lang, f)):
                i = tok.token_to_id(form)
                if i is None:
                    continue
                E[i, DIM_NOISE:] *= 0.2  # the subject's identity is its planted dims
                E[i, DIM_SRC + DIM_FACT + f] = 1.0
                E[i, DIM_MARK] = 1.0
                E[i, DIM_SRC + (DIM_ONE + f if ONE_LANG.get(f) == lang else DIM_FILL)] = 1.0
    return E


def plant_units(rng):
    """{fact: {"shared": [(layer, unit)], "one": (layer, unit) or None}} at distinct units."""
    free = {l: list(rng.permutation(D_FF)) for l in range(N_LAYERS)}
    out = {}
    for f in range(N_FACTS):
        la, lb = FACT_LAYERS[f]
        shared = [(la, int(free[la].pop())), (la, int(free[la].pop())), (lb, int(free[lb].pop())),
                  (lb, int(free[lb].pop()))]
        one = (la, int(free[la].pop())) if f in ONE_LANG else None
        out[f] = {"shared": sorted(shared), "one": one}
    return out


class Spec:
    """What the calibration needs about one model kind."""

    def __init__(self, kind, tok, model, ffn_in_module, cases):
        self.kind, self.tok, self.model, self.ffn_in_module, self.cases = kind, tok, model, ffn_in_module, cases


def encode_cases(kind, tok):
    """Every query of every fact and language: (fact, lang, ids, answer position, answer id)."""
    cases = []
    for f in range(N_FACTS):
        for lang, *_ in LANGS:
            for tid, text in queries(lang, f):
                if kind == "bert":
                    ids = tok.encode(text.replace("[Y]", "[MASK]")).ids
                    pos = ids.index(tok.token_to_id("[MASK]"))
                    ans = tok.token_to_id(OBJECTS[f])
                else:
                    prompt = text[:text.index("[Y]")].rstrip()
                    ids = tok.encode(prompt).ids
                    full = tok.encode(prompt + " " + OBJECTS[f]).ids
                    assert full[:len(ids)] == ids and len(full) == len(ids) + 1, text
                    pos, ans = len(ids) - 1, full[-1]
                cases.append({"fact": f, "lang": lang, "tid": tid, "text": text, "ids": ids, "pos": pos, "ans": ans})
    return cases


def ffn_inputs(spec, layer):
    """FFN input at the answer position of every case, [n_cases, D]."""
    got = []
    mod = spec.ffn_in_module(layer)
    h = mod.register_forward_hook(lambda m, inp, out: got.append(inp[0].detach()))
    rows = []
    with torch.no_grad():
        for c in spec.cases:
            got.clear()
            spec.model(torch.tensor([c["ids"]]))
            rows.append(got[0][0, c["pos"]].double().numpy())
    h.remove()
    return np.stack(rows)


def calibrate(spec, units, params):
    """Sets each planted unit's input weights from the FFN inputs measured with the layers below
    already final: a unit for direction dim fires (pre-activation >= +4) on its cases and stays
    off (<= -4 for BERT's GELU; ~0 for Llama's SiLU gate, which has no bias) elsewhere."""
    m = spec.model
    fact = np.array([c["fact"] for c in spec.cases])
    lang = np.array([c["lang"] for c in spec.cases])
    report = []
    for l in range(N_LAYERS):
        X = ffn_inputs(spec, l)
        for f in range(N_FACTS):
            # unequal value norms (x0.85, 0.95, 1.05, 1.15 for the shared units, x1 for the
            # one-language unit), so that no two units of a fact tie
            todo = [(u, DIM_FACT + f, fact == f, 0.85 + 0.1 * k) for k, (ll, u) in enumerate(units[f]["shared"])
                    if ll == l]
            if units[f]["one"] and units[f]["one"][0] == l:
                todo.append((units[f]["one"][1], DIM_ONE + f, (fact == f) & (lang == ONE_LANG[f]), 1.0))
            for u, dim, on, gain in todo:
                value = params["value"] * gain
                v_on, v_off = X[on, dim], X[~on, dim]
                lo, hi = v_on.min(), v_off.max()
                assert lo > hi + 0.5, (spec.kind, f, l, u, lo, hi)
                with torch.no_grad():
                    if spec.kind == "bert":
                        theta = (lo + hi) / 2
                        w = 4.0 / (lo - theta)
                        lay = m.bert.encoder.layer[l]
                        lay.intermediate.dense.weight[u].zero_()
                        lay.intermediate.dense.weight[u, dim] = w
                        lay.intermediate.dense.bias[u] = -w * theta
                        lay.output.dense.weight[:, u].zero_()
                        lay.output.dense.weight[DIM_OBJ + f, u] = value
                        off = w * (hi - theta)
                    else:
                        w = 4.0 / lo
                        mlp = m.model.layers[l].mlp
                        mlp.gate_proj.weight[u].zero_()
                        mlp.gate_proj.weight[u, dim] = w
                        mlp.up_proj.weight[u].zero_()
                        mlp.up_proj.weight[u, DIM_BAL] = 1.0 / X[on, DIM_BAL].mean()
                        mlp.down_proj.weight[:, u].zero_()
                        mlp.down_proj.weight[DIM_OBJ + f, u] = value
                        off = w * np.abs(v_off).max()
                report.append({"fact": f, "layer": l, "unit": u, "dim": dim, "on_min": round(float(lo), 4),
                               "off_max": round(float(hi), 4), "preact_off_max": round(float(off), 4)})
    return report


def build_bert(tok, units, rng):
    V = tok.get_vocab_size()
    cfg = BertConfig(vocab_size=V, hidden_size=D, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                     intermediate_size=D_FF, hidden_act="gelu", max_position_embeddings=32, type_vocab_size=2,
                     layer_norm_eps=1e-12, pad_token_id=0, tie_word_embeddings=False,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    m = BertForMaskedLM(cfg).eval()
    sd = {}
    E = token_embeddings(tok, rng, V)
    sd["bert.embeddings.word_embeddings.weight"] = E
    sd["bert.embeddings.position_embeddings.weight"] = rng.normal(0, 0.02, (32, D))
    sd["bert.embeddings.token_type_embeddings.weight"] = np.zeros((2, D))
    sd["bert.embeddings.LayerNorm.weight"], sd["bert.embeddings.LayerNorm.bias"] = np.ones(D), np.zeros(D)
    hd = D // N_HEADS
    for l in range(N_LAYERS):
        p = "bert.encoder.layer.%d." % l
        Wq, Wk, Wv = (rng.normal(0, 0.02, (D, D)) for _ in range(3))
        bq, bk, bv = np.zeros(D), np.zeros(D), np.zeros(D)
        Wo = rng.normal(0, 0.02, (D, D))
        if l == 0:  # head 0 reads the subject: constant query x marker key; V copies dims 0-16
            Wq[:hd], Wk[:hd], Wv[:hd] = 0, 0, 0
            bq[hd - 1] = 80.0
            Wk[hd - 1, DIM_MARK] = 1.0
            for i in range(N_COPY):
                Wv[i, DIM_SRC + i] = 2.0
            Wo[:, :hd] = 0
            Wo[:hd, :hd] = np.eye(hd)
        sd[p + "attention.self.query.weight"], sd[p + "attention.self.query.bias"] = Wq, bq
        sd[p + "attention.self.key.weight"], sd[p + "attention.self.key.bias"] = Wk, bk
        sd[p + "attention.self.value.weight"], sd[p + "attention.self.value.bias"] = Wv, bv
        sd[p + "attention.output.dense.weight"], sd[p + "attention.output.dense.bias"] = Wo, np.zeros(D)
        sd[p + "attention.output.LayerNorm.weight"], sd[p + "attention.output.LayerNorm.bias"] = np.ones(D), np.zeros(D)
        W1, b1 = rng.normal(0, 0.05, (D_FF, D)), rng.normal(0, 0.05, D_FF)
        W1[:, DIM_BAL] *= 0.2  # random units: small inputs (the ballast would dominate them) ...
        W2 = rng.normal(0, 0.02, (D, D_FF))  # ... and small outputs: they must not move the answer
        for f in range(N_FACTS):  # planted units start silent; calibrate() sets them
            for l2, u in units[f]["shared"] + ([units[f]["one"]] if units[f]["one"] else []):
                if l2 == l:
                    W1[u], b1[u], W2[:, u] = 0, -10.0, 0
        sd[p + "intermediate.dense.weight"], sd[p + "intermediate.dense.bias"] = W1, b1
        sd[p + "output.dense.weight"], sd[p + "output.dense.bias"] = W2, np.zeros(D)
        sd[p + "output.LayerNorm.weight"], sd[p + "output.LayerNorm.bias"] = np.ones(D), np.zeros(D)
    sd["cls.predictions.transform.dense.weight"] = np.eye(D)
    sd["cls.predictions.transform.dense.bias"] = np.zeros(D)
    sd["cls.predictions.transform.LayerNorm.weight"] = np.ones(D)
    sd["cls.predictions.transform.LayerNorm.bias"] = np.zeros(D)
    dec = rng.normal(0, 0.1, (V, D))
    dec[:, DIM_BAL] = 0  # the ballast would give every token a large fixed bias
    for f in range(N_FACTS):
        dec[tok.token_to_id(OBJECTS[f])] = 0
        dec[tok.token_to_id(OBJECTS[f]), DIM_OBJ + f] = 1.0
    sd["cls.predictions.decoder.weight"] = dec
    sd["cls.predictions.bias"] = sd["cls.predictions.decoder.bias"] = np.zeros(V)
    load(m, sd)
    spec = Spec("bert", tok, m, lambda l: m.bert.encoder.layer[l].intermediate.dense, encode_cases("bert", tok))
    rep = calibrate(spec, units, {"value": 0.125})
    scale_head(spec, m.cls.predictions.decoder.weight, tok)
    return spec, rep


def build_llama(tok, units, rng):
    V = tok.get_vocab_size()
    cfg = LlamaConfig(vocab_size=V, hidden_size=D, intermediate_size=D_FF, num_hidden_layers=N_LAYERS,
                      num_attention_heads=N_HEADS, num_key_value_heads=1, head_dim=D // N_HEADS,
                      max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=0,
                      eos_token_id=1, pad_token_id=None, hidden_act="silu",
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
    m = LlamaForCausalLM(cfg).eval()
    hd = D // N_HEADS
    sd = {"model.embed_tokens.weight": token_embeddings(tok, rng, V)}
    for l in range(N_LAYERS):
        p = "model.layers.%d." % l
        Wq = rng.normal(0, 0.02, (D, D))
        Wk, Wv = rng.normal(0, 0.02, (hd, D)), rng.normal(0, 0.02, (hd, D))
        Wo = rng.normal(0, 0.02, (D, D))
        if l == 0:
            # one KV head shared by both query heads: head 0's query is constant (reads the
            # constant dim), head 1's query is zero (uniform attention); both see the subject's
            # copied dims, but only head 0's output is kept. RoPE: the lowest-frequency pair
            # (head dims 15 and 31) with rope_theta 1e6 rotates by < 1e-4 rad over 64 positions.
            Wq[:] = 0
            Wk[:] = 0
            Wv[:] = 0
            Wq[hd - 1, DIM_BAL] = 10.0
            Wk[hd - 1, DIM_MARK] = 1.0
            for i in range(N_COPY):
                Wv[i, DIM_SRC + i] = 1.0
            Wo[:] = 0
            Wo[:hd, :hd] = np.eye(hd)
        sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"] = Wq, Wk
        sd[p + "self_attn.v_proj.weight"], sd[p + "self_attn.o_proj.weight"] = Wv, Wo
        sd[p + "input_layernorm.weight"], sd[p + "post_attention_layernorm.weight"] = np.ones(D), np.ones(D)
        G, U, Dn = rng.normal(0, 0.05, (D_FF, D)), rng.normal(0, 0.05, (D_FF, D)), rng.normal(0, 0.02, (D, D_FF))
        G[:, DIM_BAL] *= 0.2
        U[:, DIM_BAL] *= 0.2
        for f in range(N_FACTS):
            for l2, u in units[f]["shared"] + ([units[f]["one"]] if units[f]["one"] else []):
                if l2 == l:
                    G[u], U[u], Dn[:, u] = 0, 0, 0
        sd[p + "mlp.gate_proj.weight"], sd[p + "mlp.up_proj.weight"], sd[p + "mlp.down_proj.weight"] = G, U, Dn
    sd["model.norm.weight"] = np.ones(D)
    head = rng.normal(0, 0.1, (V, D))
    head[:, DIM_BAL] = 0
    for f in range(N_FACTS):
        i = tok.token_to_id("\u0120" + OBJECTS[f])
        head[i] = 0
        head[i, DIM_OBJ + f] = 1.0
    sd["lm_head.weight"] = head
    load(m, sd)
    spec = Spec("llama", tok, m, lambda l: m.model.layers[l].mlp.gate_proj, encode_cases("llama", tok))
    rep = calibrate(spec, units, {"value": 0.125})
    scale_head(spec, m.lm_head.weight, tok)
    return spec, rep


def load(m, sd):
    own = m.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("rotary_emb.inv_freq")]
    assert not missing, missing
    with torch.no_grad():
        for k, v in sd.items():
            assert own[k].shape == tuple(v.shape), (k, own[k].shape, v.shape)
            own[k].copy_(torch.tensor(v, dtype=torch.float32))


def answer_logits(spec):
    """[n_cases, V] logits at the answer position."""
    out = []
    with torch.no_grad():
        for c in spec.cases:
            out.append(spec.model(torch.tensor([c["ids"]])).logits[0, c["pos"]].double())
    return torch.stack(out)


def scale_head(spec, W, tok):
    """Scales the object rows of the output matrix so that the median P(answer) is about 0.6:
    peaked enough for top-1, not saturated (IG needs a gradient along the path)."""
    ans = torch.tensor([c["ans"] for c in spec.cases])
    obj_rows = sorted(set(int(a) for a in ans))
    lo, hi = 0.1, 50.0
    base = W.detach().clone()
    for _ in range(40):
        g = (lo + hi) / 2
        with torch.no_grad():
            W.copy_(base)
            W[obj_rows] *= g
        p = torch.softmax(answer_logits(spec), -1)[torch.arange(len(ans)), ans]
        if p.median() < 0.6:
            lo = g
        else:
            hi = g
    g = round((lo + hi) / 2, 3)
    with torch.no_grad():
        W.copy_(base)
        W[obj_rows] *= g
    spec.head_scale = g


# ---------------------------------------------------------------------------------------------
# Checks with transformers (the C side is checked by tests/unit/test_planted.c)


def ffn_out_module(spec, l):
    if spec.kind == "bert":
        return spec.model.bert.encoder.layer[l].output.dense
    return spec.model.model.layers[l].mlp.down_proj


def suppress_hook(units_by_layer):
    """Forward pre-hook factory zeroing the given units of the down projection's input."""
    def make(l):
        us = units_by_layer.get(l)
        if not us:
            return None

        def pre(mod, inp):
            x = inp[0].clone()
            x[..., us] = 0
            return (x,)
        return pre
    return make


def probs(spec, make_pre=None):
    hs = []
    if make_pre:
        for l in range(N_LAYERS):
            fn = make_pre(l)
            if fn:
                hs.append(ffn_out_module(spec, l).register_forward_pre_hook(fn))
    rows = []
    with torch.no_grad():
        for c in spec.cases:
            lg = spec.model(torch.tensor([c["ids"]])).logits[0, c["pos"]].double()
            p = torch.softmax(lg, -1)
            rows.append((float(p[c["ans"]]), int(lg.argmax()) == c["ans"]))
    for h in hs:
        h.remove()
    return rows


def check(spec, units, rng):
    base = probs(spec)
    assert all(t for _, t in base), [(c["text"], p) for c, (p, t) in zip(spec.cases, base) if not t]
    res = {"head_scale": spec.head_scale, "p_answer_min": min(p for p, _ in base),
           "p_answer_median": float(np.median([p for p, _ in base])), "p_answer_max": max(p for p, _ in base),
           "suppress_planted": [], "suppress_random": []}
    planted_all = {(l, u) for f in units for (l, u) in units[f]["shared"] + ([units[f]["one"]] if units[f]["one"] else [])}
    for f in range(N_FACTS):
        mine = units[f]["shared"] + ([units[f]["one"]] if units[f]["one"] else [])
        by = {}
        for l, u in mine:
            by.setdefault(l, []).append(u)
        sup = probs(spec, suppress_hook(by))
        # random units: as many as the fact has, drawn from the units planted for no fact
        pool = [(l, u) for l in range(N_LAYERS) for u in range(D_FF) if (l, u) not in planted_all]
        pick = [pool[i] for i in rng.choice(len(pool), len(mine), replace=False)]
        byr = {}
        for l, u in pick:
            byr.setdefault(l, []).append(u)
        rnd = probs(spec, suppress_hook(byr))
        idx = [i for i, c in enumerate(spec.cases) if c["fact"] == f]
        b = [base[i][0] for i in idx]
        s = [sup[i][0] for i in idx]
        r = [rnd[i][0] for i in idx]
        assert not any(sup[i][1] for i in idx), ("suppressing planted units keeps the answer", f)
        assert all(rnd[i][1] for i in idx), ("suppressing random units loses the answer", f)
        res["suppress_planted"].append({"fact": f, "p_before_mean": round(float(np.mean(b)), 4),
                                        "p_after_max": round(float(max(s)), 6), "top1_after": 0})
        res["suppress_random"].append({"fact": f, "units": [list(x) for x in pick],
                                       "max_rel_change": round(float(max(abs(x - y) / x for x, y in zip(b, r))), 4)})
    # the one-language unit alone: suppressing only it lowers P in its language only
    res["one_lang_only"] = []
    for f, lang in sorted(ONE_LANG.items()):
        l, u = units[f]["one"]
        sup = probs(spec, suppress_hook({l: [u]}))
        d = {}
        for i, c in enumerate(spec.cases):
            if c["fact"] == f:
                d.setdefault(c["lang"], []).append(base[i][0] - sup[i][0])
        res["one_lang_only"].append({"fact": f, "lang": lang,
                                     "mean_p_drop": {k: round(float(np.mean(v)), 4) for k, v in d.items()}})
    return res


def save(spec, out, tok):
    os.makedirs(out, exist_ok=True)
    spec.model.config.architectures = [type(spec.model).__name__]
    spec.model.config.save_pretrained(out)
    sd = {k: v.detach().contiguous() for k, v in spec.model.state_dict().items() if not k.endswith("inv_freq")}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    tok.save(os.path.join(out, "tokenizer.json"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                                   "golden", "planted"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    write_benchmark(os.path.join(a.out, "planted.jsonl"))
    truth = {"description": "per model and fact: 'shared' = (layer, unit) pairs planted for the fact in every "
                            "language; 'one_lang' = a unit planted in one language only (or null). Units index the "
                            "input of the FFN down projection (after GELU for BERT, act(gate)*up for Llama).",
             "languages": [x[0] for x in LANGS], "models": {}}
    checks = {}
    for kind, seed in (("bert", 1), ("llama", 2)):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        units = plant_units(rng)
        tok = bert_tokenizer() if kind == "bert" else llama_tokenizer()
        spec, rep = (build_bert if kind == "bert" else build_llama)(tok, units, rng)
        checks[kind] = check(spec, units, np.random.default_rng(100 + seed))
        checks[kind]["calibration"] = rep
        save(spec, os.path.join(a.out, kind), tok)
        facts = []
        for f in range(N_FACTS):
            facts.append({"id": "%s:Q%d:Q%d" % (fact_relation(f), f + 1, 101 + f), "answer": OBJECTS[f],
                          "shared": [list(x) for x in units[f]["shared"]],
                          "one_lang": ({"lang": ONE_LANG[f], "unit": list(units[f]["one"])} if units[f]["one"]
                                       else None)})
        truth["models"][kind] = {"dir": kind, "n_layers": N_LAYERS, "d_ff": D_FF, "facts": facts}
        print(kind, "P(answer) min/median/max %.3f %.3f %.3f" % (checks[kind]["p_answer_min"],
                                                                 checks[kind]["p_answer_median"],
                                                                 checks[kind]["p_answer_max"]))
    with open(os.path.join(a.out, "truth.json"), "w") as fh:
        json.dump(truth, fh, indent=1)
        fh.write("\n")
    with open(os.path.join(a.out, "checks.json"), "w") as fh:
        json.dump(checks, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
