/* Internal to the encoder family: model and run layouts shared by mt_bert.c (inference) and
 * mt_bert_train.c (interventions, weight gradients, saving). */
#ifndef MT_BERT_IMPL_H
#define MT_BERT_IMPL_H

#include "mt_kernels.h"
#include "mt_model_impl.h"

typedef struct {
    mt_w q_w, k_w, v_w, o_w, fc1_w, fc2_w; /* matrices: f32 or as stored (f16/bf16) */
    float *q_b, *k_b, *v_b, *o_b, *ln1_w, *ln1_b;
    float *fc1_b, *fc2_b, *ln2_w, *ln2_b;
} layer_weights;

typedef struct bert_model {
    mt_config cfg;
    float *arena;      /* every f32 parameter */
    size_t n_arena;    /* floats in it */
    uint16_t *harena;  /* f16/bf16 matrices that could not stay in the mapping */
    void *st;          /* the checkpoint (mt_safetensors), open while matrices point into it */
    mt_w word_emb, head_w, dec_w;
    float *pos_emb, *type_emb, *emb_ln_w, *emb_ln_b;
    layer_weights *layers;
    float *head_b, *head_ln_w, *head_ln_b, *dec_b;
} bert_model;

/* Activations of one layer for B sequences (N = B*T rows), kept for the backward pass. */
typedef struct {
    float *q, *k, *v, *att, *ctx, *r1, *mean1, *rstd1, *x1, *h, *a, *r2, *mean2, *rstd2;
} layer_acts;

/* One stack of activations: xs[l] is the input of layer l, xs[L] the final output. */
typedef struct {
    float **xs;
    layer_acts *la;
    const struct mt_iv *iv; /* intervention (mt_train.h), owned by the mt_run */
} stack;

typedef struct bert_run {
    int max_T, max_B, T, d, f;
    stack base;  /* B = 1: the unpatched sequence, cached for prefix reuse */
    stack batch; /* B = max_B: patched rows or baseline batches */
    /* backward scratch, sized for max_B * max_T rows */
    float *dx, *dr2, *dact, *dx1, *dr1, *dctx, *dq, *dk, *dv;
    /* head scratch, sized for max_B rows */
    float *hx, *ht, *hu, *hn, *hmean, *hrstd, *logits, *dlogits, *dh, *dh2;
    /* patched-layer scratch */
    float *pf, *pr2, *pmean, *prstd, *px;
    size_t bytes;
    void *arena;
} bert_run;

int bert_embed(const bert_model *m, float *x, const int32_t *ids, const int32_t *types, int B, int T, mt_err *e);
void bert_attn_block_fwd(const bert_model *m, int l, layer_acts *a, const float *xin, int B, int T);
/* iv (may be NULL): the run's intervention, on rows at position i % T */
void bert_ffn_block_fwd(const bert_model *m, int l, layer_acts *a, float *xout, int N, const struct mt_iv *iv, int T);
void bert_layers_fwd(const bert_model *m, stack *s, int from, int B, int T);
/* MLM head: logits [M][V] into r->logits; backward from r->dlogits to dx [M][d]. */
void bert_head_fwd(const bert_model *m, bert_run *r, const float *x, int M);
void bert_head_bwd(const bert_model *m, bert_run *r, float *dx, int M);
/* Layer l backward for B*T rows (activation gradients only; leaves dL/dh in r->dact and dL/dr2
 * in r->dr2). */
void bert_layer_bwd(const bert_model *m, bert_run *r, int l, const layer_acts *a, const float *dxout, float *dxin,
                    int B, int T);

/* mt_patch_grad_layers for encoders (mt_bert_ig.c). */
int mt_bert_patch_layers(const void *impl, void *run, int lo, int n, int pos, const float *Z, int M, int32_t target,
                         int logprob, float *F, float *dZ, mt_err *e);

#endif
