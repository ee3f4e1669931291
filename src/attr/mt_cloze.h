/* Cloze queries: "Paris is the capital of [Y] ." -> token ids with one mask token per answer
 * token at the answer slot, the answer's ids, and which positions are special tokens. */
#ifndef MT_CLOZE_H
#define MT_CLOZE_H

#include "mt_ig.h"
#include "mt_tokenizer.h"

#define MT_SLOT "[Y]"

typedef struct mt_cloze {
    int32_t *ids;
    int T;
    int *answer_pos;
    int32_t *answer_ids;
    int n_answer;
    int32_t mask_id;
    uint8_t *special;
} mt_cloze;

/* Tokenizes the answer as the model would see it after the slot: HF `encode(answer,
 * add_special_tokens=False)`, dropping a lone leading "▁" piece when the query has no space
 * before [Y] (languages written without spaces). Fails on an empty answer, an answer with no
 * tokens, or one that needs the unknown token (the model could never predict it). */
int mt_cloze_answer(const mt_tokenizer *tok, const char *query, const char *answer, int32_t **ids, int *n,
                    mt_err *e);

/* Builds the masked query with n_slots mask tokens at [Y] (exactly one [Y] required). */
int mt_cloze_build(const mt_tokenizer *tok, const char *query, int n_slots, mt_cloze *out, mt_err *e);
void mt_cloze_free(mt_cloze *c);

/* Views a cloze (with its answer ids) as an attribution query. */
mt_query mt_cloze_query(const mt_cloze *c);

#endif
