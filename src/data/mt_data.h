/* The multilingual paraphrased cloze benchmark (RML-LAMA style, METHOD.md section 7):
 * building it from the raw public sources, reading it back, statistics, validation, and the
 * per-model "known facts" filter. Schema: docs/DATA_SCHEMA.md.
 *
 * Like the rest of the library these functions never print; they return a status and fill an
 * mt_err with one line naming the file, the line number and the field at fault. */
#ifndef MT_DATA_H
#define MT_DATA_H

#include <jansson.h>
#include <stdint.h>

#include "mt_common.h"

#define MT_DATA_SCHEMA_VERSION 1
#define MT_DATA_FORMAT "matrice-cloze-benchmark"

/* ---------------------------------------------------------------- languages */

typedef struct mt_data_lang {
    const char *code;     /* as given on the command line: "zh", "en" */
    const char *raw;      /* mParaRel directory name: "zh-hans" for zh, else the code */
    const char *name;     /* English name */
    const char *family;   /* language family: "Indo-European", "Uralic", ... */
    const char *branch;   /* genus/branch inside the family: "Germanic", "Finnic", ... */
    int no_spaces;        /* written without spaces between words (zh, ja): spaces are deleted */
} mt_data_lang;

/* The language table (the 45 mParaRel languages); NULL when the code is unknown. */
const mt_data_lang *mt_data_lang_find(const char *code);

/* ---------------------------------------------------------------- build */

typedef struct mt_data_build_opts {
    const char *raw_dir;          /* a copy of shared/data-raw (or the vendored data/raw archive, unpacked) */
    const char *const *langs;     /* language codes, in output order */
    int n_langs;
    int max_per_relation;         /* cap on facts per relation (0: no cap); sampled with seed */
    uint64_t seed;
    int max_templates;            /* K: templates kept per relation and language (default 5) */
    int min_templates;            /* relations with fewer in some language are dropped (default 2) */
    int one_per_subject;          /* 1: one fact per (relation, subject), the other objects only as
                                     alternatives; 0 (default): one fact per parallel triple */
    const char *report_path;      /* optional JSONL log of every dropped template and relation */
} mt_data_build_opts;

void mt_data_build_opts_default(mt_data_build_opts *o);

typedef struct mt_data_build_info {
    long facts, queries, relations, templates;
} mt_data_build_info;

/* Builds the benchmark and writes it to out_path atomically (temp file, fsync, rename). The same
 * inputs and options give a byte-identical file. */
int mt_data_build(const mt_data_build_opts *o, const char *out_path, mt_data_build_info *info, mt_err *e);

/* ---------------------------------------------------------------- reading a built file */

/* Calls fn for the header (lineno 1, is_header 1) and every fact line of a benchmark file, with
 * the parsed JSON and the raw line (len bytes, no newline). Stops at the first non-zero return
 * of fn (which is returned). Malformed JSON fails with "<path>:<line>: malformed JSON ...". */
typedef int (*mt_data_line_fn)(void *ctx, int is_header, long lineno, json_t *j, const char *line, size_t len,
                               mt_err *e);
int mt_data_each_line(const char *path, mt_data_line_fn fn, void *ctx, mt_err *e);

/* ---------------------------------------------------------------- stats */

/* Statistics of a benchmark file as JSON (schema in docs/DATA_SCHEMA.md). */
int mt_data_stats(const char *path, json_t **out, mt_err *e);
/* The same statistics as a plain-text table (malloc'ed). */
char *mt_data_stats_table(const json_t *stats);

/* ---------------------------------------------------------------- validate */

typedef struct mt_data_problems {
    long facts;      /* fact lines read */
    long n;          /* problems found */
    char **msg;      /* the first max_msgs of them, one line each: "<path>:<line>: field '...': ..." */
    int n_msg;
} mt_data_problems;

/* Schema and consistency checks. Returns MT_OK when the file is valid, MT_EFORMAT when problems
 * were found (e holds the first one, p all of them up to max_msgs), MT_EIO when unreadable. */
int mt_data_validate(const char *path, int max_msgs, mt_data_problems *p, mt_err *e);
void mt_data_problems_free(mt_data_problems *p);

/* ---------------------------------------------------------------- filter */

/* Scores one cloze query for one candidate answer: prob = P(answer) (product over its tokens,
 * teacher-forced), top1 = whether every answer token is the model's argmax. An MT_EINVAL return
 * means "this answer/query cannot be scored by this model" (the answer needs the unknown token,
 * the query is too long): the filter counts it as not known and goes on. Other codes abort. */
typedef struct mt_data_scorer {
    void *ctx;
    const char *kind; /* "masked" (BERT, XLM-R); "causal" comes later (prefix before [Y]) */
    int (*score)(void *ctx, const char *query, const char *answer, double *prob, int *top1, mt_err *e);
    void (*close)(void *ctx);
} mt_data_scorer;

/* Opens the scorer that fits the model in dir (by its config.json architecture). */
int mt_data_scorer_open(const char *model_dir, mt_data_scorer *s, mt_err *e);
void mt_data_scorer_close(mt_data_scorer *s);

typedef struct mt_data_filter_opts {
    double min_prob;      /* < 0: only the top-1 test; else known when top-1 or P >= min_prob */
    int require_all;      /* 1: known in every language (default); 0: in at least one */
    const char *model;    /* recorded in the output header */
} mt_data_filter_opts;

typedef struct mt_data_filter_info {
    long kept, dropped, queries_scored;
} mt_data_filter_info;

/* Keeps the facts the model knows: in a language, known when at least one query gives one of
 * the gold answers (object or alternative) top-1 or P >= min_prob. Writes the kept facts to
 * out_path (header + verbatim fact lines) and one line per dropped fact, with the reason, to
 * out_path + ".dropped.jsonl". Both writes are atomic. */
int mt_data_filter(const char *in_path, const char *out_path, const mt_data_scorer *s, const mt_data_filter_opts *o,
                   mt_data_filter_info *info, mt_err *e);

/* ---------------------------------------------------------------- helpers (also used by tests) */

/* 1 when [Y] is followed only by whitespace and punctuation. */
int mt_data_y_final(const char *text);
/* Classifies a template: NULL when usable, else the reason it is dropped
 * ("no [X]", "no [Y]", "several [X]", "several [Y]", "stray bracket", "[Y] before [X]"). */
const char *mt_data_template_problem(const char *t);

/* ---------------------------------------------------------------- a benchmark file in memory */

/* Every fact of a benchmark file, for the experiments that look facts up by id or draw
 * unrelated ones (evaluate, edit, enhance, inject). */
typedef struct mt_dataset {
    char *path;
    json_t *header;
    json_t *facts;  /* fact objects in file order */
    json_t *index;  /* id -> position in facts */
    json_t *langs;  /* the header's language codes */
} mt_dataset;

/* Loads a benchmark file; a fact line without a string id, a relation or a langs object, or an
 * id given twice, fails with "<path>:<line>: field ...". */
int mt_dataset_load(const char *path, mt_dataset *d, mt_err *e);
/* The fact with this id, or NULL. */
const json_t *mt_dataset_fact(const mt_dataset *d, const char *id);
/* Fails with "<path>: language 'xx' is not in the data file (it has en,de,...)" unless every
 * code is one of the header's languages. */
int mt_dataset_check_langs(const mt_dataset *d, const char *const *codes, int n, mt_err *e);
void mt_dataset_free(mt_dataset *d);

#endif
