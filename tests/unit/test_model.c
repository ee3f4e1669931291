/* Golden checks against HuggingFace transformers (float64 reference, tools/make_golden.py):
 * logits, gradients at the FFN activation, IG scores (KN and AMIG baselines, prob/logprob,
 * delta/activation multipliers) and AMIG baselines; plus finite differences of the patched
 * pass. Tolerances: logits 1e-4, gradients and scores 1e-3, relative to the largest
 * reference magnitude of each array. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_ig.h"
#include "mt_model.h"
#include "mt_npy.h"
#include "mt_test.h"

#define GOLD "tests/golden"

static float *load_npy(const char *dir, const char *cas, const char *what, size_t want) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s_%s.npy", dir, cas, what);
    return mt_test_npy(path, want);
}

static int32_t *int_array(json_t *a, int *n) {
    *n = (int)json_array_size(a);
    int32_t *v = malloc(sizeof(int32_t) * (*n + 1));
    for (int i = 0; i < *n; i++) v[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return v;
}

static void check_ig(const mt_model *m, const mt_query *q, const char *dir, const char *cas, const char *what,
                     mt_baseline base, mt_multiplier mult, int logprob, size_t Lf) {
    float *ref = load_npy(dir, cas, what, Lf);
    if (!ref) return;
    mt_ig_opts o;
    mt_ig_opts_default(&o);
    o.baseline = base;
    o.multiplier = mult;
    o.logprob = logprob;
    mt_ig_result r;
    mt_err e;
    if (mt_ig_attribute(m, q, &o, &r, &e)) {
        CHECK(0, "%s/%s %s: %s", dir, cas, what, e.msg);
        free(ref);
        return;
    }
    double err = mt_test_max_rel(r.scores, ref, Lf);
    CHECK(err < 1e-3, "%s/%s %s: max error %.3g relative to the largest score", dir, cas, what, err);
    if (base == MT_BASELINE_AMIG && mult == MT_MULT_DELTA && !logprob) {
        const mt_config *c = mt_model_config(m);
        float *bref = load_npy(dir, cas, "amig_base", (size_t)q->n_answer * c->n_layers * c->d_ff);
        if (bref) {
            double be = mt_test_max_rel(r.baseline, bref, (size_t)q->n_answer * c->n_layers * c->d_ff);
            CHECK(be < 1e-4, "%s/%s amig baseline: max error %.3g", dir, cas, be);
            free(bref);
        }
    }
    free(ref);
    mt_ig_result_free(&r);
}

/* dF/dz by central differences at a few units of one layer, against mt_patch_grad. */
static void check_fd(const mt_model *m, mt_run *r, const mt_query *q, const char *dir) {
    const mt_config *c = mt_model_config(m);
    const int f = c->d_ff, p = q->answer_pos[0];
    float *z = malloc(sizeof(float) * f * 3), *g = malloc(sizeof(float) * f * 3), F[3];
    mt_err e;
    for (int l = 0; l < c->n_layers; l++) {
        memcpy(z, mt_run_ffn_act(r, l, p), sizeof(float) * f);
        if (mt_patch_grad(m, r, l, p, z, 1, q->answer_ids[0], 0, F, g, &e)) {
            CHECK(0, "%s: %s", dir, e.msg);
            break;
        }
        double worst = 0, scale = 1e-30;
        for (int i = 0; i < f; i++) scale = fmax(scale, fabs(g[i]));
        for (int u = 0; u < f; u += f / 5 + 1) {
            const float h = 1e-2f;
            memcpy(z + f, z, sizeof(float) * f);
            memcpy(z + 2 * f, z, sizeof(float) * f);
            z[f + u] += h;
            z[2 * f + u] -= h;
            float g3[3 * 512];
            float *gg = f <= 512 ? g3 : malloc(sizeof(float) * 3 * f);
            mt_patch_grad(m, r, l, p, z, 3, q->answer_ids[0], 0, F, gg, &e);
            double num = ((double)F[1] - F[2]) / (2 * h);
            worst = fmax(worst, fabs(num - g[u]));
            if (gg != g3) free(gg);
        }
        CHECK(worst / scale < 2e-2, "%s layer %d: patched gradient vs finite differences: %.3g relative", dir, l,
              worst / scale);
    }
    free(z);
    free(g);
}

