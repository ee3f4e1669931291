/* f16/bf16 and Q8_0 weight matrices kept in their storage type (mt_kernels.h mt_w): on the
 * half-precision golden checkpoints and the Q8_0 GGUF twin, a model loaded as stored and the same model converted to f32 at load
 * (MT_WEIGHTS=f32) hold the expected bytes and compute the same logits and IG gradients (up
 * to summation order); an edit converts just that layer's FFN; a non-finite bf16 weight is
 * refused with the file and tensor named. Agreement with transformers itself is test_model's
 * (the *_f16 and *_bf16 folders of tests/golden/causal and tests/golden/models). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_model.h"
#include "mt_test.h"
#include "mt_train.h"

#define GOLD "tests/golden"
enum { T = 7, M = 3 };

static mt_model *load(const char *dir, int f32) {
    if (f32) setenv("MT_WEIGHTS", "f32", 1);
    else unsetenv("MT_WEIGHTS");
    mt_model *m = NULL;
    mt_err e;
    int rc = mt_model_load(dir, &m, &e);
    CHECK(rc == MT_OK, "load %s (%s): %s", dir, f32 ? "f32" : "as stored", rc ? e.msg : "");
    unsetenv("MT_WEIGHTS");
    return rc ? NULL : m;
}

/* Logits at the answer position, then F and dF/dZ of M patched rows at layer l. */
typedef struct {
    float *logits, F[M], *dZ;
} outputs;

static int run(const mt_model *m, int l, outputs *o) {
    const mt_config *c = mt_model_config(m);
    int32_t ids[T];
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((5 + 37 * i) % c->vocab_size);
    const int pos = c->causal ? T - 1 : 3;
    mt_run *r = NULL;
    mt_err e;
    int rc = mt_run_new(m, T, M, &r, &e);
    if (!rc) rc = mt_forward(m, r, ids, NULL, T, &e);
    o->logits = malloc(sizeof(float) * c->vocab_size);
    o->dZ = malloc(sizeof(float) * M * c->d_ff);
    float *Z = malloc(sizeof(float) * M * c->d_ff);
    if (!rc) rc = mt_head_logits(m, r, pos, o->logits, &e);
    if (!rc) {
        int32_t y = 0;
        for (int v = 1; v < c->vocab_size; v++)
            if (o->logits[v] > o->logits[y]) y = v;
        const float *a = mt_run_ffn_act(r, l, pos);
        for (int k = 0; k < M; k++)
            for (int j = 0; j < c->d_ff; j++) Z[(size_t)k * c->d_ff + j] = a[j] * (float)(k + 1) / M;
        rc = mt_patch_grad(m, r, l, pos, Z, M, y, 0, o->F, o->dZ, &e);
    }
    CHECK(rc == MT_OK, "run: %s", rc ? e.msg : "");
    free(Z);
    mt_run_free(r);
    return rc;
}

static void compare(const char *name) {
    char dir[256];
    snprintf(dir, sizeof dir, GOLD "/%s", name);
    mt_model *h = load(dir, 0), *f = load(dir, 1);
    if (!h || !f) goto done;
    const mt_config *c = mt_model_config(h);
    size_t hf32, hhalf, ff32, fhalf;
    mt_model_weight_bytes(h, &hf32, &hhalf);
    mt_model_weight_bytes(f, &ff32, &fhalf);
    CHECK(hhalf > 0 && fhalf == 0, "%s: f16/bf16 bytes as stored %zu, converted %zu", name, hhalf, fhalf);
    const int q8 = strstr(name, "q8_0") != NULL; /* Q8_0: 34 bytes per 32 values */
    const size_t kept = q8 ? hhalf / 34 * 32 : hhalf / 2;
    CHECK(hf32 + 4 * kept == ff32, "%s: f32 bytes %zu + 4 x %zu values kept != %zu converted", name, hf32, kept, ff32);
    const int l = c->n_layers - 1;
    outputs a = {0}, b = {0};
    if (!run(h, l, &a) && !run(f, l, &b)) {
        double dl = mt_test_max_rel(a.logits, b.logits, c->vocab_size), dF = mt_test_max_rel(a.F, b.F, M);
        double dz = mt_test_max_rel(a.dZ, b.dZ, (size_t)M * c->d_ff);
        CHECK(dl < 1e-5 && dF < 1e-5 && dz < 1e-4, "%s: as stored vs converted: logits %.2g, F %.2g, dF/dZ %.2g", name,
              dl, dF, dz);
        printf("%s: as stored vs f32: logits %.2g, F %.2g, dF/dZ %.2g (relative to the largest)\n", name, dl, dF, dz);
    }
    free(a.logits), free(a.dZ), free(b.logits), free(b.dZ);
    /* viewing a layer's FFN for editing converts that layer's FFN matrices, and only those */
    mt_ffn_view v;
    mt_err e;
    CHECK(!mt_model_ffn_view(h, 0, &v, &e) && v.up && v.down && (!c->gated || v.gate), "%s: view", name);
    size_t pf32, phalf;
    mt_model_weight_bytes(h, &pf32, &phalf);
    const size_t ffn = (size_t)(c->gated ? 3 : 2) * c->d_model * c->d_ff;
    const size_t conv = (pf32 - hf32) / 4; /* values converted (all of the FFN for the half folders) */
    CHECK(conv > 0 && (q8 ? conv <= ffn : conv == ffn) && hhalf - phalf == (q8 ? conv / 32 * 34 : 2 * conv),
          "%s: after the view: %zu f32 / %zu half bytes", name, pf32, phalf);
done:
    mt_model_free(h);
    mt_model_free(f);
}

