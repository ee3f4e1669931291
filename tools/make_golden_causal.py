#!/usr/bin/env python3
"""Golden reference data for matrice's causal LMs (Llama, Qwen2, Gemma 3, BLOOM, GPT-2).

The causal counterpart of tools/make_golden.py, with the same conventions: small models with
random weights built from configs (no model hub), saved with save_pretrained; references
computed in float64 with HuggingFace transformers (model.double(), eager attention) and stored
as float32 .npy; deterministic seeds; a large, non-trivial random init so that the predictions
are peaky. What is computed follows docs METHOD.md sections 1-3.1 for causal LMs: the answer
position is the last position of the input, multi-token answers by teacher forcing, the neuron
is the input of the FFN down projection (act(gate)*up for gated FFNs, post-GELU otherwise).

HF computes some pieces in float32 even in a float64 model (eager softmax, RMSNorm, RoPE
cos/sin, the RoPE inverse frequencies); while the references are computed those are patched to
run in float64 (Float64Patches; the difference to stock HF is printed and is ~1e-7 relative).
The reload checks run stock transformers.

Output (tests/golden/causal/, see the README.md written there):
  llama/ qwen2/ gemma3/ bloom/ gpt2/   config.json + model.safetensors (F32, save_pretrained)
  llama_bf16/                           llama's weights as BF16, a Hub-style (transformers 4.x)
                                        config.json; goldens from the bf16-rounded weights
  gemma3_f16/                           gemma3's weights as F16 (tied head), Hub-style config
                                        with final_logit_softcapping set; goldens from the
                                        f16-rounded weights with that soft cap
  gpt2_bf16/                            gpt2's weights as BF16 in the Hub's GPT-2 layout (no
                                        transformer. prefix, h.N.attn.bias buffers; Conv1D
                                        [in, out]); goldens from the bf16-rounded weights
Each folder: per case <case>.json and <case>_{logits,grad,ig_kn,ig_amig,ig_kn_logprob,
ig_amig_act,amig_base}.npy.

Usage: python3 tools/make_golden_causal.py [--out tests/golden/causal]
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

import torch.nn.functional as TF  # noqa: E402
from make_golden import half_report, reference  # noqa: E402  (shared with the masked LMs' script)
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    BloomConfig,
    BloomForCausalLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.models.gemma3 import modeling_gemma3  # noqa: E402
from transformers.models.llama import modeling_llama  # noqa: E402
from transformers.models.qwen2 import modeling_qwen2  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 20
MIN_PROB = 0.05  # every answer must be at least this likely (peaky predictions)
MAX_PROB = 0.95  # ... and not saturated (gradients would vanish)
DEFAULT_VOCAB = 1000
MAX_FOLDER = 2 * 1024 * 1024
# gemma3_f16's final_logit_softcapping: near the f32 model's largest logit (14.7) so that the cap
# bends the logits noticeably (the top answer's 11.4 becomes 15 tanh(11.4 / 15) = 9.6)
GEMMA3_F16_SOFTCAP = 15.0

# tests/golden/tok/<name>/tokenizer.json that would fit a model (byte-level BPE); the first one
# that exists and keeps the weights small enough sets vocab_size. The committed goldens were made
# with none (every model uses DEFAULT_VOCAB) and are kept so, so that a rerun reproduces them
# byte for byte; tests/golden/cli pairs small causal models with the BPE tokenizers instead
# (tools/make_cli_models.py).
TOKENIZER_CANDIDATES = {"llama": [], "qwen2": [], "gemma3": [], "bloom": [], "gpt2": []}


# ----------------------------------------------------------------------------- float64 patches


def rope_inv_freq64(params, head_dim):
    """RoPE inverse frequencies in float64: HF's formulas (modeling_rope_utils), types default
    and llama3."""
    base = float(params["rope_theta"])
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    kind = params.get("rope_type", "default")
    if kind == "default":
        return inv
    if kind != "llama3":
        raise ValueError(f"rope_type {kind} not handled")
    factor = params["factor"]
    lo, hi = params["low_freq_factor"], params["high_freq_factor"]
    old = params["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * math.pi / inv
    out = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wl < hi_wl) & ~(wl > lo_wl)
    return torch.where(medium, smoothed, out)


class Float64Patches:
    """Make the float64 reference float64 throughout: HF's eager attention takes the softmax in
    float32, (Gemma3)RMSNorm normalises in float32, RoPE builds cos/sin in float32 from float32
    inverse frequencies. Class-level patches, switched on only while references are computed."""

    def __init__(self):
        self.saved = []

    @staticmethod
    def _softmax(orig):
        def softmax(input, dim=None, _stacklevel=3, dtype=None):
            if dtype == torch.float32 and input.dtype == torch.float64:
                dtype = torch.float64
            return orig(input, dim=dim, _stacklevel=_stacklevel, dtype=dtype)

        return softmax

    @staticmethod
    def _rms(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

    @staticmethod
    def _rms_gemma(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight)

    @staticmethod
    def _rope(self, x, position_ids):
        inv = rope_inv_freq64(self.config.rope_parameters, self.inv_freq.shape[0] * 2)
        freqs = position_ids[..., None].to(torch.float64) * inv.to(x.device)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)

    @staticmethod
    def _rope_gemma(self, x, position_ids, layer_type):
        inv = rope_inv_freq64(self.config.rope_parameters[layer_type], self.config.head_dim)
        scale = getattr(self, f"{layer_type}_attention_scaling")
        freqs = position_ids[..., None].to(torch.float64) * inv.to(x.device)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * scale).to(x.dtype), (emb.sin() * scale).to(x.dtype)

    def enable(self):
        if self.saved:
            return
        targets = [
            (TF, "softmax", self._softmax(TF.softmax)),
            (modeling_llama.LlamaRMSNorm, "forward", self._rms),
            (modeling_qwen2.Qwen2RMSNorm, "forward", self._rms),
            (modeling_gemma3.Gemma3RMSNorm, "forward", self._rms_gemma),
            (modeling_llama.LlamaRotaryEmbedding, "forward", self._rope),
            (modeling_qwen2.Qwen2RotaryEmbedding, "forward", self._rope),
            (modeling_gemma3.Gemma3RotaryEmbedding, "forward", self._rope_gemma),
        ]
        for obj, name, new in targets:
            self.saved.append((obj, name, obj.__dict__[name]))
            setattr(obj, name, new)

    def disable(self):
        for obj, name, old in reversed(self.saved):
            setattr(obj, name, old)
        self.saved = []


PATCHES = Float64Patches()


def check_inv_freq(model, log):
    """Our float64 inverse frequencies against HF's float32 buffers (guards the formula)."""
    rot = model.base_model.rotary_emb
    if hasattr(rot, "inv_freq"):
        pairs = [(model.config.rope_parameters, rot.inv_freq)]
    else:
        pairs = [(model.config.rope_parameters[t], getattr(rot, f"{t}_inv_freq")) for t in rot.layer_types]
    for params, buf in pairs:
        mine = rope_inv_freq64(params, buf.shape[0] * 2)
        err = float(((mine - buf.double()) / mine).abs().max())
        if err > 1e-6:
            sys.exit(f"rope inverse frequencies differ from HF's: {err:.2e} ({params})")
        say(log, f"  rope {params}: inv_freq = {[float('%.9g' % v) for v in mine]}")


