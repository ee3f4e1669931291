/* Experiments on localized neurons (METHOD.md sections 4-5): suppress/enhance evaluation with a
 * random-neuron control and bootstrap intervals, cross-lingual editing, knowledge enhancement
 * and new-knowledge injection. Output schemas: docs/EXPERIMENTS.md. */
#ifndef MT_EXP_H
#define MT_EXP_H

#include <jansson.h>
#include <stdint.h>

#include "mt_cloze.h"
#include "mt_data.h"
#include "mt_ig.h"
#include "mt_tokenizer.h"
#include "mt_train.h"

/* ---------------------------------------------------------------- neuron sets */

/* The results of one locate run (a merged JSONL of `matrice merge`, or a locate --out folder),
 * indexed by fact id. */
typedef struct mt_results {
    char *path;
    char *method;
    int n_layers, d_ff;
    json_t *by_id; /* fact id -> result object */
    json_t *order; /* fact ids in file order */
} mt_results;

int mt_results_load(const char *path, mt_results *r, mt_err *e);
void mt_results_free(mt_results *r);

/* A fact's neurons: the "lakn" set (lang NULL) or a language's set ("languages.<lang>.neurons").
 * *n = 0 when the fact failed or the set is empty. *ids is malloc'ed (free it). */
int mt_results_set(const json_t *result, const char *lang, mt_neuron_id **ids, int *n, mt_err *e);

/* A control set: for every layer, as many distinct units as `set` has there, drawn uniformly
 * (seeded) among the units not in `set`. */
int mt_random_like(const mt_neuron_id *set, int n, int d_ff, uint64_t seed, mt_neuron_id *out, mt_err *e);

/* ---------------------------------------------------------------- scoring */

/* One query of a fact scored as the model answers it: P(answer) (product over the
 * teacher-forced tokens), whether every answer token is the argmax (top1), and the argmax at the
 * first answer slot. With set/n > 0 the neurons are multiplied by factor at the answer
 * position(s) (the mask slots of masked LMs, the last position of causal LMs). MT_EINVAL: the
 * query cannot be asked of this model (message in e). */
typedef struct mt_score {
    double prob;
    int top1;
    int32_t argmax;
    int n_answer;
} mt_score;

int mt_exp_score(const mt_model *m, const mt_tokenizer *tok, const char *query, const char *answer,
                 const mt_neuron_id *set, int n, float factor, mt_score *s, mt_err *e);

/* The same for a query scored many times (before, suppressed, enhanced, controls): tokenized and
 * given its run once. */
typedef struct mt_exp_query {
    mt_cloze c;
    mt_run *r;
} mt_exp_query;
int mt_exp_prepare(const mt_model *m, const mt_tokenizer *tok, const char *query, const char *answer, mt_exp_query *q,
                   mt_err *e);
int mt_exp_score_query(const mt_model *m, mt_exp_query *q, const mt_neuron_id *set, int n, float factor, mt_score *s,
                       mt_err *e);
void mt_exp_query_free(mt_exp_query *q);

/* ---------------------------------------------------------------- small shared helpers */

/* Deterministic 64-bit generator (splitmix64). */
uint64_t mt_exp_rand(uint64_t *state);
/* A fact of another relation than fact number i, drawn with the seed (NULL when none). */
const json_t *mt_exp_unrelated(const mt_dataset *d, size_t i, uint64_t seed);
/* The queries of a language of a fact (at most max, 0 = all) as (text, answer) pairs. */
size_t mt_exp_queries(const json_t *fact, const char *lang, int max, const char **texts, size_t cap,
                      const char **answer);

/* Mean and bootstrap 95% interval (percentiles 2.5 / 97.5 over B resamples) of a statistic of
 * per-unit values x[n][k]: stat(mean vector of the resample, ctx). */
typedef double (*mt_boot_stat)(const double *means, void *ctx);
json_t *mt_exp_ci(const double *x, int n, int k, mt_boot_stat stat, void *ctx, int B, uint64_t seed);

/* ---------------------------------------------------------------- the experiments */

typedef struct mt_eval_opts {
    const char *const *langs; /* NULL: the data file's */
    int n_langs;
    int max_queries;          /* per fact and language; 0 = all */
    long max_facts;           /* 0 = every fact with a non-empty set */
    const char *set_lang;     /* NULL: the LAKN set; else that language's set */
    int control_random;       /* add the random-neuron control of each method */
    int bootstrap;            /* resamples, 1000 */
    uint64_t seed;
    float suppress, enhance;  /* 0 and 2 */
    void (*progress)(void *ctx, long done, long total);
    void *ctx;
} mt_eval_opts;

void mt_eval_opts_default(mt_eval_opts *o);

/* Suppress/enhance evaluation of every results set (one per method) on the facts of d.
 * Writes a matrice.evaluate.v1 document into *out. */
int mt_evaluate(const mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const mt_results *sets, int n_sets,
                const mt_eval_opts *o, json_t **out, mt_err *e);

typedef struct mt_edit_opts {
    const char *fact_id;
    const char *new_object;        /* in every language ... */
    json_t *new_objects;           /* ... unless given per language here: {"zh": "里昂"} (may be NULL) */
    const char *lang;              /* the language whose neurons are the single-language comparison */
    const char *const *langs;
    int n_langs;
    float lambda1, lambda2;        /* 1 and 8 */
    int n_unrelated;               /* unrelated facts for locality, 20 */
    uint64_t seed;
    const char *save_dir;          /* write the LAKN-edited model there (may be NULL) */
    const char *model_dir;         /* the source, for mt_model_save */
} mt_edit_opts;

/* Cross-lingual edit of a fact's value vectors (LAKN set, then the single-language set), with
 * reliability, generality and locality per language. The model is restored afterwards. */
int mt_edit(mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const mt_results *res, const mt_edit_opts *o,
            json_t **out, mt_err *e);

typedef struct mt_enhance_opts {
    const char *const *langs;
    int n_langs;
    float factor;          /* 2 */
    long max_facts;
    int n_unrelated;       /* unrelated queries per fact, from one drawn fact; all of its languages */
    uint64_t seed;
} mt_enhance_opts;

/* Amplifies the LAKNs of facts known in some languages but not in others; accuracy gained in
 * the weak languages and lost on unrelated facts, against a random control. */
int mt_enhance(const mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const mt_results *res,
               const mt_enhance_opts *o, json_t **out, mt_err *e);

typedef enum { MT_INJECT_LAKN, MT_INJECT_RANDOM, MT_INJECT_ALL } mt_inject_choice;

typedef struct mt_inject_opts {
    const char *lang;          /* training language */
    const char *const *langs;  /* evaluation languages (NULL: the facts file's) */
    int n_langs;
    mt_inject_choice choice;
    int with_value;            /* also train the value vectors */
    int epochs;                /* 30 */
    double lr, weight_decay, beta1, beta2, eps; /* AdamW: 5e-3, 0.01, 0.9, 0.999, 1e-8 */
    uint64_t seed;
    const char *save_dir, *model_dir;
} mt_inject_opts;

void mt_inject_opts_default(mt_inject_opts *o);

/* Teaches the facts of `facts` in one language by training only the chosen neurons' rows.
 * lakn: the union of the LAKNs of res's facts of the same relations (all of res's when none
 * match); random: as many random neurons per layer; all: every FFN neuron. unrelated: facts
 * whose answers must survive. Reports accuracy before/after per language and the loss curve. */
int mt_inject(mt_model *m, const mt_tokenizer *tok, const mt_dataset *facts, const mt_dataset *unrelated,
              const mt_results *res, const mt_inject_opts *o, json_t **out, mt_err *e);

#endif
