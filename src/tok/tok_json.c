/* Loading: tokenizer.json (model dispatch -- WordPiece, WordLevel, Unigram, BPE --, components,
 * added tokens) and BERT's vocab.txt + tokenizer_config.json fallback. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON field helpers ---- */

int tok_j_str(const json_t *o, const char *key, int required, const char *what, const char *field,
              const char **out, mt_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s.%s'", what, field, key);
        return MT_OK;
    }
    if (!json_is_string(v)) return mt_fail(e, MT_EFORMAT, "%s: %s.%s: expected a string", what, field, key);
    *out = json_string_value(v);
    return MT_OK;
}

int tok_j_bool(const json_t *o, const char *key, const char *what, const char *field, int *out, mt_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return MT_OK;
    if (!json_is_boolean(v)) return mt_fail(e, MT_EFORMAT, "%s: %s.%s: expected true or false", what, field, key);
    *out = json_is_true(v);
    return MT_OK;
}

int tok_j_int(const json_t *o, const char *key, int required, const char *what, const char *field,
              int64_t *out, mt_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s.%s'", what, field, key);
        return MT_OK;
    }
    if (!json_is_integer(v)) return mt_fail(e, MT_EFORMAT, "%s: %s.%s: expected an integer", what, field, key);
    *out = json_integer_value(v);
    return MT_OK;
}

int tok_j_type(const json_t *o, const char *what, const char *field, const char **type, mt_err *e) {
    if (!json_is_object(o)) return mt_fail(e, MT_EFORMAT, "%s: %s: expected an object", what, field);
    json_t *t = json_object_get(o, "type");
    if (!json_is_string(t)) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s.type'", what, field);
    *type = json_string_value(t);
    return MT_OK;
}

/* ---- model ---- */

static int set_token(tok_model *m, int32_t id, const char *tok, size_t len) {
    if (m->tokens[id]) free(m->tokens[id]);
    m->tokens[id] = mt_malloc(len + 1);
    if (!m->tokens[id]) return MT_ENOMEM;
    memcpy(m->tokens[id], tok, len);
    m->tokens[id][len] = 0;
    return tok_map_put(&m->vocab, tok, len, id);
}

/* vocab {token: id} (WordPiece, WordLevel). */
static int load_vocab_object(tok_model *m, const json_t *vocab, const char *what, mt_err *e) {
    const char *k;
    json_t *v;
    int64_t max = -1;
    json_object_foreach((json_t *)vocab, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX - 1)
            return mt_fail(e, MT_EFORMAT, "%s: model.vocab['%s']: expected a non-negative integer id", what, k);
        if (json_integer_value(v) > max) max = json_integer_value(v);
    }
    if (max < 0) return mt_fail(e, MT_EFORMAT, "%s: model.vocab is empty", what);
    if (max > 50000000) return mt_fail(e, MT_EFORMAT, "%s: model.vocab: id %lld is implausibly large", what, (long long)max);
    m->size = (int32_t)max + 1;
    m->tokens = mt_calloc((size_t)m->size, sizeof *m->tokens);
    if (!m->tokens) return mt_fail(e, MT_ENOMEM, "%s: out of memory for %d tokens", what, m->size);
    json_object_foreach((json_t *)vocab, k, v) {
        if (set_token(m, (int32_t)json_integer_value(v), k, strlen(k)))
            return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    }
    return MT_OK;
}

