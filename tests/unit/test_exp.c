/* Localization and experiments on the planted-knowledge models (tests/golden/planted, built by
 * tools/make_planted.py; truth.json names the units that carry each fact):
 *   - kn, amig and matrice (mt_locate_run) recover each fact's shared units as its LAKN set;
 *     the unit planted in one language only is in that language's set and nowhere else;
 *   - suppressing the LAKNs drops the answer, a random control of the same size does not;
 *   - an edit of the LAKN value vectors moves the answer in every planted language;
 *   - injection into the LAKNs teaches new facts, and the gradient of the injection loss agrees
 *     with central finite differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt_cloze.h"
#include "mt_exp.h"
#include "mt_json.h"
#include "mt_locate.h"
#include "mt_test.h"

#define T(cond) CHECK(cond, "%s", #cond)
#define DIR "tests/golden/planted"

static const char *models[] = {"bert", "llama"};

static double ci_mean(const json_t *g, const char *k) { return json_number_value(json_object_get(json_object_get(g, k), "mean")); }

static int set_has(const json_t *neurons, int layer, int unit) {
    size_t i;
    const json_t *n;
    json_array_foreach(neurons, i, n) if (json_integer_value(json_object_get(n, "layer")) == layer &&
                                          json_integer_value(json_object_get(n, "unit")) == unit) return 1;
    return 0;
}

/* The located sets against truth.json. */
static void check_locate(const char *model, const char *method, const mt_results *res, const json_t *truth) {
    const json_t *tf;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(json_object_get(truth, "models"), model), "facts"), i, tf) {
        const char *id = json_string_value(json_object_get(tf, "id"));
        const json_t *r = json_object_get(res->by_id, id);
        T(r != NULL);
        if (!r) continue;
        const json_t *lakn = json_object_get(r, "lakn"), *shared = json_object_get(tf, "shared"), *p;
        size_t k;
        int all = 1;
        json_array_foreach(shared, k, p) all &= set_has(lakn, (int)json_integer_value(json_array_get(p, 0)),
                                                        (int)json_integer_value(json_array_get(p, 1)));
        if (!all || json_array_size(lakn) != json_array_size(shared))
            printf("FAIL %s %s %s: LAKN has %zu neurons, not the %zu planted ones\n", model, method, id,
                   json_array_size(lakn), json_array_size(shared));
        T(all && json_array_size(lakn) == json_array_size(shared));
        const json_t *one = json_object_get(tf, "one_lang");
        if (!json_is_object(one)) continue;
        const char *ol = json_string_value(json_object_get(one, "lang"));
        int L = (int)json_integer_value(json_array_get(json_object_get(one, "unit"), 0)),
            U = (int)json_integer_value(json_array_get(json_object_get(one, "unit"), 1));
        T(!set_has(lakn, L, U)); /* dropped: planted in one language only */
        const char *code;
        const json_t *lj;
        json_object_foreach((json_t *)json_object_get(r, "languages"), code, lj) {
            int in = set_has(json_object_get(lj, "neurons"), L, U);
            if (in != !strcmp(code, ol)) printf("FAIL %s %s %s: one-language unit in %s: %d\n", model, method, id, code, in);
            T(in == !strcmp(code, ol));
        }
    }
}

