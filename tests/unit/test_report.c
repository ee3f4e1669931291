/* matrice report: fixtures in tests/report are read, counted and rendered; the page and every
 * figure are well-formed XML; the numbers land in the output; bad inputs fail with one message
 * naming the file and field; the folder is written atomically and never over foreign files. */
#include <stdlib.h>

#include "mt_report_internal.h"
#include "mt_test.h"

#define FIX "tests/report/"

/* ---------------------------------------------------------------- a tiny XML well-formedness check */

static int name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == ':' || c == '_' || c == '.'; }

static int entity_ok(const char **p) {
    const char *s = *p + 1, *end = strchr(s, ';');
    if (!end || end - s > 10 || end == s) return 0;
    size_t n = (size_t)(end - s);
    int ok = (n == 3 && !strncmp(s, "amp", 3)) || (n == 2 && (!strncmp(s, "lt", 2) || !strncmp(s, "gt", 2))) ||
             (n == 4 && (!strncmp(s, "quot", 4) || !strncmp(s, "apos", 4)));
    if (s[0] == '#') {
        ok = n >= 2;
        for (const char *q = s[1] == 'x' ? s + 2 : s + 1; q < end; q++)
            ok &= s[1] == 'x' ? !!strchr("0123456789abcdefABCDEF", *q) : (*q >= '0' && *q <= '9');
    }
    *p = end + 1;
    return ok;
}

/* 1 when s is one well-formed XML element (after an optional DOCTYPE); else 0 with why filled. */
static int xml_ok(const char *s, char *why, size_t wn) {
    char stack[256][32];
    int depth = 0, roots = 0;
    const char *p = s;
#define BAD(...) return snprintf(why, wn, __VA_ARGS__), snprintf(why + strlen(why), wn - strlen(why), " at byte %ld", (long)(p - s)), 0
    while (*p) {
        if (*p == '&') {
            if (!entity_ok(&p)) BAD("bad entity");
            continue;
        }
        if (*p == '>') { p++; continue; } /* allowed in text */
        if (*p != '<') {
            if ((unsigned char)*p < 0x20 && !strchr("\t\n\r", *p)) BAD("control character");
            p++;
            continue;
        }
        if (!strncmp(p, "<!DOCTYPE", 9) && !depth && !roots) {
            p = strchr(p, '>');
            if (!p) BAD("open DOCTYPE");
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            p = strstr(p, "-->");
            if (!p) BAD("open comment");
            p += 3;
            continue;
        }
        if (p[1] == '/') { /* end tag */
            const char *n = p + 2;
            size_t len = 0;
            while (name_char(n[len])) len++;
            if (!depth || len != strlen(stack[depth - 1]) || strncmp(n, stack[depth - 1], len))
                BAD("end tag </%.*s> does not close <%s>", (int)len, n, depth ? stack[depth - 1] : "");
            if (n[len] != '>') BAD("junk in end tag");
            depth--;
            p = n + len + 1;
            continue;
        }
        const char *n = p + 1;
        size_t len = 0;
        while (name_char(n[len])) len++;
        if (!len || len >= 32) BAD("bad tag name");
        if (!depth && roots++) BAD("second root element");
        if (depth == 256) BAD("too deep");
        memcpy(stack[depth], n, len);
        stack[depth][len] = 0;
        const char *q = n + len;
        for (;;) { /* attributes */
            while (*q == ' ' || *q == '\n' || *q == '\t') q++;
            if (*q == '>' || (q[0] == '/' && q[1] == '>')) break;
            size_t an = 0;
            while (name_char(q[an])) an++;
            if (!an || q[an] != '=' || (q[an + 1] != '"' && q[an + 1] != '\'')) BAD("bad attribute in <%s>", stack[depth]);
            char quote = q[an + 1];
            q += an + 2;
            while (*q && *q != quote) {
                if (*q == '<') BAD("'<' in an attribute value");
                if (*q == '&') {
                    if (!entity_ok(&q)) BAD("bad entity in an attribute");
                } else {
                    q++;
                }
            }
            if (!*q) BAD("open attribute");
            q++;
        }
        if (*q == '/') {
            p = q + 2; /* empty element */
            if (!depth && roots > 1) BAD("second root");
        } else {
            depth++;
            p = q + 1;
        }
    }
    if (depth) BAD("<%s> is not closed", stack[depth - 1]);
    if (roots != 1) BAD("%d root elements", roots);
#undef BAD
    return 1;
}

/* ---------------------------------------------------------------- tests */