# ----------------------------------------------------------------------------- models


def say(log, line):
    print(line)
    log.append(line)


# (hidden size, embedding matrices stored): bounds the vocabulary that keeps a folder < 2 MB
EMB_SHAPE = {"llama": (64, 2), "qwen2": (56, 1), "gemma3": (48, 1), "bloom": (48, 1), "gpt2": (48, 1)}


def find_vocab(tok_root, name, log):
    """vocab_size: a matching byte-level BPE tokenizer's size if one exists and is small enough,
    else DEFAULT_VOCAB."""
    hidden, n_mat = EMB_SHAPE[name]
    max_vocab = int(1.4e6 / (4 * hidden * n_mat))
    for cand in TOKENIZER_CANDIDATES[name]:
        path = os.path.join(tok_root, cand, "tokenizer.json")
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            tj = json.load(fh)
        model = tj.get("model") or {}
        byte_level = "ByteLevel" in json.dumps(tj.get("pre_tokenizer")) or "ByteLevel" in json.dumps(tj.get("decoder"))
        if model.get("type") != "BPE" or not byte_level:
            continue
        ids = list(model.get("vocab", {}).values()) + [t["id"] for t in tj.get("added_tokens", [])]
        size = max(ids) + 1
        if size > max_vocab:
            say(log, f"{name}: {path} has {size} tokens, more than {max_vocab} keeps the folder small; not used")
            continue
        say(log, f"{name}: vocab_size {size} from {path}")
        return size, path
    say(log, f"{name}: no matching byte-level BPE tokenizer under {tok_root}: vocab_size {DEFAULT_VOCAB}")
    return DEFAULT_VOCAB, None


def common(V, seed_init):
    torch.manual_seed(seed_init)
    return dict(vocab_size=V, initializer_range=0.2)


def build_llama(V):
    cfg = LlamaConfig(
        **common(V, 1101),
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        num_hidden_layers=3,
        intermediate_size=88,
        hidden_act="silu",
        rms_norm_eps=1e-5,
        max_position_embeddings=128,
        rope_theta=500000.0,
        # original_max_position_embeddings 64 (not 16): with head_dim 16 and theta 5e5 the first
        # frequency pair then keeps its frequency (wavelength 6.3 < 64/4), the second is smoothed
        # (32.4 between 16 and 64) and the rest are divided by 8: all three branches of llama3.
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        },
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
        architectures=["LlamaForCausalLM"],
    )
    return LlamaForCausalLM(cfg)


