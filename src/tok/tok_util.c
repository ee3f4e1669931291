/* Tokenizer helpers: byte buffer, UTF-8, hash map, Unicode class lookups, split lists. */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

static int buf_reserve(tok_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->n + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = mt_realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void tok_buf_put(tok_buf *b, const char *s, size_t n) {
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void tok_buf_putc(tok_buf *b, char c) { tok_buf_put(b, &c, 1); }

void tok_buf_put_cp(tok_buf *b, uint32_t cp) {
    char u[4];
    int k = tok_utf8_enc(cp, u);
    tok_buf_put(b, u, (size_t)k);
}

const char *tok_buf_str(tok_buf *b) {
    if (!b->p && !buf_reserve(b, 0)) return "";
    return b->p;
}

void tok_buf_free(tok_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- UTF-8 ---- */

int tok_utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}

int tok_utf8_dec(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    int k = tok_utf8_len(u[0]);
    if ((size_t)k > n) k = (int)n; /* never on validated input */
    uint32_t c;
    switch (k) {
    case 1: c = u[0]; break;
    case 2: c = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F); break;
    case 3: c = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F); break;
    default:
        c = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
            (u[3] & 0x3F);
    }
    *cp = c;
    return k;
}

int tok_utf8_enc(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t tok_utf8_check(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int k;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) k = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if (i + (size_t)k > n) return i;
        for (int j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (u[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += (size_t)k;
    }
    return (size_t)-1;
}

/* ---- hash map: open addressing, FNV-1a ---- */

struct tok_map_slot {
    char *k; /* NULL: empty */
    size_t n;
    uint64_t h;
    int32_t v;
};

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int map_grow(tok_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct tok_map_slot *s = mt_calloc(cap, sizeof *s);
    if (!s) return MT_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct tok_map_slot *o = &m->slots[i];
        if (!o->k) continue;
        size_t j = o->h & (cap - 1);
        while (s[j].k) j = (j + 1) & (cap - 1);
        s[j] = *o;
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return MT_OK;
}

int tok_map_put(tok_map *m, const char *k, size_t n, int32_t v) {
    if ((m->count + 1) * 4 > m->cap * 3 && map_grow(m)) return MT_ENOMEM;
    uint64_t h = fnv(k, n);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].k) {
        struct tok_map_slot *s = &m->slots[j];
        if (s->h == h && s->n == n && memcmp(s->k, k, n) == 0) {
            s->v = v;
            return MT_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    char *c = mt_malloc(n + 1);
    if (!c) return MT_ENOMEM;
    if (n) memcpy(c, k, n);
    c[n] = 0;
    m->slots[j] = (struct tok_map_slot){c, n, h, v};
    m->count++;
    return MT_OK;
}

int32_t tok_map_get(const tok_map *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    uint64_t h = fnv(k, n);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].k) {
        const struct tok_map_slot *s = &m->slots[j];
        if (s->h == h && s->n == n && memcmp(s->k, k, n) == 0) return s->v;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tok_map_free(tok_map *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].k);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- Unicode classes ---- */

int tok_in_table(const tok_range_table *t, uint32_t cp) {
    int lo = 0, hi = t->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < t->r[mid][0]) hi = mid - 1;
        else if (cp > t->r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int tok_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

int tok_is_bert_punct(uint32_t cp) { return tok_in_table(&tok_uni_punct, cp); }
int tok_is_word(uint32_t cp) { return tok_in_table(&tok_uni_word, cp); }
int tok_is_numeric(uint32_t cp) { return tok_in_table(&tok_uni_numeric, cp); }
int tok_is_mn(uint32_t cp) { return tok_in_table(&tok_uni_mn, cp); }
int tok_is_mark(uint32_t cp) { return tok_in_table(&tok_uni_mark, cp); }

int tok_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int tok_lower(uint32_t cp, uint32_t out[3]) {
    int lo = 0, hi = tok_uni_lower_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < tok_uni_lower_tab[mid].cp) hi = mid - 1;
        else if (cp > tok_uni_lower_tab[mid].cp) lo = mid + 1;
        else {
            const tok_lower_entry *t = &tok_uni_lower_tab[mid];
            for (int i = 0; i < t->n; i++) out[i] = t->to[i];
            return t->n;
        }
    }
    out[0] = cp;
    return 1;
}

/* ---- splits ---- */

