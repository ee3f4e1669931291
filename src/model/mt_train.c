/* Family-independent parts of mt_train.h: compiling interventions, flat parameter vectors of
 * neurons, value-vector edits, snapshots, and dispatch to the families. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_train_impl.h"

static const mt_train_ops *tops(const mt_model *m) {
    return m->ops == &mt_decoder_ops ? &mt_decoder_train_ops : &mt_bert_train_ops;
}

/* ---------------------------------------------------------------- interventions */

void mt_iv_free(struct mt_iv *iv) {
    if (!iv) return;
    free(iv->off);
    free(iv->unit);
    free(iv->factor);
    free(iv->pos);
    free(iv);
}

void mt_iv_apply(const struct mt_iv *iv, int layer, float *x, int f, int N, int T, int p) {
    if (!iv || layer < 0 || layer >= iv->n_layers) return;
    const int u0 = iv->off[layer], u1 = iv->off[layer + 1];
    if (u0 == u1) return;
    for (int i = 0; i < N; i++) {
        const int at = p >= 0 ? p : i % T;
        int hit = iv->n_pos == 0;
        for (int k = 0; k < iv->n_pos && !hit; k++) hit = (iv->pos[k] < 0 ? T + iv->pos[k] : iv->pos[k]) == at;
        if (!hit) continue;
        float *row = x + (size_t)i * f;
        for (int k = u0; k < u1; k++) row[iv->unit[k]] *= iv->factor[k];
    }
}

