/* Aggregating per-query attributions into per-language knowledge neurons and language-agnostic
 * knowledge neurons (METHOD.md sections 1, 2 and 3.2-3.3). Pure arithmetic over dense score
 * arrays of N = n_layers * d_ff neurons; no model here, so every formula is unit-tested
 * against hand-computed values.
 *
 * Choices the method page leaves open, fixed here (and documented in docs/LOCATE.md):
 * - weighted standard deviation is the population form sqrt(sum w (x - mu)^2 / sum w);
 * - weights that sum to zero (every query unknown to the model, P underflows) fall back to
 *   equal weights, and the caller records that it happened;
 * - a query whose largest attribution is <= 0 normalises to all zeros (it points at nothing). */
#ifndef MT_MATRICE_H
#define MT_MATRICE_H

#include <stddef.h>

/* A[i] = attr[i] / max(attr); all zeros when max <= 0 or not finite. Returns the max. */
float mt_agg_normalize(const float *attr, size_t N, float *A);

/* Effective number of samples (sum w)^2 / sum w^2 (0 when sum w^2 == 0). */
double mt_agg_n_eff(const double *w, int Q);

/* Weighted mean and population standard deviation over Q rows A[q][N] with weights w[q]
 * (NULL: equal weights). Returns 1 when the weights summed to zero and equal ones were used. */
int mt_agg_stats(const float *const *A, const double *w, int Q, size_t N, float *mu, float *sigma);

/* The uncertainty-penalised score (a lower confidence bound): mu - lambda sigma / sqrt(n_eff). */
void mt_agg_lcb(const float *mu, const float *sigma, size_t N, double n_eff, double lambda, float *s);

/* KN/AMIG refinement: count[i] += 1 for every row where A[q][i] > t (coarse neurons). */
void mt_agg_count_coarse(const float *A, size_t N, double t, int *count);

/* The sharing rule: whether `members` of `total` reaches the fraction rho (with a 1e-9 slack so
 * that rho = 0.7 of 10 means 7). */
int mt_agg_share_ok(int members, int total, double rho);

#endif
