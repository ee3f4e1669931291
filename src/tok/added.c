/* Added tokens (tokenizer/added_vocabulary.rs): ids assigned as AddedVocabulary::add_tokens does,
 * and the split of text around them: leftmost-longest, non-overlapping matches, honouring
 * single_word, lstrip and rstrip. Tokens with normalized=false match the raw text before the
 * normalizer; normalized=true ones match each normalized piece against their normalized content. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

static void index_free(tok_added_set *a) {
    for (int s = 0; s < 2; s++) {
        tok_map_free(&a->pat[s]);
        for (int c = 0; c < 256; c++) {
            free(a->lens[s][c]);
            a->lens[s][c] = NULL;
            a->nlens[s][c] = 0;
        }
    }
    free(a->by_id);
    a->by_id = NULL;
    a->n_by_id = 0;
    a->indexed = 0;
}

void tok_added_free(tok_added_set *a) {
    for (int i = 0; i < a->n; i++) {
        free(a->v[i].content);
        free(a->v[i].norm_content);
    }
    free(a->v);
    tok_map_free(&a->by_content);
    index_free(a);
    memset(a, 0, sizeof *a);
}

const tok_added *tok_added_by_id(const tok_added_set *a, int32_t id) {
    if (a->by_id) return id >= 0 && id < a->n_by_id && a->by_id[id] >= 0 ? &a->v[a->by_id[id]] : NULL;
    /* the latest token given this id wins, as added_tokens_map_r is overwritten */
    for (int i = a->n - 1; i >= 0; i--)
        if (a->v[i].id == id) return &a->v[i];
    return NULL;
}

int tok_added_add(tok_added_set *a, const tok_model *m, const char *content, int single_word, int lstrip,
                  int rstrip, int normalized, int special, mt_err *e) {
    size_t len = strlen(content);
    if (!len) return MT_OK; /* ignored by tokenizers */
    if (a->indexed) index_free(a); /* rebuilt by tok_added_prepare */
    int32_t idx = tok_map_get(&a->by_content, content, len);
    int32_t id = idx >= 0 ? a->v[idx].id : tok_map_get(&m->vocab, content, len);
    if (id < 0) {
        int32_t vsize = (int32_t)m->vocab.count, max = -1;
        for (int i = 0; i < a->n; i++)
            if (a->v[i].id > max) max = a->v[i].id;
        if (max < 0) id = vsize;
        else id = (max >= vsize || vsize == 0) ? max + 1 : vsize;
    }
    if (idx < 0) {
        if (a->n == a->cap) {
            int cap = a->cap ? a->cap * 2 : 8;
            tok_added *v = mt_realloc(a->v, (size_t)cap * sizeof *v);
            if (!v) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
            a->v = v;
            a->cap = cap;
        }
        idx = a->n;
        memset(&a->v[idx], 0, sizeof a->v[idx]);
        if (!(a->v[idx].content = mt_strdup(content))) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
        if (tok_map_put(&a->by_content, content, len, idx)) {
            free(a->v[idx].content);
            return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
        }
        a->n++;
    }
    tok_added *t = &a->v[idx];
    t->id = id;
    t->single_word = single_word;
    t->lstrip = lstrip;
    t->rstrip = rstrip;
    t->normalized = normalized;
    t->special = t->special || special;
    return MT_OK;
}

static const char *pattern_of(const tok_added *t) { return t->normalized ? t->norm_content : t->content; }

static int tok_added_prepare_norm(tok_added_set *a, const tok_norm *nm, mt_err *e);

/* Builds the lookup index (see tok_added_set). */
static int build_index(tok_added_set *a) {
    index_free(a);
    int32_t max = -1;
    for (int i = 0; i < a->n; i++)
        if (a->v[i].id > max) max = a->v[i].id;
    if (max >= 0) {
        if (!(a->by_id = mt_malloc((size_t)(max + 1) * sizeof *a->by_id))) return MT_ENOMEM;
        a->n_by_id = max + 1;
        for (int32_t i = 0; i <= max; i++) a->by_id[i] = -1;
        for (int i = 0; i < a->n; i++) a->by_id[a->v[i].id] = i; /* the latest wins */
    }
    for (int i = 0; i < a->n; i++) {
        const tok_added *t = &a->v[i];
        int s = t->normalized ? 1 : 0;
        const char *p = pattern_of(t);
        size_t pl = p ? strlen(p) : 0;
        if (!pl || tok_map_get(&a->pat[s], p, pl) >= 0) continue; /* the first token with a pattern wins */
        if (tok_map_put(&a->pat[s], p, pl, i)) return MT_ENOMEM;
        unsigned char c = (unsigned char)p[0];
        int k = 0, nl = a->nlens[s][c];
        while (k < nl && a->lens[s][c][k] > (int)pl) k++;
        if (k < nl && a->lens[s][c][k] == (int)pl) continue;
        int *v = mt_realloc(a->lens[s][c], (size_t)(nl + 1) * sizeof *v);
        if (!v) return MT_ENOMEM;
        memmove(v + k + 1, v + k, (size_t)(nl - k) * sizeof *v);
        v[k] = (int)pl;
        a->lens[s][c] = v;
        a->nlens[s][c] = nl + 1;
    }
    a->indexed = 1;
    return MT_OK;
}

