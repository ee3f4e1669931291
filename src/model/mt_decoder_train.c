/* Decoders: interventions, FFN views, and weight gradients of the selected neurons' rows.
 *
 * The gradient pass runs the whole teacher-forced sequence (prompt + y_1..y_{n-1}) once,
 * keeping every intermediate of the layers from the lowest selected one upwards, and
 * back-propagates through all positions (causal attention with dQ, dK, dV) down to that layer.
 * Weight gradients are formed only for the selected rows, from the stored inputs of the FFN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_decoder_impl.h"
#include "mt_train_impl.h"

static void dt_set_iv(void *run, const struct mt_iv *iv) { ((dec_run *)run)->iv = iv; }

static int dt_ffn_view(void *impl, int l, int promote, mt_ffn_view *v) {
    dec_model *m = impl;
    dec_layer *w = &m->layers[l];
    const size_t n = (size_t)m->cfg.d_model * m->cfg.d_ff;
    if (promote && (mt_w_promote(&w->up_w, n) || mt_w_promote(&w->gate_w, n) || mt_w_promote(&w->down_w, n)))
        return -1;
    v->d_model = m->cfg.d_model, v->d_ff = m->cfg.d_ff, v->gated = m->cfg.gated;
    v->up = mt_w_f32(w->up_w), v->up_b = w->up_b;
    v->gate = m->cfg.gated ? mt_w_f32(w->gate_w) : NULL, v->gate_b = m->cfg.gated ? w->gate_b : NULL;
    v->down = mt_w_f32(w->down_w), v->down_b = w->down_b, v->down_stride = m->cfg.d_ff;
    return 0;
}

static mt_w dt_out_emb(const void *impl) { return ((const dec_model *)impl)->lm_head; }

/* Everything one layer keeps for the full-sequence backward (T rows). */
typedef struct {
    float *x, *n1m, *n1r, *h, *qr, *kr, *qnr, *knr, *q, *k, *v, *att, *ctx, *o, *npar, *mid, *n2m, *n2r, *h2;
    float *g, *u, *a, *f, *npfr;
} tr_layer;

static size_t lay_layer(tr_layer *s, const mt_config *c, int T, float *cur) {
    const size_t t = T, d = c->d_model, f = c->d_ff, qd = (size_t)c->n_heads * c->head_dim,
                 kd = (size_t)c->n_kv_heads * c->head_dim, H = c->n_heads, Hk = c->n_kv_heads;
    size_t n = 0;
#define TAKE(p, k) (s->p = cur ? cur + n : NULL, n += (k))
    TAKE(x, t * d), TAKE(n1m, t), TAKE(n1r, t), TAKE(h, t * d), TAKE(qr, t * qd), TAKE(kr, t * kd);
    TAKE(qnr, t * H), TAKE(knr, t * Hk), TAKE(q, t * qd), TAKE(k, t * kd), TAKE(v, t * kd);
    TAKE(att, t * H * t), TAKE(ctx, t * qd), TAKE(o, t * d), TAKE(npar, t), TAKE(mid, t * d);
    TAKE(n2m, t), TAKE(n2r, t), TAKE(h2, t * d), TAKE(g, t * f), TAKE(u, t * f), TAKE(a, t * f);
    TAKE(f, t * d), TAKE(npfr, t);
#undef TAKE
    return n;
}

