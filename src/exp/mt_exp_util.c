/* What the experiments share: locate results as neuron sets, control sets, scoring a query
 * under an intervention, unrelated facts, bootstrap intervals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mt_cloze.h"
#include "mt_exp.h"
#include "mt_json.h"
#include "mt_locate.h"

/* ---------------------------------------------------------------- results */

static int add_result(mt_results *r, json_t *j, const char *what, mt_err *e) {
    int rc = mt_locate_result_check(j, what, e);
    if (rc) return rc;
    const char *id = json_string_value(json_object_get(json_object_get(j, "fact"), "id"));
    const char *method = json_string_value(json_object_get(j, "method"));
    int L = (int)json_integer_value(json_object_get(j, "n_layers")), f = (int)json_integer_value(json_object_get(j, "d_ff"));
    if (!r->method) {
        r->method = strdup(method);
        r->n_layers = L;
        r->d_ff = f;
    } else if (strcmp(r->method, method) || r->n_layers != L || r->d_ff != f) {
        return mt_fail(e, MT_EFORMAT, "%s: field 'method'/'n_layers'/'d_ff' differs from the first result's", what);
    }
    if (json_object_get(r->by_id, id)) return mt_fail(e, MT_EFORMAT, "%s: fact %s appears twice", what, id);
    json_object_set(r->by_id, id, j);
    json_array_append_new(r->order, json_string(id));
    return MT_OK;
}

int mt_results_load(const char *path, mt_results *r, mt_err *e) {
    memset(r, 0, sizeof *r);
    r->path = strdup(path);
    r->by_id = json_object();
    r->order = json_array();
    struct stat st;
    int rc = MT_OK;
    if (stat(path, &st) != 0) {
        rc = mt_fail(e, MT_EIO, "%s: cannot open", path);
    } else if (S_ISDIR(st.st_mode)) { /* a locate --out folder */
        char **names = NULL;
        size_t n = 0;
        rc = mt_locate_list(path, &names, &n, e);
        for (size_t i = 0; i < n; i++) {
            json_t *j = NULL;
            if (!rc && !(rc = mt_json_load_file(names[i], &j, e))) rc = add_result(r, j, names[i], e);
            json_decref(j);
            free(names[i]);
        }
        free(names);
    } else { /* merged JSONL */
        char *buf;
        size_t len;
        if (!(rc = mt_read_file(path, &buf, &len, e))) {
            long lineno = 0;
            for (char *p = buf, *nl; !rc && p < buf + len; p = nl + 1) {
                nl = memchr(p, '\n', (size_t)(buf + len - p));
                if (!nl) nl = buf + len;
                lineno++;
                if (nl == p) continue;
                char what[600];
                snprintf(what, sizeof what, "%.500s:%ld", path, lineno);
                json_t *j = NULL;
                if (!(rc = mt_json_load_buf(p, (size_t)(nl - p), what, &j, e))) rc = add_result(r, j, what, e);
                json_decref(j);
            }
            free(buf);
        }
    }
    if (!rc && !r->method) rc = mt_fail(e, MT_EFORMAT, "%s: no localization result inside", path);
    if (rc) mt_results_free(r);
    return rc;
}

void mt_results_free(mt_results *r) {
    free(r->path);
    free(r->method);
    json_decref(r->by_id);
    json_decref(r->order);
    memset(r, 0, sizeof *r);
}

int mt_results_set(const json_t *res, const char *lang, mt_neuron_id **ids, int *n, mt_err *e) {
    *ids = NULL;
    *n = 0;
    const json_t *a = lang ? json_object_get(json_object_get(json_object_get(res, "languages"), lang), "neurons")
                           : json_object_get(res, "lakn");
    size_t k = json_array_size(a), i;
    if (!k) return MT_OK;
    *ids = malloc(sizeof(mt_neuron_id) * k);
    if (!*ids) return mt_fail(e, MT_ENOMEM, "out of memory");
    const json_t *x;
    json_array_foreach(a, i, x)(*ids)[i] = (mt_neuron_id){(int)json_integer_value(json_object_get(x, "layer")),
                                                          (int)json_integer_value(json_object_get(x, "unit"))};
    *n = (int)k;
    return MT_OK;
}

