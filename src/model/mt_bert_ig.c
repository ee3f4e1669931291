/* Encoders: the patched pass of several target layers at once (mt_patch_grad_layers).
 *
 * Target layer t's M patched sequences enter layer t + 1 (attention spreads the patch to every
 * position). Sequences of the targets lo..hi-1 are stacked in the batch stack, lowest target
 * first: layer j runs once on the sequences of every target below j (a prefix of the stack), the
 * MLM head runs once for all (hi - lo) * M answer rows, and the backward pass peels the targets
 * off the end of the prefix on its way down. Same FLOPs as one target at a time, taller
 * matrices: the vocabulary x d decoder is streamed once per pass instead of once per target. */
#include <math.h>
#include <string.h>

#include "mt_bert_impl.h"

int mt_bert_patch_layers(const void *impl, void *run, int lo, int n, int pos, const float *Z, int M, int32_t target,
                         int logprob, float *F, float *dZ, mt_err *e) {
    const bert_model *m = impl;
    bert_run *r = run;
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, L = c->n_layers, V = c->vocab_size, T = r->T, hi = lo + n;
    if (lo < 0 || n < 1 || hi > L) return mt_fail(e, MT_EINVAL, "layers [%d, %d) are outside [0, %d)", lo, hi, L);
    if (pos < 0 || pos >= T) return mt_fail(e, MT_EINVAL, "position %d is outside the sequence (%d)", pos, T);
    if (M < 1 || (long)n * M > r->max_B)
        return mt_fail(e, MT_EINVAL, "%d x %d patched rows exceed the run's %d", n, M, r->max_B);
    if (target < 0 || target >= V) return mt_fail(e, MT_EINVAL, "target id %d is outside the vocabulary", target);
    const size_t Md = (size_t)M * d, Mf = (size_t)M * f, Td = (size_t)T * d;
    stack *s = &r->batch;
    for (int j = lo; j < L; j++) {
        if (j < hi) { /* patched layer j: only position pos changes, r2 = W2 z + b2 + x1[pos] */
            const int t = j - lo;
            const layer_weights *w = &m->layers[j];
            const float *x1 = r->base.la[j].x1 + (size_t)pos * d;
            float *pr2 = r->pr2 + t * Md, *px = r->px + t * Md;
            mt_matmul_fwd(pr2, Z + t * Mf, w->fc2_w, w->fc2_b, M, f, d);
            for (int k = 0; k < M; k++)
                for (int i = 0; i < d; i++) pr2[(size_t)k * d + i] += x1[i];
            mt_layernorm_fwd(px, r->pmean + (size_t)t * M, r->prstd + (size_t)t * M, pr2, w->ln2_w, w->ln2_b, M, d,
                             c->ln_eps);
            if (j + 1 < L) { /* its M sequences join the stack at layer j + 1's input */
                float *x = s->xs[j + 1] + (size_t)t * M * Td;
                for (int k = 0; k < M; k++) {
                    memcpy(x + k * Td, r->base.xs[j + 1], sizeof(float) * Td);
                    memcpy(x + k * Td + (size_t)pos * d, px + (size_t)k * d, sizeof(float) * d);
                }
            }
        }
        if (j + 1 < L) { /* layer j + 1 on the sequences of the targets up to j */
            const int B = ((j + 1 < hi ? j + 1 : hi) - lo) * M;
            bert_attn_block_fwd(m, j + 1, &s->la[j + 1], s->xs[j + 1], B, T);
            bert_ffn_block_fwd(m, j + 1, &s->la[j + 1], s->xs[j + 2], B * T, NULL, T);
        }
    }
    /* the answer rows of every target, in target order */
    const int R = n * M;
    float *top = r->pf;
    for (int t = 0; t < n; t++)
        for (int k = 0; k < M; k++) {
            const float *src = lo + t + 1 < L ? s->xs[L] + ((size_t)(t * M + k) * T + pos) * d
                                              : r->px + ((size_t)t * M + k) * d;
            memcpy(top + ((size_t)t * M + k) * d, src, sizeof(float) * d);
        }
    bert_head_fwd(m, r, top, R);
    long bad = mt_target_grad(r->dlogits, F, r->logits, R, V, target, logprob, 0);
    if (bad >= 0)
        return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite probability at patched step %d", lo + (int)(bad / M),
                       (int)(bad % M));
    bert_head_bwd(m, r, r->dh, R); /* r->dh [R][d]: gradient at the answer rows of the top */
    /* dx: gradient at the top for the sequences of the targets below the last layer */
    const int above = (L - 1 < hi ? L - 1 : hi) - lo;
    float *dx = r->dx, *din = s->xs[0]; /* the batch stack's embedding slot is free: scratch */
    if (above > 0) {
        memset(dx, 0, sizeof(float) * (size_t)above * M * Td);
        for (int k = 0; k < above * M; k++)
            memcpy(dx + (size_t)k * Td + (size_t)pos * d, r->dh + (size_t)k * d, sizeof(float) * d);
    }
    /* dx holds d(output of layer j) for the targets up to j; target j (the end of the prefix)
     * leaves through its patched layer, the others go on through layer j */
    for (int j = L - 1; j >= lo; j--) {
        if (j < hi) {
            const int t = j - lo;
            const layer_weights *w = &m->layers[j];
            float *g = r->hx; /* [M][d]: the gradient at the patched layer's output (pos) */
            for (int k = 0; k < M; k++)
                memcpy(g + (size_t)k * d,
                       j + 1 < L ? dx + (size_t)(t * M + k) * Td + (size_t)pos * d : r->dh + (size_t)(t * M + k) * d,
                       sizeof(float) * d);
            mt_layernorm_bwd(r->dh2, g, r->pr2 + t * Md, r->pmean + (size_t)t * M, r->prstd + (size_t)t * M,
                             w->ln2_w, M, d);
            float *dz = dZ + t * Mf;
            mt_matmul_bwd_in(dz, r->dh2, w->fc2_w, M, f, d, 0);
            for (size_t i = 0; i < Mf; i++)
                if (!isfinite(dz[i]))
                    return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite gradient at the FFN activation (step %d)", j,
                                   (int)(i / f));
        }
        if (j > lo) {
            const int B = ((j < hi ? j : hi) - lo) * M;
            bert_layer_bwd(m, r, j, &s->la[j], dx, din, B, T);
            float *tmp = dx;
            dx = din;
            din = tmp;
        }
    }
    return MT_OK;
}
