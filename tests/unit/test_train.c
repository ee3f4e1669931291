/* Interventions, FFN weight access, weight gradients of selected neurons and saving
 * (mt_train.h), on every golden model:
 * - factor 1 changes nothing; factor 0 on a whole layer at the answer position equals the
 *   patched pass at Z = 0 (mt_patch_grad's F); mt_forward_batch_acts sees the intervention;
 * - the loss of mt_ffn_rows_grad equals -sum log P from mt_forward + mt_head_logits;
 * - its gradients match central finite differences on the largest components;
 * - snapshot/restore and rows get/set round trips are exact; a value edit, saved and reloaded,
 *   gives exactly the edited model's logits;
 * - against torch (tests/golden/train, tools/make_golden_train.py): logits under an
 *   intervention made by a forward hook, and the weight gradients of the selected rows, 1e-3
 *   relative to the largest reference magnitude;
 * - a Gemma 3 variant with attention and final soft-capping switched on (finite differences).
 * MT_TRAIN_KEEP=DIR keeps the saved folders (with c_logits.npy, c_ids.json) for
 * `tools/make_golden_train.py --check-saved DIR/mt_test_train_*` (transformers reloads them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "mt_kernels.h"
#include "mt_gguf.h"
#include "mt_model.h"
#include "mt_npy.h"
#include "mt_test.h"
#include "mt_train.h"

#define GOLD "tests/golden"
#define TP 7 /* prompt / query tokens */
#define NA 2 /* answer tokens */

typedef struct {
    int32_t ids[TP + NA], ans[NA];
    int pos[NA], T; /* T: sequence the probes run (prompt + answer - 1 for causal) */
    mt_fact fact;
} probe;

static void make_probe(const mt_config *c, probe *p) {
    const int V = c->vocab_size;
    for (int i = 0; i < TP + NA; i++) p->ids[i] = (int32_t)((37 * i + 11) % (V - 10) + 5);
    p->ans[0] = (int32_t)(V / 3), p->ans[1] = (int32_t)(V / 2 + 1);
    memset(&p->fact, 0, sizeof p->fact);
    p->fact.ids = p->ids, p->fact.T = TP, p->fact.answer_ids = p->ans, p->fact.n_answer = NA;
    if (c->causal) {
        p->ids[TP] = p->ans[0];
        p->T = TP + NA - 1;
    } else {
        p->pos[0] = 3, p->pos[1] = 4;
        p->fact.answer_pos = p->pos, p->fact.mask_id = 4;
        p->T = TP;
    }
}

/* tests/golden/train/<name>/<what>.npy with n floats, or NULL. */
static float *golden(const char *name, const char *what, size_t n) {
    char path[512];
    snprintf(path, sizeof path, GOLD "/train/%s/%s.npy", name, what);
    return mt_test_npy(path, n);
}

/* Logits at pos of ids[0..T) into out. */
static int logits_at(const mt_model *m, mt_run *r, const int32_t *ids, int T, int pos, float *out) {
    mt_err e;
    int rc = mt_forward(m, r, ids, NULL, T, &e);
    if (!rc) rc = mt_head_logits(m, r, pos, out, &e);
    CHECK(rc == MT_OK, "forward: %s", rc ? e.msg : "");
    return rc;
}

/* -sum_t log P(y_t) the way mt_answer_scores computes it. */
static double ref_loss(const mt_model *m, mt_run *r, const probe *p) {
    const mt_config *c = mt_model_config(m);
    float *lg = malloc(sizeof(float) * c->vocab_size), *pr = malloc(sizeof(float) * c->vocab_size);
    double l = 0;
    for (int t = 0; t < NA; t++) {
        int32_t ids[TP + NA];
        memcpy(ids, p->ids, sizeof ids);
        int T = TP + t, pos = T - 1;
        if (!c->causal) {
            for (int s = 0; s < NA; s++) ids[p->pos[s]] = s == t ? 4 : p->ans[s];
            T = TP, pos = p->pos[t];
        }
        if (logits_at(m, r, ids, T, pos, lg)) break;
        double lse = mt_softmax(pr, lg, c->vocab_size);
        l += lse - lg[p->ans[t]];
    }
    free(lg);
    free(pr);
    return l;
}

