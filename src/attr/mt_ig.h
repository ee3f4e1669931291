/* Integrated gradients over FFN neurons (METHOD.md sections 1-2, 3.1).
 *
 * For answer token t at slot p_t and layer l: a = FFN activation at p_t, b = baseline,
 * z_k = b + (k/m)(a - b) for k = 1..m, score(n) = mult(n) * (1/m) sum_k dF_t(z_k)/dz_n with
 * mult = a - b (default) or a, F_t = P(y_t) or log P(y_t). Multi-token answers: one slot per
 * token, slot t masked and the other slots holding their gold tokens; scores summed over t. */
#ifndef MT_IG_H
#define MT_IG_H

#include "mt_model.h"

typedef enum { MT_BASELINE_ZERO, MT_BASELINE_AMIG } mt_baseline;
typedef enum { MT_MULT_DELTA, MT_MULT_ACTIVATION } mt_multiplier;

typedef struct mt_ig_opts {
    int steps;          /* m, default 20 */
    mt_baseline baseline;
    mt_multiplier multiplier;
    int logprob;        /* target: 0 = probability, 1 = log-probability */
    int layer_lo, layer_hi; /* layers [lo, hi) to attribute; hi = 0 means all */
    mt_neuron neuron;       /* the patch point; default: the down projection's input */
    int layer_group;        /* target layers per patched pass: 0 = automatic (memory-bounded),
                               1 = one layer at a time (the original path), n = at most n */
} mt_ig_opts;

void mt_ig_opts_default(mt_ig_opts *o);

/* A masked query: ids with the answer slots (any id there; they are set per token), the
 * answer, and which positions are special tokens (excluded from AMIG's replacements). */
typedef struct mt_query {
    const int32_t *ids;
    const int32_t *types; /* NULL: all zero */
    int T;
    const int *answer_pos;
    const int32_t *answer_ids;
    int n_answer;
    int32_t mask_id;
    const uint8_t *special; /* T flags, may be NULL */
} mt_query;

typedef struct mt_ig_result {
    int n_layers, d_ff, n_answer;
    float *scores;      /* [n_layers][d_ff], summed over answer tokens */
    double *prob;       /* [n_answer]: P(y_t | teacher-forced query) */
    double *f_a, *f_b;  /* [n_layers]: sum over t of F at z = a and at z = b */
    double *score_sum;  /* [n_layers]: sum of the layer's scores (completeness: ~ f_a - f_b) */
    float *baseline;    /* [n_answer][n_layers][d_ff] */
    double seconds;
    double flops;       /* matrix-multiply FLOPs spent (forward + backward) */
    int groups;         /* target layers per patched pass that were used */
} mt_ig_result;

int mt_ig_attribute(const mt_model *m, const mt_query *q, const mt_ig_opts *o, mt_ig_result *out, mt_err *e);
void mt_ig_result_free(mt_ig_result *r);

/* Teacher-forced answer probabilities only (no attribution): prob[t] = P(y_t); top1[t] (may
 * be NULL) = whether y_t is the argmax there. */
int mt_answer_probs(const mt_model *m, const mt_query *q, double *prob, mt_err *e);
int mt_answer_scores(const mt_model *m, const mt_query *q, double *prob, int *top1, mt_err *e);
/* The same on a caller's run r (NULL: a temporary one), so that an intervention set on r
 * (mt_train.h) applies; r must hold the query plus n_answer - 1 tokens. argmax[t] (may be NULL)
 * = the most probable token at slot t. */
int mt_answer_scores_run(const mt_model *m, mt_run *r, const mt_query *q, double *prob, int32_t *argmax, mt_err *e);

#endif