static void test_escape(void) {
    mt_strbuf b = {0};
    mt_sb_esc(&b, "<b>&\"x\"'\x01\tZ\xc3\xbcrich \xe6\x9d\xb1 \xff\xc3");
    CHECK(b.s && !strcmp(b.s, "&lt;b&gt;&amp;&quot;x&quot;&#39;\tZ\xc3\xbcrich \xe6\x9d\xb1 \xef\xbf\xbd\xef\xbf\xbd"),
          "escaped: %s", b.s ? b.s : "(null)");
    mt_sb_free(&b);
    mt_sb_num(&b, "%.1f", -0.01);
    mt_sb_puts(&b, "|");
    mt_sb_num(&b, "%.1f", NAN);
    CHECK(b.s && !strcmp(b.s, "0.0|\xE2\x80\x93"), "numbers: %s", b.s ? b.s : "(null)");
    mt_sb_free(&b);
    char why[200];
    CHECK(xml_ok("<a x=\"1\"><b/>t &amp; &#233;</a>", why, sizeof why), "checker accepts good XML: %s", why);
    CHECK(!xml_ok("<a><b></a>", why, sizeof why), "checker rejects unbalanced tags");
    CHECK(!xml_ok("<a>x & y</a>", why, sizeof why), "checker rejects a raw &");
    CHECK(!xml_ok("<a t=\"<\"></a>", why, sizeof why), "checker rejects < in an attribute");
}

static void test_nice_range(void) {
    double lo = -40.5, hi = 4.5;
    mt_svg_nice_range(&lo, &hi, 5);
    CHECK(lo <= -40.5 && hi >= 4.5, "range covers the data: [%g, %g]", lo, hi);
    /* [-50, 10] (step 10) would be drawn with step 20 (60 / 5 -> 20): widened until both ends are ticks */
    CHECK(lo == -60 && hi == 20, "[%g, %g] ends on ticks of step 20", lo, hi);
    lo = hi = 0;
    mt_svg_nice_range(&lo, &hi, 5);
    CHECK(lo == 0 && hi == 1, "empty range becomes [0, 1]: [%g, %g]", lo, hi);
}

static void test_counts(void) {
    mt_report *r = NULL;
    mt_err e = {0};
    CHECK(!mt_report_new(&r, &e), "new");
    int rc = mt_report_add_file(r, FIX "small.jsonl", &e);
    CHECK(rc == MT_OK, "small.jsonl: %s", e.msg);
    if (rc || r->n_locs != 1) {
        mt_report_free(r);
        return;
    }
    const rp_loc *l = r->locs[0];
    CHECK(l->facts == 2 && l->failed == 1, "facts %d failed %d", l->facts, l->failed);
    CHECK(l->n_layers == 4 && l->d_ff == 8, "shape %d x %d", l->n_layers, l->d_ff);
    CHECK(!strcmp(l->method, "kn") && !strcmp(l->label, "kn"), "method %s", l->method);
    CHECK(l->nlang == 3 && !strcmp(l->lang[0].code, "en") && !strcmp(l->lang[2].code, "zh"), "languages");
    CHECK(!strcmp(l->lang[2].family, "Sino-Tibetan") && !strcmp(l->lang[1].family, "Indo-European"),
          "families from the file / the language table: %s %s", l->lang[2].family, l->lang[1].family);
    CHECK(l->lang[0].per_fact[0] == 2 && l->lang[0].per_fact[1] == 1 && l->lang[2].per_fact[1] == -1, "per fact");
    CHECK(l->lang[0].hist[1] == 1 && l->lang[0].hist[3] == 2 && l->lang[0].n_neurons == 3, "en layer histogram");
    /* en-de: 1/2 then 1 -> mean 0.75 over 2 facts; en-zh: 1/3 over 1; de-zh: 1/2 over 1 */
    CHECK(l->jac_n[0][1] == 2 && fabs(l->jac_sum[0][1] - 1.5) < 1e-12, "jaccard en-de");
    CHECK(l->jac_n[0][2] == 1 && fabs(l->jac_sum[2][0] - 1.0 / 3) < 1e-12, "jaccard en-zh");
    CHECK(l->jac_n[1][2] == 1 && fabs(l->jac_sum[1][2] - 0.5) < 1e-12, "jaccard de-zh");
    CHECK(l->n_lakn == 2 && l->lakn_per_fact[0] == 1 && l->lakn_hist[1] == 1 && l->lakn_hist[3] == 1, "lakn");
    CHECK(l->lang[0].queries == 1 && fabs(l->lang[0].prob_sum - 0.5) < 1e-12 && l->lang[0].w_n == 1, "queries");
    CHECK(l->n_reasons == 1 && strstr(l->reasons[0], "<x>"), "failure reason kept");
    CHECK(l->n_relations == 2 && !strcmp(l->relations[0], "P36") && l->relation_facts[1] == 1, "relations");
    CHECK(fabs(l->seconds_sum - 8) < 1e-12 && l->seconds_n == 2, "seconds");
    mt_report_free(r);
}

