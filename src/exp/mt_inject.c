/* `matrice inject` (METHOD.md section 5): teach facts the model does not know, in one language,
 * by training only the parameters of chosen neurons (their first-matrix rows and biases, and
 * optionally their value vectors) with AdamW on the model's own loss; everything else frozen.
 * Full-batch: one AdamW step per epoch on the summed loss of every training query. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_cloze.h"
#include "mt_exp.h"

void mt_inject_opts_default(mt_inject_opts *o) {
    memset(o, 0, sizeof *o);
    o->choice = MT_INJECT_LAKN;
    o->epochs = 30;
    o->lr = 5e-3;
    o->weight_decay = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
}

static int has_id(const mt_neuron_id *s, int n, mt_neuron_id x) {
    for (int i = 0; i < n; i++)
        if (s[i].layer == x.layer && s[i].unit == x.unit) return 1;
    return 0;
}

/* The union of the LAKNs of res's facts whose relation is one of the new facts' (all of res's
 * facts when none is). */
static int lakn_union(const mt_dataset *facts, const mt_results *res, mt_neuron_id **out, int *n, mt_err *e) {
    *out = NULL;
    *n = 0;
    int cap = 0, rc = MT_OK;
    for (int pass = 0; pass < 2 && *n == 0 && !rc; pass++) {
        size_t k;
        json_t *idj;
        json_array_foreach(res->order, k, idj) {
            const json_t *r = json_object_get(res->by_id, json_string_value(idj));
            const char *rel = json_string_value(json_object_get(json_object_get(r, "fact"), "relation"));
            int match = pass == 1;
            size_t i;
            json_t *f;
            json_array_foreach(facts->facts, i, f) match |= rel && !strcmp(rel, json_string_value(json_object_get(f, "relation")));
            if (!match) continue;
            mt_neuron_id *s;
            int ns;
            if ((rc = mt_results_set(r, NULL, &s, &ns, e))) break;
            for (int j = 0; j < ns; j++) {
                if (has_id(*out, *n, s[j])) continue;
                if (*n == cap) {
                    cap = cap ? cap * 2 : 64;
                    mt_neuron_id *g = realloc(*out, sizeof(mt_neuron_id) * cap);
                    if (!g) {
                        free(s);
                        return mt_fail(e, MT_ENOMEM, "out of memory");
                    }
                    *out = g;
                }
                (*out)[(*n)++] = s[j];
            }
            free(s);
        }
    }
    if (!rc && *n == 0) rc = mt_fail(e, MT_EINVAL, "%s: no fact has a LAKN to train", res->path);
    return rc;
}

/* Accuracy (every answer token top-1, teacher-forced) of the queries of a dataset's facts in
 * each language (max_q per fact and language, 0 = all; max_f facts, 0 = all). */
static json_t *accuracy(const mt_model *m, const mt_tokenizer *tok, const mt_dataset *d, const char *const *langs,
                        int n_langs, int max_q, int max_f, int *rc, mt_err *e) {
    json_t *o = json_object();
    long all_ok = 0, all_n = 0;
    for (int l = 0; l < n_langs && !*rc; l++) {
        long ok = 0, n = 0;
        double p = 0;
        size_t i;
        json_t *f;
        json_array_foreach(d->facts, i, f) {
            if (max_f && (int)i >= max_f) break;
            const char *texts[64], *ans;
            size_t nq = mt_exp_queries(f, langs[l], max_q, texts, 64, &ans);
            for (size_t q = 0; q < nq && !*rc; q++) {
                mt_score s;
                mt_err qe = {0};
                int qrc = mt_exp_score(m, tok, texts[q], ans, NULL, 0, 1, &s, &qe);
                if (qrc == MT_EINVAL) continue;
                if (qrc) {
                    *e = qe;
                    *rc = qrc;
                    break;
                }
                ok += s.top1;
                p += s.prob;
                n++;
            }
        }
        all_ok += ok;
        all_n += n;
        json_object_set_new(o, langs[l], json_pack("{s:I, s:f, s:f}", "n", (json_int_t)n, "acc", n ? (double)ok / n : 0.0,
                                                   "p", n ? p / n : 0.0));
    }
    json_object_set_new(o, "all", json_pack("{s:I, s:f}", "n", (json_int_t)all_n, "acc", all_n ? (double)all_ok / all_n : 0.0));
    return o;
}

