/* Benchmark builder, stats, validation and filter on the fixtures in tests/data/raw-fixture
 * (run from the repository root). Every quality rule, bad inputs (missing files, malformed
 * lines, bad fields), determinism, validation of corrupted lines, stats numbers, and the filter
 * with a fake scorer and with the random-weight test model tests/golden/models/bert. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt_cloze.h"
#include "mt_data.h"
#include "mt_ig.h"
#include "mt_model.h"
#include "mt_test.h"
#include "mt_tokenizer.h"

#define GOOD "tests/data/raw-fixture/good"
#define BROKEN "tests/data/raw-fixture/broken"
#define BERT "tests/golden/models/bert"

static char tmp[256];

/* ---------------------------------------------------------------- helpers */

static char *path(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *p, size_t *n) {
    char *d = NULL;
    size_t len = 0;
    mt_err e = {0};
    if (mt_read_file(p, &d, &len, &e)) return NULL;
    if (n) *n = len;
    return d;
}

static void spit(const char *p, const char *s) {
    FILE *f = fopen(p, "wb");
    if (!f) return;
    fputs(s, f);
    fclose(f);
}

static int build(const char *raw, const char *langs, const char *out, mt_data_build_opts *extra, mt_err *e) {
    mt_data_build_opts o;
    if (extra) o = *extra;
    else mt_data_build_opts_default(&o);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", langs);
    const char *codes[16];
    int n = 0;
    for (char *t = strtok(buf, ","); t && n < 16; t = strtok(NULL, ",")) codes[n++] = t;
    o.raw_dir = raw;
    o.langs = codes;
    o.n_langs = n;
    memset(e, 0, sizeof *e);
    return mt_data_build(&o, out, NULL, e);
}

/* Line i (1-based) of a file as JSON. */
static json_t *line_json(const char *p, int i) {
    size_t n;
    char *d = slurp(p, &n);
    if (!d) return NULL;
    char *s = d;
    for (int k = 1; k < i && s; k++) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    json_t *j = NULL;
    if (s && *s) {
        char *end = strchr(s, '\n');
        j = json_loadb(s, end ? (size_t)(end - s) : strlen(s), 0, NULL);
    }
    free(d);
    return j;
}

static int count_lines(const char *p) {
    size_t n;
    char *d = slurp(p, &n);
    if (!d) return -1;
    int c = 0;
    for (size_t i = 0; i < n; i++) c += d[i] == '\n';
    free(d);
    return c;
}

/* The fact with this id, or NULL. */
static json_t *fact(const char *p, const char *id) {
    int n = count_lines(p);
    for (int i = 2; i <= n; i++) {
        json_t *j = line_json(p, i);
        if (j && !strcmp(json_string_value(json_object_get(j, "id")), id)) return j;
        json_decref(j);
    }
    return NULL;
}

static const char *lang_str(json_t *f, const char *lang, const char *key) {
    return json_string_value(json_object_get(json_object_get(json_object_get(f, "langs"), lang), key));
}

static json_t *lang_arr(json_t *f, const char *lang, const char *key) {
    return json_object_get(json_object_get(json_object_get(f, "langs"), lang), key);
}

static int strs_equal(json_t *a, const char **want, int n) {
    if (!json_is_array(a) || (int)json_array_size(a) != n) return 0;
    for (int i = 0; i < n; i++)
        if (!json_string_value(json_array_get(a, i)) || strcmp(json_string_value(json_array_get(a, i)), want[i])) return 0;
    return 1;
}

static json_t *template_ids(json_t *h, const char *rel, const char *lang) {
    json_t *arr = json_object_get(json_object_get(json_object_get(h, "templates"), rel), lang), *ids = json_array();
    for (size_t i = 0; i < json_array_size(arr); i++)
        json_array_append(ids, json_object_get(json_array_get(arr, i), "id"));
    return ids;
}

static int no_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int ok = 1;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) ok = 0;
    closedir(d);
    return ok;
}

/* Replaces line i (1-based) of a file with `with` (NULL: deletes it). */
static void replace_line(const char *src, const char *dst, int i, const char *with) {
    size_t n;
    char *d = slurp(src, &n);
    if (!d) return;
    FILE *f = fopen(dst, "wb");
    char *s = d;
    for (int k = 1; *s; k++) {
        char *end = strchr(s, '\n');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (k == i) {
            if (with) fprintf(f, "%s\n", with);
        } else {
            fwrite(s, 1, len, f);
            fputc('\n', f);
        }
        s += len + (end ? 1 : 0);
    }
    fclose(f);
    free(d);
}

