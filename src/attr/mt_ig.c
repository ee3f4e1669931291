#include "mt_ig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_kernels.h"

void mt_ig_opts_default(mt_ig_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 20;
    o->baseline = MT_BASELINE_ZERO;
    o->multiplier = MT_MULT_DELTA;
}

void mt_ig_result_free(mt_ig_result *r) {
    if (!r) return;
    free(r->scores);
    free(r->prob);
    free(r->f_a);
    free(r->f_b);
    free(r->score_sum);
    free(r->baseline);
    memset(r, 0, sizeof *r);
}

/* Index of the first non-finite value of x[n], or -1. */
static long first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int check_query(const mt_model *m, const mt_query *q, mt_err *e) {
    const mt_config *c = mt_model_config(m);
    if (q->T < 1) return mt_fail(e, MT_EINVAL, "query has no tokens");
    if (q->n_answer < 1) return mt_fail(e, MT_EINVAL, "answer has no tokens");
    for (int t = 0; t < q->n_answer; t++) {
        if (!c->causal && (q->answer_pos[t] < 0 || q->answer_pos[t] >= q->T))
            return mt_fail(e, MT_EINVAL, "answer slot %d at position %d is outside the query (%d tokens)", t,
                           q->answer_pos[t], q->T);
        if (q->answer_ids[t] < 0 || q->answer_ids[t] >= c->vocab_size)
            return mt_fail(e, MT_EINVAL, "answer token %d has id %d outside the vocabulary", t, q->answer_ids[t]);
    }
    for (int j = 0; j < q->T; j++)
        if (q->ids[j] < 0 || q->ids[j] >= c->vocab_size)
            return mt_fail(e, MT_EINVAL, "query token %d has id %d outside the vocabulary", j, q->ids[j]);
    if (q->mask_id < 0 || q->mask_id >= c->vocab_size)
        return mt_fail(e, MT_EINVAL, "%s id %d is outside the vocabulary", c->causal ? "replacement" : "mask", q->mask_id);
    return MT_OK;
}

/* Longest input of any answer token: causal inputs grow by the teacher-forced tokens. */
static int max_len(const mt_model *m, const mt_query *q) {
    return mt_model_config(m)->causal ? q->T + q->n_answer - 1 : q->T;
}

/* Multiply-accumulates of one token through one layer attending to T positions: the q/k/v/o
 * projections (GQA-aware), the FFN (gated: three matrices) and attention scores + mixing. */
static double layer_macs(const mt_config *c, int T) {
    const double d = c->d_model, f = c->d_ff, qd = (double)c->n_heads * c->head_dim,
                 kd = (double)c->n_kv_heads * c->head_dim;
    return d * (2 * qd + 2 * kd) + (c->gated ? 3 : 2) * d * f + 2.0 * T * qd;
}

/* The teacher-forced input of answer token t, its length and the answer position.
 * Masked LMs: slot t masked, the other slots gold. Causal LMs: prompt + y_1..y_{t-1}, the
 * answer read at the last position. */
static void forced_ids(const mt_model *m, const mt_query *q, int t, int32_t *ids, int *T, int *pos) {
    memcpy(ids, q->ids, sizeof(int32_t) * q->T);
    if (mt_model_config(m)->causal) {
        for (int s = 0; s < t; s++) ids[q->T + s] = q->answer_ids[s];
        *T = q->T + t;
        *pos = *T - 1;
        return;
    }
    for (int s = 0; s < q->n_answer; s++) ids[q->answer_pos[s]] = s == t ? q->mask_id : q->answer_ids[s];
    *T = q->T;
    *pos = q->answer_pos[t];
}

static int is_slot(const mt_model *m, const mt_query *q, int j) {
    if (mt_model_config(m)->causal) return j >= q->T; /* teacher-forced answer tokens */
    for (int s = 0; s < q->n_answer; s++)
        if (q->answer_pos[s] == j) return 1;
    return 0;
}

int mt_answer_probs(const mt_model *m, const mt_query *q, double *prob, mt_err *e) {
    return mt_answer_scores(m, q, prob, NULL, e);
}

