#!/usr/bin/env python3
"""Regenerates tests/golden/tok/: small mBERT-like (WordPiece) and XLM-R-like (Unigram) tokenizers
trained on the multilingual cloze data in ../shared/data-raw, and the expected encodings of a
fixed list of test strings, computed with HuggingFace `tokenizers`.

    python3 tools/make_tok_golden.py            # everything (tokenizers + expectations)
    python3 tools/make_tok_golden.py --expect   # keep the committed tokenizer files, redo expect.jsonl

Layout, one folder per tokenizer:
    tests/golden/tok/<name>/tokenizer.json      (for WordPiece also vocab.txt + tokenizer_config.json)
    tests/golden/tok/<name>/expect.jsonl        {"text", "ids", "ids_nospecial", "tokens", "decoded"} per line
                                                (decoded: Tokenizer.decode(ids, skip_special_tokens=True))

wordpiece/ and unigram/ are the two main tokenizers (model tests copy them): their vocabularies
must not change once committed, so the main run only trains when they are missing.

BPE tokenizers (bpe_*; trained only when missing, like the two above; their expectations use the
same strings plus BPE_EXTRA):
    bpe_gpt2        GPT-2 style: ByteLevel pre-tokenizer (GPT-2 regex), legacy "a b" merges
    bpe_qwen2       Qwen2 style: NFC, Split(Qwen2 regex, isolated) + ByteLevel(use_regex=false), no BOS
    bpe_llama3      Llama-3 style: Split(Llama-3 regex) + ByteLevel, ignore_merges, BOS template
    bpe_spm         Llama-2 style SentencePiece BPE with byte_fallback (sentencepiece-trained,
                    converted by transformers' LlamaTokenizer), BOS template, [a, b] merges
    bpe_spm_gemma   Gemma style (GemmaTokenizer conversion: Replace normalizer, no prefix space)
    bpe_gpt2_prefix bpe_gpt2 with [a, b] merges and ByteLevel add_prefix_space (rebuilt every run)
    bpe_affix       continuing_subword_prefix "##" + end_of_word_suffix "</w>" + unk, BPEDecoder
Each but bpe_affix also gets tokenizer.gguf, the same vocabulary as llama.cpp's converters write GGUF metadata
(gpt2 + tokenizer.ggml.pre; llama + scores/token types, no merges), which matrice must load into
the same ids; the run also reports how transformers' own GGUF tokenizer loading compares.
Needs: tokenizers, transformers (v5), sentencepiece, protobuf, gguf.
"""
import argparse
import base64
import glob
import json
import os
import random
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "tok")
RAW = os.environ.get("MT_DATA_RAW", os.path.join(os.path.dirname(ROOT), "shared", "data-raw"))
LANGS = ["en", "de", "fr", "es", "ru", "zh-hans", "ja", "ko", "ar", "tr", "fi", "hu", "vi", "id"]

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # deterministic training
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors  # noqa: E402
from tokenizers.models import WordPiece  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Corpus: mParaRel patterns filled with mLAMA/T-REx labels, 14 languages.

def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def filled_sentences(lang, per_rel_patterns, per_pattern_tuples, seed):
    rng = random.Random(seed)
    out = []
    pdir = os.path.join(RAW, "mpararel", "patterns", lang)
    tdir = os.path.join(RAW, "mpararel", "tuples", lang)
    for pfile in sorted(glob.glob(os.path.join(pdir, "P*.jsonl"))):
        tfile = os.path.join(tdir, os.path.basename(pfile))
        if not os.path.exists(tfile):
            continue
        pats = [p["pattern"] for p in read_jsonl(pfile)][:per_rel_patterns]
        tups = read_jsonl(tfile)
        for pat in pats:
            for t in rng.sample(tups, min(per_pattern_tuples, len(tups))):
                out.append(pat.replace("[X]", t["sub_label"]).replace("[Y]", t["obj_label"]))
    return out


def corpus():
    lines = []
    for i, lang in enumerate(LANGS):
        lines += filled_sentences(lang, 12, 12, 1000 + i)
    return lines


# ----------------------------------------------------------------------------------------------
# WordPiece (mBERT-like)