static void run_case(const mt_model *m, const char *dir, const char *cas, int full) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", dir, cas);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return; /* case absent for this model */
    const mt_config *c = mt_model_config(m);
    const int L = c->n_layers, f = c->d_ff, V = c->vocab_size;
    int T, na, nt, np, nsp;
    int32_t *ids = int_array(json_object_get(j, "ids"), &T);
    int32_t *types = int_array(json_object_get(j, "token_type_ids"), &nt);
    int32_t *ap = int_array(json_object_get(j, "answer_positions"), &np);
    int32_t *ans = int_array(json_object_get(j, "answer_ids"), &na);
    int32_t *sp = int_array(json_object_get(j, "special_positions"), &nsp);
    const int causal = c->causal;
    int pos[64];
    uint8_t special[1024] = {0};
    /* causal: the answer is read at the last position of prompt + teacher-forced tokens */
    for (int i = 0; i < na; i++) pos[i] = causal ? T - 1 + i : ap[i];
    for (int i = 0; i < nsp; i++) special[sp[i]] = 1;
    mt_query q = {ids, nt == T ? types : NULL, T, pos, ans, na,
                  (int32_t)json_integer_value(json_object_get(j, causal ? "replace_id" : "mask_id")), special};
    mt_err e;
    mt_run *r = NULL;
    if (mt_run_new(m, T + na, 4, &r, &e)) {
        CHECK(0, "%s: %s", path, e.msg);
        goto done;
    }
    /* logits of the teacher-forced input of token 0, every position */
    int32_t forced[1024];
    memcpy(forced, ids, sizeof(int32_t) * T);
    if (!causal)
        for (int s = 0; s < na; s++) forced[pos[s]] = s == 0 ? q.mask_id : ans[s];
    float *ref = load_npy(dir, cas, "logits", (size_t)T * V);
    if (ref && !mt_forward(m, r, forced, q.types, T, &e)) {
        float *lg = malloc(sizeof(float) * (size_t)T * V);
        for (int t = 0; t < T; t++) mt_head_logits(m, r, t, lg + (size_t)t * V, &e);
        double err = mt_test_max_rel(lg, ref, (size_t)T * V);
        CHECK(err < 1e-4, "%s/%s logits: max error %.3g relative to the largest logit", dir, cas, err);
        free(lg);
    }
    free(ref);
    /* answer probabilities */
    double prob[64];
    if (!mt_answer_probs(m, &q, prob, &e)) {
        json_t *pr = json_object_get(j, "probs");
        for (int t = 0; t < na; t++) {
            double want = json_real_value(json_array_get(pr, t));
            CHECK(fabs(prob[t] - want) <= 1e-4 * want + 1e-7, "%s/%s P(y_%d) = %.8g, expected %.8g", dir, cas, t,
                  prob[t], want);
        }
    } else
        CHECK(0, "%s/%s: %s", dir, cas, e.msg);
    if (!full) goto done;
    /* gradient at the unpatched activation, summed over answer tokens */
    ref = load_npy(dir, cas, "grad", (size_t)L * f);
    if (ref) {
        float *g = calloc((size_t)L * f, sizeof(float)), *gt = malloc(sizeof(float) * f);
        for (int t = 0; t < na; t++) {
            memcpy(forced, ids, sizeof(int32_t) * T);
            int Tt = T;
            if (causal)
                for (int s = 0; s < t; s++) forced[Tt++] = ans[s];
            else
                for (int s = 0; s < na; s++) forced[pos[s]] = s == t ? q.mask_id : ans[s];
            if (mt_forward(m, r, forced, q.types, Tt, &e)) CHECK(0, "%s/%s: %s", dir, cas, e.msg);
            for (int l = 0; l < L; l++) {
                float zz[4096];
                memcpy(zz, mt_run_ffn_act(r, l, pos[t]), sizeof(float) * f);
                mt_patch_grad(m, r, l, pos[t], zz, 1, ans[t], 0, NULL, gt, &e);
                for (int i = 0; i < f; i++) g[(size_t)l * f + i] += gt[i];
            }
        }
        double err = mt_test_max_rel(g, ref, (size_t)L * f);
        CHECK(err < 1e-3, "%s/%s gradient: max error %.3g relative", dir, cas, err);
        free(g);
        free(gt);
        free(ref);
    }
    check_ig(m, &q, dir, cas, "ig_kn", MT_BASELINE_ZERO, MT_MULT_DELTA, 0, (size_t)L * f);
    check_ig(m, &q, dir, cas, "ig_amig", MT_BASELINE_AMIG, MT_MULT_DELTA, 0, (size_t)L * f);
    check_ig(m, &q, dir, cas, "ig_kn_logprob", MT_BASELINE_ZERO, MT_MULT_DELTA, 1, (size_t)L * f);
    check_ig(m, &q, dir, cas, "ig_amig_act", MT_BASELINE_AMIG, MT_MULT_ACTIVATION, 0, (size_t)L * f);
    /* finite differences of the patched pass on the single-token case */
    if (na == 1) {
        memcpy(forced, ids, sizeof(int32_t) * T);
        if (!causal) forced[pos[0]] = q.mask_id;
        if (!mt_forward(m, r, forced, q.types, T, &e)) check_fd(m, r, &q, dir);
    }