int mt_answer_scores(const mt_model *m, const mt_query *q, double *prob, int *top1, mt_err *e) {
    int32_t *arg = top1 ? malloc(sizeof(int32_t) * (q->n_answer > 0 ? q->n_answer : 1)) : NULL;
    if (top1 && !arg) return mt_fail(e, MT_ENOMEM, "out of memory");
    int rc = mt_answer_scores_run(m, NULL, q, prob, arg, e);
    for (int t = 0; !rc && top1 && t < q->n_answer; t++) top1[t] = arg[t] == q->answer_ids[t];
    free(arg);
    return rc;
}

int mt_answer_scores_run(const mt_model *m, mt_run *run, const mt_query *q, double *prob, int32_t *argmax, mt_err *e) {
    const mt_config *c = mt_model_config(m);
    int rc = check_query(m, q, e);
    if (rc) return rc;
    mt_run *r = run;
    const int TM = max_len(m, q);
    int32_t *ids = malloc(sizeof(int32_t) * TM);
    float *logits = malloc(sizeof(float) * c->vocab_size), *p = malloc(sizeof(float) * c->vocab_size);
    if (!ids || !logits || !p) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    if (!rc && !r) rc = mt_run_new(m, TM, 1, &r, e);
    for (int t = 0; !rc && t < q->n_answer; t++) {
        int T, pos;
        forced_ids(m, q, t, ids, &T, &pos);
        if ((rc = mt_forward(m, r, ids, q->types, T, e))) break;
        if ((rc = mt_head_logits(m, r, pos, logits, e))) break;
        mt_softmax(p, logits, c->vocab_size);
        prob[t] = p[q->answer_ids[t]];
        if (argmax) {
            int arg = 0;
            for (int i = 1; i < c->vocab_size; i++)
                if (logits[i] > logits[arg]) arg = i;
            argmax[t] = arg;
        }
    }
    if (r != run) mt_run_free(r);
    free(ids);
    free(logits);
    free(p);
    return rc;
}

/* AMIG baseline of token t: mean, over the replaceable positions j, of every layer's FFN
 * activation at the slot when token j is replaced by the mask token. base[L][d_ff]. */
static int amig_baseline(const mt_model *m, mt_run *r, const mt_query *q, const int32_t *ids, int T, int slot,
                         int max_B, float *base, double *flops, mt_err *e) {
    const mt_config *c = mt_model_config(m);
    const int L = c->n_layers, f = c->d_ff;
    int *pos = malloc(sizeof(int) * T);
    int32_t *batch = malloc(sizeof(int32_t) * (size_t)max_B * T), *types = NULL;
    float *acts = malloc(sizeof(float) * (size_t)max_B * L * f);
    int n = 0, rc = MT_OK;
    if (q->types) types = malloc(sizeof(int32_t) * (size_t)max_B * T);
    if (!pos || !batch || !acts || (q->types && !types)) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (int j = 0; j < T; j++)
        if (!(j < q->T && q->special && q->special[j]) && !is_slot(m, q, j)) pos[n++] = j;
    memset(base, 0, sizeof(float) * (size_t)L * f);
    if (n == 0) goto done; /* nothing to replace: the baseline stays zero */
    double *acc = calloc((size_t)L * f, sizeof(double));
    if (!acc) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (int i0 = 0; i0 < n && !rc; i0 += max_B) {
        int B = n - i0 < max_B ? n - i0 : max_B;
        for (int b = 0; b < B; b++) {
            memcpy(batch + (size_t)b * T, ids, sizeof(int32_t) * T);
            batch[(size_t)b * T + pos[i0 + b]] = q->mask_id;
            if (types) memcpy(types + (size_t)b * T, q->types, sizeof(int32_t) * T);
        }
        rc = mt_forward_batch_acts(m, r, batch, types, B, T, slot, acts, e);
        for (int b = 0; !rc && b < B; b++)
            for (size_t i = 0; i < (size_t)L * f; i++) acc[i] += acts[(size_t)b * L * f + i];
    }
    for (size_t i = 0; i < (size_t)L * f; i++) base[i] = (float)(acc[i] / n);
    free(acc);
    *flops += 2.0 * n * T * L * layer_macs(c, T);
done:
    free(pos);
    free(batch);
    free(types);
    free(acts);
    return rc;
}

/* Bytes of activations the batched path may hold (taller products gain little beyond it). */
#define MT_IG_GROUP_BYTES ((size_t)1 << 30)
#define MT_IG_GROUP_ROWS 512