def bert_layout(trained_vocab):
    """mBERT ids: [PAD] 0, [unused1..99] 1-99, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, rest."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    ordered = ["[PAD]"] + ["[unused%d]" % i for i in range(1, 100)] + specials[1:]
    rest = [t for t, _ in sorted(trained_vocab.items(), key=lambda kv: kv[1]) if t not in specials]
    ordered += rest
    return {t: i for i, t in enumerate(ordered)}


def build_wordpiece(vocab, lowercase, template):
    tok = Tokenizer(WordPiece(vocab=vocab, unk_token="[UNK]", continuing_subword_prefix="##",
                              max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if template:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    else:
        tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]])
    return tok


def train_wordpiece(lines, lowercase):
    """A WordPiece vocabulary, deterministically. (tokenizers' WordPieceTrainer breaks count ties in
    hash-map order, so two runs differ.) A SentencePiece unigram model is trained on the text as
    BertNormalizer + BertPreTokenizer see it; a piece starting with U+2581 becomes a word-initial
    token, any other piece a "##" continuation; every kept character gets both forms."""
    import sentencepiece as spm
    norm = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                      lowercase=lowercase)
    pre = pre_tokenizers.BertPreTokenizer()
    words = [" ".join(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(l))) for l in lines]
    tmp = tempfile.mkdtemp()
    try:
        txt = os.path.join(tmp, "corpus.txt")
        with open(txt, "w", encoding="utf-8") as f:
            f.write("\n".join(words) + "\n")
        spm.SentencePieceTrainer.train(
            input=txt, model_prefix=os.path.join(tmp, "wp"), vocab_size=4200, model_type="unigram",
            normalization_rule_name="identity", character_coverage=0.995, num_threads=1,
            shuffle_input_sentence=False, max_sentencepiece_length=12, minloglevel=2)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "wp.model"))
        pieces = [sp.id_to_piece(i) for i in range(3, sp.get_piece_size())]
    finally:
        shutil.rmtree(tmp)
    out, seen = [], set()

    def add(t):
        if t and t not in seen and t != "##":
            seen.add(t)
            out.append(t)
    for p in pieces:
        for ch in p.replace("\u2581", ""):
            add(ch)
            add("##" + ch)
    for p in pieces:
        add(p[1:] if p.startswith("\u2581") else "##" + p)
    return bert_layout({t: i for i, t in enumerate(out)})


def save_wordpiece(name, vocab, lowercase, template):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    tok = build_wordpiece(vocab, lowercase, template)
    tok.save(os.path.join(d, "tokenizer.json"), pretty=True)
    inv = sorted(vocab.items(), key=lambda kv: kv[1])
    assert [i for _, i in inv] == list(range(len(inv)))
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        for t, _ in inv:
            f.write(t + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"do_lower_case": lowercase, "tokenizer_class": "BertTokenizer",
                   "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "cls_token": "[CLS]", "mask_token": "[MASK]"}, f, indent=2)
        f.write("\n")


def load_vocab_txt(path):
    with open(path, encoding="utf-8") as f:
        return {line.rstrip("\n"): i for i, line in enumerate(f)}


# ----------------------------------------------------------------------------------------------
# Unigram (XLM-R-like): SentencePiece unigram + nmt_nfkc, converted as transformers v5 does.

def train_unigram(lines, d):
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizer

    tmp = tempfile.mkdtemp()
    try:
        txt = os.path.join(tmp, "corpus.txt")
        with open(txt, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        spm.SentencePieceTrainer.train(
            input=txt, model_prefix=os.path.join(tmp, "spm"), vocab_size=5000, model_type="unigram",
            normalization_rule_name="nmt_nfkc", character_coverage=0.9995, num_threads=1,
            shuffle_input_sentence=False, minloglevel=2)
        sdir = os.path.join(tmp, "xlmr")
        os.makedirs(sdir)
        shutil.copy(os.path.join(tmp, "spm.model"), os.path.join(sdir, "sentencepiece.bpe.model"))
        hf = XLMRobertaTokenizer.from_pretrained(sdir)
        j = json.loads(hf.backend_tokenizer.to_str())
    finally:
        shutil.rmtree(tmp)
    # XLM-R's <mask> absorbs the space before it (lstrip=true in the published tokenizer).
    for a in j["added_tokens"]:
        if a["content"] == "<mask>":
            a["lstrip"] = True
    assert j["model"]["type"] == "Unigram" and j["normalizer"]["type"] == "Precompiled"
    assert j["model"]["vocab"][3][0] == "<unk>" and j["model"]["vocab"][-1][0] == "<mask>"
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "tokenizer.json"), j)


def write_json(path, j, compact=False):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(j, f, ensure_ascii=False, indent=1)
        f.write("\n")
    Tokenizer.from_file(path)  # must load in HF


def unigram_variants(main):
    """Other spellings of the same model seen in published XLM-R-style tokenizer.json files."""
    with open(main, encoding="utf-8") as f:
        base = json.load(f)
    charsmap = base["normalizer"]["precompiled_charsmap"]
    out = {}
    # transformers v4 SpmConverter layout, with the pre-0.14 Metaspace spelling (add_prefix_space).
    j = json.loads(json.dumps(base))
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": charsmap},
        {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]}
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    j["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    j["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                           "trim_offsets": True, "add_prefix_space": True}
    out["unigram_v4"] = j
    # SentencePiece-faithful layout (SpmConverter.build_tokenizer_from_spm_proto, non-legacy):
    # Replace with \A/\z anchors, prepend_scheme first, split=false; plus a normalized added token.
    j = json.loads(json.dumps(base))
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": charsmap},
        {"type": "Replace", "pattern": {"Regex": "\\A +| +\\z"}, "content": ""},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                          "split": False}
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    nid = len(j["model"]["vocab"])
    j["model"]["vocab"].append(["<extra>", 0.0])
    j["added_tokens"].append({"id": nid, "content": "<extra>", "single_word": False, "lstrip": False,
                              "rstrip": True, "normalized": True, "special": False})
    out["unigram_spm"] = j
    # Llama-2-style spelling on a Unigram model: no pre-tokenizer, Prepend + Replace normalizer,
    # no charsmap, and byte_fallback with <0xXX> pieces.
    j = json.loads(json.dumps(base))
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    j["pre_tokenizer"] = None
    j["model"]["byte_fallback"] = True
    j["model"]["vocab"] += [["<0x%02X>" % b, -20.0] for b in range(256)]
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    out["unigram_bytefallback"] = j
    return out


def wordpiece_variants(main):
    with open(main, encoding="utf-8") as f:
        base = json.load(f)
    out = {}
    # Sequence normalizer spelled out (NFD, StripAccents, Lowercase), Whitespace / Punctuation
    # pre-tokenizers, single_word / lstrip / rstrip added tokens.
    j = json.loads(json.dumps(base))
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"},
        {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
        {"type": "Strip", "strip_left": True, "strip_right": True}]}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"},
        {"type": "Digits", "individual_digits": True}]}
    vocab = j["model"]["vocab"]
    nid = max(vocab.values()) + 1
    for content, sw, ls, rs, norm in [("ist", True, False, False, True), ("[X]", False, True, True, False),
                                      ("paris", False, False, False, True)]:
        j["added_tokens"].append({"id": nid, "content": content, "single_word": sw, "lstrip": ls,
                                  "rstrip": rs, "normalized": norm, "special": False})
        nid += 1
    out["wordpiece_seq"] = j
    # Regex / string Split with every behavior, Whitespace (\w+|[^\w\s]+), CharDelimiterSplit,
    # BertNormalizer keeping accents while lowercasing, no CJK spacing; Sequence post-processor.
    j = json.loads(json.dumps(base))
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": False,
         "lowercase": True},
        {"type": "NFC"}]}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Removed", "invert": False},
        {"type": "Split", "pattern": {"String": "-"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"String": "'"}, "behavior": "MergedWithNext", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[0-9]"}, "behavior": "Contiguous", "invert": False},
        {"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Isolated", "invert": True},
        {"type": "CharDelimiterSplit", "delimiter": "@"},
        {"type": "Whitespace"}]}
    j["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        {"type": "BertProcessing", "sep": ["[SEP]", vocab["[SEP]"]], "cls": ["[CLS]", vocab["[CLS]"]]}]}
    out["wordpiece_split"] = j
    return out


# ----------------------------------------------------------------------------------------------
# Character classes exactly as the installed `tokenizers` sees them, probed code point by code
# point, written as C range tables (src/tok/tok_unitab.c). tokenizers takes Cc/Cf/Cn/Co, P* and Mn
# from the old `unicode_categories` crate (so e.g. emoji newer than its tables count as "other" and
# BertNormalizer drops them), \w from the `regex` crate, lowercase from Rust's char::to_lowercase.

def probe_tables():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    strip = normalizers.StripAccents()  # drops any combining mark (Mn, Mc, Me)
    bstrip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                        lowercase=False)  # NFD, then drops Mn only
    lower = normalizers.Lowercase()
    bert = pre_tokenizers.BertPreTokenizer()
    ws = pre_tokenizers.Whitespace()
    digits = pre_tokenizers.Digits(individual_digits=True)
    sets = {"other": [], "cleanws": [], "punct": [], "mn": [], "mark": [], "word": [], "numeric": []}
    low = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        r = clean.normalize_str(ch)
        if r == "" and c not in (0, 0xFFFD):
            sets["other"].append(c)
        elif r == " ":
            sets["cleanws"].append(c)
        if bstrip.normalize_str(ch) == "":
            sets["mn"].append(c)
        if strip.normalize_str(ch) == "":
            sets["mark"].append(c)
        if len(bert.pre_tokenize_str("a" + ch + "a")) == 3:
            sets["punct"].append(c)
        if len(ws.pre_tokenize_str("a" + ch + "a")) == 1:
            sets["word"].append(c)
        if len(digits.pre_tokenize_str("a" + ch + "a")) == 3:
            sets["numeric"].append(c)
        lc = lower.normalize_str(ch)
        if lc != ch:
            low.append((c, [ord(x) for x in lc]))
    return sets, low


def onig_sets():
    """Code points Oniguruma (as tokenizers compiles Split/Replace regexes) matches with \\s, \\p{L}
    and \\p{N}: one Split over a string of every code point, the removed chars are the matches."""
    cps = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    s = "".join(chr(c) for c in cps)
    out = {}
    for name, pat in (("s", r"\s"), ("L", r"\p{L}"), ("N", r"\p{N}")):
        keep = bytearray(len(s))
        for _, (a, b) in pre_tokenizers.Split(Regex(pat), "removed").pre_tokenize_str(s):
            keep[a:b] = b"\x01" * (b - a)
        out[name] = [cps[i] for i in range(len(s)) if not keep[i]]
    return out


def onig_class_fragments():
    """PCRE2 class fragments for src/tok/pretok.c's rewriting: Oniguruma's \\s in full, and the
    letters / numbers Oniguruma knows beyond Unicode 14 (PCRE2 10.42's tables, which are Python
    3.11's unicodedata)."""
    import unicodedata
    sets = onig_sets()
    lines = [""]

    def frag(cps):
        return "".join("\\\\x{%X}" % a if a == b else "\\\\x{%X}-\\\\x{%X}" % (a, b) for a, b in ranges(cps))
    assert unicodedata.unidata_version == "14.0.0", unicodedata.unidata_version
    for name, cat in (("L", "L"), ("N", "N")):
        extra = [c for c in sets[name] if not unicodedata.category(chr(c)).startswith(cat)]
        have = set(sets[name])
        missing = [c for c in range(0x110000) if unicodedata.category(chr(c)).startswith(cat) and c not in have]
        assert not missing, (name, missing[:10])  # only additions can be expressed as a union
        lines.append("const char tok_onig_%s_extra[] = \"%s\";" % (name, frag(extra)))
    lines.append("const char tok_onig_space[] = \"%s\";" % frag(sets["s"]))
    return lines


def ranges(cps):
    out = []
    for c in cps:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def write_unicode_tables(path):
    import tokenizers
    sets, low = probe_tables()
    lines = ["/* Generated by tools/make_tok_golden.py from tokenizers %s: do not edit." % tokenizers.__version__,
             " * Character classes as HuggingFace tokenizers applies them (see the script). */",
             "#include \"tok_internal.h\"", ""]
    for name, cps in sets.items():
        rs = ranges(cps)
        lines.append("static const uint32_t tab_%s[][2] = {" % name)
        for i in range(0, len(rs), 8):
            lines.append("    " + " ".join("{0x%X, 0x%X}," % (a, b) for a, b in rs[i:i + 8]))
        lines.append("};")
        lines.append("const tok_range_table tok_uni_%s = {tab_%s, %d};" % (name, name, len(rs)))
        lines.append("")
    assert all(len(m) <= 3 for _, m in low)
    lines.append("const tok_lower_entry tok_uni_lower_tab[] = {")
    ents = []
    for c, m in low:
        k = len(m)
        m = m + [0] * (3 - k)
        ents.append("{0x%X, %d, {0x%X, 0x%X, 0x%X}}," % (c, k, m[0], m[1], m[2]))
    for i in range(0, len(ents), 4):
        lines.append("    " + " ".join(ents[i:i + 4]))
    lines.append("};")
    lines.append("const int tok_uni_lower_n = %d;" % len(low))
    lines += onig_class_fragments()
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------------
# Test strings

HAND = [
    "",
    " ",
    "   ",
    "\t",
    "\n\n",
    "a",
    "Paris is the capital of [MASK] .",
    "Paris is the capital of [MASK].",
    "Paris is the capital of [MASK]",
    "[MASK] is the capital of France.",
    "[MASK][MASK] [MASK]",
    "Pariisi on [MASK] pääkaupunki.",
    "Paris is the capital of <mask>.",
    "Paris is the capital of <mask> .",
    "Paris is the capital of   <mask>   .",
    "<mask> is the capital of France.",
    "<mask><mask> <mask>",
    "Pariisi on <mask> pääkaupunki.",
    "[CLS] Paris [SEP] France [SEP]",
    "<s> Paris </s> France </s>",
    "<s>Paris</s>",
    "[cls] lowercase specials [mask] are not special",
    "<MASK> upper mask",
    "[PAD][UNK] <pad><unk>",
    "  leading spaces",
    "trailing spaces   ",
    "  both   sides  ",
    "many     inner      spaces",
    "tab\tseparated\twords",
    "line\nbreaks\r\nand\rreturns",
    "nul\x00byte",
    "del\x7fchar and bell\x07",
    "zero\u200bwidth\u200bspace",
    "\ufeffBOM at start",
    "soft\u00adhyphen",
    "no\u00a0break\u00a0space and\u2003em space",
    "ZWJ\u200dand ZWNJ\u200c",
    "replacement \ufffd char",
    "café naïve résumé façade Ångström",
    "cafe\u0301 combining acute",
    "e\u0301\u0302\u0303 stacked marks",
    "Ǆ ǅ ǆ titlecase digraphs",
    "Straße GROSS ß ẞ",
    "İstanbul ıi IŞIK şişe",
    "ﬁ ﬂ ligatures ﬀ",
    "①②③ ⅷ ㎏ ㍻",
    "Ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ　１２３！",
    "ｶﾀｶﾅ half-width katakana",
    "x² H₂O ½ ¼",
    "東京は日本の首都です。",
    "北京是中国的首都。",
    "𠮷野家 supplementary CJK 𪚥",
    "日本語とEnglishのmixed文章",
    "서울은 한국의 수도입니다.",
    "\u1100\u1161\u11a8 conjoining jamo \u1112\u1161\u11ab",
    "ㄱㄴㄷ compatibility jamo",
    "القاهرة هي عاصمة مصر.",
    "مُحَمَّدٌ رَسُولُ with harakat",
    "עברית שלום",
    "Москва — столица России.",
    "Ёлка ёжик",
    "Ελληνικά Αθήνα",
    "हिन्दी भाषा",
    "ภาษาไทย",
    "Tiếng Việt có dấu: Hà Nội là thủ đô của Việt Nam.",
    "Jakarta adalah ibu kota Indonesia.",
    "Helsinki on Suomen pääkaupunki.",
    "Budapest Magyarország fővárosa.",
    "Ankara Türkiye'nin başkentidir.",
    "emoji 😀 test 🎉🎉",
    "family 👨‍👩‍👧‍👦 zwj",
    "thumbs 👍🏽 skin tone 👋🏿",
    "flag 🇫🇷🇩🇪 regional",
    "keycap 1️⃣ #️⃣ variation ❤️",
    "math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝",
    "punctuation!!! ??? ... ,,, ;;; :::",
    "quotes \"double\" 'single' «guillemets» „German“ ‘curly’",
    "dashes - – — ‐ and ellipsis …",
    "brackets (round) [square] {curly} <angle>",
    "symbols $100 €50 £30 ¥1000 ©®™ § ¶ @ # % ^ & * ~ `",
    "email: someone@example.com url: https://example.org/path?q=1&r=2",
    "numbers 3.14159 1,000,000 -42 +7 1e10",
    "dates 2024-01-15 15/01/2024",
    "CamelCaseWord snake_case_word kebab-case-word",
    "ALL CAPS SENTENCE HERE",
    "a" * 99,
    "b" * 100,
    "c" * 101,
    "Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstaltsgebäudereinigungsfirmenbesitzer",
    "x" * 150 + " short",
    "antidisestablishmentarianism floccinaucinihilipilification",
    "supercalifragilisticexpialidocious " * 3,
    "日本" * 60,
    "🎉" * 30,
    "mixed Москва東京Paris서울القاهرة",
    "Ångström\u0300\u0301 ω\u0342",
    "\u0300 leading combining mark",
    "\u00c5\u212b angstrom sign",
    "\u2028line separator\u2029paragraph",
    "\u0085next line",
    "\u3000ideographic\u3000space",
    "〜〜〜 wave dash ～",
    "privateuse \ue000 char",
    "unassigned \U000e0001 tag",
    "variation selectors 葛\U000e0100",
    "Mr. Smith's dog isn't here.",
    "U.S.A. e.g. i.e. etc.",
    "co-operate re-enter",
    "Ünïcödé ÀÉÎÕÜ àéîõü",
    "Żółć gęślą jaźń",
    "Čeština ěščřžýáíé",
    "Íslenska þ ð æ",
    "Dansk æ ø å",
    "Nederlands ĳ Ĳ",
    "▁ metaspace char ▁▁ in text",
    "## hashes ##ab",
    "[X] was born in [Y] .",
    "[X] est né à [Y].",
    "sentence ends with space ",
    " sentence starts with space",
    ".",
    "...",
    "?!",
    "中",
    "😀",
    "ä",
    "\u00e4\u0308",
    "[MASK]",
    "<mask>",
    " [MASK] ",
    " <mask> ",
    "a[MASK]b",
    "a<mask>b",
    "word[MASK]",
    "word<mask>",
    "[MASK]word",
    "<mask>word",
    "is <mask>.",
    "is\t<mask>.",
    "is  \n <mask>.",
    "<extra> extra token <extra>end",
    "ist das Paris? Paris ist die Hauptstadt, paris istanbul ist.",
    "Berlin ist [X] die Hauptstadt [X] von Deutschland",
    "``quoted'' text",
    "digits 0123456789 ٠١٢٣ ۴۵۶ १२३",
    "roman Ⅻ Ⅳ",
    "arrows → ← ↑ ↓ ⇒",
    "box ┌─┐ │ └─┘",
    "currency ₹ ₽ ₩ ₪ ₫",
    "ｶﾞｷﾞ ﾊﾟﾋﾟ half-width voiced",
    "ΟΔΟΣ Σίσυφος final sigma ΣΑΣ",
    "newer emoji 🥰 🫠 🧑‍🦰 🏳️‍🌈",
    "Hello-world it's re-do 42-43 a@b@c don't",
    "x1y22z333 0.5 ١٢٣",
    "windows\r\nline\rendings\n",
    "e-mail: jean-pierre@mail.fr's",
    "\u0301\u0301",
    "\u3164 hangul filler \u115f\u1160",
    "Ⓐⓑ ㈠ ㊀ ⁵ ₅ ℌ",
    "\U0001F1E6 lone regional indicator",
    "ṩ ạ̈ q\u0307\u0323",
    "तमिऴ् 가\u0301 ﷺ",
    "<0x41> byte token text <0xZZ>",
    "Лев Николаевич Толстой родился в Ясной Поляне.",
    "Sanat Kumara e' la gente [MASK] e\t<mask>\n",
]


def test_strings():
    out = list(HAND)
    # Real cloze prompts: for each language, 12 patterns from different relations, filled with
    # labels of a tuple (and some with the object slot masked in both styles).
    for i, lang in enumerate(LANGS):
        rng = random.Random(77 + i)
        pfiles = sorted(glob.glob(os.path.join(RAW, "mpararel", "patterns", lang, "P*.jsonl")))
        for k, pfile in enumerate(rng.sample(pfiles, min(12, len(pfiles)))):
            tfile = os.path.join(RAW, "mpararel", "tuples", lang, os.path.basename(pfile))
            if not os.path.exists(tfile):
                continue
            pats = read_jsonl(pfile)
            tups = read_jsonl(tfile)
            pat = rng.choice(pats)["pattern"]
            t = rng.choice(tups)
            s = pat.replace("[X]", t["sub_label"])
            if k % 4 == 1:
                s = s.replace("[Y]", "[MASK]")
            elif k % 4 == 2:
                s = s.replace("[Y]", "<mask>")
            else:
                s = s.replace("[Y]", t["obj_label"])
            out.append(s)
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


def write_expect(name, strings):
    d = os.path.join(OUT, name)
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "expect.jsonl"), "w", encoding="utf-8") as f:
        for s in strings:
            a = tok.encode(s, add_special_tokens=True)
            b = tok.encode(s, add_special_tokens=False)
            f.write(json.dumps({"text": s, "ids": a.ids, "ids_nospecial": b.ids, "tokens": b.tokens,
                                "decoded": tok.decode(a.ids, skip_special_tokens=True)},
                               ensure_ascii=False) + "\n")
    return tok


