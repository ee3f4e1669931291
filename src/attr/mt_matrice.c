#include "mt_matrice.h"

#include <math.h>

float mt_agg_normalize(const float *attr, size_t N, float *A) {
    float mx = -INFINITY;
    for (size_t i = 0; i < N; i++)
        if (attr[i] > mx) mx = attr[i];
    if (!(mx > 0) || !isfinite(mx)) {
        for (size_t i = 0; i < N; i++) A[i] = 0;
        return mx;
    }
    const float inv = 1.0f / mx;
    for (size_t i = 0; i < N; i++) A[i] = attr[i] * inv;
    return mx;
}

double mt_agg_n_eff(const double *w, int Q) {
    double s = 0, s2 = 0;
    for (int q = 0; q < Q; q++) {
        s += w[q];
        s2 += w[q] * w[q];
    }
    return s2 > 0 ? s * s / s2 : 0;
}

int mt_agg_stats(const float *const *A, const double *w, int Q, size_t N, float *mu, float *sigma) {
    double sw = 0;
    for (int q = 0; w && q < Q; q++) sw += w[q];
    int fallback = w && !(sw > 0);
    if (!w || fallback) sw = Q;
    for (size_t i = 0; i < N; i++) {
        double m = 0;
        for (int q = 0; q < Q; q++) m += (w && !fallback ? w[q] : 1.0) * A[q][i];
        m /= sw;
        double v = 0;
        for (int q = 0; q < Q; q++) {
            double dlt = A[q][i] - m;
            v += (w && !fallback ? w[q] : 1.0) * dlt * dlt;
        }
        mu[i] = (float)m;
        sigma[i] = (float)sqrt(v / sw);
    }
    return fallback;
}

void mt_agg_lcb(const float *mu, const float *sigma, size_t N, double n_eff, double lambda, float *s) {
    const double k = n_eff > 0 ? lambda / sqrt(n_eff) : 0;
    for (size_t i = 0; i < N; i++) s[i] = (float)(mu[i] - k * sigma[i]);
}

void mt_agg_count_coarse(const float *A, size_t N, double t, int *count) {
    for (size_t i = 0; i < N; i++)
        if (A[i] > t) count[i]++;
}

int mt_agg_share_ok(int members, int total, double rho) {
    return total > 0 && members >= rho * total - 1e-9;
}
