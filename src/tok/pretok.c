/* Pre-tokenizers of HF tokenizers (pre_tokenizers/<name>.rs): BertPreTokenizer, Whitespace,
 * WhitespaceSplit, Punctuation, Digits, CharDelimiterSplit, Metaspace, Split, ByteLevel, Sequence;
 * and the PCRE2 regex helpers shared with the Replace normalizer.
 *
 * tokenizers compiles patterns with Oniguruma (Ruby syntax); the patterns found in tokenizer.json
 * files (GPT-2, Llama-3, Qwen2: \p{L}, \p{N}, \s, (?i:'s|...), lookahead) mean the same in PCRE2
 * with UTF + UCP, except for the character sets: Oniguruma's \s is Unicode White_Space (PCRE2's
 * adds U+180E), and its \p{L} / \p{N} follow Unicode 16 (PCRE2 10.42: Unicode 14). So \s, \S,
 * \p{L}, \p{N}, \P{L}, \P{N} are rewritten into explicit classes (tables generated from the
 * installed tokenizers in tok_unitab.c); \S, \P{L}, \P{N} inside a [class] and other escapes
 * (\w, \d, \h -- a hex digit in Oniguruma --, \p{Lu}, ...) keep PCRE2's meaning. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tok_internal.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_BERT = 1, P_WHITESPACE, P_WSSPLIT, P_PUNCT, P_DIGITS, P_CHARDELIM, P_METASPACE, P_SPLIT, P_SEQUENCE,
       P_BYTELEVEL };

/* pre_tokenizers/byte_level.rs */
static const char gpt2_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

struct tok_pretok {
    int type;
    int behavior;       /* Punctuation, Split */
    int individual;     /* Digits */
    uint32_t delim;     /* CharDelimiterSplit */
    char repl[8];       /* Metaspace replacement (UTF-8) */
    int prepend, split; /* Metaspace */
    void *re;           /* Split; ByteLevel with use_regex */
    int invert;         /* Split */
    int add_prefix;     /* ByteLevel add_prefix_space */
    tok_pretok **seq;
    int nseq;
};

void tok_pretok_free(tok_pretok *pt) {
    if (!pt) return;
    for (int i = 0; i < pt->nseq; i++) tok_pretok_free(pt->seq[i]);
    free(pt->seq);
    tok_regex_free(pt->re);
    free(pt);
}

tok_pretok *tok_pretok_bert(void) {
    tok_pretok *pt = mt_calloc(1, sizeof *pt);
    if (pt) pt->type = P_BERT;
    return pt;
}

/* ---- regex ---- */

/* Rewrites the escapes whose sets differ between Oniguruma and PCRE2 (see the top of the file).
 * Returns a malloc'ed pattern, or NULL on OOM. */
static char *onig_rewrite(const char *p) {
    tok_buf b = {0};
    int in_class = 0;
    size_t n = strlen(p), i = 0;
    tok_buf_put(&b, "", 0);
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (d == 'Q') { /* \Q...\E: literal */
                const char *end = strstr(p + i + 2, "\\E");
                size_t stop = end ? (size_t)(end - p) + 2 : n;
                tok_buf_put(&b, p + i, stop - i);
                i = stop;
                continue;
            }
            const char *set = NULL;
            size_t len = 2;
            int neg = 0;
            if (d == 's' || d == 'S') {
                set = tok_onig_space;
                neg = d == 'S';
            } else if (d == 'p' || d == 'P') {
                neg = d == 'P';
                if (i + 2 < n && (p[i + 2] == 'L' || p[i + 2] == 'N')) len = 3;
                else if (i + 4 < n && p[i + 2] == '{' && (p[i + 3] == 'L' || p[i + 3] == 'N') && p[i + 4] == '}') len = 5;
                else len = 0;
                if (len) set = p[i + len - 2] == 'L' || p[i + len - 1] == 'L' ? tok_onig_L_extra : tok_onig_N_extra;
                if (len == 0) len = 2;
            }
            if (set && !(neg && in_class)) {
                int prop = d == 'p' || d == 'P';
                if (!in_class) tok_buf_put(&b, neg ? "[^" : "[", neg ? 2 : 1);
                if (prop) tok_buf_put(&b, set == tok_onig_L_extra ? "\\p{L}" : "\\p{N}", 5);
                tok_buf_put(&b, set, strlen(set));
                if (!in_class) tok_buf_putc(&b, ']');
                i += len;
                continue;
            }
            tok_buf_put(&b, p + i, 2);
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            tok_buf_putc(&b, c);
            i++;
            if (i < n && p[i] == '^') tok_buf_putc(&b, p[i++]);
            if (i < n && p[i] == ']') tok_buf_putc(&b, p[i++]); /* a leading ] is literal */
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') { /* [:alpha:] */
            const char *end = strstr(p + i + 2, ":]");
            size_t stop = end ? (size_t)(end - p) + 2 : i + 1;
            tok_buf_put(&b, p + i, stop - i);
            i = stop;
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        tok_buf_putc(&b, c);
        i++;
    }
    char *r = b.oom ? NULL : mt_strdup(tok_buf_str(&b));
    tok_buf_free(&b);
    return r;
}

