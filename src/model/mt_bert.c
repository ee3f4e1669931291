/* BERT / XLM-R encoders with MLM heads: weight loading, forward with a patch point at the FFN
 * intermediate activation, and activation-only backward.
 *
 * Post-LN block:  r1 = x + Wo.attn(Wq x, Wk x, Wv x);  x1 = LN1(r1);
 *                 h = W1 x1 + b1;  a = act(h);  [patch point: a]
 *                 r2 = W2 a + b2 + x1;  x_out = LN2(r2)
 * MLM head:       logits = Wdec LN(act(Wt x + bt)) + bdec  (Wdec tied to word embeddings). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_kernels.h"
#include "mt_bert_impl.h"
#include "mt_loader.h"

/* ---------------------------------------------------------------- loading */

static int load_all(bert_model *m, mt_loader *L) {
    const mt_config *c = &m->cfg;
    const int64_t d = c->d_model, f = c->d_ff, V = c->vocab_size;
    const char *P = L->prefix;
    char n[512];
    int rc;
#define LOAD(dst, d0, d1, ...)                                 \
    do {                                                       \
        snprintf(n, sizeof n, __VA_ARGS__);                    \
        if ((rc = mt_loader_get(L, &(dst), n, d0, d1, 0))) return rc;   \
    } while (0)
#define LOAD_W(dst, d0, d1, ...)                                            \
    do {                                                                    \
        snprintf(n, sizeof n, __VA_ARGS__);                                 \
        if ((rc = mt_loader_get_w(L, &(dst), n, d0, d1, 0, 0))) return rc;  \
    } while (0)
    LOAD_W(m->word_emb, V, d, "%sembeddings.word_embeddings.weight", P);
    LOAD(m->pos_emb, c->max_pos, d, "%sembeddings.position_embeddings.weight", P);
    LOAD(m->type_emb, c->type_vocab, d, "%sembeddings.token_type_embeddings.weight", P);
    LOAD(m->emb_ln_w, d, 0, "%sembeddings.LayerNorm.weight", P);
    LOAD(m->emb_ln_b, d, 0, "%sembeddings.LayerNorm.bias", P);
    for (int l = 0; l < c->n_layers; l++) {
        layer_weights *w = &m->layers[l];
        const char *a = "encoder.layer";
        LOAD_W(w->q_w, d, d, "%s%s.%d.attention.self.query.weight", P, a, l);
        LOAD(w->q_b, d, 0, "%s%s.%d.attention.self.query.bias", P, a, l);
        LOAD_W(w->k_w, d, d, "%s%s.%d.attention.self.key.weight", P, a, l);
        LOAD(w->k_b, d, 0, "%s%s.%d.attention.self.key.bias", P, a, l);
        LOAD_W(w->v_w, d, d, "%s%s.%d.attention.self.value.weight", P, a, l);
        LOAD(w->v_b, d, 0, "%s%s.%d.attention.self.value.bias", P, a, l);
        LOAD_W(w->o_w, d, d, "%s%s.%d.attention.output.dense.weight", P, a, l);
        LOAD(w->o_b, d, 0, "%s%s.%d.attention.output.dense.bias", P, a, l);
        LOAD(w->ln1_w, d, 0, "%s%s.%d.attention.output.LayerNorm.weight", P, a, l);
        LOAD(w->ln1_b, d, 0, "%s%s.%d.attention.output.LayerNorm.bias", P, a, l);
        LOAD_W(w->fc1_w, f, d, "%s%s.%d.intermediate.dense.weight", P, a, l);
        LOAD(w->fc1_b, f, 0, "%s%s.%d.intermediate.dense.bias", P, a, l);
        LOAD_W(w->fc2_w, d, f, "%s%s.%d.output.dense.weight", P, a, l);
        LOAD(w->fc2_b, d, 0, "%s%s.%d.output.dense.bias", P, a, l);
        LOAD(w->ln2_w, d, 0, "%s%s.%d.output.LayerNorm.weight", P, a, l);
        LOAD(w->ln2_b, d, 0, "%s%s.%d.output.LayerNorm.bias", P, a, l);
    }
    const char *h = c->arch == MT_ARCH_BERT ? "cls.predictions.transform.dense" : "lm_head.dense";
    const char *hl = c->arch == MT_ARCH_BERT ? "cls.predictions.transform.LayerNorm" : "lm_head.layer_norm";
    const char *dec = c->arch == MT_ARCH_BERT ? "cls.predictions" : "lm_head";
    LOAD_W(m->head_w, d, d, "%s.weight", h);
    LOAD(m->head_b, d, 0, "%s.bias", h);
    LOAD(m->head_ln_w, d, 0, "%s.weight", hl);
    LOAD(m->head_ln_b, d, 0, "%s.bias", hl);
#undef LOAD
#undef LOAD_W
    /* The decoder is tied to the word embeddings; checkpoints often omit it. */
    snprintf(n, sizeof n, "%s.decoder.weight", dec);
    if ((rc = mt_loader_get_w(L, &m->dec_w, n, V, d, 0, 1))) return rc;
    if (L->next && !m->dec_w.p) m->dec_w = m->word_emb;
    snprintf(n, sizeof n, "%s.bias", dec);
    if (mt_loader_has(L, n)) return mt_loader_get(L, &m->dec_b, n, V, 0, 0);
    snprintf(n, sizeof n, "%s.decoder.bias", dec);
    return mt_loader_get(L, &m->dec_b, n, V, 0, 0);
}