int tok_splits_push(tok_splits *l, const char *s, size_t n, int32_t id, const size_t *al, size_t base) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        tok_split *v = mt_realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return MT_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *c = mt_malloc(n + 1);
    size_t *a = mt_malloc((n ? n : 1) * sizeof *a);
    if (!c || !a) {
        free(c);
        free(a);
        return MT_ENOMEM;
    }
    if (n) memcpy(c, s, n);
    c[n] = 0;
    for (size_t i = 0; i < n; i++) a[i] = al ? al[i] : base + i;
    l->v[l->n++] = (tok_split){c, n, id, a};
    return MT_OK;
}

void tok_splits_free(tok_splits *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].s);
        free(l->v[i].al);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- aligned code point strings ---- */

void tok_nstr_push(tok_nstr *s, uint32_t cp, size_t al) {
    if (s->oom) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        uint32_t *c = mt_realloc(s->cp, cap * sizeof *c);
        if (c) s->cp = c;
        size_t *a = c ? mt_realloc(s->al, cap * sizeof *a) : NULL;
        if (!c || !a) {
            s->oom = 1;
            return;
        }
        s->al = a;
        s->cap = cap;
    }
    s->cp[s->n] = cp;
    s->al[s->n] = al;
    s->n++;
}

void tok_nstr_free(tok_nstr *s) {
    free(s->cp);
    free(s->al);
    memset(s, 0, sizeof *s);
}

void tok_nstr_from(tok_nstr *out, const char *s, size_t n, const size_t *al, size_t base) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int k = tok_utf8_dec(s + i, n - i, &cp);
        tok_nstr_push(out, cp, al ? al[i] : base + i);
        i += (size_t)k;
    }
}

int tok_nstr_to(const tok_nstr *in, char **s, size_t **al, size_t *n) {
    size_t len = 0;
    char u[4];
    for (size_t i = 0; i < in->n; i++) len += (size_t)tok_utf8_enc(in->cp[i], u);
    *s = mt_malloc(len + 1);
    *al = mt_malloc((len ? len : 1) * sizeof **al);
    if (!*s || !*al) {
        free(*s);
        free(*al);
        *s = NULL;
        *al = NULL;
        return MT_ENOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < in->n; i++) {
        int k = tok_utf8_enc(in->cp[i], *s + o);
        for (int j = 0; j < k; j++) (*al)[o + (size_t)j] = in->al[i];
        o += (size_t)k;
    }
    (*s)[len] = 0;
    *n = len;
    return MT_OK;
}

/* NormalizedString::split (tokenizer/normalizer.rs): the spans cover s in order. */
int tok_split_spans(const char *s, size_t n, const size_t *al, const tok_span *sp, int nsp, int behavior,
                    tok_splits *out) {
    tok_span *acc = mt_malloc((size_t)(nsp ? nsp : 1) * sizeof *acc);
    if (!acc) return MT_ENOMEM;
    int na = 0, prev = 0;
    /* acc[i].is_match here means "remove" */
    switch (behavior) {
    case TOK_REMOVED:
        for (int i = 0; i < nsp; i++) acc[na++] = sp[i];
        break;
    case TOK_ISOLATED:
        for (int i = 0; i < nsp; i++) acc[na++] = (tok_span){sp[i].a, sp[i].b, 0};
        break;
    case TOK_CONTIGUOUS:
        for (int i = 0; i < nsp; i++) {
            if (sp[i].is_match == prev && na) acc[na - 1].b = sp[i].b;
            else acc[na++] = (tok_span){sp[i].a, sp[i].b, 0};
            prev = sp[i].is_match;
        }
        break;
    case TOK_MERGED_PREV:
        for (int i = 0; i < nsp; i++) {
            if (sp[i].is_match && !prev && na) acc[na - 1].b = sp[i].b;
            else acc[na++] = (tok_span){sp[i].a, sp[i].b, 0};
            prev = sp[i].is_match;
        }
        break;
    case TOK_MERGED_NEXT:
        for (int i = nsp - 1; i >= 0; i--) {
            if (sp[i].is_match && !prev && na) acc[na - 1].a = sp[i].a;
            else acc[na++] = (tok_span){sp[i].a, sp[i].b, 0};
            prev = sp[i].is_match;
        }
        for (int i = 0; i < na / 2; i++) {
            tok_span t = acc[i];
            acc[i] = acc[na - 1 - i];
            acc[na - 1 - i] = t;
        }
        break;
    }
    int rc = MT_OK;
    for (int i = 0; i < na && rc == MT_OK; i++) {
        if (acc[i].is_match || acc[i].b <= acc[i].a) continue;
        rc = tok_splits_push(out, s + acc[i].a, acc[i].b - acc[i].a, -1, al + acc[i].a, 0);
    }
    (void)n;
    free(acc);
    return rc;
}