static void check_interventions(const char *name, const char *gold, const mt_model *m, mt_run *r, const probe *p) {
    const mt_config *c = mt_model_config(m);
    const int V = c->vocab_size, f = c->d_ff, L = c->n_layers;
    const int pos = c->causal ? p->T - 1 : p->pos[0];
    float *base = malloc(sizeof(float) * V), *got = malloc(sizeof(float) * V), *pr = malloc(sizeof(float) * V);
    mt_iv_unit *u = malloc(sizeof(mt_iv_unit) * f);
    float *Z = calloc(f, sizeof(float)), *dZ = malloc(sizeof(float) * f);
    mt_err e;
    logits_at(m, r, p->ids, p->T, pos, base);
    /* factor 1 everywhere in layer 1: bit-identical */
    for (int i = 0; i < f; i++) u[i] = (mt_iv_unit){1 % L, i, 1.0f};
    mt_intervention iv = {u, f, NULL, 0};
    CHECK(!mt_run_set_intervention(m, r, &iv, &e), "%s: set: %s", name, e.msg);
    logits_at(m, r, p->ids, p->T, pos, got);
    CHECK(!memcmp(base, got, sizeof(float) * V), "%s: factor 1 changed the logits", name);
    /* factor 0 on a whole layer at the answer position = patch with Z = 0 */
    const mt_neuron kinds[] = {MT_NEURON_DOWN_INPUT, c->gated ? MT_NEURON_GATE : MT_NEURON_PRE_ACT, MT_NEURON_UP};
    for (int kk = 0; kk < (!c->causal ? 1 : c->gated ? 3 : 2); kk++) {
        CHECK(!mt_run_set_neuron(m, r, kinds[kk], &e), "%s: neuron: %s", name, e.msg);
        for (int l = 0; l < L; l++) {
            for (int i = 0; i < f; i++) u[i] = (mt_iv_unit){l, i, 0.0f};
            int where = c->causal ? -1 : pos;
            mt_intervention z = {u, f, &where, 1};
            CHECK(!mt_run_set_intervention(m, r, &z, &e), "%s: set: %s", name, e.msg);
            logits_at(m, r, p->ids, p->T, pos, got);
            mt_softmax(pr, got, V);
            CHECK(mt_patch_grad(m, r, l, pos, Z, 1, p->ans[0], 0, NULL, dZ, &e) == MT_EINVAL,
                  "%s: patch_grad ran with an intervention", name);
            mt_run_set_intervention(m, r, NULL, &e);
            float F = -1;
            logits_at(m, r, p->ids, p->T, pos, base);
            int rc = mt_patch_grad(m, r, l, pos, Z, 1, p->ans[0], 0, &F, dZ, &e);
            CHECK(!rc, "%s: patch: %s", name, rc ? e.msg : "");
            double ref = F, rel = fabs(pr[p->ans[0]] - ref) / fmax(fabs(ref), 1e-6);
            CHECK(rel < 1e-4, "%s (%s) layer %d: x0 gives P = %.8g, patch Z=0 gives %.8g", name,
                  mt_neuron_name(kinds[kk]), l, pr[p->ans[0]], ref);
        }
    }
    mt_run_set_neuron(m, r, MT_NEURON_DOWN_INPUT, &e);
    /* batch acts see it: x2 on unit 5 of layer 0 at pos (nothing below changes) */
    float *a0 = malloc(sizeof(float) * L * f), *a1 = malloc(sizeof(float) * L * f);
    mt_forward_batch_acts(m, r, p->ids, NULL, 1, p->T, pos, a0, &e);
    mt_iv_unit two = {0, 5, 2.0f};
    int where = pos;
    mt_intervention x2 = {&two, 1, &where, 1};
    mt_run_set_intervention(m, r, &x2, &e);
    CHECK(!mt_forward_batch_acts(m, r, p->ids, NULL, 1, p->T, pos, a1, &e), "%s: batch: %s", name, e.msg);
    CHECK(a1[5] == 2 * a0[5] && a1[6] == a0[6], "%s: batch acts x2: %g vs %g", name, a1[5], a0[5]);
    mt_run_set_intervention(m, r, NULL, &e);
    /* against a transformers forward pre-hook on the down projection */
    float *ref = gold ? golden(gold, "iv_logits", V) : NULL;
    if (ref) {
        mt_iv_unit us[4] = {{L - 1, 3, 0.0f}, {L - 1, 9, 2.0f}, {0, 7, 0.0f}, {1 % L, 17, 2.0f}};
        mt_intervention hv = {us, 4, &where, 1};
        mt_run_set_intervention(m, r, &hv, &e);
        logits_at(m, r, p->ids, p->T, pos, got);
        mt_run_set_intervention(m, r, NULL, &e);
        double err = mt_test_max_rel(got, ref, V);
        CHECK(err < 1e-4, "%s: intervention logits vs transformers hook: %.2e", name, err);
        printf("%s: intervention logits vs transformers: %.2e\n", name, err);
    }
    free(ref);
    free(a0), free(a1), free(base), free(got), free(pr), free(u), free(Z), free(dZ);
}

