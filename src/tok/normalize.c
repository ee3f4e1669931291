/* Normalizers of HF tokenizers (normalizers/<name>.rs): BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase,
 * Strip, StripAccents, Replace, Prepend, Nmt, Precompiled, ByteLevel, Sequence. Each maps a string to a
 * string; offsets are not tracked (matrice needs ids only). */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum {
    N_BERT = 1, N_NFC, N_NFD, N_NFKC, N_NFKD, N_LOWER, N_STRIP, N_STRIP_ACCENTS, N_REPLACE, N_PREPEND, N_NMT,
    N_PRECOMPILED, N_SEQUENCE, N_BYTELEVEL
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

/* ---- alignment model ----
 * Each normalizer maps (code point, alignment) pairs to new pairs the way tokenizers'
 * NormalizedString::transform does: an output char with change <= 0 takes the alignment of the
 * next input char and consumes it (plus -change more); a char with change > 0 is inserted and
 * takes the alignment of the previous input char (or the piece start). Filters keep the
 * alignments of the chars they keep. */

typedef struct tf {
    const tok_nstr *in;
    size_t base, cursor;
    tok_nstr *out;
} tf;

static void tf_emit(tf *t, uint32_t c, long change) {
    size_t al;
    if (change > 0) {
        al = t->cursor > 0 ? t->in->al[t->cursor - 1 < t->in->n ? t->cursor - 1 : t->in->n - 1] : t->base;
    } else {
        al = t->cursor < t->in->n ? t->in->al[t->cursor] : (t->in->n ? t->in->al[t->in->n - 1] : t->base);
        t->cursor += (size_t)(1 - change);
    }
    tok_nstr_push(t->out, c, al);
}

/* ---- Unicode normalization forms with alignments ---- */

static int ccc(uint32_t c) { return c < 0x300 ? 0 : utf8proc_get_property((utf8proc_int32_t)c)->combining_class; }

/* Primary composite of a + b, or 0. */
static uint32_t compose_pair(uint32_t a, uint32_t b) {
    const uint32_t SB = 0xAC00, LB = 0x1100, VB = 0x1161, TB = 0x11A7, LC = 19, VC = 21, TC = 28, SC = 11172;
    if (a >= LB && a < LB + LC && b >= VB && b < VB + VC) return SB + ((a - LB) * VC + (b - VB)) * TC;
    if (a >= SB && a < SB + SC && (a - SB) % TC == 0 && b > TB && b < TB + TC) return a + (b - TB);
    if (b < 0x300) return 0; /* every second element of a canonical composition is >= U+0300 */
    char buf[8];
    int k = tok_utf8_enc(a, buf);
    k += tok_utf8_enc(b, buf + k);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)buf, k, &dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    uint32_t res = 0;
    if (r > 0 && tok_utf8_len(dst[0]) == r) {
        uint32_t c;
        tok_utf8_dec((const char *)dst, (size_t)r, &c);
        res = c;
    }
    free(dst);
    return res;
}

/* Decompose (canonical or compat), reorder marks, optionally compose; each output char keeps the
 * alignment of the input char it comes from (a composite, that of its starter). */
