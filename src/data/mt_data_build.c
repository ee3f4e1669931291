/* Building the benchmark from the raw sources (shared/data-raw layout; docs/DATA_SCHEMA.md).
 *
 * 1. Templates per (relation, language): the union of mParaRel patterns, the heng840 rephrasings
 *    (where the language has them), the mLAMA template and, for English, the ParaRel patterns.
 *    Each is normalised (whitespace; spaces deleted in zh/ja; zh converted to simplified script
 *    with OpenCC; no space before a final "."), dropped if it does not have exactly one [X] and
 *    one [Y] with no other bracket, if [Y] comes before [X], or if it holds a known
 *    mistranslation (blacklist), deduplicated (case-folded, trailing punctuation ignored), ranked
 *    (human-checked, heng840, mLAMA, others; [Y]-final first inside a rank; then source order)
 *    and cut to the top K. A relation with fewer than min_templates in some language is dropped.
 * 2. Facts: the (relation, subject, object) triples present in every language (zh: mParaRel
 *    zh-hans, completed by the mLAMA zh triples converted with OpenCC), minus those whose object
 *    label appears inside the subject label in any language. Each such triple is a fact; the
 *    subject's other objects (labelled in a language, not leaked) are its accepted alternatives
 *    there (N-M relations). With one_per_subject only the triple with the lowest mLAMA line id
 *    of each (relation, subject) is kept. Optionally capped per relation (seeded sample).
 * 3. Queries: every kept template with [X] replaced by the subject label; [Y] stays. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "mt_data_internal.h"

#define MAX_LANGS 64

enum { SRC_MPARAREL = 1, SRC_HENG840 = 2, SRC_MLAMA = 4, SRC_PARAREL = 8 };
enum { TIER_HUMAN = 0, TIER_HENG840 = 1, TIER_MLAMA = 2, TIER_OTHER = 3 };

static const char *drop_reasons[] = {"no [X]",    "no [Y]",    "several [X]", "several [Y]",
                                     "stray bracket", "[Y] before [X]", "blacklist", "duplicate",
                                     "beyond top K", "relation dropped"};
#define N_DROP_REASONS (int)(sizeof drop_reasons / sizeof *drop_reasons)

/* Known mistranslations of "capital" (money, capital letter) in P36/P1376 (DATA.md section 3.1),
 * matched case-folded as substrings of the template. */
static const struct {
    const char *lang, *word;
} blacklist[] = {
    {"zh", "资本"},       {"zh", "大写"},       {"ja", "大文字"},      {"ja", "資本"},
    {"ko", "자본"},       {"ko", "대문자"},     {"ru", "капитал"},     {"ru", "заглавн"},
    {"ar", "رأس المال"},  {"ar", "رأس مال"},    {"tr", "sermaye"},     {"tr", "büyük harf"},
    {"fr", "majuscule"},  {"fr", "le capital"}, {"es", "mayúscula"},   {"es", "el capital"},
    {"de", "kapital"},    {"de", "großbuchstabe"}, {"fi", "pääoma"},   {"hu", "nagybetű"},
    {"hu", "tőke"},       {"vi", "vốn"},        {"vi", "chữ hoa"},     {"id", "modal"},
    {"id", "huruf besar"}, {"it", "maiuscol"},  {"pt", "maiúscul"},    {"pl", "wielka litera"},
};

/* ---------------------------------------------------------------- data */

typedef struct tmpl {
    char *text, *key, *id;
    int tier, human, y_final, sources;
    long order;
    char *file; /* where the kept variant was read (for the report) */
    long line;
} tmpl;

typedef struct relt {
    char rel[16];
    tmpl *t;
    int n, cap;
} relt;

typedef struct langt {
    const mt_data_lang *L;
    relt *r;
    int n, cap;
    long order;
    long tuples_read, tuples_bad_label, tuples_dup, tuples_from_mlama;
} langt;

typedef struct tup {
    int rel;
    char *sub, *obj, *sl, *ol, *fsl, *fol, *uuid;
    long lineid, seq;
} tup;

typedef struct tupv {
    tup *v;
    long n, cap;
} tupv;

typedef struct fact {
    int rel;
    const tup **main;  /* [nl] */
    const tup ***alt;  /* [nl][nalt[l]] */
    int *nalt;
    uint64_t h;
    int keep;
} fact;

typedef struct bctx {
    const mt_data_build_opts *o;
    int nl;
    langt lt[MAX_LANGS];
    uint64_t digest;
    dt_opencc *cc;
    json_t *report;   /* array of dropped templates/relations */
    long drops[N_DROP_REASONS];
    long templates_read, mlama_nontrex;
    char **rels;      /* kept relations, sorted */
    int nrels;
    json_t *rel_drops;
    tupv tv[MAX_LANGS];
    tupv mlama_zh;    /* uuids (and zh labels) */
    int have_mlama_zh;
    int used_heng840, used_pararel;
} bctx;

/* ---------------------------------------------------------------- files */

typedef int (*row_fn)(bctx *b, void *ctx, const char *file, long line, json_t *obj, mt_err *e);

static int path_is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Reads raw_dir/rel_path as JSONL; *absent = 1 (and MT_OK) when it does not exist and !required. */
static int read_jsonl(bctx *b, const char *rel_path, int required, int *absent, row_fn fn, void *ctx, mt_err *e) {
    if (absent) *absent = 0;
    char *full = mt_path_join(b->o->raw_dir, rel_path);
    if (!full) return mt_fail(e, MT_ENOMEM, "out of memory");
    if (!required && !mt_file_exists(full)) {
        if (absent) *absent = 1;
        free(full);
        return MT_OK;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = mt_read_file(full, &buf, &len, e);
    if (rc) {
        free(full);
        return rc;
    }
    b->digest = dt_fnv1a(b->digest, rel_path, strlen(rel_path) + 1);
    b->digest = dt_fnv1a(b->digest, buf, len);
    dt_lines it = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (!rc && dt_next_line(&it, &line, &n)) {
        if (dt_blank(line, n)) continue;
        json_error_t je;
        json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            rc = mt_fail(e, MT_EFORMAT, "%s:%ld: malformed JSON at column %d: %s", full, it.lineno, je.column, je.text);
            break;
        }
        if (!json_is_object(j)) {
            rc = mt_fail(e, MT_EFORMAT, "%s:%ld: not a JSON object", full, it.lineno);
        } else {
            rc = fn(b, ctx, full, it.lineno, j, e);
        }
        json_decref(j);
    }
    free(buf);
    free(full);
    return rc;
}