/* Central differences on the largest components of each selected neuron's gradient. */
static void check_grads(const char *name, const char *gold, mt_model *m, mt_run *r, const probe *p) {
    const mt_config *c = mt_model_config(m);
    const int L = c->n_layers;
    mt_neuron_id sel[3] = {{L - 1, 3}, {L > 2 ? 1 : 0, 17}, {0, 7}};
    const int n = 3, flags = MT_ROWS_VALUE;
    const long S = mt_ffn_rows_size(m, flags);
    float *g = malloc(sizeof(float) * n * S), *w = malloc(sizeof(float) * n * S), *w0 = malloc(sizeof(float) * n * S);
    mt_err e;
    double loss = 0;
    const int V = c->vocab_size;
    float *l0 = malloc(sizeof(float) * V), *l1 = malloc(sizeof(float) * V);
    logits_at(m, r, p->ids, p->T, p->T - 1, l0);
    int rc = mt_ffn_rows_grad(m, r, &p->fact, sel, n, flags, g, &loss, &e);
    CHECK(!rc, "%s: rows_grad: %s", name, rc ? e.msg : "");
    CHECK(!mt_head_logits(m, r, p->T - 1, l1, &e) && !memcmp(l0, l1, sizeof(float) * V),
          "%s: rows_grad disturbed the forward cache", name);
    free(l0), free(l1);
    if (rc) goto out;
    double ref = ref_loss(m, r, p);
    CHECK(fabs(loss - ref) < 1e-5 * fmax(1, fabs(ref)), "%s: loss %.9g vs forward %.9g", name, loss, ref);
    /* a run with several rows takes the answer positions' head in one batch: same result */
    mt_run *rb = NULL;
    float *gb = malloc(sizeof(float) * n * S);
    double lb = 0;
    if (!mt_run_new(m, TP + NA, 4, &rb, &e) && !mt_ffn_rows_grad(m, rb, &p->fact, sel, n, flags, gb, &lb, &e))
        CHECK(mt_test_max_rel(gb, g, (size_t)n * S) < 1e-5 && fabs(lb - loss) < 1e-5 * fabs(loss), "%s: batched head differs",
              name);
    else
        CHECK(0, "%s: batched run: %s", name, e.msg);
    mt_run_free(rb);
    free(gb);
    float *gref = gold ? golden(gold, "grad", (size_t)n * S) : NULL;
    if (gref) {
        double err = mt_test_max_rel(g, gref, (size_t)n * S);
        CHECK(err < 1e-3, "%s: weight gradients vs torch autograd: %.2e", name, err);
        printf("%s: weight gradients vs torch autograd: %.2e\n", name, err);
    }
    free(gref);
    double l2 = 0;
    CHECK(!mt_ffn_rows_grad(m, r, &p->fact, sel, n, flags, NULL, &l2, &e) && l2 == loss, "%s: loss-only pass", name);
    mt_ffn_rows_get(m, sel, n, flags, w0, &e);
    double worst = 0;
    for (int k = 0; k < n; k++) {
        const float *gk = g + k * S;
        double gmax = 0;
        for (long i = 0; i < S; i++) gmax = fmax(gmax, fabs(gk[i]));
        CHECK(gmax > 0, "%s: neuron %d has a zero gradient", name, k);
        int picked[6], np = 0; /* the 6 largest components */
        for (int t = 0; t < 6; t++) {
            long best = -1;
            for (long i = 0; i < S; i++) {
                int dup = 0;
                for (int q = 0; q < np; q++) dup |= picked[q] == i;
                if (!dup && (best < 0 || fabs(gk[i]) > fabs(gk[best]))) best = i;
            }
            picked[np++] = (int)best;
        }
        for (int t = 0; t < np; t++) {
            const long i = (long)k * S + picked[t];
            const float eps = 1e-2f * fmaxf(1.0f, fabsf(w0[i]));
            double lp = 0, lm = 0;
            memcpy(w, w0, sizeof(float) * n * S);
            w[i] = w0[i] + eps;
            mt_ffn_rows_set(m, sel, n, flags, w, &e);
            mt_ffn_rows_grad(m, r, &p->fact, sel, n, flags, NULL, &lp, &e);
            w[i] = w0[i] - eps;
            mt_ffn_rows_set(m, sel, n, flags, w, &e);
            mt_ffn_rows_grad(m, r, &p->fact, sel, n, flags, NULL, &lm, &e);
            const double fd = (lp - lm) / ((double)(w0[i] + eps) - (double)(w0[i] - eps));
            const double err = fabs(fd - g[i]) / gmax;
            if (err > worst) worst = err;
            CHECK(err < 2e-2, "%s: neuron (%d,%d) component %d: grad %.6g vs finite difference %.6g", name,
                  sel[k].layer, sel[k].unit, picked[t], g[i], fd);
        }
    }
    mt_ffn_rows_set(m, sel, n, flags, w0, &e);
    printf("%s: loss %.6f, worst finite-difference error %.2e of the largest component\n", name, loss, worst);
out:
    free(g), free(w), free(w0);
}

