/* Post-processors (processors/<name>.rs: TemplateProcessing, BertProcessing, RobertaProcessing,
 * ByteLevel, Sequence) on single sequences, and decoders (decoders/<name>.rs: WordPiece, Metaspace,
 * Replace, Fuse, Strip, ByteFallback, ByteLevel, BPEDecoder, Sequence) used to print tokens. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- post-processors ---- */

enum { PP_TEMPLATE = 1, PP_NOOP, PP_SEQUENCE };

struct tok_post {
    int type;
    /* template: items; an item with n == -1 is the sequence $A */
    struct { int32_t *ids; int n; } *items;
    int nitems;
    tok_post **seq;
    int nseq;
};

void tok_post_free(tok_post *p) {
    if (!p) return;
    for (int i = 0; i < p->nitems; i++) free(p->items[i].ids);
    free(p->items);
    for (int i = 0; i < p->nseq; i++) tok_post_free(p->seq[i]);
    free(p->seq);
    free(p);
}

static int add_item(tok_post *p, const int32_t *ids, int n) {
    void *v = mt_realloc(p->items, (size_t)(p->nitems + 1) * sizeof *p->items);
    if (!v) return MT_ENOMEM;
    p->items = v;
    p->items[p->nitems].ids = NULL;
    p->items[p->nitems].n = n;
    if (n > 0) {
        p->items[p->nitems].ids = mt_malloc((size_t)n * sizeof(int32_t));
        if (!p->items[p->nitems].ids) return MT_ENOMEM;
        memcpy(p->items[p->nitems].ids, ids, (size_t)n * sizeof(int32_t));
    }
    p->nitems++;
    return MT_OK;
}

static tok_post *cls_a_sep(int32_t cls, int32_t sep) {
    tok_post *p = mt_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->type = PP_TEMPLATE;
    if (add_item(p, &cls, 1) || add_item(p, NULL, -1) || add_item(p, &sep, 1)) {
        tok_post_free(p);
        return NULL;
    }
    return p;
}

tok_post *tok_post_bert(int32_t cls, int32_t sep) { return cls_a_sep(cls, sep); }

int tok_post_apply(const tok_post *p, int32_t **ids, int *n, int *cap) {
    if (p->type == PP_NOOP) return MT_OK;
    if (p->type == PP_SEQUENCE) {
        for (int i = 0; i < p->nseq; i++)
            if (tok_post_apply(p->seq[i], ids, n, cap)) return MT_ENOMEM;
        return MT_OK;
    }
    int32_t *out = NULL;
    int on = 0, oc = 0;
    for (int i = 0; i < p->nitems; i++) {
        if (p->items[i].n < 0) {
            for (int k = 0; k < *n; k++)
                if (tok_ids_push(&out, &on, &oc, (*ids)[k])) goto oom;
        } else {
            for (int k = 0; k < p->items[i].n; k++)
                if (tok_ids_push(&out, &on, &oc, p->items[i].ids[k])) goto oom;
        }
    }
    free(*ids);
    *ids = out;
    *n = on;
    *cap = oc;
    return MT_OK;
oom:
    free(out);
    return MT_ENOMEM;
}

/* ["[CLS]", 101] */
static int pair_id(const json_t *j, const char *key, const char *what, const char *field, int32_t *id, mt_err *e) {
    json_t *v = json_object_get(j, key);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 1)))
        return mt_fail(e, MT_EFORMAT, "%s: %s.%s: expected [token, id]", what, field, key);
    *id = (int32_t)json_integer_value(json_array_get(v, 1));
    return MT_OK;
}

