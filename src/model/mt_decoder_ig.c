/* Decoders: the patched pass of several target layers at once (mt_patch_grad_layers).
 *
 * Target layer t's M patched rows (the last token) enter layer t + 1. Rows of the targets
 * lo..hi-1 are stacked, lowest target first: layer j processes the rows of every target below j
 * in one batch (a prefix of the stack), the head runs once for all (hi - lo) * M rows, and the
 * backward pass peels the targets off the end of the prefix on its way down. The FLOPs are those
 * of one target at a time; the matrices are (hi - lo) times taller, so the weights (above all
 * the vocabulary x d head) are streamed once per pass instead of once per target. */
#include <math.h>
#include <string.h>

#include "mt_decoder_impl.h"

/* The neuron a of M rows from the patched tensor Z (identity for the default patch point), into
 * `buf` when it differs. */
static const float *neuron_value(const dec_model *m, dec_run *r, const float *Z, const float *other, int M,
                                 float *buf) {
    const mt_config *c = &m->cfg;
    const int f = c->d_ff;
    const long Mf = (long)M * f;
    if (r->neuron == MT_NEURON_DOWN_INPUT) return Z;
    if (r->neuron == MT_NEURON_UP) {
        mt_act_fwd(r->dff2, other, f, c->act);
        for (long i = 0; i < Mf; i++) buf[i] = r->dff2[i % f] * Z[i];
    } else {
        mt_act_fwd(buf, Z, Mf, c->act);
        if (r->neuron == MT_NEURON_GATE)
            for (long i = 0; i < Mf; i++) buf[i] *= other[i % f];
    }
    return buf;
}

int mt_dec_patch_layers(const void *impl, void *run, int lo, int n, int pos, const float *Z, int M, int32_t target,
                        int logprob, float *F, float *dZ, mt_err *e) {
    const dec_model *m = impl;
    dec_run *r = run;
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, L = c->n_layers, V = c->vocab_size, p = pos, hi = lo + n;
    const int gem = c->sandwich_norms;
    if (lo < 0 || n < 1 || hi > L) return mt_fail(e, MT_EINVAL, "layers [%d, %d) are outside [0, %d)", lo, hi, L);
    if (pos != r->T - 1)
        return mt_fail(e, MT_EINVAL, "causal models attribute at the last position (%d), not %d", r->T - 1, pos);
    if (M < 1 || (long)n * M > r->max_B)
        return mt_fail(e, MT_EINVAL, "%d x %d patched rows exceed the run's %d", n, M, r->max_B);
    if (target < 0 || target >= V) return mt_fail(e, MT_EINVAL, "target id %d is outside the vocabulary", target);
    const size_t Mf = (size_t)M * f, Md = (size_t)M * d;
    /* forward: at layer j, first the patched rows of target j (if any) enter layer j + 1, then
     * layer j runs on the rows of the targets below it */
    for (int j = lo; j < L; j++) {
        float *out = j + 1 < L ? r->ra[j + 1].x : r->xtop;
        if (j < hi) {
            const int t = j - lo;
            const dec_layer *w = &m->layers[j];
            const float *A = neuron_value(m, r, Z + t * Mf, r->oc[j] + (size_t)p * f, M, r->sa);
            float *pf = r->pf + t * Md, *o = out + t * Md;
            mt_matmul_fwd(pf, A, w->down_w, w->down_b, M, f, d);
            const float *ff = pf;
            if (gem) {
                mt_rmsnorm_fwd(r->dt, r->pfr + (size_t)t * M, pf, w->npf_w, M, d, c->ln_eps);
                ff = r->dt;
            }
            const float *mid = r->midc[j] + (size_t)p * d;
            for (int k = 0; k < M; k++)
                for (int i = 0; i < d; i++) o[(size_t)k * d + i] = mid[i] + ff[(size_t)k * d + i];
        }
        const int below = (j < hi ? j : hi) - lo; /* targets whose rows pass through layer j */
        if (below > 0) dec_row_fwd(m, r, j, below * M, p, out);
    }
    const int R = n * M;
    dec_head_fwd(m, r, r->xtop, R);
    long bad = mt_target_grad(r->dlogits, F, r->logits, R, V, target, logprob, c->final_softcap);
    if (bad >= 0)
        return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite probability at patched step %d", lo + (int)(bad / M),
                       (int)(bad % M));
    mt_matmul_bwd_in(r->dt, r->dlogits, m->lm_head, R, d, V, 0);
    dec_norm_bwd(m, r->dx, r->dt, r->xtop, r->hm, r->hr, m->final_w, R, d);
    /* backward: r->dx holds d(output of layer j) for the targets up to j; target j's rows (the
     * end of the prefix) leave through its patched layer, the others go on through layer j */
    for (int j = L - 1; j >= lo; j--) {
        if (j < hi) {
            const int t = j - lo;
            const dec_layer *w = &m->layers[j];
            const float *dx = r->dx + t * Md, *Zt = Z + t * Mf, *other = r->oc[j] + (size_t)p * f;
            float *dz = dZ + t * Mf;
            if (gem) mt_rmsnorm_bwd(r->dt, dx, r->pf + t * Md, r->pfr + (size_t)t * M, w->npf_w, M, d);
            mt_matmul_bwd_in(dz, gem ? r->dt : dx, w->down_w, M, f, d, 0);
            if (r->neuron == MT_NEURON_UP) { /* da/dz = act(g) */
                mt_act_fwd(r->dff2, other, f, c->act);
                for (size_t i = 0; i < Mf; i++) dz[i] *= r->dff2[i % f];
            } else if (r->neuron != MT_NEURON_DOWN_INPUT) { /* da/dz = act'(z) (* u for the gate) */
                if (r->neuron == MT_NEURON_GATE)
                    for (size_t i = 0; i < Mf; i++) dz[i] *= other[i % f];
                mt_act_bwd(dz, dz, Zt, (long)Mf, c->act);
            }
            for (size_t i = 0; i < Mf; i++)
                if (!isfinite(dz[i]))
                    return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite gradient at the FFN activation (step %d)", j,
                                   (int)(i / f));
        }
        const int below = (j < hi ? j : hi) - lo;
        if (below > 0) dec_row_bwd(m, r, j, below * M, p);
    }
    return MT_OK;
}
