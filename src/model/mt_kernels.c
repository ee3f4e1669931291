#include "mt_kernels.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_config.h"

void mt_matmul_fwd(float *out, const float *in, const float *w, const float *bias, int N, int C, int OC) {
    if (bias) {
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, sizeof(float) * OC);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, in, C, w, C,
                bias ? 1.0f : 0.0f, out, OC);
}

void mt_matmul_bwd_in(float *din, const float *dout, const float *w, int N, int C, int OC, int accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                accumulate ? 1.0f : 0.0f, din, C);
}

void mt_layernorm_fwd(float *out, float *mean, float *rstd, const float *in, const float *w,
                      const float *b, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += x[c];
        float m = (float)(s / C);
        double v = 0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - m;
            v += d * d;
        }
        float r = (float)(1.0 / sqrt(v / C + eps));
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * r * w[c] + b[c];
        mean[n] = m;
        rstd[n] = r;
    }
}

void mt_layernorm_bwd(float *din, const float *dout, const float *in, const float *mean,
                      const float *rstd, const float *w, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = din + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        /* dxhat = dy*w; dx = r * (dxhat - mean(dxhat) - xhat*mean(dxhat*xhat)) */
        double s1 = 0, s2 = 0;
        for (int c = 0; c < C; c++) {
            float g = dy[c] * w[c];
            float xh = (x[c] - m) * r;
            s1 += g;
            s2 += g * xh;
        }
        float a = (float)(s1 / C), bb = (float)(s2 / C);
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r;
            dx[c] = r * (dy[c] * w[c] - a - xh * bb);
        }
    }
}

#define GELU_TANH_C 0.7978845608028654f /* sqrt(2/pi) */

void mt_act_fwd(float *out, const float *in, long n, int act) {
    switch (act) {
    case MT_ACT_GELU_ERF:
        for (long i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * (float)M_SQRT1_2));
        break;
    case MT_ACT_GELU_TANH:
        for (long i = 0; i < n; i++) {
            float x = in[i];
            out[i] = 0.5f * x * (1.0f + tanhf(GELU_TANH_C * (x + 0.044715f * x * x * x)));
        }
        break;
    case MT_ACT_SILU:
        for (long i = 0; i < n; i++) out[i] = in[i] / (1.0f + expf(-in[i]));
        break;
    default:
        for (long i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
    }
}

void mt_act_bwd(float *din, const float *dout, const float *in, long n, int act) {
    switch (act) {
    case MT_ACT_GELU_ERF:
        for (long i = 0; i < n; i++) {
            float x = in[i];
            float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
            float pdf = expf(-0.5f * x * x) * 0.3989422804014327f;
            din[i] = dout[i] * (cdf + x * pdf);
        }
        break;
    case MT_ACT_GELU_TANH:
        for (long i = 0; i < n; i++) {
            float x = in[i];
            float u = GELU_TANH_C * (x + 0.044715f * x * x * x);
            float t = tanhf(u);
            float du = GELU_TANH_C * (1.0f + 3.0f * 0.044715f * x * x);
            din[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
        }
        break;
    case MT_ACT_SILU:
        for (long i = 0; i < n; i++) {
            float sg = 1.0f / (1.0f + expf(-in[i]));
            din[i] = dout[i] * sg * (1.0f + in[i] * (1.0f - sg));
        }
        break;
    default:
        for (long i = 0; i < n; i++) din[i] = in[i] > 0 ? dout[i] : 0;
    }
}

void mt_attention_fwd(float *out, float *att, const float *q, const float *k, const float *v,
                      int B, int T, int H, int D) {
    const int C = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            float *A = att + ((size_t)(b * H + h) * T) * T;
            for (int i = 0; i < T; i++) {
                const float *qi = q + ((size_t)b * T + i) * C + h * D;
                float *row = A + (size_t)i * T;
                float mx = -INFINITY;
                for (int j = 0; j < T; j++) {
                    const float *kj = k + ((size_t)b * T + j) * C + h * D;
                    float s = 0;
                    for (int d = 0; d < D; d++) s += qi[d] * kj[d];
                    row[j] = s * scale;
                    if (row[j] > mx) mx = row[j];
                }
                float sum = 0;
                for (int j = 0; j < T; j++) {
                    row[j] = expf(row[j] - mx);
                    sum += row[j];
                }
                float inv = 1.0f / sum;
                float *oi = out + ((size_t)b * T + i) * C + h * D;
                memset(oi, 0, sizeof(float) * D);
                for (int j = 0; j < T; j++) {
                    row[j] *= inv;
                    const float *vj = v + ((size_t)b * T + j) * C + h * D;
                    for (int d = 0; d < D; d++) oi[d] += row[j] * vj[d];
                }
            }
        }
}

