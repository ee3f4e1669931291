/* Reading a built benchmark file line by line, and its statistics. */
#include <stdlib.h>
#include <string.h>

#include "mt_data_internal.h"

int mt_data_each_line(const char *path, mt_data_line_fn fn, void *ctx, mt_err *e) {
    char *buf = NULL;
    size_t len = 0;
    int rc = mt_read_file(path, &buf, &len, e);
    if (rc) return rc;
    dt_lines it = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (!rc && dt_next_line(&it, &line, &n)) {
        if (dt_blank(line, n)) {
            rc = mt_fail(e, MT_EFORMAT, "%s:%ld: empty line (one JSON object per line expected)", path, it.lineno);
            break;
        }
        json_error_t je;
        json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            rc = mt_fail(e, MT_EFORMAT, "%s:%ld: malformed JSON at column %d: %s", path, it.lineno, je.column, je.text);
            break;
        }
        if (!json_is_object(j)) rc = mt_fail(e, MT_EFORMAT, "%s:%ld: not a JSON object", path, it.lineno);
        else rc = fn(ctx, it.lineno == 1, it.lineno, j, line, n, e);
        json_decref(j);
    }
    if (!rc && it.lineno == 0) rc = mt_fail(e, MT_EFORMAT, "%s: empty file (a header line is expected)", path);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- stats */

typedef struct lstat {
    const char *code, *family;
    long queries, y_final, with_alt, min, max, facts;
} lstat;

typedef struct rstat {
    const char *rel;
    long facts, queries, min, max;
} rstat;

typedef struct sctx {
    const char *path;
    json_t *header;
    lstat *ls;
    int nl;
    rstat *rs;
    int nr, cap_r;
    long facts, queries, min_q;
} sctx;

static int header_langs(sctx *s, json_t *h, mt_err *e) {
    json_t *fmt = json_object_get(h, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), MT_DATA_FORMAT))
        return mt_fail(e, MT_EFORMAT, "%s:1: field 'format': not a %s header line", s->path, MT_DATA_FORMAT);
    json_t *langs = json_object_get(h, "languages");
    if (!json_is_array(langs) || json_array_size(langs) == 0)
        return mt_fail(e, MT_EFORMAT, "%s:1: field 'languages': missing or empty", s->path);
    s->nl = (int)json_array_size(langs);
    s->ls = calloc(s->nl, sizeof *s->ls);
    if (!s->ls) return mt_fail(e, MT_ENOMEM, "out of memory");
    for (int l = 0; l < s->nl; l++) {
        json_t *x = json_array_get(langs, l);
        const char *code = json_string_value(json_object_get(x, "code"));
        const char *fam = json_string_value(json_object_get(x, "family"));
        if (!code || !fam)
            return mt_fail(e, MT_EFORMAT, "%s:1: field 'languages[%d]': needs 'code' and 'family' strings", s->path, l);
        s->ls[l] = (lstat){code, fam, 0, 0, 0, -1, 0, 0};
    }
    s->header = json_incref(h);
    return MT_OK;
}

static rstat *get_rstat(sctx *s, const char *rel) {
    for (int i = 0; i < s->nr; i++)
        if (!strcmp(s->rs[i].rel, rel)) return &s->rs[i];
    if (s->nr == s->cap_r) {
        int c = s->cap_r ? s->cap_r * 2 : 64;
        rstat *n = realloc(s->rs, sizeof *n * c);
        if (!n) return NULL;
        s->rs = n;
        s->cap_r = c;
    }
    char *copy = mt_strdup(rel);
    if (!copy) return NULL;
    s->rs[s->nr] = (rstat){copy, 0, 0, -1, 0};
    return &s->rs[s->nr++];
}