/* Line i of a file as a string (malloc'ed). */
static char *line_str(const char *p, int i) {
    json_t *j = line_json(p, i);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* ---------------------------------------------------------------- template rules */

static void test_helpers(void) {
    CHECK(mt_data_template_problem("[X] was born in [Y] .") == NULL, "good template");
    CHECK(!strcmp(mt_data_template_problem("[X] was born"), "no [Y]"), "no [Y]");
    CHECK(!strcmp(mt_data_template_problem("born in [Y]"), "no [X]"), "no [X]");
    CHECK(!strcmp(mt_data_template_problem("[X] and [X] in [Y]"), "several [X]"), "several [X]");
    CHECK(!strcmp(mt_data_template_problem("[X] in [Y] or [Y]"), "several [Y]"), "several [Y]");
    CHECK(!strcmp(mt_data_template_problem("[X]n] pääkaupunki on [Y]"), "stray bracket"), "stray ]");
    CHECK(!strcmp(mt_data_template_problem("[ [X] ] is [Y]"), "stray bracket"), "stray [");
    CHECK(!strcmp(mt_data_template_problem("[X] is [Y] [sic]"), "stray bracket"), "other bracket");
    CHECK(!strcmp(mt_data_template_problem("[Y] is the capital of [X]"), "[Y] before [X]"), "order");
    CHECK(mt_data_y_final("[X] was born in [Y] ."), "y final with ' .'");
    CHECK(mt_data_y_final("[X]の首都は[Y]。"), "y final with 。");
    CHECK(mt_data_y_final("[X] est « [Y] »."), "y final with quotes");
    CHECK(!mt_data_y_final("[X]の首都は[Y]です。"), "not final: です");
    CHECK(!mt_data_y_final("[X] 'un başkenti [Y]' dir."), "not final: suffix");
    CHECK(mt_data_lang_find("zh") && !strcmp(mt_data_lang_find("zh")->raw, "zh-hans"), "zh reads zh-hans");
    CHECK(mt_data_lang_find("xx") == NULL, "unknown language");
}

/* ---------------------------------------------------------------- build: rules on the fixture */

static void test_build_rules(void) {
    mt_err e;
    const char *out = path("b.jsonl");
    int rc = build(GOOD, "en,de,zh", out, NULL, &e);
    CHECK(rc == MT_OK, "build fixture: %s", e.msg);
    if (rc) return;
    CHECK(no_temp_files(tmp), "no temporary files left");
    CHECK(count_lines(out) == 11, "header + 10 facts, got %d lines", count_lines(out));
    json_t *h = line_json(out, 1);
    CHECK(h && !strcmp(json_string_value(json_object_get(h, "format")), MT_DATA_FORMAT), "header format");
    CHECK(json_integer_value(json_object_get(h, "schema_version")) == MT_DATA_SCHEMA_VERSION, "schema version");
    CHECK(strstr(json_string_value(json_object_get(h, "licence")), "CC BY-NC 4.0") != NULL, "licence recorded");
    json_t *src = json_object_get(h, "sources");
    int mp = 0;
    for (size_t i = 0; i < json_array_size(src); i++) {
        json_t *s = json_array_get(src, i);
        if (!strcmp(json_string_value(json_object_get(s, "repo")), "coastalcph/mpararel") &&
            !strcmp(json_string_value(json_object_get(s, "commit")), "7153b7bdc86901fbe23d0c2909a4f2d4609b09d9") &&
            json_string_value(json_object_get(s, "licence")))
            mp = 1;
    }
    CHECK(mp, "sources: mParaRel with its commit and licence");
    const char *rels[] = {"P19", "P36", "P47"};
    CHECK(strs_equal(json_object_get(h, "relations"), rels, 3), "relations P19 P36 P47 (P31, P103 dropped)");
    json_t *rd = json_object_get(json_object_get(h, "counts"), "relations_dropped");
    int p103 = 0, p31 = 0;
    for (size_t i = 0; i < json_array_size(rd); i++) {
        const char *r = json_string_value(json_object_get(json_array_get(rd, i), "relation"));
        const char *why = json_string_value(json_object_get(json_array_get(rd, i), "reason"));
        if (!strcmp(r, "P103") && strstr(why, "1 usable template in zh")) p103 = 1;
        if (!strcmp(r, "P31") && strstr(why, "in en")) p31 = 1;
    }
    CHECK(p103, "rule: relation with < 2 templates in one language (zh P103) is dropped for all");
    CHECK(p31, "rule: relation with only the mLAMA template (P31) is dropped");
    json_t *td = json_object_get(json_object_get(h, "counts"), "templates_dropped");
    CHECK(json_integer_value(json_object_get(td, "no [X]")) == 1, "dropped: no [X]");
    CHECK(json_integer_value(json_object_get(td, "no [Y]")) == 1, "dropped: no [Y]");
    CHECK(json_integer_value(json_object_get(td, "stray bracket")) == 1, "dropped: broken brackets");
    CHECK(json_integer_value(json_object_get(td, "[Y] before [X]")) == 2, "dropped: subject after the slot");
    CHECK(json_integer_value(json_object_get(td, "blacklist")) == 2, "dropped: blacklisted mistranslations");

    /* ranking: heng840 > mLAMA > others; duplicates (whitespace, case, final " .") merged */
    const char *en19[] = {"en:P19:heng840:1", "en:P19:mlama", "en:P19:mpararel:4"};
    json_t *ids = template_ids(h, "P19", "en");
    CHECK(strs_equal(ids, en19, 3), "en P19 templates: heng840, mLAMA (merged with 2 duplicates), other");
    json_decref(ids);
    /* human-checked first, [Y]-final first within a rank */
    const char *de19[] = {"de:P19:mpararel:3", "de:P19:mpararel:1", "de:P19:mpararel:2"};
    ids = template_ids(h, "P19", "de");
    CHECK(strs_equal(ids, de19, 3), "de P19 templates: human-checked first");
    json_decref(ids);
    json_t *t0 = json_array_get(json_object_get(json_object_get(json_object_get(h, "templates"), "P19"), "de"), 1);
    CHECK(json_is_true(json_object_get(t0, "human_checked")), "human_checked flag");
    json_t *srcs = json_object_get(t0, "sources");
    CHECK(json_array_size(srcs) == 2, "the merged template lists both sources");
    /* zh: spaces deleted, space variants deduplicated, traditional mLAMA merged after t2s */
    const char *zh19[] = {"zh:P19:mpararel:1", "zh:P19:mpararel:3"};
    ids = template_ids(h, "P19", "zh");
    CHECK(strs_equal(ids, zh19, 2), "zh P19: space variant and t2s-converted mLAMA template merged");
    json_decref(ids);
    const char *zh47t = json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(json_object_get(h, "templates"), "P47"), "zh"), 0), "template"));
    CHECK(zh47t && !strcmp(zh47t, "[X]与[Y]相邻。"), "zh mLAMA template converted to simplified: %s", zh47t);
    /* blacklist */
    json_t *de36 = json_object_get(json_object_get(json_object_get(h, "templates"), "P36"), "de");
    CHECK(json_array_size(de36) == 2, "de P36: the 'kapital' mistranslation dropped");
    json_decref(h);

    /* facts: parallel, no leaks, zh completed from mLAMA with OpenCC */
    const char *want[] = {"P19:Q1001:Q2001", "P19:Q1002:Q2002", "P19:Q1005:Q2004", "P36:Q3001:Q2001", "P36:Q3002:Q2002",
                          "P36:Q3003:Q2004", "P36:Q3004:Q2003", "P47:Q3001:Q3002", "P47:Q3001:Q3003", "P47:Q3002:Q3001"};
    int ok = 1;
    for (int i = 0; i < 10; i++) {
        json_t *j = line_json(out, i + 2);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!id || strcmp(id, want[i])) {
            ok = 0;
            printf("  line %d: %s (want %s)\n", i + 2, id ? id : "?", want[i]);
        }
        json_decref(j);
    }
    CHECK(ok, "fact ids and order (Q1003 leaked in en, Q1006 leaked in de, Q1004 missing in zh)");
    json_t *f = fact(out, "P19:Q1005:Q2004");
    CHECK(f && !strcmp(lang_str(f, "zh", "subject"), "埃米尔") && !strcmp(lang_str(f, "zh", "object"), "维也纳"),
          "OpenCC t2s on mLAMA zh labels");
    CHECK(f && !strcmp(json_string_value(json_object_get(f, "uuid")), "u-1005"), "mLAMA uuid");
    json_t *q = lang_arr(f, "zh", "queries");
    CHECK(json_array_size(q) == 2 && !strcmp(json_string_value(json_object_get(json_array_get(q, 0), "text")), "埃米尔出生于[Y]"),
          "zh query text");
    json_decref(f);
    f = fact(out, "P19:Q1001:Q2001");
    CHECK(f && !strcmp(lang_str(f, "zh", "subject"), "爱丽丝"), "zh-hans label preferred over mLAMA's");
    CHECK(f && !strcmp(lang_str(f, "zh", "family"), "Sino-Tibetan") && !strcmp(lang_str(f, "de", "family"), "Indo-European"),
          "family per language");
    q = lang_arr(f, "de", "queries");
    json_t *q1 = json_array_get(q, 1);
    CHECK(!strcmp(json_string_value(json_object_get(q1, "tid")), "de:P19:mpararel:1") &&
              !strcmp(json_string_value(json_object_get(q1, "text")), "Alice Example wurde in [Y] geboren") &&
              json_is_false(json_object_get(q1, "y_final")),
          "de query: tid, text with [Y], y_final false");
    q = lang_arr(f, "en", "queries");
    CHECK(json_array_size(q) == 3 && json_is_true(json_object_get(json_array_get(q, 0), "y_final")) &&
              !strcmp(json_string_value(json_object_get(json_array_get(q, 1), "text")), "Alice Example was born in [Y]."),
          "en queries (mLAMA text without the space before '.')");
    json_decref(f);
    f = fact(out, "P36:Q3001:Q2001");
    CHECK(f && json_is_null(json_object_get(f, "uuid")), "uuid null when unknown");
    json_decref(f);
    f = fact(out, "P47:Q3001:Q3002");
    const char *alt_en[] = {"Austria", "Poland"}, *alt_zh[] = {"奥地利"}, *alt_ids[] = {"Q3003", "Q3005"};
    CHECK(f && strs_equal(lang_arr(f, "en", "alt_objects"), alt_en, 2), "N-M: alternatives in en");
    CHECK(f && strs_equal(lang_arr(f, "zh", "alt_objects"), alt_zh, 1), "N-M: alternatives need a label in the language");
    CHECK(f && strs_equal(json_object_get(f, "alt_obj_uris"), alt_ids, 2), "N-M: alt_obj_uris");
    json_decref(f);
    f = fact(out, "P36:Q3004:Q2003");
    CHECK(f && !strcmp(lang_str(f, "zh", "object"), "罗马"), "zh fact only in mLAMA zh triples, converted");
    json_decref(f);

    /* the same inputs give the same bytes */
    const char *out2 = path("b2.jsonl");
    rc = build(GOOD, "en,de,zh", out2, NULL, &e);
    size_t n1 = 0, n2 = 0;
    char *a = slurp(out, &n1), *b = slurp(out2, &n2);
    CHECK(rc == MT_OK && a && b && n1 == n2 && !memcmp(a, b, n1), "determinism: byte-identical rebuild");
    free(a);
    free(b);
    mt_data_problems p;
    CHECK(mt_data_validate(out, 10, &p, &e) == MT_OK, "the build validates: %s", e.msg);
    mt_data_problems_free(&p);
}