/* A run for patched passes of G target layers of M rows each. want: 1 = one layer at a time,
 * > 1 = at most that many, 0 = as many as MT_IG_GROUP_BYTES and MT_IG_GROUP_ROWS allow (run
 * size is about linear in its rows). Falls back to smaller groups when memory is short. */
static int group_run(const mt_model *m, int TM, int M, int nlayers, int want, mt_run **r, int *G, mt_err *e) {
    int rc = mt_run_new(m, TM, M, r, e);
    if (rc) return rc;
    int g = want > 0 ? want : (int)(MT_IG_GROUP_BYTES / (mt_run_bytes(*r) + 1));
    if (want <= 0 && g > MT_IG_GROUP_ROWS / M) g = MT_IG_GROUP_ROWS / M;
    if (g > nlayers) g = nlayers;
    if (g < 1) g = 1;
    *G = 1;
    if (g == 1) return MT_OK;
    for (; g > 1; g = (g + 1) / 2) { /* the arena is allocated lazily: failure means address space */
        mt_run *big = NULL;
        mt_err e2;
        if (!mt_run_new(m, TM, g * M, &big, &e2)) {
            mt_run_free(*r);
            *r = big;
            *G = g;
            return MT_OK;
        }
        if (g == 2) break;
    }
    return MT_OK;
}

/* F values and gradients of one patched batch: row k is step k (0 = the baseline). */
static int check_step(int l, const float *F, const float *dZ, int M, int f, mt_err *e) {
    for (int k = 0; k < M; k++) {
        if (!isfinite(F[k])) return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite F (step %d)", l, k);
        long i = first_nonfinite(dZ + (size_t)k * f, f);
        if (i >= 0) return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite gradient (step %d, neuron %ld)", l, k, i);
    }
    return MT_OK;
}

