/* Schema and consistency checks of a benchmark file (docs/DATA_SCHEMA.md). Every problem is
 * one line "<path>:<line>: field '<path.in.json>': <what is wrong>". */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mt_data_internal.h"

typedef struct vctx {
    const char *path;
    mt_data_problems *p;
    int max_msgs;
    mt_err first;
    int header_ok;
    json_t *langs;      /* header languages (array) */
    json_t *relations;  /* header relations (array of strings) */
    json_t *templates;  /* header templates table or NULL */
    long min_templates;
    long declared_facts; /* counts.facts, -1 if absent */
    char *prev_rel, *prev_sub, *prev_obj;
    int one_per_subject;
    json_t *ids;        /* set of fact ids seen */
    json_t *header;     /* kept alive: langs/relations/templates point into it */
} vctx;

static void problem(vctx *v, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(vctx *v, long line, const char *fmt, ...) {
    char msg[MT_ERR_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char full[MT_ERR_MAX];
    if (line > 0) snprintf(full, sizeof full, "%s:%ld: %s", v->path, line, msg);
    else snprintf(full, sizeof full, "%s: %s", v->path, msg);
    for (char *c = full; *c; c++) /* values quoted from the file may hold newlines: one line each */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    if (v->p->n == 0) mt_fail(&v->first, MT_EFORMAT, "%s", full);
    v->p->n++;
    if (v->p->n_msg < v->max_msgs) {
        char **nm = realloc(v->p->msg, sizeof *nm * (size_t)(v->p->n_msg + 1));
        if (!nm) return;
        v->p->msg = nm;
        if ((nm[v->p->n_msg] = mt_strdup(full))) v->p->n_msg++;
    }
}

static const char *sget(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void check_header(vctx *v, json_t *h) {
    const char *fmt = sget(h, "format");
    if (!fmt || strcmp(fmt, MT_DATA_FORMAT)) {
        problem(v, 1, "field 'format': expected \"%s\" (the first line must be the header)", MT_DATA_FORMAT);
        return;
    }
    json_t *sv = json_object_get(h, "schema_version");
    if (!json_is_integer(sv)) problem(v, 1, "field 'schema_version': missing or not an integer");
    else if (json_integer_value(sv) != MT_DATA_SCHEMA_VERSION)
        problem(v, 1, "field 'schema_version': %lld is not supported (this program reads version %d)",
                (long long)json_integer_value(sv), MT_DATA_SCHEMA_VERSION);
    if (!json_is_string(json_object_get(h, "licence"))) problem(v, 1, "field 'licence': missing or not a string");
    json_t *src = json_object_get(h, "sources");
    if (!json_is_array(src) || json_array_size(src) == 0) problem(v, 1, "field 'sources': missing or empty");
    for (size_t i = 0; json_is_array(src) && i < json_array_size(src); i++) {
        json_t *s = json_array_get(src, i);
        static const char *keys[] = {"dir", "repo", "commit", "licence"};
        for (int k = 0; k < 4; k++)
            if (!json_is_string(json_object_get(s, keys[k])))
                problem(v, 1, "field 'sources[%zu].%s': missing or not a string", i, keys[k]);
    }
    if (!json_is_object(json_object_get(h, "build"))) problem(v, 1, "field 'build': missing or not an object");
    json_t *mt = json_object_get(json_object_get(h, "build"), "min_templates");
    v->min_templates = json_is_integer(mt) ? (long)json_integer_value(mt) : 1;
    v->one_per_subject = json_is_true(json_object_get(json_object_get(h, "build"), "one_per_subject"));
    json_t *langs = json_object_get(h, "languages");
    if (!json_is_array(langs) || json_array_size(langs) == 0) {
        problem(v, 1, "field 'languages': missing or empty");
        return;
    }
    int ok = 1;
    for (size_t i = 0; i < json_array_size(langs); i++) {
        json_t *x = json_array_get(langs, i);
        const char *code = sget(x, "code"), *fam = sget(x, "family");
        if (!code || !*code || !fam || !*fam) {
            problem(v, 1, "field 'languages[%zu]': needs non-empty 'code' and 'family' strings", i);
            ok = 0;
            continue;
        }
        for (size_t k = 0; k < i; k++)
            if (sget(json_array_get(langs, k), "code") && !strcmp(sget(json_array_get(langs, k), "code"), code)) {
                problem(v, 1, "field 'languages[%zu].code': '%s' appears twice", i, code);
                ok = 0;
            }
    }
    json_t *fams = json_object_get(h, "families");
    if (!json_is_array(fams)) problem(v, 1, "field 'families': missing or not an array");
    json_t *rels = json_object_get(h, "relations");
    if (!json_is_array(rels) || json_array_size(rels) == 0) {
        problem(v, 1, "field 'relations': missing or empty");
        ok = 0;
    }
    for (size_t i = 0; json_is_array(rels) && i < json_array_size(rels); i++) {
        const char *r = json_string_value(json_array_get(rels, i));
        if (!r || !dt_id_ok(r, 'P')) {
            problem(v, 1, "field 'relations[%zu]': not a Wikidata property id", i);
            ok = 0;
        }
    }
    json_t *tt = json_object_get(h, "templates");
    if (tt && !json_is_object(tt)) problem(v, 1, "field 'templates': not an object");
    else if (tt) {
        const char *rel;
        json_t *per;
        json_object_foreach(tt, rel, per) {
            const char *lang;
            json_t *arr;
            json_object_foreach(per, lang, arr) {
                for (size_t i = 0; i < json_array_size(arr); i++) {
                    json_t *t = json_array_get(arr, i);
                    const char *id = sget(t, "id"), *text = sget(t, "template");
                    if (!id || !text) {
                        problem(v, 1, "field 'templates.%s.%s[%zu]': needs 'id' and 'template' strings", rel, lang, i);
                        continue;
                    }
                    const char *why = mt_data_template_problem(text);
                    if (why) problem(v, 1, "field 'templates.%s.%s[%zu].template': %s in '%s'", rel, lang, i, why, text);
                }
            }
        }
        v->templates = tt;
    }
    json_t *cnt = json_object_get(json_object_get(h, "counts"), "facts");
    v->declared_facts = json_is_integer(cnt) ? (long)json_integer_value(cnt) : -1;
    if (ok) {
        v->langs = langs;
        v->relations = rels;
        v->header_ok = 1;
    }
}

static int template_known(vctx *v, const char *rel, const char *lang, const char *tid) {
    json_t *arr = json_object_get(json_object_get(v->templates, rel), lang);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *id = sget(json_array_get(arr, i), "id");
        if (id && !strcmp(id, tid)) return 1;
    }
    return 0;
}

static void check_lang(vctx *v, long ln, const char *rel, const char *code, const char *family, json_t *x) {
    if (!json_is_object(x)) {
        problem(v, ln, "field 'langs.%s': missing or not an object", code);
        return;
    }
    const char *fam = sget(x, "family"), *sub = sget(x, "subject"), *obj = sget(x, "object");
    if (!fam || strcmp(fam, family)) problem(v, ln, "field 'langs.%s.family': expected '%s'", code, family);
    if (!sub || !*sub) problem(v, ln, "field 'langs.%s.subject': missing or empty", code);
    if (!obj || !*obj) problem(v, ln, "field 'langs.%s.object': missing or empty", code);
    if (sub && obj && *sub && *obj) {
        char *fs = dt_casefold(sub), *fo = dt_casefold(obj);
        if (fs && fo && strstr(fs, fo)) problem(v, ln, "field 'langs.%s.object': '%s' appears inside the subject '%s'", code, obj, sub);
        free(fs);
        free(fo);
    }
    json_t *alt = json_object_get(x, "alt_objects");
    if (!json_is_array(alt)) problem(v, ln, "field 'langs.%s.alt_objects': missing or not an array", code);
    for (size_t i = 0; json_is_array(alt) && i < json_array_size(alt); i++) {
        const char *a = json_string_value(json_array_get(alt, i));
        if (!a || !*a) problem(v, ln, "field 'langs.%s.alt_objects[%zu]': not a non-empty string", code, i);
        else if (obj && !strcmp(a, obj)) problem(v, ln, "field 'langs.%s.alt_objects[%zu]': repeats the object", code, i);
    }
    json_t *qs = json_object_get(x, "queries");
    if (!json_is_array(qs)) {
        problem(v, ln, "field 'langs.%s.queries': missing or not an array", code);
        return;
    }
    if ((long)json_array_size(qs) < (v->min_templates > 0 ? v->min_templates : 1))
        problem(v, ln, "field 'langs.%s.queries': %zu queries (at least %ld expected)", code, json_array_size(qs),
                v->min_templates > 0 ? v->min_templates : 1);
    for (size_t i = 0; i < json_array_size(qs); i++) {
        json_t *q = json_array_get(qs, i);
        const char *tid = sget(q, "tid"), *text = sget(q, "text");
        json_t *yf = json_object_get(q, "y_final");
        if (!tid || !*tid) problem(v, ln, "field 'langs.%s.queries[%zu].tid': missing or empty", code, i);
        else if (v->templates && !template_known(v, rel, code, tid))
            problem(v, ln, "field 'langs.%s.queries[%zu].tid': '%s' is not in the header's templates", code, i, tid);
        if (!text) {
            problem(v, ln, "field 'langs.%s.queries[%zu].text': missing or not a string", code, i);
            continue;
        }
        int ny = dt_count(text, "[Y]");
        if (ny != 1) problem(v, ln, "field 'langs.%s.queries[%zu].text': %d [Y] slots (exactly one needed)", code, i, ny);
        if (strstr(text, "[X]")) problem(v, ln, "field 'langs.%s.queries[%zu].text': [X] was not replaced", code, i);
        if (sub && *sub && !strstr(text, sub))
            problem(v, ln, "field 'langs.%s.queries[%zu].text': does not contain the subject '%s'", code, i, sub);
        if (!json_is_boolean(yf)) problem(v, ln, "field 'langs.%s.queries[%zu].y_final': missing or not a boolean", code, i);
        else if (ny == 1 && json_is_true(yf) != mt_data_y_final(text))
            problem(v, ln, "field 'langs.%s.queries[%zu].y_final': is %s but [Y] %s", code, i,
                    json_is_true(yf) ? "true" : "false", mt_data_y_final(text) ? "is final" : "is not final");
        for (size_t k = 0; k < i; k++) {
            json_t *o = json_array_get(qs, k);
            if (tid && sget(o, "tid") && !strcmp(tid, sget(o, "tid")))
                problem(v, ln, "field 'langs.%s.queries[%zu].tid': repeats queries[%zu]", code, i, k);
            else if (sget(o, "text") && !strcmp(text, sget(o, "text")))
                problem(v, ln, "field 'langs.%s.queries[%zu].text': repeats queries[%zu]", code, i, k);
        }
    }
}

static void check_fact(vctx *v, long ln, json_t *j) {
    const char *id = sget(j, "id"), *rel = sget(j, "relation"), *sub = sget(j, "sub_uri"), *obj = sget(j, "obj_uri");
    if (!rel || !dt_id_ok(rel, 'P')) problem(v, ln, "field 'relation': missing or not a Wikidata property id");
    else {
        int known = 0;
        for (size_t i = 0; i < json_array_size(v->relations) && !known; i++)
            known = !strcmp(json_string_value(json_array_get(v->relations, i)), rel);
        if (!known) problem(v, ln, "field 'relation': %s is not in the header's relations", rel);
    }
    if (!sub || !dt_id_ok(sub, 'Q')) problem(v, ln, "field 'sub_uri': missing or not a Wikidata item id");
    if (!obj || !dt_id_ok(obj, 'Q')) problem(v, ln, "field 'obj_uri': missing or not a Wikidata item id");
    if (!id) problem(v, ln, "field 'id': missing or not a string");
    else if (rel && sub && obj) {
        char want[128];
        snprintf(want, sizeof want, "%s:%s:%s", rel, sub, obj);
        if (strcmp(id, want)) problem(v, ln, "field 'id': '%s' should be '%s' (relation:sub_uri:obj_uri)", id, want);
    }
    if (id) {
        if (json_object_get(v->ids, id)) problem(v, ln, "field 'id': '%s' repeats an earlier fact", id);
        else json_object_set_new(v->ids, id, json_true());
    }
    json_t *u = json_object_get(j, "uuid");
    if (!u || !(json_is_null(u) || json_is_string(u))) problem(v, ln, "field 'uuid': missing (null when unknown) or not a string");
    json_t *li = json_object_get(j, "lineid");
    if (!json_is_integer(li) || json_integer_value(li) < 0) problem(v, ln, "field 'lineid': missing or not a non-negative integer");
    json_t *alt = json_object_get(j, "alt_obj_uris");
    if (!json_is_array(alt)) problem(v, ln, "field 'alt_obj_uris': missing or not an array");
    for (size_t i = 0; json_is_array(alt) && i < json_array_size(alt); i++) {
        const char *a = json_string_value(json_array_get(alt, i));
        if (!a || !dt_id_ok(a, 'Q')) problem(v, ln, "field 'alt_obj_uris[%zu]': not a Wikidata item id", i);
        else if (obj && !strcmp(a, obj)) problem(v, ln, "field 'alt_obj_uris[%zu]': repeats obj_uri", i);
    }
    /* order: by relation, subject, object; with one_per_subject each (relation, subject) once */
    if (rel && sub && obj && dt_id_ok(rel, 'P') && dt_id_ok(sub, 'Q') && dt_id_ok(obj, 'Q')) {
        if (v->prev_rel) {
            int c = dt_id_cmp(v->prev_rel, rel);
            if (c == 0) c = dt_id_cmp(v->prev_sub, sub);
            if (c == 0 && !v->one_per_subject) c = dt_id_cmp(v->prev_obj, obj);
            if (c > 0)
                problem(v, ln, "field 'id': facts must be sorted by relation, subject and object (%s after %s:%s:%s)",
                        id ? id : "?", v->prev_rel, v->prev_sub, v->prev_obj);
            else if (c == 0 && v->one_per_subject)
                problem(v, ln, "field 'sub_uri': a second fact for %s %s (the file was built with one_per_subject)", rel, sub);
        }
        free(v->prev_rel);
        free(v->prev_sub);
        free(v->prev_obj);
        v->prev_rel = mt_strdup(rel);
        v->prev_sub = mt_strdup(sub);
        v->prev_obj = mt_strdup(obj);
    }
    json_t *langs = json_object_get(j, "langs");
    if (!json_is_object(langs)) {
        problem(v, ln, "field 'langs': missing or not an object");
        return;
    }
    for (size_t l = 0; l < json_array_size(v->langs); l++) {
        json_t *L = json_array_get(v->langs, l);
        check_lang(v, ln, rel ? rel : "", sget(L, "code"), sget(L, "family"), json_object_get(langs, sget(L, "code")));
    }
    const char *code;
    json_t *x;
    json_object_foreach(langs, code, x) {
        int known = 0;
        for (size_t l = 0; l < json_array_size(v->langs) && !known; l++)
            known = !strcmp(sget(json_array_get(v->langs, l), "code"), code);
        if (!known) problem(v, ln, "field 'langs.%s': language not declared in the header", code);
    }
}

static int validate_line(void *vp, int is_header, long ln, json_t *j, const char *line, size_t len, mt_err *e) {
    vctx *v = vp;
    if (is_header) {
        v->header = json_incref(j);
        check_header(v, j);
        if (!v->header_ok) return MT_EFORMAT; /* nothing else can be checked */
        return MT_OK;
    }
    v->p->facts++;
    check_fact(v, ln, j);
    return MT_OK;
}

/* Like mt_data_each_line, but a malformed line is one problem and reading goes on. */
static int each_line_lenient(vctx *v, mt_err *e) {
    char *buf = NULL;
    size_t len = 0;
    int rc = mt_read_file(v->path, &buf, &len, e);
    if (rc) return rc;
    dt_lines it = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (dt_next_line(&it, &line, &n)) {
        if (dt_blank(line, n)) {
            problem(v, it.lineno, "empty line (one JSON object per line expected)");
            if (it.lineno == 1) break;
            continue;
        }
        json_error_t je;
        json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
        if (!j || !json_is_object(j)) {
            if (!j) problem(v, it.lineno, "malformed JSON at column %d: %s", je.column, je.text);
            else problem(v, it.lineno, "not a JSON object");
            json_decref(j);
            if (it.lineno == 1) break;
            continue;
        }
        int stop = validate_line(v, it.lineno == 1, it.lineno, j, line, n, e);
        json_decref(j);
        if (stop) break;
    }
    if (it.lineno == 0) problem(v, 0, "empty file (a header line is expected)");
    free(buf);
    return MT_OK;
}

int mt_data_validate(const char *path, int max_msgs, mt_data_problems *p, mt_err *e) {
    memset(p, 0, sizeof *p);
    vctx v = {0};
    v.path = path;
    v.p = p;
    v.max_msgs = max_msgs;
    v.declared_facts = -1;
    v.ids = json_object();
    if (!v.ids) return mt_fail(e, MT_ENOMEM, "out of memory");
    int rc = each_line_lenient(&v, e);
    if (!rc && v.header_ok && v.declared_facts >= 0 && v.declared_facts != p->facts)
        problem(&v, 1, "field 'counts.facts': says %ld but the file has %ld fact lines", v.declared_facts, p->facts);
    /* an empty benchmark is a problem, an empty filter result is not */
    if (!rc && v.header_ok && p->facts == 0 && !json_object_get(v.header, "filter"))
        problem(&v, 0, "no fact lines after the header");
    free(v.prev_rel);
    free(v.prev_sub);
    free(v.prev_obj);
    json_decref(v.ids);
    json_decref(v.header);
    if (rc) return rc;
    if (p->n) {
        if (e) *e = v.first;
        return MT_EFORMAT;
    }
    return MT_OK;
}

void mt_data_problems_free(mt_data_problems *p) {
    for (int i = 0; i < p->n_msg; i++) free(p->msg[i]);
    free(p->msg);
    memset(p, 0, sizeof *p);
}