def build_qwen2(V):
    cfg = Qwen2Config(
        **common(V, 1102),
        hidden_size=56,
        num_attention_heads=7,
        num_key_value_heads=1,
        num_hidden_layers=2,
        intermediate_size=100,
        hidden_act="silu",
        rms_norm_eps=1e-6,
        max_position_embeddings=128,
        rope_theta=1000000.0,
        use_sliding_window=False,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
        architectures=["Qwen2ForCausalLM"],
    )
    return Qwen2ForCausalLM(cfg)


def build_gemma3(V):
    cfg = Gemma3TextConfig(
        **common(V, 1103),
        hidden_size=48,  # != num_attention_heads * head_dim = 64, as in Gemma 3 270M (640 vs 1024)
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        num_hidden_layers=4,
        intermediate_size=80,
        hidden_activation="gelu_pytorch_tanh",
        rms_norm_eps=1e-6,
        max_position_embeddings=128,
        layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
        sliding_window=4,
        query_pre_attn_scalar=24,  # != head_dim: scaling is 24**-0.5, not 16**-0.5
        rope_theta=1000000.0,
        rope_local_base_freq=10000.0,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        architectures=["Gemma3ForCausalLM"],
    )
    return Gemma3ForCausalLM(cfg)


def build_bloom(V):
    cfg = BloomConfig(
        **common(V, 1104),
        hidden_size=48,
        n_head=6,
        n_layer=2,
        layer_norm_epsilon=1e-5,
        apply_residual_connection_post_layernorm=False,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        architectures=["BloomForCausalLM"],
    )
    return BloomForCausalLM(cfg)


def build_gpt2(V):
    cfg = GPT2Config(
        **common(V, 1105),
        n_embd=48,
        n_head=3,
        n_layer=2,
        n_positions=64,
        n_inner=None,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        tie_word_embeddings=True,
        bos_token_id=V - 1,
        eos_token_id=V - 1,
        architectures=["GPT2LMHeadModel"],
    )
    return GPT2LMHeadModel(cfg)


# name: (builder, seed of randomize, embedding std, untied lm_head std, final norm gain,
#        prepends BOS, prompt words, prompt seed)
SPECS = {
    "llama": (build_llama, 2101, 0.6, 0.6, 1.0, True, 9, 41),
    "qwen2": (build_qwen2, 2102, 0.6, None, 1.0, False, 9, 42),
    # Gemma: the embeddings are scaled by sqrt(hidden) and every sublayer output is RMS-normed
    # (post-norms), so large embeddings would swamp the layers (the model would copy its input);
    # small ones and a large final-norm gain instead
    "gemma3": (build_gemma3, 2103, 0.1, None, 5.0, True, 10, 43),
    "bloom": (build_bloom, 2104, 0.6, None, 1.0, False, 9, 44),
    "gpt2": (build_gpt2, 2105, 0.6, None, 1.0, False, 9, 45),
}


def is_norm(mod):
    return isinstance(mod, torch.nn.LayerNorm) or type(mod).__name__.endswith("RMSNorm")


@torch.no_grad()
def randomize(model, seed, emb_std, head_std, final_gain):
    """Every parameter matters: norm gains away from 1 (Gemma: w away from 0, the gain being
    1 + w), norm and linear biases nonzero, large embeddings (and lm_head) for peaky predictions.
    Linear weights keep HF's init with initializer_range 0.2."""
    g = torch.Generator().manual_seed(seed)

    def n(shape):
        return torch.randn(shape, generator=g, dtype=torch.float32)

    gemma = model.config.model_type.startswith("gemma")
    emb = model.get_input_embeddings().weight
    norms = {}
    for mname, mod in model.named_modules():
        if is_norm(mod):
            for pname, p in mod.named_parameters(recurse=False):
                norms[f"{mname}.{pname}"] = p
    final = {n_ for n_ in norms if n_.split(".")[-2] in ("norm", "ln_f")}
    for name, p in model.named_parameters():
        if p is emb:
            p.copy_(emb_std * n(p.shape))
        elif name in norms:
            gain = final_gain if name in final else 1.0
            if name.endswith("bias"):
                p.copy_(0.1 * n(p.shape))
            elif gemma:
                p.copy_(gain * (1 + 0.1 * n(p.shape)) - 1)
            else:
                p.copy_(gain * (1 + 0.1 * n(p.shape)))
        elif name == "lm_head.weight":
            p.copy_(head_std * n(p.shape))
        elif name.endswith("bias"):
            p.copy_(0.05 * n(p.shape))
        elif name.endswith("wpe.weight"):
            p.copy_(0.2 * n(p.shape))
        # other weights keep HF's init with initializer_range