static int stats_line(void *vctx, int is_header, long lineno, json_t *j, const char *line, size_t len, mt_err *e) {
    sctx *s = vctx;
    if (is_header) return header_langs(s, j, e);
    const char *rel = json_string_value(json_object_get(j, "relation"));
    json_t *langs = json_object_get(j, "langs");
    if (!rel || !json_is_object(langs))
        return mt_fail(e, MT_EFORMAT, "%s:%ld: field '%s': missing (run 'matrice data validate')", s->path, lineno,
                       rel ? "langs" : "relation");
    rstat *r = get_rstat(s, rel);
    if (!r) return mt_fail(e, MT_ENOMEM, "out of memory");
    s->facts++;
    r->facts++;
    for (int l = 0; l < s->nl; l++) {
        lstat *L = &s->ls[l];
        json_t *x = json_object_get(langs, L->code);
        json_t *qs = json_object_get(x, "queries");
        if (!json_is_array(qs))
            return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'langs.%s.queries': missing (run 'matrice data validate')",
                           s->path, lineno, L->code);
        long nq = (long)json_array_size(qs);
        L->facts++;
        L->queries += nq;
        if (L->min < 0 || nq < L->min) L->min = nq;
        if (nq > L->max) L->max = nq;
        if (r->min < 0 || nq < r->min) r->min = nq;
        if (nq > r->max) r->max = nq;
        if (s->min_q < 0 || nq < s->min_q) s->min_q = nq;
        r->queries += nq;
        s->queries += nq;
        for (size_t q = 0; q < (size_t)nq; q++)
            if (json_is_true(json_object_get(json_array_get(qs, q), "y_final"))) L->y_final++;
        json_t *alt = json_object_get(x, "alt_objects");
        if (json_is_array(alt) && json_array_size(alt) > 0) L->with_alt++;
    }
    return MT_OK;
}

static double ratio(long a, long b) { return b > 0 ? (double)a / (double)b : 0.0; }

static int by_rel(const void *a, const void *b) { return dt_id_cmp(((const rstat *)a)->rel, ((const rstat *)b)->rel); }

int mt_data_stats(const char *path, json_t **out, mt_err *e) {
    *out = NULL;
    sctx s = {0};
    s.path = path;
    s.min_q = -1;
    int rc = mt_data_each_line(path, stats_line, &s, e);
    if (!rc) {
        if (s.nr > 1) qsort(s.rs, s.nr, sizeof *s.rs, by_rel);
        json_t *j = json_object();
        json_object_set_new(j, "file", json_string(path));
        json_object_set_new(j, "facts", json_integer(s.facts));
        json_object_set_new(j, "languages", json_integer(s.nl));
        json_t *fams = json_object_get(s.header, "families");
        json_object_set_new(j, "families", json_integer(json_is_array(fams) ? (json_int_t)json_array_size(fams) : 0));
        json_object_set_new(j, "relations", json_integer(s.nr));
        json_object_set_new(j, "queries", json_integer(s.queries));
        json_object_set_new(j, "queries_per_fact_per_language", json_real(ratio(s.queries, s.facts * s.nl)));
        json_object_set_new(j, "min_queries_per_fact_language", json_integer(s.min_q < 0 ? 0 : s.min_q));
        json_t *filter = json_object_get(s.header, "filter");
        if (filter) json_object_set(j, "filter", filter);
        json_t *pl = json_array();
        for (int l = 0; l < s.nl; l++) {
            lstat *L = &s.ls[l];
            json_t *x = json_object();
            json_object_set_new(x, "lang", json_string(L->code));
            json_object_set_new(x, "family", json_string(L->family));
            json_object_set_new(x, "facts", json_integer(L->facts));
            json_object_set_new(x, "queries", json_integer(L->queries));
            json_object_set_new(x, "queries_per_fact", json_real(ratio(L->queries, L->facts)));
            json_object_set_new(x, "min_queries", json_integer(L->min < 0 ? 0 : L->min));
            json_object_set_new(x, "max_queries", json_integer(L->max));
            json_object_set_new(x, "y_final_share", json_real(ratio(L->y_final, L->queries)));
            json_object_set_new(x, "facts_with_alternatives", json_integer(L->with_alt));
            json_array_append_new(pl, x);
        }
        json_object_set_new(j, "per_language", pl);
        json_t *pf = json_array();
        for (int l = 0; l < s.nl; l++) {
            int first = 1;
            for (int k = 0; k < l && first; k++) first = strcmp(s.ls[k].family, s.ls[l].family) != 0;
            if (!first) continue;
            json_t *codes = json_array();
            long q = 0, nlf = 0;
            for (int k = l; k < s.nl; k++)
                if (!strcmp(s.ls[k].family, s.ls[l].family)) {
                    json_array_append_new(codes, json_string(s.ls[k].code));
                    q += s.ls[k].queries;
                    nlf++;
                }
            json_array_append_new(pf, json_pack("{s:s, s:o, s:I, s:f}", "family", s.ls[l].family, "languages", codes,
                                                "queries", (json_int_t)q, "queries_per_fact_per_language",
                                                ratio(q, s.facts * nlf)));
        }
        json_object_set_new(j, "per_family", pf);
        json_t *pr = json_array();
        for (int r = 0; r < s.nr; r++) {
            rstat *R = &s.rs[r];
            json_array_append_new(pr, json_pack("{s:s, s:I, s:I, s:f, s:I, s:I}", "relation", R->rel, "facts",
                                                (json_int_t)R->facts, "queries", (json_int_t)R->queries,
                                                "queries_per_fact_per_language", ratio(R->queries, R->facts * s.nl),
                                                "min_queries", (json_int_t)(R->min < 0 ? 0 : R->min), "max_queries",
                                                (json_int_t)R->max));
        }
        json_object_set_new(j, "per_relation", pr);
        *out = j;
    }
    for (int r = 0; r < s.nr; r++) free((char *)s.rs[r].rel);
    free(s.rs);
    free(s.ls);
    json_decref(s.header);
    return rc;
}

