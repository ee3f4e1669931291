/* The public tokenizer API (mt_tokenizer.h): loading dispatch, the encode pipeline, lookups,
 * decoding. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int mt_tok_load(const char *dir, mt_tokenizer **out, mt_err *e) {
    *out = NULL;
    if (!is_dir(dir)) {
        if (!mt_file_exists(dir)) return mt_fail(e, MT_EIO, "%s: no such tokenizer file or model directory", dir);
        size_t n = strlen(dir);
        if (n >= 5 && !strcmp(dir + n - 5, ".gguf")) return mt_tok_load_gguf(dir, out, e);
        if (n >= 9 && !strcmp(dir + n - 9, "vocab.txt")) {
            char *d = mt_strdup(dir), *slash = d ? strrchr(d, '/') : NULL;
            char *cfg = NULL;
            if (d) {
                if (slash) *slash = 0;
                cfg = mt_path_join(slash ? d : ".", "tokenizer_config.json");
            }
            int rc = (d && cfg) ? tok_load_vocab_txt(dir, cfg, out, e) : mt_fail(e, MT_ENOMEM, "out of memory");
            free(d);
            free(cfg);
            return rc;
        }
        return tok_load_json(dir, out, e);
    }
    char *tj = mt_path_join(dir, "tokenizer.json"), *vt = mt_path_join(dir, "vocab.txt"),
         *cfg = mt_path_join(dir, "tokenizer_config.json"), *spm = mt_path_join(dir, "sentencepiece.bpe.model");
    int rc;
    if (!tj || !vt || !cfg || !spm) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    else if (mt_file_exists(tj)) rc = tok_load_json(tj, out, e);
    else if (mt_file_exists(vt)) rc = tok_load_vocab_txt(vt, cfg, out, e);
    else if (mt_file_exists(spm))
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: only sentencepiece.bpe.model is there (not supported): save the "
                     "tokenizer with transformers to get tokenizer.json", dir);
    else rc = mt_fail(e, MT_EIO, "%s: no tokenizer.json or vocab.txt", dir);
    free(tj);
    free(vt);
    free(cfg);
    free(spm);
    return rc;
}

int mt_tok_load_vocab(const char *vocab_txt, const char *config_json, mt_tokenizer **out, mt_err *e) {
    *out = NULL;
    return tok_load_vocab_txt(vocab_txt, config_json, out, e);
}

void mt_tok_free(mt_tokenizer *t) {
    if (!t) return;
    tok_model_free(&t->model);
    tok_norm_free(t->norm);
    tok_pretok_free(t->pretok);
    tok_post_free(t->post);
    tok_dec_free(t->dec);
    tok_added_free(&t->added);
    free(t->mask_token);
    free(t->source);
    free(t);
}

static int model_encode(const mt_tokenizer *t, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                        mt_err *e) {
    switch (t->model.type) {
    case TOK_MODEL_WORDPIECE: return tok_wordpiece_encode(&t->model, s, n, ids, nids, cap, e);
    case TOK_MODEL_UNIGRAM: return tok_unigram_encode(&t->model, s, n, ids, nids, cap, e);
    case TOK_MODEL_WORDLEVEL: return tok_wordlevel_encode(&t->model, s, n, ids, nids, cap, e);
    case TOK_MODEL_BPE: return tok_bpe_encode(&t->model, s, n, ids, nids, cap, e);
    default: return mt_fail(e, MT_EUNSUPPORTED, "tokenizer: model type %d cannot encode", t->model.type);
    }
}

int mt_tok_encode(const mt_tokenizer *t, const char *text, int add_special_tokens, int32_t **ids, int *n,
                  mt_err *e) {
    return mt_tok_encode_n(t, text, text ? strlen(text) : 0, add_special_tokens, ids, n, e);
}

int mt_tok_encode_n(const mt_tokenizer *t, const char *text, size_t len, int add_special_tokens, int32_t **ids,
                    int *n, mt_err *e) {
    *ids = NULL;
    *n = 0;
    if (!t || !text) return mt_fail(e, MT_EINVAL, "tokenizer: no tokenizer or no text");
    size_t bad = tok_utf8_check(text, len);
    if (bad != (size_t)-1)
        return mt_fail(e, MT_EINVAL, "text is not valid UTF-8 (byte %zu of %zu: 0x%02x)", bad, len,
                       (unsigned char)text[bad]);
    tok_splits sp = {0};
    int rc = tok_splits_push(&sp, text, len, -1, NULL, 0);
    /* 1. added tokens matched on the raw text */
    if (rc == MT_OK) rc = tok_added_split(&t->added, 0, &sp);
    if (rc) rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    /* 2. normalize every remaining piece, then match normalized added tokens in it */
    if (rc == MT_OK && t->norm)
        for (int i = 0; i < sp.n && rc == MT_OK; i++)
            if (sp.v[i].id < 0) rc = tok_norm_split(t->norm, &sp.v[i], e);
    if (rc == MT_OK) rc = tok_added_split(&t->added, 1, &sp);
    if (rc == MT_ENOMEM) mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    /* 3. pre-tokenize */
    if (rc == MT_OK && t->pretok) rc = tok_pretok_apply(t->pretok, &sp, e);
    /* 4. model */
    int32_t *out = NULL;
    int on = 0, oc = 0;
    for (int i = 0; i < sp.n && rc == MT_OK; i++) {
        if (sp.v[i].id >= 0) {
            if (tok_ids_push(&out, &on, &oc, sp.v[i].id)) rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
        } else if (sp.v[i].n) {
            rc = model_encode(t, sp.v[i].s, sp.v[i].n, &out, &on, &oc, e);
        }
    }
    tok_splits_free(&sp);
    /* 5. post-process */
    if (rc == MT_OK && add_special_tokens && t->post && tok_post_apply(t->post, &out, &on, &oc))
        rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    if (rc) {
        free(out);
        return rc;
    }
    if (!out) out = mt_malloc(sizeof *out);
    if (!out) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    *ids = out;
    *n = on;
    return MT_OK;
}

