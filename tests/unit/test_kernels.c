/* Finite-difference checks of every backward kernel (ggml's MODE_GRAD idea): for a random
 * projection R, the scalar loss S = sum(R * forward(x)) has dS/dx = backward(R); compare with
 * central differences in double around the same point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_config.h"
#include "mt_kernels.h"
#include "mt_half.h"
#include "mt_safetensors.h" /* mt_f32_to_f16, mt_f32_to_bf16 */
#include "mt_test.h"

static unsigned long long rng = 88172645463325252ULL;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] = s * frand();
}
static double dotp(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* max |analytic - numeric| / max(|numeric|) over all inputs */
static double rel_err(const float *an, const double *num, size_t n) {
    double md = 0, mx = 1e-12;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(an[i] - num[i]);
        if (d > md) md = d;
        if (fabs(num[i]) > mx) mx = fabs(num[i]);
    }
    return md / mx;
}

enum { N = 6, C = 10, OC = 7, B = 2, T = 5, H = 2, D = 4 };

static float *w_, *b_;
static const float *R_;
static int act_;
static double loss_matmul(float *x) {
    float out[N * OC];
    mt_matmul_fwd(out, x, mt_w_of(w_), b_, N, C, OC);
    return dotp(out, R_, N * OC);
}
static double loss_ln(float *x) {
    float out[N * C], m[N], r[N];
    mt_layernorm_fwd(out, m, r, x, w_, b_, N, C, 1e-5f);
    return dotp(out, R_, N * C);
}
static double loss_act(float *x) {
    float out[N * C];
    mt_act_fwd(out, x, N * C, act_);
    return dotp(out, R_, N * C);
}
static float *qkv_[3];
static int which_;
static double loss_attn(float *x) {
    float out[B * T * H * D], att[B * H * T * T];
    float *save = qkv_[which_];
    qkv_[which_] = x;
    mt_attention_fwd(out, att, qkv_[0], qkv_[1], qkv_[2], B, T, H, D);
    qkv_[which_] = save;
    return dotp(out, R_, B * T * H * D);
}

/* decoder kernels */
enum { DM = 2, DP = 4, DH = 4, DHKV = 2, DD = 4 };
static float dq_[DM * DH * DD], dkc_[DP * DHKV * DD], dvc_[DP * DHKV * DD], dks_[DM * DHKV * DD], dvs_[DM * DHKV * DD];
static float *dec_[3] = {dq_, dks_, dvs_};
static mt_attn_rule rule_;
static double loss_decode(float *x) {
    float out[DM * DH * DD], att[DM * DH * (DP + 1)];
    float *save = dec_[which_];
    dec_[which_] = x;
    mt_decode_attention_fwd(out, att, dec_[0], dkc_, dvc_, dec_[1], dec_[2], DM, DP, DH, DHKV, DD, &rule_);
    dec_[which_] = save;
    return dotp(out, R_, DM * DH * DD);
}
static double loss_rms(float *x) {
    float out[N * C], r[N];
    mt_rmsnorm_fwd(out, r, x, w_, N, C, 1e-6f);
    return dotp(out, R_, N * C);
}

