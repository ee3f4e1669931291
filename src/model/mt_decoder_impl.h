/* Internal to the decoder family: model and run layouts shared by mt_decoder.c (inference) and
 * mt_decoder_train.c (interventions, weight gradients, saving). */
#ifndef MT_DECODER_IMPL_H
#define MT_DECODER_IMPL_H

#include "mt_kernels.h"
#include "mt_model_impl.h"

typedef struct {
    mt_w q_w, k_w, v_w, o_w, gate_w, up_w, down_w; /* matrices: f32 or as stored (f16/bf16) */
    float *n1_w, *n1_b, *q_b, *k_b, *v_b, *o_b, *qn_w, *kn_w, *npa_w;
    float *n2_w, *n2_b, *gate_b, *up_b, *down_b, *npf_w;
} dec_layer;

typedef struct {
    mt_config cfg;
    float *arena;     /* every f32 parameter */
    size_t n_arena;   /* floats in it */
    uint16_t *harena; /* f16/bf16 matrices that could not stay in the mapping */
    void *st, *gguf;  /* the checkpoint, open while matrices point into it */
    mt_w tok_emb, lm_head; /* lm_head.p == tok_emb.p when tied */
    float *pos_emb, *emb_n_w, *emb_n_b;
    dec_layer *layers;
    float *final_w, *final_b;
    float *slopes;                   /* ALiBi, per head */
    float *inv_freq, *inv_freq_local; /* RoPE, head_dim/2 each */
} dec_model;

/* Activations of the patched rows (M rows, one token each) in one layer, kept for backward. */
typedef struct {
    float *x, *h, *n1m, *n1r, *qr, *kr, *q, *k, *v, *qnr, *knr, *att, *ctx, *o, *npar, *mid;
    float *h2, *n2m, *n2r, *g, *u, *a, *f, *npfr;
} row_acts;

typedef struct {
    int max_T, max_B, T, d, f, kd, qd;
    int neuron;  /* mt_neuron: which tensor ac[] holds and the patch replaces */
    float **oc;  /* per layer [T, f]: the other factor of a gated neuron (u for gate, g for up) */
    /* base sequence caches: per layer K, V [T, kd], neuron a [T, f], mid [T, d]; final x [T, d] */
    float **kc, **vc, **ac, **midc, *xfinal;
    /* full-sequence scratch for N = max_B * max_T rows */
    float *sx, *sh, *sq, *sk, *sv, *sctx, *so, *smid, *sg, *su, *sa, *sf, *sm, *sr;
    /* patched rows: per layer (index l holds the rows entering layer l + 1's input at l+1) */
    row_acts *ra;
    /* head and backward scratch for max_B rows */
    float *xtop, *hn, *hm, *hr, *logits, *dlogits, *dx, *dmid, *dt, *dt2, *dff, *dff2, *dq, *dk, *dv, *dctx, *pf, *pfr;
    float *cosb, *sinb; /* rope tables for one position */
    const struct mt_iv *iv; /* intervention (mt_train.h), owned by the mt_run */
    void *arena;
    size_t bytes;
} dec_run;

void dec_norm_fwd(const dec_model *m, float *out, float *mean, float *rstd, const float *in, const float *w,
                  const float *b, int N, int C);
void dec_norm_bwd(const dec_model *m, float *din, const float *dout, const float *in, const float *mean,
                  const float *rstd, const float *w, int N, int C);
mt_attn_rule dec_attn_rule(const dec_model *m, int l);
/* cos/sin tables of layer l's RoPE at pos into r->cosb, r->sinb. */
void dec_rope_tables(const dec_model *m, dec_run *r, int l, int pos);
int dec_has_rope(const dec_model *m);
/* FFN from h2 [N, d] to the neuron a [N, f]; g/u keep the pre-activations for backward. */
/* r (may be NULL) supplies the intervention of layer l; rows are at position p >= 0, else i % T. */
void dec_ffn_up(const dec_model *m, const dec_run *r, int l, const dec_layer *w, float *g, float *u, float *a,
                const float *h2, int N, int T, int p);
int dec_embed(const dec_model *m, float *x, const int32_t *ids, int B, int T, mt_err *e);
/* HF tensor name -> llama.cpp's GGUF name (0 if none); L->user is the dec_model. */
struct mt_loader;
int dec_gguf_name(const struct mt_loader *L, const char *hf, char *out, size_t n);
/* logits [M][V] of M final hidden rows into r->logits (norm statistics in r->hm, r->hr). */
void dec_head_fwd(const dec_model *m, dec_run *r, const float *x, int M);
/* Layer l for M patched rows at position p: input r->ra[l].x, output into out; and its
 * activation backward (r->dx holds d(output) of the M rows, becomes d(input)). */
void dec_row_fwd(const dec_model *m, dec_run *r, int l, int M, int p, float *out);
void dec_row_bwd(const dec_model *m, dec_run *r, int l, int M, int p);

/* mt_patch_grad_layers for decoders (mt_decoder_ig.c). */
int mt_dec_patch_layers(const void *impl, void *run, int lo, int n, int pos, const float *Z, int M, int32_t target,
                        int logprob, float *F, float *dZ, mt_err *e);

#endif