/* Knowledge injection: AdamW on three neurons' rows lowers the loss of the fact a lot, and
 * restoring their snapshot gives back the original logits exactly (nothing else changed). */
static void check_inject(const char *name, mt_model *m, mt_run *r, const probe *p) {
    const mt_config *c = mt_model_config(m);
    const int V = c->vocab_size, pos = c->causal ? p->T - 1 : p->pos[0];
    mt_neuron_id sel[3] = {{c->n_layers - 1, 1}, {c->n_layers - 1, 2}, {0, 3}};
    const long S = mt_ffn_rows_size(m, MT_ROWS_VALUE) * 3;
    float *w = malloc(sizeof(float) * S), *g = malloc(sizeof(float) * S);
    float *base = malloc(sizeof(float) * V), *got = malloc(sizeof(float) * V);
    mt_err e;
    mt_ffn_snapshot *snap = NULL;
    mt_adamw opt;
    logits_at(m, r, p->ids, p->T, pos, base);
    int rc = mt_ffn_snapshot_take(m, sel, 3, &snap, &e);
    if (!rc) rc = mt_adamw_init(&opt, S, 0.05f, 0.01f, &e);
    if (!rc) rc = mt_ffn_rows_get(m, sel, 3, MT_ROWS_VALUE, w, &e);
    double first = 0, loss = 0;
    for (int step = 0; !rc && step < 40; step++) {
        rc = mt_ffn_rows_grad(m, r, &p->fact, sel, 3, MT_ROWS_VALUE, g, &loss, &e);
        if (step == 0) first = loss;
        if (!rc) mt_adamw_step(&opt, w, g);
        if (!rc) rc = mt_ffn_rows_set(m, sel, 3, MT_ROWS_VALUE, w, &e);
    }
    CHECK(!rc, "%s: inject: %s", name, rc ? e.msg : "");
    CHECK(loss < 0.5 * first, "%s: injection: loss %.4f -> %.4f", name, first, loss);
    printf("%s: injection (3 neurons, 40 AdamW steps): loss %.4f -> %.4f\n", name, first, loss);
    mt_ffn_snapshot_restore(m, snap);
    logits_at(m, r, p->ids, p->T, pos, got);
    CHECK(!memcmp(got, base, sizeof(float) * V), "%s: restore after injection differs", name);
    mt_ffn_snapshot_free(snap);
    mt_adamw_free(&opt);
    free(w), free(g), free(base), free(got);
}

