/* BPE model (tokenizers models/bpe/model.rs and word.rs), exactly:
 *
 *   - a pre-token that is itself in the vocabulary is emitted whole when ignore_merges is set
 *     (Llama-3); else
 *   - merge_word: one symbol per char (continuing_subword_prefix before every char but the first,
 *     end_of_word_suffix after the last); a char not in the vocabulary becomes its "<0xXX>" byte
 *     tokens when byte_fallback is set and all of them exist, else the unknown token (consecutive
 *     ones fused when fuse_unk), else it is dropped (no unk_token);
 *   - merge_all: a min-heap of (rank, position) over adjacent pairs found in the merge map; the
 *     popped pair is applied unless one side was merged away or the pair now there maps to another
 *     new id (a stale entry); the new pairs with the neighbours go into the heap.
 *
 * The merge map is an open-addressing hash (left id, right id) -> (rank, new id), so a vocabulary
 * of 151k merges costs one probe per pair; nothing is cached between calls (HF's cache only saves
 * time). Dropout is refused at load time (tok_json.c). */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tok_merge_slot {
    uint64_t key; /* (left << 32) | right */
    uint32_t rank;
    int32_t new_id; /* -1: empty slot */
};

static uint64_t merge_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t merge_hash(uint64_t k, size_t cap) {
    k *= 0x9E3779B97F4A7C15ULL;
    k ^= k >> 31;
    return (size_t)k & (cap - 1);
}

static int merge_grow(tok_model *m) {
    size_t cap = m->merge_cap ? m->merge_cap * 2 : 1024;
    struct tok_merge_slot *s = mt_malloc(cap * sizeof *s);
    if (!s) return MT_ENOMEM;
    for (size_t i = 0; i < cap; i++) s[i].new_id = -1;
    for (size_t i = 0; i < m->merge_cap; i++) {
        struct tok_merge_slot *o = &m->merges[i];
        if (o->new_id < 0) continue;
        size_t j = merge_hash(o->key, cap);
        while (s[j].new_id >= 0) j = (j + 1) & (cap - 1);
        s[j] = *o;
    }
    free(m->merges);
    m->merges = s;
    m->merge_cap = cap;
    return MT_OK;
}

static int merge_put(tok_model *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id) {
    if ((m->merge_count + 1) * 2 > m->merge_cap && merge_grow(m)) return MT_ENOMEM;
    uint64_t k = merge_key(a, b);
    size_t j = merge_hash(k, m->merge_cap);
    while (m->merges[j].new_id >= 0) {
        if (m->merges[j].key == k) { /* a repeated pair: the later entry wins */
            m->merges[j].rank = rank;
            m->merges[j].new_id = new_id;
            return MT_OK;
        }
        j = (j + 1) & (m->merge_cap - 1);
    }
    m->merges[j] = (struct tok_merge_slot){k, rank, new_id};
    m->merge_count++;
    return MT_OK;
}

static const struct tok_merge_slot *merge_get(const tok_model *m, int32_t a, int32_t b) {
    if (!m->merge_cap) return NULL;
    uint64_t k = merge_key(a, b);
    size_t j = merge_hash(k, m->merge_cap);
    while (m->merges[j].new_id >= 0) {
        if (m->merges[j].key == k) return &m->merges[j];
        j = (j + 1) & (m->merge_cap - 1);
    }
    return NULL;
}

/* A token for a one-line message: at most 48 bytes, control bytes as \xNN. */
static const char *shown(const char *s, size_t n, char out[224]) {
    size_t o = 0;
    for (size_t i = 0; i < n && o < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 48) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(out + o, 8, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = 0;
    return out;
}

int tok_bpe_add_merge(tok_model *m, const char *a, size_t na, const char *b, size_t nb, uint32_t rank,
                      const char *what, size_t idx, mt_err *e) {
    char sh[224];
    int32_t ia = tok_map_get(&m->vocab, a, na), ib = tok_map_get(&m->vocab, b, nb);
    if (ia < 0 || ib < 0) {
        const char *t = ia < 0 ? a : b;
        size_t tn = ia < 0 ? na : nb;
        return mt_fail(e, MT_EFORMAT, "%s: model.merges[%zu]: token '%s' is not in the vocabulary", what, idx,
                       shown(t, tn, sh));
    }
    size_t pl = m->prefix ? strlen(m->prefix) : 0;
    if (nb < pl)
        return mt_fail(e, MT_EFORMAT, "%s: model.merges[%zu]: '%s' is shorter than continuing_subword_prefix", what,
                       idx, shown(b, nb, sh));
    char stack[256], *cat = na + nb - pl < sizeof stack ? stack : mt_malloc(na + nb - pl + 1);
    if (!cat) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    memcpy(cat, a, na);
    memcpy(cat + na, b + pl, nb - pl);
    int32_t id = tok_map_get(&m->vocab, cat, na + nb - pl);
    int rc = MT_OK;
    if (id < 0)
        rc = mt_fail(e, MT_EFORMAT, "%s: model.merges[%zu]: the merged token '%s' is not in the vocabulary", what, idx,
                     shown(cat, na + nb - pl, sh));
    else if (merge_put(m, ia, ib, rank, id))
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory for the merges", what);
    if (cat != stack) free(cat);
    return rc;
}

int tok_bpe_finish(tok_model *m, const char *what, mt_err *e) {
    if (m->merge_count == 0)
        return mt_fail(e, MT_EFORMAT,
                       "%s: model.merges: no merges loaded for a BPE model (refusing to tokenize byte by byte)", what);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_id[b] = tok_map_get(&m->vocab, name, 6);
    }
    return MT_OK;
}

