#!/usr/bin/env python3
"""Small random-weight causal models paired with the golden BPE tokenizers, for the command-line
tests of causal LMs (tests/cli/test_cli.sh): a Qwen2 with the Qwen2-style byte-level BPE and a
Gemma 3 with the Gemma-style SentencePiece BPE. Their predictions are meaningless; the tests
check the commands' behaviour, the numerics are checked by tests/unit/test_model.c.

usage: python3 tools/make_cli_models.py   (needs: pip install torch transformers tokenizers)
"""
import os
import shutil

import torch
from tokenizers import Tokenizer
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden")


def build(name, tok_name, make):
    tok_path = os.path.join(ROOT, "tok", tok_name, "tokenizer.json")
    tok = Tokenizer.from_file(tok_path)
    out = os.path.join(ROOT, "cli", name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = make(tok)
    model.save_pretrained(out)
    shutil.copy(tok_path, os.path.join(out, "tokenizer.json"))
    print(out, sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)))


def qwen2(tok):
    eos = tok.token_to_id("<|endoftext|>")
    cfg = Qwen2Config(vocab_size=tok.get_vocab_size(True), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, eos_token_id=eos, bos_token_id=None)
    return Qwen2ForCausalLM(cfg)


def gemma3(tok):
    cfg = Gemma3TextConfig(vocab_size=tok.get_vocab_size(True), hidden_size=32, intermediate_size=48,
                           num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                           max_position_embeddings=128, sliding_window=4,
                           layer_types=["sliding_attention", "full_attention"],
                           pad_token_id=tok.token_to_id("<pad>"), eos_token_id=tok.token_to_id("<eos>"),
                           bos_token_id=tok.token_to_id("<bos>"))
    return Gemma3ForCausalLM(cfg)


if __name__ == "__main__":
    build("qwen2", "bpe_qwen2", qwen2)
    build("gemma3", "bpe_spm_gemma", gemma3)