int mt_run_set_intervention(const mt_model *m, mt_run *r, const mt_intervention *iv, mt_err *e) {
    const mt_config *c = &m->cfg;
    if (r->ops != m->ops) return mt_fail(e, MT_EINVAL, "intervention: the run belongs to another model family");
    struct mt_iv *v = NULL;
    if (iv && iv->n_units > 0) {
        if (!iv->units || iv->n_positions < 0 || (iv->n_positions > 0 && !iv->positions))
            return mt_fail(e, MT_EINVAL, "intervention: missing units or positions");
        for (int k = 0; k < iv->n_units; k++) {
            const mt_iv_unit *u = &iv->units[k];
            if (u->layer < 0 || u->layer >= c->n_layers || u->unit < 0 || u->unit >= c->d_ff)
                return mt_fail(e, MT_EINVAL, "intervention unit %d: (layer %d, unit %d) is outside %d x %d", k,
                               u->layer, u->unit, c->n_layers, c->d_ff);
            if (!isfinite(u->factor))
                return mt_fail(e, MT_EINVAL, "intervention unit %d: factor is not finite", k);
        }
        v = mt_calloc(1, sizeof *v);
        if (v) {
            v->n_layers = c->n_layers;
            v->n_pos = iv->n_positions;
            v->off = mt_calloc((size_t)c->n_layers + 1, sizeof(int));
            v->unit = mt_calloc((size_t)iv->n_units, sizeof(int));
            v->factor = mt_calloc((size_t)iv->n_units, sizeof(float));
            v->pos = mt_calloc((size_t)iv->n_positions + 1, sizeof(int));
        }
        if (!v || !v->off || !v->unit || !v->factor || !v->pos) {
            mt_iv_free(v);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        /* counting sort by layer; a unit listed twice gets both factors */
        for (int k = 0; k < iv->n_units; k++) v->off[iv->units[k].layer + 1]++;
        for (int l = 0; l < c->n_layers; l++) v->off[l + 1] += v->off[l];
        int *fill = mt_calloc((size_t)c->n_layers, sizeof(int));
        if (!fill) {
            mt_iv_free(v);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        for (int k = 0; k < iv->n_units; k++) {
            const mt_iv_unit *u = &iv->units[k];
            int at = v->off[u->layer] + fill[u->layer]++;
            v->unit[at] = u->unit;
            v->factor[at] = u->factor;
        }
        free(fill);
        if (iv->n_positions) memcpy(v->pos, iv->positions, sizeof(int) * (size_t)iv->n_positions);
    }
    tops(m)->set_iv(r->impl, v);
    mt_iv_free(r->iv);
    r->iv = v;
    return MT_OK;
}

/* ---------------------------------------------------------------- FFN weights */

/* The view of a layer's FFN with f32 pointers: matrices held as f16/bf16 are converted first
 * (a model is logically unchanged by that, hence the cast from const in the readers). */
static int view_f32(const mt_model *m, int layer, mt_ffn_view *v, mt_err *e) {
    memset(v, 0, sizeof *v);
    if (tops(m)->ffn_view(m->impl, layer, 1, v))
        return mt_fail(e, MT_ENOMEM, "out of memory converting layer %d's FFN weights to f32", layer);
    return MT_OK;
}

int mt_model_ffn_view(mt_model *m, int layer, mt_ffn_view *v, mt_err *e) {
    if (layer < 0 || layer >= m->cfg.n_layers)
        return mt_fail(e, MT_EINVAL, "layer %d is outside [0, %d)", layer, m->cfg.n_layers);
    return view_f32(m, layer, v, e);
}

int mt_model_out_embedding(const mt_model *m, int32_t token, float *row, mt_err *e) {
    if (token < 0 || token >= m->cfg.vocab_size)
        return mt_fail(e, MT_EINVAL, "token %d is outside the vocabulary (%d)", token, m->cfg.vocab_size);
    mt_w E = tops(m)->out_emb(m->impl);
    if (!E.p) return mt_fail(e, MT_EUNSUPPORTED, "model has no output embedding");
    mt_w_rows(E, token, 1, m->cfg.d_model, row);
    return MT_OK;
}

/* Offsets of the parts of one neuron's block in a flat vector (-1: absent). */
typedef struct {
    long gate, up, gate_b, up_b, value, size;
} rows_layout;

static rows_layout layout(const mt_ffn_view *v, int flags) {
    rows_layout L = {-1, -1, -1, -1, -1, 0};
    const long d = v->d_model;
    if (v->gated) L.gate = L.size, L.size += d;
    L.up = L.size, L.size += d;
    if (v->gated && v->gate_b) L.gate_b = L.size++;
    if (v->up_b) L.up_b = L.size++;
    if (flags & MT_ROWS_VALUE) L.value = L.size, L.size += d;
    return L;
}

long mt_ffn_rows_size(const mt_model *m, int flags) {
    mt_ffn_view v = {0};
    tops(m)->ffn_view(m->impl, 0, 0, &v);
    return layout(&v, flags).size;
}

static int check_sel(const mt_model *m, const mt_neuron_id *sel, int n, mt_err *e) {
    if (n < 0 || (n > 0 && !sel)) return mt_fail(e, MT_EINVAL, "neuron list: missing");
    for (int k = 0; k < n; k++)
        if (sel[k].layer < 0 || sel[k].layer >= m->cfg.n_layers || sel[k].unit < 0 || sel[k].unit >= m->cfg.d_ff)
            return mt_fail(e, MT_EINVAL, "neuron %d: (layer %d, unit %d) is outside %d x %d", k, sel[k].layer,
                           sel[k].unit, m->cfg.n_layers, m->cfg.d_ff);
    return MT_OK;
}

/* Copies between the model's weights and a neuron block; to_model selects the direction. */
static void rows_copy(const mt_ffn_view *v, const rows_layout *L, int i, float *blk, int to_model) {
    const int d = v->d_model;
#define XFER(model_ptr, blk_ptr, n)                                              \
    do {                                                                         \
        if (to_model) memcpy((model_ptr), (blk_ptr), sizeof(float) * (size_t)(n)); \
        else memcpy((blk_ptr), (model_ptr), sizeof(float) * (size_t)(n));          \
    } while (0)
    if (L->gate >= 0) XFER(v->gate + (size_t)i * d, blk + L->gate, d);
    XFER(v->up + (size_t)i * d, blk + L->up, d);
    if (L->gate_b >= 0) XFER(v->gate_b + i, blk + L->gate_b, 1);
    if (L->up_b >= 0) XFER(v->up_b + i, blk + L->up_b, 1);
#undef XFER
    if (L->value >= 0)
        for (int j = 0; j < d; j++) {
            float *w = v->down + (size_t)j * v->down_stride + i;
            if (to_model) *w = blk[L->value + j];
            else blk[L->value + j] = *w;
        }
}

int mt_ffn_rows_get(const mt_model *m, const mt_neuron_id *sel, int n, int flags, float *params, mt_err *e) {
    int rc = check_sel(m, sel, n, e);
    for (int k = 0; !rc && k < n; k++) {
        mt_ffn_view v;
        if ((rc = view_f32(m, sel[k].layer, &v, e))) break;
        rows_layout L = layout(&v, flags);
        rows_copy(&v, &L, sel[k].unit, params + (size_t)k * L.size, 0);
    }
    return rc;
}

int mt_ffn_rows_set(mt_model *m, const mt_neuron_id *sel, int n, int flags, const float *params, mt_err *e) {
    int rc = check_sel(m, sel, n, e);
    for (int k = 0; !rc && k < n; k++) {
        mt_ffn_view v;
        if ((rc = view_f32(m, sel[k].layer, &v, e))) break;
        rows_layout L = layout(&v, flags);
        rows_copy(&v, &L, sel[k].unit, (float *)params + (size_t)k * L.size, 1);
    }
    return rc;
}

int mt_ffn_edit_value(mt_model *m, int layer, int unit, const float *e_old, const float *e_new, float l1, float l2,
                      mt_err *e) {
    mt_neuron_id id = {layer, unit};
    int rc = check_sel(m, &id, 1, e);
    if (rc) return rc;
    mt_ffn_view v;
    if ((rc = view_f32(m, layer, &v, e))) return rc;
    const int d = v.d_model;
    double nv = 0, no = 0, nn = 0;
    for (int j = 0; j < d; j++) {
        double x = v.down[(size_t)j * v.down_stride + unit];
        nv += x * x;
        if (e_old) no += (double)e_old[j] * e_old[j];
        if (e_new) nn += (double)e_new[j] * e_new[j];
    }
    if ((e_old && !(no > 0)) || (e_new && !(nn > 0)))
        return mt_fail(e, MT_EINVAL, "value edit (layer %d, unit %d): zero word embedding", layer, unit);
    /* both terms use |v| before the edit (METHOD.md section 4) */
    const double so = e_old ? l1 * sqrt(nv) / sqrt(no) : 0, sn = e_new ? l2 * sqrt(nv) / sqrt(nn) : 0;
    for (int j = 0; j < d; j++) {
        float *w = v.down + (size_t)j * v.down_stride + unit;
        double x = *w;
        if (e_old) x -= so * e_old[j];
        if (e_new) x += sn * e_new[j];
        *w = (float)x;
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- snapshots */

struct mt_ffn_snapshot {
    int n;
    mt_neuron_id *sel;
    float *data;
};

int mt_ffn_snapshot_take(const mt_model *m, const mt_neuron_id *sel, int n, mt_ffn_snapshot **out, mt_err *e) {
    *out = NULL;
    int rc = check_sel(m, sel, n, e);
    if (rc) return rc;
    mt_ffn_snapshot *s = mt_calloc(1, sizeof *s);
    const long size = mt_ffn_rows_size(m, MT_ROWS_VALUE);
    if (s) {
        s->n = n;
        s->sel = mt_calloc((size_t)n + 1, sizeof *s->sel);
        s->data = mt_calloc((size_t)n * size + 1, sizeof(float));
    }
    if (!s || !s->sel || !s->data) {
        mt_ffn_snapshot_free(s);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    if (n) memcpy(s->sel, sel, sizeof *sel * (size_t)n);
    rc = mt_ffn_rows_get(m, sel, n, MT_ROWS_VALUE, s->data, e);
    if (rc) mt_ffn_snapshot_free(s);
    else *out = s;
    return rc;
}

void mt_ffn_snapshot_restore(mt_model *m, const mt_ffn_snapshot *s) {
    if (!s) return;
    mt_err e = {0};
    /* restored in reverse so that a neuron listed twice ends with its oldest values */
    const long size = mt_ffn_rows_size(m, MT_ROWS_VALUE);
    for (int k = s->n - 1; k >= 0; k--) mt_ffn_rows_set(m, &s->sel[k], 1, MT_ROWS_VALUE, s->data + (size_t)k * size, &e);
}

void mt_ffn_snapshot_free(mt_ffn_snapshot *s) {
    if (!s) return;
    free(s->sel);
    free(s->data);
    free(s);
}

/* ---------------------------------------------------------------- gradients */

void mt_rows_accumulate(const mt_ffn_view *v, int l, const mt_neuron_id *sel, int n, int flags, int T, const float *x,
                        const float *dgate, const float *dup, const float *a, const float *dout, float *grads) {
    const int d = v->d_model, f = v->d_ff;
    const rows_layout L = layout(v, flags);
    for (int k = 0; k < n; k++) {
        if (sel[k].layer != l) continue;
        const int i = sel[k].unit;
        float *g = grads + (size_t)k * L.size;
        for (int t = 0; t < T; t++) {
            const float *xt = x + (size_t)t * d;
            const float gu = dup[(size_t)t * f + i], gg = dgate ? dgate[(size_t)t * f + i] : 0;
            for (int j = 0; j < d; j++) g[L.up + j] += gu * xt[j];
            if (L.up_b >= 0) g[L.up_b] += gu;
            if (L.gate >= 0) {
                for (int j = 0; j < d; j++) g[L.gate + j] += gg * xt[j];
                if (L.gate_b >= 0) g[L.gate_b] += gg;
            }
            if (L.value >= 0) {
                const float at = a[(size_t)t * f + i], *dt = dout + (size_t)t * d;
                for (int j = 0; j < d; j++) g[L.value + j] += dt[j] * at;
            }
        }
    }
}

int mt_ffn_rows_grad(const mt_model *m, mt_run *r, const mt_fact *fact, const mt_neuron_id *sel, int n, int flags,
                     float *grads, double *loss, mt_err *e) {
    const mt_config *c = &m->cfg;
    if (r->ops != m->ops) return mt_fail(e, MT_EINVAL, "weight gradients: the run belongs to another model family");
    if (r->iv) return mt_fail(e, MT_EINVAL, "weight gradients: clear the run's intervention first");
    int rc = check_sel(m, sel, n, e);
    if (rc) return rc;
    if (!fact || !fact->ids || fact->T < 1 || fact->n_answer < 1 || !fact->answer_ids)
        return mt_fail(e, MT_EINVAL, "weight gradients: empty fact");
    for (int t = 0; t < fact->n_answer; t++) {
        if (fact->answer_ids[t] < 0 || fact->answer_ids[t] >= c->vocab_size)
            return mt_fail(e, MT_EINVAL, "answer token %d: id %d is outside the vocabulary", t, fact->answer_ids[t]);
        if (!c->causal && (!fact->answer_pos || fact->answer_pos[t] < 0 || fact->answer_pos[t] >= fact->T))
            return mt_fail(e, MT_EINVAL, "answer token %d: slot outside the query (%d tokens)", t, fact->T);
    }
    if (!c->causal && (fact->mask_id < 0 || fact->mask_id >= c->vocab_size))
        return mt_fail(e, MT_EINVAL, "mask id %d is outside the vocabulary", fact->mask_id);
    if (grads) memset(grads, 0, sizeof(float) * (size_t)n * mt_ffn_rows_size(m, flags));
    double l = 0;
    rc = tops(m)->rows_grad(m->impl, r->impl, fact, sel, n, flags, grads, &l, e);
    if (!rc && !isfinite(l)) rc = mt_fail(e, MT_ENUMERIC, "weight gradients: the loss is not finite");
    if (!rc && grads)
        for (size_t i = 0; i < (size_t)n * mt_ffn_rows_size(m, flags); i++)
            if (!isfinite(grads[i])) return mt_fail(e, MT_ENUMERIC, "weight gradients: non-finite gradient");
    if (!rc && loss) *loss = l;
    return rc;
}

/* ---------------------------------------------------------------- AdamW */

int mt_adamw_init(mt_adamw *o, long n, float lr, float weight_decay, mt_err *e) {
    memset(o, 0, sizeof *o);
    if (n < 1 || !(lr > 0) || !(weight_decay >= 0)) return mt_fail(e, MT_EINVAL, "AdamW: bad size or rates");
    o->m = mt_calloc((size_t)n, sizeof(float));
    o->v = mt_calloc((size_t)n, sizeof(float));
    if (!o->m || !o->v) {
        mt_adamw_free(o);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    o->n = n, o->lr = lr, o->weight_decay = weight_decay, o->beta1 = 0.9f, o->beta2 = 0.999f, o->eps = 1e-8f;
    return MT_OK;
}

/* as torch.optim.AdamW: p -= lr wd p; m, v moments; p -= lr m^ / (sqrt(v^) + eps) */
void mt_adamw_step(mt_adamw *o, float *params, const float *grads) {
    o->t++;
    const double c1 = 1 - pow(o->beta1, o->t), c2 = 1 - pow(o->beta2, o->t);
    for (long i = 0; i < o->n; i++) {
        const float g = grads[i];
        params[i] -= o->lr * o->weight_decay * params[i];
        o->m[i] = o->beta1 * o->m[i] + (1 - o->beta1) * g;
        o->v[i] = o->beta2 * o->v[i] + (1 - o->beta2) * g * g;
        params[i] -= (float)(o->lr * (o->m[i] / c1) / (sqrt(o->v[i] / c2) + o->eps));
    }
}

void mt_adamw_free(mt_adamw *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}