uint64_t mt_exp_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int mt_random_like(const mt_neuron_id *set, int n, int d_ff, uint64_t seed, mt_neuron_id *out, mt_err *e) {
    uint64_t st = seed;
    for (int i = 0; i < n; i++) {
        int same_layer = 0;
        for (int j = 0; j < n; j++) same_layer += set[j].layer == set[i].layer;
        if (same_layer * 2 > d_ff) return mt_fail(e, MT_EINVAL, "layer %d: too many neurons for a random control", set[i].layer);
        for (;;) {
            int u = (int)(mt_exp_rand(&st) % (uint64_t)d_ff), clash = 0;
            for (int j = 0; j < n && !clash; j++) clash = set[j].layer == set[i].layer && set[j].unit == u;
            for (int j = 0; j < i && !clash; j++) clash = out[j].layer == set[i].layer && out[j].unit == u;
            if (!clash) {
                out[i] = (mt_neuron_id){set[i].layer, u};
                break;
            }
        }
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- scoring */

int mt_exp_prepare(const mt_model *m, const mt_tokenizer *tok, const char *query, const char *answer, mt_exp_query *q,
                   mt_err *e) {
    const mt_config *cfg = mt_model_config(m);
    memset(q, 0, sizeof *q);
    int rc = mt_cloze_make(tok, cfg, query, answer, &q->c, e);
    if (!rc) rc = mt_run_new(m, cfg->causal ? q->c.T + q->c.n_answer : q->c.T, 1, &q->r, e);
    if (rc) mt_exp_query_free(q);
    return rc;
}

void mt_exp_query_free(mt_exp_query *q) {
    mt_run_free(q->r);
    mt_cloze_free(&q->c);
    memset(q, 0, sizeof *q);
}

int mt_exp_score_query(const mt_model *m, mt_exp_query *eq, const mt_neuron_id *set, int n, float factor, mt_score *s,
                       mt_err *e) {
    const mt_config *cfg = mt_model_config(m);
    const mt_cloze *c = &eq->c;
    mt_query q = mt_cloze_query(c);
    double *prob = malloc(sizeof(double) * c->n_answer);
    int32_t *arg = malloc(sizeof(int32_t) * c->n_answer);
    mt_iv_unit *u = malloc(sizeof(mt_iv_unit) * (n > 0 ? n : 1));
    int rc = !prob || !arg || !u ? mt_fail(e, MT_ENOMEM, "out of memory") : MT_OK;
    if (!rc) {
        for (int i = 0; i < n; i++) u[i] = (mt_iv_unit){set[i].layer, set[i].unit, factor};
        int last = -1;
        mt_intervention iv = {u, n, cfg->causal ? &last : c->answer_pos, cfg->causal ? 1 : c->n_answer};
        rc = mt_run_set_intervention(m, eq->r, n > 0 ? &iv : NULL, e); /* none: clears the last one */
    }
    if (!rc) rc = mt_answer_scores_run(m, eq->r, &q, prob, arg, e);
    if (!rc) {
        double lp = 0;
        s->top1 = 1;
        for (int t = 0; t < c->n_answer; t++) {
            lp += log(prob[t]);
            s->top1 &= arg[t] == c->answer_ids[t];
        }
        s->prob = exp(lp);
        s->argmax = arg[0];
        s->n_answer = c->n_answer;
        if (!isfinite(lp) && lp != -INFINITY) rc = mt_fail(e, MT_ENUMERIC, "non-finite answer probability");
    }
    free(prob);
    free(arg);
    free(u);
    return rc;
}

int mt_exp_score(const mt_model *m, const mt_tokenizer *tok, const char *query, const char *answer,
                 const mt_neuron_id *set, int n, float factor, mt_score *s, mt_err *e) {
    mt_exp_query q;
    int rc = mt_exp_prepare(m, tok, query, answer, &q, e);
    if (!rc) rc = mt_exp_score_query(m, &q, set, n, factor, s, e);
    mt_exp_query_free(&q);
    return rc;
}

/* ---------------------------------------------------------------- facts and queries */

const json_t *mt_exp_unrelated(const mt_dataset *d, size_t i, uint64_t seed) {
    size_t n = json_array_size(d->facts);
    const char *rel = json_string_value(json_object_get(json_array_get(d->facts, i), "relation"));
    uint64_t st = seed ^ (0x51ed2701u + (uint64_t)i * 0x100000001b3ULL);
    for (int tries = 0; tries < 64 && n > 1; tries++) {
        const json_t *f = json_array_get(d->facts, (size_t)(mt_exp_rand(&st) % n));
        if (strcmp(json_string_value(json_object_get(f, "relation")), rel)) return f;
    }
    for (size_t k = 0; k < n; k++) { /* few other relations: the first one in file order */
        const json_t *f = json_array_get(d->facts, k);
        if (strcmp(json_string_value(json_object_get(f, "relation")), rel)) return f;
    }
    return NULL;
}

size_t mt_exp_queries(const json_t *fact, const char *lang, int max, const char **texts, size_t cap,
                      const char **answer) {
    const json_t *fl = json_object_get(json_object_get(fact, "langs"), lang);
    *answer = json_string_value(json_object_get(fl, "object"));
    const json_t *qs = json_object_get(fl, "queries");
    size_t n = 0, i;
    const json_t *q;
    json_array_foreach(qs, i, q) {
        if ((max > 0 && n >= (size_t)max) || n >= cap) break;
        const char *t = json_string_value(json_object_get(q, "text"));
        if (t) texts[n++] = t;
    }
    return *answer ? n : 0;
}

/* ---------------------------------------------------------------- bootstrap */

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

json_t *mt_exp_ci(const double *x, int n, int k, mt_boot_stat stat, void *ctx, int B, uint64_t seed) {
    double *mean = calloc(k, sizeof(double)), *stats = malloc(sizeof(double) * (B > 0 ? B : 1));
    json_t *out = NULL;
    if (!mean || !stats || n < 1) goto done;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) mean[j] += x[(size_t)i * k + j] / n;
    double point = stat(mean, ctx);
    int nb = 0;
    uint64_t st = seed;
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < k; j++) mean[j] = 0;
        for (int i = 0; i < n; i++) {
            size_t r = (size_t)(mt_exp_rand(&st) % (uint64_t)n);
            for (int j = 0; j < k; j++) mean[j] += x[r * k + j] / n;
        }
        double v = stat(mean, ctx);
        if (isfinite(v)) stats[nb++] = v;
    }
    qsort(stats, nb, sizeof(double), dcmp);
    out = json_object();
    json_object_set_new(out, "mean", isfinite(point) ? json_real(point) : json_null());
    if (nb > 0) {
        json_object_set_new(out, "lo", json_real(stats[(int)floor(0.025 * (nb - 1))]));
        json_object_set_new(out, "hi", json_real(stats[(int)ceil(0.975 * (nb - 1))]));
    }
done:
    free(mean);
    free(stats);
    return out ? out : json_pack("{s:n}", "mean");
}
