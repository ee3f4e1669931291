/* `matrice evaluate` (METHOD.md section 4): suppress (x0) and enhance (x2) a fact's neurons at the
 * answer position; relative change of the gold probability on the fact's own queries in every
 * language (related) and on a seeded random fact of another relation (unrelated); argmax flips;
 * Succ; the same for a random control of equal size per layer. Facts are the bootstrap unit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_exp.h"

void mt_eval_opts_default(mt_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->bootstrap = 1000;
    o->suppress = 0;
    o->enhance = 2;
}

enum { SUP_REL, SUP_UNREL, ENH_REL, ENH_UNREL, FLIP_SUP, FLIP_ENH, N_MET };
static const char *met_name[N_MET] = {"sup_rel", "sup_unrel", "enh_rel", "enh_unrel", "flip_sup", "flip_enh"};

/* Per fact, method and language: sums of the metrics and the query counts behind them. */
typedef struct {
    double sum[N_MET];
    int n_rel, n_unrel;
} cell;

typedef struct {
    const char *text, *answer;
    int lang, unrelated;
    int ok;
    mt_score before;
    mt_exp_query prepared; /* tokenized once, scored before and under every intervention */
} query;

static double stat_pick(const double *m, void *ctx) { return m[*(int *)ctx]; }
static double stat_succ(const double *m, void *ctx) {
    (void)ctx;
    return fabs(m[ENH_REL] / m[ENH_UNREL]) + fabs(m[SUP_REL] / m[SUP_UNREL]);
}

/* A group's statistics from per-fact values x[n][N_MET]. */
static json_t *group_json(const double *x, int n, int n_queries, int B, uint64_t seed) {
    json_t *g = json_pack("{s:i, s:i}", "n_facts", n, "n_queries", n_queries);
    for (int k = 0; k < N_MET; k++) json_object_set_new(g, met_name[k], mt_exp_ci(x, n, N_MET, stat_pick, &k, B, seed + k));
    json_object_set_new(g, "succ", mt_exp_ci(x, n, N_MET, stat_succ, NULL, B, seed + 99));
    return g;
}

/* Fact-level values of a group: the fact's mean over its queries in the chosen languages
 * (lang < 0: all). 0 when the fact has no related or no unrelated query there. */
static int fact_values(const cell *c, int n_langs, int lang, double *v, int *nq) {
    double s[N_MET] = {0};
    int nr = 0, nu = 0;
    for (int l = 0; l < n_langs; l++) {
        if (lang >= 0 && l != lang) continue;
        for (int k = 0; k < N_MET; k++) s[k] += c[l].sum[k];
        nr += c[l].n_rel;
        nu += c[l].n_unrel;
    }
    if (!nr || !nu) return 0;
    for (int k = 0; k < N_MET; k++) {
        int unrel = k == SUP_UNREL || k == ENH_UNREL;
        v[k] = s[k] / (unrel ? nu : nr);
    }
    *nq += nr + nu;
    return 1;
}