def down_modules(model):
    """The module whose input is the neuron vector, per layer."""
    mt = model.config.model_type
    if mt in ("llama", "qwen2", "gemma3_text"):
        return [lay.mlp.down_proj for lay in model.model.layers]
    if mt == "bloom":
        return [blk.mlp.dense_4h_to_h for blk in model.transformer.h]
    if mt == "gpt2":
        return [blk.mlp.c_proj for blk in model.transformer.h]
    raise ValueError(mt)


def d_ff(model):
    c = model.config
    if c.model_type in ("llama", "qwen2", "gemma3_text"):
        return c.intermediate_size
    if c.model_type == "bloom":
        return 4 * c.hidden_size
    return c.n_inner or 4 * c.n_embd


# ----------------------------------------------------------------------------- computations


class Runner:
    """Forward passes of a float64 causal LM with an optional patch of one layer's neuron vector
    (the input of the FFN down projection) at the last position."""

    def __init__(self, model):
        self.m = model
        self.mods = down_modules(model)
        self.L = len(self.mods)
        self.f = d_ff(model)
        self.patch = None  # (layer, Z[B, f])
        self.acts = None  # list of [B, f] (last position) when recording
        for l, mod in enumerate(self.mods):
            mod.register_forward_pre_hook(self._hook(l))

    def _hook(self, l):
        def hook(mod, args):
            x = args[0]
            if x.shape[-1] != self.f:
                raise RuntimeError(f"layer {l}: neuron width {x.shape[-1]} != {self.f}")
            if self.acts is not None:
                self.acts[l] = x[:, -1, :].detach().clone()
            if self.patch is not None and self.patch[0] == l:
                x = x.clone()
                x[:, -1, :] = self.patch[1]
                return (x,) + tuple(args[1:])
            return None

        return hook

    def logits(self, ids, B=1, patch=None, record=False):
        x = torch.tensor([ids] * B, dtype=torch.long)
        self.patch = patch
        self.acts = [None] * self.L if record else None
        try:
            out = self.m(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits
        finally:
            self.patch = None
        acts, self.acts = self.acts, None
        return (out, acts) if record else out

    def target(self, ids, l, y, Z, logprob):
        """F(z) for each row z of Z ([B, f]): P(y) (or log P) at the last position with layer l's
        neuron vector at the last position := z."""
        lg = self.logits(ids, B=Z.shape[0], patch=(l, Z))
        lp = torch.log_softmax(lg[:, -1, :], dim=-1)[:, y]
        return lp if logprob else lp.exp()

    def grad(self, ids, l, y, Z, logprob=False):
        Z = Z.detach().clone().requires_grad_(True)
        F = self.target(ids, l, y, Z, logprob)
        (g,) = torch.autograd.grad(F.sum(), Z)
        return F.detach(), g.detach()

    def ig(self, ids, l, y, a, b, logprob=False, mult="delta"):
        k = torch.arange(1, STEPS + 1, dtype=torch.float64)[:, None] / STEPS
        Z = b[None, :] + k * (a - b)[None, :]
        _, g = self.grad(ids, l, y, Z, logprob)
        m = (a - b) if mult == "delta" else a
        return m * g.mean(0)


def next_probs(run, ids):
    with torch.no_grad():
        return torch.softmax(run.logits(ids)[0, -1], -1)


def make_prompt(run, rng, V, bos_id, specials, n_words, log, name):
    """A random prompt of ordinary ids (after BOS if the model prepends one) whose greedy answers
    y1 (given the prompt) and y2 (given prompt + y1) are ordinary, differ, are not in the prompt,
    and have probabilities in [MIN_PROB, MAX_PROB]."""
    ordinary = np.array([i for i in range(4, V) if i not in specials], dtype=np.int64)
    for attempt in range(500):
        words = [int(w) for w in rng.choice(ordinary, size=n_words)]
        ids = ([bos_id] if bos_id is not None else []) + words
        ans, probs = [], []
        for t in range(2):
            pr = next_probs(run, ids + ans)
            y = int(torch.argmax(pr))
            ans.append(y)
            probs.append(float(pr[y]))
        if (
            all(y not in specials and y >= 4 for y in ans)
            and ans[0] != ans[1]
            and not set(ans) & set(ids)  # no copies of prompt tokens
            and all(MIN_PROB <= q <= MAX_PROB for q in probs)
        ):
            say(log, f"{name}: prompt found after {attempt + 1} draws")
            return ids, ans
    sys.exit(f"{name}: no prompt with confident answers found; adjust the init scales")


def compute_case(run, ids, ans, bos, replace_id):
    """Everything the C tests check for one case, in float64."""
    L, f = run.L, run.f
    n0 = len(ids)
    replaced = [j for j in range(n0) if not (bos and j == 0)]
    out = {
        "grad": torch.zeros(L, f, dtype=torch.float64),
        "ig_kn": torch.zeros(L, f, dtype=torch.float64),
        "ig_amig": torch.zeros(L, f, dtype=torch.float64),
        "ig_kn_logprob": torch.zeros(L, f, dtype=torch.float64),
        "ig_amig_act": torch.zeros(L, f, dtype=torch.float64),
        "amig_base": torch.zeros(len(ans), L, f, dtype=torch.float64),
    }
    probs = []
    dF_zero = torch.zeros(L, dtype=torch.float64)  # sum_t F_t(a) - F_t(0), per layer
    dF_amig = torch.zeros(L, dtype=torch.float64)
    dF_zero_lp = torch.zeros(L, dtype=torch.float64)
    for t, y in enumerate(ans):
        x = list(ids) + list(ans[:t])  # teacher forcing
        with torch.no_grad():
            lg, acts = run.logits(x, record=True)
        if t == 0:
            out["logits"] = lg[0].clone()
        P = float(torch.softmax(lg[0, -1], -1)[y])
        probs.append(P)
        # AMIG baselines: mean over prompt positions j of the last position's neuron vector with
        # x[j] = replace_id (the appended answer tokens are never replaced)
        base = torch.zeros(L, f, dtype=torch.float64)
        for j in replaced:
            xj = list(x)
            xj[j] = replace_id
            with torch.no_grad():
                _, aj = run.logits(xj, record=True)
            for l in range(L):
                base[l] += aj[l][0]
        base /= len(replaced)
        out["amig_base"][t] = base
        for l in range(L):
            a = acts[l][0].clone()
            Fa, g = run.grad(x, l, y, a[None, :])
            assert abs(float(Fa[0]) - P) < 1e-12 * P + 1e-15, "patch with a != unpatched"
            out["grad"][l] += g[0]
            zero = torch.zeros_like(a)
            out["ig_kn"][l] += run.ig(x, l, y, a, zero)
            out["ig_kn_logprob"][l] += run.ig(x, l, y, a, zero, logprob=True)
            out["ig_amig"][l] += run.ig(x, l, y, a, base[l])
            out["ig_amig_act"][l] += run.ig(x, l, y, a, base[l], mult="activation")
            with torch.no_grad():
                F0 = run.target(x, l, y, zero[None, :], False)[0]
                Fb = run.target(x, l, y, base[l][None, :], False)[0]
            dF_zero[l] += P - float(F0)
            dF_amig[l] += P - float(Fb)
            dF_zero_lp[l] += math.log(P) - math.log(float(F0))
    gaps = {
        "kn": [(float(out["ig_kn"][l].sum()), float(dF_zero[l])) for l in range(L)],
        "amig": [(float(out["ig_amig"][l].sum()), float(dF_amig[l])) for l in range(L)],
        "kn_logprob": [(float(out["ig_kn_logprob"][l].sum()), float(dF_zero_lp[l])) for l in range(L)],
    }
    return out, probs, replaced, gaps


def write_case(folder, name, ids, ans, bos, replace_id, run, log):
    out, probs, replaced, gaps = compute_case(run, ids, ans, bos, replace_id)
    doc = {
        "ids": ids,
        "answer_ids": ans,
        "bos": bos,
        "replace_id": replace_id,
        "special_positions": [0] if bos else [],
        "steps": STEPS,
        "probs": probs,
        "amig_replaced_positions": replaced,
    }
    with open(os.path.join(folder, f"{name}.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    for k, v in out.items():
        np.save(os.path.join(folder, f"{name}_{k}.npy"), np.ascontiguousarray(v.numpy().astype(np.float32)))
    top = float(torch.softmax(out["logits"][-1], -1).max())
    say(log, f"{os.path.basename(folder)}/{name}: T={len(ids)} ids {ids} answers {ans} "
             f"P={['%.4f' % q for q in probs]} (top prob at the last prompt position {top:.4f})")
    for kind, per in gaps.items():
        rel = ["%.2e" % (abs(s - d) / max(abs(d), 1e-30)) for s, d in per]
        say(log, f"  completeness {kind:10s} sum(scores) vs F(a)-F(b) per layer: " + ", ".join(
            f"{s:+.5f}/{d:+.5f}" for s, d in per) + f"  rel gap {rel}")
    return out


# ----------------------------------------------------------------------------- storage


def save_hf(model, folder, tok_path):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    for extra in ("generation_config.json",):
        q = os.path.join(folder, extra)
        if os.path.exists(q):
            os.remove(q)
    if tok_path:
        shutil.copyfile(tok_path, os.path.join(folder, "tokenizer.json"))


def save_llama_bf16(f32_folder, folder):
    """llama's tensors as BF16 (same names) and a config.json in the Hub's transformers-4.x style
    (rope_theta + rope_scaling instead of rope_parameters, torch_dtype instead of dtype)."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    sd = load_file(os.path.join(f32_folder, "model.safetensors"))
    out = {k: v.to(torch.bfloat16).contiguous() for k, v in sd.items()}
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(f32_folder, "config.json")) as fh:
        cfg = json.load(fh)
    rp = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = rp.pop("rope_theta")
    cfg["rope_scaling"] = rp
    cfg.pop("dtype", None)
    cfg["torch_dtype"] = "bfloat16"
    cfg["transformers_version"] = "4.46.0"
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(dict(sorted(cfg.items())), fh, indent=2)
        fh.write("\n")
    for extra in ("tokenizer.json",):
        q = os.path.join(f32_folder, extra)
        if os.path.exists(q):
            shutil.copyfile(q, os.path.join(folder, extra))


def hub_config(f32_folder, dtype_name, version):
    """The F32 folder's config.json in the Hub's transformers-4.x spelling: torch_dtype instead of
    dtype (rope keys are the caller's)."""
    with open(os.path.join(f32_folder, "config.json")) as fh:
        cfg = json.load(fh)
    cfg.pop("dtype", None)
    cfg["torch_dtype"] = dtype_name
    cfg["transformers_version"] = version
    return cfg


def write_json(path, doc):
    with open(path, "w") as fh:
        json.dump(dict(sorted(doc.items())), fh, indent=2)
        fh.write("\n")


def save_gemma3_f16(f32_folder, folder, softcap, log):
    """gemma3's tensors as F16 (same names; tied: no lm_head.weight) and a Hub-style Gemma 3
    config (rope_theta, rope_local_base_freq, rope_scaling null, torch_dtype float16) with
    final_logit_softcapping = softcap."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    sd = load_file(os.path.join(f32_folder, "model.safetensors"))
    out = {k: v.to(torch.float16).contiguous() if v.is_floating_point() else v for k, v in sd.items()}
    half_report(sd, out, "gemma3_f16", log)
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    cfg = hub_config(f32_folder, "float16", "4.55.0")
    rp = cfg.pop("rope_parameters")
    for kind in ("full_attention", "sliding_attention"):
        if rp[kind].get("rope_type", "default") != "default":
            sys.exit("gemma3_f16: the Hub spelling written here has no per-layer-type rope scaling")
    cfg["rope_theta"] = rp["full_attention"]["rope_theta"]
    cfg["rope_local_base_freq"] = rp["sliding_attention"]["rope_theta"]
    cfg["rope_scaling"] = None
    cfg["final_logit_softcapping"] = softcap
    write_json(os.path.join(folder, "config.json"), cfg)


def save_gpt2_bf16(f32_folder, folder, log):
    """gpt2's tensors as BF16 laid out like the Hub's GPT-2 checkpoints: no `transformer.`
    prefix, Conv1D weights [in, out] as stored, no lm_head.weight (tied), and the causal-mask
    buffers h.N.attn.bias [1, 1, n_positions, n_positions] (ones on and below the diagonal) that
    those files carry and loaders must ignore; config.json with torch_dtype bfloat16."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    sd = load_file(os.path.join(f32_folder, "model.safetensors"))
    cfg = hub_config(f32_folder, "bfloat16", "4.46.0")
    pre = "transformer."
    if any(not k.startswith(pre) for k in sd):
        sys.exit("gpt2_bf16: unexpected tensor names in gpt2/")
    out = {k[len(pre):]: v.to(torch.bfloat16).contiguous() if v.is_floating_point() else v for k, v in sd.items()}
    half_report({k[len(pre):]: v for k, v in sd.items()}, out, "gpt2_bf16", log)
    n = cfg["n_positions"]
    mask = torch.tril(torch.ones(n, n)).view(1, 1, n, n).to(torch.bfloat16)
    for l in range(cfg["n_layer"]):
        out[f"h.{l}.attn.bias"] = mask.clone()
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    write_json(os.path.join(folder, "config.json"), cfg)


def write_half_cases(folder, run, ids, ans, bos, replace_id, f32_out, log):
    """single and multi of a half-precision twin: the f32 model's prompt and answers (a note if
    the rounded model's greedy answers differ), finite outputs, the difference to the f32 model
    (f32_out; None where the twin's config differs too)."""
    name = os.path.basename(folder)
    x = list(ids)
    for t, y in enumerate(ans):
        pr = next_probs(run, x)
        g = int(torch.argmax(pr))
        if g != y:
            say(log, f"note: {name}: argmax after {len(x)} tokens is {g}, keeping the f32 model's answer {y}")
        if not MIN_PROB <= float(pr[y]) <= MAX_PROB:
            say(log, f"note: {name}: P(y_{t}) = {float(pr[y]):.4f} is outside [{MIN_PROB}, {MAX_PROB}]")
        x.append(y)
    for case, n in (("single", 1), ("multi", len(ans))):
        out = write_case(folder, case, ids, ans[:n], bos, replace_id, run, log)
        bad = [k for k, v in out.items() if not bool(torch.isfinite(v).all())]
        if bad:
            sys.exit(f"{name}/{case}: non-finite values in {bad}")
        if f32_out is None:
            continue
        ref = f32_out[case]
        diffs = ", ".join(f"{k} {float((out[k] - ref[k]).abs().max() / ref[k].abs().max()):.1e}"
                          for k in ("logits", "grad", "ig_kn", "ig_amig"))
        say(log, f"  {name}/{case} vs the f32 model's goldens (max abs diff / max abs): {diffs}")


# ----------------------------------------------------------------------------- checks


def check_reload(folder, log, cls, tol=1e-6):
    """Reload the folder with stock transformers (float64, eager) and compare the logits of
    every case's inputs (prompt + each teacher-forced prefix: P(y_t) too)."""
    PATCHES.disable()
    try:
        m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float64, attn_implementation="eager")
        if not isinstance(m, cls):
            raise RuntimeError(f"loaded {type(m).__name__}, expected {cls.__name__}")
        m.eval()
        worst = 0.0
        for case in ("single", "multi"):
            p = os.path.join(folder, f"{case}.json")
            if not os.path.exists(p):
                continue
            with open(p) as fh:
                c = json.load(fh)
            want = torch.from_numpy(np.load(os.path.join(folder, f"{case}_logits.npy"))).double()
            for t, y in enumerate(c["answer_ids"]):
                x = torch.tensor([c["ids"] + c["answer_ids"][:t]])
                with torch.no_grad():
                    lg = m(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits[0]
                if t == 0:
                    worst = max(worst, float((lg - want).abs().max() / want.abs().max()))
                P = float(torch.softmax(lg[-1], -1)[y])
                worst = max(worst, abs(P - c["probs"][t]) / c["probs"][t])
        ok = worst < tol
        say(log, f"reload {os.path.basename(folder)} with AutoModelForCausalLM ({type(m).__name__}, stock "
                 f"transformers): max rel diff of logits and P(y) {worst:.2e}" + ("" if ok else "  ** FAIL **"))
    finally:
        PATCHES.enable()
    return ok


def check_stock(model, run_ids, log, name):
    """Patched (float64 throughout) vs stock HF float64 model (float32 softmax/norm/RoPE inside)."""
    r = reference(model)
    x = torch.tensor([run_ids])
    with torch.no_grad():
        PATCHES.enable()
        a = r(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits
        PATCHES.disable()
        b = r(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits
        PATCHES.enable()
    err = float((a - b).abs().max() / a.abs().max())
    say(log, f"{name}: float64 throughout vs stock HF float64 (float32 softmax/RMSNorm/RoPE inside): "
             f"max rel logits diff {err:.2e}")
    if err > 1e-5:
        sys.exit(f"{name}: patched float64 reference differs from stock HF by {err:.2e}")


def check_per_step(run, folder, case, log):
    """ig_kn of a case recomputed without batching: one backward pass per step k, and one
    central finite difference of the gradient per layer."""
    with open(os.path.join(folder, f"{case}.json")) as fh:
        c = json.load(fh)
    want = np.load(os.path.join(folder, f"{case}_ig_kn.npy")).astype(np.float64)
    ig = np.zeros_like(want)
    fd_err = 0.0
    for t, y in enumerate(c["answer_ids"]):
        x = c["ids"] + c["answer_ids"][:t]
        with torch.no_grad():
            _, acts = run.logits(x, record=True)
        for l in range(run.L):
            a = acts[l][0]
            s = torch.zeros_like(a)
            for k in range(1, STEPS + 1):
                z = (k / STEPS) * a
                z = z.clone().requires_grad_(True)
                lg = run.logits(x, patch=(l, z[None, :]))
                F = torch.softmax(lg[0, -1], -1)[y]
                (gk,) = torch.autograd.grad(F, z)
                s += gk
            ig[l] += (a * s / STEPS).numpy()
            if t == 0:  # finite difference of dF/dz_n at z = a for the largest-gradient unit
                _, g = run.grad(x, l, y, a[None, :])
                nmax = int(g[0].abs().argmax())
                h = 1e-5 * max(1.0, float(a.abs().max()))
                zp, zm = a.clone(), a.clone()
                zp[nmax] += h
                zm[nmax] -= h
                with torch.no_grad():
                    fd = (run.target(x, l, y, zp[None], False) - run.target(x, l, y, zm[None], False)) / (2 * h)
                fd_err = max(fd_err, abs(float(fd[0]) - float(g[0, nmax])) / abs(float(g[0, nmax])))
    err = float(np.abs(ig - want).max() / np.abs(want).max())
    say(log, f"check {os.path.basename(folder)}/{case}: ig_kn recomputed one step at a time: max rel diff "
             f"{err:.2e}; grad vs central finite difference (largest unit per layer, t=0): max rel diff {fd_err:.2e}")
    if err > 1e-5 or fd_err > 1e-5:
        sys.exit("per-step check failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tok-root", default=os.path.join(ROOT, "tests", "golden", "tok"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "causal"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    log = []
    import safetensors
    import transformers

    say(log, f"torch {torch.__version__}, transformers {transformers.__version__}, "
             f"numpy {np.__version__}, safetensors {safetensors.__version__}")
    PATCHES.enable()
    runs, f32_outs, bad = {}, {}, False
    for name, (builder, seed, emb_std, head_std, gain, prepends_bos, n_words, pseed) in SPECS.items():
        V, tok_path = find_vocab(args.tok_root, name, log)
        model = builder(V)
        randomize(model, seed, emb_std, head_std, gain)
        folder = os.path.join(args.out, name)
        save_hf(model, folder, tok_path)
        ref = reference(model)
        if hasattr(ref.base_model, "rotary_emb"):
            check_inv_freq(ref, log)
        run = Runner(ref)
        cfg = model.config
        bos_id = cfg.bos_token_id if prepends_bos else None
        specials = {i for i in (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) if i is not None}
        rng = np.random.default_rng(pseed)
        ids, ans = make_prompt(run, rng, V, bos_id, specials, n_words, log, name)
        check_stock(model, ids, log, name)
        f32_outs[name] = {"single": write_case(folder, "single", ids, ans[:1], prepends_bos, cfg.eos_token_id, run, log),
                          "multi": write_case(folder, "multi", ids, ans, prepends_bos, cfg.eos_token_id, run, log)}
        runs[name] = (model, run, ids, ans)

    # ---- llama_bf16: the same weights rounded to bf16, Hub-style config
    model, _, ids, ans = runs["llama"]
    folder = os.path.join(args.out, "llama_bf16")
    save_llama_bf16(os.path.join(args.out, "llama"), folder)
    rb = Runner(reference(model, torch.bfloat16))
    y = int(torch.argmax(next_probs(rb, ids)))
    if y != ans[0]:
        say(log, f"note: llama_bf16: argmax is {y}, keeping llama's answer {ans[0]}")
    write_case(folder, "single", ids, ans[:1], True, model.config.eos_token_id, rb, log)

    # ---- gemma3_f16: gemma3's weights rounded to f16 (tied head), Hub-style config, final soft cap
    model, _, ids, ans = runs["gemma3"]
    folder = os.path.join(args.out, "gemma3_f16")
    save_gemma3_f16(os.path.join(args.out, "gemma3"), folder, GEMMA3_F16_SOFTCAP, log)
    ref = reference(model, torch.float16)
    ref.config.final_logit_softcapping = GEMMA3_F16_SOFTCAP
    rh = Runner(ref)
    top = float(f32_outs["gemma3"]["single"]["logits"].abs().max())
    say(log, f"gemma3_f16: final_logit_softcapping {GEMMA3_F16_SOFTCAP}: the f32 model's largest prompt logit "
             f"{top:.2f} would become {GEMMA3_F16_SOFTCAP * math.tanh(top / GEMMA3_F16_SOFTCAP):.2f}")
    write_half_cases(folder, rh, ids, ans, True, model.config.eos_token_id, None, log)

    # ---- gpt2_bf16: gpt2's weights rounded to bf16, the Hub's GPT-2 layout
    model, _, ids, ans = runs["gpt2"]
    folder = os.path.join(args.out, "gpt2_bf16")
    save_gpt2_bf16(os.path.join(args.out, "gpt2"), folder, log)
    rh = Runner(reference(model, torch.bfloat16))
    write_half_cases(folder, rh, ids, ans, False, model.config.eos_token_id, f32_outs["gpt2"], log)

    # ---- checks
    check_per_step(runs["llama"][1], os.path.join(args.out, "llama"), "multi", log)
    check_per_step(runs["gemma3"][1], os.path.join(args.out, "gemma3"), "single", log)
    check_per_step(runs["bloom"][1], os.path.join(args.out, "bloom"), "single", log)
    classes = {"llama": LlamaForCausalLM, "qwen2": Qwen2ForCausalLM, "gemma3": Gemma3ForCausalLM,
               "bloom": BloomForCausalLM, "gpt2": GPT2LMHeadModel, "llama_bf16": LlamaForCausalLM,
               "gemma3_f16": Gemma3ForCausalLM, "gpt2_bf16": GPT2LMHeadModel}
    for sub, cls in classes.items():
        folder = os.path.join(args.out, sub)
        # stock HF keeps float32 softmax/norm/RoPE inside: allow 1e-5 against the float64 goldens
        if not check_reload(folder, log, cls, tol=1e-5):
            bad = True
        wsize = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".safetensors"))
        total = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        line = f"{sub}: weights {wsize} bytes, folder {total} bytes"
        if total >= MAX_FOLDER:
            line += "  ** over 2 MB **"
            bad = True
        say(log, line)
    PATCHES.disable()
    for dirpath, _, files in os.walk(args.out):  # safetensors writes 0600
        for fn in files:
            os.chmod(os.path.join(dirpath, fn), 0o644)
    with open(os.path.join(args.out, "generate.log"), "w") as fh:
        fh.write("\n".join(log) + "\n")
    if bad:
        sys.exit("checks failed")


if __name__ == "__main__":
    main()