typedef struct {
    mt_cloze c;
} example;

int mt_inject(mt_model *m, const mt_tokenizer *tok, const mt_dataset *facts, const mt_dataset *unrelated,
              const mt_results *res, const mt_inject_opts *o, json_t **out, mt_err *e) {
    const mt_config *cfg = mt_model_config(m);
    int n_langs = o->langs ? o->n_langs : (int)json_array_size(facts->langs);
    const char **langs = calloc(n_langs ? n_langs : 1, sizeof(char *));
    mt_neuron_id *sel = NULL, *base = NULL;
    int n = 0, nb = 0, rc = langs ? MT_OK : mt_fail(e, MT_ENOMEM, "out of memory");
    example *ex = NULL;
    int n_ex = 0;
    float *params = NULL, *grads = NULL, *g1 = NULL;
    mt_adamw opt = {0};
    mt_ffn_snapshot *snap = NULL;
    mt_run *run = NULL;
    json_t *before_new = NULL, *before_un = NULL, *after_new = NULL, *after_un = NULL, *losses = json_array();
    for (int l = 0; !rc && l < n_langs; l++) langs[l] = o->langs ? o->langs[l] : json_string_value(json_array_get(facts->langs, l));
    if (!rc) rc = mt_dataset_check_langs(facts, langs, n_langs, e);
    if (!rc) rc = mt_dataset_check_langs(facts, &o->lang, 1, e);
    /* the neurons */
    if (!rc && o->choice == MT_INJECT_ALL) {
        n = cfg->n_layers * cfg->d_ff;
        sel = malloc(sizeof(mt_neuron_id) * n);
        if (!sel) rc = mt_fail(e, MT_ENOMEM, "out of memory");
        for (int i = 0; !rc && i < n; i++) sel[i] = (mt_neuron_id){i / cfg->d_ff, i % cfg->d_ff};
    } else if (!rc) {
        if (!res) rc = mt_fail(e, MT_EINVAL, "--results: needed to choose LAKNs (or to size the random control)");
        if (!rc) rc = lakn_union(facts, res, &base, &nb, e);
        if (!rc && o->choice == MT_INJECT_RANDOM) {
            sel = malloc(sizeof(mt_neuron_id) * nb);
            rc = sel ? mt_random_like(base, nb, cfg->d_ff, o->seed ^ 0x1234567ULL, sel, e) : mt_fail(e, MT_ENOMEM, "out of memory");
            n = nb;
        } else if (!rc) {
            sel = base;
            base = NULL;
            n = nb;
        }
    }
    /* the training queries: every query of every new fact in the training language */
    size_t i;
    json_t *f;
    int maxT = 1;
    if (!rc) {
        ex = calloc(json_array_size(facts->facts) * 64 + 1, sizeof(example));
        if (!ex) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    }
    json_array_foreach(facts->facts, i, f) {
        if (rc) break;
        const char *texts[64], *ans;
        size_t nq = mt_exp_queries(f, o->lang, 0, texts, 64, &ans);
        for (size_t q = 0; q < nq; q++) {
            mt_err qe = {0};
            int qrc = mt_cloze_make(tok, cfg, texts[q], ans, &ex[n_ex].c, &qe);
            if (qrc == MT_EINVAL) continue;
            if (qrc) {
                *e = qe;
                rc = qrc;
                break;
            }
            int T = ex[n_ex].c.T + ex[n_ex].c.n_answer;
            if (T > maxT) maxT = T;
            n_ex++;
        }
    }
    if (!rc && n_ex == 0)
        rc = mt_fail(e, MT_EINVAL, "%s: no query in '%s' can be asked of this model", facts->path, o->lang);
    const int flags = o->with_value ? MT_ROWS_VALUE : 0;
    const long per = mt_ffn_rows_size(m, flags), np = per * n;
    if (!rc && (!(params = malloc(sizeof(float) * np)) || !(grads = malloc(sizeof(float) * np)) ||
                !(g1 = malloc(sizeof(float) * np))))
        rc = mt_fail(e, MT_ENOMEM, "out of memory (%ld trainable parameters)", np);
    if (!rc) before_new = accuracy(m, tok, facts, langs, n_langs, 0, 0, &rc, e);
    if (!rc && unrelated) before_un = accuracy(m, tok, unrelated, langs, n_langs, 1, 50, &rc, e);
    if (!rc) rc = mt_ffn_snapshot_take(m, sel, n, &snap, e);
    if (!rc) rc = mt_ffn_rows_get(m, sel, n, flags, params, e);
    if (!rc) rc = mt_adamw_init(&opt, np, (float)o->lr, (float)o->weight_decay, e);
    if (!rc) {
        opt.beta1 = (float)o->beta1;
        opt.beta2 = (float)o->beta2;
        opt.eps = (float)o->eps;
        rc = mt_run_new(m, maxT, 1, &run, e);
    }
    for (int ep = 0; ep < o->epochs && !rc; ep++) {
        double total = 0;
        memset(grads, 0, sizeof(float) * np);
        for (int k = 0; k < n_ex && !rc; k++) {
            mt_fact fa = {ex[k].c.ids, NULL, ex[k].c.T, ex[k].c.answer_pos, ex[k].c.answer_ids, ex[k].c.n_answer, ex[k].c.mask_id};
            double loss;
            if ((rc = mt_ffn_rows_grad(m, run, &fa, sel, n, flags, g1, &loss, e))) break;
            total += loss;
            for (long j = 0; j < np; j++) grads[j] += g1[j] / n_ex;
        }
        if (rc) break;
        if (!isfinite(total)) {
            rc = mt_fail(e, MT_ENUMERIC, "epoch %d: non-finite loss", ep + 1);
            break;
        }
        json_array_append_new(losses, json_real(total / n_ex));
        mt_adamw_step(&opt, params, grads);
        rc = mt_ffn_rows_set(m, sel, n, flags, params, e);
    }
    if (!rc) {
        /* the loss after the last step */
        double total = 0;
        for (int k = 0; k < n_ex && !rc; k++) {
            mt_fact fa = {ex[k].c.ids, NULL, ex[k].c.T, ex[k].c.answer_pos, ex[k].c.answer_ids, ex[k].c.n_answer, ex[k].c.mask_id};
            double loss;
            rc = mt_ffn_rows_grad(m, run, &fa, sel, n, flags, NULL, &loss, e);
            total += loss;
        }
        if (!rc) json_array_append_new(losses, json_real(total / n_ex));
    }
    if (!rc) after_new = accuracy(m, tok, facts, langs, n_langs, 0, 0, &rc, e);
    if (!rc && unrelated) after_un = accuracy(m, tok, unrelated, langs, n_langs, 1, 50, &rc, e);
    if (!rc && o->save_dir) rc = mt_model_save(m, o->model_dir, o->save_dir, e);
    if (snap) mt_ffn_snapshot_restore(m, snap);
    if (!rc) {
        static const char *names[] = {"lakn", "random", "all-ffn"};
        json_t *lj = json_array();
        for (int l = 0; l < n_langs; l++) json_array_append_new(lj, json_string(langs[l]));
        *out = json_pack("{s:s, s:s, s:s, s:o, s:i, s:I, s:b, s:i, s:i, s:f, s:f, s:o, s:{s:o, s:o*}, s:{s:o, s:o*}, s:s?}",
                         "schema", "matrice.inject.v1", "neurons", names[o->choice], "lang", o->lang, "languages", lj,
                         "n_neurons", n, "parameters", (json_int_t)np, "value_vectors", o->with_value, "train_queries",
                         n_ex, "epochs", o->epochs, "lr", o->lr, "weight_decay", o->weight_decay, "loss", losses,
                         "before", "new_facts", before_new, "unrelated", before_un, "after", "new_facts", after_new,
                         "unrelated", after_un, "saved", o->save_dir);
        losses = before_new = before_un = after_new = after_un = NULL;
    }
    json_decref(losses);
    json_decref(before_new);
    json_decref(before_un);
    json_decref(after_new);
    json_decref(after_un);
    mt_ffn_snapshot_free(snap);
    mt_adamw_free(&opt);
    mt_run_free(run);
    for (int k = 0; k < n_ex; k++) mt_cloze_free(&ex[k].c);
    free(ex);
    free(params);
    free(grads);
    free(g1);
    free(sel);
    free(base);
    free(langs);
    return rc;
}
