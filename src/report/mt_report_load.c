/* Reading the report's inputs (mt_report.h): localization JSONL reduced to counts while read,
 * evaluation/generic documents kept as JSON after their fields are checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_data.h"
#include "mt_json.h"
#include "mt_report_internal.h"

const char *const rp_ci_fields[] = {"sup_rel", "sup_unrel", "enh_rel", "enh_unrel", "flip_sup", "flip_enh", "succ"};
const int rp_n_ci_fields = (int)(sizeof rp_ci_fields / sizeof *rp_ci_fields);

#define LOCATE_SCHEMA "matrice.locate.v1"
#define EVAL_SCHEMA "matrice.evaluate.v1"

/* ---------------------------------------------------------------- small helpers */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int label_taken(const mt_report *r, const char *label) {
    int taken = 0;
    for (int i = 0; i < r->n_locs; i++) taken |= !strcmp(r->locs[i]->label, label);
    for (int i = 0; i < r->n_docs; i++) taken |= !strcmp(r->docs[i]->label, label);
    return taken;
}

/* `base`; "base (file name)" when another input already uses it; then "base (path)", "base (path) #k". */
static char *unique_label(const mt_report *r, const char *base, const char *path) {
    if (!label_taken(r, base)) return mt_strdup(base);
    size_t n = strlen(base) + strlen(path) + 32;
    char *s = mt_malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "%s (%s)", base, base_name(path));
    if (label_taken(r, s)) snprintf(s, n, "%s (%s)", base, path);
    for (int k = 2; label_taken(r, s); k++) snprintf(s, n, "%s (%s) #%d", base, path, k);
    return s;
}

int rp_ci(const json_t *S, const char *field, double *mean, double *lo, double *hi) {
    *mean = *lo = *hi = NAN;
    json_t *c = json_object_get(S, field);
    if (!json_is_object(c)) return 0;
    json_t *m = json_object_get(c, "mean"), *l = json_object_get(c, "lo"), *h = json_object_get(c, "hi");
    if (json_is_number(m)) *mean = json_number_value(m);
    if (json_is_number(l)) *lo = json_number_value(l);
    if (json_is_number(h)) *hi = json_number_value(h);
    return json_is_number(m);
}

void rp_loc_free(rp_loc *l) {
    if (!l) return;
    free(l->path), free(l->label), free(l->method), free(l->model);
    for (int i = 0; i < l->nlang; i++) free(l->lang[i].code), free(l->lang[i].family), free(l->lang[i].per_fact);
    free(l->lakn_per_fact);
    free(l->lakn);
    for (int i = 0; i < l->n_reasons; i++) free(l->reasons[i]);
    for (int i = 0; i < l->n_relations; i++) free(l->relations[i]);
    free(l->relations);
    free(l->relation_facts);
    free(l);
}

void rp_doc_free(rp_doc *d) {
    if (!d) return;
    free(d->path), free(d->label), free(d->schema);
    json_decref(d->json);
    free(d);
}

/* ---------------------------------------------------------------- localization */

static int lang_index(rp_loc *l, const char *code, const char *family, const char *what, mt_err *e) {
    for (int i = 0; i < l->nlang; i++)
        if (!strcmp(l->lang[i].code, code)) {
            if (family && !strcmp(l->lang[i].family, "other")) {
                char *f = mt_strdup(family);
                if (!f) return -mt_fail(e, MT_ENOMEM, "out of memory");
                free(l->lang[i].family);
                l->lang[i].family = f;
            }
            return i;
        }
    if (l->nlang == RP_MAX_LANGS)
        return -mt_fail(e, MT_EUNSUPPORTED, "%s: field 'languages': more than %d languages", what, RP_MAX_LANGS);
    if (!family) {
        const mt_data_lang *dl = mt_data_lang_find(code);
        family = dl ? dl->family : "other";
    }
    rp_lang *g = &l->lang[l->nlang];
    memset(g, 0, sizeof *g);
    g->code = mt_strdup(code);
    g->family = mt_strdup(family);
    g->per_fact = mt_malloc(sizeof(int) * (size_t)(l->cap_facts ? l->cap_facts : 1));
    if (!g->code || !g->family || !g->per_fact) {
        free(g->code), free(g->family), free(g->per_fact);
        return -mt_fail(e, MT_ENOMEM, "out of memory");
    }
    for (int f = 0; f < l->cap_facts; f++) g->per_fact[f] = -1;
    return l->nlang++;
}

