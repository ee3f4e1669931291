/* Layer kernels as forward/backward pairs (llm.c style). Backward passes compute gradients with
 * respect to activations only: attribution never needs weight gradients.
 * Dimension letters: N rows (batch x tokens), C input channels, OC output channels,
 * B sequences, T tokens, H heads, D head size. Weights use HF nn.Linear layout [OC, C]. */
#ifndef MT_KERNELS_H
#define MT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Work sharing for the non-GEMM kernels (OpenBLAS threads its own GEMMs): fn(ctx, lo, hi) runs on
 * chunks of `grain` items of [0, n), taken from a shared counter by the calling thread and the
 * pool's workers (MT_THREADS or the number of CPUs in all; 1 = everything on the caller). Calls
 * made while the pool is busy (another thread's job) run on the caller alone. */
typedef void (*mt_range_fn)(void *ctx, long lo, long hi);
void mt_parallel_for(long n, long grain, mt_range_fn fn, void *ctx);
int mt_threads(void);

/* A large buffer (a run's activation arena), 64-byte aligned; from 4 MB on 2 MB aligned and,
 * with MT_THP=1, advised for transparent huge pages (a patched pass touches hundreds of MB
 * afresh per query, one fault per 4 KB page). Released with free(). */
void *mt_alloc_big(size_t bytes);

/* A weight matrix (an nn.Linear [OC, C] or an embedding [V, d], row-major) as held in memory:
 * f32, or f16/bf16 as the checkpoint stores it, which halves the memory and the bandwidth of
 * every product (a 7B model: 14 GB instead of 28), or GGUF Q8_0 blocks (34 bytes per 32 values,
 * rows of a multiple of 32). Products convert blocks of it to f32 and accumulate in f32, so they
 * equal those of a copy converted at load up to summation order. */
typedef enum { MT_W_F32, MT_W_F16, MT_W_BF16, MT_W_Q8_0 } mt_wtype;
typedef struct mt_w {
    const void *p;  /* NULL: absent */
    mt_wtype type;
    float *owned;   /* the f32 copy made by mt_w_promote (p points at it), freed by mt_w_release */
} mt_w;

static inline mt_w mt_w_of(const float *p) { return (mt_w){p, MT_W_F32, NULL}; }
/* The weights as writable f32, or NULL while they are held as f16/bf16. */
static inline float *mt_w_f32(mt_w w) { return w.type == MT_W_F32 ? (float *)w.p : NULL; }
/* Rows [row, row + n) of a matrix with `cols` columns, as f32, into dst [n][cols]. */
void mt_w_rows(mt_w w, long row, long n, long cols, float *dst);
/* Converts f16/bf16/Q8_0 weights of n values to an owned f32 copy (before they are changed:
 * edits and training need f32 precision); no-op for f32. MT_ENOMEM-style: returns -1 when out
 * of memory, leaving w unchanged. */
int mt_w_promote(mt_w *w, size_t n);
void mt_w_release(mt_w *w);
/* Bytes of n values of a storage type. */
static inline size_t mt_wtype_bytes(mt_wtype t, size_t n) { return t == MT_W_F32 ? 4 * n : t == MT_W_Q8_0 ? n / 32 * 34 : 2 * n; }
/* Adds the bytes of an n-value matrix held apart from the f32 arena: *half for f16/bf16/Q8_0,
 * *f32 for an f32 copy made by mt_w_promote (an f32 matrix in the arena is counted with it). */
static inline void mt_w_bytes(mt_w w, size_t n, size_t *f32, size_t *half) {
    if (w.type != MT_W_F32) *half += mt_wtype_bytes(w.type, n);
    else if (w.owned) *f32 += 4 * n;
}

/* out[N,OC] = in[N,C] . W[OC,C]^T + bias[OC] (bias may be NULL). */
void mt_matmul_fwd(float *out, const float *in, mt_w w, const float *bias, int N, int C, int OC);
/* din[N,C] (+)= dout[N,OC] . W[OC,C]; accumulate selects += instead of =. */
void mt_matmul_bwd_in(float *din, const float *dout, mt_w w, int N, int C, int OC, int accumulate);

/* LayerNorm over C: out = (in - mean) * rstd * w + b; keeps mean and rstd [N] for backward. */
void mt_layernorm_fwd(float *out, float *mean, float *rstd, const float *in, const float *w,
                      const float *b, int N, int C, float eps);
/* din[N,C] = d LN / d in applied to dout (overwrites din). */
void mt_layernorm_bwd(float *din, const float *dout, const float *in, const float *mean,
                      const float *rstd, const float *w, int N, int C);

/* Activations (act: an mt_act value). out may alias in for forward. */
void mt_act_fwd(float *out, const float *in, long n, int act);
/* din = dout * act'(in); din may alias dout. */
void mt_act_bwd(float *din, const float *dout, const float *in, long n, int act);

/* Bidirectional multi-head attention over B sequences of T tokens (no mask, no padding).
 * q,k,v,out [B*T, H*D]; att [B,H,T,T] keeps the softmax probabilities for backward. */
void mt_attention_fwd(float *out, float *att, const float *q, const float *k, const float *v,
                      int B, int T, int H, int D);
/* dq, dk, dv [B*T, H*D] (overwritten) from dout [B*T, H*D]. */
void mt_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *att,
                      const float *q, const float *k, const float *v, int B, int T, int H, int D);