/* The GGUF twin of a half folder (tools/make_gguf_twins.py: the same F16/BF16 values, Llama's
 * q/k rows permuted as llama.cpp does, which the loader undoes on its 16-bit copy) computes what
 * the safetensors folder does. */
static void twin(const char *name) {
    char dir[256], gg[300];
    snprintf(dir, sizeof dir, GOLD "/%s", name);
    snprintf(gg, sizeof gg, "%s/model.gguf", dir);
    mt_model *a = load(dir, 0), *b = load(gg, 0);
    if (a && b) {
        const mt_config *c = mt_model_config(a);
        size_t f32, half;
        mt_model_weight_bytes(b, &f32, &half);
        CHECK(half > 0, "%s GGUF twin: matrices kept as stored (%zu bytes)", name, half);
        outputs x = {0}, y = {0};
        if (!run(a, 0, &x) && !run(b, 0, &y)) {
            double dl = mt_test_max_rel(y.logits, x.logits, c->vocab_size);
            double dz = mt_test_max_rel(y.dZ, x.dZ, (size_t)M * c->d_ff);
            CHECK(dl < 1e-5 && dz < 1e-4, "%s: GGUF twin vs safetensors: logits %.2g, dF/dZ %.2g", name, dl, dz);
            printf("%s: GGUF twin vs safetensors: logits %.2g, dF/dZ %.2g\n", name, dl, dz);
        }
        free(x.logits), free(x.dZ), free(y.logits), free(y.dZ);
    }
    mt_model_free(a);
    mt_model_free(b);
}

/* A copy of llama_bf16 whose layer-0 up_proj holds a bf16 NaN at flat index 5. */
static void nonfinite(void) {
    char dir[64], cmd[256], path[128];
    snprintf(dir, sizeof dir, "/tmp/mt_test_weights_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "cp -r " GOLD "/causal/llama_bf16 %s", dir);
    CHECK(system(cmd) == 0, "copy llama_bf16");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *fp = fopen(path, "r+b");
    uint64_t hl = 0;
    char *head = NULL;
    if (fp && fread(&hl, 8, 1, fp) == 1 && hl < 1000000 && (head = calloc(hl + 1, 1)) && fread(head, 1, hl, fp) == hl) {
        json_t *j = json_loads(head, 0, NULL);
        json_t *t = json_object_get(j, "model.layers.0.mlp.up_proj.weight");
        const long off = (long)json_integer_value(json_array_get(json_object_get(t, "data_offsets"), 0));
        const unsigned char nan[2] = {0xc0, 0x7f}; /* 0x7fc0 little-endian */
        CHECK(t && !strcmp(json_string_value(json_object_get(t, "dtype")), "BF16"), "up_proj is BF16");
        CHECK(fseek(fp, (long)(8 + hl) + off + 2 * 5, SEEK_SET) == 0 && fwrite(nan, 1, 2, fp) == 2, "write NaN");
        json_decref(j);
    }
    free(head);
    if (fp) fclose(fp);
    mt_model *m = NULL;
    mt_err e;
    int rc = mt_model_load(dir, &m, &e);
    CHECK(rc == MT_ENUMERIC && strstr(e.msg, "model.safetensors") && strstr(e.msg, "up_proj") &&
              strstr(e.msg, "index 5"),
          "NaN bf16 weight refused: %s", rc ? e.msg : "loaded");
    mt_model_free(m);
    mt_test_rm_rf(dir);
}

int main(void) {
    const char *names[] = {"causal/llama_bf16", "causal/gemma3_f16", "causal/gpt2_bf16", "models/xlmr_f16",
                           "causal/llama/model-q8_0.gguf", "causal/llama_bf16/model.gguf",
                           "causal/gemma3_f16/model.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) compare(names[i]);
    twin("causal/llama_bf16");
    twin("causal/gemma3_f16");
    nonfinite();
    setenv("MT_WEIGHTS", "fp32", 1); /* a typo is refused, not ignored */
    mt_model *m = NULL;
    mt_err e;
    int rc = mt_model_load(GOLD "/causal/llama_bf16", &m, &e);
    CHECK(rc == MT_EINVAL && strstr(e.msg, "MT_WEIGHTS=fp32"), "MT_WEIGHTS=fp32: %s", rc ? e.msg : "loaded");
    mt_model_free(m);
    unsetenv("MT_WEIGHTS");
    return mt_test_report();
}