done:
    mt_run_free(r);
    free(ids);
    free(types);
    free(ap);
    free(ans);
    free(sp);
    json_decref(j);
}

int main(void) {
    const char *models[] = {"models/bert",      "models/xlmr",       "models/bert_legacy", "models/bert_sharded",
                            "models/xlmr_f16",  "causal/llama",      "causal/llama_bf16",  "causal/qwen2",
                            "causal/gemma3",    "causal/gemma3_f16", "causal/bloom",       "causal/gpt2",
                            "causal/gpt2_bf16"};
    const char *cases[] = {"single", "multi", "types"};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, GOLD "/%s", models[i]);
        char cfgpath[300];
        snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
        if (!strncmp(models[i], "causal/", 7) && !mt_file_exists(cfgpath)) continue; /* not generated yet */
        mt_model *m = NULL;
        mt_err e;
        int rc = mt_model_load(dir, &m, &e);
        CHECK(rc == MT_OK, "load %s: %s", dir, rc ? e.msg : "");
        if (rc) continue;
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) run_case(m, dir, cases[k], 1);
        mt_model_free(m);
    }
    /* The peers' patch points (gate, up, pre-activation): the patched pass at the real value
     * reproduces the model's probability, and its gradient matches finite differences. */
    struct { const char *model; mt_neuron kind; } alt[] = {
        {"causal/llama", MT_NEURON_GATE}, {"causal/llama", MT_NEURON_UP}, {"causal/gemma3", MT_NEURON_GATE},
        {"causal/gpt2", MT_NEURON_PRE_ACT}, {"causal/bloom", MT_NEURON_PRE_ACT}};
    for (size_t i = 0; i < sizeof alt / sizeof *alt; i++) {
        char dir[256], path[300];
        snprintf(dir, sizeof dir, GOLD "/%s", alt[i].model);
        snprintf(path, sizeof path, "%s/single.json", dir);
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        mt_model *m = NULL;
        mt_err e;
        if (!j || mt_model_load(dir, &m, &e)) {
            CHECK(0, "%s: cannot load", dir);
            json_decref(j);
            continue;
        }
        int T, na;
        int32_t *ids = int_array(json_object_get(j, "ids"), &T), *ans = int_array(json_object_get(j, "answer_ids"), &na);
        int pos = T - 1;
        mt_query q = {ids, NULL, T, &pos, ans, 1, 0, NULL};
        mt_run *r = NULL;
        double want = json_real_value(json_array_get(json_object_get(j, "probs"), 0));
        if (!mt_run_new(m, T, 4, &r, &e) && !mt_run_set_neuron(m, r, alt[i].kind, &e) &&
            !mt_forward(m, r, ids, NULL, T, &e)) {
            const mt_config *c = mt_model_config(m);
            float *z = malloc(sizeof(float) * c->d_ff), *g = malloc(sizeof(float) * c->d_ff), F;
            memcpy(z, mt_run_ffn_act(r, 1, pos), sizeof(float) * c->d_ff);
            mt_patch_grad(m, r, 1, pos, z, 1, ans[0], 0, &F, g, &e);
            CHECK(fabs(F - want) < 1e-5, "%s neuron %s: patched P at the real value %.7f, model %.7f", dir,
                  mt_neuron_name(alt[i].kind), F, want);
            free(z);
            free(g);
            check_fd(m, r, &q, dir);
        } else
            CHECK(0, "%s neuron %s: %s", dir, mt_neuron_name(alt[i].kind), e.msg);
        mt_run_free(r);
        free(ids);
        free(ans);
        json_decref(j);
        mt_model_free(m);
    }
    /* kinds a model lacks are refused */
    {
        mt_model *m = NULL;
        mt_run *r = NULL;
        mt_err e;
        if (!mt_model_load(GOLD "/causal/gpt2", &m, &e) && !mt_run_new(m, 4, 1, &r, &e))
            CHECK(mt_run_set_neuron(m, r, MT_NEURON_GATE, &e) == MT_EINVAL && strstr(e.msg, "gated"),
                  "gate on GPT-2 refused: %s", e.msg);
        mt_run_free(r);
        mt_model_free(m);
    }

    /* GGUF twins written like llama.cpp's converter (tools/make_gguf_twins.py): the F32 twin must
     * pass every check of its safetensors original; the Q8_0 twin must stay close. */
    const char *twins[] = {"llama", "qwen2", "gemma3"};
    for (size_t i = 0; i < sizeof twins / sizeof *twins; i++) {
        char dir[256], path[300];
        snprintf(dir, sizeof dir, GOLD "/causal/%s", twins[i]);
        snprintf(path, sizeof path, "%s/model.gguf", dir);
        if (!mt_file_exists(path)) continue;
        mt_model *m = NULL;
        mt_err e;
        int rc = mt_model_load(path, &m, &e);
        CHECK(rc == MT_OK, "load %s: %s", path, rc ? e.msg : "");
        if (rc) continue;
        for (size_t k = 0; k < 2; k++) run_case(m, dir, cases[k], 1);
        mt_model_free(m);
    }
    mt_model *q8 = NULL;
    mt_err e;
    if (mt_file_exists(GOLD "/causal/llama/model-q8_0.gguf")) {
        int rc = mt_model_load(GOLD "/causal/llama/model-q8_0.gguf", &q8, &e);
        CHECK(rc == MT_OK, "load Q8_0 twin: %s", rc ? e.msg : "");
        float *ref = rc ? NULL : load_npy(GOLD "/causal/llama", "single", "logits", 10 * 1000);
        json_error_t je;
        json_t *j = json_load_file(GOLD "/causal/llama/single.json", 0, &je);
        if (ref && j) {
            int T;
            int32_t *ids = int_array(json_object_get(j, "ids"), &T);
            mt_run *r = NULL;
            float *lg = malloc(sizeof(float) * 1000 * T);
            if (!mt_run_new(q8, T, 1, &r, &e) && !mt_forward(q8, r, ids, NULL, T, &e)) {
                for (int t = 0; t < T; t++) mt_head_logits(q8, r, t, lg + (size_t)t * 1000, &e);
                double err = mt_test_max_rel(lg, ref, (size_t)T * 1000);
                int am = 0, ar = 0;
                for (int v = 1; v < 1000; v++) {
                    if (lg[(size_t)(T - 1) * 1000 + v] > lg[(size_t)(T - 1) * 1000 + am]) am = v;
                    if (ref[(size_t)(T - 1) * 1000 + v] > ref[(size_t)(T - 1) * 1000 + ar]) ar = v;
                }
                CHECK(err < 0.1 && am == ar, "Q8_0 twin: logits error %.3g, argmax %d vs %d", err, am, ar);
            }
            mt_run_free(r);
            free(lg);
            free(ids);
        }
        free(ref);
        json_decref(j);
        mt_model_free(q8);
    }
    return mt_test_report();
}