/* Numerically stable softmax of n logits (double accumulation); returns log-sum-exp. */
double mt_softmax(float *probs, const float *logits, int n);
/* The objective of R patched rows: F = P(target) (or log P when logprob) from logits lg [R][V]
 * into F [R] (may be NULL), and dF/dlogits into dl [R][V]; softcap > 0 means the logits are
 * cap * tanh(x / cap) and the gradient is taken with respect to x. Rows run in parallel. Returns
 * the first row whose probability is not finite (or is zero under logprob), or -1. */
long mt_target_grad(float *dl, float *F, const float *lg, long R, int V, int target, int logprob, float softcap);

#endif

#ifndef MT_KERNELS_DECODER
#define MT_KERNELS_DECODER
/* RMSNorm over C: out = in * rstd * w (w NULL: 1); keeps rstd [N]. */
void mt_rmsnorm_fwd(float *out, float *rstd, const float *in, const float *w, int N, int C, float eps);
/* din = d RMSNorm / d in applied to dout (overwrites din; din may alias dout). */
void mt_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, const float *w, int N, int C);

/* HF rotate-half RoPE on n_heads vectors of D at one position: x = x*cos + rot(x)*sin, with
 * cos/sin tables of D/2 angles. inverse = 1 applies the transpose (for backward). */
void mt_rope_apply(float *x, int n_heads, int D, const float *cos_t, const float *sin_t, int inverse);

/* Score rule shared by the decoder attentions: key j is visible from query i when j <= i and
 * (window == 0 or i - j < window); score = softcap(q.k * scale) + slope[h] * j. */
typedef struct mt_attn_rule {
    float scale;
    int window;
    float softcap;       /* 0: off */
    const float *slopes; /* ALiBi slopes per head, or NULL */
} mt_attn_rule;

/* Causal attention over B sequences of T tokens; q [B*T, H*D], k,v [B*T, Hkv*D] (GQA). */
void mt_causal_attention_fwd(float *out, const float *q, const float *k, const float *v, int B, int T, int H,
                             int Hkv, int D, const mt_attn_rule *rule);
/* One new token at position p for each of M rows: keys/values 0..p-1 come from a shared cache
 * kc, vc [p, Hkv*D]; key/value p is the row's own (ks, vs [M, Hkv*D]). att [M, H, p+1]. */
void mt_decode_attention_fwd(float *out, float *att, const float *q, const float *kc, const float *vc,
                             const float *ks, const float *vs, int M, int p, int H, int Hkv, int D,
                             const mt_attn_rule *rule);
/* Gradients with respect to q and the rows' own key/value (the cache is constant). */
void mt_decode_attention_bwd(float *dq, float *dks, float *dvs, const float *dout, const float *att,
                             const float *q, const float *kc, const float *vc, const float *ks, const float *vs,
                             int M, int p, int H, int Hkv, int D, const mt_attn_rule *rule);
#endif