static long jint(const json_t *o, const char *k) { return (long)json_integer_value(json_object_get(o, k)); }
static double jreal(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }
static const char *jstr(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

char *mt_data_stats_table(const json_t *st) {
    sbuf b = {0};
    sb_printf(&b, "%s\n", jstr(st, "file"));
    sb_printf(&b, "facts %ld, languages %ld, families %ld, relations %ld, queries %ld\n", jint(st, "facts"),
              jint(st, "languages"), jint(st, "families"), jint(st, "relations"), jint(st, "queries"));
    sb_printf(&b, "queries per fact per language: mean %.2f, min %ld\n", jreal(st, "queries_per_fact_per_language"),
              jint(st, "min_queries_per_fact_language"));
    json_t *f = json_object_get(st, "filter");
    if (f)
        sb_printf(&b, "filtered with %s: kept %ld of %ld facts\n", jstr(f, "model"), jint(f, "kept"),
                  jint(f, "kept") + jint(f, "dropped"));
    sb_puts(&b, "\nlang  family          facts  queries  q/fact  min  max  [Y]-final  with-alt\n");
    json_t *a = json_object_get(st, "per_language");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *x = json_array_get(a, i);
        sb_printf(&b, "%-5s %-15s %6ld %8ld %7.2f %4ld %4ld %9.1f%% %9ld\n", jstr(x, "lang"), jstr(x, "family"),
                  jint(x, "facts"), jint(x, "queries"), jreal(x, "queries_per_fact"), jint(x, "min_queries"),
                  jint(x, "max_queries"), 100.0 * jreal(x, "y_final_share"), jint(x, "facts_with_alternatives"));
    }
    sb_puts(&b, "\nfamily          languages             queries  q/fact/lang\n");
    a = json_object_get(st, "per_family");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *x = json_array_get(a, i), *codes = json_object_get(x, "languages");
        sbuf c = {0};
        for (size_t k = 0; k < json_array_size(codes); k++)
            sb_printf(&c, "%s%s", k ? "," : "", json_string_value(json_array_get(codes, k)));
        char *cs = sb_take(&c);
        sb_printf(&b, "%-15s %-20s %8ld %12.2f\n", jstr(x, "family"), cs ? cs : "", jint(x, "queries"),
                  jreal(x, "queries_per_fact_per_language"));
        free(cs);
    }
    sb_puts(&b, "\nrelation  facts  queries  q/fact/lang  min  max\n");
    a = json_object_get(st, "per_relation");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *x = json_array_get(a, i);
        sb_printf(&b, "%-8s %6ld %8ld %12.2f %4ld %4ld\n", jstr(x, "relation"), jint(x, "facts"), jint(x, "queries"),
                  jreal(x, "queries_per_fact_per_language"), jint(x, "min_queries"), jint(x, "max_queries"));
    }
    return sb_take(&b);
}