/* Layer l over T positions: s->x in, out [T, d] out (may be the next layer's x). tmp [T, d]. */
static void layer_fwd(const dec_model *m, dec_run *r, int l, tr_layer *s, int T, float *out, float *tmp) {
    const mt_config *c = &m->cfg;
    const dec_layer *w = &m->layers[l];
    const int d = c->d_model, f = c->d_ff, H = c->n_heads, Hk = c->n_kv_heads, hd = c->head_dim;
    const int qd = H * hd, kd = Hk * hd, gem = c->sandwich_norms;
    dec_norm_fwd(m, s->h, s->n1m, s->n1r, s->x, w->n1_w, w->n1_b, T, d);
    mt_matmul_fwd(s->qr, s->h, w->q_w, w->q_b, T, d, qd);
    mt_matmul_fwd(s->kr, s->h, w->k_w, w->k_b, T, d, kd);
    mt_matmul_fwd(s->v, s->h, w->v_w, w->v_b, T, d, kd);
    if (gem) {
        mt_rmsnorm_fwd(s->q, s->qnr, s->qr, w->qn_w, T * H, hd, c->ln_eps);
        mt_rmsnorm_fwd(s->k, s->knr, s->kr, w->kn_w, T * Hk, hd, c->ln_eps);
    } else {
        memcpy(s->q, s->qr, sizeof(float) * (size_t)T * qd);
        memcpy(s->k, s->kr, sizeof(float) * (size_t)T * kd);
    }
    if (dec_has_rope(m))
        for (int t = 0; t < T; t++) {
            dec_rope_tables(m, r, l, t);
            mt_rope_apply(s->q + (size_t)t * qd, H, hd, r->cosb, r->sinb, 0);
            mt_rope_apply(s->k + (size_t)t * kd, Hk, hd, r->cosb, r->sinb, 0);
        }
    /* position p attends to keys 0..p: the decode kernel with the sequence itself as cache
     * keeps the probabilities, laid out [H][p + 1] at att + p * H * T */
    mt_attn_rule rule = dec_attn_rule(m, l);
    for (int p = 0; p < T; p++)
        mt_decode_attention_fwd(s->ctx + (size_t)p * qd, s->att + (size_t)p * H * T, s->q + (size_t)p * qd, s->k, s->v,
                                s->k + (size_t)p * kd, s->v + (size_t)p * kd, 1, p, H, Hk, hd, &rule);
    mt_matmul_fwd(s->o, s->ctx, w->o_w, w->o_b, T, qd, d);
    const float *o = s->o;
    if (gem) {
        mt_rmsnorm_fwd(tmp, s->npar, s->o, w->npa_w, T, d, c->ln_eps);
        o = tmp;
    }
    for (size_t i = 0; i < (size_t)T * d; i++) s->mid[i] = s->x[i] + o[i];
    dec_norm_fwd(m, s->h2, s->n2m, s->n2r, s->mid, w->n2_w, w->n2_b, T, d);
    dec_ffn_up(m, NULL, l, w, s->g, s->u, s->a, s->h2, T, T, -1);
    mt_matmul_fwd(s->f, s->a, w->down_w, w->down_b, T, f, d);
    const float *ff = s->f;
    if (gem) {
        mt_rmsnorm_fwd(tmp, s->npfr, s->f, w->npf_w, T, d, c->ln_eps);
        ff = tmp;
    }
    for (size_t i = 0; i < (size_t)T * d; i++) out[i] = s->mid[i] + ff[i];
}

/* Causal attention backward over all T positions (probabilities from layer_fwd). */
static void attn_bwd(float *dq, float *dk, float *dv, const float *dctx, const tr_layer *s, int T, int H, int Hk,
                     int D, const mt_attn_rule *rule) {
    const int C = H * D, Ck = Hk * D, group = H / Hk;
    memset(dq, 0, sizeof(float) * (size_t)T * C);
    memset(dk, 0, sizeof(float) * (size_t)T * Ck);
    memset(dv, 0, sizeof(float) * (size_t)T * Ck);
    for (int p = 0; p < T; p++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            const float *a = s->att + (size_t)p * H * T + (size_t)h * (p + 1), *dop = dctx + (size_t)p * C + h * D;
            const float *qp = s->q + (size_t)p * C + h * D;
            float *dqp = dq + (size_t)p * C + h * D;
            double dot = 0;
            for (int j = 0; j <= p; j++) {
                if (!a[j]) continue;
                const float *vj = s->v + (size_t)j * Ck + hk * D;
                float x = 0;
                for (int i = 0; i < D; i++) x += dop[i] * vj[i];
                dot += a[j] * x;
            }
            for (int j = 0; j <= p; j++) {
                if (!a[j]) continue;
                const float *vj = s->v + (size_t)j * Ck + hk * D, *kj = s->k + (size_t)j * Ck + hk * D;
                float x = 0;
                for (int i = 0; i < D; i++) x += dop[i] * vj[i];
                float ds = a[j] * (x - (float)dot);
                if (rule->softcap > 0) {
                    float raw = 0;
                    for (int i = 0; i < D; i++) raw += qp[i] * kj[i];
                    float th = tanhf(raw * rule->scale / rule->softcap);
                    ds *= 1 - th * th;
                }
                ds *= rule->scale;
                float *dkj = dk + (size_t)j * Ck + hk * D, *dvj = dv + (size_t)j * Ck + hk * D;
                for (int i = 0; i < D; i++) {
                    dqp[i] += ds * kj[i];
                    dkj[i] += ds * qp[i];
                    dvj[i] += a[j] * dop[i];
                }
            }
        }
}

/* Scratch of the backward pass. */
typedef struct {
    float *dX, *dmid, *dt, *dt2, *dff, *dg, *du, *dq, *dk, *dv, *dctx;
} tr_grad;