static int load_unigram(tok_model *m, const json_t *j, const char *what, mt_err *e) {
    json_t *vocab = json_object_get(j, "vocab");
    if (!vocab) return mt_fail(e, MT_EFORMAT, "%s: missing field 'model.vocab'", what);
    if (!json_is_array(vocab) || json_array_size(vocab) == 0)
        return mt_fail(e, MT_EFORMAT, "%s: model.vocab: expected a non-empty array of [piece, score]", what);
    size_t n = json_array_size(vocab);
    if (n > 50000000) return mt_fail(e, MT_EFORMAT, "%s: model.vocab: %zu pieces is implausible", what, n);
    m->size = (int32_t)n;
    m->tokens = mt_calloc(n, sizeof *m->tokens);
    m->scores = mt_calloc(n, sizeof *m->scores);
    if (!m->tokens || !m->scores) return mt_fail(e, MT_ENOMEM, "%s: out of memory for %zu pieces", what, n);
    m->min_score = 1e300;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(vocab, i);
        json_t *p = json_array_get(it, 0), *s = json_array_get(it, 1);
        if (!json_is_array(it) || json_array_size(it) != 2 || !json_is_string(p) || !json_is_number(s))
            return mt_fail(e, MT_EFORMAT, "%s: model.vocab[%zu]: expected [piece, score]", what, i);
        size_t len = json_string_length(p);
        if (set_token(m, (int32_t)i, json_string_value(p), len)) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        m->scores[i] = json_number_value(s);
        if (m->scores[i] < m->min_score) m->min_score = m->scores[i];
        if (len > m->max_piece_len) m->max_piece_len = len;
    }
    int64_t unk = -1;
    json_t *u = json_object_get(j, "unk_id");
    if (u && !json_is_null(u)) {
        if (!json_is_integer(u)) return mt_fail(e, MT_EFORMAT, "%s: model.unk_id: expected an integer or null", what);
        unk = json_integer_value(u);
        if (unk < 0 || unk >= (int64_t)n)
            return mt_fail(e, MT_EFORMAT, "%s: model.unk_id %lld is outside the %zu-piece vocabulary", what, (long long)unk, n);
    }
    m->unk_id = (int32_t)unk;
    return tok_j_bool(j, "byte_fallback", what, "model", &m->byte_fallback, e);
}

/* models/bpe/serialization.rs: vocab {token: id}; merges either ["a b", ...] (split on the one
 * space) or [["a", "b"], ...] (tokenizers >= 0.20), never mixed; rank = index. Zero merges, a merge
 * naming a token outside the vocabulary or a malformed entry is an error, as is dropout (random
 * tokenization). */
static int load_bpe(tok_model *m, const json_t *j, const char *what, mt_err *e) {
    json_t *vocab = json_object_get(j, "vocab"), *merges = json_object_get(j, "merges"),
           *dropout = json_object_get(j, "dropout");
    if (!vocab) return mt_fail(e, MT_EFORMAT, "%s: missing field 'model.vocab'", what);
    if (!json_is_object(vocab)) return mt_fail(e, MT_EFORMAT, "%s: model.vocab: expected an object {token: id}", what);
    if (dropout && !json_is_null(dropout)) {
        if (!json_is_number(dropout)) return mt_fail(e, MT_EFORMAT, "%s: model.dropout: expected a number or null", what);
        if (json_number_value(dropout) != 0.0)
            return mt_fail(e, MT_EUNSUPPORTED, "%s: model.dropout %g is not supported (only null or 0: dropout makes "
                           "tokenization random)", what, json_number_value(dropout));
    }
    const char *unk = NULL, *prefix = NULL, *suffix = NULL;
    int rc;
    if ((rc = tok_j_str(j, "unk_token", 0, what, "model", &unk, e)) ||
        (rc = tok_j_str(j, "continuing_subword_prefix", 0, what, "model", &prefix, e)) ||
        (rc = tok_j_str(j, "end_of_word_suffix", 0, what, "model", &suffix, e)) ||
        (rc = tok_j_bool(j, "fuse_unk", what, "model", &m->fuse_unk, e)) ||
        (rc = tok_j_bool(j, "byte_fallback", what, "model", &m->byte_fallback, e)) ||
        (rc = tok_j_bool(j, "ignore_merges", what, "model", &m->ignore_merges, e)))
        return rc;
    if ((unk && !(m->unk_token = mt_strdup(unk))) || (prefix && *prefix && !(m->prefix = mt_strdup(prefix))) ||
        (suffix && *suffix && !(m->suffix = mt_strdup(suffix))))
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    if ((rc = load_vocab_object(m, vocab, what, e))) return rc;
    if (!merges || json_is_null(merges)) return mt_fail(e, MT_EFORMAT, "%s: missing field 'model.merges'", what);
    if (!json_is_array(merges))
        return mt_fail(e, MT_EFORMAT, "%s: model.merges: expected an array of \"a b\" strings or [\"a\", \"b\"] pairs",
                       what);
    size_t n = json_array_size(merges);
    int legacy = n && json_is_string(json_array_get(merges, 0));
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(merges, i);
        const char *a, *b;
        size_t na, nb;
        if (legacy && json_is_string(it)) {
            const char *s = json_string_value(it), *sp = memchr(s, ' ', json_string_length(it));
            size_t len = json_string_length(it);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp - s) - 1))
                return mt_fail(e, MT_EFORMAT, "%s: model.merges[%zu]: expected \"a b\" (two tokens and one space)", what, i);
            a = s;
            na = (size_t)(sp - s);
            b = sp + 1;
            nb = len - na - 1;
        } else if (!legacy && json_is_array(it) && json_array_size(it) == 2 && json_is_string(json_array_get(it, 0)) &&
                   json_is_string(json_array_get(it, 1))) {
            a = json_string_value(json_array_get(it, 0));
            na = json_string_length(json_array_get(it, 0));
            b = json_string_value(json_array_get(it, 1));
            nb = json_string_length(json_array_get(it, 1));
        } else {
            return mt_fail(e, MT_EFORMAT, "%s: model.merges[%zu]: expected %s like merges[0]", what, i,
                           legacy ? "a \"a b\" string" : "an [\"a\", \"b\"] pair");
        }
        if ((rc = tok_bpe_add_merge(m, a, na, b, nb, (uint32_t)i, what, i, e))) return rc;
    }
    return tok_bpe_finish(m, what, e);
}