static void bert_free(void *impl);

static int bert_load(const char *dir, const mt_config *cfg, void **out, mt_err *e) {
    *out = NULL;
    bert_model *m = mt_calloc(1, sizeof *m);
    if (!m) return mt_fail(e, MT_ENOMEM, "out of memory");
    m->cfg = *cfg;
    mt_safetensors *st = NULL;
    int rc = mt_st_open(dir, &st, e);
    if (rc) {
        free(m);
        return rc;
    }
    m->layers = mt_calloc((size_t)m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto fail;
    }
    mt_loader L = {.st = st, .dir = dir, .prefix = m->cfg.arch == MT_ARCH_BERT ? "bert." : "roberta.", .e = e};
    if ((rc = load_all(m, &L))) goto fail; /* counting pass: also checks names and shapes */
    if ((rc = mt_loader_alloc(&L, &m->arena, &m->harena)) || (rc = load_all(m, &L))) goto fail;
    m->n_arena = L.count;
    if (L.aliased) m->st = st; /* matrices point into its mapping */
    else mt_st_close(st);
    *out = m;
    return MT_OK;
fail:
    mt_st_close(st);
    bert_free(m);
    return rc;
}

static void bert_free(void *impl) {
    bert_model *m = impl;
    if (!m) return;
    for (int l = 0; m->layers && l < m->cfg.n_layers; l++) { /* f32 copies made for editing */
        layer_weights *w = &m->layers[l];
        mt_w *mats[] = {&w->q_w, &w->k_w, &w->v_w, &w->o_w, &w->fc1_w, &w->fc2_w};
        for (size_t i = 0; i < sizeof mats / sizeof *mats; i++) mt_w_release(mats[i]);
    }
    free(m->arena);
    free(m->harena);
    mt_st_close(m->st);
    free(m->layers);
    free(m);
}

/* ---------------------------------------------------------------- run state */

static void lay_stack(stack *s, const mt_config *c, int B, int T, char **cur, size_t *total) {
    size_t N = (size_t)B * T, d = c->d_model, f = c->d_ff;
    for (int l = 0; l <= c->n_layers; l++) {
        float *p = mt_arena_take(cur, N * d, total);
        if (s->xs) s->xs[l] = p;
    }
    for (int l = 0; l < c->n_layers; l++) {
        layer_acts tmp, *a = s->la ? &s->la[l] : &tmp;
        a->q = mt_arena_take(cur, N * d, total);
        a->k = mt_arena_take(cur, N * d, total);
        a->v = mt_arena_take(cur, N * d, total);
        a->att = mt_arena_take(cur, (size_t)B * c->n_heads * T * T, total);
        a->ctx = mt_arena_take(cur, N * d, total);
        a->r1 = mt_arena_take(cur, N * d, total);
        a->mean1 = mt_arena_take(cur, N, total);
        a->rstd1 = mt_arena_take(cur, N, total);
        a->x1 = mt_arena_take(cur, N * d, total);
        a->h = mt_arena_take(cur, N * f, total);
        a->a = mt_arena_take(cur, N * f, total);
        a->r2 = mt_arena_take(cur, N * d, total);
        a->mean2 = mt_arena_take(cur, N, total);
        a->rstd2 = mt_arena_take(cur, N, total);
    }
}