static void test_build_options(void) {
    mt_err e;
    mt_data_build_opts o;
    /* cap per relation, seeded */
    mt_data_build_opts_default(&o);
    o.max_per_relation = 2;
    const char *c1 = path("cap1.jsonl"), *c2 = path("cap2.jsonl");
    CHECK(build(GOOD, "en,de,zh", c1, &o, &e) == MT_OK, "cap build: %s", e.msg);
    CHECK(count_lines(c1) == 7, "cap 2 per relation: 6 facts");
    json_t *h = line_json(c1, 1);
    CHECK(json_integer_value(json_object_get(json_object_get(h, "counts"), "facts_capped")) == 4, "4 facts capped");
    json_decref(h);
    build(GOOD, "en,de,zh", c2, &o, &e);
    char *a = slurp(c1, NULL), *b = slurp(c2, NULL);
    CHECK(a && b && !strcmp(a, b), "cap: same seed, same sample");
    free(a);
    free(b);
    int differs = 0;
    char *first = NULL;
    for (uint64_t s = 1; s <= 12 && !differs; s++) {
        o.seed = s;
        build(GOOD, "en,de,zh", c2, &o, &e);
        char *ids = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&ids, &len);
        for (int i = 2; i <= 7; i++) {
            json_t *j = line_json(c2, i);
            fprintf(m, "%s ", json_string_value(json_object_get(j, "id")));
            json_decref(j);
        }
        fclose(m);
        if (!first) first = ids;
        else {
            differs = strcmp(first, ids) != 0;
            free(ids);
        }
    }
    free(first);
    CHECK(differs, "cap: the seed changes the sample");
    /* K templates */
    mt_data_build_opts_default(&o);
    o.max_templates = 2;
    mt_data_build_info info;
    const char *k2 = path("k2.jsonl");
    const char *codes[] = {"en", "de", "zh"};
    o.raw_dir = GOOD;
    o.langs = codes;
    o.n_langs = 3;
    CHECK(mt_data_build(&o, k2, &info, &e) == MT_OK && info.queries == 60 && info.facts == 10,
          "top K = 2: 60 queries, got %ld", info.queries);
    /* min templates 3: P19 (zh has 2) and P36 (de, zh have 2) drop */
    o.max_templates = 5;
    o.min_templates = 3;
    CHECK(mt_data_build(&o, k2, &info, &e) == MT_OK && info.relations == 1 && info.facts == 3, "min templates 3");
    /* one fact per (relation, subject) */
    mt_data_build_opts_default(&o);
    o.one_per_subject = 1;
    o.raw_dir = GOOD;
    o.langs = codes;
    o.n_langs = 3;
    CHECK(mt_data_build(&o, k2, &info, &e) == MT_OK && info.facts == 9, "one per subject: 9 facts");
    json_t *f = fact(k2, "P47:Q3001:Q3002");
    const char *alt[] = {"Austria", "Poland"};
    CHECK(f && strs_equal(lang_arr(f, "en", "alt_objects"), alt, 2), "one per subject: lowest line id is the object");
    json_decref(f);
    mt_data_problems p;
    CHECK(mt_data_validate(k2, 10, &p, &e) == MT_OK, "one-per-subject file validates: %s", e.msg);
    mt_data_problems_free(&p);
    /* without zh: mLAMA zh triples only give uuids; P103 comes back; Q1004 and Poland are parallel */
    CHECK(build(GOOD, "en,de", k2, NULL, &e) == MT_OK, "en,de build: %s", e.msg);
    h = line_json(k2, 1);
    const char *rels4[] = {"P19", "P36", "P47", "P103"};
    CHECK(strs_equal(json_object_get(h, "relations"), rels4, 4), "en,de: 4 relations");
    json_decref(h);
    f = fact(k2, "P19:Q1004:Q2003");
    CHECK(f != NULL, "en,de: the fact missing in zh is back");
    json_decref(f);
    f = fact(k2, "P19:Q1002:Q2002");
    CHECK(f && !strcmp(json_string_value(json_object_get(f, "uuid")), "u-1002"), "uuid without zh");
    json_decref(f);
    CHECK(count_lines(k2) == 14, "en,de: 13 facts, got %d", count_lines(k2) - 1);
}

