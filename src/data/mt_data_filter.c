/* The per-model "known facts" filter (METHOD.md section 7): a fact is known in a language when
 * one of its queries gives a gold answer (the object or an accepted alternative) top-1, or a
 * probability of at least min_prob. Kept facts are copied verbatim; each dropped fact gets a
 * line with the reason in <out>.dropped.jsonl. The model is reached only through a scorer, so
 * masked and causal models differ only in how a query is scored. */
#include <stdlib.h>
#include <string.h>

#include "mt_data_internal.h"

typedef struct fctx {
    const char *path;
    const mt_data_scorer *s;
    const mt_data_filter_opts *o;
    json_t *header;
    sbuf kept, dropped;
    long kept_queries;
    mt_data_filter_info *info;
} fctx;

static int known_by(const mt_data_filter_opts *o, double p, int top1) {
    return top1 || (o->min_prob >= 0 && p >= o->min_prob);
}

/* Scores one language of a fact; *known set; res gets the evidence. */
static int score_lang(fctx *c, long ln, const char *code, json_t *x, int *known, json_t *res, mt_err *e) {
    *known = 0;
    const char *obj = json_string_value(json_object_get(x, "object"));
    json_t *alt = json_object_get(x, "alt_objects"), *qs = json_object_get(x, "queries");
    if (!obj || !json_is_array(qs))
        return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'langs.%s': needs 'object' and 'queries' (run 'matrice data validate')",
                       c->path, ln, code);
    size_t ng = 1 + (json_is_array(alt) ? json_array_size(alt) : 0);
    double best = -1;
    const char *best_tid = NULL, *best_ans = NULL;
    long unscorable = 0;
    char why[MT_ERR_MAX] = "";
    for (size_t q = 0; q < json_array_size(qs) && !*known; q++) {
        json_t *qq = json_array_get(qs, q);
        const char *text = json_string_value(json_object_get(qq, "text"));
        const char *tid = json_string_value(json_object_get(qq, "tid"));
        if (!text)
            return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'langs.%s.queries[%zu].text': missing", c->path, ln, code, q);
        for (size_t g = 0; g < ng && !*known; g++) {
            const char *ans = g == 0 ? obj : json_string_value(json_array_get(alt, g - 1));
            if (!ans) continue;
            double p = 0;
            int top1 = 0;
            mt_err e2 = {0};
            int rc = c->s->score(c->s->ctx, text, ans, &p, &top1, &e2);
            if (rc == MT_EINVAL) {
                if (!unscorable++) snprintf(why, sizeof why, "%s", e2.msg);
                continue;
            }
            if (rc) {
                if (e) *e = e2;
                mt_err_prefix(e, "%s:%ld: langs.%s.queries[%zu]", c->path, ln, code, q);
                return rc;
            }
            c->info->queries_scored++;
            if (p > best) {
                best = p;
                best_tid = tid;
                best_ans = ans;
            }
            if (known_by(c->o, p, top1)) {
                *known = 1;
                json_object_set_new(res, "known", json_true());
                json_object_set_new(res, "by", json_string(top1 ? "top1" : "min_prob"));
                json_object_set_new(res, "tid", json_string(tid ? tid : ""));
                json_object_set_new(res, "answer", json_string(ans));
                json_object_set_new(res, "prob", json_real(p));
            }
        }
    }
    if (!*known) {
        json_object_set_new(res, "known", json_false());
        json_object_set_new(res, "best_prob", best >= 0 ? json_real(best) : json_null());
        json_object_set_new(res, "best_tid", best_tid ? json_string(best_tid) : json_null());
        json_object_set_new(res, "best_answer", best_ans ? json_string(best_ans) : json_null());
        if (unscorable) {
            json_object_set_new(res, "unscorable", json_integer(unscorable));
            json_object_set_new(res, "unscorable_reason", json_string(why));
        }
    }
    return MT_OK;
}

static void reason_for(json_t *res, const char *code, double min_prob, sbuf *b) {
    json_t *bp = json_object_get(res, "best_prob");
    char crit[64] = "top-1";
    if (min_prob >= 0) snprintf(crit, sizeof crit, "top-1 or P >= %g", min_prob);
    if (json_is_real(bp))
        sb_printf(b, "%s: no query gives a gold answer %s (best P = %.3g, query %s, answer '%s')", code, crit,
                  json_real_value(bp), json_string_value(json_object_get(res, "best_tid")),
                  json_string_value(json_object_get(res, "best_answer")));
    else
        sb_printf(b, "%s: no query could be scored (%s)", code,
                  json_string_value(json_object_get(res, "unscorable_reason"))
                      ? json_string_value(json_object_get(res, "unscorable_reason"))
                      : "no queries");
}

