/* Scorers for the known-facts filter. A masked LM (BERT, XLM-R) scores a query by replacing [Y]
 * with one mask token per answer token: P(answer) = prod_t P(y_t), each slot t predicted with
 * the other slots holding their gold tokens (teacher forcing, as mt_answer_probs and the
 * attribution do), and top-1 = every y_t is the argmax at its slot. A causal LM scores the
 * text before [Y] followed by the answer (teacher forcing, see mt_cloze_make). */
#include <stdlib.h>
#include <string.h>

#include "mt_cloze.h"
#include "mt_config.h"
#include "mt_data_internal.h"
#include "mt_kernels.h"
#include "mt_model.h"
#include "mt_tokenizer.h"

typedef struct scorer {
    mt_tokenizer *tok;
    mt_model *m;
} scorer;

static void scorer_close(void *p) {
    scorer *c = p;
    if (!c) return;
    mt_model_free(c->m);
    mt_tok_free(c->tok);
    free(c);
}

/* P(answer) and top-1 for one query, through the same cloze building and teacher-forced
 * probabilities as the attribution uses (masked: one mask per answer token; causal: prompt
 * before [Y] followed by the answer). */
static int score(void *p, const char *query, const char *answer, double *prob, int *top1, mt_err *e) {
    scorer *c = p;
    *prob = 0;
    *top1 = 0;
    mt_cloze q = {0};
    int rc = mt_cloze_make(c->tok, mt_model_config(c->m), query, answer, &q, e);
    if (rc) return rc;
    double pt[64];
    int tt[64];
    if (q.n_answer > 64) rc = mt_fail(e, MT_EINVAL, "answer '%s' has %d tokens (64 at most)", answer, q.n_answer);
    mt_query mq = mt_cloze_query(&q);
    if (!rc) rc = mt_answer_scores(c->m, &mq, pt, tt, e);
    if (!rc) {
        double P = 1;
        int all = 1;
        for (int t = 0; t < q.n_answer; t++) P *= pt[t], all &= tt[t];
        *prob = P;
        *top1 = all;
    }
    mt_cloze_free(&q);
    return rc;
}

int mt_data_scorer_open(const char *model_dir, mt_data_scorer *s, mt_err *e) {
    memset(s, 0, sizeof *s);
    scorer *c = calloc(1, sizeof *c);
    if (!c) return mt_fail(e, MT_ENOMEM, "out of memory");
    int rc = mt_model_load(model_dir, &c->m, e);
    if (!rc) rc = mt_tok_load(model_dir, &c->tok, e);
    if (rc) {
        scorer_close(c);
        return rc;
    }
    s->ctx = c;
    s->kind = mt_model_config(c->m)->causal ? "causal" : "masked";
    s->score = score;
    s->close = scorer_close;
    return MT_OK;
}

void mt_data_scorer_close(mt_data_scorer *s) {
    if (s && s->close) s->close(s->ctx);
    if (s) memset(s, 0, sizeof *s);
}