static size_t lay_run(bert_run *r, const mt_config *c, char *cur) {
    size_t total = 0;
    size_t NB = (size_t)r->max_B * r->max_T, d = c->d_model, f = c->d_ff, B = r->max_B;
    lay_stack(&r->base, c, 1, r->max_T, &cur, &total);
    lay_stack(&r->batch, c, r->max_B, r->max_T, &cur, &total);
    float **dst[] = {&r->dx, &r->dr2, &r->dx1, &r->dr1, &r->dctx, &r->dq, &r->dk, &r->dv};
    for (size_t i = 0; i < sizeof dst / sizeof *dst; i++) *dst[i] = mt_arena_take(&cur, NB * d, &total);
    r->dact = mt_arena_take(&cur, NB * f, &total);
    float **hd[] = {&r->hx, &r->ht, &r->hu, &r->hn, &r->dh, &r->dh2, &r->pf, &r->pr2, &r->px};
    for (size_t i = 0; i < sizeof hd / sizeof *hd; i++) *hd[i] = mt_arena_take(&cur, B * d, &total);
    r->hmean = mt_arena_take(&cur, B, &total);
    r->hrstd = mt_arena_take(&cur, B, &total);
    r->pmean = mt_arena_take(&cur, B, &total);
    r->prstd = mt_arena_take(&cur, B, &total);
    r->logits = mt_arena_take(&cur, B * (size_t)c->vocab_size, &total);
    r->dlogits = mt_arena_take(&cur, B * (size_t)c->vocab_size, &total);
    return total;
}

static void b_run_free(bert_run *r);

static int b_run_new(const bert_model *m, int max_T, int max_B, bert_run **out, mt_err *e) {
    const mt_config *c = &m->cfg;
    *out = NULL;
    if (max_T < 1 || max_B < 1) return mt_fail(e, MT_EINVAL, "run: max_T and max_B must be positive");
    if (max_T + c->pos_offset > c->max_pos)
        return mt_fail(e, MT_EINVAL, "input of %d tokens exceeds the model's %d positions (max_position_embeddings)",
                       max_T, c->max_pos - c->pos_offset);
    bert_run *r = mt_calloc(1, sizeof *r);
    if (!r) return mt_fail(e, MT_ENOMEM, "out of memory");
    r->max_T = max_T;
    r->max_B = max_B;
    r->d = c->d_model;
    r->f = c->d_ff;
    r->base.xs = mt_calloc((size_t)c->n_layers + 1, sizeof(float *));
    r->batch.xs = mt_calloc((size_t)c->n_layers + 1, sizeof(float *));
    r->base.la = mt_calloc((size_t)c->n_layers, sizeof(layer_acts));
    r->batch.la = mt_calloc((size_t)c->n_layers, sizeof(layer_acts));
    r->bytes = lay_run(r, c, NULL);
    r->arena = (r->base.xs && r->batch.xs && r->base.la && r->batch.la) ? mt_alloc_big(r->bytes) : NULL;
    if (!r->arena) {
        size_t mb = r->bytes >> 20;
        b_run_free(r);
        return mt_fail(e, MT_ENOMEM, "cannot allocate %zu MB of activations (%d tokens x %d rows)", mb, max_T, max_B);
    }
    lay_run(r, c, r->arena);
    *out = r;
    return MT_OK;
}

static void b_run_free(bert_run *r) {
    if (!r) return;
    free(r->base.xs);
    free(r->batch.xs);
    free(r->base.la);
    free(r->batch.la);
    free(r->arena);
    free(r);
}

/* ---------------------------------------------------------------- forward */