static void nf_aligned(const tok_nstr *in, int compat, int compose, tok_nstr *out) {
    tok_nstr d = {0};
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        if (c < 0x80) {
            tok_nstr_push(&d, c, in->al[i]);
            continue;
        }
        utf8proc_int32_t buf[32];
        int lbc = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 32,
                                                     UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0), &lbc);
        if (k <= 0 || k > 32) {
            tok_nstr_push(&d, c, in->al[i]);
            continue;
        }
        for (utf8proc_ssize_t j = 0; j < k; j++) tok_nstr_push(&d, (uint32_t)buf[j], in->al[i]);
    }
    /* canonical ordering: stable sort of each run of non-starters by combining class */
    for (size_t i = 1; i < d.n; i++) {
        int ci = ccc(d.cp[i]);
        if (!ci) continue;
        size_t j = i;
        uint32_t c = d.cp[i];
        size_t a = d.al[i];
        while (j > 0 && ccc(d.cp[j - 1]) > ci) {
            d.cp[j] = d.cp[j - 1];
            d.al[j] = d.al[j - 1];
            j--;
        }
        d.cp[j] = c;
        d.al[j] = a;
    }
    if (!compose) {
        for (size_t i = 0; i < d.n; i++) tok_nstr_push(out, d.cp[i], d.al[i]);
        if (d.oom) out->oom = 1;
        tok_nstr_free(&d);
        return;
    }
    long starter = -1;
    int last = -1; /* ccc of the last char kept after the starter; -1: none */
    for (size_t i = 0; i < d.n; i++) {
        uint32_t c = d.cp[i];
        int cc = ccc(c);
        if (starter >= 0 && (last == -1 || (last != 0 && last < cc))) {
            uint32_t comp = compose_pair(out->cp[starter], c);
            if (comp) {
                out->cp[starter] = comp;
                continue;
            }
        }
        tok_nstr_push(out, c, d.al[i]);
        if (cc == 0) {
            starter = (long)out->n - 1;
            last = -1;
        } else {
            last = cc;
        }
    }
    if (d.oom) out->oom = 1;
    tok_nstr_free(&d);
}

static int unicode_form(const tok_nstr *in, int type, tok_nstr *out) {
    int compat = type == N_NFKC || type == N_NFKD, compose = type == N_NFC || type == N_NFKC;
    int ascii = 1;
    for (size_t i = 0; i < in->n && ascii; i++) ascii = in->cp[i] < 0x80;
    if (ascii) {
        for (size_t i = 0; i < in->n; i++) tok_nstr_push(out, in->cp[i], in->al[i]);
        return out->oom ? MT_ENOMEM : MT_OK;
    }
    nf_aligned(in, compat, compose, out);
    if (out->oom) return MT_ENOMEM;
    /* The text must be utf8proc's, whatever the alignment heuristics did. */
    char *s, *mine;
    size_t *al, *al2, n, n2;
    tok_nstr x = *in;
    if (tok_nstr_to(&x, &s, &al, &n)) return MT_ENOMEM;
    free(al);
    utf8proc_option_t opt = UTF8PROC_STABLE | (compose ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
                            (compat ? UTF8PROC_COMPAT : 0);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t k = n ? utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt) : 0;
    free(s);
    if (k < 0) {
        free(dst);
        return k == UTF8PROC_ERROR_NOMEM ? MT_ENOMEM : MT_EINVAL;
    }
    if (tok_nstr_to(out, &mine, &al2, &n2)) {
        free(dst);
        return MT_ENOMEM;
    }
    if (n2 != (size_t)k || (k && memcmp(mine, dst, (size_t)k))) {
        /* disagreement (should not happen): utf8proc's text, alignments by position */
        tok_nstr fix = {0};
        tok_nstr_from(&fix, (const char *)dst, (size_t)k, NULL, 0);
        for (size_t i = 0; i < fix.n; i++) fix.al[i] = out->n ? out->al[i < out->n ? i : out->n - 1] : 0;
        tok_nstr_free(out);
        *out = fix;
    }
    free(mine);
    free(al2);
    free(dst);
    return out->oom ? MT_ENOMEM : MT_OK;
}