static void numeric(double (*loss)(float *), float *x, size_t n, double *g) {
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        double h = 1e-2 * (fabs(keep) > 1 ? fabs(keep) : 1);
        x[i] = keep + (float)h;
        double lp = loss(x);
        x[i] = keep - (float)h;
        double lm = loss(x);
        x[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
}

/* f16/bf16 weights: products in blocks (MT_HALF_BLOCK is set small in main, so several blocks
 * and a ragged last one are used) equal the f32 products of the same (rounded) values; rows,
 * promotion. HN x HC x HO: rows, inner and outer dimension. */
/* type: f16, bf16 or Q8_0 (HC a multiple of 32) */
static void check_half(mt_wtype type, int HN, int HC, int HO) {
    float *x = malloc(sizeof(float) * HN * HC), *dy = malloc(sizeof(float) * HN * HO);
    float *wf = malloc(sizeof(float) * HO * HC), *b = malloc(sizeof(float) * HO);
    float *o1 = malloc(sizeof(float) * HN * HO), *o2 = malloc(sizeof(float) * HN * HO);
    float *d1 = malloc(sizeof(float) * HN * HC), *d2 = malloc(sizeof(float) * HN * HC);
    uint16_t *wh = malloc(sizeof(uint16_t) * HO * HC); /* also room for Q8_0's 34 bytes per 32 */
    char name[64];
    snprintf(name, sizeof name, "%s %dx%dx%d", type == MT_W_Q8_0 ? "q8_0" : type == MT_W_BF16 ? "bf16" : "f16", HN, HC,
             HO);
    fill(x, HN * HC, 1), fill(dy, HN * HO, 1), fill(b, HO, 1), fill(wf, HO * HC, 2);
    const int bf16 = type == MT_W_BF16;
    if (type == MT_W_Q8_0) {
        unsigned char *q = (unsigned char *)wh;
        for (int b = 0; b < HO * HC / 32; b++, q += 34) {
            const uint16_t d = mt_f32_to_f16(0.01f + 0.02f * (frand() + 1));
            q[0] = (unsigned char)(d & 0xff), q[1] = (unsigned char)(d >> 8);
            for (int j = 0; j < 32; j++) q[2 + j] = (unsigned char)(int8_t)(127 * frand());
        }
        mt_q8_0_to_f32(wf, wh, (size_t)HO * HC / 32);
    } else {
        for (int i = 0; i < HO * HC; i++) {
            wh[i] = bf16 ? mt_f32_to_bf16(wf[i]) : mt_f32_to_f16(wf[i]);
            wf[i] = bf16 ? mt_bf16_to_f32(wh[i]) : mt_f16_to_f32(wh[i]);
        }
    }
    mt_w h = {wh, type, NULL};
    double md = 0, mx = 0;
    mt_matmul_fwd(o1, x, mt_w_of(wf), b, HN, HC, HO);
    mt_matmul_fwd(o2, x, h, b, HN, HC, HO);
    for (int i = 0; i < HN * HO; i++) md = fmax(md, fabs(o1[i] - o2[i])), mx = fmax(mx, fabs(o1[i]));
    CHECK(md <= 1e-6 * mx, "%s matmul forward vs f32 of the same values: max diff %g (max %g)", name, md, mx);
    for (int acc = 0; acc < 2; acc++) {
        fill(d1, HN * HC, 1);
        memcpy(d2, d1, sizeof(float) * HN * HC);
        mt_matmul_bwd_in(d1, dy, mt_w_of(wf), HN, HC, HO, acc);
        mt_matmul_bwd_in(d2, dy, h, HN, HC, HO, acc);
        md = 0, mx = 0;
        for (int i = 0; i < HN * HC; i++) md = fmax(md, fabs(d1[i] - d2[i])), mx = fmax(mx, fabs(d1[i]));
        CHECK(md <= 1e-6 * mx, "%s matmul backward (accumulate %d) vs f32: max diff %g (max %g)", name, acc, md, mx);
    }
    mt_w_rows(h, 3, 2, HC, d1);
    CHECK(!memcmp(d1, wf + 3 * HC, sizeof(float) * 2 * HC), "%s rows convert exactly", name);
    CHECK(!mt_w_promote(&h, (size_t)HO * HC) && h.type == MT_W_F32 && h.owned &&
              !memcmp(mt_w_f32(h), wf, sizeof(float) * HO * HC),
          "%s promotion to f32 is exact", name);
    mt_w_release(&h);
    free(x), free(dy), free(wf), free(b), free(o1), free(o2), free(d1), free(d2), free(wh);
}

int main(void) {
    float x[N * C], w[OC * C], b[OC], R[N * OC > B * T * H * D ? N * OC : B * T * H * D], dx[N * C];
    double g[N * C > B * T * H * D ? N * C : B * T * H * D];
    fill(x, N * C, 1);
    fill(w, OC * C, 0.5f);
    fill(b, OC, 0.5f);
    fill(R, sizeof R / sizeof *R, 1);
    w_ = w, b_ = b, R_ = R;
    setenv("MT_HALF_BLOCK", "64", 1); /* before the first half product reads it */
    const mt_wtype types[] = {MT_W_F16, MT_W_BF16, MT_W_Q8_0};
    for (int t = 0; t < 3; t++) {
        check_half(types[t], 5, types[t] == MT_W_Q8_0 ? 64 : 37, 53); /* several blocks, a ragged last one */
        check_half(types[t], 9, 320, 1500);  /* few rows, big enough to split over the pool */
        check_half(types[t], 130, 64, 500);  /* many rows: OpenBLAS threads each block */
    }

    /* matmul: dS/dx = R . W; forward also against a naive loop */
    float out[N * OC];
    mt_matmul_fwd(out, x, mt_w_of(w), b, N, C, OC);
    double md = 0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b[o];
            for (int c = 0; c < C; c++) s += (double)x[n * C + c] * w[o * C + c];
            md = fmax(md, fabs(s - out[n * OC + o]));
        }
    CHECK(md < 1e-5, "matmul forward vs naive: max diff %g", md);
    mt_matmul_bwd_in(dx, R, mt_w_of(w), N, C, OC, 0);
    numeric(loss_matmul, x, N * C, g);
    CHECK(rel_err(dx, g, N * C) < 1e-3, "matmul backward vs finite differences: rel err %g", rel_err(dx, g, N * C));
    /* accumulate mode adds */
    float dx2[N * C];
    memcpy(dx2, dx, sizeof dx);
    mt_matmul_bwd_in(dx2, R, mt_w_of(w), N, C, OC, 1);
    md = 0;
    for (int i = 0; i < N * C; i++) md = fmax(md, fabs(dx2[i] - 2 * dx[i]));
    CHECK(md < 1e-5, "matmul backward accumulate: max diff %g", md);

    /* layernorm */
    float lw[C], lb[C], mean[N], rstd[N], lo[N * C];
    fill(lw, C, 1);
    fill(lb, C, 1);
    for (int i = 0; i < C; i++) lw[i] += 1.5f;
    w_ = lw, b_ = lb;
    mt_layernorm_fwd(lo, mean, rstd, x, lw, lb, N, C, 1e-5f);
    mt_layernorm_bwd(dx, R, x, mean, rstd, lw, N, C);
    numeric(loss_ln, x, N * C, g);
    CHECK(rel_err(dx, g, N * C) < 2e-3, "layernorm backward vs finite differences: rel err %g", rel_err(dx, g, N * C));

    /* activations */
    const char *names[] = {"gelu(erf)", "gelu(tanh)", "relu", "silu"};
    for (act_ = 0; act_ < 4; act_++) {
        float xa[N * C];
        memcpy(xa, x, sizeof xa);
        for (int i = 0; i < N * C; i++) xa[i] *= 3; /* cover the curved region */
        if (act_ == MT_ACT_RELU)
            for (int i = 0; i < N * C; i++)
                if (fabsf(xa[i]) < 0.05f) xa[i] = 0.5f; /* avoid the kink */
        mt_act_bwd(dx, R, xa, N * C, act_);
        numeric(loss_act, xa, N * C, g);
        CHECK(rel_err(dx, g, N * C) < 2e-3, "%s backward vs finite differences: rel err %g", names[act_],
              rel_err(dx, g, N * C));
    }
    /* gelu(erf) forward at known points (torch.nn.functional.gelu) */
    float gx[3] = {-1.0f, 0.5f, 2.0f}, gy[3];
    mt_act_fwd(gy, gx, 3, MT_ACT_GELU_ERF);
    CHECK(fabsf(gy[0] + 0.15865525f) < 1e-6 && fabsf(gy[1] - 0.34573123f) < 1e-6 && fabsf(gy[2] - 1.95449974f) < 1e-6,
          "gelu(erf) values %g %g %g", gy[0], gy[1], gy[2]);

    /* attention */
    const int n = B * T * H * D;
    float q[B * T * H * D], k[B * T * H * D], v[B * T * H * D], dq[B * T * H * D], dk[B * T * H * D],
        dv[B * T * H * D], ao[B * T * H * D], att[B * H * T * T];
    fill(q, n, 1.5f);
    fill(k, n, 1.5f);
    fill(v, n, 1);
    qkv_[0] = q, qkv_[1] = k, qkv_[2] = v;
    mt_attention_fwd(ao, att, q, k, v, B, T, H, D);
    mt_attention_bwd(dq, dk, dv, R, att, q, k, v, B, T, H, D);
    float *an[3] = {dq, dk, dv};
    const char *qn[3] = {"q", "k", "v"};
    for (which_ = 0; which_ < 3; which_++) {
        float xx[B * T * H * D];
        memcpy(xx, qkv_[which_], sizeof xx);
        numeric(loss_attn, xx, n, g);
        CHECK(rel_err(an[which_], g, n) < 2e-3, "attention backward d%s vs finite differences: rel err %g", qn[which_],
              rel_err(an[which_], g, n));
    }
    /* softmax rows of the attention sum to 1 */
    double s = 0;
    for (int j = 0; j < T; j++) s += att[j];
    CHECK(fabs(s - 1) < 1e-5, "attention probabilities sum to %g", s);

    /* softmax with large logits */
    float lg[4] = {1000, 1001, 999, -1e30f}, pr[4];
    mt_softmax(pr, lg, 4);
    CHECK(fabsf(pr[1] - 0.66524096f) < 1e-6 && pr[3] == 0, "softmax stable: %g %g", pr[1], pr[3]);
    /* RMSNorm */
    w_ = lw;
    mt_rmsnorm_fwd(lo, rstd, x, lw, N, C, 1e-6f);
    mt_rmsnorm_bwd(dx, R, x, rstd, lw, N, C);
    numeric(loss_rms, x, N * C, g);
    CHECK(rel_err(dx, g, N * C) < 2e-3, "rmsnorm backward vs finite differences: rel err %g", rel_err(dx, g, N * C));

    /* RoPE: a rotation (norm kept) whose inverse undoes it */
    float rv[2 * 8], rv0[2 * 8], cs[4], sn[4];
    fill(rv, 16, 1);
    memcpy(rv0, rv, sizeof rv);
    for (int i = 0; i < 4; i++) cs[i] = cosf(0.3f * (i + 1)), sn[i] = sinf(0.3f * (i + 1));
    mt_rope_apply(rv, 2, 8, cs, sn, 0);
    double n0 = dotp(rv0, rv0, 16), n1 = dotp(rv, rv, 16);
    CHECK(fabs(n0 - n1) < 1e-5, "rope keeps the norm: %g vs %g", n0, n1);
    CHECK(fabsf(rv[0] - (rv0[0] * cs[0] - rv0[4] * sn[0])) < 1e-6, "rope rotates pairs (i, i + D/2)");
    mt_rope_apply(rv, 2, 8, cs, sn, 1);
    md = 0;
    for (int i = 0; i < 16; i++) md = fmax(md, fabs(rv[i] - rv0[i]));
    CHECK(md < 1e-6, "rope inverse undoes it: %g", md);

    /* decode attention (GQA, window, ALiBi, softcap variants) against finite differences */
    float slopes[DH] = {0.5f, 0.25f, 0.125f, 0.0625f};
    mt_attn_rule rules[3] = {{0.5f, 0, 0, NULL}, {0.5f, 3, 0, slopes}, {0.5f, 0, 2.0f, NULL}};
    const char *rn[3] = {"plain", "window+alibi", "softcap"};
    for (int ri = 0; ri < 3; ri++) {
        rule_ = rules[ri];
        fill(dq_, sizeof dq_ / 4, 1.5f);
        fill(dkc_, sizeof dkc_ / 4, 1.5f);
        fill(dvc_, sizeof dvc_ / 4, 1);
        fill(dks_, sizeof dks_ / 4, 1.5f);
        fill(dvs_, sizeof dvs_ / 4, 1);
        float out[DM * DH * DD], att2[DM * DH * (DP + 1)], gq[DM * DH * DD], gk[DM * DHKV * DD], gv[DM * DHKV * DD];
        mt_decode_attention_fwd(out, att2, dq_, dkc_, dvc_, dks_, dvs_, DM, DP, DH, DHKV, DD, &rule_);
        mt_decode_attention_bwd(gq, gk, gv, R, att2, dq_, dkc_, dvc_, dks_, dvs_, DM, DP, DH, DHKV, DD, &rule_);
        float *an2[3] = {gq, gk, gv};
        size_t nn[3] = {DM * DH * DD, DM * DHKV * DD, DM * DHKV * DD};
        for (which_ = 0; which_ < 3; which_++) {
            float xx[DM * DH * DD];
            memcpy(xx, dec_[which_], nn[which_] * 4);
            numeric(loss_decode, xx, nn[which_], g);
            CHECK(rel_err(an2[which_], g, nn[which_]) < 2e-3, "decode attention (%s) backward d%s: rel err %g", rn[ri],
                  qn[which_], rel_err(an2[which_], g, nn[which_]));
        }
        /* the full causal attention's last row equals the decode attention */
        float qf[(DP + 1) * DH * DD], kf[(DP + 1) * DHKV * DD], vf[(DP + 1) * DHKV * DD], of[(DP + 1) * DH * DD];
        memcpy(kf, dkc_, sizeof dkc_);
        memcpy(vf, dvc_, sizeof dvc_);
        memcpy(kf + DP * DHKV * DD, dks_, DHKV * DD * 4);
        memcpy(vf + DP * DHKV * DD, dvs_, DHKV * DD * 4);
        fill(qf, sizeof qf / 4, 1);
        memcpy(qf + DP * DH * DD, dq_, DH * DD * 4);
        mt_causal_attention_fwd(of, qf, kf, vf, 1, DP + 1, DH, DHKV, DD, &rule_);
        md = 0;
        for (int i = 0; i < DH * DD; i++) md = fmax(md, fabs(of[DP * DH * DD + i] - out[i]));
        CHECK(md < 1e-5, "causal attention last row = decode attention (%s): %g", rn[ri], md);
    }
    return mt_test_report();
}
