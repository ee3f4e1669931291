#!/usr/bin/env python3
"""Builds a big random-weight causal checkpoint, stored as sharded BF16 safetensors.

llama2-7b (default): LlamaForCausalLM of Llama-2-7B shape: hidden 4096, intermediate 11008
  (SwiGLU), 32 layers, 32 heads (no GQA), vocab 32000, rope_theta 10000, RMSNorm eps 1e-5,
  untied lm_head, no biases. 6.74B parameters: 13.5 GB as BF16, 27 GB as F32.
qwen2-0.5b: Qwen2ForCausalLM of Qwen2-0.5B shape (as bench/make_model.py --arch qwen2, but
  written here in BF16): hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate 4864,
  vocab 151936, tied embeddings, rope_theta 1e6, eps 1e-6, q/k/v biases. 494M parameters.

Weights: linear, embedding and bias tensors are normal(0, --std) (0.02), norm weights are 1.
Each tensor has its own torch generator seeded from (--seed, tensor name), so a tensor does not
depend on the tensors before it: the --layers N variant holds exactly the first N layers (and
the same embeddings, final norm and head) of the full model. The draws are float32, rounded to
the storage type.

Nothing is ever materialized whole: the safetensors headers are computed from the shapes, then
each tensor is drawn in chunks of --chunk-mb and written straight to its shard, so the peak
memory is under 1 GB (half of it torch itself) whatever the model size. Shards follow HF's naming
(model-0000K-of-0000N.safetensors, at most --shard-gb each, tensors in HF order: embeddings,
layers, final norm, head) with model.safetensors.index.json; config.json has torch_dtype.
No tokenizer is written: bench_ig takes no text (its query is token ids).

The folder is built as DIR.partial-PID and renamed to DIR when complete. Does nothing if DIR
already holds config.json and model.safetensors.index.json (unless --force). Default DIR:
cache/big/<shape>-<dtype> (git ignores cache/), with -<N>l appended for --layers N.

Usage: python3 bench/make_big.py [DIR] [--shape llama2-7b|qwen2-0.5b] [--layers N]
           [--dtype bf16|f16|f32] [--seed N] [--std 0.02] [--shard-gb 4] [--threads 1] [--force]
"""
import argparse
import json
import os
import resource
import shutil
import struct
import sys
import time
import zlib

BIG_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cache", "big"))

SHAPES = {
    "llama2-7b": dict(
        arch="LlamaForCausalLM", model_type="llama", hidden=4096, inter=11008, layers=32, heads=32,
        kv_heads=32, vocab=32000, max_pos=4096, rope_theta=10000.0, eps=1e-5, tied=False, qkv_bias=False,
        bos=1, eos=2, short="llama7b"),
    "qwen2-0.5b": dict(
        arch="Qwen2ForCausalLM", model_type="qwen2", hidden=896, inter=4864, layers=24, heads=14,
        kv_heads=2, vocab=151936, max_pos=32768, rope_theta=1000000.0, eps=1e-6, tied=True, qkv_bias=True,
        bos=151643, eos=151643, short="qwen2-0.5b"),
}
DTYPES = {"bf16": ("BF16", "bfloat16", 2), "f16": ("F16", "float16", 2), "f32": ("F32", "float32", 4)}


def tensor_specs(s, n_layers):
    """(name, shape, kind) in HF's order; kind: 'normal' (std) or 'ones'."""
    d, f, hd = s["hidden"], s["inter"], s["hidden"] // s["heads"]
    qd, kd = s["heads"] * hd, s["kv_heads"] * hd
    out = [("model.embed_tokens.weight", (s["vocab"], d), "normal")]
    for l in range(n_layers):
        p = f"model.layers.{l}."
        out.append((p + "input_layernorm.weight", (d,), "ones"))
        for nm, shape in (("q_proj", (qd, d)), ("k_proj", (kd, d)), ("v_proj", (kd, d))):
            out.append((p + f"self_attn.{nm}.weight", shape, "normal"))
            if s["qkv_bias"]:
                out.append((p + f"self_attn.{nm}.bias", shape[:1], "normal"))
        out.append((p + "self_attn.o_proj.weight", (d, qd), "normal"))
        out.append((p + "post_attention_layernorm.weight", (d,), "ones"))
        out.append((p + "mlp.gate_proj.weight", (f, d), "normal"))
        out.append((p + "mlp.up_proj.weight", (f, d), "normal"))
        out.append((p + "mlp.down_proj.weight", (d, f), "normal"))
    out.append(("model.norm.weight", (d,), "ones"))
    if not s["tied"]:
        out.append(("lm_head.weight", (s["vocab"], d), "normal"))
    return out


def numel(shape):
    n = 1
    for x in shape:
        n *= x
    return n


def plan_shards(specs, esize, max_bytes):
    """Consecutive tensors, greedily, at most max_bytes per shard (a bigger tensor gets its own)."""
    shards, cur, size = [], [], 0
    for sp in specs:
        b = numel(sp[1]) * esize
        if cur and size + b > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(sp)
        size += b
    if cur:
        shards.append(cur)
    return shards