static void test_render(void) {
    mt_report *r = NULL;
    mt_err e = {0};
    mt_report_new(&r, &e);
    const char *files[] = {FIX "small.jsonl", FIX "small_eval.json", FIX "small_edit.json", FIX "small.summary.json"};
    for (int i = 0; i < 4; i++) CHECK(!mt_report_add_file(r, files[i], &e), "%s: %s", files[i], e.msg);
    mt_report_page pg;
    int rc = mt_report_render(r, &pg, &e);
    CHECK(rc == MT_OK, "render: %s", e.msg);
    if (rc) {
        mt_report_free(r);
        return;
    }
    char why[300] = "";
    CHECK(xml_ok(pg.html, why, sizeof why), "index.html is well-formed XML: %s", why);
    const char *want[] = {"fig-layers.svg", "fig-counts.svg", "fig-jaccard.svg", "fig-lakn.svg", "fig-eval.svg"};
    CHECK(pg.n_figs == 5, "%d figures", pg.n_figs);
    for (int i = 0; i < pg.n_figs && i < 5; i++) {
        CHECK(!strcmp(pg.fig_names[i], want[i]), "figure %d is %s", i, pg.fig_names[i]);
        CHECK(xml_ok(pg.fig_svgs[i], why, sizeof why), "%s is well-formed XML: %s", pg.fig_names[i], why);
        CHECK(!strncmp(pg.fig_svgs[i], "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39), "%s starts with <svg>", pg.fig_names[i]);
        CHECK(strstr(pg.html, pg.fig_svgs[i]) != NULL, "%s is inline in the page", pg.fig_names[i]);
    }
    const char *h = pg.html;
    /* numbers from the fixtures */
    CHECK(strstr(h, "Jaccard 0.750 over 2 facts"), "Jaccard en-de in the heat map");
    CHECK(strstr(h, "Jaccard 0.333 over 1 facts"), "Jaccard en-zh");
    CHECK(strstr(h, "-12.3 <span class=\"ci\">[-15.0, -9.8]</span>"), "overall sup_rel with interval");
    CHECK(strstr(h, "45.6 <span class=\"ci\">[30.0, 61.0]</span>"), "overall enh_rel");
    CHECK(strstr(h, "<td class=\"n\">-5.0</td>"), "a mean without interval");
    CHECK(strstr(h, "kn, P36, sup_rel: -30.0% [-40.0, -20.0]"), "per-relation bar tooltip");
    CHECK(strstr(h, "layer 1, unit 2: 1 LAKNs"), "LAKN heat-map cell");
    CHECK(strstr(h, "Suppress (activation x 0)") && strstr(h, "Enhance (activation x 2)"), "factors from the file");
    CHECK(strstr(h, "<td class=\"n\">0.90 <span class=\"ci\">[0.80, 1.00]</span>"), "Succ as a ratio");
    CHECK(strstr(h, "data tests/data/locate-mini.jsonl") && strstr(h, "neuron set lakn"), "evaluation note");
    CHECK(strstr(h, "kn, en: mean 1.50, quartiles 1-2, 2 facts"), "neurons per fact en");
    CHECK(strstr(h, "<td class=\"n\">1.50</td>"), "neurons per fact in the table");
    /* escaping */
    CHECK(strstr(h, "answer &lt;x&gt; needs") && !strstr(h, "<x>"), "failure reason escaped");
    CHECK(strstr(h, "1 &lt; 2 &amp; &quot;quoted&quot;"), "generic table escaped");
    CHECK(strstr(h, "results.reliability.mean") && strstr(h, "per_fact[1].ok"), "generic keys flattened");
    CHECK(strstr(h, "layer_histogram.lakn"), "merge summary shown");
    CHECK(!strstr(h, "<script"), "no script");
    mt_report_page_free(&pg);
    mt_report_free(r);
}

static void expect_fail(const char *path, int code, const char *want) {
    mt_report *r = NULL;
    mt_err e = {0};
    mt_report_new(&r, &e);
    int rc = mt_report_add_file(r, path, &e);
    CHECK(rc == code, "%s: code %d (want %d): %s", path, rc, code, e.msg);
    CHECK(strstr(e.msg, path) && strstr(e.msg, want), "%s: message '%s' lacks '%s'", path, e.msg, want);
    CHECK(!strchr(e.msg, '\n'), "%s: one line", path);
    CHECK(r->n_locs == 0 && r->n_docs == 0, "%s: nothing added", path);
    mt_report_free(r);
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static void test_bad_inputs(const char *tmp) {
    expect_fail(FIX "bad_schema.json", MT_EFORMAT, "unknown schema 'other.thing.v1'");
    expect_fail(FIX "bad_malformed.json", MT_EFORMAT, "malformed JSON at line 1");
    expect_fail(FIX "bad_ci.json", MT_EFORMAT, "methods.kn.by_lang.en.sup_rel.mean': expected a number");
    expect_fail(FIX "bad_layer.jsonl", MT_EFORMAT, ":3: field 'languages.en.neurons[0].layer': 9 is outside [0, 4)");
    expect_fail(FIX "bad_mixed.jsonl", MT_EFORMAT, ":2: field 'method': 'amig' differs");
    expect_fail(FIX "no_such_file.json", MT_EIO, "no_such_file");
    char p[600];
    snprintf(p, sizeof p, "%.400s/empty.json", tmp);
    write_file(p, "\n \n");
    expect_fail(p, MT_EFORMAT, "empty file");
    snprintf(p, sizeof p, "%.400s/noschema.json", tmp);
    write_file(p, "{\"methods\":{}}");
    expect_fail(p, MT_EFORMAT, "missing field 'schema'");
    snprintf(p, sizeof p, "%.400s/array.json", tmp);
    write_file(p, "[1,2]");
    expect_fail(p, MT_EFORMAT, "expected a JSON object");
    snprintf(p, sizeof p, "%.400s/badline.jsonl", tmp);
    write_file(p, "{\"schema\":\"matrice.locate.v1\",\"method\":\"kn\"}\n{\"schema\":\"matrice.locate.v1\",\n");
    expect_fail(p, MT_EFORMAT, ":2: malformed JSON");
    snprintf(p, sizeof p, "%.400s/badstatus.jsonl", tmp);
    write_file(p, "{\"schema\":\"matrice.locate.v1\",\"status\":\"maybe\"}\n");
    expect_fail(p, MT_EFORMAT, "field 'status'");
    snprintf(p, sizeof p, "%.400s/badlakn.jsonl", tmp);
    write_file(p, "{\"schema\":\"matrice.locate.v1\",\"d_ff\":8,\"lakn\":[{\"layer\":0,\"unit\":8}]}\n");
    expect_fail(p, MT_EFORMAT, "field 'lakn[0].unit': 8 is outside [0, 8)");
}

/* Files with only the required fields, hostile names, and a single-fact document. */
static void test_minimal_and_hostile(const char *tmp) {
    char p1[600], p2[600], p3[600];
    snprintf(p1, sizeof p1, "%.400s/min.jsonl", tmp);
    write_file(p1, "{\"schema\":\"matrice.locate.v1\"}\n\n{\"schema\":\"matrice.locate.v1\",\"languages\":{}}\n");
    snprintf(p2, sizeof p2, "%.400s/hostile.json", tmp);
    write_file(p2, "{\"schema\":\"matrice.locate.v1\",\"method\":\"k<n>&\\\"\",\"model\":\"</table><script>x</script>\","
                   "\"languages\":{\"e<n\":{\"family\":\"F&<\",\"neurons\":[{\"layer\":0,\"unit\":3}]},"
                   "\"d\\u0001e\":{\"neurons\":[{\"layer\":1,\"unit\":3}]}},\"lakn\":[]}");
    snprintf(p3, sizeof p3, "%.400s/eval_min.json", tmp);
    write_file(p3, "{\"schema\":\"matrice.evaluate.v1\",\"methods\":{\"x<y\":{\"by_relation\":{\"P&1\":{\"sup_rel\":{\"mean\":0.1}}}}}}");
    mt_report *r = NULL;
    mt_err e = {0};
    mt_report_new(&r, &e);
    CHECK(!mt_report_add_file(r, p1, &e), "minimal lines: %s", e.msg);
    CHECK(!mt_report_add_file(r, p2, &e), "hostile single fact: %s", e.msg);
    CHECK(!mt_report_add_file(r, p3, &e), "minimal evaluation: %s", e.msg);
    CHECK(r->n_locs == 2 && r->locs[0]->facts == 2 && !strcmp(r->locs[0]->method, "unknown"), "minimal counted");
    /* the same file three times: three distinct labels */
    for (int i = 0; i < 3; i++) CHECK(!mt_report_add_file(r, p1, &e), "again: %s", e.msg);
    CHECK(r->n_locs == 5 && strcmp(r->locs[2]->label, r->locs[3]->label) && strcmp(r->locs[3]->label, r->locs[4]->label) &&
              strcmp(r->locs[0]->label, r->locs[4]->label),
          "labels %s | %s | %s", r->locs[2]->label, r->locs[3]->label, r->locs[4]->label);
    char p4[600];
    snprintf(p4, sizeof p4, "%.400s/sum.json", tmp);
    write_file(p4, "{\"schema\":\"matrice.locate.summary.v1\",\"facts\":3}");
    CHECK(!mt_report_add_file(r, p4, &e) && r->n_docs == 2 && r->docs[1]->kind == RP_SUMMARY, "merge summary by schema: %s", e.msg);
    mt_report_page pg;
    int rc = mt_report_render(r, &pg, &e);
    CHECK(rc == MT_OK, "render: %s", e.msg);
    if (!rc) {
        char why[300] = "";
        CHECK(xml_ok(pg.html, why, sizeof why), "hostile page well-formed: %s", why);
        for (int i = 0; i < pg.n_figs; i++)
            CHECK(xml_ok(pg.fig_svgs[i], why, sizeof why), "%s well-formed: %s", pg.fig_names[i], why);
        CHECK(!strstr(pg.html, "<script>") && strstr(pg.html, "&lt;/table&gt;&lt;script&gt;"), "model escaped");
        CHECK(strstr(pg.html, "k&lt;n&gt;&amp;&quot;") != NULL, "method escaped");
        mt_report_page_free(&pg);
    }
    mt_report_free(r);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_write(const char *tmp) {
    mt_report *r = NULL;
    mt_err e = {0};
    mt_report_new(&r, &e);
    mt_report_add_file(r, FIX "small.jsonl", &e);
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%.400s/out/", tmp);
    CHECK(mt_report_write(r, dir, &e) == MT_OK, "write: %s", e.msg);
    snprintf(dir, sizeof dir, "%.400s/out", tmp);
    snprintf(p, sizeof p, "%.400s/index.html", dir);
    CHECK(mt_file_exists(p), "index.html written");
    snprintf(p, sizeof p, "%.400s/fig-jaccard.svg", dir);
    CHECK(mt_file_exists(p), "fig-jaccard.svg written");
    CHECK(count_entries(tmp) == 2, "no temporary folder left (in, out): %d entries", count_entries(tmp));
    /* a second write replaces the report */
    CHECK(mt_report_write(r, dir, &e) == MT_OK, "rewrite: %s", e.msg);
    CHECK(count_entries(dir) == 5, "rewritten report has 5 files: %d", count_entries(dir));
    /* a folder with other files is not replaced */
    snprintf(p, sizeof p, "%.400s/notes.txt", dir);
    write_file(p, "mine");
    CHECK(mt_report_write(r, dir, &e) == MT_EIO && strstr(e.msg, "not replacing"), "foreign folder refused: %s", e.msg);
    CHECK(mt_file_exists(p), "foreign file kept");
    /* a missing parent folder: an error, nothing created */
    snprintf(dir, sizeof dir, "%.400s/no/such/out", tmp);
    CHECK(mt_report_write(r, dir, &e) == MT_EIO && strstr(e.msg, "no/such/out"), "missing parent: %s", e.msg);
    snprintf(p, sizeof p, "%.400s/no", tmp);
    CHECK(!mt_file_exists(p), "nothing created");
    /* a file in the way */
    snprintf(p, sizeof p, "%.400s/afile", tmp);
    write_file(p, "x");
    CHECK(mt_report_write(r, p, &e) == MT_EIO && strstr(e.msg, "not a folder"), "file in the way: %s", e.msg);
    mt_report_free(r);
}

int main(void) {
    char tmp[] = "/tmp/mt_report_test_XXXXXX";
    if (!mkdtemp(tmp)) {
        printf("FAIL cannot create a temporary folder\n");
        return 1;
    }
    test_escape();
    test_nice_range();
    test_counts();
    test_render();
    char sub[600];
    snprintf(sub, sizeof sub, "%.400s/in", tmp);
    mkdir(sub, 0755);
    test_bad_inputs(sub);
    test_minimal_and_hostile(sub);
    test_write(tmp);
    mt_test_rm_rf(tmp);
    return mt_test_report();
}