int bert_embed(const bert_model *m, float *x, const int32_t *ids, const int32_t *types, int B, int T, mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model;
    for (int b = 0; b < B; b++)
        for (int t = 0, pos = c->pos_offset; t < T; t++) {
            int32_t id = ids[(size_t)b * T + t], ty = types ? types[(size_t)b * T + t] : 0;
            /* RoBERTa-style ids: padding tokens sit at position pad_id, the others count from
             * pad_id + 1 (HF create_position_ids_from_input_ids); BERT counts from 0. */
            int at = (c->arch == MT_ARCH_XLMR && id == c->pad_id) ? c->pad_id : pos++;
            if (id < 0 || id >= c->vocab_size)
                return mt_fail(e, MT_EINVAL, "token id %d at position %d is outside the vocabulary (%d)", id, t,
                               c->vocab_size);
            if (ty < 0 || ty >= c->type_vocab)
                return mt_fail(e, MT_EINVAL, "token type %d at position %d is outside type_vocab_size (%d)", ty, t,
                               c->type_vocab);
            float *row = x + ((size_t)b * T + t) * d;
            const float *pe = m->pos_emb + (size_t)at * d, *te = m->type_emb + (size_t)ty * d;
            mt_w_rows(m->word_emb, id, 1, d, row);
            for (int i = 0; i < d; i++) row[i] = row[i] + pe[i] + te[i];
        }
    return MT_OK;
}

/* Attention half of layer l: fills q,k,v,att,ctx,r1,x1 for N = B*T rows of xin. */
void bert_attn_block_fwd(const bert_model *m, int l, layer_acts *a, const float *xin, int B, int T) {
    const mt_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    const int d = c->d_model, N = B * T, H = c->n_heads;
    mt_matmul_fwd(a->q, xin, w->q_w, w->q_b, N, d, d);
    mt_matmul_fwd(a->k, xin, w->k_w, w->k_b, N, d, d);
    mt_matmul_fwd(a->v, xin, w->v_w, w->v_b, N, d, d);
    mt_attention_fwd(a->ctx, a->att, a->q, a->k, a->v, B, T, H, d / H);
    mt_matmul_fwd(a->r1, a->ctx, w->o_w, w->o_b, N, d, d);
    for (size_t i = 0; i < (size_t)N * d; i++) a->r1[i] += xin[i];
    mt_layernorm_fwd(a->x1, a->mean1, a->rstd1, a->r1, w->ln1_w, w->ln1_b, N, d, c->ln_eps);
}

/* FFN half of layer l for N rows: h, a = act(h), r2 = W2 a + b2 + x1, xout = LN2(r2). */
void bert_ffn_block_fwd(const bert_model *m, int l, layer_acts *a, float *xout, int N, const struct mt_iv *iv, int T) {
    const mt_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    const int d = c->d_model, f = c->d_ff;
    mt_matmul_fwd(a->h, a->x1, w->fc1_w, w->fc1_b, N, d, f);
    mt_act_fwd(a->a, a->h, (long)N * f, c->act);
    mt_iv_apply(iv, l, a->a, f, N, T, -1); /* intervention (mt_train.h), if any */
    mt_matmul_fwd(a->r2, a->a, w->fc2_w, w->fc2_b, N, f, d);
    for (size_t i = 0; i < (size_t)N * d; i++) a->r2[i] += a->x1[i];
    mt_layernorm_fwd(xout, a->mean2, a->rstd2, a->r2, w->ln2_w, w->ln2_b, N, d, c->ln_eps);
}

void bert_layers_fwd(const bert_model *m, stack *s, int from, int B, int T) {
    for (int l = from; l < m->cfg.n_layers; l++) {
        bert_attn_block_fwd(m, l, &s->la[l], s->xs[l], B, T);
        bert_ffn_block_fwd(m, l, &s->la[l], s->xs[l + 1], B * T, s->iv, T);
    }
}

static int check_T(const bert_run *r, int B, int T, mt_err *e) {
    if (T < 1) return mt_fail(e, MT_EINVAL, "empty input sequence");
    if (T > r->max_T || B > r->max_B)
        return mt_fail(e, MT_EINVAL, "input of %d x %d tokens exceeds the run's %d x %d", B, T, r->max_B, r->max_T);
    return MT_OK;
}

static int b_forward(const bert_model *m, bert_run *r, const int32_t *ids, const int32_t *types, int T, mt_err *e) {
    int rc = check_T(r, 1, T, e);
    if (rc) return rc;
    float *x = r->base.xs[0];
    if ((rc = bert_embed(m, r->dx, ids, types, 1, T, e))) return rc;
    float *mean = r->dr2, *rstd = r->dr2 + T; /* scratch: only T values each */
    mt_layernorm_fwd(x, mean, rstd, r->dx, m->emb_ln_w, m->emb_ln_b, T, m->cfg.d_model, m->cfg.ln_eps);
    bert_layers_fwd(m, &r->base, 0, 1, T);
    r->T = T;
    return MT_OK;
}

