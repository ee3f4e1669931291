/* Tokenizers from GGUF metadata (llama.cpp's tokenizer.ggml.* keys), built to encode like the
 * HuggingFace tokenizer of the same model, i.e. like transformers' GGUF tokenizer conversion
 * (integrations/gguf/gguf_tokenizer_mapping.py) plus what the models' tokenizer.json files say:
 *
 * tokenizer.ggml.model = "gpt2": byte-level BPE. tokens (a token outside the byte alphabet is
 *   respelled through its UTF-8 bytes), merges ("a b", rank = index; required, zero is an error),
 *   tokenizer.ggml.pre names the split regex: Llama-3 ("llama-bpe", "llama3", ...; ignore_merges as
 *   Llama-3's tokenizer.json and llama.cpp), Qwen2 ("qwen2", ...; "qwen2" also NFC as Qwen2's
 *   tokenizer.json), GPT-4o, Tekken; GPT-2's ByteLevel regex for "gpt-2", "default" or no key.
 *   Other names fail (MT_EUNSUPPORTED) rather than split wrongly.
 * tokenizer.ggml.model = "llama": SentencePiece-style BPE with byte fallback. Merges come from
 *   tokenizer.ggml.merges when present, else are derived from the vocabulary as transformers'
 *   generate_merges does (the HF conversion of a SentencePiece model): every split of a piece into
 *   two pieces, best first by tokenizer.ggml.scores -- except for Gemma (general.architecture
 *   gemma, gemma2, gemma3), whose scores do not follow its merge order: there the order is the token
 *   order, and tokens made only of whitespace with a space in them are respelled as U+2581 runs.
 *   Pre-tokenization: Gemma replaces ' ' by U+2581 (no prefix space); others use Metaspace with a
 *   prefix space on the first piece (tokenizer.ggml.add_space_prefix false: none).
 *   llama.cpp's own SPM tokenizer instead merges the adjacent pair whose concatenation is the
 *   highest-scoring token; for a SentencePiece BPE vocabulary (scores decreasing with merge order)
 *   that gives the same pieces, and the HF rule is what the HF checkpoints define.
 *
 * Special tokens: tokens typed CONTROL become special added tokens, USER_DEFINED plain added
 * tokens (both matched whole in the text, as llama.cpp and transformers do); bos/eos/unk/pad ids
 * are special. BOS / EOS are added per tokenizer.ggml.add_bos_token / add_eos_token, defaulting as
 * llama.cpp does (BOS for "llama" and for Llama-3-style "gpt2" files). */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_gguf.h"

enum { GT_NORMAL = 1, GT_UNKNOWN = 2, GT_CONTROL = 3, GT_USER = 4, GT_UNUSED = 5, GT_BYTE = 6 };

static const char llama3_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
                                "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char qwen2_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
                               "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char qwen35_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
                                "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char tekken_re[] = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
                                "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
                                "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char gpt4o_re[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* tokenizer.ggml.pre -> split regex (NULL: GPT-2's ByteLevel regex), flags. */
static const struct pre_entry {
    const char *name, *re;
    int ignore_merges, add_bos, nfc;
} pre_table[] = {
    {"llama3", llama3_re, 1, 1, 0},      {"llama-v3", llama3_re, 1, 1, 0},   {"llama-bpe", llama3_re, 1, 1, 0},
    {"falcon3", llama3_re, 1, 1, 0},     {"falcon-h1", llama3_re, 0, 0, 0},  {"pixtral", llama3_re, 0, 0, 0},
    {"midm-2.0", llama3_re, 0, 0, 0},    {"lfm2", llama3_re, 0, 0, 0},       {"jina-v5-nano", llama3_re, 0, 0, 0},
    {"dbrx", llama3_re, 0, 0, 0},        {"smaug-bpe", llama3_re, 0, 0, 0},  {"tekken", tekken_re, 1, 1, 0},
    {"qwen2", qwen2_re, 0, 0, 1},        {"deepseek-r1-qwen", qwen2_re, 0, 0, 0}, {"kormo", qwen2_re, 0, 0, 0},
    {"f2llmv2", qwen2_re, 0, 0, 0},      {"megrez", qwen2_re, 0, 0, 0},      {"qwen35", qwen35_re, 0, 0, 1},
    {"gpt-4o", gpt4o_re, 0, 0, 0},       {"llama4", gpt4o_re, 0, 0, 0},      {"kanana2", gpt4o_re, 0, 0, 0},
    {"talkie", gpt4o_re, 0, 0, 0},       {"minimax-m2", gpt4o_re, 0, 0, 0},
    {"default", NULL, 0, 0, 0},          {"gpt-2", NULL, 0, 0, 0},           {"gpt2", NULL, 0, 0, 0},
    {"phi-2", NULL, 0, 0, 0},            {"roberta-bpe", NULL, 0, 0, 0},     {"mpt", NULL, 0, 0, 0},
    {"olmo", NULL, 0, 0, 0},             {"jais", NULL, 0, 0, 0},            {"gigachat", NULL, 0, 0, 0},
    {"jina-es", NULL, 0, 0, 0},          {"jina-de", NULL, 0, 0, 0},         {"jina-v1-en", NULL, 0, 0, 0},
    {"jina-v2-es", NULL, 0, 0, 0},       {"jina-v2-de", NULL, 0, 0, 0},      {"jina-v2-code", NULL, 0, 0, 0},
};

