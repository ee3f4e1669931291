/* `matrice merge`: result folders -> one JSONL (a fact per line, sorted by id) + a summary:
 * facts, failures, neurons per language, LAKNs per fact, layer histograms, seconds per query. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "mt_afile.h"
#include "mt_locate.h"

typedef struct {
    const char *id;
    char *path;
    json_t *r;
} item;

static int item_cmp(const void *a, const void *b) { return strcmp(((const item *)a)->id, ((const item *)b)->id); }

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int mt_locate_list(const char *dir, char ***names, size_t *n, mt_err *e) {
    char *fd = mt_path_join(dir, "facts");
    DIR *d = fd ? opendir(fd) : NULL;
    *names = NULL;
    *n = 0;
    if (!d) {
        int rc = mt_fail(e, MT_EIO, "%s: not a result folder of matrice locate (no facts/ inside)", dir);
        free(fd);
        return rc;
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = MT_OK;
    while ((de = readdir(d)) && !rc) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json")) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(*names, cap * sizeof(char *));
            if (!nn) {
                rc = mt_fail(e, MT_ENOMEM, "out of memory");
                break;
            }
            *names = nn;
        }
        if (!((*names)[(*n)++] = mt_path_join(fd, de->d_name))) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    }
    closedir(d);
    free(fd);
    if (!rc) qsort(*names, *n, sizeof(char *), name_cmp);
    return rc;
}

static void drop_seconds(json_t *r) {
    json_object_del(r, "seconds");
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(r, "queries"), i, q) json_object_del(q, "seconds");
}

static void hist_add(json_t *hist, const char *key, const json_t *neurons, int L) {
    json_t *h = json_object_get(hist, key);
    if (!h) {
        h = json_array();
        for (int l = 0; l < L; l++) json_array_append_new(h, json_integer(0));
        json_object_set_new(hist, key, h);
    }
    size_t i;
    const json_t *n;
    json_array_foreach(neurons, i, n) {
        int l = (int)json_integer_value(json_object_get(n, "layer"));
        json_t *c = json_array_get(h, l);
        if (c) json_integer_set(c, json_integer_value(c) + 1);
    }
}

static json_t *summary(item *it, size_t n, int no_timings) {
    json_t *langs = json_array(), *npl = json_object(), *nfl = json_object(), *hist = json_object();
    long failed = 0, ok = 0, lakn = 0, with_lakn = 0, queries = 0, qfailed = 0;
    double qsec = 0;
    int L = n ? (int)json_integer_value(json_object_get(it[0].r, "n_layers")) : 0;
    for (size_t k = 0; k < n; k++) {
        json_t *r = it[k].r;
        size_t i;
        json_t *q;
        json_array_foreach(json_object_get(r, "queries"), i, q) {
            if (json_object_get(q, "error")) {
                qfailed++;
                continue;
            }
            queries++;
            qsec += json_number_value(json_object_get(q, "seconds"));
        }
        if (strcmp(json_string_value(json_object_get(r, "status")), "ok")) {
            failed++;
            continue;
        }
        ok++;
        size_t nl = json_array_size(json_object_get(r, "lakn"));
        lakn += (long)nl;
        with_lakn += nl > 0;
        hist_add(hist, "lakn", json_object_get(r, "lakn"), L);
        const char *code;
        json_t *lj;
        json_object_foreach(json_object_get(r, "languages"), code, lj) {
            const json_t *ns = json_object_get(lj, "neurons");
            if (!ns) continue;
            int seen = 0;
            json_t *c;
            json_array_foreach(langs, i, c) seen |= !strcmp(json_string_value(c), code);
            if (!seen) json_array_append_new(langs, json_string(code));
            json_t *s = json_object_get(npl, code), *cnt = json_object_get(nfl, code);
            json_object_set_new(npl, code, json_integer((s ? json_integer_value(s) : 0) + (json_int_t)json_array_size(ns)));
            json_object_set_new(nfl, code, json_integer((cnt ? json_integer_value(cnt) : 0) + 1));
            hist_add(hist, code, ns, L);
        }
    }
    const char *code;
    json_t *v;
    json_object_foreach(npl, code, v) {
        json_int_t c = json_integer_value(json_object_get(nfl, code));
        json_object_set_new(npl, code, json_real(c ? (double)json_integer_value(v) / c : 0));
    }
    json_decref(nfl);
    json_t *s = json_pack("{s:s, s:I, s:I, s:s?, s:O?, s:i, s:o, s:I, s:I, s:o, s:f, s:I, s:o}", "schema",
                          "matrice.locate.summary.v1", "facts", (json_int_t)n, "failed", (json_int_t)failed, "method",
                          n ? json_string_value(json_object_get(it[0].r, "method")) : NULL, "options",
                          n ? json_object_get(it[0].r, "options") : NULL, "n_layers", L, "languages", langs, "queries",
                          (json_int_t)queries, "queries_failed", (json_int_t)qfailed, "neurons_per_language", npl,
                          "lakn_per_fact", ok ? (double)lakn / ok : 0.0, "facts_with_lakn", (json_int_t)with_lakn,
                          "layer_histogram", hist);
    if (!no_timings) json_object_set_new(s, "seconds_per_query", json_real(queries ? qsec / queries : 0));
    return s;
}

int mt_locate_merge(const char *const *dirs, int n_dirs, const char *out_path, int no_timings, mt_loc_merge_info *info,
                    mt_err *e) {
    item *it = NULL;
    size_t n = 0, cap = 0;
    int rc = MT_OK;
    for (int d = 0; d < n_dirs && !rc; d++) {
        char **names;
        size_t nn;
        if ((rc = mt_locate_list(dirs[d], &names, &nn, e))) break;
        for (size_t k = 0; k < nn; k++) {
            json_t *r = NULL;
            if (!rc && !(rc = mt_locate_result_load(names[k], &r, e))) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 256;
                    item *ni = realloc(it, cap * sizeof(item));
                    if (!ni) rc = mt_fail(e, MT_ENOMEM, "out of memory");
                    else it = ni;
                }
                if (!rc) {
                    it[n++] = (item){json_string_value(json_object_get(json_object_get(r, "fact"), "id")), names[k], r};
                    names[k] = NULL;
                } else {
                    json_decref(r);
                }
            }
            free(names[k]);
        }
        free(names);
    }
    if (!rc && n == 0) rc = mt_fail(e, MT_EINVAL, "%s: no finished result to merge", n_dirs ? dirs[0] : "?");
    for (size_t k = 1; k < n && !rc; k++)
        if (!json_equal(json_object_get(it[k].r, "options"), json_object_get(it[0].r, "options")))
            rc = mt_fail(e, MT_EINVAL, "%s: field 'options' differs from %s's (results of different runs)", it[k].path,
                         it[0].path);
    if (!rc) qsort(it, n, sizeof(item), item_cmp);
    for (size_t k = 1; k < n && !rc; k++)
        if (!strcmp(it[k].id, it[k - 1].id))
            rc = mt_fail(e, MT_EINVAL, "fact %s is in %s and in %s", it[k].id, it[k - 1].path, it[k].path);
    mt_afile a = {0};
    if (!rc) rc = mt_afile_open(&a, out_path, e);
    for (size_t k = 0; k < n && !rc; k++) {
        if (no_timings) drop_seconds(it[k].r);
        if (json_dumpf(it[k].r, a.f, JSON_COMPACT | JSON_REAL_PRECISION(7)) || fputc('\n', a.f) == EOF)
            rc = mt_fail(e, MT_EIO, "%s: write failed", out_path);
    }
    json_t *sum = NULL;
    char *sp = NULL;
    if (!rc) {
        sum = summary(it, n, no_timings);
        size_t l = strlen(out_path);
        sp = malloc(l + 16);
        char *txt = json_dumps(sum, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        if (!sp || !txt) rc = mt_fail(e, MT_ENOMEM, "out of memory");
        else {
            memcpy(sp, out_path, l);
            strcpy(sp + l, ".summary.json");
            /* the summary first: a reader that sees the JSONL can trust its summary */
            if (!(rc = mt_afile_write(sp, txt, strlen(txt), e))) rc = mt_afile_commit(&a, e);
        }
        free(txt);
        if (info) {
            info->facts = (long)n;
            info->failed = (long)json_integer_value(json_object_get(sum, "failed"));
        }
    }
    if (rc) mt_afile_abort(&a);
    json_decref(sum);
    free(sp);
    for (size_t k = 0; k < n; k++) {
        json_decref(it[k].r);
        free(it[k].path);
    }
    free(it);
    return rc;
}