static int load_model(tok_model *m, const json_t *j, const char *what, mt_err *e) {
    if (!json_is_object(j)) return mt_fail(e, MT_EFORMAT, "%s: missing field 'model'", what);
    const char *type = NULL;
    json_t *t = json_object_get(j, "type"), *vocab = json_object_get(j, "vocab");
    if (json_is_string(t)) type = json_string_value(t);
    else if (t && !json_is_null(t)) return mt_fail(e, MT_EFORMAT, "%s: model.type: expected a string", what);
    else if (json_object_get(j, "merges")) type = "BPE"; /* untagged, as serde tries them */
    else if (json_is_array(vocab)) type = "Unigram";
    else if (json_object_get(j, "continuing_subword_prefix") || json_object_get(j, "max_input_chars_per_word"))
        type = "WordPiece";
    else if (json_is_object(vocab)) type = "WordLevel";
    else return mt_fail(e, MT_EFORMAT, "%s: missing field 'model.type'", what);

    int rc;
    m->unk_id = -1;
    if (!strcmp(type, "WordPiece") || !strcmp(type, "WordLevel")) {
        int wp = !strcmp(type, "WordPiece");
        m->type = wp ? TOK_MODEL_WORDPIECE : TOK_MODEL_WORDLEVEL;
        if (!vocab) return mt_fail(e, MT_EFORMAT, "%s: missing field 'model.vocab'", what);
        if (!json_is_object(vocab)) return mt_fail(e, MT_EFORMAT, "%s: model.vocab: expected an object {token: id}", what);
        const char *unk = "[UNK]", *prefix = "##";
        int64_t maxc = 100;
        if ((rc = tok_j_str(j, "unk_token", 0, what, "model", &unk, e)) ||
            (rc = tok_j_str(j, "continuing_subword_prefix", 0, what, "model", &prefix, e)) ||
            (rc = tok_j_int(j, "max_input_chars_per_word", 0, what, "model", &maxc, e)))
            return rc;
        if ((rc = load_vocab_object(m, vocab, what, e))) return rc;
        m->unk_token = mt_strdup(unk);
        m->prefix = mt_strdup(prefix);
        m->max_chars = maxc > INT32_MAX ? INT32_MAX : (int)(maxc < 0 ? 0 : maxc);
        if (!m->unk_token || !m->prefix) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        return MT_OK;
    }
    if (!strcmp(type, "Unigram")) {
        m->type = TOK_MODEL_UNIGRAM;
        return load_unigram(m, j, what, e);
    }
    if (!strcmp(type, "BPE")) {
        m->type = TOK_MODEL_BPE;
        return load_bpe(m, j, what, e);
    }
    return mt_fail(e, MT_EUNSUPPORTED, "%s: model.type '%s' is not supported", what, type);
}

/* ---- mask token ---- */

void tok_find_mask(mt_tokenizer *t) {
    static const char *names[] = {"[MASK]", "<mask>"};
    t->mask_id = -1;
    free(t->mask_token);
    t->mask_token = NULL;
    for (int k = 0; k < 2 && t->mask_id < 0; k++) {
        for (int i = 0; i < t->added.n; i++)
            if (!strcmp(t->added.v[i].content, names[k])) {
                t->mask_id = t->added.v[i].id;
                t->mask_token = mt_strdup(names[k]);
                break;
            }
    }
    for (int i = 0; i < t->added.n && t->mask_id < 0; i++) { /* any special token named like a mask */
        const char *c = t->added.v[i].content;
        if (t->added.v[i].special && (strstr(c, "mask") || strstr(c, "MASK"))) {
            t->mask_id = t->added.v[i].id;
            t->mask_token = mt_strdup(c);
        }
    }
    if (t->mask_id >= 0 && !t->mask_token) t->mask_id = -1;
}