/* Python's str.isspace */
static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int is_gemma(const char *arch) {
    return arch && (!strcmp(arch, "gemma") || !strcmp(arch, "gemma2") || !strcmp(arch, "gemma3"));
}

/* Stores token id (spelled s[0..n)) in the model. */
static int put_token(tok_model *m, int32_t id, const char *s, size_t n) {
    m->tokens[id] = mt_malloc(n + 1);
    if (!m->tokens[id]) return MT_ENOMEM;
    memcpy(m->tokens[id], s, n);
    m->tokens[id][n] = 0;
    return tok_map_put(&m->vocab, s, n, id);
}

static json_t *added_json(const char *content, int special) {
    return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}", "content", content, "special", special, "normalized", 0,
                     "single_word", 0, "lstrip", 0, "rstrip", 0);
}

/* {"SpecialToken": ...} piece and its special_tokens entry */
static int template_add(json_t *single, json_t *specials, const char *tok, int32_t id) {
    char name[32];
    snprintf(name, sizeof name, "T%d", (int)id);
    if (json_array_append_new(single, json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", name, "type_id", 0)) ||
        json_object_set_new(specials, name, json_pack("{s:s, s:[i], s:[s]}", "id", name, "ids", (json_int_t)id,
                                                      "tokens", tok)))
        return MT_ENOMEM;
    return MT_OK;
}

int tok_from_vocab(const tok_vocab_spec *v, const char *what, mt_tokenizer **out, mt_err *e) {
    *out = NULL;
    int gpt2 = v->model && !strcmp(v->model, "gpt2"), spm = v->model && !strcmp(v->model, "llama");
    if (!gpt2 && !spm)
        return mt_fail(e, MT_EUNSUPPORTED, "%s: tokenizer.ggml.model '%s' is not supported (gpt2 and llama are)", what,
                       v->model ? v->model : "(missing)");
    if (v->n_tokens <= 0 || v->n_tokens > 50000000)
        return mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.tokens: %lld tokens", what, (long long)v->n_tokens);
    const struct pre_entry *pre = NULL;
    if (gpt2) {
        const char *name = v->pre ? v->pre : "default";
        for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0] && !pre; i++)
            if (!strcmp(pre_table[i].name, name)) pre = &pre_table[i];
        if (!pre)
            return mt_fail(e, MT_EUNSUPPORTED, "%s: tokenizer.ggml.pre '%s' is not supported (its split regex is unknown)",
                           what, name);
        if (v->n_merges <= 0)
            return mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.merges: no merges for a gpt2 (BPE) tokenizer", what);
    }
    int gemma = spm && is_gemma(v->arch);
    if (spm && v->n_merges <= 0 && !v->scores && !gemma)
        return mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.scores: needed to derive the merges (no tokenizer.ggml.merges)",
                       what);
    int32_t n = (int32_t)v->n_tokens;
    mt_tokenizer *t = mt_calloc(1, sizeof *t);
    if (!t || !(t->source = mt_strdup(what))) {
        free(t);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    }
    tok_model *m = &t->model;
    m->type = TOK_MODEL_BPE;
    m->unk_id = -1;
    m->size = n;
    int rc = MT_OK;
    tok_buf b = {0};
    double *key = NULL;
    json_t *root = NULL;
    if (!(m->tokens = mt_calloc((size_t)n, sizeof *m->tokens))) goto oom;
    /* vocabulary */
    for (int32_t i = 0; i < n; i++) {
        const char *s = v->tokens[i];
        size_t len = v->token_len[i];
        if (!len || memchr(s, 0, len) || tok_utf8_check(s, len) != (size_t)-1) {
            rc = mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.tokens[%d]: %s", what, (int)i,
                         !len ? "empty token" : "not valid UTF-8 text");
            goto fail;
        }
        if (tok_map_get(&m->vocab, s, len) >= 0) {
            rc = mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.tokens[%d] repeats token %d", what, (int)i,
                         (int)tok_map_get(&m->vocab, s, len));
            goto fail;
        }
        if (tok_map_put(&m->vocab, s, len, i)) goto oom;
    }
    tok_map_free(&m->vocab);
    for (int32_t i = 0; i < n && rc == MT_OK; i++) {
        const char *s = v->tokens[i];
        size_t len = v->token_len[i], q = 0;
        b.n = 0;
        if (gpt2) { /* a token outside the byte alphabet: spelled through its bytes */
            int all = 1;
            while (q < len && all) {
                uint32_t c;
                q += (size_t)tok_utf8_dec(s + q, len - q, &c);
                all = tok_char_byte(c) >= 0;
            }
            if (!all) {
                for (q = 0; q < len; q++) tok_buf_put_cp(&b, tok_byte_char((unsigned char)s[q]));
                if (b.oom) goto oom;
                s = b.p;
                len = b.n;
            }
        } else if (gemma && memchr(s, ' ', len)) { /* "  " -> U+2581 U+2581 (all-whitespace tokens) */
            int all = 1;
            size_t ncp = 0;
            while (q < len && all) {
                uint32_t c;
                q += (size_t)tok_utf8_dec(s + q, len - q, &c);
                all = py_space(c);
                ncp++;
            }
            if (all) {
                for (size_t k = 0; k < ncp; k++) tok_buf_put(&b, "\xe2\x96\x81", 3);
                if (b.oom) goto oom;
                s = b.p;
                len = b.n;
            }
        }
        if (put_token(m, i, s, len)) goto oom;
    }
    /* merges */
    if (v->n_merges > 0) {
        for (int64_t i = 0; i < v->n_merges; i++) {
            const char *s = v->merges[i], *sp = memchr(s, ' ', v->merge_len[i]);
            size_t len = v->merge_len[i];
            if (!sp || sp == s || memchr(sp + 1, ' ', len - (size_t)(sp - s) - 1)) {
                rc = mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.merges[%lld]: expected \"a b\" (two tokens and one space)",
                             what, (long long)i);
                goto fail;
            }
            size_t na = (size_t)(sp - s);
            if ((rc = tok_bpe_add_merge(m, s, na, sp + 1, len - na - 1, (uint32_t)i, what, (size_t)i, e))) goto fail;
        }
    } else {
        if (!(key = mt_malloc((size_t)n * sizeof *key))) goto oom;
        for (int32_t i = 0; i < n; i++) key[i] = gemma ? -(double)i : (double)v->scores[i];
        if ((rc = tok_bpe_merges_from_scores(m, key, what, e))) goto fail;
    }
    if ((rc = tok_bpe_finish(m, what, e))) goto fail;
    m->byte_fallback = spm;
    m->fuse_unk = spm;
    m->ignore_merges = pre && pre->ignore_merges;
    if (v->unk >= 0 && v->unk < n && !(m->unk_token = mt_strdup(m->tokens[v->unk]))) goto oom;

    /* the other components, as a tokenizer.json would spell them */
    int add_bos = v->add_bos >= 0 ? v->add_bos : (spm || (pre && pre->add_bos));
    int add_eos = v->add_eos >= 0 ? v->add_eos : 0;
    int prefix = v->add_space_prefix >= 0 ? v->add_space_prefix : 1;
    json_t *added = json_array();
    root = json_object();
    if (!root || !added || json_object_set_new(root, "added_tokens", added)) goto oom;
    if (gpt2) {
        json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                               "use_regex", pre->re == NULL);
        if (pre->re)
            bl = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Split",
                           "pattern", "Regex", pre->re, "behavior", "Isolated", "invert", 0, bl);
        if (!bl || json_object_set_new(root, "pre_tokenizer", bl) ||
            json_object_set_new(root, "decoder", json_pack("{s:s}", "type", "ByteLevel")))
            goto oom;
        if (pre->nfc && json_object_set_new(root, "normalizer", json_pack("{s:s}", "type", "NFC"))) goto oom;
    } else {
        json_t *dec = json_pack("[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]", "type", "Replace", "pattern", "String",
                                "\xe2\x96\x81", "content", " ", "type", "ByteFallback", "type", "Fuse");
        if (!dec) goto oom;
        if (gemma) {
            if (json_object_set_new(root, "normalizer", json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern",
                                                                   "String", " ", "content", "\xe2\x96\x81")) ||
                json_object_set_new(root, "pre_tokenizer", json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern",
                                                                      "String", " ", "behavior", "MergedWithPrevious",
                                                                      "invert", 0)))
                goto oom_dec;
        } else {
            if (json_object_set_new(root, "pre_tokenizer",
                                    json_pack("{s:s, s:s, s:s, s:b}", "type", "Metaspace", "replacement", "\xe2\x96\x81",
                                              "prepend_scheme", prefix ? "first" : "never", "split", 0)))
                goto oom_dec;
            if (prefix && json_array_append_new(dec, json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ",
                                                               "start", 1, "stop", 0)))
                goto oom_dec;
        }
        if (json_object_set_new(root, "decoder", json_pack("{s:s, s:o}", "type", "Sequence", "decoders", dec))) goto oom;
    }
    /* added tokens: control (special), user-defined (plain), then bos/eos/unk/pad (special) */
    for (int32_t i = 0; i < n && v->types; i++) {
        int ty = v->types[i];
        if (ty != GT_CONTROL && ty != GT_USER) continue;
        const char *orig = v->tokens[i];
        size_t olen = v->token_len[i];
        if (strlen(m->tokens[i]) != olen || memcmp(m->tokens[i], orig, olen)) continue; /* respelled */
        if (json_array_append_new(added, added_json(m->tokens[i], ty == GT_CONTROL))) goto oom;
    }
    int64_t sp_ids[4] = {v->bos, v->eos, v->unk, v->pad};
    for (int k = 0; k < 4; k++)
        if (sp_ids[k] >= 0 && sp_ids[k] < n && json_array_append_new(added, added_json(m->tokens[sp_ids[k]], 1))) goto oom;
    if ((add_bos && v->bos >= 0 && v->bos < n) || (add_eos && v->eos >= 0 && v->eos < n)) {
        json_t *single = json_array(), *specials = json_object();
        if (!single || !specials ||
            json_object_set_new(root, "post_processor", json_pack("{s:s, s:o, s:o}", "type", "TemplateProcessing",
                                                                   "single", single, "special_tokens", specials)))
            goto oom;
        if (add_bos && v->bos >= 0 && v->bos < n && template_add(single, specials, m->tokens[v->bos], (int32_t)v->bos))
            goto oom;
        if (json_array_append_new(single, json_pack("{s:{s:s, s:i}}", "Sequence", "id", "A", "type_id", 0))) goto oom;
        if (add_eos && v->eos >= 0 && v->eos < n && template_add(single, specials, m->tokens[v->eos], (int32_t)v->eos))
            goto oom;
    } else if ((add_bos && v->bos >= 0) || (add_eos && v->eos >= 0)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.%s_token_id is outside the %d-token vocabulary", what,
                     add_bos && v->bos >= 0 ? "bos" : "eos", (int)n);
        goto fail;
    }
    if ((rc = tok_load_components(t, root, 1, what, e))) goto fail;
    tok_find_mask(t);
    json_decref(root);
    free(key);
    tok_buf_free(&b);
    *out = t;
    return MT_OK;