int mt_evaluate(const mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const mt_results *sets, int n_sets,
                const mt_eval_opts *o, json_t **out, mt_err *e) {
    const char **langs = NULL;
    int n_langs = o->langs ? o->n_langs : (int)json_array_size(d->langs);
    const int n_meth = n_sets * (o->control_random ? 2 : 1);
    size_t nf = json_array_size(d->facts);
    int rc = MT_OK;
    langs = calloc(n_langs ? n_langs : 1, sizeof(char *));
    cell *cells = calloc((size_t)nf * n_meth * (n_langs ? n_langs : 1), sizeof(cell));
    unsigned char *has = calloc((size_t)nf * n_meth, 1);
    int *nset = calloc((size_t)nf * n_meth, sizeof(int));
    json_t *facts_json = json_array();
    if (!langs || !cells || !has || !nset) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (int l = 0; l < n_langs; l++) langs[l] = o->langs ? o->langs[l] : json_string_value(json_array_get(d->langs, l));
    if ((rc = mt_dataset_check_langs(d, langs, n_langs, e))) goto done;

    /* the facts to evaluate: in the data file and with a non-empty set in some method */
    long total = 0, done_n = 0;
    for (size_t i = 0; i < nf; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(d->facts, i), "id"));
        for (int s = 0; s < n_sets; s++) {
            const json_t *r = json_object_get(sets[s].by_id, id);
            mt_neuron_id *ids;
            int n;
            if (r && !mt_results_set(r, o->set_lang, &ids, &n, e) && n > 0) {
                has[i * n_meth + s] = 1;
                free(ids);
            }
        }
        int any = 0;
        for (int s = 0; s < n_sets; s++) any |= has[i * n_meth + s];
        if (any && (!o->max_facts || total < o->max_facts)) total++;
        else
            for (int s = 0; s < n_sets; s++) has[i * n_meth + s] = 0;
    }
    if (total == 0) {
        rc = mt_fail(e, MT_EINVAL, "%s: no fact of the data file has a non-empty %s set in the results", d->path,
                     o->set_lang ? o->set_lang : "LAKN");
        goto done;
    }

    for (size_t i = 0; i < nf && !rc; i++) {
        int any = 0;
        for (int s = 0; s < n_sets; s++) any |= has[i * n_meth + s];
        if (!any) continue;
        const json_t *fact = json_array_get(d->facts, i), *unrel = mt_exp_unrelated(d, i, o->seed);
        const char *id = json_string_value(json_object_get(fact, "id"));
        /* the queries, scored once without intervention */
        query qs[512];
        int nq = 0;
        for (int u = 0; u < 2; u++) {
            const json_t *src = u ? unrel : fact;
            if (!src) continue;
            for (int l = 0; l < n_langs; l++) {
                const char *texts[64], *answer;
                size_t k = mt_exp_queries(src, langs[l], o->max_queries, texts, 64, &answer);
                for (size_t j = 0; j < k && nq < 512; j++) qs[nq++] = (query){.text = texts[j], .answer = answer, .lang = l, .unrelated = u};
            }
        }
        for (int q = 0; q < nq && !rc; q++) {
            mt_err qe = {0};
            int qrc = mt_exp_prepare(m, tok, qs[q].text, qs[q].answer, &qs[q].prepared, &qe);
            if (qrc == MT_OK) qrc = mt_exp_score_query(m, &qs[q].prepared, NULL, 0, 1, &qs[q].before, &qe);
            if (qrc == MT_OK) qs[q].ok = qs[q].before.prob > 0;
            else if (qrc != MT_EINVAL) *e = qe, rc = qrc;
        }
        json_t *fj = json_pack("{s:s, s:s?, s:s?, s:{}}", "id", id, "relation",
                               json_string_value(json_object_get(fact, "relation")), "unrelated",
                               unrel ? json_string_value(json_object_get(unrel, "id")) : NULL, "methods");
        json_array_append_new(facts_json, fj);
        for (int s = 0; s < n_sets && !rc; s++) {
            if (!has[i * n_meth + s]) continue;
            mt_neuron_id *set = NULL, *ctl = NULL;
            int n = 0;
            rc = mt_results_set(json_object_get(sets[s].by_id, id), o->set_lang, &set, &n, e);
            if (!rc && o->control_random) {
                ctl = malloc(sizeof(mt_neuron_id) * n);
                rc = ctl ? mt_random_like(set, n, sets[s].d_ff, o->seed ^ (i * 7919 + s), ctl, e)
                         : mt_fail(e, MT_ENOMEM, "out of memory");
            }
            for (int c = 0; c < (o->control_random ? 2 : 1) && !rc; c++) {
                int mi = c ? n_sets + s : s;
                has[i * n_meth + mi] = 1;
                nset[i * n_meth + mi] = n;
                cell *cl = cells + ((size_t)i * n_meth + mi) * n_langs;
                for (int q = 0; q < nq && !rc; q++) {
                    if (!qs[q].ok) continue;
                    mt_score sup, enh;
                    if ((rc = mt_exp_score_query(m, &qs[q].prepared, c ? ctl : set, n, o->suppress, &sup, e)) ||
                        (rc = mt_exp_score_query(m, &qs[q].prepared, c ? ctl : set, n, o->enhance, &enh, e)))
                        break;
                    const double p0 = qs[q].before.prob;
                    cell *x = cl + qs[q].lang;
                    if (qs[q].unrelated) {
                        x->sum[SUP_UNREL] += (sup.prob - p0) / p0;
                        x->sum[ENH_UNREL] += (enh.prob - p0) / p0;
                        x->n_unrel++;
                    } else {
                        x->sum[SUP_REL] += (sup.prob - p0) / p0;
                        x->sum[ENH_REL] += (enh.prob - p0) / p0;
                        x->sum[FLIP_SUP] += sup.argmax != qs[q].before.argmax;
                        x->sum[FLIP_ENH] += enh.argmax != qs[q].before.argmax;
                        x->n_rel++;
                    }
                }
                double v[N_MET];
                int nqq = 0;
                if (!rc && fact_values(cl, n_langs, -1, v, &nqq)) {
                    json_t *mj = json_pack("{s:i}", "n_neurons", n);
                    for (int k = 0; k < N_MET; k++) json_object_set_new(mj, met_name[k], json_real(v[k]));
                    char name[96];
                    snprintf(name, sizeof name, c ? (n_sets > 1 ? "random-%s" : "random") : "%s", sets[s].method);
                    json_object_set_new(json_object_get(fj, "methods"), name, mj);
                }
            }
            free(set);
            free(ctl);
        }
        for (int q = 0; q < nq; q++) mt_exp_query_free(&qs[q].prepared);
        done_n++;
        if (o->progress) o->progress(o->ctx, done_n, total);
    }
    if (rc) goto done;

    /* groups: overall, per language, per relation */
    json_t *methods = json_object();
    double *x = malloc(sizeof(double) * nf * N_MET);
    json_t *rels = json_array();
    for (size_t i = 0; i < nf; i++) {
        const char *r = json_string_value(json_object_get(json_array_get(d->facts, i), "relation"));
        int seen = 0;
        size_t k;
        json_t *v;
        json_array_foreach(rels, k, v) seen |= !strcmp(json_string_value(v), r);
        if (!seen) json_array_append_new(rels, json_string(r));
    }
    for (int mi = 0; mi < n_meth && x; mi++) {
        int s = mi % n_sets, ctl = mi >= n_sets;
        char name[96];
        snprintf(name, sizeof name, ctl ? (n_sets > 1 ? "random-%s" : "random") : "%s", sets[s].method);
        json_t *mj = json_object(), *bl = json_object(), *br = json_object();
        for (int g = -1; g < n_langs; g++) {
            int n = 0, nq = 0;
            for (size_t i = 0; i < nf; i++)
                if (has[i * n_meth + mi] && fact_values(cells + ((size_t)i * n_meth + mi) * n_langs, n_langs, g,
                                                        x + (size_t)n * N_MET, &nq))
                    n++;
            json_t *gj = group_json(x, n, nq, o->bootstrap, o->seed);
            if (g < 0) json_object_set_new(mj, "overall", gj);
            else json_object_set_new(bl, langs[g], gj);
        }
        size_t k;
        json_t *rv;
        json_array_foreach(rels, k, rv) {
            int n = 0, nq = 0;
            for (size_t i = 0; i < nf; i++)
                if (has[i * n_meth + mi] &&
                    !strcmp(json_string_value(json_object_get(json_array_get(d->facts, i), "relation")),
                            json_string_value(rv)) &&
                    fact_values(cells + ((size_t)i * n_meth + mi) * n_langs, n_langs, -1, x + (size_t)n * N_MET, &nq))
                    n++;
            if (n) json_object_set_new(br, json_string_value(rv), group_json(x, n, nq, o->bootstrap, o->seed));
        }
        json_object_set_new(mj, "by_lang", bl);
        json_object_set_new(mj, "by_relation", br);
        double mean_n = 0;
        int cnt = 0;
        for (size_t i = 0; i < nf; i++)
            if (has[i * n_meth + mi]) mean_n += nset[i * n_meth + mi], cnt++;
        json_object_set_new(mj, "neurons_per_fact", json_real(cnt ? mean_n / cnt : 0));
        json_object_set_new(methods, name, mj);
    }
    json_decref(rels);
    free(x);
    json_t *lj = json_array();
    for (int l = 0; l < n_langs; l++) json_array_append_new(lj, json_string(langs[l]));
    json_t *src = json_array();
    for (int s = 0; s < n_sets; s++) json_array_append_new(src, json_string(sets[s].path));
    *out = json_pack("{s:s, s:s, s:o, s:I, s:I, s:i, s:s, s:f, s:f, s:o, s:o, s:o}", "schema", "matrice.evaluate.v1", "data",
                     d->path, "languages", lj, "facts", (json_int_t)total, "seed", (json_int_t)o->seed, "bootstrap",
                     o->bootstrap, "set", o->set_lang ? o->set_lang : "lakn", "suppress", (double)o->suppress,
                     "enhance", (double)o->enhance, "results", src, "methods", methods, "per_fact", facts_json);
    facts_json = NULL;
done:
    json_decref(facts_json);
    free(langs);
    free(cells);
    free(has);
    free(nset);
    return rc;
}