void *tok_regex_compile(const char *pattern, int literal, const char *what, const char *field, mt_err *e) {
    int err;
    PCRE2_SIZE off;
    uint32_t opt = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    char *rw = literal ? NULL : onig_rewrite(pattern);
    if (!literal && !rw) {
        mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
        return NULL;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(rw ? rw : pattern), PCRE2_ZERO_TERMINATED, opt, &err, &off, NULL);
    free(rw);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        mt_fail(e, MT_EUNSUPPORTED, "%s: %s: regex '%s' not accepted at offset %zu: %s", what, field, pattern,
                (size_t)off, (const char *)msg);
        return NULL;
    }
    return re;
}

void tok_regex_free(void *re) {
    if (re) pcre2_code_free((pcre2_code *)re);
}

static int span_push(tok_span **sp, int *n, int *cap, size_t a, size_t b, int m) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        tok_span *v = mt_realloc(*sp, (size_t)c * sizeof *v);
        if (!v) return MT_ENOMEM;
        *sp = v;
        *cap = c;
    }
    (*sp)[(*n)++] = (tok_span){a, b, m};
    return MT_OK;
}

/* Pattern for &SysRegex (tokenizer/pattern.rs) with the onig crate's find_iter, which skips an
 * empty match right where the previous match ended. */
int tok_regex_spans(const void *rev, const char *s, size_t n, tok_span **sp, int *nsp) {
    const pcre2_code *re = rev;
    int cap = 0;
    *sp = NULL;
    *nsp = 0;
    if (n == 0) return span_push(sp, nsp, &cap, 0, 0, 0);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return MT_ENOMEM;
    size_t prev = 0, last_end = 0;
    int have_last = 0, rc = MT_OK;
    size_t last_match_end = 0;
    while (last_end <= n) {
        int r = pcre2_match(re, (PCRE2_SPTR)s, n, last_end, PCRE2_NO_UTF_CHECK, md, NULL);
        if (r < 0) break; /* no match (or a match-limit error: treated as no further match) */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (b < a) break; /* \K tricks: not supported */
        if (a == b && have_last && last_match_end == b) {
            last_end += last_end < n ? (size_t)tok_utf8_len((unsigned char)s[last_end]) : 1;
            continue;
        }
        last_end = b;
        last_match_end = b;
        have_last = 1;
        if (prev != a && (rc = span_push(sp, nsp, &cap, prev, a, 0))) break;
        if ((rc = span_push(sp, nsp, &cap, a, b, 1))) break;
        prev = b;
    }
    if (rc == MT_OK && prev != n) rc = span_push(sp, nsp, &cap, prev, n, 0);
    pcre2_match_data_free(md);
    return rc;
}

/* ---- char-predicate splitting ---- */

typedef int (*cp_pred)(const tok_pretok *, uint32_t);