/* Makes room for one more ok fact in every per-fact array. */
static int grow_facts(rp_loc *l, mt_err *e) {
    if (l->facts < l->cap_facts) return MT_OK;
    int cap = l->cap_facts ? l->cap_facts * 2 : 64;
    int *p = mt_realloc(l->lakn_per_fact, sizeof(int) * (size_t)cap);
    if (!p) return mt_fail(e, MT_ENOMEM, "out of memory");
    l->lakn_per_fact = p;
    for (int i = 0; i < l->nlang; i++) {
        int *q = mt_realloc(l->lang[i].per_fact, sizeof(int) * (size_t)cap);
        if (!q) return mt_fail(e, MT_ENOMEM, "out of memory");
        for (int f = l->cap_facts; f < cap; f++) q[f] = -1;
        l->lang[i].per_fact = q;
    }
    l->cap_facts = cap;
    return MT_OK;
}

/* Reads a neuron {"layer":L,"unit":U,...}, checked against the model's shape when known. */
static int read_neuron(const rp_loc *l, const json_t *n, const char *what, const char *field, rp_neuron *out,
                       mt_err *e) {
    if (!json_is_object(n)) return mt_fail(e, MT_EFORMAT, "%s: field '%s': expected an object", what, field);
    json_t *L = json_object_get(n, "layer"), *U = json_object_get(n, "unit");
    if (!json_is_integer(L) || !json_is_integer(U))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s': 'layer' and 'unit' must be integers", what, field);
    json_int_t layer = json_integer_value(L), unit = json_integer_value(U);
    int max_layer = l->n_layers > 0 ? l->n_layers : RP_MAX_LAYERS;
    if (layer < 0 || layer >= max_layer)
        return mt_fail(e, MT_EFORMAT, "%s: field '%s.layer': %lld is outside [0, %d)", what, field, (long long)layer,
                       max_layer);
    if (unit < 0 || unit >= (l->d_ff > 0 ? l->d_ff : (1 << 30)))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s.unit': %lld is outside [0, %d)", what, field, (long long)unit,
                       l->d_ff > 0 ? l->d_ff : (1 << 30));
    out->layer = (int)layer;
    out->unit = (int)unit;
    return MT_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted, deduplicated; returns the new length. */
static int uniq_i64(int64_t *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!k || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static double jaccard(const int64_t *a, int na, const int64_t *b, int nb) {
    int i = 0, j = 0, inter = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) inter++, i++, j++;
        else if (a[i] < b[j]) i++;
        else j++;
    }
    int uni = na + nb - inter;
    return uni ? (double)inter / uni : NAN;
}

static int opt_int_field(const json_t *o, const char *key, const char *what, int *out, mt_err *e) {
    int64_t v = -1;
    if (mt_json_int_opt(o, key, what, &v, e)) return e->code;
    if (v != -1 && (v <= 0 || v > (1 << 30))) return mt_fail(e, MT_EFORMAT, "%s: field '%s': %lld is out of range", what, key, (long long)v);
    *out = (int)v;
    return MT_OK;
}

static int add_reason(rp_loc *l, const char *reason, mt_err *e) {
    for (int i = 0; i < l->n_reasons; i++)
        if (!strcmp(l->reasons[i], reason)) return l->reason_count[i]++, MT_OK;
    if (l->n_reasons == RP_MAX_REASONS) return MT_OK;
    if (!(l->reasons[l->n_reasons] = mt_strdup(reason))) return mt_fail(e, MT_ENOMEM, "out of memory");
    l->reason_count[l->n_reasons++] = 1;
    return MT_OK;
}

static int add_relation(rp_loc *l, const char *rel, mt_err *e) {
    for (int i = 0; i < l->n_relations; i++)
        if (!strcmp(l->relations[i], rel)) return l->relation_facts[i]++, MT_OK;
    char **r = mt_realloc(l->relations, sizeof(char *) * (size_t)(l->n_relations + 1));
    if (!r) return mt_fail(e, MT_ENOMEM, "out of memory");
    l->relations = r;
    int *c = mt_realloc(l->relation_facts, sizeof(int) * (size_t)(l->n_relations + 1));
    if (!c) return mt_fail(e, MT_ENOMEM, "out of memory");
    l->relation_facts = c;
    if (!(r[l->n_relations] = mt_strdup(rel))) return mt_fail(e, MT_ENOMEM, "out of memory");
    c[l->n_relations++] = 1;
    return MT_OK;
}

