/* WordPiece (models/wordpiece/mod.rs) and WordLevel models. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

int tok_ids_push(int32_t **ids, int *n, int *cap, int32_t id) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 32;
        int32_t *v = mt_realloc(*ids, (size_t)c * sizeof *v);
        if (!v) return MT_ENOMEM;
        *ids = v;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return MT_OK;
}

static int unk(const tok_model *m, int32_t **ids, int *nids, int *cap, mt_err *e) {
    int32_t id = m->unk_token ? tok_map_get(&m->vocab, m->unk_token, strlen(m->unk_token)) : -1;
    if (id < 0)
        return mt_fail(e, MT_EFORMAT, "tokenizer: unk_token '%s' is not in the vocabulary",
                       m->unk_token ? m->unk_token : "(none)");
    if (tok_ids_push(ids, nids, cap, id)) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    return MT_OK;
}

/* Greedy longest-match-first; any piece that fails makes the whole word [UNK]; more than
 * max_input_chars_per_word chars is [UNK]. */
int tok_wordpiece_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                         mt_err *e) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (chars > (size_t)m->max_chars) return unk(m, ids, nids, cap, e);
    size_t pl = strlen(m->prefix);
    char *buf = mt_malloc(pl + n + 1);
    if (!buf) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    memcpy(buf, m->prefix, pl);
    int start_n = *nids;
    size_t start = 0;
    int bad = 0;
    while (start < n) {
        size_t end = n;
        int32_t found = -1;
        while (start < end) {
            int32_t id;
            if (start > 0) {
                memcpy(buf + pl, s + start, end - start);
                id = tok_map_get(&m->vocab, buf, pl + end - start);
            } else {
                id = tok_map_get(&m->vocab, s, end);
            }
            if (id >= 0) {
                found = id;
                break;
            }
            /* drop the last char */
            end--;
            while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80) end--;
        }
        if (found < 0) {
            bad = 1;
            break;
        }
        if (tok_ids_push(ids, nids, cap, found)) {
            free(buf);
            return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
        }
        start = end;
    }
    free(buf);
    if (bad) {
        *nids = start_n;
        return unk(m, ids, nids, cap, e);
    }
    return MT_OK;
}

int tok_wordlevel_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                         mt_err *e) {
    int32_t id = tok_map_get(&m->vocab, s, n);
    if (id < 0) return unk(m, ids, nids, cap, e);
    if (tok_ids_push(ids, nids, cap, id)) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    return MT_OK;
}

void tok_model_free(tok_model *m) {
    if (m->tokens)
        for (int32_t i = 0; i < m->size; i++) free(m->tokens[i]);
    free(m->tokens);
    tok_map_free(&m->vocab);
    free(m->unk_token);
    free(m->prefix);
    free(m->scores);
    free(m->merges);
    free(m->suffix);
    memset(m, 0, sizeof *m);
}
