/* `matrice edit` and `matrice enhance` (METHOD.md section 5).
 *
 * Edit: the value vectors v of a fact's neurons move away from the old answer's output embedding
 * and towards the new one's, v <- v - l1 (|v|/|e_o|) e_o + l2 (|v|/|e_o'|) e_o' (Dai et al.).
 * Cross-lingually, e is the mean of the unit-normalised output embeddings of the answer's first
 * token in every language (our choice), so one edit serves all languages. The LAKN set is
 * compared with the set found in one language only. Per language: reliability (the first query),
 * generality (the other paraphrases); locality: unrelated facts keep their argmax.
 *
 * Enhance: facts the model answers in some languages but not others; their LAKNs are multiplied
 * at the answer position; accuracy gained in the weak languages and kept on unrelated facts,
 * against a random control of equal size per layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_cloze.h"
#include "mt_exp.h"

/* The first answer token of (query, answer) as the model would be asked it. */
static int first_token(const mt_model *m, const mt_tokenizer *tok, const char *query, const char *answer, int32_t *id,
                       mt_err *e) {
    mt_cloze c = {0};
    int rc = mt_cloze_make(tok, mt_model_config(m), query, answer, &c, e);
    if (!rc) *id = c.answer_ids[0];
    mt_cloze_free(&c);
    return rc;
}

/* Adds the unit-normalised embedding of token id to acc (d floats). */
/* acc += the unit vector of token id's output embedding (v: d floats of scratch). */
static int add_unit(const mt_model *m, float *acc, float *v, int d, int32_t id, mt_err *e) {
    int rc = mt_model_out_embedding(m, id, v, e);
    if (rc) return rc;
    double n = 0;
    for (int i = 0; i < d; i++) n += (double)v[i] * v[i];
    n = sqrt(n);
    for (int i = 0; n > 0 && i < d; i++) acc[i] += (float)(v[i] / n);
    return MT_OK;
}

typedef struct {
    double acc, p_new, p_old; /* sums */
    int n;
} tally;

static json_t *tally_json(const tally *t) {
    if (!t->n) return json_pack("{s:i}", "n", 0);
    return json_pack("{s:i, s:f, s:f, s:f}", "n", t->n, "acc_new", t->acc / t->n, "p_new", t->p_new / t->n, "p_old",
                     t->p_old / t->n);
}

/* Reliability and generality per language, and locality, for the model as it is now. */
static int measure(const mt_model *m, const mt_tokenizer *tok, const json_t *fact, const json_t *new_obj,
                   const char *const *langs, int n_langs, const json_t *const *unrel, int n_unrel,
                   const int32_t *unrel_arg0, json_t **out, mt_err *e) {
    json_t *o = json_object(), *pl = json_object();
    tally rel_all = {0}, gen_all = {0};
    int rc = MT_OK;
    for (int l = 0; l < n_langs && !rc; l++) {
        const char *texts[64], *old;
        size_t nq = mt_exp_queries(fact, langs[l], 0, texts, 64, &old);
        const char *nw = json_string_value(json_object_get(new_obj, langs[l]));
        tally rel = {0}, gen = {0};
        for (size_t q = 0; q < nq && !rc && nw; q++) {
            mt_score sn, so;
            mt_err qe = {0};
            int a = mt_exp_score(m, tok, texts[q], nw, NULL, 0, 1, &sn, &qe);
            int b = a ? a : mt_exp_score(m, tok, texts[q], old, NULL, 0, 1, &so, &qe);
            if (a == MT_EINVAL || b == MT_EINVAL) continue;
            if (a || b) {
                *e = qe;
                rc = a ? a : b;
                break;
            }
            tally *t = q == 0 ? &rel : &gen;
            t->acc += sn.top1;
            t->p_new += sn.prob;
            t->p_old += so.prob;
            t->n++;
        }
        tally *alls[2] = {&rel_all, &gen_all}, *ones[2] = {&rel, &gen};
        for (int k = 0; k < 2; k++) {
            alls[k]->acc += ones[k]->acc;
            alls[k]->p_new += ones[k]->p_new;
            alls[k]->p_old += ones[k]->p_old;
            alls[k]->n += ones[k]->n;
        }
        json_object_set_new(pl, langs[l], json_pack("{s:o, s:o}", "reliability", tally_json(&rel), "generality", tally_json(&gen)));
    }
    /* locality: the first query of each unrelated fact in each language keeps its argmax */
    int kept = 0, nloc = 0, k = 0;
    for (int u = 0; u < n_unrel && !rc; u++)
        for (int l = 0; l < n_langs && !rc; l++, k++) {
            const char *texts[1], *ans;
            if (!mt_exp_queries(unrel[u], langs[l], 1, texts, 1, &ans) || unrel_arg0[k] < 0) continue;
            mt_score s;
            mt_err qe = {0};
            int qrc = mt_exp_score(m, tok, texts[0], ans, NULL, 0, 1, &s, &qe);
            if (qrc == MT_EINVAL) continue;
            if (qrc) {
                *e = qe;
                rc = qrc;
                break;
            }
            kept += s.argmax == unrel_arg0[k];
            nloc++;
        }
    json_object_set_new(o, "reliability", tally_json(&rel_all));
    json_object_set_new(o, "generality", tally_json(&gen_all));
    json_object_set_new(o, "locality", json_pack("{s:i, s:f}", "n", nloc, "argmax_kept", nloc ? (double)kept / nloc : 0.0));
    json_object_set_new(o, "per_lang", pl);
    if (rc) json_decref(o);
    else *out = o;
    return rc;
}

