/* The SentencePiece `precompiled_charsmap` normalizer, as HF tokenizers applies it
 * (normalizers/precompiled.rs + the spm_precompiled crate).
 *
 * Blob: u32 LE trie size in bytes, then a darts-clone double-array (u32 units), then the
 * replacement strings, NUL-separated; a trie value is the offset of a replacement. Text is walked
 * per extended grapheme cluster: a cluster shorter than 6 bytes whose bytes start with a trie key
 * is replaced whole by that key's replacement (the first, i.e. shortest, key found); otherwise each
 * code point of the cluster is looked up on its own. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct tok_precompiled {
    uint32_t *units;
    size_t nunits;
    char *norm; /* replacement pool */
    size_t nnorm;
};

void tok_precompiled_free(tok_precompiled *p) {
    if (!p) return;
    free(p->units);
    free(p->norm);
    free(p);
}

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Standard base64 (padding optional); returns decoded length or -1. */
static long b64dec(const char *s, unsigned char *out) {
    long n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s; s++) {
        if (*s == '=') break;
        if (*s == '\n' || *s == '\r') continue;
        int v = b64val((unsigned char)*s);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

int tok_precompiled_new(const char *b64, const char *what, tok_precompiled **out, mt_err *e) {
    size_t len = strlen(b64);
    unsigned char *raw = mt_malloc(len / 4 * 3 + 4);
    if (!raw) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    long n = b64dec(b64, raw);
    if (n < 0) {
        free(raw);
        return mt_fail(e, MT_EFORMAT, "%s: not valid base64", what);
    }
    if (n < 4) {
        free(raw);
        return mt_fail(e, MT_EFORMAT, "%s: truncated (%ld bytes)", what, n);
    }
    uint32_t tsize = (uint32_t)raw[0] | ((uint32_t)raw[1] << 8) | ((uint32_t)raw[2] << 16) | ((uint32_t)raw[3] << 24);
    if (tsize % 4 != 0 || (uint64_t)tsize + 4 > (uint64_t)n || tsize < 4) {
        free(raw);
        return mt_fail(e, MT_EFORMAT, "%s: trie size %u does not fit the %ld-byte blob", what, tsize, n);
    }
    tok_precompiled *p = mt_calloc(1, sizeof *p);
    if (!p) {
        free(raw);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    }
    p->nunits = tsize / 4;
    p->units = mt_malloc(tsize);
    p->nnorm = (size_t)n - 4 - tsize;
    p->norm = mt_malloc(p->nnorm + 1);
    if (!p->units || !p->norm) {
        free(raw);
        tok_precompiled_free(p);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    }
    for (size_t i = 0; i < p->nunits; i++) {
        const unsigned char *u = raw + 4 + 4 * i;
        p->units[i] = (uint32_t)u[0] | ((uint32_t)u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
    }
    memcpy(p->norm, raw + 4 + tsize, p->nnorm);
    p->norm[p->nnorm] = 0;
    free(raw);
    if (tok_utf8_check(p->norm, p->nnorm) != (size_t)-1) {
        tok_precompiled_free(p);
        return mt_fail(e, MT_EFORMAT, "%s: replacement strings are not valid UTF-8", what);
    }
    *out = p;
    return MT_OK;
}

/* darts-clone unit accessors */
static inline uint32_t u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t u_value(uint32_t u) { return u & ((1U << 31) - 1); }
static inline uint32_t u_label(uint32_t u) { return u & ((1U << 31) | 0xFF); }
static inline size_t u_offset(uint32_t u) { return (size_t)((u >> 10) << ((u & (1U << 9)) >> 6)); }

/* First (shortest) prefix of key that is a trie key: its replacement, or NULL. */
static const char *transform(const tok_precompiled *p, const char *key, size_t n, size_t *rlen) {
    size_t pos = 0;
    if (!p->nunits) return NULL;
    uint32_t unit = p->units[0];
    pos ^= u_offset(unit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= p->nunits) return NULL;
        unit = p->units[pos];
        if (u_label(unit) != c) return NULL;
        pos ^= u_offset(unit);
        if (pos >= p->nunits) return NULL;
        if (u_has_leaf(unit)) {
            uint32_t v = u_value(p->units[pos]);
            if (v > p->nnorm) return NULL;
            const char *r = p->norm + v;
            *rlen = strlen(r); /* pool is NUL-terminated at its end */
            return r;
        }
    }
    return NULL;
}

/* The (char, change) transformations of precompiled.rs, then NormalizedString::transform's
 * alignment rule: a char with change <= 0 takes the alignment of the next input char and consumes
 * it (plus -change more); a char with change > 0 is inserted with the alignment of the previous
 * input char (the piece start if none). */
typedef struct pair {
    uint32_t c;
    long change;
} pair;

typedef struct pairs {
    pair *v;
    size_t n, cap;
    int oom;
} pairs;

static void pair_push(pairs *p, uint32_t c, long change) {
    if (p->oom) return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        pair *v = mt_realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->oom = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (pair){c, change};
}

/* precompiled.rs replace(): new chars with change 0; if longer than the old part, the last
 * `diff` transformations get 1; if shorter, the last transformation (possibly an earlier
 * char's) absorbs the difference. */
static void replace_part(pairs *p, long old_count, const char *r, size_t rl) {
    long new_count = 0;
    for (size_t q = 0; q < rl;) {
        uint32_t c;
        q += (size_t)tok_utf8_dec(r + q, rl - q, &c);
        pair_push(p, c, 0);
        new_count++;
    }
    long diff = new_count - old_count;
    if (diff > 0) {
        for (long k = 0; k < diff && (size_t)k < p->n; k++) p->v[p->n - 1 - (size_t)k].change = 1;
    } else if (diff < 0 && p->n) {
        p->v[p->n - 1].change += diff;
    }
}

int tok_precompiled_apply(const tok_precompiled *p, const tok_nstr *in, size_t base, tok_nstr *out) {
    char *s;
    size_t *al, n;
    if (tok_nstr_to(in, &s, &al, &n)) return MT_ENOMEM;
    free(al);
    pairs tr = {0};
    size_t i = 0, ci = 0; /* byte and char index of the cluster start */
    while (i < n) {
        /* one extended grapheme cluster: bytes [i, j), chars [ci, cj) */
        uint32_t prev;
        size_t j = i + (size_t)tok_utf8_dec(s + i, n - i, &prev), cj = ci + 1;
        utf8proc_int32_t state = 0;
        while (j < n) {
            uint32_t c;
            int k = tok_utf8_dec(s + j, n - j, &c);
            if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c, &state)) break;
            prev = c;
            j += (size_t)k;
            cj++;
        }
        size_t rl = 0;
        const char *r = NULL;
        if (j - i < 6) r = transform(p, s + i, j - i, &rl);
        if (r) {
            replace_part(&tr, (long)(cj - ci), r, rl);
        } else {
            size_t q = i;
            while (q < j) {
                int k = tok_utf8_len((unsigned char)s[q]);
                r = transform(p, s + q, (size_t)k, &rl);
                if (r) {
                    replace_part(&tr, 1, r, rl);
                } else {
                    uint32_t c;
                    tok_utf8_dec(s + q, (size_t)k, &c);
                    pair_push(&tr, c, 0);
                }
                q += (size_t)k;
            }
        }
        i = j;
        ci = cj;
    }
    free(s);
    size_t cursor = 0, m = in->n;
    for (size_t k = 0; k < tr.n; k++) {
        size_t a;
        if (tr.v[k].change > 0) {
            a = cursor > 0 ? in->al[cursor - 1 < m ? cursor - 1 : m - 1] : base;
        } else {
            a = cursor < m ? in->al[cursor] : (m ? in->al[m - 1] : base);
            cursor += (size_t)(1 - tr.v[k].change);
        }
        tok_nstr_push(out, tr.v[k].c, a);
    }
    int oom = tr.oom || out->oom;
    free(tr.v);
    return oom ? MT_ENOMEM : MT_OK;
}