def check_vocab_txt(name, strings):
    """The vocab.txt fallback must encode like tokenizer.json (transformers' BertTokenizer)."""
    from transformers import BertTokenizer
    d = os.path.join(OUT, name)
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    cfg = json.load(open(os.path.join(d, "tokenizer_config.json")))
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(d, "vocab.txt"), tmp)
        shutil.copy(os.path.join(d, "tokenizer_config.json"), tmp)
        hf = BertTokenizer.from_pretrained(tmp)
        bad = 0
        for s in strings:
            for sp in (True, False):
                if hf.encode(s, add_special_tokens=sp) != tok.encode(s, add_special_tokens=sp).ids:
                    bad += 1
                    print("vocab.txt differs:", name, repr(s)[:80], file=sys.stderr)
        assert bad == 0, (name, cfg)
    finally:
        shutil.rmtree(tmp)


# ----------------------------------------------------------------------------------------------
# BPE tokenizers

GPT2_RE = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
QWEN2_RE = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_RE = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

BPE_EXTRA = [
    "1234567890123 4567 89 00000000 3.14159265358979 2024-01-15",
    "it's I'll we've they're I'm he'd don't IT'S WE'LL It'S O'Neil's",
    "it'\u017f long s and 'K",
    "def f(x):\n\treturn x  # comment\n\n\tif x:\n\t\tpass\r\n",
    "    four spaces\tand\ttabs   \n  \n",
    "\t\tindented\n    code\n",
    "emoji \U0001F916\U0001F44D\U0001F3FD \U0001F1EF\U0001F1F5 \u2728 mixed \u65e5\u672c\u8a9e \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0639\u0631\u0628\u064a",
    "Mongolian vowel separator a\u180eb a \u180e b",
    "Unicode 16: \u1c89\u1c8a\ua7cb \U000105c0\U000105c1 digits \U00010d40\U00010d41 \U000116d0",
    "<|endoftext|> text <|im_start|>user\nhi<|im_end|>\n",
    "<|begin_of_text|>Hello<|end_of_text|>",
    "<s> <unk> </s> <bos><eos><pad><mask><start_of_turn>user<end_of_turn> <extra_ud>",
    "NFC vs NFD: \u00e9 e\u0301 \u212b A\u030a \u1e9b\u0323",
    "\u0120\u010a already byte-level chars \u0120hello",
    "<0x41><0x0A> byte tokens as text",
    " \n ",
    "\r\n\r\n",
    "x" * 300,
    "ab" * 200,
    "   leading and trailing   ",
    "\u2581\u2581 metaspace \u2581x",
]


