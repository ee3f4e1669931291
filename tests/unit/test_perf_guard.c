/* Numerical guards of integrated gradients (a model whose finite weights overflow its
 * activations must fail with MT_ENUMERIC naming the layer) and the batched attribution paths
 * (several target layers per pass) against the one-layer-at-a-time path. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_ig.h"
#include "mt_kernels.h"
#include "mt_model.h"
#include "mt_test.h"

#define GOLD "tests/golden"

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static int write_all(const char *path, const char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Sets every value of the F32 tensor `name` of a safetensors image to v. */
static int fill_tensor(char *buf, size_t n, const char *name, float v) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | (unsigned char)buf[i];
    if (8 + hl > n) return -1;
    json_error_t je;
    json_t *h = json_loadb(buf + 8, hl, 0, &je), *t = h ? json_object_get(h, name) : NULL;
    json_t *off = t ? json_object_get(t, "data_offsets") : NULL;
    int rc = -1;
    if (off && !strcmp(json_string_value(json_object_get(t, "dtype")), "F32")) {
        size_t a = (size_t)json_integer_value(json_array_get(off, 0)), b = (size_t)json_integer_value(json_array_get(off, 1));
        if (8 + hl + b <= n) {
            for (size_t i = a; i < b; i += 4) memcpy(buf + 8 + hl + i, &v, 4);
            rc = 0;
        }
    }
    json_decref(h);
    return rc;
}

/* The golden BERT with layer 1's attention LayerNorm bias at 3e38 and its FFN input weights at 1:
 * every pre-activation of layer 1 sums d_model values near 3e38 and overflows to +Inf. */
