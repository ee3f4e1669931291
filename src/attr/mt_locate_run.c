/* Localization over a dataset: fact selection, shards, run.json, resume, one atomic result file
 * per fact; and merging result folders into one JSONL with a summary. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mt_afile.h"
#include "mt_data.h"
#include "mt_json.h"
#include "mt_locate.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

char *mt_locate_file_name(const char *id) {
    size_t n = strlen(id);
    char *s = malloc(n + 6);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                 c == '_';
        s[i] = ok && !(i == 0 && c == '.') ? c : '_';
    }
    memcpy(s + n, ".json", 6);
    return s;
}

/* ---------------------------------------------------------------- result files */

static int need(const json_t *o, const char *key, int type, const char *what, mt_err *e) {
    const json_t *v = json_object_get(o, key);
    if (!v) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s'", what, key);
    if ((int)json_typeof(v) != type && !(type == JSON_REAL && json_is_integer(v)))
        return mt_fail(e, MT_EFORMAT, "%s: field '%s' is %s", what, key, mt_json_type_name(v));
    return MT_OK;
}

/* A neuron list: objects with layer and unit inside the model's shape. */
static int check_neurons(const json_t *a, const char *field, int L, int f, const char *what, mt_err *e) {
    if (!json_is_array(a)) return mt_fail(e, MT_EFORMAT, "%s: field '%s' is not an array", what, field);
    size_t i;
    const json_t *n;
    json_array_foreach(a, i, n) {
        const json_t *l = json_object_get(n, "layer"), *u = json_object_get(n, "unit");
        if (!json_is_integer(l) || !json_is_integer(u) || json_integer_value(l) < 0 || json_integer_value(l) >= L ||
            json_integer_value(u) < 0 || json_integer_value(u) >= f)
            return mt_fail(e, MT_EFORMAT, "%s: field '%s[%zu]' is not a neuron of a %d x %d model", what, field, i, L, f);
    }
    return MT_OK;
}

int mt_locate_result_check(const json_t *r, const char *what, mt_err *e) {
    if (!json_is_object(r)) return mt_fail(e, MT_EFORMAT, "%s: not a JSON object", what);
    const char *schema = json_string_value(json_object_get(r, "schema"));
    if (!schema || strcmp(schema, MT_LOCATE_SCHEMA))
        return mt_fail(e, MT_EFORMAT, "%s: field 'schema' is not \"%s\"", what, MT_LOCATE_SCHEMA);
    int rc;
    if ((rc = need(r, "fact", JSON_OBJECT, what, e)) || (rc = need(r, "method", JSON_STRING, what, e)) ||
        (rc = need(r, "options", JSON_OBJECT, what, e)) || (rc = need(r, "status", JSON_STRING, what, e)) ||
        (rc = need(r, "n_layers", JSON_INTEGER, what, e)) || (rc = need(r, "d_ff", JSON_INTEGER, what, e)) ||
        (rc = need(r, "queries", JSON_ARRAY, what, e)))
        return rc;
    if (!json_is_string(json_object_get(json_object_get(r, "fact"), "id")))
        return mt_fail(e, MT_EFORMAT, "%s: field 'fact.id' is missing or not a string", what);
    json_int_t L = json_integer_value(json_object_get(r, "n_layers")), f = json_integer_value(json_object_get(r, "d_ff"));
    if (L < 1 || f < 1 || L > 100000 || f > 10000000)
        return mt_fail(e, MT_EFORMAT, "%s: fields 'n_layers'/'d_ff' are out of range", what);
    const char *status = json_string_value(json_object_get(r, "status"));
    if (!strcmp(status, "failed")) return need(r, "reason", JSON_STRING, what, e);
    if (strcmp(status, "ok")) return mt_fail(e, MT_EFORMAT, "%s: field 'status' is neither \"ok\" nor \"failed\"", what);
    if ((rc = need(r, "languages", JSON_OBJECT, what, e)) || (rc = need(r, "lakn", JSON_ARRAY, what, e))) return rc;
    if ((rc = check_neurons(json_object_get(r, "lakn"), "lakn", (int)L, (int)f, what, e))) return rc;
    const char *code;
    const json_t *lj;
    json_object_foreach((json_t *)json_object_get(r, "languages"), code, lj) {
        char field[96];
        snprintf(field, sizeof field, "languages.%.40s.neurons", code);
        if (!json_is_object(lj)) return mt_fail(e, MT_EFORMAT, "%s: field 'languages.%s' is not an object", what, code);
        const json_t *ns = json_object_get(lj, "neurons");
        if (ns && (rc = check_neurons(ns, field, (int)L, (int)f, what, e))) return rc;
    }
    return MT_OK;
}