static int filter_line(void *vp, int is_header, long ln, json_t *j, const char *line, size_t len, mt_err *e) {
    fctx *c = vp;
    if (is_header) {
        const char *fmt = json_string_value(json_object_get(j, "format"));
        json_t *langs = json_object_get(j, "languages");
        if (!fmt || strcmp(fmt, MT_DATA_FORMAT) || !json_is_array(langs))
            return mt_fail(e, MT_EFORMAT, "%s:1: field 'format': not a %s header line", c->path, MT_DATA_FORMAT);
        c->header = json_deep_copy(j);
        return c->header ? MT_OK : mt_fail(e, MT_ENOMEM, "out of memory");
    }
    json_t *langs = json_object_get(j, "langs"), *hl = json_object_get(c->header, "languages");
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!id || !json_is_object(langs))
        return mt_fail(e, MT_EFORMAT, "%s:%ld: field '%s': missing (run 'matrice data validate')", c->path, ln,
                       id ? "langs" : "id");
    json_t *per = json_object();
    int n_known = 0, n_checked = 0, rc = MT_OK;
    const char *failed = NULL;
    for (size_t l = 0; l < json_array_size(hl); l++) {
        const char *code = json_string_value(json_object_get(json_array_get(hl, l), "code"));
        json_t *x = code ? json_object_get(langs, code) : NULL;
        if (!x) {
            rc = mt_fail(e, MT_EFORMAT, "%s:%ld: field 'langs.%s': missing", c->path, ln, code ? code : "?");
            break;
        }
        json_t *res = json_object();
        int known = 0;
        rc = score_lang(c, ln, code, x, &known, res, e);
        json_object_set_new(per, code, res);
        if (rc) break;
        n_checked++;
        n_known += known;
        if (!known && !failed) failed = code;
        if (c->o->require_all && !known) break; /* dropped: later languages need no scoring */
        if (!c->o->require_all && known) break; /* kept */
    }
    if (rc) {
        json_decref(per);
        return rc;
    }
    int keep = c->o->require_all ? (failed == NULL) : (n_known > 0);
    if (keep) {
        sb_add(&c->kept, line, len);
        sb_add(&c->kept, "\n", 1);
        c->info->kept++;
        for (size_t l = 0; l < json_array_size(hl); l++) {
            json_t *qs = json_object_get(json_object_get(langs, json_string_value(json_object_get(json_array_get(hl, l), "code"))), "queries");
            c->kept_queries += (long)json_array_size(qs);
        }
    } else {
        sbuf r = {0};
        if (c->o->require_all) reason_for(json_object_get(per, failed), failed, c->o->min_prob, &r);
        else {
            sb_printf(&r, "not known in any of the %d languages", n_checked);
        }
        char *reason = sb_take(&r);
        json_t *d = json_object();
        json_object_set_new(d, "id", json_string(id));
        json_object_set(d, "relation", json_object_get(j, "relation"));
        json_object_set_new(d, "reason", json_string(reason ? reason : ""));
        json_object_set(d, "langs", per);
        free(reason);
        char *s = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(d);
        if (!s) {
            json_decref(per);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        sb_puts(&c->dropped, s);
        sb_add(&c->dropped, "\n", 1);
        free(s);
        c->info->dropped++;
    }
    json_decref(per);
    if (c->kept.oom || c->dropped.oom) return mt_fail(e, MT_ENOMEM, "out of memory");
    return MT_OK;
}

static int write_all(const char *path, const char *head, const char *body, size_t n, mt_err *e) {
    mt_afile af;
    int rc = mt_afile_open(&af, path, e);
    if (rc) return rc;
    if (head) {
        fputs(head, af.f);
        fputc('\n', af.f);
    }
    if (n) fwrite(body, 1, n, af.f);
    return mt_afile_commit(&af, e);
}

int mt_data_filter(const char *in_path, const char *out_path, const mt_data_scorer *s, const mt_data_filter_opts *o,
                   mt_data_filter_info *info, mt_err *e) {
    mt_data_filter_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    if (!s || !s->score) return mt_fail(e, MT_EINVAL, "filter: no scorer");
    if (o->min_prob > 1) return mt_fail(e, MT_EINVAL, "filter: min_prob must be in [0, 1], got %g", o->min_prob);
    if (!strcmp(in_path, out_path)) return mt_fail(e, MT_EINVAL, "filter: the output must differ from the input (%s)", in_path);
    fctx c = {0};
    c.path = in_path;
    c.s = s;
    c.o = o;
    c.info = info;
    int rc = mt_data_each_line(in_path, filter_line, &c, e);
    char *dpath = NULL;
    if (!rc) {
        json_t *f = json_object();
        json_object_set_new(f, "model", json_string(o->model ? o->model : ""));
        json_object_set_new(f, "kind", json_string(s->kind ? s->kind : ""));
        json_object_set_new(f, "criterion", json_string(o->min_prob >= 0 ? "top1 or min_prob" : "top1"));
        json_object_set_new(f, "min_prob", o->min_prob >= 0 ? json_real(o->min_prob) : json_null());
        json_object_set_new(f, "require", json_string(o->require_all ? "all" : "any"));
        json_object_set_new(f, "input", json_string(in_path));
        json_object_set_new(f, "kept", json_integer(info->kept));
        json_object_set_new(f, "dropped", json_integer(info->dropped));
        json_t *prev = json_object_get(c.header, "filter");
        if (prev) json_object_set(f, "previous", prev);
        json_object_set_new(c.header, "filter", f);
        json_t *counts = json_object_get(c.header, "counts");
        if (json_is_object(counts)) {
            json_object_set_new(counts, "facts", json_integer(info->kept));
            json_object_set_new(counts, "queries", json_integer(c.kept_queries));
        }
        char *head = json_dumps(c.header, JSON_COMPACT | JSON_REAL_PRECISION(6));
        size_t k = strlen(out_path);
        dpath = malloc(k + 16);
        if (!head || !dpath) rc = mt_fail(e, MT_ENOMEM, "out of memory");
        if (!rc) {
            snprintf(dpath, k + 16, "%s.dropped.jsonl", out_path);
            rc = write_all(out_path, head, c.kept.s ? c.kept.s : "", c.kept.n, e);
        }
        if (!rc) rc = write_all(dpath, NULL, c.dropped.s ? c.dropped.s : "", c.dropped.n, e);
        free(head);
    }
    free(dpath);
    sb_free(&c.kept);
    sb_free(&c.dropped);
    json_decref(c.header);
    return rc;
}