static int parse_template(const json_t *j, const char *what, const char *field, tok_post *p, mt_err *e) {
    json_t *single = json_object_get(j, "single"), *sp = json_object_get(j, "special_tokens");
    if (!json_is_array(single))
        return mt_fail(e, MT_EFORMAT, "%s: %s.single: expected an array of template pieces", what, field);
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *it = json_array_get(single, i), *st = json_object_get(it, "SpecialToken"),
               *sq = json_object_get(it, "Sequence");
        if (json_is_object(sq)) {
            const char *sid = json_string_value(json_object_get(sq, "id"));
            if (!sid || strcmp(sid, "A"))
                return mt_fail(e, MT_EUNSUPPORTED, "%s: %s.single[%zu]: only sequence A is supported", what, field, i);
            if (add_item(p, NULL, -1)) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        } else if (json_is_object(st)) {
            const char *name = json_string_value(json_object_get(st, "id"));
            json_t *def = name && json_is_object(sp) ? json_object_get(sp, name) : NULL;
            json_t *ids = json_object_get(def, "ids");
            if (!json_is_array(ids))
                return mt_fail(e, MT_EFORMAT, "%s: %s.special_tokens: no ids for '%s'", what, field,
                               name ? name : "(null)");
            size_t k = json_array_size(ids);
            int32_t buf[64];
            if (k > 64) return mt_fail(e, MT_EUNSUPPORTED, "%s: %s: special token '%s' has %zu ids", what, field, name, k);
            for (size_t q = 0; q < k; q++) {
                if (!json_is_integer(json_array_get(ids, q)))
                    return mt_fail(e, MT_EFORMAT, "%s: %s.special_tokens.%s.ids: expected integers", what, field, name);
                buf[q] = (int32_t)json_integer_value(json_array_get(ids, q));
            }
            if (add_item(p, buf, (int)k)) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        } else {
            return mt_fail(e, MT_EFORMAT, "%s: %s.single[%zu]: expected SpecialToken or Sequence", what, field, i);
        }
    }
    return MT_OK;
}

int tok_post_parse(const json_t *j, const char *what, const char *field, tok_post **out, mt_err *e) {
    const char *type;
    int rc = tok_j_type(j, what, field, &type, e);
    if (rc) return rc;
    tok_post *p = NULL;
    char sub[256];
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        int32_t cls, sep;
        if ((rc = pair_id(j, "cls", what, field, &cls, e)) || (rc = pair_id(j, "sep", what, field, &sep, e))) return rc;
        if (!(p = cls_a_sep(cls, sep))) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    } else if (!strcmp(type, "TemplateProcessing")) {
        if (!(p = mt_calloc(1, sizeof *p))) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        p->type = PP_TEMPLATE;
        if ((rc = parse_template(j, what, field, p, e))) {
            tok_post_free(p);
            return rc;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        if (!(p = mt_calloc(1, sizeof *p))) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        p->type = PP_NOOP; /* only trims offsets */
    } else if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(j, "processors");
        if (!json_is_array(arr)) return mt_fail(e, MT_EFORMAT, "%s: %s.processors: expected an array", what, field);
        if (!(p = mt_calloc(1, sizeof *p))) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        p->type = PP_SEQUENCE;
        size_t k = json_array_size(arr);
        if (!(p->seq = mt_calloc(k, sizeof *p->seq))) {
            tok_post_free(p);
            return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        }
        for (size_t i = 0; i < k; i++) {
            snprintf(sub, sizeof sub, "%s.processors[%zu]", field, i);
            if ((rc = tok_post_parse(json_array_get(arr, i), what, sub, &p->seq[i], e))) {
                tok_post_free(p);
                return rc;
            }
            p->nseq++;
        }
    } else {
        return mt_fail(e, MT_EUNSUPPORTED, "%s: %s.type '%s' is not supported", what, field, type);
    }
    *out = p;
    return MT_OK;
}

/* ---- decoders ---- */

enum { D_WORDPIECE = 1, D_METASPACE, D_REPLACE, D_FUSE, D_STRIP, D_BYTEFALLBACK, D_BYTELEVEL, D_BPE, D_SEQUENCE };

struct tok_dec {
    int type;
    char *a, *b;      /* WordPiece prefix; Metaspace replacement; Replace pattern/content; BPE suffix */
    int cleanup;      /* WordPiece */
    int prepend;      /* Metaspace: 0 = never */
    uint32_t strip_c; /* Strip */
    int start, stop;  /* Strip */
    tok_dec **seq;
    int nseq;
};

void tok_dec_free(tok_dec *d) {
    if (!d) return;
    free(d->a);
    free(d->b);
    for (int i = 0; i < d->nseq; i++) tok_dec_free(d->seq[i]);
    free(d->seq);
    free(d);
}

tok_dec *tok_dec_wordpiece(const char *prefix, int cleanup) {
    tok_dec *d = mt_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->type = D_WORDPIECE;
    d->cleanup = cleanup;
    if (!(d->a = mt_strdup(prefix))) {
        free(d);
        return NULL;
    }
    return d;
}

