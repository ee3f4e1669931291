/* Normalizers of HF tokenizers (normalizers/<name>.rs): BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase,
 * Strip, StripAccents, Replace, Prepend, Nmt, Precompiled, Sequence. Each maps a string to a
 * string; offsets are not tracked (matrice needs ids only). */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum {
    N_BERT = 1, N_NFC, N_NFD, N_NFKC, N_NFKD, N_LOWER, N_STRIP, N_STRIP_ACCENTS, N_REPLACE, N_PREPEND, N_NMT,
    N_PRECOMPILED, N_SEQUENCE
};

struct tok_norm {
    int type;
    int clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    int left, right;                                          /* Strip */
    void *re;                                                 /* Replace */
    char *content;                                            /* Replace content, Prepend text */
    tok_precompiled *pc;                                      /* Precompiled (NULL: empty map) */
    tok_norm **seq;
    int nseq;
};

void tok_norm_free(tok_norm *nm) {
    if (!nm) return;
    for (int i = 0; i < nm->nseq; i++) tok_norm_free(nm->seq[i]);
    free(nm->seq);
    tok_regex_free(nm->re);
    free(nm->content);
    tok_precompiled_free(nm->pc);
    free(nm);
}

tok_norm *tok_norm_bert(int clean_text, int handle_chinese, int strip_accents, int lowercase) {
    tok_norm *nm = mt_calloc(1, sizeof *nm);
    if (!nm) return NULL;
    nm->type = N_BERT;
    nm->clean_text = clean_text;
    nm->handle_chinese = handle_chinese;
    nm->strip_accents = strip_accents;
    nm->lowercase = lowercase;
    return nm;
}

/* ---- code point helpers ---- */

typedef struct cpvec {
    uint32_t *v;
    size_t n, cap;
    int oom;
} cpvec;

static void cp_push(cpvec *c, uint32_t cp) {
    if (c->oom) return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint32_t *v = mt_realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = cp;
}

static void cp_decode(const char *s, size_t n, cpvec *out) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += (size_t)tok_utf8_dec(s + i, n - i, &cp);
        cp_push(out, cp);
    }
}

static void cp_encode(const cpvec *c, tok_buf *out) {
    for (size_t i = 0; i < c->n; i++) tok_buf_put_cp(out, c->v[i]);
}