static int cmp_names(const void *a, const void *b) {
    return dt_id_cmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of "P<n>.jsonl" files in raw_dir/rel_dir (returns the relation ids). */
static int list_relation_files(bctx *b, const char *rel_dir, char ***out, int *n, mt_err *e) {
    *out = NULL;
    *n = 0;
    char *full = mt_path_join(b->o->raw_dir, rel_dir);
    if (!full) return mt_fail(e, MT_ENOMEM, "out of memory");
    DIR *d = opendir(full);
    if (!d) {
        int rc = mt_fail(e, MT_EIO, "%s: cannot open directory: %s", full, strerror(errno));
        free(full);
        return rc;
    }
    char **v = NULL;
    int cnt = 0, cap = 0, rc = MT_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t k = strlen(de->d_name);
        if (k < 8 || strcmp(de->d_name + k - 6, ".jsonl") || k - 6 >= 16) continue;
        char id[16];
        memcpy(id, de->d_name, k - 6);
        id[k - 6] = 0;
        if (!dt_id_ok(id, 'P')) continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, sizeof *v * cap);
            if (!nv) {
                rc = mt_fail(e, MT_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = mt_strdup(id))) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            break;
        }
        cnt++;
    }
    closedir(d);
    free(full);
    if (rc) {
        for (int i = 0; i < cnt; i++) free(v[i]);
        free(v);
        return rc;
    }
    if (cnt > 1) qsort(v, cnt, sizeof *v, cmp_names);
    *out = v;
    *n = cnt;
    return MT_OK;
}

static void free_names(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* ---------------------------------------------------------------- report */

static void report_template(bctx *b, const char *lang, const char *rel, const char *file, long line,
                            const char *text, const char *reason, const char *detail) {
    for (int i = 0; i < N_DROP_REASONS; i++)
        if (!strcmp(drop_reasons[i], reason)) b->drops[i]++;
    if (!b->report) return;
    json_t *r = json_pack("{s:s, s:s, s:s}", "kind", "template", "lang", lang, "relation", rel);
    if (!r) return;
    if (file) {
        const char *rel_file = file;
        size_t k = strlen(b->o->raw_dir);
        if (!strncmp(file, b->o->raw_dir, k) && file[k] == '/') rel_file = file + k + 1;
        json_object_set_new(r, "file", json_string(rel_file));
        json_object_set_new(r, "line", json_integer(line));
    }
    json_object_set_new(r, "text", json_string(text));
    json_object_set_new(r, "reason", json_string(reason));
    if (detail) json_object_set_new(r, "detail", json_string(detail));
    json_array_append_new(b->report, r);
}

/* ---------------------------------------------------------------- templates */

static relt *get_relt(langt *lt, const char *rel) {
    for (int i = 0; i < lt->n; i++)
        if (!strcmp(lt->r[i].rel, rel)) return &lt->r[i];
    if (lt->n == lt->cap) {
        int c = lt->cap ? lt->cap * 2 : 64;
        relt *nr = realloc(lt->r, sizeof *nr * c);
        if (!nr) return NULL;
        lt->r = nr;
        lt->cap = c;
    }
    relt *r = &lt->r[lt->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->rel, sizeof r->rel, "%s", rel);
    return r;
}

/* Case-folded text without trailing whitespace and punctuation: the duplicate key. */
static char *dedupe_key(const char *text) {
    char *f = dt_casefold(text);
    if (!f) return NULL;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)f;
    utf8proc_ssize_t n = (utf8proc_ssize_t)strlen(f), off = 0, keep = 0;
    while (off < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p + off, n - off, &c);
        if (k <= 0) break;
        utf8proc_category_t cat = utf8proc_category(c);
        int space = c == ' ' || cat == UTF8PROC_CATEGORY_ZS;
        int punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
        off += k;
        if (!space && !punct) keep = off;
    }
    f[keep] = 0;
    return f;
}

static int blacklisted(const char *lang, const char *rel, const char *folded, const char **word) {
    if (strcmp(rel, "P36") && strcmp(rel, "P1376")) return 0;
    for (size_t i = 0; i < sizeof blacklist / sizeof *blacklist; i++) {
        if (strcmp(blacklist[i].lang, lang)) continue;
        char *w = dt_casefold(blacklist[i].word);
        int hit = w && strstr(folded, w);
        free(w);
        if (hit) {
            *word = blacklist[i].word;
            return 1;
        }
    }
    return 0;
}

static const char *source_name(int s) {
    switch (s) {
    case SRC_MPARAREL: return "mpararel";
    case SRC_HENG840: return "heng840";
    case SRC_MLAMA: return "mlama";
    default: return "pararel";
    }
}

/* Adds one raw template of (lt, rel) from source src. */
static int add_template(bctx *b, langt *lt, const char *rel, const char *raw, int src, int human, const char *file,
                        long line, mt_err *e) {
    const char *lang = lt->L->code;
    b->templates_read++;
    char *conv = NULL, *text = NULL, *key = NULL, *id = NULL;
    int rc = MT_OK;
    if (!strcmp(lang, "zh")) {
        conv = dt_opencc_t2s(b->cc, raw);
        if (!conv) return mt_fail(e, MT_EFORMAT, "%s:%ld: OpenCC could not convert the template", file, line);
    }
    text = dt_norm_space(conv ? conv : raw, lt->L->no_spaces);
    free(conv);
    if (!text) return mt_fail(e, MT_ENOMEM, "out of memory");
    size_t tl = strlen(text);
    if (tl >= 2 && text[tl - 1] == '.' && text[tl - 2] == ' ') memmove(text + tl - 2, text + tl - 1, 2);
    const char *problem = mt_data_template_problem(text);
    if (problem) {
        report_template(b, lang, rel, file, line, text, problem, NULL);
        goto done;
    }
    key = dedupe_key(text);
    if (!key) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    const char *word;
    if (blacklisted(lang, rel, key, &word)) {
        report_template(b, lang, rel, file, line, text, "blacklist", word);
        goto done;
    }
    char idbuf[128];
    if (src == SRC_MLAMA) snprintf(idbuf, sizeof idbuf, "%s:%s:%s", lang, rel, source_name(src));
    else snprintf(idbuf, sizeof idbuf, "%s:%s:%s:%ld", lang, rel, source_name(src), line);
    int tier = human ? TIER_HUMAN : src == SRC_HENG840 ? TIER_HENG840 : src == SRC_MLAMA ? TIER_MLAMA : TIER_OTHER;
    relt *r = get_relt(lt, rel);
    if (!r) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < r->n; i++) {
        tmpl *t = &r->t[i];
        if (strcmp(t->key, key)) continue;
        t->sources |= src;
        t->human |= human;
        if (tier < t->tier) { /* the better-ranked variant's text and id win */
            report_template(b, lang, rel, t->file, t->line, t->text, "duplicate", idbuf);
            char *nid = mt_strdup(idbuf), *nfile = mt_strdup(file);
            if (!nid || !nfile) {
                free(nid);
                free(nfile);
                rc = mt_fail(e, MT_ENOMEM, "out of memory");
                goto done;
            }
            free(t->text);
            free(t->id);
            free(t->file);
            t->text = text;
            t->id = nid;
            t->file = nfile;
            t->line = line;
            text = NULL;
            t->tier = tier;
            t->y_final = mt_data_y_final(t->text);
        } else {
            report_template(b, lang, rel, file, line, text, "duplicate", t->id);
        }
        goto done;
    }
    if (r->n == r->cap) {
        int c = r->cap ? r->cap * 2 : 16;
        tmpl *nt = realloc(r->t, sizeof *nt * c);
        if (!nt) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            goto done;
        }
        r->t = nt;
        r->cap = c;
    }
    id = mt_strdup(idbuf);
    char *fcopy = mt_strdup(file);
    if (!id || !fcopy) {
        free(fcopy);
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    r->t[r->n++] = (tmpl){text, key, id, tier, human, mt_data_y_final(text), src, lt->order++, fcopy, line};
    text = key = id = NULL;
done:
    free(text);
    free(key);
    free(id);
    return rc;
}