oom_dec:
    rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    goto fail;
oom:
    rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
fail:
    json_decref(root);
    free(key);
    tok_buf_free(&b);
    mt_tok_free(t);
    return rc;
}

/* ---- GGUF ---- */

static int opt_id(const mt_gguf *g, const char *key, int64_t *out, mt_err *e) {
    *out = -1;
    if (!mt_gguf_find_kv(g, key)) return MT_OK;
    uint32_t v;
    int rc = mt_gguf_get_u32(g, key, &v, e);
    if (rc == MT_OK) *out = v;
    return rc;
}

static int opt_bool(const mt_gguf *g, const char *key, int *out, mt_err *e) {
    *out = -1;
    if (!mt_gguf_find_kv(g, key)) return MT_OK;
    return mt_gguf_get_bool(g, key, out, e);
}

int mt_tok_from_gguf(const struct mt_gguf *g, mt_tokenizer **out, mt_err *e) {
    *out = NULL;
    const char *what = mt_gguf_path(g);
    tok_vocab_spec v;
    memset(&v, 0, sizeof v);
    const mt_gguf_str *toks = NULL, *merges = NULL;
    uint64_t nt = 0, nm = 0, ns = 0, nty = 0;
    float *scores = NULL;
    int32_t *types = NULL;
    int rc;
    if ((rc = mt_gguf_get_str(g, "tokenizer.ggml.model", &v.model, NULL, e)) ||
        (rc = mt_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &nt, e)))
        return rc;
    if (mt_gguf_find_kv(g, "tokenizer.ggml.pre") && (rc = mt_gguf_get_str(g, "tokenizer.ggml.pre", &v.pre, NULL, e)))
        return rc;
    if (mt_gguf_find_kv(g, "general.architecture") &&
        (rc = mt_gguf_get_str(g, "general.architecture", &v.arch, NULL, e)))
        return rc;
    if (mt_gguf_find_kv(g, "tokenizer.ggml.merges") &&
        (rc = mt_gguf_get_arr_str(g, "tokenizer.ggml.merges", &merges, &nm, e)))
        return rc;
    if (mt_gguf_find_kv(g, "tokenizer.ggml.scores") &&
        (rc = mt_gguf_get_arr_f32(g, "tokenizer.ggml.scores", &scores, &ns, e)))
        return rc;
    if (mt_gguf_find_kv(g, "tokenizer.ggml.token_type") &&
        (rc = mt_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", &types, &nty, e)))
        goto done;
    if ((scores && ns != nt) || (types && nty != nt)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.%s has %llu entries for %llu tokens", what,
                     scores && ns != nt ? "scores" : "token_type",
                     (unsigned long long)(scores && ns != nt ? ns : nty), (unsigned long long)nt);
        goto done;
    }
    if ((rc = opt_id(g, "tokenizer.ggml.bos_token_id", &v.bos, e)) ||
        (rc = opt_id(g, "tokenizer.ggml.eos_token_id", &v.eos, e)) ||
        (rc = opt_id(g, "tokenizer.ggml.unknown_token_id", &v.unk, e)) ||
        (rc = opt_id(g, "tokenizer.ggml.padding_token_id", &v.pad, e)) ||
        (rc = opt_bool(g, "tokenizer.ggml.add_bos_token", &v.add_bos, e)) ||
        (rc = opt_bool(g, "tokenizer.ggml.add_eos_token", &v.add_eos, e)) ||
        (rc = opt_bool(g, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix, e)))
        goto done;
    if (nt > 50000000 || nm > 100000000) {
        rc = mt_fail(e, MT_EFORMAT, "%s: tokenizer.ggml.tokens/merges: implausible sizes", what);
        goto done;
    }
    const char **tp = mt_malloc((nt + 1) * sizeof *tp), **mp = mt_malloc((nm + 1) * sizeof *mp);
    size_t *tl = mt_malloc((nt + 1) * sizeof *tl), *ml = mt_malloc((nm + 1) * sizeof *ml);
    if (!tp || !mp || !tl || !ml) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    } else {
        for (uint64_t i = 0; i < nt; i++) {
            tp[i] = toks[i].s;
            tl[i] = (size_t)toks[i].len;
        }
        for (uint64_t i = 0; i < nm; i++) {
            mp[i] = merges[i].s;
            ml[i] = (size_t)merges[i].len;
        }
        v.n_tokens = (int64_t)nt;
        v.tokens = tp;
        v.token_len = tl;
        v.scores = scores;
        v.types = types;
        v.n_merges = (int64_t)nm;
        v.merges = mp;
        v.merge_len = ml;
        rc = tok_from_vocab(&v, what, out, e);
    }
    free(tp);
    free(mp);
    free(tl);
    free(ml);
done:
    free(scores);
    free(types);
    return rc;
}

int mt_tok_load_gguf(const char *path, mt_tokenizer **out, mt_err *e) {
    *out = NULL;
    mt_gguf *g;
    int rc = mt_gguf_open(path, &g, e);
    if (rc) return rc;
    rc = mt_tok_from_gguf(g, out, e);
    mt_gguf_close(g);
    return rc;
}