/* One per-fact result object (one JSONL line). `what` is "FILE:LINE". */
static int locate_fact(rp_loc *l, const json_t *o, const char *what, int first, mt_err *e) {
    const char *schema = NULL, *method = NULL, *model = NULL, *status = NULL, *reason = NULL;
    if (!json_is_object(o)) return mt_fail(e, MT_EFORMAT, "%s: expected a JSON object, got %s", what, mt_json_type_name(o));
    if (mt_json_str(o, "schema", what, &schema, e)) return e->code;
    if (strcmp(schema, LOCATE_SCHEMA))
        return mt_fail(e, MT_EFORMAT, "%s: field 'schema': expected '%s', got '%s'", what, LOCATE_SCHEMA, schema);
    if (mt_json_str_opt(o, "method", what, &method, e) || mt_json_str_opt(o, "model", what, &model, e) ||
        mt_json_str_opt(o, "status", what, &status, e) || mt_json_str_opt(o, "reason", what, &reason, e))
        return e->code;
    if (!method) method = "unknown";
    if (first) {
        if (!(l->method = mt_strdup(method)) || (model && !(l->model = mt_strdup(model))))
            return mt_fail(e, MT_ENOMEM, "out of memory");
    } else if (strcmp(l->method, method)) {
        return mt_fail(e, MT_EFORMAT, "%s: field 'method': '%s' differs from the file's first line ('%s'); give one file per method",
                       what, method, l->method);
    }
    int n_layers = -1, d_ff = -1;
    if (opt_int_field(o, "n_layers", what, &n_layers, e) || opt_int_field(o, "d_ff", what, &d_ff, e)) return e->code;
    if (n_layers > RP_MAX_LAYERS)
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'n_layers': %d is more than %d", what, n_layers, RP_MAX_LAYERS);
    if (n_layers > 0 && l->n_layers > 0 && n_layers != l->n_layers)
        return mt_fail(e, MT_EFORMAT, "%s: field 'n_layers': %d differs from earlier lines (%d)", what, n_layers, l->n_layers);
    if (d_ff > 0 && l->d_ff > 0 && d_ff != l->d_ff)
        return mt_fail(e, MT_EFORMAT, "%s: field 'd_ff': %d differs from earlier lines (%d)", what, d_ff, l->d_ff);
    if (n_layers > 0) l->n_layers = n_layers;
    if (d_ff > 0) l->d_ff = d_ff;

    if (status && !strcmp(status, "failed")) {
        l->failed++;
        return add_reason(l, reason ? reason : "(no reason given)", e);
    }
    if (status && strcmp(status, "ok"))
        return mt_fail(e, MT_EFORMAT, "%s: field 'status': expected 'ok' or 'failed', got '%s'", what, status);
    if (grow_facts(l, e)) return e->code;
    const int f = l->facts;

    json_t *fact = json_object_get(o, "fact");
    if (fact && !json_is_object(fact)) return mt_fail(e, MT_EFORMAT, "%s: field 'fact': expected an object", what);
    const char *rel = NULL;
    if (fact && mt_json_str_opt(fact, "relation", what, &rel, e)) return e->code;
    if (rel && add_relation(l, rel, e)) return e->code;
    double secs = NAN;
    if (mt_json_num_opt(o, "seconds", what, &secs, e)) return e->code;
    if (isfinite(secs)) l->seconds_sum += secs, l->seconds_n++;

    /* per-language neuron sets */
    json_t *langs = json_object_get(o, "languages");
    if (langs && !json_is_null(langs) && !json_is_object(langs))
        return mt_fail(e, MT_EFORMAT, "%s: field 'languages': expected an object, got %s", what, mt_json_type_name(langs));
    int idx[RP_MAX_LANGS], nset = 0, rc = MT_OK;
    int64_t *sets[RP_MAX_LANGS] = {0};
    int setn[RP_MAX_LANGS] = {0};
    const char *code;
    json_t *lv;
    char field[1400];
    json_object_foreach(langs, code, lv) {
        if (!json_is_object(lv)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: field 'languages.%s': expected an object", what, code);
            goto out;
        }
        const char *family = NULL;
        double w = NAN;
        snprintf(field, sizeof field, "languages.%s", code);
        if (mt_json_str_opt(lv, "family", what, &family, e) || mt_json_num_opt(lv, "w", what, &w, e)) {
            rc = e->code;
            goto out;
        }
        int li = lang_index(l, code, family, what, e);
        if (li < 0) {
            rc = -li;
            goto out;
        }
        rp_lang *g = &l->lang[li];
        json_t *ns = json_object_get(lv, "neurons");
        if (ns && !json_is_null(ns) && !json_is_array(ns)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: field '%s.neurons': expected an array", what, field);
            goto out;
        }
        int n = (int)json_array_size(ns);
        sets[nset] = mt_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
        if (!sets[nset]) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            goto out;
        }
        idx[nset] = li;
        for (int k = 0; k < n; k++) {
            rp_neuron nr;
            char nf[1500];
            snprintf(nf, sizeof nf, "%s.neurons[%d]", field, k);
            if ((rc = read_neuron(l, json_array_get(ns, k), what, nf, &nr, e))) {
                nset++;
                goto out;
            }
            g->hist[nr.layer] += 1;
            sets[nset][k] = (int64_t)nr.layer << 32 | (uint32_t)nr.unit;
        }
        setn[nset] = uniq_i64(sets[nset], n);
        nset++;
        g->per_fact[f] = n;
        g->n_neurons += n;
        g->facts++;
        if (isfinite(w)) g->w_sum += w, g->w_n++;
    }
    for (int a = 0; a < nset; a++)
        for (int b = a + 1; b < nset; b++) {
            double j = jaccard(sets[a], setn[a], sets[b], setn[b]);
            if (!isfinite(j)) continue; /* both empty: no overlap to speak of */
            int x = idx[a], y = idx[b];
            l->jac_sum[x][y] += j, l->jac_sum[y][x] += j;
            l->jac_n[x][y]++, l->jac_n[y][x]++;
        }

    /* queries: answer probability per language */
    json_t *qs = json_object_get(o, "queries");
    if (qs && !json_is_null(qs) && !json_is_array(qs)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'queries': expected an array", what);
        goto out;
    }
    for (size_t k = 0; k < json_array_size(qs); k++) {
        json_t *q = json_array_get(qs, k);
        const char *ql = NULL;
        double p = NAN;
        snprintf(field, sizeof field, "%s (queries[%zu])", what, k);
        if (!json_is_object(q)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: field 'queries[%zu]': expected an object", what, k);
            goto out;
        }
        if (mt_json_str_opt(q, "lang", field, &ql, e) || mt_json_num_opt(q, "prob", field, &p, e)) {
            rc = e->code;
            goto out;
        }
        if (!ql) continue;
        int li = lang_index(l, ql, NULL, what, e);
        if (li < 0) {
            rc = -li;
            goto out;
        }
        l->lang[li].queries++;
        if (json_object_get(q, "error")) l->lang[li].queries_failed++;
        if (isfinite(p)) l->lang[li].prob_sum += p, l->lang[li].prob_n++;
    }

    /* language-agnostic neurons */
    json_t *lk = json_object_get(o, "lakn");
    if (lk && !json_is_null(lk) && !json_is_array(lk)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'lakn': expected an array", what);
        goto out;
    }
    size_t nl = json_array_size(lk);
    if (l->n_lakn + nl > l->cap_lakn) {
        size_t cap = (l->n_lakn + nl) * 2 + 64;
        rp_neuron *p = mt_realloc(l->lakn, sizeof(rp_neuron) * cap);
        if (!p) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            goto out;
        }
        l->lakn = p;
        l->cap_lakn = cap;
    }
    for (size_t k = 0; k < nl; k++) {
        snprintf(field, sizeof field, "lakn[%zu]", k);
        rp_neuron nr;
        if ((rc = read_neuron(l, json_array_get(lk, k), what, field, &nr, e))) goto out;
        l->lakn[l->n_lakn++] = nr;
        l->lakn_hist[nr.layer] += 1;
    }
    l->lakn_per_fact[f] = lk ? (int)nl : -1;
    l->facts++;