/* Layer l backward: b->dX holds d(output) [T, d]; accumulates the selected rows' gradients;
 * unless last, b->dX becomes d(input). */
static void layer_bwd(const dec_model *m, dec_run *r, int l, const tr_layer *s, int T, tr_grad *b,
                      const mt_neuron_id *sel, int n, int flags, float *grads, int last) {
    const mt_config *c = &m->cfg;
    const dec_layer *w = &m->layers[l];
    const int d = c->d_model, f = c->d_ff, H = c->n_heads, Hk = c->n_kv_heads, hd = c->head_dim;
    const int qd = H * hd, kd = Hk * hd, gem = c->sandwich_norms;
    const size_t Td = (size_t)T * d;
    const long nf = (long)T * f;
    memcpy(b->dmid, b->dX, sizeof(float) * Td);
    /* FFN branch: dt = gradient at the down projection's output */
    if (gem) mt_rmsnorm_bwd(b->dt, b->dX, s->f, s->npfr, w->npf_w, T, d);
    else memcpy(b->dt, b->dX, sizeof(float) * Td);
    mt_matmul_bwd_in(b->dff, b->dt, w->down_w, T, f, d, 0);
    if (c->gated) {
        mt_act_fwd(b->du, s->g, nf, c->act);
        for (long i = 0; i < nf; i++) {
            b->dg[i] = b->dff[i] * s->u[i];
            b->du[i] *= b->dff[i];
        }
        mt_act_bwd(b->dg, b->dg, s->g, nf, c->act);
    } else {
        mt_act_bwd(b->du, b->dff, s->u, nf, c->act);
    }
    if (grads) {
        mt_ffn_view v = {0};
        mt_decoder_train_ops.ffn_view((void *)m, l, 0, &v); /* the layout only */
        mt_rows_accumulate(&v, l, sel, n, flags, T, s->h2, c->gated ? b->dg : NULL, b->du, s->a, b->dt, grads);
    }
    if (last) return;
    mt_matmul_bwd_in(b->dt2, b->du, w->up_w, T, d, f, 0);
    if (c->gated) mt_matmul_bwd_in(b->dt2, b->dg, w->gate_w, T, d, f, 1);
    dec_norm_bwd(m, b->dt, b->dt2, s->mid, s->n2m, s->n2r, w->n2_w, T, d);
    for (size_t i = 0; i < Td; i++) b->dmid[i] += b->dt[i];
    /* attention branch */
    if (gem) mt_rmsnorm_bwd(b->dt, b->dmid, s->o, s->npar, w->npa_w, T, d);
    else memcpy(b->dt, b->dmid, sizeof(float) * Td);
    mt_matmul_bwd_in(b->dctx, b->dt, w->o_w, T, qd, d, 0);
    mt_attn_rule rule = dec_attn_rule(m, l);
    attn_bwd(b->dq, b->dk, b->dv, b->dctx, s, T, H, Hk, hd, &rule);
    if (dec_has_rope(m))
        for (int t = 0; t < T; t++) {
            dec_rope_tables(m, r, l, t);
            mt_rope_apply(b->dq + (size_t)t * qd, H, hd, r->cosb, r->sinb, 1);
            mt_rope_apply(b->dk + (size_t)t * kd, Hk, hd, r->cosb, r->sinb, 1);
        }
    if (gem) {
        mt_rmsnorm_bwd(b->dq, b->dq, s->qr, s->qnr, w->qn_w, T * H, hd);
        mt_rmsnorm_bwd(b->dk, b->dk, s->kr, s->knr, w->kn_w, T * Hk, hd);
    }
    mt_matmul_bwd_in(b->dt, b->dq, w->q_w, T, d, qd, 0);
    mt_matmul_bwd_in(b->dt, b->dk, w->k_w, T, d, kd, 1);
    mt_matmul_bwd_in(b->dt, b->dv, w->v_w, T, d, kd, 1);
    dec_norm_bwd(m, b->dt2, b->dt, s->x, s->n1m, s->n1r, w->n1_w, T, d);
    for (size_t i = 0; i < Td; i++) b->dX[i] = b->dmid[i] + b->dt2[i];
}