typedef struct rowctx {
    langt *lt;
    const char *rel; /* fixed relation (mParaRel/ParaRel files) or NULL (read from the row) */
    int src;
    const char *field;
} rowctx;

static int template_row(bctx *b, void *vctx, const char *file, long line, json_t *j, mt_err *e) {
    rowctx *c = vctx;
    const char *text, *rel = c->rel;
    int rc = dt_get_str(j, c->field, file, line, 1, &text, e);
    if (rc) return rc;
    if (!rel) {
        if ((rc = dt_get_str(j, "relation", file, line, 1, &rel, e))) return rc;
        if (!dt_id_ok(rel, 'P')) {
            if (c->src == SRC_MLAMA) { /* GoogleRE relations (date_of_birth, ...): no T-REx facts */
                b->mlama_nontrex++;
                return MT_OK;
            }
            return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'relation': '%s' is not a Wikidata property id", file,
                           line, rel);
        }
    }
    int human = 0;
    json_t *h = json_object_get(j, "checked-by-human");
    if (h && !json_is_null(h)) {
        if (!json_is_boolean(h))
            return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'checked-by-human': not a boolean", file, line);
        human = json_is_true(h);
    }
    return add_template(b, c->lt, rel, text, c->src, human, file, line, e);
}

static int by_rank(const void *pa, const void *pb) {
    const tmpl *a = pa, *b = pb;
    if (a->tier != b->tier) return a->tier - b->tier;
    if (a->y_final != b->y_final) return b->y_final - a->y_final;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void free_tmpl(tmpl *t) {
    free(t->text);
    free(t->key);
    free(t->id);
    free(t->file);
}

static int load_templates(bctx *b, langt *lt, mt_err *e) {
    const mt_data_lang *L = lt->L;
    char path[512];
    char **files = NULL;
    int nf = 0, rc;
    /* mParaRel patterns (required) */
    snprintf(path, sizeof path, "mpararel/patterns/%s", L->raw);
    if ((rc = list_relation_files(b, path, &files, &nf, e))) return rc;
    for (int i = 0; !rc && i < nf; i++) {
        snprintf(path, sizeof path, "mpararel/patterns/%s/%s.jsonl", L->raw, files[i]);
        rowctx c = {lt, files[i], SRC_MPARAREL, "pattern"};
        rc = read_jsonl(b, path, 1, NULL, template_row, &c, e);
    }
    free_names(files, nf);
    if (rc) return rc;
    /* heng840 rephrasings (en fr fi hu ja ko) */
    snprintf(path, sizeof path, "heng840-dataset/%s", L->code);
    char *full = mt_path_join(b->o->raw_dir, path);
    if (!full) return mt_fail(e, MT_ENOMEM, "out of memory");
    int has = path_is_dir(full);
    free(full);
    if (has) {
        snprintf(path, sizeof path, "heng840-dataset/%s/final_template.jsonl", L->code);
        rowctx c = {lt, NULL, SRC_HENG840, "pattern"};
        if ((rc = read_jsonl(b, path, 1, NULL, template_row, &c, e))) return rc;
        b->used_heng840 = 1;
    }
    /* the mLAMA template (required) */
    static const char *parts[] = {"train", "dev"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "mlama1.1-templates/%s/%s.jsonl", L->code, parts[i]);
        rowctx c = {lt, NULL, SRC_MLAMA, "template"};
        if ((rc = read_jsonl(b, path, 1, NULL, template_row, &c, e))) return rc;
    }
    /* ParaRel's English patterns */
    if (!strcmp(L->code, "en")) {
        full = mt_path_join(b->o->raw_dir, "pararel/graphs_json");
        if (!full) return mt_fail(e, MT_ENOMEM, "out of memory");
        has = path_is_dir(full);
        free(full);
        if (has) {
            if ((rc = list_relation_files(b, "pararel/graphs_json", &files, &nf, e))) return rc;
            for (int i = 0; !rc && i < nf; i++) {
                snprintf(path, sizeof path, "pararel/graphs_json/%s.jsonl", files[i]);
                rowctx c = {lt, files[i], SRC_PARAREL, "pattern"};
                rc = read_jsonl(b, path, 1, NULL, template_row, &c, e);
            }
            free_names(files, nf);
            if (rc) return rc;
            b->used_pararel = 1;
        }
    }
    /* rank and keep the top K */
    for (int i = 0; i < lt->n; i++) {
        relt *r = &lt->r[i];
        if (r->n > 1) qsort(r->t, r->n, sizeof *r->t, by_rank);
        for (int k = b->o->max_templates; k < r->n; k++) {
            report_template(b, L->code, r->rel, r->t[k].file, r->t[k].line, r->t[k].text, "beyond top K", r->t[k].id);
            free_tmpl(&r->t[k]);
        }
        if (r->n > b->o->max_templates) r->n = b->o->max_templates;
    }
    return MT_OK;
}

static relt *find_relt(const langt *lt, const char *rel) {
    for (int i = 0; i < lt->n; i++)
        if (!strcmp(lt->r[i].rel, rel)) return &lt->r[i];
    return NULL;
}

static void report_relation(bctx *b, const char *rel, const char *reason) {
    json_array_append_new(b->rel_drops, json_pack("{s:s, s:s}", "relation", rel, "reason", reason));
    if (b->report) json_array_append_new(b->report, json_pack("{s:s, s:s, s:s}", "kind", "relation", "relation", rel,
                                                              "reason", reason));
}