/* normalizers/bert.rs: clean, CJK spacing, NFD + drop Mn, lowercase -- in that order. */
static int bert(const tok_norm *nm, const tok_nstr *in, size_t base, tok_nstr *out) {
    tok_nstr a = {0}, b = {0};
    for (size_t i = 0; i < in->n; i++) tok_nstr_push(&a, in->cp[i], in->al[i]);
    if (nm->clean_text) {
        for (size_t i = 0; i < a.n; i++) {
            uint32_t c = a.cp[i];
            if (c == 0 || c == 0xFFFD || tok_in_table(&tok_uni_other, c)) continue;
            tok_nstr_push(&b, tok_is_whitespace(c) ? ' ' : c, a.al[i]);
        }
        tok_nstr_free(&a);
        a = b;
        memset(&b, 0, sizeof b);
    }
    if (nm->handle_chinese) {
        tf t = {&a, base, 0, &b};
        for (size_t i = 0; i < a.n; i++) {
            if (tok_is_chinese(a.cp[i])) {
                tf_emit(&t, ' ', 1);
                tf_emit(&t, a.cp[i], 0);
                tf_emit(&t, ' ', 1);
            } else {
                tf_emit(&t, a.cp[i], 0);
            }
        }
        tok_nstr_free(&a);
        a = b;
        memset(&b, 0, sizeof b);
    }
    if (nm->strip_accents) {
        tok_nstr d = {0};
        nf_aligned(&a, 0, 0, &d);
        for (size_t i = 0; i < d.n; i++)
            if (!tok_is_mn(d.cp[i])) tok_nstr_push(&b, d.cp[i], d.al[i]);
        if (d.oom) b.oom = 1;
        tok_nstr_free(&d);
        tok_nstr_free(&a);
        a = b;
        memset(&b, 0, sizeof b);
    }
    if (nm->lowercase) {
        for (size_t i = 0; i < a.n; i++) {
            uint32_t l[3];
            int k = tok_lower(a.cp[i], l);
            for (int j = 0; j < k; j++) tok_nstr_push(&b, l[j], a.al[i]);
        }
        tok_nstr_free(&a);
        a = b;
        memset(&b, 0, sizeof b);
    }
    int rc = a.oom ? MT_ENOMEM : MT_OK;
    *out = a;
    return rc;
}

/* normalizers/unicode.rs Nmt: drop some controls, map other spaces to ' '. */
static void nmt(const tok_nstr *in, tok_nstr *out) {
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        if ((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F ||
            c == 0x9F)
            continue;
        if (c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
            c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD)
            c = ' ';
        tok_nstr_push(out, c, in->al[i]);
    }
}

static void strip(const tok_nstr *in, int left, int right, tok_nstr *out) {
    size_t a = 0, b = in->n;
    while (left && a < b && tok_is_whitespace(in->cp[a])) a++;
    while (right && b > a && tok_is_whitespace(in->cp[b - 1])) b--;
    for (size_t i = a; i < b; i++) tok_nstr_push(out, in->cp[i], in->al[i]);
}

/* NormalizedString::replace: matched chars removed, the content inserted with the alignment of
 * the last byte of the match (or of the byte before an empty match). */
static int replace(const tok_norm *nm, const tok_nstr *in, size_t base, tok_nstr *out) {
    char *s;
    size_t *al, n;
    if (tok_nstr_to(in, &s, &al, &n)) return MT_ENOMEM;
    tok_span *sp = NULL;
    int nsp = 0;
    if (tok_regex_spans(nm->re, s, n, &sp, &nsp)) {
        free(s);
        free(al);
        return MT_ENOMEM;
    }
    tok_nstr cont = {0};
    tok_nstr_from(&cont, nm->content, strlen(nm->content), NULL, 0);
    for (int i = 0; i < nsp; i++) {
        if (sp[i].is_match) {
            size_t a = sp[i].b > 0 ? al[sp[i].b - 1] : base;
            for (size_t k = 0; k < cont.n; k++) tok_nstr_push(out, cont.cp[k], a);
        } else {
            tok_nstr_from(out, s + sp[i].a, sp[i].b - sp[i].a, al + sp[i].a, 0);
        }
    }
    int rc = cont.oom ? MT_ENOMEM : MT_OK;
    tok_nstr_free(&cont);
    free(sp);
    free(s);
    free(al);
    return rc;
}

