/* One fact: attribute every query (SAIG: IG with teacher forcing, mt_ig.c), normalise, weigh by
 * confidence, aggregate per language and across languages (mt_matrice.c), and describe it all
 * as one JSON result. The dataset loop, resume and merge are in mt_locate_run.c. */
#include "mt_locate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_cloze.h"
#include "mt_kernels.h"
#include "mt_matrice.h"
#include "mt_npy.h"

void mt_loc_opts_default(mt_loc_opts *o, mt_loc_method method) {
    memset(o, 0, sizeof *o);
    o->method = method;
    mt_ig_opts_default(&o->ig);
    o->ig.baseline = method == MT_LOC_KN ? MT_BASELINE_ZERO : MT_BASELINE_AMIG;
    o->threshold = 0.2;
    o->share = 0.7;
    o->lambda_q = 1;
    o->lambda_l = 1;
    o->rho = 1;
    o->confidence = MT_CONF_PROB;
    o->max_queries = method == MT_LOC_AMIG ? 1 : 0;
    o->top = 20;
}

const char *mt_loc_method_name(mt_loc_method m) {
    return m == MT_LOC_KN ? "kn" : m == MT_LOC_AMIG ? "amig" : "matrice";
}

static const char *conf_name(mt_conf_kind c) {
    return c == MT_CONF_PROB ? "prob" : c == MT_CONF_ENTROPY ? "entropy" : "none";
}

json_t *mt_loc_opts_json(const mt_loc_opts *o) {
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:s, s:i, s:i}", "method",
                     mt_loc_method_name(o->method), "baseline", o->ig.baseline == MT_BASELINE_AMIG ? "amig" : "zero",
                     "multiplier", o->ig.multiplier == MT_MULT_DELTA ? "delta" : "activation", "steps", o->ig.steps,
                     "target", o->ig.logprob ? "logprob" : "prob", "neuron", mt_neuron_name(o->ig.neuron), "threshold",
                     o->threshold, "share", o->share, "lambda_q", o->lambda_q, "lambda_l", o->lambda_l, "rho", o->rho,
                     "confidence", conf_name(o->confidence), "max_queries", o->max_queries, "top", o->top);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* c_q = 1 - H/log|V| of the next-token distribution at the first answer slot (other slots
 * gold for masked LMs; the prompt's last position for causal LMs). */
static int entropy_confidence(const mt_model *m, const mt_query *q, double *c, mt_err *e) {
    const mt_config *cfg = mt_model_config(m);
    const int V = cfg->vocab_size;
    int32_t *ids = malloc(sizeof(int32_t) * q->T);
    float *logits = malloc(sizeof(float) * V), *p = malloc(sizeof(float) * V);
    mt_run *r = NULL;
    int rc = !ids || !logits || !p ? mt_fail(e, MT_ENOMEM, "out of memory") : MT_OK;
    int pos = q->T - 1;
    if (!rc) {
        memcpy(ids, q->ids, sizeof(int32_t) * q->T);
        if (!cfg->causal) {
            for (int s = 0; s < q->n_answer; s++) ids[q->answer_pos[s]] = s ? q->answer_ids[s] : q->mask_id;
            pos = q->answer_pos[0];
        }
        rc = mt_run_new(m, q->T, 1, &r, e);
    }
    if (!rc) rc = mt_forward(m, r, ids, q->types, q->T, e);
    if (!rc) rc = mt_head_logits(m, r, pos, logits, e);
    if (!rc) {
        mt_softmax(p, logits, V);
        double H = 0;
        for (int i = 0; i < V; i++)
            if (p[i] > 0) H -= p[i] * log(p[i]);
        *c = 1 - H / log(V);
        if (!isfinite(*c)) rc = mt_fail(e, MT_ENUMERIC, "non-finite next-token entropy");
    }
    mt_run_free(r);
    free(ids);
    free(logits);
    free(p);
    return rc;
}

typedef struct {
    int layer, unit;
    float v;
} scored;

static int scored_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->layer != y->layer ? x->layer - y->layer : x->unit - y->unit;
}

