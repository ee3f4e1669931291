/* Localization at scale: KN, AMIG and MATRICE over the facts of a benchmark file
 * (METHOD.md sections 1-3), one atomically written result file per fact, resumable and
 * shardable. Result schema: docs/LOCATE.md.
 *
 * mt_locate_fact attributes every query of one fact and aggregates; mt_locate_run loops over
 * a dataset (selection, shard, resume, progress); mt_locate_merge combines result folders. */
#ifndef MT_LOCATE_H
#define MT_LOCATE_H

#include <jansson.h>
#include <signal.h>

#include "mt_ig.h"
#include "mt_tokenizer.h"

#define MT_LOCATE_SCHEMA "matrice.locate.v1"

typedef enum { MT_LOC_KN, MT_LOC_AMIG, MT_LOC_MATRICE } mt_loc_method;
typedef enum { MT_CONF_PROB, MT_CONF_ENTROPY, MT_CONF_NONE } mt_conf_kind;

typedef struct mt_loc_opts {
    mt_loc_method method;
    mt_ig_opts ig;       /* baseline, multiplier, steps, target, neuron */
    double threshold;    /* t: coarse threshold (kn, amig) / score threshold (matrice); 0.2 */
    double share;        /* p: kn/amig refinement over a language's queries; 0.7 */
    double lambda_q;     /* query-level penalty (matrice); 1 */
    double lambda_l;     /* language-level penalty (matrice); 1 */
    double rho;          /* fraction of languages a LAKN must be a neuron of; 1 */
    mt_conf_kind confidence;
    int max_queries;     /* per language; 0 = all (amig's default is 1, as in the original) */
    int top;             /* top neurons recorded per query; 20 */
} mt_loc_opts;

/* The defaults of METHOD.md for a method: kn has the zero baseline and every query; amig and
 * matrice the AMIG baseline; amig one query per language. */
void mt_loc_opts_default(mt_loc_opts *o, mt_loc_method method);
const char *mt_loc_method_name(mt_loc_method m);
/* The options as a JSON object (recorded in every result). */
json_t *mt_loc_opts_json(const mt_loc_opts *o);

typedef struct mt_loc_hooks {
    volatile sig_atomic_t *stop;    /* checked between queries: MT_EINTERRUPTED when set */
    const char *scores_dir;         /* when set, every query's raw score matrix goes there as .npy */
    const char *reuse_dir;          /* when set, a query's scores are read from there if present */
    void (*query_done)(void *ctx);  /* progress: called after each query */
    void *ctx;
} mt_loc_hooks;

/* Attributes and aggregates one fact (a fact object of a benchmark file) in the languages
 * langs. Problems of the fact itself (an answer the tokenizer cannot express, a query without
 * a final [Y] for a causal model, NaN/Inf) are recorded in *out ("status": "failed" with a
 * reason when no language is left, or per query/language) and return MT_OK; only I/O, memory
 * and interruption are returned as errors. */
int mt_locate_fact(const mt_model *m, const mt_tokenizer *tok, const json_t *fact, const char *const *langs,
                   int n_langs, const mt_loc_opts *o, const mt_loc_hooks *h, json_t **out, mt_err *e);

/* Reads and checks a per-fact result file (schema, fact id, status, the fields merge uses). */
int mt_locate_result_load(const char *path, json_t **out, mt_err *e);
/* Checks an already parsed result; `what` names it in errors. */
int mt_locate_result_check(const json_t *r, const char *what, mt_err *e);

/* The finished result files of a locate --out folder, dir/facts/NAME.json (temporary files never
 * count), as malloc'ed paths in name order (free each, then *names). */
int mt_locate_list(const char *dir, char ***names, size_t *n, mt_err *e);

/* The file name of a fact's result: the id with every character outside [A-Za-z0-9._-]
 * replaced by '_', plus ".json" (malloc'ed). */
char *mt_locate_file_name(const char *fact_id);

typedef struct mt_loc_progress {
    long total;      /* facts of this shard */
    long done;       /* finished, this run or before (resumed) */
    long resumed;    /* of which found finished at start */
    long failed;     /* recorded as failed */
    long queries;    /* queries attributed in this run */
    double elapsed;  /* seconds of this run */
    const char *fact; /* the fact just finished (NULL at start) */
} mt_loc_progress;

typedef struct mt_loc_run {
    const char *model_path, *data_path, *out_dir;
    const char *const *langs;      /* NULL: every language of the data file */
    int n_langs;
    const char *const *relations;  /* NULL: all */
    int n_relations;
    long max_facts;                /* first N selected facts (before sharding); 0 = all */
    int shard_k, shard_n;          /* facts with index % n == k; n = 1: all */
    int keep_scores;
    /* a folder of an earlier run with --keep-scores and the same model, data and IG options
     * (baseline, multiplier, steps, target, neuron): its raw scores are aggregated again under
     * this run's method and thresholds instead of recomputing the attribution */
    const char *reuse;
    volatile sig_atomic_t *stop;
    void (*progress)(void *ctx, const mt_loc_progress *p);
    void *ctx;
} mt_loc_run;

/* Runs the localization of r->data_path's selected facts into r->out_dir/facts/, skipping
 * facts with a valid result there (resume). r->out_dir/run.json records the model, data,
 * languages and options; a later run into the same folder must use the same ones. */
int mt_locate_run(const mt_model *m, const mt_tokenizer *tok, const mt_loc_opts *o, const mt_loc_run *r,
                  mt_err *e);

typedef struct mt_loc_merge_info {
    long facts, failed;
} mt_loc_merge_info;

/* Combines the result folders (each an --out of locate) into out_path (JSONL, one fact per
 * line, sorted by fact id) and out_path + ".summary.json". Fails on a fact present twice or
 * results of different methods/options. no_timings drops every "seconds" field (for
 * comparing runs). */
int mt_locate_merge(const char *const *dirs, int n_dirs, const char *out_path, int no_timings,
                    mt_loc_merge_info *info, mt_err *e);

#endif