int tok_norm_apply(const tok_norm *nm, const tok_nstr *in, size_t base, tok_nstr *out, mt_err *e) {
    int rc = MT_OK;
    switch (nm->type) {
    case N_BERT: rc = bert(nm, in, base, out); break;
    case N_NFC:
    case N_NFD:
    case N_NFKC:
    case N_NFKD: rc = unicode_form(in, nm->type, out); break;
    case N_LOWER:
        for (size_t i = 0; i < in->n; i++) {
            uint32_t l[3];
            int k = tok_lower(in->cp[i], l);
            for (int j = 0; j < k; j++) tok_nstr_push(out, l[j], in->al[i]);
        }
        break;
    case N_STRIP: strip(in, nm->left, nm->right, out); break;
    case N_STRIP_ACCENTS:
        for (size_t i = 0; i < in->n; i++)
            if (!tok_is_mark(in->cp[i])) tok_nstr_push(out, in->cp[i], in->al[i]);
        break;
    case N_REPLACE: rc = replace(nm, in, base, out); break;
    case N_PREPEND:
        if (in->n) {
            tok_nstr p = {0};
            tok_nstr_from(&p, nm->content, strlen(nm->content), NULL, 0);
            for (size_t i = 0; i < p.n; i++) tok_nstr_push(out, p.cp[i], in->al[0]);
            if (p.oom) out->oom = 1;
            tok_nstr_free(&p);
        }
        for (size_t i = 0; i < in->n; i++) tok_nstr_push(out, in->cp[i], in->al[i]);
        break;
    case N_NMT: nmt(in, out); break;
    case N_BYTELEVEL: /* normalizers/byte_level.rs: every UTF-8 byte -> its bytes_to_unicode char */
        for (size_t i = 0; i < in->n; i++) {
            char u[4];
            int k = tok_utf8_enc(in->cp[i], u);
            for (int j = 0; j < k; j++) tok_nstr_push(out, tok_byte_char((unsigned char)u[j]), in->al[i]);
        }
        break;
    case N_PRECOMPILED:
        if (nm->pc) rc = tok_precompiled_apply(nm->pc, in, base, out);
        else
            for (size_t i = 0; i < in->n; i++) tok_nstr_push(out, in->cp[i], in->al[i]);
        break;
    case N_SEQUENCE: {
        tok_nstr cur = {0};
        for (size_t i = 0; i < in->n; i++) tok_nstr_push(&cur, in->cp[i], in->al[i]);
        for (int i = 0; i < nm->nseq && rc == MT_OK; i++) {
            tok_nstr next = {0};
            rc = tok_norm_apply(nm->seq[i], &cur, base, &next, e);
            tok_nstr_free(&cur);
            cur = next;
        }
        if (rc == MT_OK) {
            tok_nstr_free(out);
            *out = cur;
        } else {
            tok_nstr_free(&cur);
        }
        break;
    }
    }
    if (rc == MT_OK && out->oom) rc = MT_ENOMEM;
    if (rc == MT_ENOMEM) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory normalizing text");
    if (rc) return mt_fail(e, rc, "tokenizer: normalization failed (invalid text)");
    return MT_OK;
}

int tok_norm_split(const tok_norm *nm, tok_split *sp, mt_err *e) {
    tok_nstr in = {0}, out = {0};
    tok_nstr_from(&in, sp->s, sp->n, sp->al, 0);
    size_t base = sp->n ? sp->al[0] : 0;
    int rc = in.oom ? mt_fail(e, MT_ENOMEM, "tokenizer: out of memory") : tok_norm_apply(nm, &in, base, &out, e);
    if (rc == MT_OK) {
        char *s;
        size_t *al, n;
        if (tok_nstr_to(&out, &s, &al, &n)) {
            rc = mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
        } else {
            free(sp->s);
            free(sp->al);
            sp->s = s;
            sp->al = al;
            sp->n = n;
        }
    }
    tok_nstr_free(&in);
    tok_nstr_free(&out);
    return rc;
}

int tok_norm_str(const tok_norm *nm, const char *s, char **out, mt_err *e) {
    tok_split sp = {0};
    tok_splits l = {0};
    int rc = tok_splits_push(&l, s, strlen(s), -1, NULL, 0);
    if (rc) return mt_fail(e, MT_ENOMEM, "tokenizer: out of memory");
    rc = tok_norm_split(nm, &l.v[0], e);
    if (rc == MT_OK) {
        sp = l.v[0];
        *out = sp.s;
        l.v[0].s = NULL;
    }
    tok_splits_free(&l);
    return rc;
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
    } else if (!strcmp(type, "ByteLevel")) {
        nm->type = N_BYTELEVEL;
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