/* Replaces every occurrence of pat in s (malloc'ed result). */
static char *str_replace(const char *s, const char *pat, const char *rep, int max) {
    tok_buf b = {0};
    size_t pl = strlen(pat), rl = strlen(rep);
    int done = 0;
    tok_buf_put(&b, "", 0);
    while (*s) {
        if (pl && (max < 0 || done < max) && !strncmp(s, pat, pl)) {
            tok_buf_put(&b, rep, rl);
            s += pl;
            done++;
        } else {
            tok_buf_putc(&b, *s++);
        }
    }
    char *r = b.oom ? NULL : mt_strdup(tok_buf_str(&b));
    tok_buf_free(&b);
    return r;
}

static char *wp_cleanup(const char *s) {
    static const char *rules[][2] = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
                                     {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"},
                                     {" 've", "'ve"}, {" 're", "'re"}};
    char *cur = mt_strdup(s);
    for (size_t i = 0; cur && i < sizeof rules / sizeof rules[0]; i++) {
        char *n = str_replace(cur, rules[i][0], rules[i][1], -1);
        free(cur);
        cur = n;
    }
    return cur;
}

/* "<0xXX>" as ByteFallback reads it: u8::from_str_radix(&t[3..5], 16), so lowercase hex and
 * "+X" pass too. */
static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int is_byte_token(const char *t, unsigned char *out) {
    if (strlen(t) != 6 || strncmp(t, "<0x", 3) || t[5] != '>') return 0;
    int hi = t[3] == '+' ? 0 : hexval(t[3]), lo = hexval(t[4]);
    if (hi < 0 || lo < 0) return 0;
    *out = (unsigned char)(hi * 16 + lo);
    return 1;
}

/* String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD; U+0000 is dropped
 * (a C string). */
static void utf8_lossy(tok_buf *out, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c) tok_buf_putc(out, (char)c);
            i++;
            continue;
        }
        int need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            tok_buf_put(out, "\xef\xbf\xbd", 3);
            i++;
            continue;
        }
        size_t j = i + 1;
        int got = 0;
        while (got < need && j < n) {
            unsigned char d = s[j];
            if (got == 0 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
            j++;
            got++;
        }
        if (got == need) tok_buf_put(out, (const char *)s + i, j - i);
        else tok_buf_put(out, "\xef\xbf\xbd", 3);
        i = j;
    }
}

