#!/usr/bin/env python3
"""Writes a BF16 copy of a safetensors checkpoint (bench/run.sh's BENCH_BF16 rows).

Every floating-point tensor (F32, F16, F64) is rounded to BF16 (torch's round-to-nearest-even);
integer and bool tensors are copied as they are. Names, shapes and the shard layout (a single
model.safetensors or a sharded index) are kept, and so is the header metadata. config.json gets
"torch_dtype" and "dtype" (transformers 5's name) "bfloat16"; the folder's other files
(generation_config.json, tokenizer files) are copied. Tensors are read one at a time from the
source's mapping, so the memory allocated peaks at about the BF16 copy of one shard (the peak RSS
also counts the mapped source pages: ~3.5 GB for qwen2-0.5b's 2 GB checkpoint).

Does nothing if DST already holds config.json and the weights (the run is cheap to redo with
--force); a copy left by an earlier tool whose config.json still says another dtype has that
field set to bfloat16, nothing else changes. Written into DST.tmp, then renamed.

Usage: python3 bench/to_bf16.py SRC DST [--force]
       (bench/run.sh: SRC cache/bench/mbert-base, DST cache/bench/mbert-base-bf16)
"""
import argparse
import json
import os
import shutil
import sys
import time

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def complete(d):
    return os.path.isfile(os.path.join(d, "config.json")) and any(
        os.path.isfile(os.path.join(d, f)) for f in WEIGHT_FILES)


def fix_config(path):
    """config.json's dtype fields set to bfloat16; True when the file changed."""
    with open(path) as f:
        cfg = json.load(f)
    changed = False
    for key in ("torch_dtype", "dtype"):
        if cfg.get(key, "bfloat16") != "bfloat16" or (key == "torch_dtype" and key not in cfg):
            cfg[key] = "bfloat16"
            changed = True
    if changed:
        with open(path + ".tmp", "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        os.replace(path + ".tmp", path)
    return changed


def convert_file(src, dst):
    """One safetensors file to BF16; returns (tensors, converted, bytes written of tensor data)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    out, n_conv, nbytes = {}, 0, 0
    with safe_open(src, framework="pt") as f:
        meta = f.metadata() or {}
        for name in f.keys():
            t = f.get_tensor(name)
            if t.is_floating_point() and t.dtype != torch.bfloat16:
                t = t.to(torch.bfloat16)
                n_conv += 1
            out[name] = t.contiguous()
            nbytes += t.numel() * t.element_size()
    meta.setdefault("format", "pt")
    save_file(out, dst, metadata=meta)
    return len(out), n_conv, nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--force", action="store_true", help="rewrite DST even if it exists")
    a = ap.parse_args()
    src, dst = os.path.normpath(a.src), os.path.normpath(a.dst)
    if not complete(src):
        print(f"to_bf16: {src} has no config.json and model.safetensors (or index)", file=sys.stderr)
        return 1
    if not a.force and complete(dst):
        fixed = fix_config(os.path.join(dst, "config.json"))
        print(f"to_bf16: {dst} exists, skipping" + (" (config.json's dtype set to bfloat16)" if fixed else ""))
        return 0

    t0 = time.time()
    tmp = dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    index = os.path.join(src, "model.safetensors.index.json")
    if os.path.isfile(index):
        with open(index) as f:
            idx = json.load(f)
        shards = sorted(set(idx["weight_map"].values()))
    else:
        idx, shards = None, ["model.safetensors"]
    n = n_conv = nbytes = 0
    for s in shards:
        a1, a2, a3 = convert_file(os.path.join(src, s), os.path.join(tmp, s))
        n, n_conv, nbytes = n + a1, n_conv + a2, nbytes + a3
    if idx is not None:
        idx.setdefault("metadata", {})["total_size"] = nbytes
        with open(os.path.join(tmp, "model.safetensors.index.json"), "w") as f:
            json.dump(idx, f, indent=2)
    for name in os.listdir(src):  # config, generation config, tokenizer files
        p = os.path.join(src, name)
        if os.path.isfile(p) and not name.endswith(".safetensors") and name != "model.safetensors.index.json":
            shutil.copy2(p, os.path.join(tmp, name))
    fix_config(os.path.join(tmp, "config.json"))
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    print(f"to_bf16: {n} tensors ({n_conv} rounded to BF16), {nbytes / 1e6:.0f} MB, written to {dst} "
          f"in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
