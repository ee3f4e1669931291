/* Encoders (BERT, XLM-R): interventions, FFN views, and weight gradients of the selected
 * neurons' rows. The gradient pass reuses the inference kernels: one full forward per answer
 * token (slot t masked, the other slots gold), then the activation backward of every position
 * (bert_layer_bwd) down to the lowest selected layer, where dL/dh and dL/dr2 give the rows. */
#include <string.h>

#include "mt_bert_impl.h"
#include "mt_train_impl.h"

static void bt_set_iv(void *run, const struct mt_iv *iv) {
    bert_run *r = run;
    r->base.iv = iv;
    r->batch.iv = iv;
}

static int bt_ffn_view(void *impl, int l, int promote, mt_ffn_view *v) {
    bert_model *m = impl;
    layer_weights *w = &m->layers[l];
    const size_t n = (size_t)m->cfg.d_model * m->cfg.d_ff;
    if (promote && (mt_w_promote(&w->fc1_w, n) || mt_w_promote(&w->fc2_w, n))) return -1;
    v->d_model = m->cfg.d_model, v->d_ff = m->cfg.d_ff, v->gated = 0;
    v->up = mt_w_f32(w->fc1_w), v->up_b = w->fc1_b;
    v->down = mt_w_f32(w->fc2_w), v->down_b = w->fc2_b, v->down_stride = m->cfg.d_ff;
    return 0;
}

static mt_w bt_out_emb(const void *impl) { return ((const bert_model *)impl)->dec_w; }

static int bt_rows_grad(const void *impl, void *run, const mt_fact *fact, const mt_neuron_id *sel, int n, int flags,
                        float *grads, double *loss, mt_err *e) {
    const bert_model *m = impl;
    bert_run *r = run;
    const mt_config *c = &m->cfg;
    const int d = c->d_model, L = c->n_layers, V = c->vocab_size, T = fact->T;
    if (T > r->max_T) return mt_fail(e, MT_EINVAL, "input of %d tokens exceeds the run's %d", T, r->max_T);
    int lo = L;
    for (int k = 0; k < n; k++)
        if (sel[k].layer < lo) lo = sel[k].layer;
    if (!grads) lo = L;
    int32_t ids[T];
    stack *s = &r->batch;
    mt_ffn_view v = {0};
    double lsum = 0;
    for (int t = 0; t < fact->n_answer; t++) {
        memcpy(ids, fact->ids, sizeof(int32_t) * (size_t)T);
        for (int k = 0; k < fact->n_answer; k++) ids[fact->answer_pos[k]] = k == t ? fact->mask_id : fact->answer_ids[k];
        int rc = bert_embed(m, r->dx, ids, fact->types, 1, T, e);
        if (rc) return rc;
        mt_layernorm_fwd(s->xs[0], r->dx1, r->dx1 + T, r->dx, m->emb_ln_w, m->emb_ln_b, T, d, c->ln_eps);
        bert_layers_fwd(m, s, 0, 1, T);
        const int p = fact->answer_pos[t], y = fact->answer_ids[t];
        bert_head_fwd(m, r, s->xs[L] + (size_t)p * d, 1);
        double lse = mt_softmax(r->dlogits, r->logits, V);
        lsum += lse - r->logits[y];
        r->dlogits[y] -= 1; /* d(-log p_y)/d logit_j = p_j - 1[j = y] */
        if (lo == L) continue;
        bert_head_bwd(m, r, r->dh, 1);
        float *dx = r->dx, *din = s->xs[0]; /* the embedding slot is free after the forward */
        memset(dx, 0, sizeof(float) * (size_t)T * d);
        memcpy(dx + (size_t)p * d, r->dh, sizeof(float) * d);
        for (int l = L - 1; l >= lo; l--) {
            bert_layer_bwd(m, r, l, &s->la[l], dx, din, 1, T);
            bt_ffn_view((void *)m, l, 0, &v); /* the layout only */
            mt_rows_accumulate(&v, l, sel, n, flags, T, s->la[l].x1, NULL, r->dact, s->la[l].a, r->dr2, grads);
            float *tmp = dx;
            dx = din;
            din = tmp;
        }
    }
    *loss = lsum;
    return MT_OK;
}

int mt_bert_save(const void *impl, const char *src, const char *dir, mt_err *e);

const mt_train_ops mt_bert_train_ops = {bt_set_iv, bt_ffn_view, bt_out_emb, bt_rows_grad, mt_bert_save};