/* ---------------------------------------------------------------- build: bad input */

static void copy_good(const char *dst) {
    sh("rm -rf '%s' && cp -r " GOOD " '%s'", dst, dst);
}

static void expect_fail(const char *raw, const char *langs, const char *what, const char *s1, const char *s2) {
    mt_err e;
    const char *out = path("fail.jsonl");
    unlink(out);
    int rc = build(raw, langs, out, NULL, &e);
    int ok = rc != MT_OK && strstr(e.msg, s1) && (!s2 || strstr(e.msg, s2)) && !strchr(e.msg, '\n');
    CHECK(ok, "%s: rc %d, message '%s' should contain '%s'%s%s", what, rc, e.msg, s1, s2 ? " and " : "", s2 ? s2 : "");
    CHECK(access(out, F_OK) != 0 && no_temp_files(tmp), "%s: no output left behind", what);
}

static void test_build_bad(void) {
    mt_err e;
    char raw[512], f[600];
    snprintf(raw, sizeof raw, "%s", path("raw"));
    expect_fail("/nonexistent/raw", "en", "missing raw dir", "/nonexistent/raw", "not a directory");
    CHECK(build(GOOD, "en,xx", path("x.jsonl"), NULL, &e) == MT_EINVAL && strstr(e.msg, "'xx'"), "unknown language");
    CHECK(build(GOOD, "en,de,en", path("x.jsonl"), NULL, &e) == MT_EINVAL && strstr(e.msg, "twice"), "language twice");
    mt_data_build_opts o;
    mt_data_build_opts_default(&o);
    o.max_templates = 1;
    CHECK(build(GOOD, "en", path("x.jsonl"), &o, &e) == MT_EINVAL, "K below min templates");
    CHECK(build(GOOD, "en", "/nonexistent/dir/out.jsonl", NULL, &e) == MT_EIO && strstr(e.msg, "/nonexistent/dir/out.jsonl"),
          "unwritable output: %s", e.msg);

    copy_good(raw);
    sh("rm -rf '%s/mpararel/patterns/de'", raw);
    expect_fail(raw, "en,de", "missing patterns dir", "mpararel/patterns/de", "cannot open directory");
    copy_good(raw);
    sh("rm -rf '%s/mpararel/tuples/zh-hans'", raw);
    expect_fail(raw, "en,zh", "missing tuples dir", "mpararel/tuples/zh-hans", "missing");
    copy_good(raw);
    sh("rm -f '%s/MANIFEST.tsv'", raw);
    expect_fail(raw, "en,de", "missing MANIFEST.tsv", "MANIFEST.tsv", "cannot open");
    copy_good(raw);
    sh("rm -f '%s/mlama1.1-templates/de/dev.jsonl'", raw);
    expect_fail(raw, "en,de", "missing mLAMA template file", "mlama1.1-templates/de/dev.jsonl", "cannot open");
    copy_good(raw);
    sh("rm -rf '%s/mlama1.1-zh-triples'", raw);
    expect_fail(raw, "en,zh", "missing mLAMA zh triples", "mlama1.1-zh-triples", NULL);
    CHECK(build(raw, "en,de", path("x.jsonl"), NULL, &e) == MT_OK, "mLAMA zh triples optional without zh: %s", e.msg);
    copy_good(raw);
    sh("rm -f '%s/mlama1.1-zh-triples/P47/dev.jsonl'", raw);
    expect_fail(raw, "en,zh", "missing mLAMA zh triples file", "mlama1.1-zh-triples/P47/dev.jsonl", NULL);
    /* a missing tuples file drops the relation (reported), it is not an error */
    copy_good(raw);
    sh("rm -f '%s/mpararel/tuples/de/P47.jsonl'", raw);
    mt_data_build_info info;
    const char *codes[] = {"en", "de"};
    mt_data_build_opts_default(&o);
    o.raw_dir = raw;
    o.langs = codes;
    o.n_langs = 2;
    CHECK(mt_data_build(&o, path("x.jsonl"), &info, &e) == MT_OK && info.relations == 3, "missing tuples file drops the relation");

    static const struct {
        const char *file, *target, *langs, *s1, *s2;
    } cases[] = {
        {"patterns-malformed.jsonl", "mpararel/patterns/en/P19.jsonl", "en,de", "P19.jsonl:2:", "malformed JSON"},
        {"patterns-not-string.jsonl", "mpararel/patterns/en/P36.jsonl", "en,de", "P36.jsonl:1:", "field 'pattern': not a string"},
        {"patterns-bad-flag.jsonl", "mpararel/patterns/de/P19.jsonl", "en,de", "P19.jsonl:1:", "field 'checked-by-human'"},
        {"patterns-array.jsonl", "mpararel/patterns/en/P19.jsonl", "en", "P19.jsonl:2:", "not a JSON object"},
        {"tuples-missing-field.jsonl", "mpararel/tuples/de/P36.jsonl", "en,de", "de/P36.jsonl:3:", "field 'obj_label': missing"},
        {"tuples-bad-id.jsonl", "mpararel/tuples/en/P47.jsonl", "en,de", "en/P47.jsonl:2:", "field 'sub_uri'"},
        {"tuples-bad-lineid.jsonl", "mpararel/tuples/en/P36.jsonl", "en", "en/P36.jsonl:1:", "field 'lineid'"},
        {"heng840-no-relation.jsonl", "heng840-dataset/en/final_template.jsonl", "en", "final_template.jsonl:1:",
         "field 'relation': missing"},
        {"mlama-bad-relation.jsonl", "mlama1.1-templates/en/train.jsonl", "en", "train.jsonl:2:", "field 'relation': not a string"},
        {"manifest-short.tsv", "MANIFEST.tsv", "en", "MANIFEST.tsv:2:", "tab-separated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        copy_good(raw);
        snprintf(f, sizeof f, "%s/%s", raw, cases[i].target);
        sh("cp " BROKEN "/%s '%s'", cases[i].file, f);
        expect_fail(raw, cases[i].langs, cases[i].file, cases[i].s1, cases[i].s2);
        CHECK(strstr(e.msg, "\n") == NULL, "one line");
    }
    sh("rm -rf '%s'", raw);
}

/* ---------------------------------------------------------------- validate */

static void expect_problem(const char *file, const char *what, const char *s1, const char *s2) {
    mt_err e = {0};
    mt_data_problems p;
    int rc = mt_data_validate(file, 50, &p, &e);
    int hit = 0;
    for (int i = 0; i < p.n_msg; i++)
        if (strstr(p.msg[i], s1) && (!s2 || strstr(p.msg[i], s2))) hit = 1;
    CHECK(rc == MT_EFORMAT && hit, "validate %s: rc %d, first '%s'; want '%s' %s", what, rc, e.msg, s1, s2 ? s2 : "");
    mt_data_problems_free(&p);
}

static void test_validate(void) {
    mt_err e;
    const char *good = path("v.jsonl"), *bad = path("vbad.jsonl");
    if (build(GOOD, "en,de,zh", good, NULL, &e)) {
        CHECK(0, "validate: build failed: %s", e.msg);
        return;
    }
    char want[600];
    /* a corrupted query on line 5: no [Y] */
    char *l5 = line_str(good, 5);
    char *y = l5 ? strstr(l5, "[Y]") : NULL;
    if (y) y[1] = 'Z';
    replace_line(good, bad, 5, l5);
    free(l5);
    snprintf(want, sizeof want, "%s:5: field 'langs.en.queries[0].text'", bad);
    expect_problem(bad, "corrupted [Y]", want, "0 [Y] slots");
    /* malformed JSON on line 4 */
    replace_line(good, bad, 4, "{\"id\": \"P19:Q1005:Q2004\", \"langs\": ");
    snprintf(want, sizeof want, "%s:4: malformed JSON", bad);
    expect_problem(bad, "malformed line", want, NULL);
    /* a language missing on line 3 */
    json_t *j = line_json(good, 3);
    json_object_del(json_object_get(j, "langs"), "zh");
    char *s = json_dumps(j, JSON_COMPACT);
    replace_line(good, bad, 3, s);
    free(s);
    json_decref(j);
    snprintf(want, sizeof want, "%s:3: field 'langs.zh'", bad);
    expect_problem(bad, "missing language", want, "missing");
    /* y_final flag wrong, object leaking into the subject, wrong id */
    j = line_json(good, 2);
    json_t *q0 = json_array_get(lang_arr(j, "en", "queries"), 0);
    json_object_set_new(q0, "y_final", json_false());
    json_object_set_new(json_object_get(json_object_get(j, "langs"), "de"), "subject", json_string("Berlin Alice"));
    json_object_set_new(j, "id", json_string("P19:Q1:Q2"));
    s = json_dumps(j, JSON_COMPACT);
    replace_line(good, bad, 2, s);
    free(s);
    json_decref(j);
    snprintf(want, sizeof want, "%s:2: field 'langs.en.queries[0].y_final'", bad);
    expect_problem(bad, "y_final", want, NULL);
    snprintf(want, sizeof want, "%s:2: field 'langs.de.object'", bad);
    expect_problem(bad, "leak", want, "inside the subject");
    snprintf(want, sizeof want, "%s:2: field 'id'", bad);
    expect_problem(bad, "id", want, "relation:sub_uri:obj_uri");
    /* order and duplicates */
    char *l2 = line_str(good, 2), *l3 = line_str(good, 3);
    replace_line(good, bad, 2, l3);
    replace_line(bad, path("vbad2.jsonl"), 3, l2);
    snprintf(want, sizeof want, "%s:3: field 'id'", path("vbad2.jsonl"));
    expect_problem(path("vbad2.jsonl"), "order", want, "sorted");
    replace_line(good, bad, 3, l2);
    snprintf(want, sizeof want, "%s:3: field 'id'", bad);
    expect_problem(bad, "duplicate", want, "repeats");
    free(l2);
    free(l3);
    /* a deleted line: counts.facts disagrees */
    replace_line(good, bad, 7, NULL);
    snprintf(want, sizeof want, "%s:1: field 'counts.facts'", bad);
    expect_problem(bad, "line count", want, NULL);
    /* header */
    replace_line(good, bad, 1, "{\"format\": \"something else\"}");
    snprintf(want, sizeof want, "%s:1: field 'format'", bad);
    expect_problem(bad, "header", want, NULL);
    spit(bad, "");
    expect_problem(bad, "empty file", "empty file", NULL);
    /* many problems: all counted, messages capped */
    mt_data_problems p;
    replace_line(good, bad, 1, "{\"format\": \"matrice-cloze-benchmark\", \"schema_version\": 9}");
    CHECK(mt_data_validate(bad, 2, &p, &e) == MT_EFORMAT && p.n >= 3 && p.n_msg == 2, "problems counted, messages capped");
    mt_data_problems_free(&p);
    CHECK(mt_data_validate(path("does-not-exist.jsonl"), 5, &p, &e) == MT_EIO, "validate: missing file is EIO");
    mt_data_problems_free(&p);
}

/* ---------------------------------------------------------------- stats */

static double jnum(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static void test_stats(void) {
    mt_err e;
    const char *out = path("s.jsonl");
    if (build(GOOD, "en,de,zh", out, NULL, &e)) return;
    json_t *st = NULL;
    CHECK(mt_data_stats(out, &st, &e) == MT_OK, "stats: %s", e.msg);
    if (!st) return;
    CHECK(jnum(st, "facts") == 10 && jnum(st, "languages") == 3 && jnum(st, "families") == 2 &&
              jnum(st, "relations") == 3 && jnum(st, "queries") == 83,
          "stats totals");
    CHECK(fabs(jnum(st, "queries_per_fact_per_language") - 83.0 / 30) < 1e-9 && jnum(st, "min_queries_per_fact_language") == 2,
          "stats q/f/l");
    json_t *pl = json_object_get(st, "per_language");
    CHECK(jnum(json_array_get(pl, 0), "queries") == 34 && jnum(json_array_get(pl, 1), "queries") == 26 &&
              jnum(json_array_get(pl, 2), "queries") == 23,
          "queries per language 34/26/23");
    CHECK(jnum(json_array_get(pl, 0), "facts_with_alternatives") == 2, "facts with alternatives");
    CHECK(fabs(jnum(json_array_get(pl, 0), "y_final_share") - 1.0) < 1e-9, "en all [Y]-final");
    json_t *pf = json_object_get(st, "per_family");
    CHECK(json_array_size(pf) == 2 && jnum(json_array_get(pf, 0), "queries") == 60 &&
              fabs(jnum(json_array_get(pf, 0), "queries_per_fact_per_language") - 3.0) < 1e-9,
          "per family");
    json_t *pr = json_object_get(st, "per_relation");
    CHECK(json_array_size(pr) == 3 && !strcmp(json_string_value(json_object_get(json_array_get(pr, 1), "relation")), "P36") &&
              jnum(json_array_get(pr, 1), "facts") == 4 && jnum(json_array_get(pr, 1), "queries") == 32,
          "per relation P36");
    char *t = mt_data_stats_table(st);
    CHECK(t && strstr(t, "facts 10, languages 3, families 2, relations 3, queries 83") && strstr(t, "Sino-Tibetan") &&
              strstr(t, "P47"),
          "stats table");
    free(t);
    json_decref(st);
    spit(path("junk.jsonl"), "{\"format\": \"x\"}\n");
    CHECK(mt_data_stats(path("junk.jsonl"), &st, &e) == MT_EFORMAT && strstr(e.msg, "junk.jsonl:1:"), "stats on a non-benchmark");
}

/* ---------------------------------------------------------------- filter */

typedef struct fake {
    int mode; /* 0: ASCII answers known; 1: everything unscorable; 2: prob 0.3, never top-1; 3: Austria only */
    long calls;
} fake;

static int fake_score(void *ctx, const char *query, const char *answer, double *prob, int *top1, mt_err *e) {
    fake *f = ctx;
    f->calls++;
    *prob = 0;
    *top1 = 0;
    if (!strstr(query, "[Y]")) return mt_fail(e, MT_EFORMAT, "no slot");
    switch (f->mode) {
    case 0: {
        int ascii = 1;
        for (const unsigned char *p = (const unsigned char *)answer; *p; p++) ascii &= *p < 128;
        *top1 = ascii;
        *prob = ascii ? 0.9 : 0.01;
        return MT_OK;
    }
    case 1: return mt_fail(e, MT_EINVAL, "answer '%s': cannot be expressed", answer);
    case 2: *prob = 0.3; return MT_OK;
    default:
        *top1 = !strcmp(answer, "Austria") || !strcmp(answer, "Österreich") || !strcmp(answer, "奥地利");
        return MT_OK;
    }
}

static int run_filter(const char *in, const char *out, int mode, double min_prob, int all, mt_data_filter_info *info) {
    fake f = {mode, 0};
    mt_data_scorer s = {&f, "fake", fake_score, NULL};
    mt_data_filter_opts o = {min_prob, all, "fake"};
    mt_err e = {0};
    int rc = mt_data_filter(in, out, &s, &o, info, &e);
    if (rc) printf("  filter: %s\n", e.msg);
    return rc;
}

static void test_filter(void) {
    mt_err e;
    const char *in = path("f.jsonl"), *out = path("f.out.jsonl");
    char dropped[600];
    snprintf(dropped, sizeof dropped, "%s.dropped.jsonl", out);
    if (build(GOOD, "en,de,zh", in, NULL, &e)) return;
    mt_data_filter_info info;
    /* require all: zh answers are never ASCII -> all dropped, reason names zh */
    CHECK(run_filter(in, out, 0, -1, 1, &info) == MT_OK && info.kept == 0 && info.dropped == 10, "require all: all dropped");
    CHECK(count_lines(dropped) == 10, "one dropped line per fact");
    json_t *d = line_json(dropped, 1);
    const char *why = json_string_value(json_object_get(d, "reason"));
    CHECK(why && strstr(why, "zh:") && strstr(why, "best P"), "reason: %s", why ? why : "");
    CHECK(json_is_true(json_object_get(json_object_get(json_object_get(d, "langs"), "en"), "known")), "en known in the record");
    json_decref(d);
    CHECK(count_lines(out) == 1, "kept file: header only");
    mt_data_problems p0;
    CHECK(mt_data_validate(out, 10, &p0, &e) == MT_OK, "an empty filter result validates: %s", e.msg);
    mt_data_problems_free(&p0);
    /* require any: en known -> all kept; the output validates and its header records the filter */
    CHECK(run_filter(in, out, 0, -1, 0, &info) == MT_OK && info.kept == 10 && info.dropped == 0, "require any: all kept");
    CHECK(count_lines(dropped) == 0, "nothing dropped");
    mt_data_problems p;
    CHECK(mt_data_validate(out, 10, &p, &e) == MT_OK, "filtered file validates: %s", e.msg);
    mt_data_problems_free(&p);
    json_t *h = line_json(out, 1), *f = json_object_get(h, "filter");
    CHECK(f && !strcmp(json_string_value(json_object_get(f, "require")), "any") && json_integer_value(json_object_get(f, "kept")) == 10 &&
              json_is_null(json_object_get(f, "min_prob")),
          "filter recorded in the header");
    json_decref(h);
    char *a = slurp(in, NULL), *b = slurp(out, NULL);
    CHECK(a && b && !strcmp(strchr(a, '\n'), strchr(b, '\n')), "kept facts are copied verbatim");
    free(a);
    free(b);
    /* unscorable answers: dropped with the reason */
    CHECK(run_filter(in, out, 1, 0.0, 1, &info) == MT_OK && info.dropped == 10, "unscorable: dropped");
    d = line_json(dropped, 1);
    why = json_string_value(json_object_get(d, "reason"));
    CHECK(why && strstr(why, "no query could be scored") && strstr(why, "cannot be expressed"), "reason: %s", why ? why : "");
    json_decref(d);
    /* probability threshold */
    CHECK(run_filter(in, out, 2, 0.2, 1, &info) == MT_OK && info.kept == 10, "P 0.3 >= 0.2: kept");
    CHECK(run_filter(in, out, 2, 0.5, 1, &info) == MT_OK && info.dropped == 10, "P 0.3 < 0.5: dropped");
    CHECK(run_filter(in, out, 2, -1, 1, &info) == MT_OK && info.dropped == 10, "top-1 only: dropped");
    /* alternatives count as gold answers */
    CHECK(run_filter(in, out, 3, -1, 1, &info) == MT_OK && info.kept == 2, "alternatives accepted: 2 P47 facts kept, got %ld",
          info.kept);
    json_t *k = line_json(out, 2);
    CHECK(k && !strcmp(json_string_value(json_object_get(k, "id")), "P47:Q3001:Q3002"), "kept via the alternative Austria");
    json_decref(k);
    /* bad use */
    fake fk = {0, 0};
    mt_data_scorer s = {&fk, "fake", fake_score, NULL};
    mt_data_filter_opts o = {-1, 1, "fake"};
    CHECK(mt_data_filter(in, in, &s, &o, &info, &e) == MT_EINVAL, "output = input refused");
    CHECK(mt_data_filter(path("none.jsonl"), out, &s, &o, &info, &e) == MT_EIO, "missing input");
    replace_line(in, path("fbad.jsonl"), 3, "{\"id\": \"x\"}");
    CHECK(mt_data_filter(path("fbad.jsonl"), out, &s, &o, &info, &e) == MT_EFORMAT && strstr(e.msg, "fbad.jsonl:3:"),
          "bad fact line: %s", e.msg);
}

/* The masked-LM scorer on the random-weight test model: P(answer) agrees with mt_answer_probs,
 * min_prob 0 keeps every fact whose answers the tokenizer can express, a high threshold drops. */
static void test_filter_model(void) {
    if (!mt_file_exists(BERT "/config.json")) {
        printf("skip: %s missing\n", BERT);
        return;
    }
    mt_err e = {0};
    mt_data_scorer s;
    if (mt_data_scorer_open(BERT, &s, &e)) {
        CHECK(0, "scorer open: %s", e.msg);
        return;
    }
    CHECK(!strcmp(s.kind, "masked"), "BERT gets the masked scorer");
    const char *query = "Alice Example was born in [Y].";
    double p = 0;
    int top1 = 0;
    CHECK(s.score(s.ctx, query, "Berlin", &p, &top1, &e) == MT_OK && p > 0 && p < 1, "score: %s", e.msg);
    /* the same number through mt_cloze + mt_answer_probs */
    mt_tokenizer *tok = NULL;
    mt_model *m = NULL;
    mt_cloze c = {0};
    int32_t *ans = NULL;
    int na = 0;
    if (!mt_tok_load(BERT, &tok, &e) && !mt_model_load(BERT, &m, &e) && !mt_cloze_answer(tok, query, "Berlin", &ans, &na, &e) &&
        !mt_cloze_build(tok, query, na, &c, &e)) {
        c.answer_ids = ans;
        ans = NULL;
        mt_query q = mt_cloze_query(&c);
        double pr[64], P = 1;
        if (!mt_answer_probs(m, &q, pr, &e)) {
            for (int t = 0; t < na; t++) P *= pr[t];
            CHECK(fabs(P - p) <= 1e-6 * fabs(P) + 1e-12, "scorer P %.9g vs mt_answer_probs %.9g (%d tokens)", p, P, na);
        }
    }
    free(ans);
    mt_cloze_free(&c);
    mt_model_free(m);
    mt_tok_free(tok);
    mt_data_scorer_close(&s);

    const char *in = path("m.jsonl"), *out = path("m.out.jsonl");
    if (build(GOOD, "en,de", in, NULL, &e)) return;
    mt_data_filter_info i0, i1;
    mt_data_filter_opts o0 = {0.0, 1, BERT}, o1 = {1.0, 1, BERT};
    CHECK(mt_data_scorer_open(BERT, &s, &e) == MT_OK, "reopen");
    CHECK(mt_data_filter(in, out, &s, &o0, &i0, &e) == MT_OK, "filter min_prob 0: %s", e.msg);
    CHECK(i0.kept + i0.dropped == 13 && i0.kept >= 10, "min_prob 0 keeps (nearly) all: kept %ld", i0.kept);
    char *first = slurp(out, NULL);
    CHECK(mt_data_filter(in, out, &s, &o0, &i0, &e) == MT_OK, "again");
    char *second = slurp(out, NULL);
    CHECK(first && second && !strcmp(first, second), "filter output is deterministic");
    free(first);
    free(second);
    CHECK(mt_data_filter(in, out, &s, &o1, &i1, &e) == MT_OK, "filter min_prob 1: %s", e.msg);
    CHECK(i1.dropped > 0 && i1.kept + i1.dropped == 13, "a high threshold drops facts: dropped %ld", i1.dropped);
    char dropped[600];
    snprintf(dropped, sizeof dropped, "%s.dropped.jsonl", out);
    CHECK(count_lines(dropped) == i1.dropped, "dropped file lines");
    mt_data_scorer_close(&s);
    CHECK(mt_data_scorer_open("tests/data/raw-fixture", &s, &e) != MT_OK, "scorer on a non-model dir fails: %s", e.msg);
}

/* ---------------------------------------------------------------- command line */

static void test_cli(void) {
    const char *mx = getenv("MATRICE");
    if (!mx) mx = "build/matrice";
    if (access(mx, X_OK) != 0) {
        printf("skip: %s not built\n", mx);
        return;
    }
    const char *out = path("cli.jsonl"), *err = path("cli.err"), *so = path("cli.out");
    CHECK(sh("%s data build --raw " GOOD " --langs en,de,zh --out %s >%s 2>%s", mx, out, so, err) == 0, "cli build");
    char *s = slurp(so, NULL);
    CHECK(s && strstr(s, "\"facts\": 10"), "cli build summary");
    free(s);
    CHECK(sh("%s data validate %s >%s 2>%s", mx, out, so, err) == 0, "cli validate ok");
    CHECK(sh("%s data stats %s --json >%s 2>%s", mx, out, so, err) == 0, "cli stats --json");
    s = slurp(so, NULL);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    CHECK(j && json_integer_value(json_object_get(j, "queries")) == 83, "cli stats json");
    json_decref(j);
    free(s);
    CHECK(sh("%s data stats %s >%s 2>%s", mx, out, so, err) == 0, "cli stats table");
    replace_line(out, path("cli-bad.jsonl"), 4, "not json");
    CHECK(sh("%s data validate %s >%s 2>%s", mx, path("cli-bad.jsonl"), so, err) == 1, "cli validate: exit 1");
    s = slurp(err, NULL);
    CHECK(s && strstr(s, "cli-bad.jsonl:4: malformed JSON"), "cli validate names the line: %s", s ? s : "");
    free(s);
    CHECK(sh("%s data build --raw /nonexistent --langs en --out %s >%s 2>%s", mx, out, so, err) == 1, "cli bad raw: exit 1");
    CHECK(count_lines(err) == 1, "one error line");
    s = slurp(so, NULL);
    CHECK(s && !*s, "nothing on stdout on error");
    free(s);
    CHECK(sh("%s data build --raw " GOOD " --langs en,xx --out %s >%s 2>%s", mx, out, so, err) == 2, "cli unknown lang: 2");
    CHECK(sh("%s data build --raw " GOOD " --out %s >%s 2>%s", mx, out, so, err) == 2, "cli missing --langs: 2");
    CHECK(sh("%s data build --raw " GOOD " --langs en --out %s --seed -3 >%s 2>%s", mx, out, so, err) == 2, "cli bad seed: 2");
    CHECK(sh("%s data filter --model " BERT " --in %s --out %s --require some >%s 2>%s", mx, out, path("x.jsonl"), so, err) == 2,
          "cli bad --require: 2");
    CHECK(sh("%s data filter --model " BERT " --in %s --out %s --min-prob 2 >%s 2>%s", mx, out, path("x.jsonl"), so, err) == 2,
          "cli bad --min-prob: 2");
    CHECK(sh("%s data nope >%s 2>%s", mx, so, err) == 2, "cli unknown subcommand: 2");
    CHECK(sh("%s data filter --model " BERT " --in %s --out %s --min-prob 0 --require any >%s 2>%s", mx, out,
             path("cli-f.jsonl"), so, err) == 0,
          "cli filter");
    s = slurp(so, NULL);
    CHECK(s && strstr(s, "\"kept\": 10"), "cli filter summary: %s", s ? s : "");
    free(s);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/matrice-test-data-XXXXXX");
    if (!mkdtemp(tmp)) {
        printf("cannot create a temporary directory\n");
        return 1;
    }
    test_helpers();
    test_build_rules();
    test_build_options();
    test_build_bad();
    test_validate();
    test_stats();
    test_filter();
    test_filter_model();
    test_cli();
    sh("rm -rf '%s'", tmp);
    return mt_test_report();
}