/* utf8proc with an explicit length, so NUL code points survive. */
static int unicode_form(const char *s, size_t n, int type, tok_buf *out) {
    utf8proc_option_t opt = UTF8PROC_STABLE;
    switch (type) {
    case N_NFC: opt |= UTF8PROC_COMPOSE; break;
    case N_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case N_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    if (n == 0) {
        tok_buf_put(out, "", 0);
        return MT_OK;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt);
    if (k < 0) {
        free(dst);
        return k == UTF8PROC_ERROR_NOMEM ? MT_ENOMEM : MT_EINVAL;
    }
    tok_buf_put(out, (const char *)dst, (size_t)k);
    free(dst);
    return MT_OK;
}

static void do_lower(cpvec *in, cpvec *out) {
    for (size_t i = 0; i < in->n; i++) {
        uint32_t l[3];
        int k = tok_lower(in->v[i], l);
        for (int j = 0; j < k; j++) cp_push(out, l[j]);
    }
}

/* normalizers/bert.rs: clean, CJK spacing, NFD + drop Mn, lowercase -- in that order. */
static int bert(const tok_norm *nm, const char *s, size_t n, tok_buf *out, int *ld) {
    cpvec a = {0}, b = {0};
    cp_decode(s, n, &a);
    if (nm->clean_text) {
        b.n = 0;
        for (size_t i = 0; i < a.n; i++) {
            uint32_t c = a.v[i];
            if (c == 0 || c == 0xFFFD || tok_in_table(&tok_uni_other, c)) {
                if (i == 0) *ld = 1;
                continue;
            }
            cp_push(&b, tok_is_whitespace(c) ? ' ' : c);
        }
        cpvec t = a; a = b; b = t;
    }
    if (nm->handle_chinese) {
        b.n = 0;
        for (size_t i = 0; i < a.n; i++) {
            if (tok_is_chinese(a.v[i])) {
                cp_push(&b, ' ');
                cp_push(&b, a.v[i]);
                cp_push(&b, ' ');
            } else {
                cp_push(&b, a.v[i]);
            }
        }
        cpvec t = a; a = b; b = t;
    }
    int rc = MT_OK;
    if (nm->strip_accents) {
        tok_buf u = {0}, d = {0};
        cp_encode(&a, &u);
        rc = unicode_form(tok_buf_str(&u), u.n, N_NFD, &d);
        a.n = 0;
        if (rc == MT_OK) {
            cpvec t = {0};
            cp_decode(tok_buf_str(&d), d.n, &t);
            for (size_t i = 0; i < t.n; i++) {
                if (!tok_is_mn(t.v[i])) cp_push(&a, t.v[i]);
                else if (i == 0) *ld = 1;
            }
            if (t.oom) a.oom = 1;
            free(t.v);
        }
        if (u.oom || d.oom) rc = MT_ENOMEM;
        tok_buf_free(&u);
        tok_buf_free(&d);
    }
    if (rc == MT_OK && nm->lowercase) {
        b.n = 0;
        do_lower(&a, &b);
        cpvec t = a; a = b; b = t;
    }
    if (a.oom || b.oom) rc = MT_ENOMEM;
    if (rc == MT_OK) cp_encode(&a, out);
    free(a.v);
    free(b.v);
    return rc;
}

/* normalizers/unicode.rs Nmt. */
static void nmt(const char *s, size_t n, tok_buf *out, int *ld) {
    size_t i = 0;
    while (i < n) {
        uint32_t c;
        i += (size_t)tok_utf8_dec(s + i, n - i, &c);
        if ((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F ||
            c == 0x9F) {
            if (i == (size_t)tok_utf8_len((unsigned char)s[0])) *ld = 1;
            continue;
        }
        if (c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
            c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD)
            c = ' ';
        tok_buf_put_cp(out, c);
    }
}

static void strip(const char *s, size_t n, int left, int right, tok_buf *out, int *ld) {
    size_t a = 0, b = n;
    if (left) {
        while (a < b) {
            uint32_t c;
            int k = tok_utf8_dec(s + a, b - a, &c);
            if (!tok_is_whitespace(c)) break;
            a += (size_t)k;
        }
    }
    if (right) {
        while (b > a) {
            size_t p = b - 1;
            while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80) p--;
            uint32_t c;
            tok_utf8_dec(s + p, b - p, &c);
            if (!tok_is_whitespace(c)) break;
            b = p;
        }
    }
    if (a > 0) *ld = 1;
    tok_buf_put(out, s + a, b - a);
}

static int replace(const tok_norm *nm, const char *s, size_t n, tok_buf *out, int *ld) {
    tok_span *sp = NULL;
    int nsp = 0;
    if (tok_regex_spans(nm->re, s, n, &sp, &nsp)) return MT_ENOMEM;
    for (int i = 0; i < nsp; i++) {
        if (sp[i].is_match && sp[i].a == 0 && sp[i].b > 0 && !nm->content[0]) *ld = 1;
        if (sp[i].is_match) tok_buf_put(out, nm->content, strlen(nm->content));
        else tok_buf_put(out, s + sp[i].a, sp[i].b - sp[i].a);
    }
    if (n == 0) tok_buf_put(out, "", 0);
    free(sp);
    return MT_OK;
}

int tok_norm_apply(const tok_norm *nm, const char *s, size_t n, tok_buf *out, int *lead_del, mt_err *e) {
    int rc = MT_OK, ldummy = 0, *ld = lead_del ? lead_del : &ldummy;
    switch (nm->type) {
    case N_BERT: rc = bert(nm, s, n, out, ld); break;
    case N_NFC:
    case N_NFD:
    case N_NFKC:
    case N_NFKD: rc = unicode_form(s, n, nm->type, out); break;
    case N_LOWER: {
        cpvec a = {0}, b = {0};
        cp_decode(s, n, &a);
        do_lower(&a, &b);
        if (a.oom || b.oom) rc = MT_ENOMEM;
        else cp_encode(&b, out);
        free(a.v);
        free(b.v);
        if (n == 0) tok_buf_put(out, "", 0);
        break;
    }
    case N_STRIP: strip(s, n, nm->left, nm->right, out, ld); break;
    case N_STRIP_ACCENTS: {
        size_t i = 0;
        tok_buf_put(out, "", 0);
        while (i < n) {
            uint32_t c;
            int k = tok_utf8_dec(s + i, n - i, &c);
            if (!tok_is_mark(c)) tok_buf_put(out, s + i, (size_t)k);
            else if (i == 0) *ld = 1;
            i += (size_t)k;
        }
        break;
    }
    case N_REPLACE: rc = replace(nm, s, n, out, ld); break;
    case N_PREPEND:
        if (n) tok_buf_put(out, nm->content, strlen(nm->content));
        tok_buf_put(out, s, n);
        break;
    case N_NMT:
        tok_buf_put(out, "", 0);
        nmt(s, n, out, ld);
        break;
    case N_PRECOMPILED:
        if (nm->pc) rc = tok_precompiled_apply(nm->pc, s, n, out, ld);
        else tok_buf_put(out, s, n);
        break;
    case N_SEQUENCE: {
        tok_buf cur = {0};
        tok_buf_put(&cur, s, n);
        for (int i = 0; i < nm->nseq && rc == MT_OK; i++) {
            tok_buf next = {0};
            rc = tok_norm_apply(nm->seq[i], tok_buf_str(&cur), cur.n, &next, ld, e);
            if (next.oom) rc = MT_ENOMEM;
            tok_buf_free(&cur);
            cur = next;
        }
        if (rc == MT_OK) tok_buf_put(out, tok_buf_str(&cur), cur.n);
        if (cur.oom) rc = MT_ENOMEM;
        tok_buf_free(&cur);
        break;
    }
    }
    if (rc == MT_OK && out->oom) rc = MT_ENOMEM;
    if (rc == MT_ENOMEM) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory normalizing text");
    if (rc) return mt_fail(e, rc, "tokenizer: normalization failed (invalid text)");
    return MT_OK;
}

/* ---- parsing ---- */

int tok_norm_parse(const json_t *j, const char *what, const char *field, tok_norm **out, mt_err *e) {
    const char *type;
    int rc = tok_j_type(j, what, field, &type, e);
    if (rc) return rc;
    tok_norm *nm = mt_calloc(1, sizeof *nm);
    if (!nm) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    char sub[256];
    if (!strcmp(type, "BertNormalizer")) {
        nm->type = N_BERT;
        nm->clean_text = nm->handle_chinese = nm->lowercase = 1;
        int sa = -1;
        if ((rc = tok_j_bool(j, "clean_text", what, field, &nm->clean_text, e)) ||
            (rc = tok_j_bool(j, "handle_chinese_chars", what, field, &nm->handle_chinese, e)) ||
            (rc = tok_j_bool(j, "strip_accents", what, field, &sa, e)) ||
            (rc = tok_j_bool(j, "lowercase", what, field, &nm->lowercase, e)))
            goto fail;
        nm->strip_accents = sa < 0 ? nm->lowercase : sa; /* strip_accents.unwrap_or(lowercase) */
    } else if (!strcmp(type, "NFC")) {
        nm->type = N_NFC;
    } else if (!strcmp(type, "NFD")) {
        nm->type = N_NFD;
    } else if (!strcmp(type, "NFKC")) {
        nm->type = N_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        nm->type = N_NFKD;
    } else if (!strcmp(type, "Lowercase")) {
        nm->type = N_LOWER;
    } else if (!strcmp(type, "StripAccents")) {
        nm->type = N_STRIP_ACCENTS;
    } else if (!strcmp(type, "Nmt")) {
        nm->type = N_NMT;
    } else if (!strcmp(type, "Strip")) {
        nm->type = N_STRIP;
        nm->left = nm->right = 1;
        if ((rc = tok_j_bool(j, "strip_left", what, field, &nm->left, e)) ||
            (rc = tok_j_bool(j, "strip_right", what, field, &nm->right, e)))
            goto fail;
    } else if (!strcmp(type, "Prepend")) {
        nm->type = N_PREPEND;
        const char *p;
        if ((rc = tok_j_str(j, "prepend", 1, what, field, &p, e))) goto fail;
        if (!(nm->content = mt_strdup(p))) goto oom;
    } else if (!strcmp(type, "Replace")) {
        nm->type = N_REPLACE;
        const char *content;
        if ((rc = tok_j_str(j, "content", 1, what, field, &content, e))) goto fail;
        if (!(nm->content = mt_strdup(content))) goto oom;
        json_t *pat = json_object_get(j, "pattern");
        const char *ps = NULL;
        int literal = 0;
        snprintf(sub, sizeof sub, "%s.pattern", field);
        if (json_is_object(pat) && json_is_string(json_object_get(pat, "String"))) {
            ps = json_string_value(json_object_get(pat, "String"));
            literal = 1;
        } else if (json_is_object(pat) && json_is_string(json_object_get(pat, "Regex"))) {
            ps = json_string_value(json_object_get(pat, "Regex"));
        } else {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s: expected {\"String\": ...} or {\"Regex\": ...}", what, sub);
            goto fail;
        }
        if (!(nm->re = tok_regex_compile(ps, literal, what, sub, e))) {
            rc = e ? e->code : MT_EFORMAT;
            goto fail;
        }
    } else if (!strcmp(type, "Precompiled")) {
        nm->type = N_PRECOMPILED;
        json_t *pc = json_object_get(j, "precompiled_charsmap");
        if (json_is_string(pc) && json_string_length(pc) > 0) {
            snprintf(sub, sizeof sub, "%s: %s.precompiled_charsmap", what, field);
            if ((rc = tok_precompiled_new(json_string_value(pc), sub, &nm->pc, e))) goto fail;
        } else if (pc && !json_is_null(pc) && !json_is_string(pc)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.precompiled_charsmap: expected a base64 string", what, field);
            goto fail;
        }
    } else if (!strcmp(type, "Sequence")) {
        nm->type = N_SEQUENCE;
        json_t *arr = json_object_get(j, "normalizers");
        if (!json_is_array(arr)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.normalizers: expected an array", what, field);
            goto fail;
        }
        size_t k = json_array_size(arr);
        nm->seq = mt_calloc(k, sizeof *nm->seq);
        if (!nm->seq) goto oom;
        for (size_t i = 0; i < k; i++) {
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", field, i);
            if ((rc = tok_norm_parse(json_array_get(arr, i), what, sub, &nm->seq[i], e))) goto fail;
            nm->nseq++;
        }
    } else {
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: %s.type '%s' is not supported", what, field, type);
        goto fail;
    }
    *out = nm;
    return MT_OK;
oom:
    rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
fail:
    tok_norm_free(nm);
    return rc;
}