def header_bytes(shard, st_dtype, esize):
    hdr, off = {}, 0
    for name, shape, _ in shard:
        b = numel(shape) * esize
        hdr[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [off, off + b]}
        off += b
    hdr["__metadata__"] = {"format": "pt"}
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # data starts 8-byte aligned, as the reference writer does
    return struct.pack("<Q", len(h)) + h, off


def write_tensor(fp, name, shape, kind, tdtype, seed, std, chunk_elems):
    import torch

    n = numel(shape)
    if kind == "ones":
        fp.write(torch.ones(n, dtype=tdtype).view(torch.uint8).numpy().data)
        return
    g = torch.Generator().manual_seed((seed * 1000003 + zlib.crc32(name.encode())) & 0x7FFFFFFFFFFFFFFF)
    buf = torch.empty(min(n, chunk_elems), dtype=torch.float32)
    done = 0
    while done < n:
        k = min(chunk_elems, n - done)
        x = buf[:k].normal_(0.0, std, generator=g)
        fp.write(x.to(tdtype).view(torch.uint8).numpy().data)
        done += k


def config_json(s, n_layers, torch_dtype):
    c = {
        "architectures": [s["arch"]], "model_type": s["model_type"], "hidden_size": s["hidden"],
        "intermediate_size": s["inter"], "num_hidden_layers": n_layers, "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"], "vocab_size": s["vocab"], "max_position_embeddings": s["max_pos"],
        "rms_norm_eps": s["eps"], "rope_theta": s["rope_theta"], "hidden_act": "silu",
        "tie_word_embeddings": s["tied"], "initializer_range": 0.02, "bos_token_id": s["bos"],
        "eos_token_id": s["eos"], "torch_dtype": torch_dtype, "use_cache": True,
    }
    if s["model_type"] == "llama":
        c.update(attention_bias=False, mlp_bias=False, pretraining_tp=1)
    else:
        c.update(use_sliding_window=False)
    return c


def complete(d):
    return os.path.isfile(os.path.join(d, "config.json")) and os.path.isfile(
        os.path.join(d, "model.safetensors.index.json"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama2-7b")
    ap.add_argument("--layers", type=int, help="build only the first N layers (same width)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--shard-gb", type=float, default=4.0, help="largest shard, 1e9 bytes (4)")
    ap.add_argument("--chunk-mb", type=float, default=64.0, help="float32 draw buffer, MB (64)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the folder exists")
    a = ap.parse_args()
    s = SHAPES[a.shape]
    L = s["layers"] if a.layers is None else a.layers
    if not 1 <= L <= s["layers"]:
        ap.error(f"--layers must be in [1, {s['layers']}]")
    st_dtype, torch_name, esize = DTYPES[a.dtype]
    d = a.dir or os.path.join(BIG_DIR, f"{s['short']}-{a.dtype}" + (f"-{L}l" if L != s["layers"] else ""))
    if not a.force and complete(d):
        print(f"make_big: {d} exists, skipping")
        return 0

    import torch

    torch.set_num_threads(max(1, a.threads))
    tdtype = getattr(torch, torch_name)
    specs = tensor_specs(s, L)
    n_params = sum(numel(sp[1]) for sp in specs)
    total = n_params * esize
    parent = os.path.dirname(os.path.abspath(d))
    os.makedirs(parent, exist_ok=True)
    free = shutil.disk_usage(parent).free
    if free < total + (1 << 30):
        sys.exit(f"make_big: {total / 1e9:.2f} GB needed in {parent}, {free / 1e9:.2f} GB free")
    shards = plan_shards(specs, esize, int(a.shard_gb * 1e9))
    tmp = f"{os.path.abspath(d)}.partial-{os.getpid()}"
    os.makedirs(tmp)
    print(f"make_big: {a.shape}, {L} layers, {n_params / 1e9:.3f}B parameters, {st_dtype}: {total / 1e9:.2f} GB "
          f"in {len(shards)} shard(s) -> {d}", flush=True)
    t0 = time.time()
    chunk = max(1 << 16, int(a.chunk_mb * 1e6 / 4))
    weight_map = {}
    try:
        for i, shard in enumerate(shards):
            fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
            head, size = header_bytes(shard, st_dtype, esize)
            t1 = time.time()
            with open(os.path.join(tmp, fname), "wb") as fp:
                fp.write(head)
                for name, shape, kind in shard:
                    write_tensor(fp, name, shape, kind, tdtype, a.seed, a.std, chunk)
                    weight_map[name] = fname
                if fp.tell() != len(head) + size:
                    raise RuntimeError(f"{fname}: wrote {fp.tell()} bytes, expected {len(head) + size}")
            print(f"make_big: {fname}: {len(shard)} tensors, {(len(head) + size) / 1e9:.2f} GB, "
                  f"{time.time() - t1:.1f} s", flush=True)
        with open(os.path.join(tmp, "model.safetensors.index.json"), "w") as fp:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, fp, indent=2)
            fp.write("\n")
        with open(os.path.join(tmp, "config.json"), "w") as fp:
            json.dump(config_json(s, L, torch_name), fp, indent=2)
            fp.write("\n")
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.rename(tmp, d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"make_big: {n_params / 1e9:.3f}B parameters written to {d} in {time.time() - t0:.1f} s "
          f"(peak RSS {rss:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