int mt_edit(mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const mt_results *res, const mt_edit_opts *o,
            json_t **out, mt_err *e) {
    const json_t *fact = mt_dataset_fact(d, o->fact_id);
    const json_t *r = json_object_get(res->by_id, o->fact_id);
    if (!fact) return mt_fail(e, MT_EINVAL, "%s: fact '%s' is not in the data file", d->path, o->fact_id);
    if (!r) return mt_fail(e, MT_EINVAL, "%s: fact '%s' has no localization result", res->path, o->fact_id);
    int n_langs = o->langs ? o->n_langs : (int)json_array_size(d->langs);
    const char **langs = calloc(n_langs ? n_langs : 1, sizeof(char *));
    if (!langs) return mt_fail(e, MT_ENOMEM, "out of memory");
    for (int l = 0; l < n_langs; l++) langs[l] = o->langs ? o->langs[l] : json_string_value(json_array_get(d->langs, l));
    const char *one = o->lang ? o->lang : langs[0];
    json_t *new_obj = json_object(), *sets = json_object(), *tokens = json_object(), *before = NULL;
    const json_t **unrel = calloc(o->n_unrelated > 0 ? o->n_unrelated : 1, sizeof(json_t *));
    int32_t *arg0 = malloc(sizeof(int32_t) * (size_t)(o->n_unrelated > 0 ? o->n_unrelated : 1) * n_langs);
    const int dm = mt_model_config(m)->d_model;
    int n_unrel = 0;
    float *e_old = NULL, *e_new = NULL, *row = NULL;
    mt_ffn_snapshot *snap = NULL;
    int rc = mt_dataset_check_langs(d, langs, n_langs, e);
    if (!rc) rc = mt_dataset_check_langs(d, &one, 1, e);
    if (!rc && (!unrel || !arg0 || !(e_old = calloc(dm, sizeof(float))) || !(e_new = calloc(dm, sizeof(float))) ||
                !(row = malloc(sizeof(float) * dm))))
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
    /* the new object per language, and the two mean embeddings */
    for (int l = 0; l < n_langs && !rc; l++) {
        const json_t *given = o->new_objects ? json_object_get(o->new_objects, langs[l]) : NULL;
        const char *nw = given ? json_string_value(given) : o->new_object;
        const char *texts[1], *old;
        if (!nw || !mt_exp_queries(fact, langs[l], 1, texts, 1, &old)) continue;
        int32_t t_old, t_new;
        mt_err qe = {0};
        if (first_token(m, tok, texts[0], old, &t_old, &qe) || first_token(m, tok, texts[0], nw, &t_new, &qe)) {
            if (qe.code != MT_EINVAL) {
                *e = qe;
                rc = qe.code;
            }
            continue;
        }
        json_object_set_new(new_obj, langs[l], json_string(nw));
        if ((rc = add_unit(m, e_old, row, dm, t_old, e)) || (rc = add_unit(m, e_new, row, dm, t_new, e))) break;
        json_object_set_new(tokens, langs[l], json_pack("{s:i, s:i, s:b}", "old", t_old, "new", t_new, "same", t_old == t_new));
    }
    if (!rc && json_object_size(new_obj) == 0)
        rc = mt_fail(e, MT_EINVAL, "--new-object: no language where both answers can be tokenized for fact %s", o->fact_id);
    /* unrelated facts and their answers before the edit */
    uint64_t st = o->seed;
    size_t fi = (size_t)json_integer_value(json_object_get(d->index, o->fact_id));
    for (int u = 0; u < o->n_unrelated && !rc; u++) {
        const json_t *f = mt_exp_unrelated(d, fi, mt_exp_rand(&st));
        if (!f) break;
        unrel[n_unrel] = f;
        for (int l = 0; l < n_langs && !rc; l++) {
            const char *texts[1], *ans;
            int32_t *a = &arg0[(size_t)n_unrel * n_langs + l];
            *a = -1;
            mt_score s;
            mt_err qe = {0};
            if (!mt_exp_queries(f, langs[l], 1, texts, 1, &ans)) continue;
            int qrc = mt_exp_score(m, tok, texts[0], ans, NULL, 0, 1, &s, &qe);
            if (qrc == MT_OK) *a = s.argmax;
            else if (qrc != MT_EINVAL) *e = qe, rc = qrc;
        }
        n_unrel++;
    }
    if (!rc) rc = measure(m, tok, fact, new_obj, langs, n_langs, unrel, n_unrel, arg0, &before, e);
    /* the LAKN set, then the single-language set */
    for (int k = 0; k < 2 && !rc; k++) {
        mt_neuron_id *set = NULL;
        int n = 0;
        char name[64];
        snprintf(name, sizeof name, k ? "lang-%s" : "lakn", one);
        if ((rc = mt_results_set(r, k ? one : NULL, &set, &n, e))) break;
        if (n == 0) {
            json_object_set_new(sets, name, json_pack("{s:i, s:s}", "n_neurons", 0, "note", "empty set: nothing to edit"));
            continue;
        }
        if (!(rc = mt_ffn_snapshot_take(m, set, n, &snap, e))) {
            for (int i = 0; i < n && !rc; i++)
                rc = mt_ffn_edit_value(m, set[i].layer, set[i].unit, e_old, e_new, o->lambda1, o->lambda2, e);
            json_t *after = NULL;
            if (!rc) rc = measure(m, tok, fact, new_obj, langs, n_langs, unrel, n_unrel, arg0, &after, e);
            if (!rc) {
                json_object_set_new(after, "n_neurons", json_integer(n));
                json_object_set_new(sets, name, after);
                if (k == 0 && o->save_dir) rc = mt_model_save(m, o->model_dir, o->save_dir, e);
            }
            mt_ffn_snapshot_restore(m, snap);
            mt_ffn_snapshot_free(snap);
            snap = NULL;
        }
        free(set);
    }
    if (!rc) {
        json_t *lj = json_array();
        for (int l = 0; l < n_langs; l++) json_array_append_new(lj, json_string(langs[l]));
        *out = json_pack("{s:s, s:s, s:s?, s:O, s:o, s:O, s:f, s:f, s:s, s:s?, s:o, s:o}", "schema", "matrice.edit.v1", "fact",
                         o->fact_id, "method", res->method, "new_object", new_obj, "languages", lj, "first_tokens",
                         tokens, "lambda1", (double)o->lambda1, "lambda2", (double)o->lambda2, "single_language", one,
                         "saved", o->save_dir, "before", before, "after", sets);
        before = sets = NULL;
    }
    json_decref(new_obj);
    json_decref(tokens);
    json_decref(sets);
    json_decref(before);
    free(langs);
    free(unrel);
    free(arg0);
    free(e_old);
    free(e_new);
    free(row);
    return rc;
}

