/* Layer kernels as forward/backward pairs (llm.c style). Backward passes compute gradients with
 * respect to activations only: attribution never needs weight gradients.
 * Dimension letters: N rows (batch x tokens), C input channels, OC output channels,
 * B sequences, T tokens, H heads, D head size. Weights use HF nn.Linear layout [OC, C]. */
#ifndef MT_KERNELS_H
#define MT_KERNELS_H

/* out[N,OC] = in[N,C] . W[OC,C]^T + bias[OC] (bias may be NULL). */
void mt_matmul_fwd(float *out, const float *in, const float *w, const float *bias, int N, int C, int OC);
/* din[N,C] (+)= dout[N,OC] . W[OC,C]; accumulate selects += instead of =. */
void mt_matmul_bwd_in(float *din, const float *dout, const float *w, int N, int C, int OC, int accumulate);

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

#endif