/* Snapshot + edit + save + reload. */
static void check_edit_save(const char *dir, const char *name, mt_model *m, mt_run *r, const probe *p) {
    const mt_config *c = mt_model_config(m);
    const int gguf = mt_model_is_gguf(dir);
    const int V = c->vocab_size, d = c->d_model, pos = c->causal ? p->T - 1 : p->pos[0];
    float *base = malloc(sizeof(float) * V), *ed = malloc(sizeof(float) * V), *got = malloc(sizeof(float) * V);
    mt_err e;
    logits_at(m, r, p->ids, p->T, pos, base);
    mt_neuron_id sel[2] = {{c->n_layers - 1, 9}, {0, 2}};
    mt_ffn_snapshot *snap = NULL;
    CHECK(!mt_ffn_snapshot_take(m, sel, 2, &snap, &e), "%s: snapshot: %s", name, e.msg);
    float *E0 = malloc(sizeof(float) * d), *E1 = malloc(sizeof(float) * d);
    CHECK(!mt_model_out_embedding(m, p->ans[0], E0, &e) && !mt_model_out_embedding(m, p->ans[1], E1, &e),
          "%s: out embedding", name);
    CHECK(mt_model_out_embedding(m, V, E1, &e) == MT_EINVAL, "%s: out embedding beyond the vocabulary", name);
    CHECK(!mt_model_out_embedding(m, p->ans[1], E1, &e), "%s: out embedding", name);
    mt_ffn_view v;
    CHECK(!mt_model_ffn_view(m, sel[0].layer, &v, &e) && v.d_ff == c->d_ff, "%s: view", name);
    double n0 = 0, n1 = 0;
    for (int j = 0; j < d; j++) n0 += (double)v.down[j * v.down_stride + 9] * v.down[j * v.down_stride + 9];
    CHECK(!mt_ffn_edit_value(m, sel[0].layer, 9, E0, E1, 1, 8, &e), "%s: edit: %s", name, e.msg);
    free(E0), free(E1);
    for (int j = 0; j < d; j++) n1 += (double)v.down[j * v.down_stride + 9] * v.down[j * v.down_stride + 9];
    CHECK(n1 != n0, "%s: the edit changed nothing", name);
    mt_ffn_view v0;
    mt_model_ffn_view(m, 0, &v0, &e);
    v0.up[2 * d + 1] += 0.25f; /* layer 0 unit 2's first-matrix row (in the snapshot) */
    logits_at(m, r, p->ids, p->T, pos, ed);
    CHECK(memcmp(base, ed, sizeof(float) * V), "%s: edited logits unchanged", name);
    /* save and reload the edited model */
    char out[512];
    const char *keep = getenv("MT_TRAIN_KEEP");
    int at = snprintf(out, sizeof out, "%s/mt_test_train_%d_", keep ? keep : "/tmp", (int)getpid());
    snprintf(out + at, sizeof out - at, "%s%s", name, gguf ? ".gguf" : "");
    for (char *q = out + at; *q; q++)
        if (*q == '/') *q = '_';
    int rc = mt_model_save(m, dir, out, &e);
    CHECK(!rc, "%s: save: %s", name, rc ? e.msg : "");
    CHECK(mt_model_save(m, dir, out, &e) != MT_OK, "%s: save over an existing folder", name);
    mt_model *m2 = NULL;
    mt_run *r2 = NULL;
    if (!rc && !(rc = mt_model_load(out, &m2, &e)) && !(rc = mt_run_new(m2, TP + NA, 1, &r2, &e))) {
        logits_at(m2, r2, p->ids, p->T, pos, got);
        CHECK(!memcmp(got, ed, sizeof(float) * V), "%s: reloaded logits differ from the edited model's", name);
    }
    CHECK(!rc, "%s: reload: %s", name, rc ? e.msg : "");
    mt_run_free(r2);
    mt_model_free(m2);
    if (!rc && gguf) { /* only the two edited tensors changed type */
        mt_gguf *a = NULL, *b = NULL;
        int diff = 0, f32 = 0;
        if (!mt_gguf_open(dir, &a, &e) && !mt_gguf_open(out, &b, &e)) {
            CHECK(mt_gguf_kv_count(a) == mt_gguf_kv_count(b) && mt_gguf_tensor_count(a) == mt_gguf_tensor_count(b),
                  "%s: saved GGUF has other metadata or tensors", name);
            for (int i = 0; i < mt_gguf_tensor_count(a) && i < mt_gguf_tensor_count(b); i++) {
                const mt_gguf_tensor *ta = mt_gguf_tensor_at(a, i), *tb = mt_gguf_tensor_at(b, i);
                int same = ta->type == tb->type && ta->nbytes == tb->nbytes && !memcmp(ta->data, tb->data, ta->nbytes);
                diff += !same;
                f32 += !same && tb->type == MT_GGML_F32;
            }
        }
        CHECK(diff == 2 && f32 == 2, "%s: %d tensors changed in the saved GGUF (%d as F32), expected 2", name, diff, f32);
        mt_gguf_close(a);
        mt_gguf_close(b);
    }
    if (keep && !rc && !gguf) { /* what transformers must reproduce from the saved folder */
        char path[600];
        snprintf(path, sizeof path, "%s/c_logits.npy", out);
        int64_t sh[1] = {V};
        mt_npy_write_f32(path, ed, 1, sh, &e);
        snprintf(path, sizeof path, "%s/c_ids.json", out);
        FILE *fh = fopen(path, "w");
        if (fh) {
            fprintf(fh, "{\"causal\": %s, \"pos\": %d, \"ids\": [", c->causal ? "true" : "false", pos);
            for (int i = 0; i < p->T; i++) fprintf(fh, "%s%d", i ? ", " : "", p->ids[i]);
            fprintf(fh, "]}\n");
            fclose(fh);
        }
    } else if (gguf) {
        unlink(out);
    } else {
        mt_test_rm_rf(out);
    }
    /* undo */
    mt_ffn_snapshot_restore(m, snap);
    mt_ffn_snapshot_free(snap);
    logits_at(m, r, p->ids, p->T, pos, got);
    CHECK(!memcmp(got, base, sizeof(float) * V), "%s: restore did not give back the original logits", name);
    free(base), free(ed), free(got);
}

