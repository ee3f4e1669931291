/* Shared between the report's loader (mt_report_load.c), figures (mt_report_fig.c) and page
 * (mt_report.c). Localization files are reduced to counts while they are read, so a report over
 * many thousands of facts needs little memory. */
#ifndef MT_REPORT_INTERNAL_H
#define MT_REPORT_INTERNAL_H

#include <jansson.h>

#include "mt_report.h"
#include "mt_svg.h"

#define RP_MAX_LANGS 64    /* languages per localization file */
#define RP_MAX_LAYERS 512  /* a layer index at or above this is refused as malformed */
#define RP_UNIT_BINS 64    /* columns of the (layer, unit) LAKN heat map */
#define RP_MAX_REASONS 5   /* failure reasons kept for the summary */

typedef struct rp_lang {
    char *code, *family;
    int facts;                  /* facts that have this language */
    int *per_fact;              /* neurons per ok fact (-1: language absent), length loc->facts */
    double hist[RP_MAX_LAYERS]; /* neurons per layer, summed over facts */
    double n_neurons;           /* sum of hist */
    double w_sum;               /* language confidence w, summed over facts that give it */
    int w_n;
    double prob_sum;            /* P(answer) over the queries of this language */
    int prob_n, queries, queries_failed; /* failed: the query has an "error" field */
} rp_lang;

typedef struct rp_neuron {
    int layer, unit;
} rp_neuron;

/* One localization file (one method). */
typedef struct rp_loc {
    char *path, *label, *method, *model;
    int n_layers, d_ff;   /* from the file, or inferred from the largest index seen */
    int facts, failed;    /* ok and failed facts */
    int nlang;
    rp_lang lang[RP_MAX_LANGS];
    int *lakn_per_fact;   /* length facts */
    double lakn_hist[RP_MAX_LAYERS];
    rp_neuron *lakn;      /* every LAKN of every fact (for the heat map and the top list) */
    size_t n_lakn, cap_lakn;
    int cap_facts;
    double jac_sum[RP_MAX_LANGS][RP_MAX_LANGS]; /* Jaccard overlap summed over facts */
    int jac_n[RP_MAX_LANGS][RP_MAX_LANGS];
    double seconds_sum;
    int seconds_n;
    char *reasons[RP_MAX_REASONS]; /* the first distinct failure reasons */
    int reason_count[RP_MAX_REASONS];
    int n_reasons;
    char **relations;     /* distinct relation ids, in order of appearance */
    int *relation_facts;
    int n_relations;
} rp_loc;

/* Any other input: an evaluation run, a merge summary, or a generic "matrice.*" document. */
typedef enum { RP_EVAL, RP_SUMMARY, RP_GENERIC } rp_doc_kind;

typedef struct rp_doc {
    rp_doc_kind kind;
    char *path, *label, *schema;
    json_t *json;
} rp_doc;

struct mt_report {
    rp_loc **locs;
    int n_locs;
    rp_doc **docs;
    int n_docs;
};

/* mt_report_load.c */
int rp_load_file(mt_report *r, const char *path, mt_err *e);
void rp_loc_free(rp_loc *l);
void rp_doc_free(rp_doc *d);
/* CI fields of an evaluation summary S, in display order. */
extern const char *const rp_ci_fields[];
extern const int rp_n_ci_fields;
/* Reads CI `field` of S: mean, lo, hi (NaN when absent). Returns 0 when the field is absent. */
int rp_ci(const json_t *S, const char *field, double *mean, double *lo, double *hi);

/* mt_report_fig.c: each figure appends one SVG document to `svg`; returns 0 when it has no data
 * (the figure is then left out). */
int rp_fig_layers(const mt_report *r, mt_strbuf *svg);
int rp_fig_counts(const mt_report *r, mt_strbuf *svg);
int rp_fig_jaccard(const mt_report *r, mt_strbuf *svg);
int rp_fig_lakn_map(const mt_report *r, mt_strbuf *svg);
int rp_fig_eval(const rp_doc *d, mt_strbuf *svg);
/* Colour of a method name (fixed for kn, amig, matrice, random; else by position). */
const char *rp_method_color(const char *method, int index);
/* Language indices of a localization file ordered by family, then code. */
void rp_lang_order(const rp_loc *l, int *order);

#endif
