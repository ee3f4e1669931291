#include "mt_cloze.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int slot_count(const char *q) {
    int n = 0;
    for (const char *p = strstr(q, MT_SLOT); p; p = strstr(p + 1, MT_SLOT)) n++;
    return n;
}

int mt_cloze_answer(const mt_tokenizer *tok, const char *query, const char *answer, int32_t **ids, int *n,
                    mt_err *e) {
    *ids = NULL;
    *n = 0;
    const char *s = answer;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return mt_fail(e, MT_EINVAL, "answer: empty");
    int rc = mt_tok_encode(tok, answer, 0, ids, n, e);
    if (rc) {
        mt_err_prefix(e, "answer '%s'", answer);
        return rc;
    }
    const char *slot = strstr(query, MT_SLOT);
    int spaced = slot && slot > query && (slot[-1] == ' ' || slot[-1] == '\t');
    if (!spaced && *n > 1) {
        const char *first = mt_tok_id_to_token(tok, (*ids)[0]);
        if (first && !strcmp(first, "\xe2\x96\x81")) { /* "▁" alone */
            memmove(*ids, *ids + 1, sizeof(int32_t) * (size_t)(*n - 1));
            (*n)--;
        }
    }
    if (*n == 0) {
        free(*ids);
        *ids = NULL;
        return mt_fail(e, MT_EINVAL, "answer '%s': the tokenizer gives no tokens", answer);
    }
    for (int i = 0; i < *n; i++) {
        const char *t = mt_tok_id_to_token(tok, (*ids)[i]);
        if (mt_tok_is_special(tok, (*ids)[i]) || (t && (!strcmp(t, "[UNK]") || !strcmp(t, "<unk>")))) {
            int bad = (*ids)[i];
            free(*ids);
            *ids = NULL;
            *n = 0;
            return mt_fail(e, MT_EINVAL,
                           "answer '%s': the tokenizer cannot express it (token %d is '%s')", answer, i,
                           mt_tok_id_to_token(tok, bad) ? mt_tok_id_to_token(tok, bad) : "?");
        }
    }
    return MT_OK;
}

int mt_cloze_build(const mt_tokenizer *tok, const char *query, int n_slots, mt_cloze *out, mt_err *e) {
    memset(out, 0, sizeof *out);
    int ns = slot_count(query);
    if (ns == 0) return mt_fail(e, MT_EINVAL, "query: no answer slot %s in '%s'", MT_SLOT, query);
    if (ns > 1) return mt_fail(e, MT_EINVAL, "query: %d answer slots %s in '%s' (exactly one needed)", ns, MT_SLOT, query);
    if (n_slots < 1 || n_slots > 64) return mt_fail(e, MT_EINVAL, "query: %d answer tokens (1..64 supported)", n_slots);
    const char *mask = mt_tok_mask_token(tok);
    int32_t mask_id = mt_tok_mask_id(tok);
    if (!mask || mask_id < 0) return mt_fail(e, MT_EUNSUPPORTED, "tokenizer: no mask token ([MASK] or <mask>)");
    const char *slot = strstr(query, MT_SLOT);
    size_t ml = strlen(mask), pre = (size_t)(slot - query);
    char *text = malloc(strlen(query) + (ml + 1) * (size_t)n_slots + 1);
    if (!text) return mt_fail(e, MT_ENOMEM, "out of memory");
    memcpy(text, query, pre);
    char *p = text + pre;
    for (int i = 0; i < n_slots; i++) {
        if (i) *p++ = ' ';
        memcpy(p, mask, ml);
        p += ml;
    }
    strcpy(p, slot + strlen(MT_SLOT));
    int rc = mt_tok_encode(tok, text, 1, &out->ids, &out->T, e);
    free(text);
    if (rc) {
        mt_err_prefix(e, "query");
        return rc;
    }
    out->answer_pos = malloc(sizeof(int) * n_slots);
    out->special = malloc((size_t)out->T + 1);
    if (!out->answer_pos || !out->special) {
        mt_cloze_free(out);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    int found = 0;
    for (int i = 0; i < out->T; i++) {
        out->special[i] = mt_tok_is_special(tok, out->ids[i]) && out->ids[i] != mask_id;
        if (out->ids[i] == mask_id) {
            if (found < n_slots) out->answer_pos[found] = i;
            found++;
        }
    }
    if (found != n_slots) {
        mt_cloze_free(out);
        return mt_fail(e, MT_EINVAL, "query: expected %d mask tokens after tokenization, found %d ('%s' in the text?)",
                       n_slots, found, mask);
    }
    out->n_answer = n_slots;
    out->mask_id = mask_id;
    return MT_OK;
}

void mt_cloze_free(mt_cloze *c) {
    free(c->ids);
    free(c->answer_pos);
    free(c->answer_ids);
    free(c->special);
    memset(c, 0, sizeof *c);
}

mt_query mt_cloze_query(const mt_cloze *c) {
    mt_query q = {c->ids, NULL, c->T, c->answer_pos, c->answer_ids, c->n_answer, c->mask_id, c->special};
    return q;
}

/* Everything after [Y] is whitespace or punctuation (Unicode P* or ASCII symbols). */
static int slot_is_final(const char *after) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)after;
    while (*p) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n <= 0) return 0;
        utf8proc_category_t cat = utf8proc_category(cp);
        int punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
        int space = cat == UTF8PROC_CATEGORY_ZS || cp == '\t' || cp == '\n' || cp == '\r';
        if (!punct && !space) return 0;
        p += n;
    }
    return 1;
}