/* ---------------------------------------------------------------- enhance */

typedef struct {
    int n, before, after_set, after_ctl;
} acc4;

static json_t *acc_json(const acc4 *a) {
    return json_pack("{s:i, s:f, s:f, s:f}", "n", a->n, "acc_before", a->n ? (double)a->before / a->n : 0.0,
                     "acc_lakn", a->n ? (double)a->after_set / a->n : 0.0, "acc_random", a->n ? (double)a->after_ctl / a->n : 0.0);
}

/* The queries of a fact in a language (at most max), each scored before, with the set amplified and
 * with the control amplified; top-1 counts added to t and to all (which may be NULL). */
static int tally_lang(const mt_model *m, const mt_tokenizer *tok, const json_t *fact, const char *lang, int max,
                      const mt_neuron_id *set, const mt_neuron_id *ctl, int n, float factor, acc4 *t, acc4 *all,
                      mt_err *e) {
    const char *texts[64], *ans;
    size_t nq = mt_exp_queries(fact, lang, max, texts, 64, &ans);
    for (size_t q = 0; q < nq; q++) {
        mt_score b, a1, a2;
        mt_err qe = {0};
        mt_exp_query eq;
        int rc = mt_exp_prepare(m, tok, texts[q], ans, &eq, &qe);
        if (!rc) rc = mt_exp_score_query(m, &eq, NULL, 0, 1, &b, &qe);
        if (!rc) rc = mt_exp_score_query(m, &eq, set, n, factor, &a1, &qe);
        if (!rc) rc = mt_exp_score_query(m, &eq, ctl, n, factor, &a2, &qe);
        mt_exp_query_free(&eq);
        if (rc == MT_EINVAL) continue; /* a query this model cannot be asked */
        if (rc) {
            *e = qe;
            return rc;
        }
        for (acc4 *x = t; x; x = x == t ? all : NULL) {
            x->n++;
            x->before += b.top1;
            x->after_set += a1.top1;
            x->after_ctl += a2.top1;
        }
    }
    return MT_OK;
}