/* Applies d to toks[0..*n) in place (strings owned by the array). Returns 0 or MT_ENOMEM. */
static int dec_chain(const tok_dec *d, char **toks, int *n) {
    switch (d->type) {
    case D_SEQUENCE:
        for (int i = 0; i < d->nseq; i++)
            if (dec_chain(d->seq[i], toks, n)) return MT_ENOMEM;
        return MT_OK;
    case D_FUSE: {
        if (*n <= 1) return MT_OK;
        tok_buf b = {0};
        tok_buf_put(&b, "", 0);
        for (int i = 0; i < *n; i++) {
            tok_buf_put(&b, toks[i], strlen(toks[i]));
            free(toks[i]);
        }
        toks[0] = b.oom ? NULL : mt_strdup(tok_buf_str(&b));
        tok_buf_free(&b);
        *n = 1;
        return toks[0] ? MT_OK : MT_ENOMEM;
    }
    case D_BYTELEVEL: { /* decoders/byte_level.rs: all tokens to bytes, then one lossy string */
        tok_buf raw = {0}, txt = {0};
        for (int i = 0; i < *n; i++) {
            const char *t = toks[i];
            size_t len = strlen(t), q = 0, start = raw.n;
            int all = 1;
            while (q < len) {
                uint32_t c;
                int k = tok_utf8_dec(t + q, len - q, &c);
                int by = tok_char_byte(c);
                if (by < 0) {
                    all = 0;
                    break;
                }
                tok_buf_putc(&raw, (char)by);
                q += (size_t)k;
            }
            if (!all) { /* a char outside the byte alphabet: the token's own bytes */
                raw.n = start;
                tok_buf_put(&raw, t, len);
            }
            free(toks[i]);
        }
        tok_buf_put(&txt, "", 0);
        utf8_lossy(&txt, (const unsigned char *)tok_buf_str(&raw), raw.n);
        *n = 1;
        toks[0] = (raw.oom || txt.oom) ? NULL : mt_strdup(tok_buf_str(&txt));
        tok_buf_free(&raw);
        tok_buf_free(&txt);
        if (!toks[0]) {
            *n = 0;
            return MT_ENOMEM;
        }
        return MT_OK;
    }
    case D_BYTEFALLBACK: {
        int w = 0;
        for (int i = 0; i < *n;) {
            unsigned char byte;
            if (!is_byte_token(toks[i], &byte)) {
                toks[w++] = toks[i++];
                continue;
            }
            tok_buf b = {0};
            int j = i, cnt = 0;
            while (j < *n && is_byte_token(toks[j], &byte)) {
                tok_buf_putc(&b, (char)byte);
                free(toks[j]);
                j++;
                cnt++;
            }
            tok_buf_put(&b, "", 0);
            char *s;
            if (tok_utf8_check(tok_buf_str(&b), b.n) == (size_t)-1) {
                s = mt_malloc(b.n + 1); /* valid UTF-8; a U+0000 is dropped (C string) */
                if (s) {
                    size_t w = 0;
                    for (size_t q = 0; q < b.n; q++)
                        if (b.p[q]) s[w++] = b.p[q];
                    s[w] = 0;
                }
            } else { /* one U+FFFD per byte */
                s = mt_malloc((size_t)cnt * 3 + 1);
                if (s) {
                    for (int q = 0; q < cnt; q++) memcpy(s + 3 * q, "\xef\xbf\xbd", 3);
                    s[cnt * 3] = 0;
                }
            }
            tok_buf_free(&b);
            if (!s) {
                for (int q = j; q < *n; q++) free(toks[q]);
                *n = w;
                return MT_ENOMEM;
            }
            toks[w++] = s;
            i = j;
        }
        *n = w;
        return MT_OK;
    }
    default: break;
    }
    for (int i = 0; i < *n; i++) {
        char *t = toks[i], *r = NULL;
        switch (d->type) {
        case D_WORDPIECE: {
            size_t pl = strlen(d->a);
            if (i != 0) {
                if (pl && !strncmp(t, d->a, pl)) r = mt_strdup(t + pl);
                else {
                    r = mt_malloc(strlen(t) + 2);
                    if (r) sprintf(r, " %s", t);
                }
            } else {
                r = mt_strdup(t);
            }
            if (r && d->cleanup) {
                char *c = wp_cleanup(r);
                free(r);
                r = c;
            }
            break;
        }
        case D_METASPACE: {
            const char *rep = (i == 0 && d->prepend) ? "" : " ";
            r = str_replace(t, d->a, rep, -1);
            break;
        }
        case D_REPLACE: r = str_replace(t, d->a, d->b, -1); break;
        case D_BPE: r = str_replace(t, d->a, i == *n - 1 ? "" : " ", -1); break;
        case D_STRIP: {
            char u[4];
            int ul = tok_utf8_enc(d->strip_c, u);
            size_t a = 0, b = strlen(t);
            for (int k = 0; k < d->start && b - a >= (size_t)ul && !memcmp(t + a, u, (size_t)ul); k++) a += (size_t)ul;
            for (int k = 0; k < d->stop && b - a >= (size_t)ul && !memcmp(t + b - ul, u, (size_t)ul); k++) b -= (size_t)ul;
            r = mt_malloc(b - a + 1);
            if (r) {
                memcpy(r, t + a, b - a);
                r[b - a] = 0;
            }
            break;
        }
        }
        if (!r) return MT_ENOMEM;
        free(t);
        toks[i] = r;
    }
    return MT_OK;
}

char *tok_dec_run(const tok_dec *d, char **toks, int n) {
    char **v = mt_malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    int k = 0, oom = 0;
    for (int i = 0; i < n; i++) {
        v[k] = mt_strdup(toks[i]);
        if (!v[k]) oom = 1;
        else k++;
    }
    if (!oom && d) oom = dec_chain(d, v, &k) != MT_OK;
    tok_buf b = {0};
    tok_buf_put(&b, "", 0);
    for (int i = 0; i < k; i++) {
        if (!d && i) tok_buf_putc(&b, ' ');
        tok_buf_put(&b, v[i], strlen(v[i]));
        free(v[i]);
    }
    free(v);
    char *r = (oom || b.oom) ? NULL : mt_strdup(tok_buf_str(&b));
    tok_buf_free(&b);
    return r;
}