/* Pattern for Fn(char) -> bool: every matching char is its own match. */
static int pred_spans(const tok_pretok *pt, cp_pred f, const char *s, size_t n, tok_span **sp, int *nsp) {
    int cap = 0;
    *sp = NULL;
    *nsp = 0;
    if (n == 0) return span_push(sp, nsp, &cap, 0, 0, 0);
    size_t last = 0, i = 0;
    while (i < n) {
        uint32_t c;
        int k = tok_utf8_dec(s + i, n - i, &c);
        if (f(pt, c)) {
            if (last < i && span_push(sp, nsp, &cap, last, i, 0)) return MT_ENOMEM;
            if (span_push(sp, nsp, &cap, i, i + (size_t)k, 1)) return MT_ENOMEM;
            last = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (n > last && span_push(sp, nsp, &cap, last, n, 0)) return MT_ENOMEM;
    return MT_OK;
}

static int is_ws(const tok_pretok *pt, uint32_t c) { (void)pt; return tok_is_whitespace(c); }
static int is_punct(const tok_pretok *pt, uint32_t c) { (void)pt; return tok_is_bert_punct(c); }
static int is_digit(const tok_pretok *pt, uint32_t c) { (void)pt; return tok_is_numeric(c); }
static int is_delim(const tok_pretok *pt, uint32_t c) { return c == pt->delim; }

static int split_pred(const tok_pretok *pt, cp_pred f, int behavior, const tok_split *in, tok_splits *out) {
    tok_span *sp;
    int nsp;
    if (pred_spans(pt, f, in->s, in->n, &sp, &nsp)) return MT_ENOMEM;
    int rc = tok_split_spans(in->s, in->n, in->al, sp, nsp, behavior, out);
    free(sp);
    return rc;
}

/* Whitespace: the words of \w+|[^\w\s]+ . */
static int whitespace(const tok_split *in, tok_splits *out) {
    const char *s = in->s;
    size_t n = in->n, i = 0;
    while (i < n) {
        uint32_t c;
        int k = tok_utf8_dec(s + i, n - i, &c);
        if (tok_is_whitespace(c)) {
            i += (size_t)k;
            continue;
        }
        int word = tok_is_word(c);
        size_t j = i + (size_t)k;
        while (j < n) {
            int k2 = tok_utf8_dec(s + j, n - j, &c);
            if (word ? !tok_is_word(c) : (tok_is_word(c) || tok_is_whitespace(c))) break;
            j += (size_t)k2;
        }
        if (tok_splits_push(out, s + i, j - i, -1, in->al + i, 0)) return MT_ENOMEM;
        i = j;
    }
    return MT_OK;
}

/* pre_tokenizers/metaspace.rs: ' ' -> replacement (aligned with the space), prepend (aligned
 * with the first char) when the scheme says so -- "first" only for a piece whose first char
 * comes from offset 0 of the original text --, then split before each replacement. */
static int metaspace(const tok_pretok *pt, const tok_split *in, tok_splits *out) {
    tok_buf b = {0};
    size_t rl = strlen(pt->repl);
    size_t *al = mt_malloc((in->n * rl + rl + 1) * sizeof *al), na = 0;
    if (!al) return MT_ENOMEM;
    int starts = (in->n >= rl && memcmp(in->s, pt->repl, rl) == 0) || (in->n && in->s[0] == ' ');
    if (!starts && in->n && (pt->prepend == PREPEND_ALWAYS || (pt->prepend == PREPEND_FIRST && in->al[0] == 0))) {
        tok_buf_put(&b, pt->repl, rl);
        for (size_t k = 0; k < rl; k++) al[na++] = in->al[0];
    }
    for (size_t i = 0; i < in->n; i++) {
        if (in->s[i] == ' ') {
            tok_buf_put(&b, pt->repl, rl);
            for (size_t k = 0; k < rl; k++) al[na++] = in->al[i];
        } else {
            tok_buf_putc(&b, in->s[i]);
            al[na++] = in->al[i];
        }
    }
    if (b.oom) {
        tok_buf_free(&b);
        free(al);
        return MT_ENOMEM;
    }
    int rc;
    const char *s = tok_buf_str(&b);
    if (!pt->split) {
        rc = b.n ? tok_splits_push(out, s, b.n, -1, al, 0) : MT_OK;
    } else {
        tok_span *sp = NULL;
        int nsp = 0, cap = 0;
        size_t last = 0, i = 0;
        rc = MT_OK;
        while (i < b.n && rc == MT_OK) {
            if (i + rl <= b.n && memcmp(s + i, pt->repl, rl) == 0) {
                if (last < i) rc = span_push(&sp, &nsp, &cap, last, i, 0);
                if (rc == MT_OK) rc = span_push(&sp, &nsp, &cap, i, i + rl, 1);
                i += rl;
                last = i;
            } else {
                i += (size_t)tok_utf8_len((unsigned char)s[i]);
            }
        }
        if (rc == MT_OK && b.n > last) rc = span_push(&sp, &nsp, &cap, last, b.n, 0);
        if (rc == MT_OK) rc = tok_split_spans(s, b.n, al, sp, nsp, TOK_MERGED_NEXT, out);
        free(sp);
    }
    tok_buf_free(&b);
    free(al);
    return rc;
}

/* Each byte becomes its bytes_to_unicode char, aligned with the byte. */
static int byte_map(const char *s, size_t n, const size_t *al, tok_splits *out) {
    tok_buf b = {0};
    size_t *a = mt_malloc((2 * n + 1) * sizeof *a), na = 0;
    if (!a) return MT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t before = b.n;
        tok_buf_put_cp(&b, tok_byte_char((unsigned char)s[i]));
        for (size_t k = before; k < b.n; k++) a[na++] = al[i];
    }
    int rc = b.oom ? MT_ENOMEM : tok_splits_push(out, tok_buf_str(&b), b.n, -1, a, 0);
    tok_buf_free(&b);
    free(a);
    return rc;
}

/* ByteLevel: optional prefix space (aligned with the first char), the GPT-2 regex split
 * (Isolated), then the byte-to-char mapping. */
static int bytelevel(const tok_pretok *pt, const tok_split *in, tok_splits *out) {
    const char *s = in->s;
    size_t n = in->n;
    const size_t *al = in->al;
    char *ps = NULL;
    size_t *pa = NULL;
    if (pt->add_prefix && n && s[0] != ' ') {
        ps = mt_malloc(n + 2);
        pa = mt_malloc((n + 1) * sizeof *pa);
        if (!ps || !pa) {
            free(ps);
            free(pa);
            return MT_ENOMEM;
        }
        ps[0] = ' ';
        memcpy(ps + 1, s, n);
        ps[n + 1] = 0;
        pa[0] = al[0];
        memcpy(pa + 1, al, n * sizeof *pa);
        s = ps;
        al = pa;
        n++;
    }
    int rc = MT_OK;
    if (pt->re) {
        tok_splits parts = {0};
        tok_span *sp;
        int nsp;
        rc = tok_regex_spans(pt->re, s, n, &sp, &nsp);
        if (rc == MT_OK) {
            rc = tok_split_spans(s, n, al, sp, nsp, TOK_ISOLATED, &parts);
            free(sp);
        }
        for (int i = 0; i < parts.n && rc == MT_OK; i++) rc = byte_map(parts.v[i].s, parts.v[i].n, parts.v[i].al, out);
        tok_splits_free(&parts);
    } else if (n) {
        rc = byte_map(s, n, al, out);
    }
    free(ps);
    free(pa);
    return rc;
}

static int apply_one(const tok_pretok *pt, const tok_split *in, tok_splits *out, mt_err *e) {
    switch (pt->type) {
    case P_BERT: {
        tok_splits tmp = {0};
        int rc = split_pred(pt, is_ws, TOK_REMOVED, in, &tmp);
        for (int i = 0; i < tmp.n && rc == MT_OK; i++) rc = split_pred(pt, is_punct, TOK_ISOLATED, &tmp.v[i], out);
        tok_splits_free(&tmp);
        return rc;
    }
    case P_WHITESPACE: return whitespace(in, out);
    case P_WSSPLIT: return split_pred(pt, is_ws, TOK_REMOVED, in, out);
    case P_PUNCT: return split_pred(pt, is_punct, pt->behavior, in, out);
    case P_DIGITS: return split_pred(pt, is_digit, pt->individual ? TOK_ISOLATED : TOK_CONTIGUOUS, in, out);
    case P_CHARDELIM: return split_pred(pt, is_delim, TOK_REMOVED, in, out);
    case P_METASPACE: return metaspace(pt, in, out);
    case P_BYTELEVEL: return bytelevel(pt, in, out);
    case P_SPLIT: {
        tok_span *sp;
        int nsp;
        if (tok_regex_spans(pt->re, in->s, in->n, &sp, &nsp)) return MT_ENOMEM;
        if (pt->invert)
            for (int i = 0; i < nsp; i++) sp[i].is_match = !sp[i].is_match;
        int rc = tok_split_spans(in->s, in->n, in->al, sp, nsp, pt->behavior, out);
        free(sp);
        return rc;
    }
    case P_SEQUENCE: {
        tok_splits cur = {0};
        int rc = tok_splits_push(&cur, in->s, in->n, -1, in->al, 0);
        for (int i = 0; i < pt->nseq && rc == MT_OK; i++) rc = tok_pretok_apply(pt->seq[i], &cur, e);
        for (int i = 0; i < cur.n && rc == MT_OK; i++)
            rc = tok_splits_push(out, cur.v[i].s, cur.v[i].n, cur.v[i].id, cur.v[i].al, 0);
        tok_splits_free(&cur);
        return rc;
    }
    }
    return MT_OK;
}

int tok_pretok_apply(const tok_pretok *pt, tok_splits *io, mt_err *e) {
    tok_splits out = {0};
    int rc = MT_OK;
    for (int i = 0; i < io->n && rc == MT_OK; i++) {
        const tok_split *sp = &io->v[i];
        if (sp->id >= 0) {
            rc = tok_splits_push(&out, sp->s, sp->n, sp->id, sp->al, 0);
            continue;
        }
        int before = out.n;
        rc = apply_one(pt, sp, &out, e);
        /* PreTokenizedString::split drops empty pieces */
        int w = before;
        for (int j = before; j < out.n; j++) {
            if (out.v[j].n == 0 && out.v[j].id < 0) {
                free(out.v[j].s);
                free(out.v[j].al);
            }
            else out.v[w++] = out.v[j];
        }
        out.n = w;
    }
    if (rc) {
        tok_splits_free(&out);
        return mt_fail(e, rc, "tokenizer: out of memory pre-tokenizing");
    }
    tok_splits_free(io);
    *io = out;
    return MT_OK;
}

/* ---- parsing ---- */

static int parse_behavior(const json_t *j, const char *what, const char *field, int *out, mt_err *e) {
    const char *b = NULL;
    int rc = tok_j_str(j, "behavior", 0, what, field, &b, e);
    if (rc || !b) return rc;
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    static const int vals[] = {TOK_REMOVED, TOK_ISOLATED, TOK_MERGED_PREV, TOK_MERGED_NEXT, TOK_CONTIGUOUS};
    for (int i = 0; i < 5; i++)
        if (!strcmp(b, names[i])) {
            *out = vals[i];
            return MT_OK;
        }
    return mt_fail(e, MT_EUNSUPPORTED, "%s: %s.behavior '%s' is not supported", what, field, b);
}

int tok_pretok_parse(const json_t *j, const char *what, const char *field, tok_pretok **out, mt_err *e) {
    const char *type;
    int rc = tok_j_type(j, what, field, &type, e);
    if (rc) return rc;
    tok_pretok *pt = mt_calloc(1, sizeof *pt);
    if (!pt) return mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
    char sub[256];
    if (!strcmp(type, "BertPreTokenizer")) {
        pt->type = P_BERT;
    } else if (!strcmp(type, "Whitespace")) {
        pt->type = P_WHITESPACE;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        pt->type = P_WSSPLIT;
    } else if (!strcmp(type, "Punctuation")) {
        pt->type = P_PUNCT;
        pt->behavior = TOK_ISOLATED;
        if ((rc = parse_behavior(j, what, field, &pt->behavior, e))) goto fail;
    } else if (!strcmp(type, "Digits")) {
        pt->type = P_DIGITS;
        if ((rc = tok_j_bool(j, "individual_digits", what, field, &pt->individual, e))) goto fail;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        pt->type = P_CHARDELIM;
        const char *d;
        if ((rc = tok_j_str(j, "delimiter", 1, what, field, &d, e))) goto fail;
        if (!*d || tok_utf8_check(d, strlen(d)) != (size_t)-1 ||
            (size_t)tok_utf8_dec(d, strlen(d), &pt->delim) != strlen(d)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.delimiter: expected one character", what, field);
            goto fail;
        }
    } else if (!strcmp(type, "Metaspace")) {
        pt->type = P_METASPACE;
        const char *r = "\xe2\x96\x81", *scheme = NULL;
        int aps = -1;
        pt->split = 1;
        if ((rc = tok_j_str(j, "replacement", 0, what, field, &r, e)) ||
            (rc = tok_j_str(j, "prepend_scheme", 0, what, field, &scheme, e)) ||
            (rc = tok_j_bool(j, "add_prefix_space", what, field, &aps, e)) ||
            (rc = tok_j_bool(j, "split", what, field, &pt->split, e)))
            goto fail;
        uint32_t cp;
        if (!*r || strlen(r) > 4 || tok_utf8_check(r, strlen(r)) != (size_t)-1 ||
            (size_t)tok_utf8_dec(r, strlen(r), &cp) != strlen(r)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.replacement: expected one character", what, field);
            goto fail;
        }
        strcpy(pt->repl, r);
        pt->prepend = PREPEND_ALWAYS;
        if (scheme) {
            if (!strcmp(scheme, "always")) pt->prepend = PREPEND_ALWAYS;
            else if (!strcmp(scheme, "first")) pt->prepend = PREPEND_FIRST;
            else if (!strcmp(scheme, "never")) pt->prepend = PREPEND_NEVER;
            else {
                rc = mt_fail(e, MT_EUNSUPPORTED, "%s: %s.prepend_scheme '%s' is not supported", what, field, scheme);
                goto fail;
            }
        }
        if (aps == 0) pt->prepend = PREPEND_NEVER; /* legacy add_prefix_space: false */
    } else if (!strcmp(type, "Split")) {
        pt->type = P_SPLIT;
        pt->behavior = TOK_REMOVED;
        if ((rc = parse_behavior(j, what, field, &pt->behavior, e)) ||
            (rc = tok_j_bool(j, "invert", what, field, &pt->invert, e)))
            goto fail;
        json_t *pat = json_object_get(j, "pattern");
        snprintf(sub, sizeof sub, "%s.pattern", field);
        const char *ps;
        int literal;
        if (json_is_object(pat) && json_is_string(json_object_get(pat, "String"))) {
            ps = json_string_value(json_object_get(pat, "String"));
            literal = 1;
        } else if (json_is_object(pat) && json_is_string(json_object_get(pat, "Regex"))) {
            ps = json_string_value(json_object_get(pat, "Regex"));
            literal = 0;
        } else {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s: expected {\"String\": ...} or {\"Regex\": ...}", what, sub);
            goto fail;
        }
        if (literal && !*ps) ps = "(?!)"; /* an empty string pattern never matches */
        if (!(pt->re = tok_regex_compile(ps, literal && strcmp(ps, "(?!)"), what, sub, e))) {
            rc = e ? e->code : MT_EFORMAT;
            goto fail;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        pt->type = P_BYTELEVEL;
        int use_regex = 1, trim = 1;
        pt->add_prefix = 1;
        if ((rc = tok_j_bool(j, "add_prefix_space", what, field, &pt->add_prefix, e)) ||
            (rc = tok_j_bool(j, "use_regex", what, field, &use_regex, e)) ||
            (rc = tok_j_bool(j, "trim_offsets", what, field, &trim, e))) /* offsets only */
            goto fail;
        if (use_regex && !(pt->re = tok_regex_compile(gpt2_pattern, 0, what, field, e))) {
            rc = e ? e->code : MT_EFORMAT;
            goto fail;
        }
    } else if (!strcmp(type, "Sequence")) {
        pt->type = P_SEQUENCE;
        json_t *arr = json_object_get(j, "pretokenizers");
        if (!json_is_array(arr)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: %s.pretokenizers: expected an array", what, field);
            goto fail;
        }
        size_t k = json_array_size(arr);
        pt->seq = mt_calloc(k, sizeof *pt->seq);
        if (!pt->seq) {
            rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", what);
            goto fail;
        }
        for (size_t i = 0; i < k; i++) {
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", field, i);
            if ((rc = tok_pretok_parse(json_array_get(arr, i), what, sub, &pt->seq[i], e))) goto fail;
            pt->nseq++;
        }
    } else {
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: %s.type '%s' is not supported", what, field, type);
        goto fail;
    }
    *out = pt;
    return MT_OK;
fail:
    tok_pretok_free(pt);
    return rc;
}