int mt_enhance(const mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const mt_results *res,
               const mt_enhance_opts *o, json_t **out, mt_err *e) {
    int n_langs = o->langs ? o->n_langs : (int)json_array_size(d->langs);
    const char **langs = calloc(n_langs ? n_langs : 1, sizeof(char *));
    acc4 *weak = calloc(n_langs ? n_langs : 1, sizeof(acc4)), *strong = calloc(n_langs ? n_langs : 1, sizeof(acc4));
    acc4 weak_all = {0}, strong_all = {0}, unrel_all = {0};
    long eligible = 0, considered = 0;
    json_t *per_fact = json_array();
    int rc = !langs || !weak || !strong ? mt_fail(e, MT_ENOMEM, "out of memory") : MT_OK;
    for (int l = 0; !rc && l < n_langs; l++) langs[l] = o->langs ? o->langs[l] : json_string_value(json_array_get(d->langs, l));
    if (!rc) rc = mt_dataset_check_langs(d, langs, n_langs, e);
    size_t nf = json_array_size(d->facts);
    for (size_t i = 0; i < nf && !rc && (!o->max_facts || considered < o->max_facts); i++) {
        const json_t *fact = json_array_get(d->facts, i);
        const char *id = json_string_value(json_object_get(fact, "id"));
        const json_t *r = json_object_get(res->by_id, id);
        mt_neuron_id *set = NULL, *ctl = NULL;
        int n = 0;
        if (!r || (rc = mt_results_set(r, NULL, &set, &n, e)) || n == 0) {
            free(set);
            continue;
        }
        considered++;
        ctl = malloc(sizeof(mt_neuron_id) * n);
        if (!ctl || (rc = mt_random_like(set, n, res->d_ff, o->seed ^ (i * 2654435761u), ctl, e))) {
            if (!rc) rc = mt_fail(e, MT_ENOMEM, "out of memory");
            free(set);
            free(ctl);
            break;
        }
        /* which languages the model knows the fact in (some query top-1), before */
        const char *texts[64], *ans;
        int known[64] = {0}, n_known = 0, usable = 0;
        for (int l = 0; l < n_langs && l < 64 && !rc; l++) {
            size_t nq = mt_exp_queries(fact, langs[l], 0, texts, 64, &ans);
            for (size_t q = 0; q < nq; q++) {
                mt_score s;
                mt_err qe = {0};
                int qrc = mt_exp_score(m, tok, texts[q], ans, NULL, 0, 1, &s, &qe);
                if (qrc == MT_EINVAL) continue;
                if (qrc) {
                    *e = qe;
                    rc = qrc;
                    break;
                }
                usable = 1;
                if (s.top1) known[l] = 1;
            }
            n_known += known[l];
        }
        if (rc || !usable || n_known == 0 || n_known == n_langs) {
            free(set);
            free(ctl);
            continue;
        }
        eligible++;
        json_t *fj = json_pack("{s:s, s:i, s:[]}", "id", id, "n_neurons", n, "weak");
        for (int l = 0; l < n_langs && !rc; l++) {
            if (!known[l]) json_array_append_new(json_object_get(fj, "weak"), json_string(langs[l]));
            rc = tally_lang(m, tok, fact, langs[l], 0, set, ctl, n, o->factor, known[l] ? &strong[l] : &weak[l],
                            known[l] ? &strong_all : &weak_all, e);
        }
        /* unrelated: another relation's fact, every language, same neurons amplified */
        const json_t *u = mt_exp_unrelated(d, i, o->seed);
        for (int l = 0; u && l < n_langs && !rc; l++)
            rc = tally_lang(m, tok, u, langs[l], o->n_unrelated, set, ctl, n, o->factor, &unrel_all, NULL, e);
        json_array_append_new(per_fact, fj);
        free(set);
        free(ctl);
    }
    if (!rc) {
        json_t *pl = json_object();
        for (int l = 0; l < n_langs; l++)
            json_object_set_new(pl, langs[l], json_pack("{s:o, s:o}", "weak", acc_json(&weak[l]), "strong", acc_json(&strong[l])));
        *out = json_pack("{s:s, s:s?, s:f, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "schema", "matrice.enhance.v1", "method",
                         res->method, "factor", (double)o->factor, "facts_with_lakn", (json_int_t)considered,
                         "facts_eligible", (json_int_t)eligible, "weak", acc_json(&weak_all), "strong", acc_json(&strong_all),
                         "unrelated", acc_json(&unrel_all), "per_lang", pl, "per_fact", per_fact);
        per_fact = NULL;
    }
    json_decref(per_fact);
    free(langs);
    free(weak);
    free(strong);
    return rc;
}