int tok_dec_parse(const json_t *j, const char *what, const char *field, tok_dec **out, mt_err *e) {
    const char *type;
    int rc = tok_j_type(j, what, field, &type, e);
    if (rc) return rc;
    tok_dec *d = mt_calloc(1, sizeof *d);
    if (!d) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    char sub[256];
    const char *s1 = NULL, *s2 = NULL;
    if (!strcmp(type, "WordPiece")) {
        d->type = D_WORDPIECE;
        s1 = "##";
        d->cleanup = 1;
        if ((rc = tok_j_str(j, "prefix", 0, what, field, &s1, e)) ||
            (rc = tok_j_bool(j, "cleanup", what, field, &d->cleanup, e)))
            goto fail;
    } else if (!strcmp(type, "Metaspace")) {
        d->type = D_METASPACE;
        s1 = "\xe2\x96\x81";
        const char *scheme = NULL;
        int aps = -1;
        if ((rc = tok_j_str(j, "replacement", 0, what, field, &s1, e)) ||
            (rc = tok_j_str(j, "prepend_scheme", 0, what, field, &scheme, e)) ||
            (rc = tok_j_bool(j, "add_prefix_space", what, field, &aps, e)))
            goto fail;
        d->prepend = !(aps == 0 || (scheme && !strcmp(scheme, "never")));
    } else if (!strcmp(type, "Replace")) {
        d->type = D_REPLACE;
        json_t *pat = json_object_get(j, "pattern");
        s1 = json_string_value(json_object_get(pat, "String"));
        if (!s1) {
            rc = mt_fail(e, MT_EUNSUPPORTED, "%s: %s.pattern: only {\"String\": ...} is supported in decoders", what, field);
            goto fail;
        }
        if ((rc = tok_j_str(j, "content", 1, what, field, &s2, e))) goto fail;
    } else if (!strcmp(type, "Fuse")) {
        d->type = D_FUSE;
    } else if (!strcmp(type, "ByteFallback")) {
        d->type = D_BYTEFALLBACK;
    } else if (!strcmp(type, "ByteLevel")) {
        d->type = D_BYTELEVEL;
    } else if (!strcmp(type, "BPEDecoder")) {
        d->type = D_BPE;
        s1 = "</w>";
        if ((rc = tok_j_str(j, "suffix", 0, what, field, &s1, e))) goto fail;
    } else if (!strcmp(type, "Strip")) {
        d->type = D_STRIP;
        const char *c = " ";
        int64_t a = 0, b = 0;
        if ((rc = tok_j_str(j, "content", 0, what, field, &c, e)) ||
            (rc = tok_j_int(j, "start", 0, what, field, &a, e)) || (rc = tok_j_int(j, "stop", 0, what, field, &b, e)))
            goto fail;
        if (!*c || tok_utf8_check(c, strlen(c)) != (size_t)-1) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.content: expected one character", what, field);
            goto fail;
        }
        tok_utf8_dec(c, strlen(c), &d->strip_c);
        d->start = (int)a;
        d->stop = (int)b;
    } else if (!strcmp(type, "Sequence")) {
        d->type = D_SEQUENCE;
        json_t *arr = json_object_get(j, "decoders");
        if (!json_is_array(arr)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.decoders: expected an array", what, field);
            goto fail;
        }
        size_t k = json_array_size(arr);
        if (!(d->seq = mt_calloc(k, sizeof *d->seq))) {
            rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
            goto fail;
        }
        for (size_t i = 0; i < k; i++) {
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", field, i);
            if ((rc = tok_dec_parse(json_array_get(arr, i), what, sub, &d->seq[i], e))) goto fail;
            d->nseq++;
        }
    } else {
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: %s.type '%s' is not supported", what, field, type);
        goto fail;
    }
    if ((s1 && !(d->a = mt_strdup(s1))) || (s2 && !(d->b = mt_strdup(s2)))) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        goto fail;
    }
    *out = d;
    return MT_OK;
fail:
    tok_dec_free(d);
    return rc;
}