/* Gemma 3 with attention and final logit soft-capping on (no golden model has them): a copy
 * of the folder with a changed config.json; gradients by finite differences. */
static void softcap_variant(void) {
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/mt_test_train_cap_%d", (int)getpid());
    mkdir(dir, 0755);
    json_t *cfg = json_load_file(GOLD "/causal/gemma3/config.json", 0, NULL);
    CHECK(cfg != NULL, "gemma3 config");
    if (!cfg) return;
    json_object_set_new(cfg, "attn_logit_softcapping", json_real(0.5));
    json_object_set_new(cfg, "final_logit_softcapping", json_real(3.0));
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_dump_file(cfg, path, 0);
    json_decref(cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char src[4096];
    CHECK(realpath(GOLD "/causal/gemma3/model.safetensors", src) && !symlink(src, path), "link %s", path);
    mt_model *m = NULL;
    mt_run *r = NULL;
    mt_err e;
    int rc = mt_model_load(dir, &m, &e);
    if (!rc) rc = mt_run_new(m, TP + NA, 1, &r, &e);
    CHECK(!rc, "soft-capped gemma3: %s", rc ? e.msg : "");
    if (!rc) {
        probe p;
        make_probe(mt_model_config(m), &p);
        check_grads("gemma3+softcap", NULL, m, r, &p);
    }
    mt_run_free(r);
    mt_model_free(m);
    mt_test_rm_rf(dir);
}

int main(void) {
    const char *models[] = {"models/bert", "models/xlmr", "causal/llama", "causal/qwen2", "causal/gemma3",
                            "causal/bloom", "causal/gpt2", "causal/gemma3/model.gguf", "causal/llama/model-q8_0.gguf",
                            "causal/qwen2/model.gguf", "causal/llama_bf16", "causal/gemma3_f16", "causal/gpt2_bf16",
                            "models/xlmr_f16", "causal/llama_bf16/model.gguf"}; /* the last five: f16/bf16 kept as stored */
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, GOLD "/%s", models[i]);
        mt_model *m = NULL;
        mt_run *r = NULL;
        mt_err e;
        int rc = mt_model_load(dir, &m, &e);
        if (!rc) rc = mt_run_new(m, TP + NA, 1, &r, &e);
        CHECK(rc == MT_OK, "load %s: %s", dir, rc ? e.msg : "");
        if (!rc) {
            probe p;
            make_probe(mt_model_config(m), &p);
            /* torch references (tests/golden/train) exist for the f32 folders */
            const char *gold = mt_model_is_gguf(dir) || strstr(dir, "f16") ? NULL : strchr(models[i], '/') + 1;
            check_interventions(models[i], gold, m, r, &p);
            check_grads(models[i], gold, m, r, &p);
            check_edit_save(dir, models[i], m, r, &p);
            check_inject(models[i], m, r, &p);
        }
        mt_run_free(r);
        mt_model_free(m);
    }
    softcap_variant();
    return mt_test_report();
}
