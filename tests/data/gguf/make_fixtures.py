#!/usr/bin/env python3
"""Writes the GGUF test fixtures of tests/unit/test_gguf.c with the official gguf-py writer,
and reference values from gguf-py's own dequantizer (gguf.quants.dequantize).

    python3 tests/data/gguf/make_fixtures.py                  # the small fixtures
    python3 tests/data/gguf/make_fixtures.py --gemma FILE     # + gemma3/ reference rows

Needs: pip install gguf numpy (gguf 0.19.0 wrote the committed files).

types.gguf      (v3) one tensor per supported ggml type plus Q2_K (known, not convertible),
                a 3-D and a 4-D F32 tensor, and metadata of all 13 value types, arrays of
                each scalar type, arrays of strings and nested arrays (array of arrays).
                Quantized tensors hold random block bytes (every bit pattern of the quants)
                with finite random f16 scales, so all code paths are compared.
ref/<name>.npy  gguf.quants.dequantize of each tensor of types.gguf, float32, HF shape.
small_v3.gguf   a small file (F32 + Q8_0 + a few keys); small_v2.gguf is the same bytes
                with version 2 (the little-endian layouts of v2 and v3 are identical).
align64.gguf    general.alignment = 64, so tensor offsets are multiples of 64.
gemma3/*.npy    (with --gemma) a few dequantized rows of the real Gemma 3 270M Q4_K_M file,
                one per type it holds, checked by test_gguf when that file is in the cache.
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(1234)


def f16_bytes(x):
    return np.asarray(x, dtype=np.float16).view(np.uint8)


def random_blocks(qtype, n_blocks):
    """Random bytes for n_blocks blocks of qtype, with the f16 scale fields set to finite values."""
    blck, tsize = gguf.GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(n_blocks, tsize), dtype=np.uint8)
    # offsets of the f16 fields in each block (ggml-common.h)
    halves = {T.Q8_0: [0], T.Q4_0: [0], T.Q5_0: [0], T.Q4_1: [0, 2], T.Q5_1: [0, 2],
              T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.Q2_K: [80, 82]}[qtype]
    for off in halves:
        b[:, off:off + 2] = f16_bytes(rng.uniform(-0.02, 0.02, size=n_blocks)).reshape(n_blocks, 2)
    return b


def add_quant(w, refs, name, qtype, rows, cols):
    blck, tsize = gguf.GGML_QUANT_SIZES[qtype]
    raw = random_blocks(qtype, rows * cols // blck).reshape(rows, cols // blck * tsize)
    w.add_tensor(name, raw, raw_dtype=qtype)
    refs[name] = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(rows, cols)


def add_metadata(w):
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.15625)
    w.add_bool("test.bool", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "h\u00e9llo w\u00f6rld \u2713")
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", 3.141592653589793)
    w.add_uint32("test.small_u64_as_u32", 7)
    w.add_key_value("test.arr_u8", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.arr_i8", [-128, 0, 127], V.ARRAY, sub_type=V.INT8)
    w.add_key_value("test.arr_u16", [0, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("test.arr_i16", [-32768, 5], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("test.arr_u32", [4000000000, 1], V.ARRAY, sub_type=V.UINT32)
    w.add_array("test.arr_i32", [-1, 0, 2147483647])
    w.add_array("test.arr_f32", [0.5, -1.25, 1e30])
    w.add_array("test.arr_bool", [True, False, True])
    w.add_key_value("test.arr_u64", [2**64 - 1, 3], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("test.arr_i64", [-(2**63), 9], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("test.arr_f64", [1e300, -0.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("test.arr_str", ["a", "", "\u00fcn\u00ef"])
    w.add_array("test.nested", [[1, 2, 3], [4], [5, 6]])
    w.add_array("test.nested_str", [["x", "y"], ["z"]])
    w.add_array("test.nested2", [[[1], [2, 3]], [[4]]])


def write(path, w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{os.path.relpath(path, HERE)}: {os.path.getsize(path)} bytes")


def make_types():
    path = os.path.join(HERE, "types.gguf")
    w = gguf.GGUFWriter(path, "testarch")
    add_metadata(w)
    refs = {}
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w.add_tensor("f32_3d", x)
    refs["f32_3d"] = x
    x = rng.standard_normal((1, 2, 1, 3)).astype(np.float32)
    w.add_tensor("f32_4d", x)
    refs["f32_4d"] = x
    h = rng.standard_normal((4, 40)).astype(np.float16)
    h.flat[:6] = [np.inf, -np.inf, -0.0, 6e-8, -3e-5, 65504.0]  # specials and subnormals
    w.add_tensor("f16", h)
    refs["f16"] = h.astype(np.float32)
    b = rng.standard_normal((3, 16)).astype(np.float32)
    b.flat[:3] = [np.inf, -0.0, 1e-40]
    braw = gguf.quants.quantize(b, T.BF16)
    w.add_tensor("bf16", braw, raw_dtype=T.BF16)
    refs["bf16"] = gguf.quants.dequantize(braw, T.BF16).astype(np.float32).reshape(3, 16)
    for name, qt in [("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1), ("q5_0", T.Q5_0), ("q5_1", T.Q5_1)]:
        add_quant(w, refs, name, qt, 3, 64)
    for name, qt in [("q4_k", T.Q4_K), ("q5_k", T.Q5_K), ("q6_k", T.Q6_K)]:
        add_quant(w, refs, name, qt, 2, 512)
    # a real quantization round trip too: gguf-py's Q8_0 quantizer on smooth data
    y = np.sin(np.arange(3 * 64, dtype=np.float32)).reshape(3, 64)
    yq = gguf.quants.quantize(y, T.Q8_0)
    w.add_tensor("q8_0_sin", yq, raw_dtype=T.Q8_0)
    refs["q8_0_sin"] = gguf.quants.dequantize(yq, T.Q8_0).astype(np.float32).reshape(3, 64)
    add_quant(w, {}, "q2_k", T.Q2_K, 1, 256)  # known type, not convertible
    write(path, w)
    os.makedirs(os.path.join(HERE, "ref"), exist_ok=True)
    for name, r in refs.items():
        np.save(os.path.join(HERE, "ref", name + ".npy"), np.ascontiguousarray(r, dtype="<f4"))


def make_small():
    path = os.path.join(HERE, "small_v3.gguf")
    w = gguf.GGUFWriter(path, "small")
    w.add_uint32("small.answer", 42)
    w.add_string("small.name", "v2 and v3 share a layout")
    w.add_array("small.words", ["one", "two"])
    x = np.arange(8, dtype=np.float32).reshape(2, 4) - 3.5
    w.add_tensor("x", x)
    q = gguf.quants.quantize(np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32), T.Q8_0)
    w.add_tensor("q", q, raw_dtype=T.Q8_0)
    write(path, w)
    data = bytearray(open(path, "rb").read())
    assert data[4:8] == (3).to_bytes(4, "little")
    data[4:8] = (2).to_bytes(4, "little")
    with open(os.path.join(HERE, "small_v2.gguf"), "wb") as f:
        f.write(data)
    print("small_v2.gguf: the same bytes with version 2")
    np.save(os.path.join(HERE, "ref", "small_x.npy"), x)
    np.save(os.path.join(HERE, "ref", "small_q.npy"),
            gguf.quants.dequantize(q, T.Q8_0).astype(np.float32).reshape(2, 32))


def make_align64():
    path = os.path.join(HERE, "align64.gguf")
    w = gguf.GGUFWriter(path, "align")
    w.add_custom_alignment(64)
    for i in range(3):
        w.add_tensor(f"t{i}", np.full((5,), i + 0.5, dtype=np.float32))
    write(path, w)


def make_gemma(model):
    """Reference rows of the real model: gguf-py's reader + dequantizer, one row set per type."""
    r = gguf.GGUFReader(model)
    ts = {t.name: t for t in r.tensors}
    out = os.path.join(HERE, "gemma3")
    os.makedirs(out, exist_ok=True)
    picks = [("token_embd.weight", [0, 2, 1000, 262143]),   # Q8_0
             ("blk.0.attn_q.weight", [0, 1023]),             # Q5_0
             ("blk.0.attn_output.weight", [0, 639]),         # Q4_K
             ("blk.0.ffn_down.weight", [0, 639]),            # Q6_K
             ("blk.17.attn_norm.weight", [0])]               # F32
    for name, rows in picks:
        t = ts[name]
        full = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        full = full.reshape(-1, int(t.shape[0]))
        sel = np.ascontiguousarray(full[rows], dtype="<f4")
        np.save(os.path.join(out, name + ".npy"), sel)
        print(f"gemma3/{name}.npy: {t.tensor_type.name} rows {rows}")
    with open(os.path.join(out, "rows.txt"), "w") as f:
        f.write("# tensor type rows (rows of dims[0] values dequantized by gguf.quants.dequantize)\n")
        for name, rows in picks:
            f.write(f"{name} {ts[name].tensor_type.name} {' '.join(map(str, rows))}\n")


if __name__ == "__main__":
    make_types()
    make_small()
    make_align64()
    if len(sys.argv) == 3 and sys.argv[1] == "--gemma":
        make_gemma(sys.argv[2])