/* Central differences of the injection loss on the largest gradient components. */
static void check_inject_grad(mt_model *m, const mt_tokenizer *tok, const char *model) {
    const mt_config *cfg = mt_model_config(m);
    mt_cloze c = {0};
    mt_err e = {0};
    const char *q = strcmp(model, "bert") ? "aabor aanap aases [Y]." : "aabor aanap aases [Y].";
    T(mt_cloze_make(tok, cfg, q, "vextor", &c, &e) == MT_OK);
    mt_neuron_id sel[2] = {{0, 3}, {1, 7}};
    const int flags = MT_ROWS_VALUE;
    long per = mt_ffn_rows_size(m, flags), np = 2 * per;
    float *p = malloc(sizeof(float) * np), *g = malloc(sizeof(float) * np);
    mt_run *r = NULL;
    T(mt_run_new(m, c.T + c.n_answer, 1, &r, &e) == MT_OK);
    mt_fact f = {c.ids, NULL, c.T, c.answer_pos, c.answer_ids, c.n_answer, c.mask_id};
    double loss;
    T(mt_ffn_rows_get(m, sel, 2, flags, p, &e) == MT_OK);
    T(mt_ffn_rows_grad(m, r, &f, sel, 2, flags, g, &loss, &e) == MT_OK);
    float gmax = 0;
    for (long i = 0; i < np; i++) gmax = fmaxf(gmax, fabsf(g[i]));
    T(gmax > 0);
    int checked = 0;
    double worst = 0;
    for (int pass = 0; pass < 6; pass++) { /* the six largest components */
        long best = -1;
        for (long i = 0; i < np; i++)
            if (g[i] != 0 && (best < 0 || fabsf(g[i]) > fabsf(g[best]))) best = i;
        if (best < 0) break;
        const float h = 1e-2f, keep = p[best];
        double lp, lm;
        p[best] = keep + h;
        mt_ffn_rows_set(m, sel, 2, flags, p, &e);
        mt_ffn_rows_grad(m, r, &f, sel, 2, flags, NULL, &lp, &e);
        p[best] = keep - h;
        mt_ffn_rows_set(m, sel, 2, flags, p, &e);
        mt_ffn_rows_grad(m, r, &f, sel, 2, flags, NULL, &lm, &e);
        p[best] = keep;
        mt_ffn_rows_set(m, sel, 2, flags, p, &e);
        double fd = (lp - lm) / (2 * h), err = fabs(fd - g[best]) / gmax;
        if (err > worst) worst = err;
        checked++;
        g[best] = 0;
    }
    if (worst > 2e-2) printf("FAIL %s: injection-loss gradient vs finite differences: %.3g of the max\n", model, worst);
    T(checked == 6 && worst <= 2e-2);
    mt_run_free(r);
    mt_cloze_free(&c);
    free(p);
    free(g);
}