int mt_locate_result_load(const char *path, json_t **out, mt_err *e) {
    json_t *r = NULL;
    int rc = mt_json_load_file(path, &r, e);
    if (!rc) rc = mt_locate_result_check(r, path, e);
    if (rc) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return MT_OK;
}

/* ---------------------------------------------------------------- the run */

static int make_dir(const char *p, mt_err *e) {
    if (mkdir(p, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) return MT_OK;
        return mt_fail(e, MT_EIO, "%s: exists and is not a folder", p);
    }
    return mt_fail(e, MT_EIO, "%s: cannot create the folder: %s", p, strerror(errno));
}

/* run.json: what every result in the folder was made with. A folder made with other settings
 * is refused, so that a resumed run never mixes two configurations. */
static int check_run_json(const char *out_dir, json_t *want, mt_err *e) {
    char *p = mt_path_join(out_dir, "run.json");
    if (!p) return mt_fail(e, MT_ENOMEM, "out of memory");
    int rc = MT_OK;
    if (mt_file_exists(p)) {
        json_t *have = NULL;
        if (!(rc = mt_json_load_file(p, &have, e))) {
            const char *key;
            json_t *v;
            json_object_foreach(want, key, v) {
                if (!strcmp(key, "schema")) continue;
                json_t *h = json_object_get(have, key);
                if (!h || !json_equal(h, v)) {
                    char *a = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *b = h ? json_dumps(h, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                    rc = mt_fail(e, MT_EINVAL, "%s: field '%s' is %.200s in the folder but %.200s now; use another --out",
                                 p, key, b ? b : "missing", a ? a : "?");
                    free(a);
                    free(b);
                    break;
                }
            }
            json_decref(have);
        }
    } else {
        char *s = json_dumps(want, JSON_INDENT(1));
        rc = s ? mt_afile_write(p, s, strlen(s), e) : mt_fail(e, MT_ENOMEM, "out of memory");
        free(s);
    }
    free(p);
    return rc;
}

static void count_query(void *ctx) { ++*(long *)ctx; }

/* The earlier run whose scores are reused must share the model, data and every option that
 * shapes the raw attribution. */
static int check_reuse(const char *dir, const json_t *run, mt_err *e) {
    char *p = mt_path_join(dir, "run.json");
    json_t *have = NULL;
    int rc = p ? mt_json_load_file(p, &have, e) : mt_fail(e, MT_ENOMEM, "out of memory");
    static const char *const keys[] = {"model", "data", NULL}, *const ig[] = {"baseline", "multiplier", "steps", "target", "neuron", NULL};
    for (int i = 0; !rc && keys[i]; i++)
        if (!json_equal(json_object_get(have, keys[i]), json_object_get(run, keys[i])))
            rc = mt_fail(e, MT_EINVAL, "%s: field '%s' differs from this run's; its scores cannot be reused", p, keys[i]);
    const json_t *ho = json_object_get(have, "options"), *ro = json_object_get(run, "options");
    for (int i = 0; !rc && ig[i]; i++)
        if (!json_equal(json_object_get(ho, ig[i]), json_object_get(ro, ig[i])))
            rc = mt_fail(e, MT_EINVAL, "%s: field 'options.%s' differs from this run's; its scores cannot be reused", p, ig[i]);
    json_decref(have);
    free(p);
    return rc;
}

int mt_locate_run(const mt_model *m, const mt_tokenizer *tok, const mt_loc_opts *o, const mt_loc_run *r, mt_err *e) {
    if (r->shard_n < 1 || r->shard_k < 0 || r->shard_k >= r->shard_n)
        return mt_fail(e, MT_EINVAL, "shard %d/%d: need 0 <= K < N", r->shard_k, r->shard_n);
    mt_dataset ds;
    const char **langs = NULL;
    char *facts_dir = NULL, *scores_root = NULL;
    json_t *run = NULL, *facts = json_array();
    int rc = mt_dataset_load(r->data_path, &ds, e);
    if (rc) {
        json_decref(facts);
        return rc;
    }
    /* the selection: --relations, then the first --facts */
    size_t fi;
    json_t *fact;
    json_array_foreach(ds.facts, fi, fact) {
        const char *rel = json_string_value(json_object_get(fact, "relation"));
        int hit = !r->n_relations;
        for (int k = 0; k < r->n_relations && !hit; k++) hit = !strcmp(rel, r->relations[k]);
        if (hit && (!r->max_facts || (long)json_array_size(facts) < r->max_facts)) json_array_append(facts, fact);
    }
    int n_langs = r->langs ? r->n_langs : (int)json_array_size(ds.langs);
    langs = calloc(n_langs, sizeof(char *));
    if (!langs) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_langs; i++) langs[i] = r->langs ? r->langs[i] : json_string_value(json_array_get(ds.langs, i));
    if ((rc = mt_dataset_check_langs(&ds, langs, n_langs, e))) goto done;
    json_t *jl = json_array();
    for (int i = 0; i < n_langs; i++) json_array_append_new(jl, json_string(langs[i]));
    run = json_pack("{s:s, s:s, s:s, s:o, s:o}", "schema", "matrice.locate.run.v1", "model", r->model_path, "data",
                    r->data_path, "languages", jl, "options", mt_loc_opts_json(o));
    if (r->reuse && (rc = check_reuse(r->reuse, run, e))) goto done;
    if (r->reuse) json_object_set_new(run, "reuse", json_string(r->reuse));
    if ((rc = make_dir(r->out_dir, e)) || (rc = check_run_json(r->out_dir, run, e))) goto done;
    facts_dir = mt_path_join(r->out_dir, "facts");
    scores_root = mt_path_join(r->out_dir, "scores");
    if (!facts_dir || !scores_root) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = make_dir(facts_dir, e)) || (r->keep_scores && (rc = make_dir(scores_root, e)))) goto done;

    /* this shard's facts, and which of them are finished already */
    size_t nf = json_array_size(facts);
    mt_loc_progress pr = {0};
    unsigned char *todo = calloc(nf ? nf : 1, 1);
    if (!todo) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nf; i++) {
        if ((long)(i % r->shard_n) != r->shard_k) continue;
        pr.total++;
        char *name = mt_locate_file_name(json_string_value(json_object_get(json_array_get(facts, i), "id")));
        char *path = name ? mt_path_join(facts_dir, name) : NULL;
        json_t *old = NULL;
        mt_err ignore = {0};
        if (path && mt_file_exists(path) && mt_locate_result_load(path, &old, &ignore) == MT_OK) {
            pr.done++;
            pr.resumed++;
            if (!strcmp(json_string_value(json_object_get(old, "status")), "failed")) pr.failed++;
        } else {
            todo[i] = 1;
        }
        json_decref(old);
        free(name);
        free(path);
    }
    const double t0 = now();
    if (r->progress) r->progress(r->ctx, &pr);
    for (size_t i = 0; i < nf && !rc; i++) {
        if (!todo[i]) continue;
        if (r->stop && *r->stop) {
            rc = mt_fail(e, MT_EINTERRUPTED, "interrupted");
            break;
        }
        const json_t *fact = json_array_get(facts, i);
        const char *id = json_string_value(json_object_get(fact, "id"));
        char *name = mt_locate_file_name(id), *path = NULL, *sdir = NULL, *rdir = NULL;
        if (!name || !(path = mt_path_join(facts_dir, name))) {
            free(name);
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            break;
        }
        name[strlen(name) - 5] = 0; /* the fact's scores folder: its file name without .json */
        if (r->keep_scores) {
            sdir = mt_path_join(scores_root, name);
            if (!sdir) rc = mt_fail(e, MT_ENOMEM, "out of memory");
            else rc = make_dir(sdir, e);
        }
        if (r->reuse) {
            char *sr = mt_path_join(r->reuse, "scores");
            rdir = sr ? mt_path_join(sr, name) : NULL;
            free(sr);
        }
        mt_loc_hooks h = {r->stop, sdir, rdir, count_query, &pr.queries};
        json_t *res = NULL;
        if (!rc) rc = mt_locate_fact(m, tok, fact, langs, n_langs, o, &h, &res, e);
        if (!rc) {
            json_object_set_new(res, "model", json_string(r->model_path));
            char *txt = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(7));
            rc = txt ? mt_afile_write(path, txt, strlen(txt), e) : mt_fail(e, MT_ENOMEM, "out of memory");
            free(txt);
            if (!rc) {
                pr.done++;
                if (!strcmp(json_string_value(json_object_get(res, "status")), "failed")) pr.failed++;
                pr.elapsed = now() - t0;
                pr.fact = id;
                if (r->progress) r->progress(r->ctx, &pr);
            }
        }
        json_decref(res);
        free(name);
        free(path);
        free(sdir);
        free(rdir);
    }
    free(todo);
done:
    json_decref(facts);
    mt_dataset_free(&ds);
    json_decref(run);
    free(langs);
    free(facts_dir);
    free(scores_root);
    return rc;
}