out:
    for (int a = 0; a < nset; a++) free(sets[a]);
    return rc;
}

/* Layers/units beyond a shape the file did not state are inferred from the largest index. */
static void infer_shape(rp_loc *l) {
    if (l->n_layers <= 0) {
        int top = 0;
        for (int i = 0; i < l->nlang; i++)
            for (int k = 0; k < RP_MAX_LAYERS; k++)
                if (l->lang[i].hist[k] > 0 && k + 1 > top) top = k + 1;
        for (int k = 0; k < RP_MAX_LAYERS; k++)
            if (l->lakn_hist[k] > 0 && k + 1 > top) top = k + 1;
        l->n_layers = top ? top : 1;
    }
    if (l->d_ff <= 0) {
        int top = 1;
        for (size_t k = 0; k < l->n_lakn; k++)
            if (l->lakn[k].unit + 1 > top) top = l->lakn[k].unit + 1;
        l->d_ff = top;
    }
}

/* Localization results: every non-empty line of buf is one fact. */
static int load_locate(mt_report *r, const char *path, char *buf, mt_err *e) {
    rp_loc *l = mt_calloc(1, sizeof *l);
    if (!l || !(l->path = mt_strdup(path))) {
        free(l);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    int line = 0, first = 1, rc = MT_OK;
    char what[1100];
    for (char *p = buf; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        if (p[strspn(p, " \t\r")]) {
            snprintf(what, sizeof what, "%s:%d", path, line);
            json_t *o = NULL;
            if ((rc = mt_json_load_buf(p, strlen(p), what, &o, e))) break;
            rc = locate_fact(l, o, what, first, e);
            json_decref(o);
            if (rc) break;
            first = 0;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (!rc) {
        infer_shape(l);
        if (!(l->label = unique_label(r, l->method, path))) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    }
    rp_loc **a = rc ? NULL : mt_realloc(r->locs, sizeof *a * (size_t)(r->n_locs + 1));
    if (!rc && !a) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    if (rc) {
        rp_loc_free(l);
        return rc;
    }
    r->locs = a;
    r->locs[r->n_locs++] = l;
    return MT_OK;
}

/* ---------------------------------------------------------------- evaluation and other documents */

/* Checks one summary S = {n_facts, n_queries, <ci fields>}; `field` is its path for errors. */
static int check_summary(const json_t *S, const char *what, const char *field, mt_err *e) {
    if (!json_is_object(S))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s': expected an object, got %s", what, field, mt_json_type_name(S));
    const char *counts[] = {"n_facts", "n_queries"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(S, counts[i]);
        if (v && !json_is_null(v) && !json_is_number(v))
            return mt_fail(e, MT_EFORMAT, "%s: field '%s.%s': expected a number, got %s", what, field, counts[i],
                           mt_json_type_name(v));
    }
    for (int i = 0; i < rp_n_ci_fields; i++) {
        json_t *c = json_object_get(S, rp_ci_fields[i]);
        if (!c || json_is_null(c)) continue;
        if (!json_is_object(c))
            return mt_fail(e, MT_EFORMAT, "%s: field '%s.%s': expected an object {mean, lo, hi}, got %s", what, field,
                           rp_ci_fields[i], mt_json_type_name(c));
        const char *parts[] = {"mean", "lo", "hi"};
        for (int k = 0; k < 3; k++) {
            json_t *v = json_object_get(c, parts[k]);
            if (k == 0 && !v) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s.%s.mean'", what, field, rp_ci_fields[i]);
            if (v && !json_is_null(v) && !json_is_number(v))
                return mt_fail(e, MT_EFORMAT, "%s: field '%s.%s.%s': expected a number, got %s", what, field,
                               rp_ci_fields[i], parts[k], mt_json_type_name(v));
        }
    }
    return MT_OK;
}

static int check_eval(const json_t *doc, const char *what, mt_err *e) {
    json_t *methods = json_object_get(doc, "methods");
    if (!methods) return mt_fail(e, MT_EFORMAT, "%s: missing field 'methods'", what);
    if (!json_is_object(methods))
        return mt_fail(e, MT_EFORMAT, "%s: field 'methods': expected an object, got %s", what, mt_json_type_name(methods));
    const char *m, *k;
    json_t *mv, *sv;
    char field[512];
    json_object_foreach(methods, m, mv) {
        if (!json_is_object(mv)) return mt_fail(e, MT_EFORMAT, "%s: field 'methods.%s': expected an object", what, m);
        json_t *ov = json_object_get(mv, "overall");
        snprintf(field, sizeof field, "methods.%s.overall", m);
        if (ov && check_summary(ov, what, field, e)) return e->code;
        const char *groups[] = {"by_lang", "by_relation"};
        for (int g = 0; g < 2; g++) {
            json_t *gv = json_object_get(mv, groups[g]);
            if (!gv || json_is_null(gv)) continue;
            if (!json_is_object(gv))
                return mt_fail(e, MT_EFORMAT, "%s: field 'methods.%s.%s': expected an object", what, m, groups[g]);
            json_object_foreach(gv, k, sv) {
                snprintf(field, sizeof field, "methods.%s.%s.%s", m, groups[g], k);
                if (check_summary(sv, what, field, e)) return e->code;
            }
        }
    }
    return MT_OK;
}

static int add_doc(mt_report *r, rp_doc_kind kind, const char *path, const char *schema, json_t *j, mt_err *e) {
    rp_doc *d = mt_calloc(1, sizeof *d);
    rp_doc **a = d ? mt_realloc(r->docs, sizeof *a * (size_t)(r->n_docs + 1)) : NULL;
    if (a) r->docs = a;
    if (!d || !a || !(d->path = mt_strdup(path)) || !(d->schema = mt_strdup(schema)) ||
        !(d->label = unique_label(r, base_name(path), path))) {
        rp_doc_free(d);
        json_decref(j);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    d->kind = kind;
    d->json = j;
    r->docs[r->n_docs++] = d;
    return MT_OK;
}

/* A whole-file JSON document: dispatch on its "schema". Takes ownership of j. */
static int load_doc(mt_report *r, const char *path, char *buf, json_t *j, mt_err *e) {
    if (!json_is_object(j)) {
        mt_fail(e, MT_EFORMAT, "%s: expected a JSON object, got %s", path, mt_json_type_name(j));
        json_decref(j);
        return e->code;
    }
    json_t *s = json_object_get(j, "schema");
    const char *sv = json_string_value(s);
    if ((!s && json_object_get(j, "layer_histogram")) || (sv && !strncmp(sv, "matrice.locate.summary.", 23)))
        /* matrice merge's OUT.summary.json */
        return add_doc(r, RP_SUMMARY, path, "matrice merge summary", j, e);
    int rc = MT_OK;
    if (!s) rc = mt_fail(e, MT_EFORMAT, "%s: missing field 'schema' (not a matrice result file)", path);
    else if (!json_is_string(s))
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'schema': expected a string, got %s", path, mt_json_type_name(s));
    if (rc) {
        json_decref(j);
        return rc;
    }
    const char *schema = json_string_value(s);
    if (!strcmp(schema, LOCATE_SCHEMA)) { /* a single fact: the JSONL reader handles it */
        json_decref(j);
        return load_locate(r, path, buf, e);
    }
    if (!strcmp(schema, EVAL_SCHEMA)) {
        if (check_eval(j, path, e)) {
            json_decref(j);
            return e->code;
        }
        return add_doc(r, RP_EVAL, path, schema, j, e);
    }
    if (!strncmp(schema, "matrice.", 8)) return add_doc(r, RP_GENERIC, path, schema, j, e);
    mt_fail(e, MT_EFORMAT, "%s: field 'schema': unknown schema '%s'", path, schema);
    json_decref(j);
    return e->code;
}

int rp_load_file(mt_report *r, const char *path, mt_err *e) {
    char *buf = NULL;
    size_t len = 0;
    int rc = mt_read_file(path, &buf, &len, e);
    if (rc) return rc;
    if (!buf[strspn(buf, " \t\r\n")]) {
        free(buf);
        return mt_fail(e, MT_EFORMAT, "%s: empty file", path);
    }
    json_t *j = NULL;
    mt_err whole = {0};
    if (!mt_json_load_buf(buf, len, path, &j, &whole)) {
        rc = load_doc(r, path, buf, j, e);
        free(buf);
        return rc;
    }
    /* Not one document: JSONL of localization results if its first line says so; otherwise the
     * whole-file parse error is the one to report. */
    char *p = buf + strspn(buf, " \t\r\n");
    char *nl = strchr(p, '\n');
    size_t n1 = nl ? (size_t)(nl - p) : strlen(p);
    json_t *first = json_loadb(p, n1, JSON_DECODE_ANY, NULL);
    const char *schema = json_string_value(json_object_get(first, "schema"));
    int is_locate = schema && !strcmp(schema, LOCATE_SCHEMA);
    json_decref(first);
    if (is_locate) rc = load_locate(r, path, buf, e);
    else {
        *e = whole;
        rc = whole.code;
    }
    free(buf);
    return rc;
}