static int dt_rows_grad(const void *impl, void *run, const mt_fact *fact, const mt_neuron_id *sel, int n, int flags,
                        float *grads, double *loss, mt_err *e) {
    const dec_model *m = impl;
    dec_run *r = run;
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, L = c->n_layers, V = c->vocab_size;
    const int qd = c->n_heads * c->head_dim; /* >= the K/V width (GQA) */
    const int T = fact->T + fact->n_answer - 1;
    if (T > c->max_pos) return mt_fail(e, MT_EINVAL, "input of %d tokens exceeds the model's %d positions", T, c->max_pos);
    int lo = L;
    for (int k = 0; k < n; k++)
        if (sel[k].layer < lo) lo = sel[k].layer;
    if (!grads || n == 0) lo = L; /* loss only */
    /* layers lo..L-1 keep everything; slot L - lo is the scratch of the layers below lo */
    const int nl = L - lo + 1;
    tr_layer *ls = mt_calloc((size_t)nl, sizeof *ls);
    const size_t per = lay_layer(&ls[0], c, T, NULL);
    const size_t big = (size_t)T * (qd > d ? (qd > f ? qd : f) : (d > f ? d : f));
    const size_t nb = (size_t)nl * per + 3 * (size_t)T * d + 11 * big;
    float *arena = ls ? malloc(sizeof(float) * nb) : NULL;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)T);
    if (!ls || !arena || !ids) {
        free(ls), free(arena), free(ids);
        return mt_fail(e, MT_ENOMEM, "weight gradients: cannot allocate %zu MB", nb * 4 >> 20);
    }
    float *cur = arena;
    for (int i = 0; i < nl; i++) cur += lay_layer(&ls[i], c, T, cur);
    float *xtop = cur, *tmp = cur + (size_t)T * d, *x0 = cur + 2 * (size_t)T * d;
    cur += 3 * (size_t)T * d;
    tr_grad b;
    float **bufs[] = {&b.dX, &b.dmid, &b.dt, &b.dt2, &b.dff, &b.dg, &b.du, &b.dq, &b.dk, &b.dv, &b.dctx};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) *bufs[i] = cur, cur += big;
    memcpy(ids, fact->ids, sizeof(int32_t) * (size_t)fact->T);
    for (int t = 0; t + 1 < fact->n_answer; t++) ids[fact->T + t] = fact->answer_ids[t];
    int rc = dec_embed(m, x0, ids, 1, T, e);
    if (!rc) {
        if (m->emb_n_w) mt_layernorm_fwd(x0, b.dt, b.dt2, x0, m->emb_n_w, m->emb_n_b, T, d, c->ln_eps);
        const float *x = x0;
        for (int l = 0; l < L; l++) {
            tr_layer *s = &ls[l >= lo ? l - lo : nl - 1];
            memcpy(s->x, x, sizeof(float) * (size_t)T * d);
            float *out = l + 1 < L ? (l + 1 >= lo ? ls[l + 1 - lo].x : x0) : xtop;
            layer_fwd(m, r, l, s, T, out, tmp);
            x = out;
        }
        /* head and loss: the answer positions are consecutive, max_B rows at a time;
         * b.dX collects d(final hidden) */
        double lsum = 0;
        memset(b.dX, 0, sizeof(float) * (size_t)T * d);
        for (int t0 = 0; t0 < fact->n_answer; t0 += r->max_B) {
            const int M = fact->n_answer - t0 < r->max_B ? fact->n_answer - t0 : r->max_B;
            const size_t p0 = (size_t)fact->T - 1 + t0;
            dec_head_fwd(m, r, xtop + p0 * d, M);
            for (int k = 0; k < M; k++) {
                const int y = fact->answer_ids[t0 + k];
                float *lg = r->logits + (size_t)k * V, *dl = r->dlogits + (size_t)k * V;
                double lse = mt_softmax(dl, lg, V); /* d(-log p_y)/d logit_j = p_j - 1[j = y] */
                lsum += lse - lg[y];
                dl[y] -= 1;
                if (c->final_softcap > 0)
                    for (int j = 0; j < V; j++) {
                        float th = lg[j] / c->final_softcap;
                        dl[j] *= 1 - th * th;
                    }
            }
            mt_matmul_bwd_in(b.dt, r->dlogits, m->lm_head, M, d, V, 0);
            dec_norm_bwd(m, b.dt2, b.dt, xtop + p0 * d, r->hm, r->hr, m->final_w, M, d);
            memcpy(b.dX + p0 * d, b.dt2, sizeof(float) * (size_t)M * d);
        }
        *loss = lsum;
        for (int l = L - 1; l >= lo; l--) layer_bwd(m, r, l, &ls[l - lo], T, &b, sel, n, flags, grads, l == lo);
    }
    free(ls);
    free(arena);
    free(ids);
    return rc;
}

int mt_dec_save(const void *impl, const char *src, const char *dir, mt_err *e);

const mt_train_ops mt_decoder_train_ops = {dt_set_iv, dt_ffn_view, dt_out_emb, dt_rows_grad, mt_dec_save};