int main(void) {
    json_t *truth = NULL;
    mt_err e = {0};
    T(mt_json_load_file(DIR "/truth.json", &truth, &e) == MT_OK);
    mt_dataset d, newf;
    T(mt_dataset_load(DIR "/planted.jsonl", &d, &e) == MT_OK);
    T(mt_dataset_load("tests/data/planted-new-facts.jsonl", &newf, &e) == MT_OK);
    char tmp[] = "/tmp/mt_test_exp_XXXXXX";
    T(mkdtemp(tmp) != NULL);
    for (int mi = 0; mi < 2; mi++) {
        char dir[256];
        snprintf(dir, sizeof dir, DIR "/%s", models[mi]);
        mt_model *m = NULL;
        mt_tokenizer *tok = NULL;
        if (mt_tok_load(dir, &tok, &e) || mt_model_load(dir, &m, &e)) {
            printf("FAIL %s: %s\n", dir, e.msg);
            T(0);
            continue;
        }
        mt_results matrice = {0};
        for (int k = 0; k < 3; k++) {
            mt_loc_opts lo;
            mt_loc_opts_default(&lo, (mt_loc_method)k);
            char out[512];
            snprintf(out, sizeof out, "%s/%s-%s", tmp, models[mi], mt_loc_method_name((mt_loc_method)k));
            mt_loc_run run = {.model_path = dir, .data_path = DIR "/planted.jsonl", .out_dir = out, .shard_n = 1};
            T(mt_locate_run(m, tok, &lo, &run, &e) == MT_OK);
            mt_results res;
            T(mt_results_load(out, &res, &e) == MT_OK);
            check_locate(models[mi], mt_loc_method_name((mt_loc_method)k), &res, truth);
            if (k == 2) matrice = res;
            else mt_results_free(&res);
        }
        /* suppress / enhance against the random control */
        mt_eval_opts eo;
        mt_eval_opts_default(&eo);
        eo.control_random = 1;
        eo.bootstrap = 200;
        json_t *ev = NULL;
        T(mt_evaluate(m, tok, &d, &matrice, 1, &eo, &ev, &e) == MT_OK);
        const json_t *ov = json_object_get(json_object_get(json_object_get(ev, "methods"), "matrice"), "overall"),
                     *rv = json_object_get(json_object_get(json_object_get(ev, "methods"), "random"), "overall");
        T(ci_mean(ov, "sup_rel") < -0.5 && ci_mean(ov, "flip_sup") > 0.5 && ci_mean(ov, "enh_rel") > 0.1);
        T(fabs(ci_mean(ov, "sup_unrel")) < 0.05);
        T(fabs(ci_mean(rv, "sup_rel")) < 0.1 && ci_mean(rv, "flip_sup") == 0);
        T(json_integer_value(json_object_get(ov, "n_facts")) == 8);
        json_decref(ev);
        /* edit: fact 0's answer becomes fact 2's, in every language */
        mt_edit_opts ed = {.fact_id = "P1:Q1:Q101", .new_object = "vextor", .lambda1 = 1, .lambda2 = 8, .n_unrelated = 4};
        json_t *er = NULL;
        T(mt_edit(m, tok, &d, &matrice, &ed, &er, &e) == MT_OK);
        const json_t *after = json_object_get(json_object_get(er, "after"), "lakn");
        const char *code;
        const json_t *lj;
        json_object_foreach((json_t *)json_object_get(after, "per_lang"), code, lj) {
            T(json_number_value(json_object_get(json_object_get(lj, "reliability"), "acc_new")) == 1);
            T(json_number_value(json_object_get(json_object_get(lj, "generality"), "acc_new")) == 1);
        }
        T(json_object_size(json_object_get(after, "per_lang")) == 3);
        T(json_number_value(json_object_get(json_object_get(json_object_get(er, "before"), "reliability"), "acc_new")) == 0);
        json_decref(er);
        /* the edit was undone: evaluation of the original answer is top-1 again */
        mt_score s;
        T(mt_exp_score(m, tok, "aabor aanap aases [Y].", "zebrix", NULL, 0, 1, &s, &e) == MT_OK && s.top1);
        /* enhance: fact 0's gold answer in cc made wrong, so the model knows it in aa and bb only */
        json_t *cc = json_object_get(json_object_get(json_array_get(d.facts, 0), "langs"), "cc");
        json_t *keep_obj = json_incref(json_object_get(cc, "object"));
        json_object_set_new(cc, "object", json_string("quolan"));
        mt_enhance_opts eh = {.factor = 2, .n_unrelated = 2};
        json_t *hr = NULL;
        T(mt_enhance(m, tok, &d, &matrice, &eh, &hr, &e) == MT_OK);
        T(json_integer_value(json_object_get(hr, "facts_eligible")) == 1);
        const json_t *weak = json_object_get(hr, "weak"), *strong = json_object_get(hr, "strong"),
                     *un = json_object_get(hr, "unrelated");
        T(json_integer_value(json_object_get(weak, "n")) == 4 && json_number_value(json_object_get(weak, "acc_before")) == 0);
        T(json_number_value(json_object_get(strong, "acc_before")) == 1 && json_number_value(json_object_get(strong, "acc_lakn")) == 1);
        T(json_integer_value(json_object_get(un, "n")) > 0 && json_number_value(json_object_get(un, "acc_random")) == 1);
        json_decref(hr);
        json_object_set_new(cc, "object", keep_obj);
        /* injection of two new facts in language aa, LAKN rows and value vectors */
        mt_inject_opts io;
        mt_inject_opts_default(&io);
        io.lang = "aa";
        io.with_value = 1;
        io.epochs = 40;
        json_t *ir = NULL;
        T(mt_inject(m, tok, &newf, &d, &matrice, &io, &ir, &e) == MT_OK);
        const json_t *an = json_object_get(json_object_get(ir, "after"), "new_facts"),
                     *bn = json_object_get(json_object_get(ir, "before"), "new_facts");
        T(json_number_value(json_object_get(json_object_get(bn, "aa"), "acc")) == 0);
        T(json_number_value(json_object_get(json_object_get(an, "aa"), "acc")) == 1);
        T(json_number_value(json_object_get(json_object_get(an, "bb"), "acc")) >= 0.5); /* crosses languages */
        json_decref(ir);
        T(mt_exp_score(m, tok, "aabor aanap aases [Y].", "zebrix", NULL, 0, 1, &s, &e) == MT_OK && s.top1); /* restored */
        check_inject_grad(m, tok, models[mi]);
        mt_results_free(&matrice);
        mt_model_free(m);
        mt_tok_free(tok);
    }
    mt_test_rm_rf(tmp);
    mt_dataset_free(&d);
    mt_dataset_free(&newf);
    json_decref(truth);
    return mt_test_report();
}