void mt_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *att,
                      const float *q, const float *k, const float *v, int B, int T, int H, int D) {
    const int C = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    size_t nall = (size_t)B * T * C;
    memset(dq, 0, sizeof(float) * nall);
    memset(dk, 0, sizeof(float) * nall);
    memset(dv, 0, sizeof(float) * nall);
    float *dp = malloc(sizeof(float) * (size_t)T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *A = att + ((size_t)(b * H + h) * T) * T;
            for (int i = 0; i < T; i++) {
                const float *row = A + (size_t)i * T;
                const float *doi = dout + ((size_t)b * T + i) * C + h * D;
                /* dP[j] = do_i . v_j ; dv_j += P[j] do_i */
                float dot = 0;
                for (int j = 0; j < T; j++) {
                    const float *vj = v + ((size_t)b * T + j) * C + h * D;
                    float *dvj = dv + ((size_t)b * T + j) * C + h * D;
                    float s = 0;
                    for (int d = 0; d < D; d++) {
                        s += doi[d] * vj[d];
                        dvj[d] += row[j] * doi[d];
                    }
                    dp[j] = s;
                    dot += s * row[j];
                }
                /* dS[j] = P[j] (dP[j] - sum_j P dP) * scale; dq_i += dS k_j; dk_j += dS q_i */
                const float *qi = q + ((size_t)b * T + i) * C + h * D;
                float *dqi = dq + ((size_t)b * T + i) * C + h * D;
                for (int j = 0; j < T; j++) {
                    float ds = row[j] * (dp[j] - dot) * scale;
                    const float *kj = k + ((size_t)b * T + j) * C + h * D;
                    float *dkj = dk + ((size_t)b * T + j) * C + h * D;
                    for (int d = 0; d < D; d++) {
                        dqi[d] += ds * kj[d];
                        dkj[d] += ds * qi[d];
                    }
                }
            }
        }
    free(dp);
}

double mt_softmax(float *probs, const float *logits, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)logits[i] - mx);
    double lse = mx + log(s);
    for (int i = 0; i < n; i++) probs[i] = (float)exp((double)logits[i] - lse);
    return lse;
}

/* ---------------------------------------------------------------- decoder kernels */

void mt_rmsnorm_fwd(float *out, float *rstd, const float *in, const float *w, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
        float r = (float)(1.0 / sqrt(s / C + eps));
        for (int c = 0; c < C; c++) y[c] = x[c] * r * (w ? w[c] : 1.0f);
        rstd[n] = r;
    }
}

void mt_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, const float *w, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = din + (size_t)n * C;
        float r = rstd[n];
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)dy[c] * (w ? w[c] : 1.0f) * x[c] * r;
        float m = (float)(s / C);
        for (int c = 0; c < C; c++) dx[c] = r * (dy[c] * (w ? w[c] : 1.0f) - x[c] * r * m);
    }
}

void mt_rope_apply(float *x, int n_heads, int D, const float *cos_t, const float *sin_t, int inverse) {
    const int half = D / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * D;
        for (int i = 0; i < half; i++) {
            float c = cos_t[i], s = inverse ? -sin_t[i] : sin_t[i];
            float a = v[i], b = v[i + half];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
}

static float attn_score(float dot, int h, int j, const mt_attn_rule *r) {
    float s = dot * r->scale;
    if (r->softcap > 0) s = tanhf(s / r->softcap) * r->softcap;
    if (r->slopes) s += r->slopes[h] * (float)j;
    return s;
}

static int visible(int i, int j, const mt_attn_rule *r) { return j <= i && (r->window <= 0 || i - j < r->window); }

void mt_causal_attention_fwd(float *out, const float *q, const float *k, const float *v, int B, int T, int H,
                             int Hkv, int D, const mt_attn_rule *rule) {
    const int C = H * D, Ck = Hkv * D, group = H / Hkv;
    float *row = malloc(sizeof(float) * (size_t)T);
    if (!row) return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            for (int i = 0; i < T; i++) {
                const float *qi = q + ((size_t)b * T + i) * C + h * D;
                float mx = -INFINITY;
                for (int j = 0; j <= i; j++) {
                    if (!visible(i, j, rule)) {
                        row[j] = -INFINITY;
                        continue;
                    }
                    const float *kj = k + ((size_t)b * T + j) * Ck + hk * D;
                    float s = 0;
                    for (int d = 0; d < D; d++) s += qi[d] * kj[d];
                    row[j] = attn_score(s, h, j, rule);
                    if (row[j] > mx) mx = row[j];
                }
                float sum = 0;
                for (int j = 0; j <= i; j++) {
                    row[j] = row[j] == -INFINITY ? 0 : expf(row[j] - mx);
                    sum += row[j];
                }
                float *oi = out + ((size_t)b * T + i) * C + h * D;
                memset(oi, 0, sizeof(float) * D);
                for (int j = 0; j <= i; j++) {
                    if (!row[j]) continue;
                    const float *vj = v + ((size_t)b * T + j) * Ck + hk * D;
                    float pj = row[j] / sum;
                    for (int d = 0; d < D; d++) oi[d] += pj * vj[d];
                }
            }
        }
    free(row);
}