/* The k largest of v[N] as [[layer, unit, v], ...], ties by position. */
static json_t *top_json(const float *v, size_t N, int f, int k) {
    scored *best = malloc(sizeof(scored) * (size_t)(k + 1));
    int n = 0;
    for (size_t i = 0; best && i < N; i++) {
        if (n == k && !(v[i] > best[n - 1].v)) continue;
        int j = n < k ? n++ : n - 1;
        while (j > 0 && v[i] > best[j - 1].v) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = (scored){(int)(i / f), (int)(i % f), v[i]};
    }
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_pack("[i, i, f]", best[i].layer, best[i].unit, (double)best[i].v));
    free(best);
    return a;
}

/* One query: IG, normalised scores into A, confidence. MT_EINVAL: the query cannot be used
 * (recorded in qj as "error"); MT_ENUMERIC: the fact fails; other codes are fatal. */
static int run_query(const mt_model *m, const mt_tokenizer *tok, const mt_loc_opts *o, const char *text,
                     const char *answer, const char *npy, const char *reuse, json_t *qj, float *A, double *conf,
                     mt_err *e) {
    const mt_config *cfg = mt_model_config(m);
    const size_t N = (size_t)cfg->n_layers * cfg->d_ff;
    mt_cloze c = {0};
    mt_ig_result res = {0};
    int rc = mt_cloze_make(tok, cfg, text, answer, &c, e);
    if (rc) goto done;
    mt_query q = mt_cloze_query(&c);
    if (reuse && mt_file_exists(reuse)) { /* scores of an earlier run: only the probabilities are recomputed */
        int nd;
        int64_t shape[8];
        if ((rc = mt_npy_read_f32(reuse, &res.scores, &nd, shape, e))) goto done;
        if (nd != 2 || shape[0] != cfg->n_layers || shape[1] != cfg->d_ff) {
            rc = mt_fail(e, MT_EFORMAT, "%s: shape is not [%d, %d]", reuse, cfg->n_layers, cfg->d_ff);
            goto done;
        }
        res.prob = calloc(c.n_answer, sizeof(double));
        if (!res.prob) rc = mt_fail(e, MT_ENOMEM, "out of memory");
        else rc = mt_answer_probs(m, &q, res.prob, e);
        if (rc) goto done;
        json_object_set_new(qj, "reused", json_true());
    } else if ((rc = mt_ig_attribute(m, &q, &o->ig, &res, e))) {
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        if (!isfinite(res.scores[i])) {
            rc = mt_fail(e, MT_ENUMERIC, "layer %d: non-finite attribution of unit %d", (int)(i / cfg->d_ff),
                         (int)(i % cfg->d_ff));
            goto done;
        }
    double lp = 0;
    for (int t = 0; t < c.n_answer; t++) lp += log(res.prob[t]);
    double prob = exp(lp);
    if (o->confidence == MT_CONF_PROB) *conf = exp(lp / c.n_answer); /* geometric mean per token */
    else if (o->confidence == MT_CONF_NONE) *conf = 1;
    else if ((rc = entropy_confidence(m, &q, conf, e))) goto done;
    float mx = mt_agg_normalize(res.scores, N, A);
    if (npy) {
        int64_t shape[2] = {cfg->n_layers, cfg->d_ff};
        if ((rc = mt_npy_write_f32(npy, res.scores, 2, shape, e))) goto done;
    }
    json_object_set_new(qj, "n_answer", json_integer(c.n_answer));
    json_object_set_new(qj, "prob", json_real(prob));
    json_object_set_new(qj, "confidence", json_real(*conf));
    json_object_set_new(qj, "max_attr", json_real(isfinite(mx) ? mx : 0));
    json_object_set_new(qj, "seconds", json_real(res.seconds));
    json_object_set_new(qj, "top", top_json(A, N, cfg->d_ff, o->top));
done:
    mt_cloze_free(&c);
    mt_ig_result_free(&res);
    return rc;
}

/* A language's queries: at most max_queries, in file order. */
static const json_t *lang_queries(const json_t *fl, int max_q, size_t *n) {
    const json_t *qs = json_object_get(fl, "queries");
    *n = json_is_array(qs) ? json_array_size(qs) : 0;
    if (max_q > 0 && *n > (size_t)max_q) *n = (size_t)max_q;
    return qs;
}

/* The neurons of a language (or the LAKNs) above their rule, best first. */
static json_t *neuron_list(const float *score, const unsigned char *keep, size_t N, int f, const float *mu,
                           const float *sigma, const int *count, int count_of, const char *score_key) {
    size_t n = 0;
    for (size_t i = 0; i < N; i++) n += keep[i] != 0;
    scored *s = malloc(sizeof(scored) * (n ? n : 1));
    json_t *a = json_array();
    if (!s) return a;
    n = 0;
    for (size_t i = 0; i < N; i++)
        if (keep[i]) s[n++] = (scored){(int)(i / f), (int)(i % f), score[i]};
    qsort(s, n, sizeof *s, scored_desc);
    for (size_t k = 0; k < n; k++) {
        size_t i = (size_t)s[k].layer * f + s[k].unit;
        json_t *o = json_pack("{s:i, s:i, s:f}", "layer", s[k].layer, "unit", s[k].unit, score_key, (double)score[i]);
        if (mu) json_object_set_new(o, "mu", json_real(mu[i]));
        if (sigma) json_object_set_new(o, "sigma", json_real(sigma[i]));
        if (count) json_object_set_new(o, count_of ? "share" : "languages",
                                       count_of ? json_real((double)count[i] / count_of) : json_integer(count[i]));
        json_array_append_new(a, o);
    }
    free(s);
    return a;
}

static json_t *labels(const json_t *fact, const char *const *langs, int n_langs, const char *key) {
    json_t *o = json_object();
    const json_t *fl = json_object_get(fact, "langs");
    for (int i = 0; i < n_langs; i++) {
        const json_t *v = json_object_get(json_object_get(fl, langs[i]), key);
        if (json_is_string(v)) json_object_set(o, langs[i], (json_t *)v);
    }
    return o;
}

typedef struct {
    float **A;      /* usable queries' normalised scores */
    double *c;      /* their confidences */
    int n, cap;
} qset;

int mt_locate_fact(const mt_model *m, const mt_tokenizer *tok, const json_t *fact, const char *const *langs,
                   int n_langs, const mt_loc_opts *o, const mt_loc_hooks *h, json_t **out, mt_err *e) {
    const mt_config *cfg = mt_model_config(m);
    const int f = cfg->d_ff;
    const size_t N = (size_t)cfg->n_layers * f;
    const double t0 = now();
    const char *id = json_string_value(json_object_get(fact, "id"));
    const json_t *flangs = json_object_get(fact, "langs");
    *out = NULL;
    json_t *r = json_object(), *queries = json_array(), *jl = json_object(), *missing = json_array();
    json_object_set_new(r, "schema", json_string(MT_LOCATE_SCHEMA));
    json_object_set_new(r, "fact", json_pack("{s:s, s:s?, s:o, s:o}", "id", id ? id : "?", "relation",
                                             json_string_value(json_object_get(fact, "relation")), "subject",
                                             labels(fact, langs, n_langs, "subject"), "object",
                                             labels(fact, langs, n_langs, "object")));
    json_object_set_new(r, "method", json_string(mt_loc_method_name(o->method)));
    json_object_set_new(r, "options", mt_loc_opts_json(o));
    json_object_set_new(r, "n_layers", json_integer(cfg->n_layers));
    json_object_set_new(r, "d_ff", json_integer(f));

    qset *qs = calloc(n_langs, sizeof(qset));
    float **s_l = calloc(n_langs, sizeof(float *)); /* per language score (s_l or mean A) */
    unsigned char **K = calloc(n_langs, sizeof(unsigned char *));
    double *w_l = calloc(n_langs, sizeof(double));
    float *mu = malloc(sizeof(float) * N), *sigma = malloc(sizeof(float) * N), *S = malloc(sizeof(float) * N);
    int *count = malloc(sizeof(int) * N), *members = calloc(N, sizeof(int));
    unsigned char *keep = malloc(N);
    const char *reason = NULL;
    char reason_buf[MT_ERR_MAX + 64];
    int rc = !qs || !s_l || !K || !w_l || !mu || !sigma || !S || !count || !members || !keep
                 ? mt_fail(e, MT_ENOMEM, "out of memory")
                 : MT_OK;

    /* attribution of every query */
    for (int li = 0; li < n_langs && !rc && !reason; li++) {
        const json_t *fl = json_object_get(flangs, langs[li]);
        const char *answer = json_string_value(json_object_get(fl, "object"));
        size_t nq;
        const json_t *qa = lang_queries(fl, o->max_queries, &nq);
        qs[li].A = calloc(nq ? nq : 1, sizeof(float *));
        qs[li].c = calloc(nq ? nq : 1, sizeof(double));
        if (!qs[li].A || !qs[li].c) rc = mt_fail(e, MT_ENOMEM, "out of memory");
        for (size_t k = 0; k < nq && !rc; k++) {
            if (h && h->stop && *h->stop) {
                rc = mt_fail(e, MT_EINTERRUPTED, "interrupted during fact %s", id ? id : "?");
                break;
            }
            const json_t *qj = json_array_get(qa, k);
            const char *text = json_string_value(json_object_get(qj, "text"));
            const char *tid = json_string_value(json_object_get(qj, "tid"));
            json_t *rec = json_pack("{s:s, s:s?, s:s?, s:s?}", "lang", langs[li], "tid", tid, "query", text, "answer", answer);
            json_array_append_new(queries, rec);
            float *A = malloc(sizeof(float) * N);
            if (!A) {
                rc = mt_fail(e, MT_ENOMEM, "out of memory");
                break;
            }
            char *npy = NULL, *reuse = NULL, nm[64];
            snprintf(nm, sizeof nm, "%s-%zu.npy", langs[li], k);
            if (h && h->scores_dir) npy = mt_path_join(h->scores_dir, nm);
            if (h && h->reuse_dir) reuse = mt_path_join(h->reuse_dir, nm);
            double c = 0;
            mt_err qe = {0};
            int qrc = !text || !answer ? mt_fail(&qe, MT_EINVAL, "query %zu has no text or the language no object", k)
                                       : run_query(m, tok, o, text, answer, npy, reuse, rec, A, &c, &qe);
            free(npy);
            free(reuse);
            if (h && h->query_done) h->query_done(h->ctx);
            if (qrc == MT_OK) {
                qs[li].A[qs[li].n] = A;
                qs[li].c[qs[li].n++] = c;
                continue;
            }
            free(A);
            if (qrc == MT_EINVAL) {
                json_object_set_new(rec, "error", json_string(qe.msg));
            } else if (qrc == MT_ENUMERIC) {
                snprintf(reason_buf, sizeof reason_buf, "%s query %zu: %s", langs[li], k, qe.msg);
                reason = reason_buf;
            } else {
                *e = qe;
                rc = qrc;
            }
        }
    }

    /* per language */
    int n_used = 0;
    for (int li = 0; li < n_langs && !rc && !reason; li++) {
        const json_t *fl = json_object_get(flangs, langs[li]);
        json_t *lj = json_pack("{s:s?, s:i}", "family", json_string_value(json_object_get(fl, "family")), "n_queries",
                               qs[li].n);
        json_object_set_new(jl, langs[li], lj);
        if (qs[li].n == 0) {
            json_array_append_new(missing, json_string(langs[li]));
            json_object_set_new(lj, "error", json_string("no usable query"));
            continue;
        }
        const int Q = qs[li].n;
        s_l[n_used] = malloc(sizeof(float) * N);
        K[n_used] = malloc(N);
        if (!s_l[n_used] || !K[n_used]) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            break;
        }
        double w = 0;
        for (int q = 0; q < Q; q++) w += qs[li].c[q];
        w_l[n_used] = w / Q;
        json_object_set_new(lj, "w", json_real(w_l[n_used]));
        if (o->method == MT_LOC_MATRICE) {
            int fb = mt_agg_stats((const float *const *)qs[li].A, qs[li].c, Q, N, mu, sigma);
            double ne = fb ? Q : mt_agg_n_eff(qs[li].c, Q);
            mt_agg_lcb(mu, sigma, N, ne, o->lambda_q, s_l[n_used]);
            for (size_t i = 0; i < N; i++) K[n_used][i] = s_l[n_used][i] > o->threshold;
            json_object_set_new(lj, "n_eff", json_real(ne));
            if (fb) json_object_set_new(lj, "weights_fallback", json_true());
            json_object_set_new(lj, "neurons", neuron_list(s_l[n_used], K[n_used], N, f, mu, sigma, NULL, 0, "score"));
        } else {
            memset(count, 0, sizeof(int) * N);
            for (int q = 0; q < Q; q++) mt_agg_count_coarse(qs[li].A[q], N, o->threshold, count);
            mt_agg_stats((const float *const *)qs[li].A, NULL, Q, N, s_l[n_used], sigma);
            for (size_t i = 0; i < N; i++) K[n_used][i] = mt_agg_share_ok(count[i], Q, o->share);
            json_object_set_new(lj, "neurons", neuron_list(s_l[n_used], K[n_used], N, f, NULL, NULL, count, Q, "score"));
        }
        for (size_t i = 0; i < N; i++) members[i] += K[n_used][i];
        n_used++;
    }

    /* across languages */
    if (!rc && !reason && n_used == 0) {
        snprintf(reason_buf, sizeof reason_buf, "no language has a usable query");
        for (size_t k = 0; k < json_array_size(queries); k++) {
            const char *qe = json_string_value(json_object_get(json_array_get(queries, k), "error"));
            if (qe) {
                snprintf(reason_buf, sizeof reason_buf, "no language has a usable query (first: %s)", qe);
                break;
            }
        }
        reason = reason_buf;
    }
    if (!rc && !reason) {
        if (o->method == MT_LOC_MATRICE) {
            int fb = mt_agg_stats((const float *const *)s_l, w_l, n_used, N, mu, sigma);
            double ne = fb ? n_used : mt_agg_n_eff(w_l, n_used);
            mt_agg_lcb(mu, sigma, N, ne, o->lambda_l, S);
            for (size_t i = 0; i < N; i++) keep[i] = S[i] > o->threshold && mt_agg_share_ok(members[i], n_used, o->rho);
            json_object_set_new(r, "n_eff_languages", json_real(ne));
        } else {
            mt_agg_stats((const float *const *)s_l, NULL, n_used, N, S, sigma);
            for (size_t i = 0; i < N; i++) keep[i] = mt_agg_share_ok(members[i], n_used, o->rho);
        }
        json_object_set_new(r, "status", json_string("ok"));
        json_object_set_new(r, "languages_used", json_integer(n_used));
        json_object_set_new(r, "languages_missing", missing);
        missing = NULL;
        json_object_set_new(r, "queries", queries);
        json_object_set_new(r, "languages", jl);
        json_object_set_new(r, "lakn", neuron_list(S, keep, N, f, NULL, NULL, members, 0, "S"));
        queries = jl = NULL;
    } else if (!rc) {
        json_object_set_new(r, "status", json_string("failed"));
        json_object_set_new(r, "reason", json_string(reason));
        json_object_set_new(r, "queries", queries);
        queries = NULL;
    }
    json_object_set_new(r, "seconds", json_real(now() - t0));
    for (int li = 0; qs && li < n_langs; li++) {
        for (int q = 0; q < qs[li].n; q++) free(qs[li].A[q]);
        free(qs[li].A);
        free(qs[li].c);
    }
    for (int li = 0; li < n_langs && s_l && K; li++) {
        free(s_l[li]);
        free(K[li]);
    }
    free(qs);
    free(s_l);
    free(K);
    free(w_l);
    free(mu);
    free(sigma);
    free(S);
    free(count);
    free(members);
    free(keep);
    json_decref(queries);
    json_decref(jl);
    json_decref(missing);
    if (rc) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return MT_OK;
}