/* ---- encoding ---- */

typedef struct sym {
    int32_t id, prev, next;
    uint32_t len;
} sym;

typedef struct hent {
    uint32_t rank, pos;
    int32_t new_id;
} hent;

typedef struct heap {
    hent *v;
    size_t n, cap;
} heap;

static int before(const hent *a, const hent *b) { return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos); }

static int heap_push(heap *h, hent x) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        hent *v = mt_realloc(h->v, cap * sizeof *v);
        if (!v) return MT_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&x, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return MT_OK;
}

static hent heap_pop(heap *h) {
    hent top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &x)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = x;
    return top;
}

typedef struct word {
    sym *v;
    size_t n, cap;
} word;

static int word_add(word *w, int32_t id, uint32_t len) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        sym *v = mt_realloc(w->v, cap * sizeof *v);
        if (!v) return MT_ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    int32_t n = (int32_t)w->n;
    if (n > 0) w->v[n - 1].next = n;
    w->v[w->n++] = (sym){id, n - 1, -1, len};
    return MT_OK;
}

static int unk_id_of(const tok_model *m, int32_t *id, mt_err *e) {
    char sh[224];
    *id = tok_map_get(&m->vocab, m->unk_token, strlen(m->unk_token));
    if (*id < 0)
        return mt_fail(e, MT_EFORMAT, "tokenizer: model.unk_token '%s' is not in the vocabulary",
                       shown(m->unk_token, strlen(m->unk_token), sh));
    return MT_OK;
}

/* merge_word without the merges: the initial symbols. */
static int initial_symbols(const tok_model *m, const char *s, size_t n, word *w, mt_err *e) {
    tok_buf b = {0};
    int have_unk = 0, rc = MT_OK;
    int32_t unk_id = -1;
    uint32_t unk_len = 0;
    size_t pl = m->prefix ? strlen(m->prefix) : 0, sl = m->suffix ? strlen(m->suffix) : 0;
    for (size_t i = 0; i < n && rc == MT_OK;) {
        size_t k = (size_t)tok_utf8_len((unsigned char)s[i]);
        if (k > n - i) k = n - i;
        int first = i == 0, last = i + k == n;
        const char *p = s + i;
        size_t pn = k;
        if ((pl && !first) || (sl && last)) {
            b.n = 0;
            if (pl && !first) tok_buf_put(&b, m->prefix, pl);
            tok_buf_put(&b, s + i, k);
            if (sl && last) tok_buf_put(&b, m->suffix, sl);
            if (b.oom) {
                rc = MT_ENOMEM;
                break;
            }
            p = b.p;
            pn = b.n;
        }
        int32_t id = tok_map_get(&m->vocab, p, pn);
        if (id >= 0) {
            if (have_unk) {
                rc = word_add(w, unk_id, unk_len);
                have_unk = 0;
            }
            if (rc == MT_OK) rc = word_add(w, id, (uint32_t)k);
        } else {
            int bytes_ok = m->byte_fallback;
            for (size_t q = 0; q < pn && bytes_ok; q++) bytes_ok = m->byte_id[(unsigned char)p[q]] >= 0;
            if (bytes_ok) { /* note: a pending unk stays pending, as in HF */
                for (size_t q = 0; q < pn && rc == MT_OK; q++) rc = word_add(w, m->byte_id[(unsigned char)p[q]], 1);
            } else if (m->unk_token) {
                if (have_unk && m->fuse_unk) {
                    unk_len += (uint32_t)k;
                } else {
                    if (have_unk) rc = word_add(w, unk_id, unk_len);
                    if (rc == MT_OK && (rc = unk_id_of(m, &unk_id, e)) != MT_OK) {
                        tok_buf_free(&b);
                        return rc;
                    }
                    have_unk = 1;
                    unk_len = (uint32_t)k;
                }
            } /* no unk_token: the char is dropped */
        }
        i += k;
    }
    if (rc == MT_OK && have_unk) rc = word_add(w, unk_id, unk_len);
    tok_buf_free(&b);
    if (rc == MT_ENOMEM) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    return rc;
}