int mt_tok_vocab_size(const mt_tokenizer *t) {
    int32_t n = t->model.size;
    for (int i = 0; i < t->added.n; i++)
        if (t->added.v[i].id + 1 > n) n = t->added.v[i].id + 1;
    return n;
}

const char *mt_tok_id_to_token(const mt_tokenizer *t, int32_t id) {
    if (id < 0) return NULL;
    const tok_added *a = tok_added_by_id(&t->added, id);
    if (a) return a->content;
    if (id < t->model.size) return t->model.tokens[id];
    return NULL;
}

int32_t mt_tok_token_to_id(const mt_tokenizer *t, const char *token) {
    size_t n = strlen(token);
    int32_t k = tok_map_get(&t->added.by_content, token, n);
    if (k >= 0) return t->added.v[k].id;
    return tok_map_get(&t->model.vocab, token, n);
}

const char *mt_tok_mask_token(const mt_tokenizer *t) { return t->mask_token; }
int32_t mt_tok_mask_id(const mt_tokenizer *t) { return t->mask_id; }

int mt_tok_is_special(const mt_tokenizer *t, int32_t id) {
    const tok_added *a = tok_added_by_id(&t->added, id);
    return a && a->special;
}

char *mt_tok_decode(const mt_tokenizer *t, const int32_t *ids, int n, int skip_special) {
    char **toks = mt_malloc((size_t)(n > 0 ? n : 1) * sizeof *toks);
    if (!toks) return NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        const char *s = mt_tok_id_to_token(t, ids[i]);
        if (!s) continue;
        if (skip_special && mt_tok_is_special(t, ids[i])) continue;
        toks[k++] = (char *)s;
    }
    char *r = tok_dec_run(t->dec, toks, k);
    free(toks);
    return r;
}