/* key/value vector j for row m and kv head hk: the cache below p, the row's own at p */
static const float *kv_at(const float *cache, const float *self, int m, int j, int p, int hk, int Ck, int D) {
    return j < p ? cache + (size_t)j * Ck + hk * D : self + (size_t)m * Ck + hk * D;
}

void mt_decode_attention_fwd(float *out, float *att, const float *q, const float *kc, const float *vc,
                             const float *ks, const float *vs, int M, int p, int H, int Hkv, int D,
                             const mt_attn_rule *rule) {
    const int C = H * D, Ck = Hkv * D, group = H / Hkv, n = p + 1;
    for (int m = 0; m < M; m++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            const float *qm = q + (size_t)m * C + h * D;
            float *a = att + ((size_t)m * H + h) * n, mx = -INFINITY;
            for (int j = 0; j < n; j++) {
                if (!visible(p, j, rule)) {
                    a[j] = -INFINITY;
                    continue;
                }
                const float *kj = kv_at(kc, ks, m, j, p, hk, Ck, D);
                float s = 0;
                for (int d = 0; d < D; d++) s += qm[d] * kj[d];
                a[j] = attn_score(s, h, j, rule);
                if (a[j] > mx) mx = a[j];
            }
            float sum = 0;
            for (int j = 0; j < n; j++) {
                a[j] = a[j] == -INFINITY ? 0 : expf(a[j] - mx);
                sum += a[j];
            }
            float *o = out + (size_t)m * C + h * D;
            memset(o, 0, sizeof(float) * D);
            for (int j = 0; j < n; j++) {
                a[j] /= sum;
                if (!a[j]) continue;
                const float *vj = kv_at(vc, vs, m, j, p, hk, Ck, D);
                for (int d = 0; d < D; d++) o[d] += a[j] * vj[d];
            }
        }
}

void mt_decode_attention_bwd(float *dq, float *dks, float *dvs, const float *dout, const float *att,
                             const float *q, const float *kc, const float *vc, const float *ks, const float *vs,
                             int M, int p, int H, int Hkv, int D, const mt_attn_rule *rule) {
    const int C = H * D, Ck = Hkv * D, group = H / Hkv, n = p + 1;
    memset(dq, 0, sizeof(float) * (size_t)M * C);
    memset(dks, 0, sizeof(float) * (size_t)M * Ck);
    memset(dvs, 0, sizeof(float) * (size_t)M * Ck);
    for (int m = 0; m < M; m++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            const float *a = att + ((size_t)m * H + h) * n, *dom = dout + (size_t)m * C + h * D;
            const float *qm = q + (size_t)m * C + h * D;
            float *dqm = dq + (size_t)m * C + h * D;
            /* dA_j = do . v_j; dS_j = A_j (dA_j - sum A dA) */
            double dot = 0;
            for (int j = 0; j < n; j++) {
                if (!a[j]) continue;
                const float *vj = kv_at(vc, vs, m, j, p, hk, Ck, D);
                float s = 0;
                for (int d = 0; d < D; d++) s += dom[d] * vj[d];
                dot += a[j] * s;
            }
            for (int j = 0; j < n; j++) {
                if (!a[j]) continue;
                const float *vj = kv_at(vc, vs, m, j, p, hk, Ck, D), *kj = kv_at(kc, ks, m, j, p, hk, Ck, D);
                float s = 0;
                for (int d = 0; d < D; d++) s += dom[d] * vj[d];
                float ds = a[j] * (s - (float)dot);
                if (rule->softcap > 0) { /* through tanh: d/ds cap*tanh(s/cap) = 1 - tanh^2 */
                    float raw = 0;
                    for (int d = 0; d < D; d++) raw += qm[d] * kj[d];
                    float t = tanhf(raw * rule->scale / rule->softcap);
                    ds *= 1 - t * t;
                }
                ds *= rule->scale;
                for (int d = 0; d < D; d++) dqm[d] += ds * kj[d];
                if (j == p) {
                    float *dk = dks + (size_t)m * Ck + hk * D, *dv = dvs + (size_t)m * Ck + hk * D;
                    for (int d = 0; d < D; d++) {
                        dk[d] += ds * qm[d];
                        dv[d] += a[j] * dom[d];
                    }
                }
            }
        }
}