int tok_added_prepare(tok_added_set *a, const tok_norm *nm, mt_err *e) {
    int rc = tok_added_prepare_norm(a, nm, e);
    if (rc == MT_OK && build_index(a)) rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    return rc;
}

static int tok_added_prepare_norm(tok_added_set *a, const tok_norm *nm, mt_err *e) {
    for (int i = 0; i < a->n; i++) {
        tok_added *t = &a->v[i];
        free(t->norm_content);
        t->norm_content = NULL;
        if (!t->normalized) continue;
        if (nm) {
            int rc = tok_norm_str(nm, t->content, &t->norm_content, e);
            if (rc) return rc;
        } else if (!(t->norm_content = mt_strdup(t->content))) {
            return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
        }
    }
    return MT_OK;
}

/* Longest pattern of the set matching at s[i..n); -1 if none. */
static int longest_at(const tok_added_set *a, int normalized, const char *s, size_t n, size_t i) {
    unsigned char c = (unsigned char)s[i];
    if (a->indexed) {
        for (int k = 0; k < a->nlens[normalized][c]; k++) {
            size_t L = (size_t)a->lens[normalized][c][k];
            if (L > n - i) continue;
            int32_t idx = tok_map_get(&a->pat[normalized], s + i, L);
            if (idx >= 0) return idx;
        }
        return -1;
    }
    int best = -1;
    size_t bl = 0;
    for (int k = 0; k < a->n; k++) {
        const tok_added *t = &a->v[k];
        if (t->normalized != normalized) continue;
        const char *p = pattern_of(t);
        size_t pl = p ? strlen(p) : 0;
        if (!pl || pl > n - i || pl <= bl) continue;
        if ((unsigned char)p[0] != (unsigned char)s[i] || memcmp(p, s + i, pl) != 0) continue;
        best = k;
        bl = pl;
    }
    return best;
}

static uint32_t last_cp(const char *s, size_t end) {
    size_t p = end - 1;
    while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
    uint32_t c;
    tok_utf8_dec(s + p, end - p, &c);
    return c;
}

/* find_matches + split_with_indices on one piece. */
static int split_piece(const tok_added_set *a, int normalized, const tok_split *in, tok_splits *out) {
    const char *s = in->s;
    size_t n = in->n, start_offset = 0, i = 0;
    int rc = MT_OK;
    while (i < n && rc == MT_OK) {
        int k = longest_at(a, normalized, s, n, i);
        if (k < 0) {
            i += (size_t)tok_utf8_len((unsigned char)s[i]);
            continue;
        }
        const tok_added *t = &a->v[k];
        size_t start = i, stop = i + strlen(pattern_of(t));
        i = stop; /* the automaton resumes after the match, kept or not */
        if (t->single_word) {
            uint32_t c;
            int start_space = start == 0 || !tok_is_word(last_cp(s, start));
            int stop_space = stop == n || (tok_utf8_dec(s + stop, n - stop, &c), !tok_is_word(c));
            if (!start_space || !stop_space) continue;
        }
        if (t->lstrip) {
            size_t ns = start;
            while (ns > 0 && tok_is_whitespace(last_cp(s, ns))) {
                ns--;
                while (ns > 0 && ((unsigned char)s[ns] & 0xC0) == 0x80) ns--;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (start < start_offset) start = start_offset;
        if (t->rstrip) {
            while (stop < n) {
                uint32_t c;
                int kk = tok_utf8_dec(s + stop, n - stop, &c);
                if (!tok_is_whitespace(c)) break;
                stop += (size_t)kk;
            }
        }
        if (start_offset < start)
            rc = tok_splits_push(out, s + start_offset, start - start_offset, -1, in->al + start_offset, 0);
        if (rc == MT_OK) rc = tok_splits_push(out, s + start, stop - start, t->id, in->al + start, 0);
        start_offset = stop;
    }
    if (rc == MT_OK && start_offset < n)
        rc = tok_splits_push(out, s + start_offset, n - start_offset, -1, in->al + start_offset, 0);
    return rc;
}

int tok_added_split(const tok_added_set *a, int normalized, tok_splits *io) {
    tok_splits out = {0};
    int rc = MT_OK, any = 0;
    for (int k = 0; k < a->n; k++) any |= a->v[k].normalized == normalized;
    for (int i = 0; i < io->n && rc == MT_OK; i++) {
        const tok_split *sp = &io->v[i];
        if (sp->id >= 0) rc = tok_splits_push(&out, sp->s, sp->n, sp->id, sp->al, 0);
        else if (sp->n == 0) continue; /* empty pieces are dropped */
        else if (!any) rc = tok_splits_push(&out, sp->s, sp->n, -1, sp->al, 0);
        else rc = split_piece(a, normalized, sp, &out);
    }
    if (rc) {
        tok_splits_free(&out);
        return rc;
    }
    tok_splits_free(io);
    *io = out;
    return MT_OK;
}