static const float *b_ffn_act(const bert_run *r, int layer, int pos) {
    return r->base.la[layer].a + (size_t)pos * r->f;
}

/* ---------------------------------------------------------------- MLM head */

/* logits[M][V] for M rows x[M][d]; keeps the intermediates in r for head_bwd. */
void bert_head_fwd(const bert_model *m, bert_run *r, const float *x, int M) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model;
    memcpy(r->hx, x, sizeof(float) * (size_t)M * d);
    mt_matmul_fwd(r->ht, r->hx, m->head_w, m->head_b, M, d, d);
    mt_act_fwd(r->hu, r->ht, (long)M * d, c->act);
    mt_layernorm_fwd(r->hn, r->hmean, r->hrstd, r->hu, m->head_ln_w, m->head_ln_b, M, d, c->ln_eps);
    mt_matmul_fwd(r->logits, r->hn, m->dec_w, m->dec_b, M, d, c->vocab_size);
}

/* dx[M][d] from r->dlogits[M][V]. */
void bert_head_bwd(const bert_model *m, bert_run *r, float *dx, int M) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model;
    mt_matmul_bwd_in(r->dh, r->dlogits, m->dec_w, M, d, c->vocab_size, 0);
    mt_layernorm_bwd(r->dh2, r->dh, r->hu, r->hmean, r->hrstd, m->head_ln_w, M, d);
    mt_act_bwd(r->dh2, r->dh2, r->ht, (long)M * d, c->act);
    mt_matmul_bwd_in(dx, r->dh2, m->head_w, M, d, d, 0);
}

static int b_head_logits(const bert_model *m, bert_run *r, int pos, float *logits, mt_err *e) {
    if (pos < 0 || pos >= r->T) return mt_fail(e, MT_EINVAL, "position %d is outside the sequence (%d)", pos, r->T);
    bert_head_fwd(m, r, r->base.xs[m->cfg.n_layers] + (size_t)pos * r->d, 1);
    memcpy(logits, r->logits, sizeof(float) * m->cfg.vocab_size);
    return MT_OK;
}

/* ---------------------------------------------------------------- backward */

/* Layer l backward for N = B*T rows: dxin from dxout (gradient w.r.t. the layer's output). */
void bert_layer_bwd(const bert_model *m, bert_run *r, int l, const layer_acts *a, const float *dxout, float *dxin,
                      int B, int T) {
    const mt_config *c = &m->cfg;
    const layer_weights *w = &m->layers[l];
    const int d = c->d_model, f = c->d_ff, N = B * T, H = c->n_heads;
    const size_t Nd = (size_t)N * d;
    mt_layernorm_bwd(r->dr2, dxout, a->r2, a->mean2, a->rstd2, w->ln2_w, N, d);
    mt_matmul_bwd_in(r->dact, r->dr2, w->fc2_w, N, f, d, 0);
    mt_act_bwd(r->dact, r->dact, a->h, (long)N * f, c->act);
    memcpy(r->dx1, r->dr2, sizeof(float) * Nd);
    mt_matmul_bwd_in(r->dx1, r->dact, w->fc1_w, N, d, f, 1);
    mt_layernorm_bwd(r->dr1, r->dx1, a->r1, a->mean1, a->rstd1, w->ln1_w, N, d);
    mt_matmul_bwd_in(r->dctx, r->dr1, w->o_w, N, d, d, 0);
    mt_attention_bwd(r->dq, r->dk, r->dv, r->dctx, a->att, a->q, a->k, a->v, B, T, H, d / H);
    memcpy(dxin, r->dr1, sizeof(float) * Nd);
    mt_matmul_bwd_in(dxin, r->dq, w->q_w, N, d, d, 1);
    mt_matmul_bwd_in(dxin, r->dk, w->k_w, N, d, d, 1);
    mt_matmul_bwd_in(dxin, r->dv, w->v_w, N, d, d, 1);
}

/* ---------------------------------------------------------------- patched pass */