static int merge_all(const tok_model *m, word *w) {
    heap h = {0};
    sym *v = w->v;
    int32_t ns = (int32_t)w->n;
    int rc = MT_OK;
    for (int32_t i = 0; i + 1 < ns && rc == MT_OK; i++) {
        const struct tok_merge_slot *g = merge_get(m, v[i].id, v[i + 1].id);
        if (g) rc = heap_push(&h, (hent){g->rank, (uint32_t)i, g->new_id});
    }
    while (h.n && rc == MT_OK) {
        hent top = heap_pop(&h);
        sym *cur = &v[top.pos];
        if (cur->len == 0 || cur->next == -1) continue;
        int32_t next_pos = cur->next;
        sym right = v[next_pos];
        const struct tok_merge_slot *g = merge_get(m, cur->id, right.id);
        if (!g || g->new_id != top.new_id) continue; /* stale */
        cur->id = top.new_id;
        cur->len += right.len;
        cur->next = right.next;
        v[next_pos].len = 0;
        if (right.next > -1 && right.next < ns) v[right.next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) {
            g = merge_get(m, v[cur->prev].id, cur->id);
            if (g) rc = heap_push(&h, (hent){g->rank, (uint32_t)cur->prev, g->new_id});
        }
        if (rc == MT_OK && cur->next >= 0 && cur->next < ns) {
            g = merge_get(m, cur->id, v[cur->next].id);
            if (g) rc = heap_push(&h, (hent){g->rank, top.pos, g->new_id});
        }
    }
    free(h.v);
    return rc;
}

int tok_bpe_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap, mt_err *e) {
    if (n == 0) return MT_OK;
    if (m->ignore_merges) {
        int32_t id = tok_map_get(&m->vocab, s, n);
        if (id >= 0) {
            if (tok_ids_push(ids, nids, cap, id)) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
            return MT_OK;
        }
    }
    word w = {0};
    int rc = initial_symbols(m, s, n, &w, e);
    if (rc == MT_OK && merge_all(m, &w)) rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < w.n && rc == MT_OK; i++)
        if (w.v[i].len && tok_ids_push(ids, nids, cap, w.v[i].id)) rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    free(w.v);
    return rc;
}

/* ---- merges implied by a SentencePiece vocabulary ---- */

typedef struct cand {
    double key;
    int32_t lcp, rcp; /* code point lengths of the two parts */
    size_t seq;       /* order before the global sort */
    int32_t l, r, piece;
} cand;

static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->key != b->key) return a->key > b->key ? -1 : 1;
    if (a->lcp != b->lcp) return a->lcp > b->lcp ? -1 : 1;
    if (a->rcp != b->rcp) return a->rcp > b->rcp ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int local_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->l != b->l) return a->l < b->l ? -1 : 1;
    return a->r < b->r ? -1 : a->r > b->r;
}

int tok_bpe_merges_from_scores(tok_model *m, const double *key, const char *what, mt_err *e) {
    cand *c = NULL;
    size_t n = 0, cap = 0;
    int rc = MT_OK;
    for (int32_t p = 0; p < m->size && rc == MT_OK; p++) {
        const char *t = m->tokens[p];
        if (!t) continue;
        size_t len = strlen(t), start = n;
        int32_t lcp = 0, total = 0;
        for (size_t i = 0; i < len; i += (size_t)tok_utf8_len((unsigned char)t[i])) total++;
        for (size_t i = (size_t)tok_utf8_len((unsigned char)t[0]); i < len && len; i += (size_t)tok_utf8_len((unsigned char)t[i])) {
            lcp++;
            int32_t l = tok_map_get(&m->vocab, t, i), r = l >= 0 ? tok_map_get(&m->vocab, t + i, len - i) : -1;
            if (l < 0 || r < 0) continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 4096;
                cand *v = mt_realloc(c, nc * sizeof *v);
                if (!v) {
                    rc = MT_ENOMEM;
                    break;
                }
                c = v;
                cap = nc;
            }
            c[n++] = (cand){key[p], lcp, total - lcp, 0, l, r, p};
        }
        if (n - start > 1) qsort(c + start, n - start, sizeof *c, local_cmp);
    }
    if (rc) {
        free(c);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory deriving merges", what);
    }
    for (size_t i = 0; i < n; i++) c[i].seq = i;
    if (n > 1) qsort(c, n, sizeof *c, cand_cmp);
    for (size_t i = 0; i < n && rc == MT_OK; i++) {
        const char *l = m->tokens[c[i].l], *r = m->tokens[c[i].r];
        rc = tok_bpe_add_merge(m, l, strlen(l), r, strlen(r), (uint32_t)i, what, i, e);
    }
    free(c);
    return rc;
}

/* ---- GPT-2 bytes_to_unicode ---- */

static int printable_byte(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

uint32_t tok_byte_char(unsigned char b) {
    if (printable_byte(b)) return b;
    uint32_t k = 0;
    for (int x = 0; x < b; x++)
        if (!printable_byte(x)) k++;
    return 256 + k;
}

int tok_char_byte(uint32_t c) {
    if (c < 256) return printable_byte((int)c) ? (int)c : -1;
    if (c >= 256 + 68) return -1; /* 68 bytes are not printable */
    uint32_t k = 0;
    for (int b = 0; b < 256; b++)
        if (!printable_byte(b) && k++ == c - 256) return b;
    return -1;
}