def bpe_strings():
    out = test_strings()
    seen = set(out)
    for s in BPE_EXTRA:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def train_bytelevel(lines, normalizer, pre, vocab_size, specials):
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    tok = Tokenizer(BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    tok.decoder = decoders.ByteLevel()
    return tok


def build_bpe_gpt2(lines, d):
    tok = train_bytelevel(lines, None, pre_tokenizers.ByteLevel(add_prefix_space=False), 3300, ["<|endoftext|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    j = json.loads(tok.to_str())
    j["model"]["merges"] = [a + " " + b for a, b in j["model"]["merges"]]  # GPT-2's legacy spelling
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "tokenizer.json"), j, compact=True)


def byte_split(regex):
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), "isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def build_bpe_qwen2(lines, d):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = train_bytelevel(lines, normalizers.NFC(), byte_split(QWEN2_RE), 3000, specials)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "tokenizer.json"), json.loads(tok.to_str()), compact=True)


def build_bpe_llama3(lines, d):
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    tok = train_bytelevel(lines, None, byte_split(LLAMA3_RE), 3000, specials)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    j = json.loads(tok.to_str())
    j["model"]["ignore_merges"] = True
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "tokenizer.json"), j, compact=True)


def train_spm_bpe(lines, d, gemma):
    """A SentencePiece BPE model with byte fallback (Llama-2 / Gemma trainer options), converted to
    tokenizer.json by transformers (LlamaTokenizer / GemmaTokenizer); tokenizer.model is kept for
    the GGUF metadata (scores, token types)."""
    import sentencepiece as spm
    from transformers import GemmaTokenizer, LlamaTokenizer
    tmp = tempfile.mkdtemp()
    try:
        txt = os.path.join(tmp, "corpus.txt")
        with open(txt, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        opts = dict(input=txt, model_prefix=os.path.join(tmp, "spm"), vocab_size=4000, model_type="bpe",
                    byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
                    remove_extra_whitespaces=False, normalization_rule_name="identity", character_coverage=0.995,
                    num_threads=1, shuffle_input_sentence=False, minloglevel=2)
        if gemma:
            opts.update(pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>",
                        bos_piece="<bos>", unk_piece="<unk>", add_dummy_prefix=False,
                        control_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>"],
                        user_defined_symbols=["<extra_ud>"])
        spm.SentencePieceTrainer.train(**opts)
        sdir = os.path.join(tmp, "hf")
        os.makedirs(sdir)
        shutil.copy(os.path.join(tmp, "spm.model"), os.path.join(sdir, "tokenizer.model"))
        hf = (GemmaTokenizer if gemma else LlamaTokenizer).from_pretrained(sdir)
        j = json.loads(hf.backend_tokenizer.to_str())
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(tmp, "spm.model"), os.path.join(d, "tokenizer.model"))
    finally:
        shutil.rmtree(tmp)
    assert j["model"]["type"] == "BPE" and j["model"]["byte_fallback"] and j["model"]["merges"]
    bos = "<bos>" if gemma else "<s>"
    j["model"]["unk_token"] = "<unk>"  # as the published Llama-2 / Gemma tokenizer.json files
    j["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {bos: {"id": bos, "ids": [j["model"]["vocab"][bos]], "tokens": [bos]}}}
    write_json(os.path.join(d, "tokenizer.json"), j, compact=True)


def build_bpe_affix(lines, d):
    """continuing_subword_prefix + end_of_word_suffix + unk (fuse_unk off), BertNormalizer and
    BertPreTokenizer, BPEDecoder: the CharBPE / OpenAI-GPT shape; a small alphabet so unknown
    chars occur."""
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    tok = Tokenizer(BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = BpeTrainer(vocab_size=2500, special_tokens=["<unk>", "<mask>"], show_progress=False, limit_alphabet=300,
                         continuing_subword_prefix="##", end_of_word_suffix="</w>")
    tok.train_from_iterator(lines, trainer)
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "tokenizer.json"), json.loads(tok.to_str()), compact=True)


