#include "mt_cloze.h"

#include <stdlib.h>
#include <string.h>

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