static void test_overflow_guard(void) {
    char tmp[] = "/tmp/mt_guard_XXXXXX", path[300];
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    size_t n = 0, nc = 0;
    char *st = read_all(GOLD "/models/bert/model.safetensors", &n), *cfg = read_all(GOLD "/models/bert/config.json", &nc);
    CHECK(st && cfg, "read the golden BERT");
    if (st && cfg) {
        CHECK(!fill_tensor(st, n, "bert.encoder.layer.1.attention.output.LayerNorm.bias", 3e38f) &&
                  !fill_tensor(st, n, "bert.encoder.layer.1.intermediate.dense.weight", 1.0f),
              "poison the weights");
        snprintf(path, sizeof path, "%s/model.safetensors", tmp);
        CHECK(!write_all(path, st, n), "write %s", path);
        snprintf(path, sizeof path, "%s/config.json", tmp);
        CHECK(!write_all(path, cfg, nc), "write %s", path);
        mt_model *m = NULL;
        mt_err e = {0};
        int rc = mt_model_load(tmp, &m, &e);
        CHECK(rc == MT_OK, "load the finite but huge model: %s", rc ? e.msg : "");
        if (!rc) {
            int32_t ids[] = {101, 103, 2710, 461, 3129, 102}, ans = 3541;
            int pos = 1;
            mt_query q = {ids, NULL, 6, &pos, &ans, 1, 103, NULL};
            mt_ig_opts o;
            mt_ig_opts_default(&o);
            o.steps = 4;
            for (int amig = 0; amig < 2; amig++)
                for (int path_kind = 0; path_kind < 2; path_kind++) {
                    o.baseline = amig ? MT_BASELINE_AMIG : MT_BASELINE_ZERO;
                    o.layer_group = path_kind ? 0 : 1;
                    mt_ig_result res;
                    rc = mt_ig_attribute(m, &q, &o, &res, &e);
                    CHECK(rc == MT_ENUMERIC, "overflowing model: rc %d (%s), want MT_ENUMERIC", rc, rc ? e.msg : "ok");
                    CHECK(rc && !strncmp(e.msg, "layer 1: non-finite", 19) && !strchr(e.msg, '\n'),
                          "message names the layer: '%s'", e.msg);
                    if (!rc) mt_ig_result_free(&res);
                }
            /* restricted to layer 0, below the overflow, the attribution is finite... except that
             * the layers above feed the head: the patched pass must fail too, naming layer 0 */
            o.baseline = MT_BASELINE_ZERO;
            o.layer_lo = 0;
            o.layer_hi = 1;
            mt_ig_result res;
            rc = mt_ig_attribute(m, &q, &o, &res, &e);
            CHECK(rc == MT_ENUMERIC && !strncmp(e.msg, "layer 0: non-finite", 19), "layer 0 only: rc %d '%s'", rc,
                  rc ? e.msg : "ok");
            if (!rc) mt_ig_result_free(&res);
        }
        mt_model_free(m);
    }
    free(st);
    free(cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    remove(path);
    snprintf(path, sizeof path, "%s/config.json", tmp);
    remove(path);
    remove(tmp);
}

/* Batched target layers (layer_group 0 = automatic, 2, 3) give the scores of one layer at a
 * time (layer_group 1, the unoptimized path) within 1e-4 relative to the largest score. */
static void test_group_paths(void) {
    /* every family and architecture, then the peers' patch points on the decoders */
    const char *models[] = {"models/bert", "models/xlmr", "causal/llama", "causal/qwen2", "causal/gemma3", "causal/bloom",
                            "causal/gpt2", "causal/llama", "causal/llama", "causal/gemma3", "causal/gpt2"};
    const mt_neuron kinds[] = {MT_NEURON_DOWN_INPUT, MT_NEURON_DOWN_INPUT, MT_NEURON_DOWN_INPUT, MT_NEURON_DOWN_INPUT,
                               MT_NEURON_DOWN_INPUT, MT_NEURON_DOWN_INPUT, MT_NEURON_DOWN_INPUT, MT_NEURON_GATE,
                               MT_NEURON_UP, MT_NEURON_GATE, MT_NEURON_PRE_ACT};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char dir[256], path[300];
        snprintf(dir, sizeof dir, GOLD "/%s", models[i]);
        snprintf(path, sizeof path, "%s/multi.json", dir);
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        mt_model *m = NULL;
        mt_err e = {0};
        if (!j || mt_model_load(dir, &m, &e)) {
            CHECK(0, "%s: cannot load (%s)", dir, j ? e.msg : je.text);
            json_decref(j);
            continue;
        }
        const mt_config *c = mt_model_config(m);
        json_t *ja = json_object_get(j, "ids"), *jp = json_object_get(j, "answer_positions"),
               *jt = json_object_get(j, "answer_ids"), *js = json_object_get(j, "special_positions");
        int T = (int)json_array_size(ja), na = (int)json_array_size(jt);
        int32_t *ids = malloc(sizeof(int32_t) * T), *ans = malloc(sizeof(int32_t) * na);
        int *pos = malloc(sizeof(int) * na);
        uint8_t *special = calloc((size_t)T, 1);
        for (int k = 0; k < T; k++) ids[k] = (int32_t)json_integer_value(json_array_get(ja, k));
        for (int k = 0; k < na; k++) {
            ans[k] = (int32_t)json_integer_value(json_array_get(jt, k));
            pos[k] = jp ? (int)json_integer_value(json_array_get(jp, k)) : T - 1;
        }
        for (size_t k = 0; js && k < json_array_size(js); k++) special[json_integer_value(json_array_get(js, k))] = 1;
        json_t *jm = json_object_get(j, c->causal ? "replace_id" : "mask_id");
        mt_query q = {ids, NULL, T, pos, ans, na, jm ? (int32_t)json_integer_value(jm) : 0, special};
        for (int amig = 0; amig < 2; amig++)
            for (int logprob = 0; logprob < 2; logprob++) {
                mt_ig_opts o;
                mt_ig_opts_default(&o);
                o.baseline = amig ? MT_BASELINE_AMIG : MT_BASELINE_ZERO;
                o.logprob = logprob;
                o.steps = 7;
                o.neuron = kinds[i];
                o.layer_group = 1;
                mt_ig_result ref, got;
                int rc = mt_ig_attribute(m, &q, &o, &ref, &e);
                CHECK(rc == MT_OK, "%s one layer at a time: %s", dir, rc ? e.msg : "");
                if (rc) continue;
                for (int g = 0; g < 3; g++) {
                    o.layer_group = g == 0 ? 0 : g + 1;
                    rc = mt_ig_attribute(m, &q, &o, &got, &e);
                    CHECK(rc == MT_OK, "%s group %d: %s", dir, o.layer_group, rc ? e.msg : "");
                    if (rc) continue;
                    CHECK(got.groups == (o.layer_group ? (o.layer_group < c->n_layers ? o.layer_group : c->n_layers)
                                                       : c->n_layers),
                          "%s: %d layers per pass for layer_group %d", dir, got.groups, o.layer_group);
                    size_t Lf = (size_t)c->n_layers * c->d_ff;
                    double d = mt_test_max_rel(got.scores, ref.scores, Lf), dp = fabs(got.prob[0] - ref.prob[0]);
                    double df = 0;
                    for (int l = 0; l < c->n_layers; l++) {
                        double x = fabs(got.f_a[l] - ref.f_a[l]) + fabs(got.f_b[l] - ref.f_b[l]);
                        if (x > df) df = x;
                    }
                    CHECK(d < 1e-4 && dp < 1e-5 && df < 1e-5,
                          "%s neuron %s amig %d logprob %d group %d: scores %.3g rel, prob %.3g, F %.3g", dir,
                          mt_neuron_name(kinds[i]), amig, logprob, o.layer_group, d, dp, df);
                    mt_ig_result_free(&got);
                }
                mt_ig_result_free(&ref);
            }
        free(ids);
        free(ans);
        free(pos);
        free(special);
        json_decref(j);
        mt_model_free(m);
    }
}

/* Every index of [0, n) is visited exactly once, whatever the chunking. */
static void count_range(void *ctx, long lo, long hi) {
    int *seen = ctx;
    for (long i = lo; i < hi; i++) __atomic_fetch_add(&seen[i], 1, __ATOMIC_RELAXED);
}

static void test_parallel_for(void) {
    const long n = 100003;
    int *seen = calloc(n, sizeof(int));
    long grains[] = {1, 7, 4096, n, 2 * n};
    for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
        memset(seen, 0, sizeof(int) * n);
        mt_parallel_for(n, grains[g], count_range, seen);
        long bad = 0;
        for (long i = 0; i < n; i++) bad += seen[i] != 1;
        CHECK(bad == 0, "grain %ld: %ld indices not visited exactly once (%d threads)", grains[g], bad, mt_threads());
    }
    mt_parallel_for(0, 1, count_range, seen); /* nothing to do */
    free(seen);
}

int main(void) {
    test_parallel_for();
    test_overflow_guard();
    test_group_paths();
    return mt_test_report();
}
