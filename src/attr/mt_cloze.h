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

/* One entry point for both model kinds. Masked LMs: as mt_cloze_answer + mt_cloze_build (one
 * mask per answer token; one mask when answer is NULL). Causal LMs: [Y] must be final (only
 * punctuation after it); the prompt is the text before [Y] without trailing spaces, with the
 * model's special tokens (e.g. BOS); the answer's ids are what the tokenizer gives for
 * prompt + (" " if the query had a space before [Y]) + answer after the prompt's own ids (so
 * merges across the boundary are as in running text), falling back to encoding the answer
 * alone when the prompt's ids are not a prefix. The answer is read at the last position; AMIG
 * replaces prompt tokens by the end-of-sequence token (or pad). */
int mt_cloze_make(const mt_tokenizer *tok, const mt_config *cfg, const char *query, const char *answer, mt_cloze *out,
                  mt_err *e);

/* Views a cloze (with its answer ids) as an attribution query. */
mt_query mt_cloze_query(const mt_cloze *c);

#endif