/* ---- tokenizer.json ---- */

int tok_load_components(mt_tokenizer *t, const json_t *root, int have_model, const char *what, mt_err *e) {
    int rc;
    json_t *j;
    if (!have_model && (rc = load_model(&t->model, json_object_get(root, "model"), what, e))) return rc;
    if ((j = json_object_get(root, "normalizer")) && !json_is_null(j) &&
        (rc = tok_norm_parse(j, what, "normalizer", &t->norm, e)))
        return rc;
    if ((j = json_object_get(root, "pre_tokenizer")) && !json_is_null(j) &&
        (rc = tok_pretok_parse(j, what, "pre_tokenizer", &t->pretok, e)))
        return rc;
    if ((j = json_object_get(root, "post_processor")) && !json_is_null(j) &&
        (rc = tok_post_parse(j, what, "post_processor", &t->post, e)))
        return rc;
    if ((j = json_object_get(root, "decoder")) && !json_is_null(j) && (rc = tok_dec_parse(j, what, "decoder", &t->dec, e)))
        return rc;
    j = json_object_get(root, "added_tokens");
    if (j && !json_is_null(j) && !json_is_array(j)) return mt_fail(e, MT_EFORMAT, "%s: added_tokens: expected an array", what);
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *a = json_array_get(j, i);
        char field[64];
        snprintf(field, sizeof field, "added_tokens[%zu]", i);
        const char *content;
        int sw = 0, ls = 0, rs = 0, norm = 1, sp = 0;
        if (!json_is_object(a)) return mt_fail(e, MT_EFORMAT, "%s: %s: expected an object", what, field);
        if ((rc = tok_j_str(a, "content", 1, what, field, &content, e)) ||
            (rc = tok_j_bool(a, "single_word", what, field, &sw, e)) || (rc = tok_j_bool(a, "lstrip", what, field, &ls, e)) ||
            (rc = tok_j_bool(a, "rstrip", what, field, &rs, e)) || (rc = tok_j_bool(a, "normalized", what, field, &norm, e)) ||
            (rc = tok_j_bool(a, "special", what, field, &sp, e)))
            return rc;
        if ((rc = tok_added_add(&t->added, &t->model, content, sw, ls, rs, norm, sp, e))) return rc;
    }
    return tok_added_prepare(&t->added, t->norm, e);
}

int tok_load_json(const char *path, mt_tokenizer **out, mt_err *e) {
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_cannot_open_file)
            return mt_fail(e, MT_EIO, "%s: cannot open: %s", path, jerr.text);
        return mt_fail(e, MT_EFORMAT, "%s: malformed JSON at line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return mt_fail(e, MT_EFORMAT, "%s: expected a JSON object at the top level", path);
    }
    mt_tokenizer *t = mt_calloc(1, sizeof *t);
    if (!t || !(t->source = mt_strdup(path))) {
        free(t);
        json_decref(root);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
    }
    int rc = tok_load_components(t, root, 0, path, e);
    json_decref(root);
    if (rc) {
        mt_tok_free(t);
        return rc;
    }
    tok_find_mask(t);
    *out = t;
    return MT_OK;
}

/* ---- vocab.txt + tokenizer_config.json (transformers' BertTokenizer) ---- */

static const char *cfg_token(const json_t *cfg, const char *key, const char *def) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v) && json_is_string(json_object_get(v, "content"))) /* AddedToken dict */
        return json_string_value(json_object_get(v, "content"));
    return def;
}