static int b_patch_grad(const bert_model *m, bert_run *r, int layer, int pos, const float *Z, int M, int32_t target,
                  int logprob, float *F, float *dZ, mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, L = c->n_layers, V = c->vocab_size, T = r->T;
    if (layer < 0 || layer >= L) return mt_fail(e, MT_EINVAL, "layer %d is outside [0, %d)", layer, L);
    if (pos < 0 || pos >= T) return mt_fail(e, MT_EINVAL, "position %d is outside the sequence (%d)", pos, T);
    if (M < 1 || M > r->max_B) return mt_fail(e, MT_EINVAL, "%d patched rows exceed the run's %d", M, r->max_B);
    if (target < 0 || target >= V) return mt_fail(e, MT_EINVAL, "target id %d is outside the vocabulary", target);
    const layer_weights *w = &m->layers[layer];
    const layer_acts *base = &r->base.la[layer];

    /* Patched layer: only position pos changes, so r2 = W2 z + b2 + x1[pos] for each row. */
    mt_matmul_fwd(r->pr2, Z, w->fc2_w, w->fc2_b, M, f, d);
    for (int k = 0; k < M; k++)
        for (int i = 0; i < d; i++) r->pr2[(size_t)k * d + i] += base->x1[(size_t)pos * d + i];
    mt_layernorm_fwd(r->px, r->pmean, r->prstd, r->pr2, w->ln2_w, w->ln2_b, M, d, c->ln_eps);

    /* Layers above: M full sequences (attention spreads the change to every position). */
    const float *top = r->px;
    if (layer + 1 < L) {
        float *x = r->batch.xs[layer + 1];
        for (int k = 0; k < M; k++) {
            memcpy(x + (size_t)k * T * d, r->base.xs[layer + 1], sizeof(float) * (size_t)T * d);
            memcpy(x + ((size_t)k * T + pos) * d, r->px + (size_t)k * d, sizeof(float) * d);
        }
        bert_layers_fwd(m, &r->batch, layer + 1, M, T);
        float *g = r->pf;
        for (int k = 0; k < M; k++)
            memcpy(g + (size_t)k * d, r->batch.xs[L] + ((size_t)k * T + pos) * d, sizeof(float) * d);
        top = g;
    }

    /* Head, objective and its gradient with respect to the logits. */
    bert_head_fwd(m, r, top, M);
    for (int k = 0; k < M; k++) {
        float *lg = r->logits + (size_t)k * V, *dl = r->dlogits + (size_t)k * V;
        mt_softmax(dl, lg, V);
        float p = dl[target];
        double lse_p = log((double)p);
        if (!isfinite(p) || (logprob && !isfinite(lse_p)))
            return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite probability at patched step %d", layer, k);
        if (F) F[k] = logprob ? (float)lse_p : p;
        /* d p_y / d logit_j = p_y (1[j=y] - p_j);  d log p_y / d logit_j = 1[j=y] - p_j */
        float s = logprob ? 1.0f : p;
        for (int j = 0; j < V; j++) dl[j] = -s * dl[j];
        dl[target] += s;
    }
    bert_head_bwd(m, r, r->dh, M); /* r->dh: gradient at the top layer's output, position pos */

    const float *dtop = r->dh;
    if (layer + 1 < L) {
        float *dx = r->dx;
        memset(dx, 0, sizeof(float) * (size_t)M * T * d);
        for (int k = 0; k < M; k++)
            memcpy(dx + ((size_t)k * T + pos) * d, r->dh + (size_t)k * d, sizeof(float) * d);
        /* dx (gradient at layer l+1's output) -> ... -> gradient at layer l+1's input; the in/out
         * buffers alternate between r->dx and r->dq's neighbour is avoided by a second buffer. */
        float *din = r->batch.xs[0]; /* the batch stack's embedding slot is free: reuse as scratch */
        for (int l = L - 1; l > layer; l--) {
            bert_layer_bwd(m, r, l, &r->batch.la[l], dx, din, M, T);
            float *t = dx;
            dx = din;
            din = t;
        }
        float *g = r->pf;
        for (int k = 0; k < M; k++)
            memcpy(g + (size_t)k * d, dx + ((size_t)k * T + pos) * d, sizeof(float) * d);
        dtop = g;
    }
    /* Patched layer backward: LN2, then W2 to the activation. */
    mt_layernorm_bwd(r->dh2, dtop, r->pr2, r->pmean, r->prstd, w->ln2_w, M, d);
    mt_matmul_bwd_in(dZ, r->dh2, w->fc2_w, M, f, d, 0);
    for (size_t i = 0; i < (size_t)M * f; i++)
        if (!isfinite(dZ[i]))
            return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite gradient at the FFN activation", layer);
    return MT_OK;
}

