/* Unigram model (models/unigram/model.rs, encode_optimized): Viterbi over the pieces that start
 * at each char, scores summed in double; a char with no single-char piece gets the UNK node with
 * score min_score - 10; consecutive UNKs are fused; pieces absent from the vocabulary (fused UNKs)
 * become <0xXX> byte tokens when byte_fallback is set and they all exist, else unk_id. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    double score;
    size_t start; /* (size_t)-1: unreached */
    int32_t id;
} node;

static int push(int32_t **ids, int *nids, int *cap, int32_t id, mt_err *e) {
    if (tok_ids_push(ids, nids, cap, id)) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    return MT_OK;
}

/* One token string of the best path -> ids (tokenize() in model.rs). */
static int emit(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap, mt_err *e) {
    int32_t id = tok_map_get(&m->vocab, s, n);
    if (id >= 0) return push(ids, nids, cap, id, e);
    if (m->byte_fallback) {
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            char b[8];
            snprintf(b, sizeof b, "<0x%02X>", (unsigned char)s[i]);
            ok = tok_map_get(&m->vocab, b, 6) >= 0;
        }
        if (ok) {
            for (size_t i = 0; i < n; i++) {
                char b[8];
                snprintf(b, sizeof b, "<0x%02X>", (unsigned char)s[i]);
                int rc = push(ids, nids, cap, tok_map_get(&m->vocab, b, 6), e);
                if (rc) return rc;
            }
            return MT_OK;
        }
    }
    if (m->unk_id < 0) return mt_fail(e, MT_EFORMAT, "tokenizer: text needs an unknown token but model.unk_id is null");
    return push(ids, nids, cap, m->unk_id, e);
}

int tok_unigram_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                       mt_err *e) {
    if (n == 0) return MT_OK;
    node *best = mt_malloc((n + 1) * sizeof *best);
    if (!best) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i <= n; i++) best[i] = (node){0.0, (size_t)-1, -1};
    const double unk_score = m->min_score - 10.0;
    size_t at = 0;
    while (at < n) {
        double here = best[at].score;
        size_t mblen = (size_t)tok_utf8_len((unsigned char)s[at]);
        if (mblen > n - at) mblen = n - at;
        int single = 0;
        /* pieces starting here, shortest first (the trie's common_prefix_search order) */
        size_t len = mblen;
        while (len <= n - at && len <= m->max_piece_len) {
            int32_t id = tok_map_get(&m->vocab, s + at, len);
            if (id >= 0) {
                double cand = m->scores[id] + here;
                node *t = &best[at + len];
                if (t->start == (size_t)-1 || cand > t->score) {
                    t->score = cand;
                    t->start = at;
                    t->id = id;
                }
                if (len == mblen) single = 1;
            }
            if (at + len >= n) break;
            len += (size_t)tok_utf8_len((unsigned char)s[at + len]);
        }
        if (!single) {
            node *t = &best[at + mblen];
            double cand = unk_score + here;
            if (t->start == (size_t)-1 || cand > t->score) {
                t->score = cand;
                t->start = at;
                t->id = m->unk_id >= 0 ? m->unk_id : -2; /* -2: unk without unk_id */
            }
        }
        at += mblen;
    }
    /* Backtrack into (start, end) pieces, fusing consecutive UNKs. */
    size_t cnt = 0, *st = mt_malloc((n + 1) * sizeof *st), *en = mt_malloc((n + 1) * sizeof *en);
    if (!st || !en) {
        free(best);
        free(st);
        free(en);
        return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    }
    int32_t unk_id = m->unk_id >= 0 ? m->unk_id : -2;
    size_t end = n;
    int prev_unk = 0;
    while (end > 0) {
        node *nd = &best[end];
        int is_unk = nd->id == unk_id;
        if (is_unk && prev_unk) {
            st[cnt - 1] = nd->start; /* extend the fused UNK leftwards */
        } else {
            st[cnt] = nd->start;
            en[cnt] = end;
            cnt++;
        }
        prev_unk = is_unk;
        end = nd->start;
    }
    int rc = MT_OK;
    for (size_t i = cnt; i-- > 0 && rc == MT_OK;) rc = emit(m, s + st[i], en[i] - st[i], ids, nids, cap, e);
    free(st);
    free(en);
    free(best);
    return rc;
}