/* Relations with at least min_templates templates in every language and a tuples file in each. */
static int select_relations(bctx *b, mt_err *e) {
    char **all = NULL;
    int n = 0, cap = 0;
    for (int l = 0; l < b->nl; l++)
        for (int i = 0; i < b->lt[l].n; i++) {
            const char *rel = b->lt[l].r[i].rel;
            int seen = 0;
            for (int k = 0; k < n && !seen; k++) seen = !strcmp(all[k], rel);
            if (seen) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                char **na = realloc(all, sizeof *na * cap);
                if (!na) {
                    free(all);
                    return mt_fail(e, MT_ENOMEM, "out of memory");
                }
                all = na;
            }
            all[n++] = (char *)rel;
        }
    if (n > 1) qsort(all, n, sizeof *all, cmp_names);
    b->rels = calloc(n ? n : 1, sizeof *b->rels);
    if (!b->rels) {
        free(all);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    for (int k = 0; k < n; k++) {
        char why[256] = "";
        for (int l = 0; l < b->nl && !why[0]; l++) {
            relt *r = find_relt(&b->lt[l], all[k]);
            int cnt = r ? r->n : 0;
            if (cnt < b->o->min_templates) {
                snprintf(why, sizeof why, "%d usable template%s in %s (at least %d needed)", cnt, cnt == 1 ? "" : "s",
                         b->lt[l].L->code, b->o->min_templates);
                break;
            }
            char path[512];
            snprintf(path, sizeof path, "%s/mpararel/tuples/%s/%s.jsonl", b->o->raw_dir, b->lt[l].L->raw, all[k]);
            if (!mt_file_exists(path)) snprintf(why, sizeof why, "no tuples file mpararel/tuples/%s/%s.jsonl",
                                                b->lt[l].L->raw, all[k]);
        }
        if (why[0]) {
            report_relation(b, all[k], why);
            for (int l = 0; l < b->nl; l++) {
                relt *r = find_relt(&b->lt[l], all[k]);
                if (r)
                    for (int i = 0; i < r->n; i++)
                        report_template(b, b->lt[l].L->code, r->rel, r->t[i].file, r->t[i].line, r->t[i].text,
                                        "relation dropped", r->t[i].id);
            }
            continue;
        }
        if (!(b->rels[b->nrels++] = mt_strdup(all[k]))) {
            free(all);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
    }
    free(all);
    return MT_OK;
}

/* ---------------------------------------------------------------- tuples */

static int tup_cmp_key(const tup *a, int rel, const char *sub, const char *obj) {
    if (a->rel != rel) return a->rel < rel ? -1 : 1;
    int c = dt_id_cmp(a->sub, sub);
    if (c || !obj) return c;
    return dt_id_cmp(a->obj, obj);
}

static int tup_cmp(const void *pa, const void *pb) {
    const tup *a = pa, *b = pb;
    int c = tup_cmp_key(a, b->rel, b->sub, b->obj);
    if (c) return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* First index with key >= (rel, sub[, obj]). */
static long tup_lower(const tupv *v, int rel, const char *sub, const char *obj) {
    long lo = 0, hi = v->n;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (tup_cmp_key(&v->v[mid], rel, sub, obj) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static const tup *tup_find(const tupv *v, int rel, const char *sub, const char *obj) {
    long i = tup_lower(v, rel, sub, obj);
    if (i < v->n && !tup_cmp_key(&v->v[i], rel, sub, obj)) return &v->v[i];
    return NULL;
}

static void free_tup(tup *t) {
    free(t->sub);
    free(t->obj);
    free(t->sl);
    free(t->ol);
    free(t->fsl);
    free(t->fol);
    free(t->uuid);
}

static void free_tupv(tupv *v) {
    for (long i = 0; i < v->n; i++) free_tup(&v->v[i]);
    free(v->v);
    memset(v, 0, sizeof *v);
}

typedef struct tupctx {
    tupv *v;
    langt *lt;      /* NULL for the uuid table */
    int rel;
    int zh;         /* convert labels with OpenCC */
    int want_uuid;
} tupctx;

static int label_ok(const char *s) { return *s && !strchr(s, '[') && !strchr(s, ']'); }

static int tuple_row(bctx *b, void *vctx, const char *file, long line, json_t *j, mt_err *e) {
    tupctx *c = vctx;
    const char *sub, *obj, *sl, *ol, *uuid = NULL;
    int rc;
    if ((rc = dt_get_str(j, "sub_uri", file, line, 1, &sub, e)) || (rc = dt_get_str(j, "obj_uri", file, line, 1, &obj, e)) ||
        (rc = dt_get_str(j, "sub_label", file, line, 1, &sl, e)) ||
        (rc = dt_get_str(j, "obj_label", file, line, 1, &ol, e)))
        return rc;
    if (c->want_uuid && (rc = dt_get_str(j, "uuid", file, line, 1, &uuid, e))) return rc;
    if (!dt_id_ok(sub, 'Q')) return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'sub_uri': '%s' is not a Wikidata item id", file, line, sub);
    if (!dt_id_ok(obj, 'Q')) return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'obj_uri': '%s' is not a Wikidata item id", file, line, obj);
    json_t *li = json_object_get(j, "lineid");
    if (!li) return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'lineid': missing", file, line);
    if (!json_is_integer(li) || json_integer_value(li) < 0)
        return mt_fail(e, MT_EFORMAT, "%s:%ld: field 'lineid': not a non-negative integer", file, line);
    if (c->lt) c->lt->tuples_read++;
    char *csl = NULL, *col = NULL;
    if (c->zh) {
        csl = dt_opencc_t2s(b->cc, sl);
        col = dt_opencc_t2s(b->cc, ol);
        if (!csl || !col) {
            free(csl);
            free(col);
            return mt_fail(e, MT_EFORMAT, "%s:%ld: OpenCC could not convert the labels", file, line);
        }
    }
    tup t = {c->rel, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (long)json_integer_value(li), c->v->n};
    t.sl = dt_norm_space(csl ? csl : sl, 0);
    t.ol = dt_norm_space(col ? col : ol, 0);
    free(csl);
    free(col);
    t.sub = mt_strdup(sub);
    t.obj = mt_strdup(obj);
    if (uuid) t.uuid = mt_strdup(uuid);
    if (t.sl && t.ol) {
        t.fsl = dt_casefold(t.sl);
        t.fol = dt_casefold(t.ol);
    }
    if (!t.sl || !t.ol || !t.sub || !t.obj || (uuid && !t.uuid) || !t.fsl || !t.fol) {
        free_tup(&t);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    if (!label_ok(t.sl) || !label_ok(t.ol)) { /* empty, or wiki markup with brackets */
        if (c->lt) c->lt->tuples_bad_label++;
        free_tup(&t);
        return MT_OK;
    }
    if (c->v->n == c->v->cap) {
        long cap = c->v->cap ? c->v->cap * 2 : 4096;
        tup *nv = realloc(c->v->v, sizeof *nv * cap);
        if (!nv) {
            free_tup(&t);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        c->v->v = nv;
        c->v->cap = cap;
    }
    c->v->v[c->v->n++] = t;
    return MT_OK;
}

/* Sorts and removes repeated keys (keeping the first read). Returns the number removed. */
static long sort_dedupe(tupv *v) {
    if (v->n > 1) qsort(v->v, v->n, sizeof *v->v, tup_cmp);
    long w = 0, removed = 0;
    for (long i = 0; i < v->n; i++) {
        if (w > 0 && !tup_cmp_key(&v->v[w - 1], v->v[i].rel, v->v[i].sub, v->v[i].obj)) {
            free_tup(&v->v[i]);
            removed++;
            continue;
        }
        v->v[w++] = v->v[i];
    }
    v->n = w;
    return removed;
}

static int load_mlama_zh(bctx *b, int zh_chosen, mt_err *e) {
    char *full = mt_path_join(b->o->raw_dir, "mlama1.1-zh-triples");
    if (!full) return mt_fail(e, MT_ENOMEM, "out of memory");
    int has = path_is_dir(full);
    if (!has && zh_chosen) {
        int rc = mt_fail(e, MT_EIO, "%s: missing (zh needs the mLAMA zh triples)", full);
        free(full);
        return rc;
    }
    free(full);
    if (!has) return MT_OK;
    b->have_mlama_zh = 1;
    static const char *parts[] = {"train", "dev"};
    for (int r = 0; r < b->nrels; r++)
        for (int i = 0; i < 2; i++) {
            char path[512];
            snprintf(path, sizeof path, "mlama1.1-zh-triples/%s/%s.jsonl", b->rels[r], parts[i]);
            tupctx c = {&b->mlama_zh, NULL, r, 1, 1};
            int absent, rc = read_jsonl(b, path, zh_chosen, &absent, tuple_row, &c, e);
            if (rc) return rc;
        }
    sort_dedupe(&b->mlama_zh);
    return MT_OK;
}

static int load_tuples(bctx *b, int l, mt_err *e) {
    langt *lt = &b->lt[l];
    int zh = !strcmp(lt->L->code, "zh");
    for (int r = 0; r < b->nrels; r++) {
        char path[512];
        snprintf(path, sizeof path, "mpararel/tuples/%s/%s.jsonl", lt->L->raw, b->rels[r]);
        tupctx c = {&b->tv[l], lt, r, zh, 0};
        int rc = read_jsonl(b, path, 1, NULL, tuple_row, &c, e);
        if (rc) return rc;
    }
    lt->tuples_dup = sort_dedupe(&b->tv[l]);
    if (zh) { /* complete zh-hans with the (converted) mLAMA zh triples */
        tupv *v = &b->tv[l];
        long n0 = v->n;
        for (long i = 0; i < b->mlama_zh.n; i++) {
            const tup *m = &b->mlama_zh.v[i];
            tupv sorted = {v->v, n0, n0};
            if (tup_find(&sorted, m->rel, m->sub, m->obj)) continue;
            /* (v is sorted only up to n0; new rows are appended and sorted afterwards) */
            if (v->n == v->cap) {
                long cap = v->cap ? v->cap * 2 : 4096;
                tup *nv = realloc(v->v, sizeof *nv * cap);
                if (!nv) return mt_fail(e, MT_ENOMEM, "out of memory");
                v->v = nv;
                v->cap = cap;
            }
            tup t = {m->rel, mt_strdup(m->sub), mt_strdup(m->obj), mt_strdup(m->sl), mt_strdup(m->ol),
                     mt_strdup(m->fsl), mt_strdup(m->fol), NULL, m->lineid, 1000000000L + i};
            if (!t.sub || !t.obj || !t.sl || !t.ol || !t.fsl || !t.fol) {
                free_tup(&t);
                return mt_fail(e, MT_ENOMEM, "out of memory");
            }
            v->v[v->n++] = t;
            lt->tuples_from_mlama++;
        }
        if (v->n > 1) qsort(v->v, v->n, sizeof *v->v, tup_cmp);
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- facts */

static int leaked(const tup *t) { return strstr(t->fsl, t->fol) != NULL; }

static char *fact_id(const bctx *b, const fact *f) {
    sbuf s = {0};
    sb_printf(&s, "%s:%s:%s", b->rels[f->rel], f->main[0]->sub, f->main[0]->obj);
    return sb_take(&s);
}

static void free_fact(fact *f, int nl) {
    if (f->alt)
        for (int l = 0; l < nl; l++) free(f->alt[l]);
    free(f->alt);
    free(f->nalt);
    free(f->main);
}

typedef struct factv {
    fact *v;
    long n, cap;
} factv;

typedef struct fcounts {
    long parallel, not_parallel, leaked, grouped, capped;
} fcounts;

/* Adds the fact whose object is the parallel triple m[] (one tuple per language). */
static int add_fact(bctx *b, const tup *const *m, factv *fv, fcounts *fc, mt_err *e) {
    const int nl = b->nl;
    const tup *best = m[0];
    fact f = {0};
    f.rel = best->rel;
    f.main = malloc(sizeof *f.main * nl);
    f.alt = calloc(nl, sizeof *f.alt);
    f.nalt = calloc(nl, sizeof *f.nalt);
    if (!f.main || !f.alt || !f.nalt) {
        free_fact(&f, nl);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    memcpy(f.main, m, sizeof(tup *) * nl);
    for (int l = 0; l < nl; l++) { /* alternatives: the subject's other objects with a label here */
        const tupv *v = &b->tv[l];
        long j0 = tup_lower(v, best->rel, best->sub, NULL), j1 = j0;
        while (j1 < v->n && !tup_cmp_key(&v->v[j1], best->rel, best->sub, NULL)) j1++;
        if (j1 - j0 <= 1) continue;
        f.alt[l] = malloc(sizeof(tup *) * (size_t)(j1 - j0));
        if (!f.alt[l]) {
            free_fact(&f, nl);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        for (long j = j0; j < j1; j++) {
            const tup *t = &v->v[j];
            if (!strcmp(t->obj, best->obj) || leaked(t) || !strcmp(t->fol, f.main[l]->fol)) continue;
            int dup = 0;
            for (int k = 0; k < f.nalt[l] && !dup; k++) dup = !strcmp(f.alt[l][k]->fol, t->fol);
            if (!dup) f.alt[l][f.nalt[l]++] = t;
        }
    }
    if (fv->n == fv->cap) {
        long cap = fv->cap ? fv->cap * 2 : 1024;
        fact *nv = realloc(fv->v, sizeof *nv * cap);
        if (!nv) {
            free_fact(&f, nl);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        fv->v = nv;
        fv->cap = cap;
    }
    f.keep = 1;
    fv->v[fv->n++] = f;
    fc->grouped++;
    return MT_OK;
}

/* One (relation, subject) group of lang 0's sorted tuples: [i0, i1). Every triple present in
 * all languages and not leaked becomes a fact (or, with one_per_subject, only the one with the
 * lowest mLAMA line id). */
static int make_group(bctx *b, long i0, long i1, factv *fv, fcounts *fc, mt_err *e) {
    const int nl = b->nl;
    const tupv *v0 = &b->tv[0];
    const tup *best[MAX_LANGS];
    int have = 0;
    for (long i = i0; i < i1; i++) {
        const tup *t = &v0->v[i];
        const tup *m[MAX_LANGS];
        int ok = 1, leak = 0;
        for (int l = 0; l < nl && ok; l++) {
            m[l] = l ? tup_find(&b->tv[l], t->rel, t->sub, t->obj) : t;
            if (!m[l]) ok = 0;
            else if (leaked(m[l])) leak = 1;
        }
        if (!ok) {
            fc->not_parallel++;
            continue;
        }
        fc->parallel++;
        if (leak) {
            fc->leaked++;
            continue;
        }
        if (!b->o->one_per_subject) {
            int rc = add_fact(b, m, fv, fc, e);
            if (rc) return rc;
        } else if (!have || t->lineid < best[0]->lineid) {
            memcpy(best, m, sizeof(tup *) * nl);
            have = 1;
        }
    }
    return have ? add_fact(b, best, fv, fc, e) : MT_OK;
}

static int make_facts(bctx *b, factv *fv, fcounts *fc, mt_err *e) {
    const tupv *v0 = &b->tv[0];
    for (long i = 0; i < v0->n;) {
        long j = i + 1;
        while (j < v0->n && !tup_cmp_key(&v0->v[j], v0->v[i].rel, v0->v[i].sub, NULL)) j++;
        int rc = make_group(b, i, j, fv, fc, e);
        if (rc) return rc;
        i = j;
    }
    return MT_OK;
}

typedef struct hidx {
    uint64_t h;
    long i;
} hidx;

static int by_hash(const void *pa, const void *pb) {
    const hidx *a = pa, *b = pb;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Keeps a seeded sample of max_per_relation facts in each relation. */
static int cap_relations(bctx *b, factv *fv, fcounts *fc, mt_err *e) {
    int N = b->o->max_per_relation;
    if (N <= 0) return MT_OK;
    for (long i = 0; i < fv->n;) {
        long j = i;
        while (j < fv->n && fv->v[j].rel == fv->v[i].rel) j++;
        if (j - i > N) {
            hidx *h = malloc(sizeof *h * (size_t)(j - i));
            if (!h) return mt_fail(e, MT_ENOMEM, "out of memory");
            for (long k = i; k < j; k++) {
                char *id = fact_id(b, &fv->v[k]);
                if (!id) {
                    free(h);
                    return mt_fail(e, MT_ENOMEM, "out of memory");
                }
                uint64_t s = dt_mix64(b->o->seed ^ 0x6d61747269636521ULL);
                h[k - i] = (hidx){dt_mix64(dt_fnv1a(s, id, strlen(id))), k};
                free(id);
            }
            qsort(h, (size_t)(j - i), sizeof *h, by_hash);
            for (long k = N; k < j - i; k++) {
                fv->v[h[k].i].keep = 0;
                fc->capped++;
            }
            free(h);
        }
        i = j;
    }
    return MT_OK;
}

/* ---------------------------------------------------------------- output */

static const char *repo_licence(const char *repo) {
    if (!strcmp(repo, "coastalcph/mpararel"))
        return "none stated; research-only (derived from ParaRel MIT, mLAMA CC BY-NC 4.0, T-REx CC BY-SA 4.0, "
               "Wikidata CC0); cite Fierro & Sogaard 2022";
    if (!strcmp(repo, "yanaiela/pararel")) return "MIT; cite Elazar et al. 2021";
    if (!strcmp(repo, "GpNico/disentangleKNs"))
        return "mLAMA 1.1 data, CC BY-NC 4.0 (redistributed copy); cite Kassner, Dufter & Schutze 2021";
    if (!strcmp(repo, "norakassner/mlama")) return "CC BY-NC 4.0; cite Kassner, Dufter & Schutze 2021";
    if (!strcmp(repo, "heng840/Dataset"))
        return "README says CC BY 4.0; derived from mLAMA, so non-commercial; cite Chen et al. 2024";
    return "unknown: see the LICENSE or LICENSE-NOTE.md file of this source";
}

/* Provenance from raw_dir/MANIFEST.tsv: one entry per (directory, repo, commit) used. */
static int sources_json(bctx *b, json_t **out, mt_err *e) {
    *out = NULL;
    char *full = mt_path_join(b->o->raw_dir, "MANIFEST.tsv");
    if (!full) return mt_fail(e, MT_ENOMEM, "out of memory");
    char *buf = NULL;
    size_t len = 0;
    int rc = mt_read_file(full, &buf, &len, e);
    if (rc) {
        mt_err_prefix(e, "provenance (MANIFEST.tsv, columns local_path repo commit ...)");
        free(full);
        return rc;
    }
    b->digest = dt_fnv1a(b->digest, "MANIFEST.tsv", 13);
    b->digest = dt_fnv1a(b->digest, buf, len);
    const char *used[5] = {"mpararel", "mlama1.1-templates", b->used_heng840 ? "heng840-dataset" : NULL,
                           b->used_pararel ? "pararel" : NULL, b->have_mlama_zh ? "mlama1.1-zh-triples" : NULL};
    json_t *arr = json_array();
    dt_lines it = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (dt_next_line(&it, &line, &n)) {
        if (it.lineno == 1 || dt_blank(line, n)) continue;
        char *row = malloc(n + 1);
        if (!row) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            break;
        }
        memcpy(row, line, n);
        row[n] = 0;
        char *f[3] = {row, NULL, NULL};
        char *t1 = strchr(row, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2) {
            free(row);
            rc = mt_fail(e, MT_EFORMAT, "%s:%ld: expected tab-separated local_path, repo, commit", full, it.lineno);
            break;
        }
        *t1 = 0;
        *t2 = 0;
        f[1] = t1 + 1;
        f[2] = t2 + 1;
        char *t3 = strchr(f[2], '\t');
        if (t3) *t3 = 0;
        char *slash = strchr(f[0], '/');
        if (slash) *slash = 0;
        int is_used = 0;
        for (int k = 0; k < 5; k++) is_used |= used[k] && !strcmp(used[k], f[0]);
        if (is_used) {
            int seen = 0;
            for (size_t k = 0; k < json_array_size(arr) && !seen; k++) {
                json_t *s = json_array_get(arr, k);
                seen = !strcmp(json_string_value(json_object_get(s, "dir")), f[0]) &&
                       !strcmp(json_string_value(json_object_get(s, "repo")), f[1]) &&
                       !strcmp(json_string_value(json_object_get(s, "commit")), f[2]);
            }
            if (!seen)
                json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "dir", f[0], "repo", f[1], "commit", f[2],
                                                     "licence", repo_licence(f[1])));
        }
        free(row);
    }
    free(buf);
    free(full);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return MT_OK;
}

static json_t *str_array(const char *const *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *header_json(bctx *b, json_t *sources, const factv *fv, const fcounts *fc, long nfacts,
                           long nqueries) {
    const mt_data_build_opts *o = b->o;
    json_t *h = json_object();
    json_object_set_new(h, "format", json_string(MT_DATA_FORMAT));
    json_object_set_new(h, "schema_version", json_integer(MT_DATA_SCHEMA_VERSION));
    json_object_set_new(h, "licence",
                        json_string("CC BY-NC 4.0 (non-commercial research use); attribute mLAMA, mParaRel, ParaRel, "
                                    "heng840/Dataset, T-REx and Wikidata (see sources)"));
    json_object_set_new(h, "sources", sources);
    char dig[40];
    snprintf(dig, sizeof dig, "fnv1a64:%016llx", (unsigned long long)b->digest);
    json_object_set_new(h, "input_digest", json_string(dig));
    json_t *bo = json_object();
    json_object_set_new(bo, "langs", str_array(o->langs, o->n_langs));
    json_object_set_new(bo, "max_per_relation", json_integer(o->max_per_relation));
    json_object_set_new(bo, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(bo, "max_templates", json_integer(o->max_templates));
    json_object_set_new(bo, "min_templates", json_integer(o->min_templates));
    json_object_set_new(bo, "one_per_subject", json_boolean(o->one_per_subject));
    json_object_set_new(bo, "zh_script", json_string("simplified (OpenCC t2s.json)"));
    json_object_set_new(bo, "template_rank", json_string("human-checked, heng840, mLAMA, others; [Y]-final first; source order"));
    json_object_set_new(h, "build", bo);
    json_t *langs = json_array(), *fams = json_array();
    for (int l = 0; l < b->nl; l++) {
        const mt_data_lang *L = b->lt[l].L;
        json_array_append_new(langs, json_pack("{s:s, s:s, s:s, s:s}", "code", L->code, "name", L->name, "family",
                                               L->family, "branch", L->branch));
        int seen = 0;
        for (size_t k = 0; k < json_array_size(fams) && !seen; k++)
            seen = !strcmp(json_string_value(json_array_get(fams, k)), L->family);
        if (!seen) json_array_append_new(fams, json_string(L->family));
    }
    json_object_set_new(h, "languages", langs);
    json_object_set_new(h, "families", fams);
    json_object_set_new(h, "relations", str_array((const char *const *)b->rels, b->nrels));
    json_t *tt = json_object();
    long ntemplates = 0;
    for (int r = 0; r < b->nrels; r++) {
        json_t *per = json_object();
        for (int l = 0; l < b->nl; l++) {
            relt *rt = find_relt(&b->lt[l], b->rels[r]);
            json_t *arr = json_array();
            for (int i = 0; rt && i < rt->n; i++) {
                const tmpl *t = &rt->t[i];
                json_t *src = json_array();
                for (int s = SRC_MPARAREL; s <= SRC_PARAREL; s <<= 1)
                    if (t->sources & s) json_array_append_new(src, json_string(source_name(s)));
                json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:b, s:b}", "id", t->id, "template", t->text,
                                                     "sources", src, "human_checked", t->human, "y_final",
                                                     t->y_final));
                ntemplates++;
            }
            json_object_set_new(per, b->lt[l].L->code, arr);
        }
        json_object_set_new(tt, b->rels[r], per);
    }
    json_object_set_new(h, "templates", tt);
    json_t *c = json_object();
    json_object_set_new(c, "facts", json_integer(nfacts));
    json_object_set_new(c, "queries", json_integer(nqueries));
    json_object_set_new(c, "relations", json_integer(b->nrels));
    json_object_set_new(c, "templates", json_integer(ntemplates));
    json_object_set_new(c, "templates_read", json_integer(b->templates_read));
    json_t *td = json_object();
    for (int i = 0; i < N_DROP_REASONS; i++) json_object_set_new(td, drop_reasons[i], json_integer(b->drops[i]));
    json_object_set_new(c, "templates_dropped", td);
    json_object_set_new(c, "relations_dropped", json_incref(b->rel_drops));
    json_t *tl = json_object();
    for (int l = 0; l < b->nl; l++) {
        const langt *lt = &b->lt[l];
        json_t *x = json_pack("{s:I, s:I, s:I}", "read", (json_int_t)lt->tuples_read, "bad_label",
                              (json_int_t)lt->tuples_bad_label, "duplicate", (json_int_t)lt->tuples_dup);
        if (!strcmp(lt->L->code, "zh")) json_object_set_new(x, "added_from_mlama_zh", json_integer(lt->tuples_from_mlama));
        json_object_set_new(x, "usable", json_integer(b->tv[l].n));
        json_object_set_new(tl, lt->L->code, x);
    }
    json_object_set_new(c, "tuples", tl);
    json_object_set_new(c, "triples_not_parallel", json_integer(fc->not_parallel));
    json_object_set_new(c, "triples_parallel", json_integer(fc->parallel));
    json_object_set_new(c, "triples_leaked", json_integer(fc->leaked));
    json_object_set_new(c, "facts_before_cap", json_integer(fc->grouped));
    json_object_set_new(c, "facts_capped", json_integer(fc->capped));
    json_object_set_new(h, "counts", c);
    (void)fv;
    return h;
}

static json_t *fact_json(bctx *b, const fact *f, long *nq, mt_err *e) {
    const int nl = b->nl;
    char *id = fact_id(b, f);
    if (!id) return NULL;
    const tup *m0 = f->main[0];
    const tup *u = b->have_mlama_zh ? tup_find(&b->mlama_zh, m0->rel, m0->sub, m0->obj) : NULL;
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(id));
    free(id);
    json_object_set_new(j, "uuid", u && u->uuid ? json_string(u->uuid) : json_null());
    json_object_set_new(j, "relation", json_string(b->rels[f->rel]));
    json_object_set_new(j, "lineid", json_integer(m0->lineid));
    json_object_set_new(j, "sub_uri", json_string(m0->sub));
    json_object_set_new(j, "obj_uri", json_string(m0->obj));
    /* union of the alternative object ids, in id order */
    const char *alts[4096];
    int na = 0;
    for (int l = 0; l < nl; l++)
        for (int k = 0; k < f->nalt[l]; k++) {
            const char *o = f->alt[l][k]->obj;
            int pos = 0, dup = 0;
            while (pos < na && !dup) {
                int c = dt_id_cmp(alts[pos], o);
                if (c == 0) dup = 1;
                else if (c > 0) break;
                else pos++;
            }
            if (dup || na == (int)(sizeof alts / sizeof *alts)) continue;
            memmove(alts + pos + 1, alts + pos, sizeof *alts * (size_t)(na - pos));
            alts[pos] = o;
            na++;
        }
    json_object_set_new(j, "alt_obj_uris", str_array(alts, na));
    json_t *langs = json_object();
    for (int l = 0; l < nl; l++) {
        const tup *m = f->main[l];
        json_t *x = json_object();
        json_object_set_new(x, "family", json_string(b->lt[l].L->family));
        json_object_set_new(x, "subject", json_string(m->sl));
        json_object_set_new(x, "object", json_string(m->ol));
        json_t *al = json_array();
        for (int k = 0; k < f->nalt[l]; k++) json_array_append_new(al, json_string(f->alt[l][k]->ol));
        json_object_set_new(x, "alt_objects", al);
        json_t *qs = json_array();
        relt *rt = find_relt(&b->lt[l], b->rels[f->rel]);
        for (int i = 0; rt && i < rt->n; i++) {
            char *q = dt_replace1(rt->t[i].text, "[X]", m->sl);
            if (!q) {
                json_decref(j);
                json_decref(x);
                json_decref(qs);
                json_decref(langs);
                mt_fail(e, MT_ENOMEM, "out of memory");
                return NULL;
            }
            json_array_append_new(qs, json_pack("{s:s, s:s, s:b}", "tid", rt->t[i].id, "text", q, "y_final",
                                                rt->t[i].y_final));
            free(q);
            (*nq)++;
        }
        json_object_set_new(x, "queries", qs);
        json_object_set_new(langs, b->lt[l].L->code, x);
    }
    json_object_set_new(j, "langs", langs);
    return j;
}

static int write_line(FILE *f, json_t *j, mt_err *e) {
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s) return mt_fail(e, MT_ENOMEM, "out of memory serialising JSON");
    fputs(s, f);
    fputc('\n', f);
    free(s);
    return MT_OK;
}

static int write_output(bctx *b, const factv *fv, const fcounts *fc, const char *out_path, mt_data_build_info *info,
                        mt_err *e) {
    json_t *sources = NULL;
    int rc = sources_json(b, &sources, e);
    if (rc) return rc;
    /* serialise facts first (the header carries the counts) */
    long nfacts = 0, nq = 0;
    char **lines = calloc(fv->n ? fv->n : 1, sizeof *lines);
    if (!lines) {
        json_decref(sources);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    for (long i = 0; i < fv->n && !rc; i++) {
        if (!fv->v[i].keep) continue;
        json_t *j = fact_json(b, &fv->v[i], &nq, e);
        if (!j) {
            rc = mt_fail(e, MT_ENOMEM, "out of memory");
            break;
        }
        lines[i] = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!lines[i]) rc = mt_fail(e, MT_ENOMEM, "out of memory serialising JSON");
        nfacts++;
    }
    json_t *h = NULL;
    mt_afile af = {0};
    if (!rc) {
        h = header_json(b, sources, fv, fc, nfacts, nq);
        sources = NULL;
        rc = mt_afile_open(&af, out_path, e);
    }
    if (!rc) {
        rc = write_line(af.f, h, e);
        for (long i = 0; !rc && i < fv->n; i++)
            if (lines[i]) {
                fputs(lines[i], af.f);
                fputc('\n', af.f);
            }
        if (rc) mt_afile_abort(&af);
        else rc = mt_afile_commit(&af, e);
    }
    for (long i = 0; i < fv->n; i++) free(lines[i]);
    free(lines);
    json_decref(sources);
    json_decref(h);
    if (!rc && info) {
        info->facts = nfacts;
        info->queries = nq;
        info->relations = b->nrels;
        long nt = 0;
        for (int l = 0; l < b->nl; l++)
            for (int r = 0; r < b->nrels; r++) {
                relt *rt = find_relt(&b->lt[l], b->rels[r]);
                nt += rt ? rt->n : 0;
            }
        info->templates = nt;
    }
    return rc;
}

static int write_report(bctx *b, mt_err *e) {
    mt_afile af;
    int rc = mt_afile_open(&af, b->o->report_path, e);
    if (rc) return rc;
    for (size_t i = 0; !rc && i < json_array_size(b->report); i++) rc = write_line(af.f, json_array_get(b->report, i), e);
    if (rc) {
        mt_afile_abort(&af);
        return rc;
    }
    return mt_afile_commit(&af, e);
}

/* ---------------------------------------------------------------- entry */

void mt_data_build_opts_default(mt_data_build_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_templates = 5;
    o->min_templates = 2;
}

static void free_ctx(bctx *b) {
    for (int l = 0; l < b->nl; l++) {
        langt *lt = &b->lt[l];
        for (int i = 0; i < lt->n; i++) {
            for (int k = 0; k < lt->r[i].n; k++) free_tmpl(&lt->r[i].t[k]);
            free(lt->r[i].t);
        }
        free(lt->r);
        free_tupv(&b->tv[l]);
    }
    free_tupv(&b->mlama_zh);
    for (int r = 0; r < b->nrels; r++) free(b->rels[r]);
    free(b->rels);
    json_decref(b->report);
    json_decref(b->rel_drops);
    dt_opencc_close(b->cc);
}

int mt_data_build(const mt_data_build_opts *o, const char *out_path, mt_data_build_info *info, mt_err *e) {
    if (info) memset(info, 0, sizeof *info);
    if (!o->raw_dir || !out_path) return mt_fail(e, MT_EINVAL, "build: the raw directory and the output path are required");
    if (o->n_langs < 1 || o->n_langs > MAX_LANGS)
        return mt_fail(e, MT_EINVAL, "build: between 1 and %d languages are needed, got %d", MAX_LANGS, o->n_langs);
    if (o->min_templates < 1 || o->max_templates < o->min_templates)
        return mt_fail(e, MT_EINVAL, "build: need 1 <= min_templates (%d) <= max_templates (%d)", o->min_templates,
                       o->max_templates);
    if (o->max_per_relation < 0) return mt_fail(e, MT_EINVAL, "build: max_per_relation must be >= 0");
    if (!path_is_dir(o->raw_dir)) return mt_fail(e, MT_EIO, "%s: not a directory (the raw data)", o->raw_dir);
    bctx b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.nl = o->n_langs;
    b.digest = 0xcbf29ce484222325ULL;
    for (int l = 0; l < b.nl; l++) {
        b.lt[l].L = mt_data_lang_find(o->langs[l]);
        if (!b.lt[l].L) return mt_fail(e, MT_EINVAL, "build: unknown language '%s' (not in the mParaRel table)", o->langs[l]);
        for (int k = 0; k < l; k++)
            if (b.lt[k].L == b.lt[l].L) return mt_fail(e, MT_EINVAL, "build: language '%s' given twice", o->langs[l]);
    }
    int rc = dt_opencc_open(&b.cc, e);
    b.rel_drops = json_array();
    if (o->report_path) b.report = json_array();
    int zh_chosen = 0;
    for (int l = 0; !rc && l < b.nl; l++) {
        zh_chosen |= !strcmp(b.lt[l].L->code, "zh");
        char path[512];
        snprintf(path, sizeof path, "%s/mpararel/tuples/%s", o->raw_dir, b.lt[l].L->raw);
        if (!path_is_dir(path)) rc = mt_fail(e, MT_EIO, "%s: missing (the facts of language %s)", path, b.lt[l].L->code);
    }
    for (int l = 0; !rc && l < b.nl; l++) rc = load_templates(&b, &b.lt[l], e);
    if (!rc) rc = select_relations(&b, e);
    if (!rc && b.nrels == 0) rc = mt_fail(e, MT_EFORMAT, "build: no relation has at least %d usable templates in every language",
                                          o->min_templates);
    if (!rc) rc = load_mlama_zh(&b, zh_chosen, e);
    for (int l = 0; !rc && l < b.nl; l++) rc = load_tuples(&b, l, e);
    factv fv = {0};
    fcounts fc = {0};
    if (!rc) rc = make_facts(&b, &fv, &fc, e);
    if (!rc) rc = cap_relations(&b, &fv, &fc, e);
    if (!rc) rc = write_output(&b, &fv, &fc, out_path, info, e);
    if (!rc && o->report_path) rc = write_report(&b, e);
    for (long i = 0; i < fv.n; i++) free_fact(&fv.v[i], b.nl);
    free(fv.v);
    free_ctx(&b);
    return rc;
}