static int bad_answer_token(const mt_tokenizer *tok, int32_t id) {
    const char *t = mt_tok_id_to_token(tok, id);
    return mt_tok_is_special(tok, id) || (t && (!strcmp(t, "[UNK]") || !strcmp(t, "<unk>")));
}

/* Drops trailing end-of-sequence specials a post-processor may append. */
static void drop_trailing_eos(const mt_tokenizer *tok, const mt_config *cfg, const int32_t *ids, int *n) {
    while (*n > 0 && mt_tok_is_special(tok, ids[*n - 1]) && ids[*n - 1] == cfg->eos_id) (*n)--;
}

static int causal_make(const mt_tokenizer *tok, const mt_config *cfg, const char *query, const char *answer,
                       mt_cloze *out, mt_err *e) {
    int ns = slot_count(query);
    if (ns != 1)
        return mt_fail(e, MT_EINVAL, "query: %s answer slot %s in '%s' (exactly one needed)", ns ? "more than one" : "no",
                       MT_SLOT, query);
    const char *slot = strstr(query, MT_SLOT);
    if (!slot_is_final(slot + strlen(MT_SLOT)))
        return mt_fail(e, MT_EINVAL, "query: %s must be final for a causal model (only punctuation after it) in '%s'",
                       MT_SLOT, query);
    size_t plen = (size_t)(slot - query);
    while (plen && (query[plen - 1] == ' ' || query[plen - 1] == '\t')) plen--;
    if (!plen) return mt_fail(e, MT_EINVAL, "query: nothing before %s in '%s'", MT_SLOT, query);
    const int spaced = slot > query && (slot[-1] == ' ' || slot[-1] == '\t');
    int32_t replace = cfg->eos_id >= 0 ? cfg->eos_id : cfg->pad_id;
    if (replace < 0 || replace >= cfg->vocab_size)
        return mt_fail(e, MT_EUNSUPPORTED, "config.json: no eos_token_id or pad_token_id for AMIG replacements");
    char *text = malloc(plen + 2 + (answer ? strlen(answer) : 0));
    if (!text) return mt_fail(e, MT_ENOMEM, "out of memory");
    memcpy(text, query, plen);
    text[plen] = 0;
    int rc = mt_tok_encode(tok, text, 1, &out->ids, &out->T, e);
    if (rc) {
        free(text);
        mt_err_prefix(e, "query");
        return rc;
    }
    drop_trailing_eos(tok, cfg, out->ids, &out->T);
    int32_t *ans = NULL, *full = NULL;
    int na = 1, nf = 0;
    if (answer) {
        const char *s = answer;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) rc = mt_fail(e, MT_EINVAL, "answer: empty");
        if (!rc) {
            sprintf(text + plen, "%s%s", spaced ? " " : "", answer);
            rc = mt_tok_encode(tok, text, 1, &full, &nf, e);
        }
        if (!rc) {
            drop_trailing_eos(tok, cfg, full, &nf);
            if (nf > out->T && !memcmp(full, out->ids, sizeof(int32_t) * out->T)) {
                na = nf - out->T;
                ans = malloc(sizeof(int32_t) * na);
                if (ans) memcpy(ans, full + out->T, sizeof(int32_t) * na);
                else rc = mt_fail(e, MT_ENOMEM, "out of memory");
            } else { /* the prompt's tokens changed at the boundary: encode the answer alone */
                sprintf(text, "%s%s", spaced ? " " : "", answer);
                rc = mt_tok_encode(tok, text, 0, &ans, &na, e);
                if (!rc && na == 0) rc = mt_fail(e, MT_EINVAL, "answer '%s': the tokenizer gives no tokens", answer);
            }
        }
        if (rc && e && !strstr(e->msg, "answer")) mt_err_prefix(e, "answer '%s'", answer);
        for (int i = 0; !rc && i < na; i++)
            if (bad_answer_token(tok, ans[i]))
                rc = mt_fail(e, MT_EINVAL, "answer '%s': the tokenizer cannot express it (token %d is '%s')", answer, i,
                             mt_tok_id_to_token(tok, ans[i]) ? mt_tok_id_to_token(tok, ans[i]) : "?");
    }
    free(text);
    free(full);
    if (!rc) {
        out->answer_pos = malloc(sizeof(int) * na);
        out->special = malloc((size_t)out->T + 1);
        if (!out->answer_pos || !out->special) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    }
    if (rc) {
        free(ans);
        mt_cloze_free(out);
        return rc;
    }
    for (int i = 0; i < out->T; i++) out->special[i] = (uint8_t)mt_tok_is_special(tok, out->ids[i]);
    for (int t = 0; t < na; t++) out->answer_pos[t] = out->T - 1 + t;
    out->answer_ids = ans;
    out->n_answer = na;
    out->mask_id = replace;
    return MT_OK;
}

int mt_cloze_make(const mt_tokenizer *tok, const mt_config *cfg, const char *query, const char *answer, mt_cloze *out,
                  mt_err *e) {
    memset(out, 0, sizeof *out);
    if (cfg->causal) return causal_make(tok, cfg, query, answer, out, e);
    if (!answer) return mt_cloze_build(tok, query, 1, out, e);
    int32_t *ans = NULL;
    int na = 0;
    int rc = mt_cloze_answer(tok, query, answer, &ans, &na, e);
    if (!rc) rc = mt_cloze_build(tok, query, na, out, e);
    if (rc) {
        free(ans);
        return rc;
    }
    out->answer_ids = ans;
    return MT_OK;
}