static int b_forward_batch_acts(const bert_model *m, bert_run *r, const int32_t *ids, const int32_t *types, int B, int T,
                          int pos, float *acts, mt_err *e) {
    const mt_config *c = &m->cfg;
    int rc = check_T(r, B, T, e);
    if (rc) return rc;
    if (pos < 0 || pos >= T) return mt_fail(e, MT_EINVAL, "position %d is outside the sequence (%d)", pos, T);
    stack *s = &r->batch;
    if ((rc = bert_embed(m, r->dx, ids, types, B, T, e))) return rc;
    mt_layernorm_fwd(s->xs[0], r->dx1, r->dx1 + (size_t)B * T, r->dx, m->emb_ln_w, m->emb_ln_b, B * T, c->d_model,
                     c->ln_eps);
    bert_layers_fwd(m, s, 0, B, T);
    for (int b = 0; b < B; b++)
        for (int l = 0; l < c->n_layers; l++)
            memcpy(acts + ((size_t)b * c->n_layers + l) * c->d_ff, s->la[l].a + ((size_t)b * T + pos) * c->d_ff,
                   sizeof(float) * c->d_ff);
    return MT_OK;
}

/* ---------------------------------------------------------------- operations table */

static int op_run_new(const void *impl, int max_T, int max_B, void **run, size_t *bytes, mt_err *e) {
    bert_run *r = NULL;
    int rc = b_run_new(impl, max_T, max_B, &r, e);
    if (!rc) {
        *run = r;
        *bytes = r->bytes;
    }
    return rc;
}
static void op_run_free(void *run) { b_run_free(run); }
static int op_forward(const void *impl, void *run, const int32_t *ids, const int32_t *types, int T, mt_err *e) {
    return b_forward(impl, run, ids, types, T, e);
}
static const float *op_ffn_act(const void *run, int layer, int pos) { return b_ffn_act(run, layer, pos); }
static int op_head_logits(const void *impl, void *run, int pos, float *logits, mt_err *e) {
    return b_head_logits(impl, run, pos, logits, e);
}
static int op_forward_batch_acts(const void *impl, void *run, const int32_t *ids, const int32_t *types, int B, int T,
                                 int pos, float *acts, mt_err *e) {
    return b_forward_batch_acts(impl, run, ids, types, B, T, pos, acts, e);
}
static int op_patch_grad(const void *impl, void *run, int layer, int pos, const float *Z, int M, int32_t target,
                         int logprob, float *F, float *dZ, mt_err *e) {
    return b_patch_grad(impl, run, layer, pos, Z, M, target, logprob, F, dZ, e);
}

static void op_weight_bytes(const void *impl, size_t *f32, size_t *half) {
    const bert_model *m = impl;
    const size_t d = m->cfg.d_model, f = m->cfg.d_ff, V = m->cfg.vocab_size;
    *f32 = 4 * m->n_arena, *half = 0;
    mt_w_bytes(m->word_emb, V * d, f32, half);
    mt_w_bytes(m->head_w, d * d, f32, half);
    if (m->dec_w.p != m->word_emb.p) mt_w_bytes(m->dec_w, V * d, f32, half);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const layer_weights *w = &m->layers[l];
        mt_w_bytes(w->q_w, d * d, f32, half), mt_w_bytes(w->k_w, d * d, f32, half);
        mt_w_bytes(w->v_w, d * d, f32, half), mt_w_bytes(w->o_w, d * d, f32, half);
        mt_w_bytes(w->fc1_w, f * d, f32, half), mt_w_bytes(w->fc2_w, f * d, f32, half);
    }
}

const mt_model_ops mt_bert_ops = {"encoder", bert_load, bert_free, op_run_new, op_run_free, op_forward, op_ffn_act,
                                  op_head_logits, op_forward_batch_acts, NULL, op_patch_grad, op_weight_bytes};
