/* Scorers for the known-facts filter. A masked LM (BERT, XLM-R) scores a query by replacing [Y]
 * with one mask token per answer token: P(answer) = prod_t P(y_t), each slot t predicted with
 * the other slots holding their gold tokens (teacher forcing, as mt_answer_probs and the
 * attribution do), and top-1 = every y_t is the argmax at its slot. A causal LM (later) will
 * score the text before [Y] followed by the answer; mt_data_scorer_open picks by architecture. */
#include <stdlib.h>
#include <string.h>

#include "mt_cloze.h"
#include "mt_config.h"
#include "mt_data_internal.h"
#include "mt_kernels.h"
#include "mt_model.h"
#include "mt_tokenizer.h"

typedef struct mlm {
    mt_tokenizer *tok;
    mt_model *m;
    mt_run *r;
    int max_T, V;
    float *logits, *probs;
    int32_t *ids;
} mlm;

static void mlm_close(void *p) {
    mlm *c = p;
    if (!c) return;
    mt_run_free(c->r);
    mt_model_free(c->m);
    mt_tok_free(c->tok);
    free(c->logits);
    free(c->probs);
    free(c->ids);
    free(c);
}

static int mlm_score(void *p, const char *query, const char *answer, double *prob, int *top1, mt_err *e) {
    mlm *c = p;
    *prob = 0;
    *top1 = 0;
    int32_t *ans = NULL;
    int na = 0;
    mt_cloze q = {0};
    int rc = mt_cloze_answer(c->tok, query, answer, &ans, &na, e);
    if (rc) return rc;
    if ((rc = mt_cloze_build(c->tok, query, na, &q, e))) {
        free(ans);
        return rc;
    }
    if (q.T > c->max_T) {
        rc = mt_fail(e, MT_EINVAL, "query of %d tokens is longer than the model's %d positions", q.T, c->max_T);
        goto done;
    }
    double P = 1;
    int all_top = 1;
    for (int t = 0; t < na; t++) {
        memcpy(c->ids, q.ids, sizeof(int32_t) * q.T);
        for (int u = 0; u < na; u++) c->ids[q.answer_pos[u]] = u == t ? q.mask_id : ans[u];
        if ((rc = mt_forward(c->m, c->r, c->ids, NULL, q.T, e))) goto done;
        if ((rc = mt_head_logits(c->m, c->r, q.answer_pos[t], c->logits, e))) goto done;
        mt_softmax(c->probs, c->logits, c->V);
        int arg = 0;
        for (int i = 1; i < c->V; i++)
            if (c->logits[i] > c->logits[arg]) arg = i;
        P *= c->probs[ans[t]];
        if (arg != ans[t]) all_top = 0;
    }
    *prob = P;
    *top1 = all_top;
done:
    free(ans);
    mt_cloze_free(&q);
    return rc;
}

int mt_data_scorer_open(const char *model_dir, mt_data_scorer *s, mt_err *e) {
    memset(s, 0, sizeof *s);
    mt_config cfg;
    int rc = mt_config_load(model_dir, &cfg, e);
    if (rc) return rc;
    switch (cfg.arch) {
    case MT_ARCH_BERT:
    case MT_ARCH_XLMR: {
        mlm *c = calloc(1, sizeof *c);
        if (!c) return mt_fail(e, MT_ENOMEM, "out of memory");
        if ((rc = mt_tok_load(model_dir, &c->tok, e)) || (rc = mt_model_load(model_dir, &c->m, e))) {
            mlm_close(c);
            return rc;
        }
        const mt_config *mc = mt_model_config(c->m);
        c->V = mc->vocab_size;
        c->max_T = mc->max_pos - mc->pos_offset;
        if (c->max_T > 512) c->max_T = 512;
        c->logits = malloc(sizeof(float) * c->V);
        c->probs = malloc(sizeof(float) * c->V);
        c->ids = malloc(sizeof(int32_t) * c->max_T);
        if (!c->logits || !c->probs || !c->ids) {
            mlm_close(c);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        if ((rc = mt_run_new(c->m, c->max_T, 1, &c->r, e))) {
            mlm_close(c);
            return rc;
        }
        s->ctx = c;
        s->kind = "masked";
        s->score = mlm_score;
        s->close = mlm_close;
        return MT_OK;
    }
    default:
        return mt_fail(e, MT_EUNSUPPORTED, "%s: architecture '%s' has no scorer yet (masked LMs only)", model_dir,
                       cfg.architecture);
    }
}

void mt_data_scorer_close(mt_data_scorer *s) {
    if (s && s->close) s->close(s->ctx);
    if (s) memset(s, 0, sizeof *s);
}