BPE_BUILDERS = {
    "bpe_gpt2": build_bpe_gpt2,
    "bpe_qwen2": build_bpe_qwen2,
    "bpe_llama3": build_bpe_llama3,
    "bpe_spm": lambda lines, d: train_spm_bpe(lines, d, False),
    "bpe_spm_gemma": lambda lines, d: train_spm_bpe(lines, d, True),
    "bpe_affix": build_bpe_affix,
}


def write_gguf(name):
    """tokenizer.gguf beside tokenizer.json: the metadata llama.cpp's converters would write."""
    import gguf
    d = os.path.join(OUT, name)
    with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    path = os.path.join(d, "tokenizer.gguf")
    if name.startswith("bpe_spm"):
        from sentencepiece import sentencepiece_model_pb2 as pb
        proto = pb.ModelProto()
        with open(os.path.join(d, "tokenizer.model"), "rb") as f:
            proto.ParseFromString(f.read())
        gemma = name == "bpe_spm_gemma"
        w = gguf.GGUFWriter(path, "gemma3" if gemma else "llama")
        tokens = [p.piece for p in proto.pieces]
        if gemma:  # Gemma GGUFs spell whitespace-run tokens with real spaces
            tokens = [" " * len(t) if len(t) > 1 and set(t) == {"\u2581"} else t for t in tokens]
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores([p.score for p in proto.pieces])
        w.add_token_types([p.type for p in proto.pieces])  # sentencepiece's types are GGUF's
        spec = proto.trainer_spec
        w.add_bos_token_id(spec.bos_id)
        w.add_eos_token_id(spec.eos_id)
        w.add_unk_token_id(spec.unk_id)
        if spec.pad_id >= 0:
            w.add_pad_token_id(spec.pad_id)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        w.add_add_space_prefix(not gemma)
    else:
        vocab = j["model"]["vocab"]
        inv = sorted(vocab.items(), key=lambda kv: kv[1])
        assert [i for _, i in inv] == list(range(len(inv)))
        special = {a["id"] for a in j["added_tokens"] if a["special"]}
        merges = j["model"]["merges"]
        w = gguf.GGUFWriter(path, {"bpe_gpt2": "gpt2", "bpe_qwen2": "qwen2", "bpe_llama3": "llama"}[name])
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre({"bpe_gpt2": "gpt-2", "bpe_qwen2": "qwen2", "bpe_llama3": "llama-bpe"}[name])
        w.add_token_list([t for t, _ in inv])
        w.add_token_types([3 if i in special else 1 for _, i in inv])
        w.add_token_merges([m if isinstance(m, str) else m[0] + " " + m[1] for m in merges])
        first = {"bpe_gpt2": "<|endoftext|>", "bpe_qwen2": "<|endoftext|>", "bpe_llama3": "<|begin_of_text|>"}[name]
        last = {"bpe_gpt2": "<|endoftext|>", "bpe_qwen2": "<|endoftext|>", "bpe_llama3": "<|end_of_text|>"}[name]
        w.add_bos_token_id(vocab[first])
        w.add_eos_token_id(vocab[last])
        w.add_add_bos_token(name == "bpe_llama3")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def check_transformers_gguf(name, strings):
    """How transformers' GGUF tokenizer loading compares with the tokenizer.json (informational: its
    conversion drops Qwen2's NFC and Llama-3's ignore_merges; matrice follows the tokenizer.json)."""
    try:
        from transformers import AutoTokenizer
        hf = AutoTokenizer.from_pretrained(os.path.join(OUT, name), gguf_file="tokenizer.gguf")
    except Exception as ex:  # noqa: BLE001
        print("%s: transformers cannot load tokenizer.gguf: %s" % (name, str(ex)[:200]))
        return
    tok = Tokenizer.from_file(os.path.join(OUT, name, "tokenizer.json"))
    same = sum(hf.encode(s, add_special_tokens=True) == tok.encode(s, add_special_tokens=True).ids for s in strings)
    print("%s: transformers' GGUF tokenizer gives the tokenizer.json ids on %d/%d strings" % (name, same, len(strings)))