int mt_ig_attribute(const mt_model *m, const mt_query *q, const mt_ig_opts *o, mt_ig_result *out, mt_err *e) {
    const mt_config *c = mt_model_config(m);
    const int L = c->n_layers, f = c->d_ff, steps = o->steps;
    const double d = c->d_model, V = c->vocab_size;
    memset(out, 0, sizeof *out);
    int rc = check_query(m, q, e);
    if (rc) return rc;
    if (steps < 1 || steps > 10000) return mt_fail(e, MT_EINVAL, "steps = %d is outside [1, 10000]", steps);
    int lo = o->layer_lo, hi = o->layer_hi ? o->layer_hi : L;
    if (lo < 0 || hi > L || lo >= hi) return mt_fail(e, MT_EINVAL, "layer range [%d, %d) is outside [0, %d)", lo, hi, L);
    double t0 = now();
    const int M = steps + 1; /* row 0 is z = b (for the completeness check); rows 1..m the path */
    out->n_layers = L;
    out->d_ff = f;
    out->n_answer = q->n_answer;
    out->scores = calloc((size_t)L * f, sizeof(float));
    out->prob = calloc(q->n_answer, sizeof(double));
    out->f_a = calloc(L, sizeof(double));
    out->f_b = calloc(L, sizeof(double));
    out->score_sum = calloc(L, sizeof(double));
    out->baseline = calloc((size_t)q->n_answer * L * f, sizeof(float));
    const int TM = max_len(m, q);
    int G = 1; /* target layers per patched pass */
    mt_run *r = NULL;
    float *Z = NULL, *dZ = NULL, *F = NULL;
    double *gsum = NULL;
    int32_t *ids = NULL;
    if ((rc = group_run(m, TM, M, hi - lo, o->layer_group, &r, &G, e))) goto done;
    Z = malloc(sizeof(float) * (size_t)G * M * f), dZ = malloc(sizeof(float) * (size_t)G * M * f);
    F = malloc(sizeof(float) * (size_t)G * M);
    gsum = malloc(sizeof(double) * f);
    ids = malloc(sizeof(int32_t) * TM);
    if (!out->scores || !out->prob || !out->f_a || !out->f_b || !out->score_sum || !out->baseline || !Z || !dZ ||
        !F || !gsum || !ids)
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
    if (!rc) rc = mt_run_set_neuron(m, r, o->neuron, e);
    double fl = 0;
    const int causal = c->causal;
    for (int t = 0; t < q->n_answer && !rc; t++) {
        int T, p;
        forced_ids(m, q, t, ids, &T, &p);
        if ((rc = mt_forward(m, r, ids, q->types, T, e))) break;
        fl += 2.0 * T * L * layer_macs(c, T);
        float *base = out->baseline + (size_t)t * L * f;
        if (o->baseline == MT_BASELINE_AMIG && (rc = amig_baseline(m, r, q, ids, T, p, G * M, base, &fl, e))) break;
        /* Guards (issue 8): a NaN/Inf anywhere would silently poison the scores. */
        for (int l = lo; l < hi && !rc; l++) {
            long i = first_nonfinite(mt_run_ffn_act(r, l, p), f);
            if (i >= 0) rc = mt_fail(e, MT_ENUMERIC, "layer %d: non-finite activation (neuron %ld, position %d)", l, i, p);
            else if ((i = first_nonfinite(base + (size_t)l * f, f)) >= 0)
                rc = mt_fail(e, MT_ENUMERIC, "layer %d: non-finite baseline (neuron %ld)", l, i);
        }
        /* equal groups of at most G layers: [l0, l0 + n) */
        const int ngroups = (hi - lo + G - 1) / G;
        for (int gi = 0, l0 = lo; gi < ngroups && !rc; gi++) {
            const int n = (hi - l0) / (ngroups - gi);
            for (int g = 0; g < n; g++) {
                const float *a = mt_run_ffn_act(r, l0 + g, p), *b = base + (size_t)(l0 + g) * f;
                float *Zg = Z + (size_t)g * M * f;
                for (int k = 0; k < M; k++) {
                    float s = (float)k / steps;
                    for (int i = 0; i < f; i++) Zg[(size_t)k * f + i] = b[i] + s * (a[i] - b[i]);
                }
            }
            /* one layer at a time (layer_group 1) keeps the original per-layer pass */
            rc = G == 1 ? mt_patch_grad(m, r, l0, p, Z, M, q->answer_ids[t], o->logprob, F, dZ, e)
                        : mt_patch_grad_layers(m, r, l0, n, p, Z, M, q->answer_ids[t], o->logprob, F, dZ, e);
            for (int g = 0; g < n && !rc; g++) {
                const int l = l0 + g;
                const float *a = mt_run_ffn_act(r, l, p), *b = base + (size_t)l * f, *dz = dZ + (size_t)g * M * f,
                            *Fg = F + (size_t)g * M;
                if ((rc = check_step(l, Fg, dz, M, f, e))) break;
                for (int i = 0; i < f; i++) gsum[i] = 0;
                for (int k = 1; k < M; k++)
                    for (int i = 0; i < f; i++) gsum[i] += dz[(size_t)k * f + i];
                double ssum = 0;
                for (int i = 0; i < f; i++) {
                    double mult = o->multiplier == MT_MULT_DELTA ? (double)a[i] - b[i] : a[i];
                    float sc = (float)(mult * gsum[i] / steps);
                    out->scores[(size_t)l * f + i] += sc;
                    ssum += sc;
                }
                if (!isfinite(ssum)) {
                    rc = mt_fail(e, MT_ENUMERIC, "layer %d: non-finite score sum", l);
                    break;
                }
                out->score_sum[l] += ssum;
                out->f_b[l] += Fg[0];
                out->f_a[l] += Fg[M - 1];
                if (l == lo) out->prob[t] = o->logprob ? exp(Fg[M - 1]) : Fg[M - 1];
                /* rows above the patch: one token each (causal) or the whole sequence (masked) */
                double up = (L - 1 - l) * (causal ? 1.0 : T) * layer_macs(c, T);
                /* forward + activation-only backward of: down projection, layers above, head */
                fl += 2.0 * M * (2 * (d * f + up) + 2 * ((causal ? 0 : d * d) + d * V));
            }
            l0 += n;
        }
    }
    out->groups = G;
    if (!rc) out->flops = fl;
    out->seconds = now() - t0;
done:
    mt_run_free(r);
    free(Z);
    free(dZ);
    free(F);
    free(gsum);
    free(ids);
    if (rc) mt_ig_result_free(out);
    return rc;
}