int tok_load_vocab_txt(const char *vocab_path, const char *config_path, mt_tokenizer **out, mt_err *e) {
    char *data;
    size_t len;
    int rc = mt_read_file(vocab_path, &data, &len, e);
    if (rc) return rc;
    if (tok_utf8_check(data, len) != (size_t)-1) {
        free(data);
        return mt_fail(e, MT_EFORMAT, "%s: not valid UTF-8", vocab_path);
    }
    json_t *cfg = NULL;
    if (config_path && mt_file_exists(config_path)) {
        json_error_t jerr;
        cfg = json_load_file(config_path, JSON_REJECT_DUPLICATES, &jerr);
        if (!cfg || !json_is_object(cfg)) {
            free(data);
            json_decref(cfg);
            return mt_fail(e, MT_EFORMAT, "%s: malformed JSON at line %d column %d: %s", config_path, jerr.line,
                           jerr.column, cfg ? "expected an object" : jerr.text);
        }
    }
    int lower = 1, chinese = 1, strip = -1;
    const char *what = config_path ? config_path : vocab_path;
    if (cfg && ((rc = tok_j_bool(cfg, "do_lower_case", what, "config", &lower, e)) ||
                (rc = tok_j_bool(cfg, "tokenize_chinese_chars", what, "config", &chinese, e)) ||
                (rc = tok_j_bool(cfg, "strip_accents", what, "config", &strip, e)))) {
        free(data);
        json_decref(cfg);
        return rc;
    }
    mt_tokenizer *t = mt_calloc(1, sizeof *t);
    if (!t || !(t->source = mt_strdup(vocab_path))) {
        free(t);
        free(data);
        json_decref(cfg);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", vocab_path);
    }
    tok_model *m = &t->model;
    m->type = TOK_MODEL_WORDPIECE;
    m->unk_id = -1;
    m->max_chars = 100;
    /* lines, as Python's universal newlines split them */
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= len || data[i + 1] != '\n'))) nlines++;
    if (len && data[len - 1] != '\n' && data[len - 1] != '\r') nlines++;
    if (nlines == 0) {
        rc = mt_fail(e, MT_EFORMAT, "%s: empty vocabulary", vocab_path);
        goto done;
    }
    m->size = (int32_t)nlines;
    m->tokens = mt_calloc(nlines, sizeof *m->tokens);
    if (!m->tokens) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", vocab_path);
        goto done;
    }
    size_t start = 0, id = 0;
    for (size_t i = 0; i <= len && id < nlines; i++) {
        if (i == len || data[i] == '\n' || data[i] == '\r') {
            if (i == len && start == len) break;
            if (set_token(m, (int32_t)id, data + start, i - start)) {
                rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", vocab_path);
                goto done;
            }
            id++;
            if (i < len && data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') i++;
            start = i + 1;
        }
    }
    const char *unk = cfg_token(cfg, "unk_token", "[UNK]"), *sep = cfg_token(cfg, "sep_token", "[SEP]"),
               *pad = cfg_token(cfg, "pad_token", "[PAD]"), *cls = cfg_token(cfg, "cls_token", "[CLS]"),
               *mask = cfg_token(cfg, "mask_token", "[MASK]");
    m->unk_token = mt_strdup(unk);
    m->prefix = mt_strdup("##");
    t->norm = tok_norm_bert(1, chinese, strip < 0 ? lower : strip, lower);
    t->pretok = tok_pretok_bert();
    t->dec = tok_dec_wordpiece("##", 1);
    if (!m->unk_token || !m->prefix || !t->norm || !t->pretok || !t->dec) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", vocab_path);
        goto done;
    }
    /* special tokens in transformers' order: unk, sep, pad, cls, mask */
    const char *specials[] = {unk, sep, pad, cls, mask};
    for (int i = 0; i < 5 && rc == MT_OK; i++) rc = tok_added_add(&t->added, m, specials[i], 0, 0, 0, 0, 1, e);
    if (rc == MT_OK) rc = tok_added_prepare(&t->added, t->norm, e);
    if (rc) goto done;
    int32_t cls_id = mt_tok_token_to_id(t, cls), sep_id = mt_tok_token_to_id(t, sep);
    t->post = tok_post_bert(cls_id >= 0 ? cls_id : 2, sep_id >= 0 ? sep_id : 3);
    if (!t->post) rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", vocab_path);
    tok_find_mask(t);
    if (rc == MT_OK && strcmp(mask, "[MASK]")) { /* a renamed mask token */
        free(t->mask_token);
        t->mask_token = mt_strdup(mask);
        t->mask_id = mt_tok_token_to_id(t, mask);
    }
done:
    free(data);
    json_decref(cfg);
    if (rc) {
        mt_tok_free(t);
        return rc;
    }
    *out = t;
    return MT_OK;
}