REAL_GEMMA = os.path.join(ROOT, "cache", "models", "gemma-3-270m-q4_k_m.gguf")  # tools/fetch_model.sh
GEMMA_EXTRA = [
    "The capital of France is",
    "La capitale de la France est",
    "Die Hauptstadt von Frankreich ist",
    "\u30d5\u30e9\u30f3\u30b9\u306e\u9996\u90fd\u306f",
    "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
    "a  b   c    d\t\te\n\n\nf [multimodal] <unused0> <mask>",
]


def real_gemma_expect():
    """The real Gemma 3 GGUF (when fetched): ids from transformers' GGUF tokenizer loading, an
    independent implementation of the same conversion, for test_tok to compare against."""
    if not os.path.exists(REAL_GEMMA):
        print("no %s: real_gemma3_gguf/ left as is" % REAL_GEMMA)
        return
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(os.path.dirname(REAL_GEMMA), gguf_file=os.path.basename(REAL_GEMMA))
    d = os.path.join(OUT, "real_gemma3_gguf")
    os.makedirs(d, exist_ok=True)
    strings = bpe_strings() + [s for s in GEMMA_EXTRA if s not in set(bpe_strings())]
    with open(os.path.join(d, "expect.jsonl"), "w", encoding="utf-8") as f:
        for s in strings:
            a = hf.encode(s, add_special_tokens=True)
            b = hf.encode(s, add_special_tokens=False)
            f.write(json.dumps({"text": s, "ids": a, "ids_nospecial": b, "tokens": hf.convert_ids_to_tokens(b),
                                "decoded": hf.decode(a, skip_special_tokens=True)}, ensure_ascii=False) + "\n")
    print("real_gemma3_gguf: %d strings (transformers' GGUF tokenizer)" % len(strings))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expect", action="store_true", help="only recompute expect.jsonl and variants")
    ap.add_argument("--tables", action="store_true", help="only regenerate src/tok/tok_unitab.c")
    ap.add_argument("--retrain", action="store_true", help="retrain wordpiece/ and unigram/ (changes ids!)")
    args = ap.parse_args()

    write_unicode_tables(os.path.join(ROOT, "src", "tok", "tok_unitab.c"))
    if args.tables:
        return
    os.makedirs(OUT, exist_ok=True)
    lines = None
    need_wp = args.retrain or not os.path.exists(os.path.join(OUT, "wordpiece", "vocab.txt"))
    need_un = args.retrain or not os.path.exists(os.path.join(OUT, "unigram", "tokenizer.json"))
    if (need_wp or need_un) and args.expect:
        sys.exit("--expect needs the committed tokenizers")
    if need_wp or need_un:
        lines = corpus()
        print("corpus: %d lines" % len(lines))
    if need_wp:
        save_wordpiece("wordpiece", train_wordpiece(lines, False), False, True)
        save_wordpiece("wordpiece_uncased", train_wordpiece(lines, True), True, False)
    else:  # rebuild the files from the committed vocab.txt (ids stay)
        for name, lower, tmpl in (("wordpiece", False, True), ("wordpiece_uncased", True, False)):
            save_wordpiece(name, load_vocab_txt(os.path.join(OUT, name, "vocab.txt")), lower, tmpl)
    if need_un:
        train_unigram(lines, os.path.join(OUT, "unigram"))
    for name, j in list(unigram_variants(os.path.join(OUT, "unigram", "tokenizer.json")).items()) + \
            list(wordpiece_variants(os.path.join(OUT, "wordpiece", "tokenizer.json")).items()):
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        write_json(os.path.join(OUT, name, "tokenizer.json"), j, compact=True)

    for name, build in BPE_BUILDERS.items():
        if args.retrain or not os.path.exists(os.path.join(OUT, name, "tokenizer.json")):
            if args.expect:
                sys.exit("--expect needs the committed tokenizers")
            lines = lines or corpus()
            build(lines, os.path.join(OUT, name))
        if name != "bpe_affix":
            write_gguf(name)
    # bpe_gpt2 respelled: [a, b] pair merges, ByteLevel add_prefix_space (on every piece between
    # added tokens), a ByteLevel normalizer-free Sequence decoder
    with open(os.path.join(OUT, "bpe_gpt2", "tokenizer.json"), encoding="utf-8") as f:
        j = json.load(f)
    j["model"]["merges"] = [m.split(" ") for m in j["model"]["merges"]]
    j["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    j["decoder"] = {"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": True,
                                                      "trim_offsets": True, "use_regex": True}]}
    os.makedirs(os.path.join(OUT, "bpe_gpt2_prefix"), exist_ok=True)
    write_json(os.path.join(OUT, "bpe_gpt2_prefix", "tokenizer.json"), j, compact=True)

    strings, bstrings = test_strings(), bpe_strings()
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(OUT, "*"))
                   if os.path.exists(os.path.join(p, "tokenizer.json")))
    for name in names:
        ss = bstrings if name.startswith("bpe_") else strings
        write_expect(name, ss)
        print("%s: %d strings" % (name, len(ss)))
    for name in BPE_BUILDERS:
        if name != "bpe_affix":
            check_transformers_gguf(name, bstrings)
    real_gemma_expect()
    for name in ("wordpiece", "wordpiece_uncased"):
        check_vocab_txt(name, strings)


if __name__ == "__main__":
    main()
