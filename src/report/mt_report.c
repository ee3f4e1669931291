/* matrice report: the HTML page, its tables, and the atomic write (mt_report.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_report_internal.h"

int mt_report_new(mt_report **out, mt_err *e) {
    *out = mt_calloc(1, sizeof **out);
    return *out ? MT_OK : mt_fail(e, MT_ENOMEM, "out of memory");
}

void mt_report_free(mt_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n_locs; i++) rp_loc_free(r->locs[i]);
    for (int i = 0; i < r->n_docs; i++) rp_doc_free(r->docs[i]);
    free(r->locs);
    free(r->docs);
    free(r);
}

int mt_report_add_file(mt_report *r, const char *path, mt_err *e) { return rp_load_file(r, path, e); }

void mt_report_page_free(mt_report_page *p) {
    free(p->html);
    for (int i = 0; i < p->n_figs; i++) free(p->fig_names[i]), free(p->fig_svgs[i]);
    free(p->fig_names);
    free(p->fig_svgs);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- tables */

static void cell_num(mt_strbuf *b, const char *fmt, double v) {
    mt_sb_puts(b, "<td class=\"n\">");
    mt_sb_num(b, fmt, v);
    mt_sb_puts(b, "</td>");
}

static void cell_text(mt_strbuf *b, const char *s) {
    mt_sb_puts(b, "<td>");
    mt_sb_esc(b, s);
    mt_sb_puts(b, "</td>");
}

static void head_row(mt_strbuf *b, const char *const *h, int n) {
    mt_sb_puts(b, "<thead><tr>");
    for (int i = 0; i < n; i++) {
        mt_sb_puts(b, "<th>");
        mt_sb_esc(b, h[i]);
        mt_sb_puts(b, "</th>");
    }
    mt_sb_puts(b, "</tr></thead>\n<tbody>\n");
}

static void loc_tables(const mt_report *r, mt_strbuf *b) {
    mt_sb_puts(b, "<h3>Summary per method</h3>\n<table>");
    const char *h[] = {"method", "model", "facts ok", "failed", "languages", "layers", "d_ff", "LAKN per fact",
                       "mean seconds per fact", "file"};
    head_row(b, h, 10);
    for (int i = 0; i < r->n_locs; i++) {
        const rp_loc *l = r->locs[i];
        double lk = 0;
        int nf = 0;
        for (int f = 0; f < l->facts; f++)
            if (l->lakn_per_fact[f] >= 0) lk += l->lakn_per_fact[f], nf++;
        int nl = 0;
        for (int k = 0; k < l->nlang; k++) nl += l->lang[k].facts > 0;
        mt_sb_puts(b, "<tr>");
        cell_text(b, l->label);
        cell_text(b, l->model ? l->model : "");
        cell_num(b, "%.0f", l->facts);
        cell_num(b, "%.0f", l->failed);
        cell_num(b, "%.0f", nl);
        cell_num(b, "%.0f", l->n_layers);
        cell_num(b, "%.0f", l->d_ff);
        cell_num(b, "%.2f", nf ? lk / nf : NAN);
        cell_num(b, "%.1f", l->seconds_n ? l->seconds_sum / l->seconds_n : NAN);
        cell_text(b, l->path);
        mt_sb_puts(b, "</tr>\n");
    }
    mt_sb_puts(b, "</tbody></table>\n");

    /* one row per language, one column per method, so methods compare side by side */
    mt_sb_puts(b, "<h3>Per language: neurons per fact</h3>\n<table><thead><tr><th>language</th><th>family</th>"
                  "<th>facts</th><th>queries (failed)</th><th>mean P(answer)</th>");
    for (int i = 0; i < r->n_locs; i++) {
        mt_sb_puts(b, "<th>");
        mt_sb_esc(b, r->locs[i]->label);
        mt_sb_puts(b, "</th>");
    }
    mt_sb_puts(b, "<th>mean confidence w</th></tr></thead>\n<tbody>\n");
    const char *done[RP_MAX_LANGS * 4];
    int nd = 0;
    for (int i = 0; i < r->n_locs; i++) {
        const rp_loc *l = r->locs[i];
        int order[RP_MAX_LANGS];
        rp_lang_order(l, order);
        for (int k = 0; k < l->nlang && nd < RP_MAX_LANGS * 4; k++) {
            const rp_lang *g = &l->lang[order[k]];
            int seen = 0;
            for (int j = 0; j < nd; j++) seen |= !strcmp(done[j], g->code);
            if (seen) continue;
            done[nd++] = g->code;
            /* facts, queries and P(answer) from the first file that has them (same model and data) */
            const rp_lang *first = NULL, *wl = NULL;
            for (int m = 0; m < r->n_locs; m++)
                for (int q = 0; q < r->locs[m]->nlang; q++) {
                    const rp_lang *x = &r->locs[m]->lang[q];
                    if (strcmp(x->code, g->code)) continue;
                    if (!first) first = x;
                    if (!wl && x->w_n) wl = x;
                }
            mt_sb_puts(b, "<tr>");
            cell_text(b, g->code);
            cell_text(b, g->family);
            cell_num(b, "%.0f", first->facts);
            mt_sb_printf(b, "<td class=\"n\">%d (%d)</td>", first->queries, first->queries_failed);
            cell_num(b, "%.3g", first->prob_n ? first->prob_sum / first->prob_n : NAN); /* tiny on test models */
            for (int m = 0; m < r->n_locs; m++) {
                double v = NAN;
                for (int q = 0; q < r->locs[m]->nlang; q++) {
                    const rp_lang *x = &r->locs[m]->lang[q];
                    if (!strcmp(x->code, g->code) && x->facts) v = x->n_neurons / x->facts;
                }
                cell_num(b, "%.2f", v);
            }
            cell_num(b, "%.3g", wl ? wl->w_sum / wl->w_n : NAN);
            mt_sb_puts(b, "</tr>\n");
        }
    }
    mt_sb_puts(b, "</tbody></table>\n");

    int any_fail = 0;
    for (int i = 0; i < r->n_locs; i++) any_fail |= r->locs[i]->n_reasons > 0;
    if (any_fail) {
        mt_sb_puts(b, "<h3>Failed facts</h3>\n<table>");
        const char *h3[] = {"method", "reason", "facts"};
        head_row(b, h3, 3);
        for (int i = 0; i < r->n_locs; i++)
            for (int k = 0; k < r->locs[i]->n_reasons; k++) {
                mt_sb_puts(b, "<tr>");
                cell_text(b, r->locs[i]->label);
                cell_text(b, r->locs[i]->reasons[k]);
                cell_num(b, "%.0f", r->locs[i]->reason_count[k]);
                mt_sb_puts(b, "</tr>\n");
            }
        mt_sb_puts(b, "</tbody></table>\n<p class=\"note\">The first distinct reasons are listed.</p>\n");
    }
}

static int cmp_neuron(const void *a, const void *b) {
    const rp_neuron *x = a, *y = b;
    return x->layer != y->layer ? x->layer - y->layer : x->unit - y->unit;
}

/* The neurons that are LAKNs of the most facts, per method. */
static void top_lakn_table(const mt_report *r, mt_strbuf *b) {
    int any = 0;
    for (int i = 0; i < r->n_locs; i++) any |= r->locs[i]->n_lakn > 0;
    if (!any) return;
    mt_sb_puts(b, "<h3>Most frequent LAKNs</h3>\n<table>");
    const char *h[] = {"method", "rank", "layer", "unit", "facts", "% of facts"};
    head_row(b, h, 6);
    for (int i = 0; i < r->n_locs; i++) {
        const rp_loc *l = r->locs[i];
        if (!l->n_lakn) continue;
        rp_neuron *s = malloc(sizeof *s * l->n_lakn);
        typedef struct { rp_neuron n; int c; } run;
        run *runs = malloc(sizeof *runs * l->n_lakn);
        if (!s || !runs) {
            free(s), free(runs);
            b->oom = 1;
            return;
        }
        memcpy(s, l->lakn, sizeof *s * l->n_lakn);
        qsort(s, l->n_lakn, sizeof *s, cmp_neuron);
        size_t nr = 0;
        for (size_t k = 0; k < l->n_lakn; k++) {
            if (nr && !cmp_neuron(&runs[nr - 1].n, &s[k])) runs[nr - 1].c++;
            else runs[nr].n = s[k], runs[nr++].c = 1;
        }
        for (int t = 0; t < 10 && (size_t)t < nr; t++) { /* selection of the 10 largest, stable by index */
            size_t best = (size_t)t;
            for (size_t k = (size_t)t + 1; k < nr; k++)
                if (runs[k].c > runs[best].c) best = k;
            run tmp = runs[t];
            runs[t] = runs[best];
            runs[best] = tmp;
            mt_sb_puts(b, "<tr>");
            cell_text(b, l->label);
            cell_num(b, "%.0f", t + 1);
            cell_num(b, "%.0f", runs[t].n.layer);
            cell_num(b, "%.0f", runs[t].n.unit);
            cell_num(b, "%.0f", runs[t].c);
            cell_num(b, "%.1f", l->facts ? 100.0 * runs[t].c / l->facts : NAN);
            mt_sb_puts(b, "</tr>\n");
        }
        free(s);
        free(runs);
    }
    mt_sb_puts(b, "</tbody></table>\n");
}

/* One evaluation summary S as a table row: counts, then each interval as "mean [lo, hi]" in %. */
static void eval_row(mt_strbuf *b, const char *method, const char *group, const json_t *S) {
    mt_sb_puts(b, "<tr>");
    cell_text(b, method);
    if (group) cell_text(b, group);
    json_t *nf = json_object_get(S, "n_facts"), *nq = json_object_get(S, "n_queries");
    cell_num(b, "%.0f", json_is_number(nf) ? json_number_value(nf) : NAN);
    cell_num(b, "%.0f", json_is_number(nq) ? json_number_value(nq) : NAN);
    for (int i = 0; i < rp_n_ci_fields; i++) {
        double m, lo, hi;
        rp_ci(S, rp_ci_fields[i], &m, &lo, &hi);
        /* relative changes and flip rates in %; Succ is a ratio of changes, shown as is */
        const int ratio = !strcmp(rp_ci_fields[i], "succ");
        const double f = ratio ? 1 : 100;
        const char *fmt = ratio ? "%.2f" : "%.1f";
        mt_sb_puts(b, "<td class=\"n\">");
        mt_sb_num(b, fmt, f * m);
        if (isfinite(lo) || isfinite(hi)) {
            mt_sb_puts(b, " <span class=\"ci\">[");
            mt_sb_num(b, fmt, f * lo);
            mt_sb_puts(b, ", ");
            mt_sb_num(b, fmt, f * hi);
            mt_sb_puts(b, "]</span>");
        }
        mt_sb_puts(b, "</td>");
    }
    mt_sb_puts(b, "</tr>\n");
}

static void eval_tables(const rp_doc *d, mt_strbuf *b) {
    const char *heads[] = {"method", "", "facts", "queries", "suppress related", "suppress unrelated",
                           "enhance related", "enhance unrelated", "flip (suppress)", "flip (enhance)", "Succ (ratio)"};
    json_t *methods = json_object_get(d->json, "methods");
    const char *groups[] = {NULL, "by_lang", "by_relation"}, *titles[] = {"Overall", "Per language", "Per relation"},
               *gname[] = {NULL, "language", "relation"};
    for (int g = 0; g < 3; g++) {
        const char *m, *k;
        json_t *mv, *sv;
        int rows = 0;
        json_object_foreach(methods, m, mv) rows += g ? (int)json_object_size(json_object_get(mv, groups[g]))
                                                      : json_is_object(json_object_get(mv, "overall"));
        if (!rows) continue;
        mt_sb_printf(b, "<h3>%s</h3>\n<table>", titles[g]);
        const char *h[11];
        int n = 0;
        for (int i = 0; i < 11; i++) {
            if (i == 1 && !g) continue;
            h[n++] = i == 1 ? gname[g] : heads[i];
        }
        head_row(b, h, n);
        json_object_foreach(methods, m, mv) {
            if (!g) {
                json_t *ov = json_object_get(mv, "overall");
                if (json_is_object(ov)) eval_row(b, m, NULL, ov);
                continue;
            }
            json_object_foreach(json_object_get(mv, groups[g]), k, sv) eval_row(b, m, k, sv);
        }
        mt_sb_puts(b, "</tbody></table>\n");
    }
    mt_sb_puts(b, "<p class=\"note\">Relative change of P(answer), (p<sub>after</sub> &#8722; p<sub>before</sub>) / "
                  "p<sub>before</sub>, and argmax flip rates, in %; Succ = |enh<sub>rel</sub> / enh<sub>unrel</sub>| + "
                  "|sup<sub>rel</sub> / sup<sub>unrel</sub>| as a ratio; brackets: bootstrap 95% interval.</p>\n");
}

/* Any JSON as key/value rows: nested keys joined by '.', short scalar arrays inline. */
static void generic_rows(mt_strbuf *b, const json_t *v, const char *key, int *rows) {
    if (*rows >= 500) {
        if (*rows == 500) mt_sb_puts(b, "<tr><td colspan=\"2\" class=\"note\">(more rows left out)</td></tr>\n");
        (*rows)++;
        return;
    }
    char sub[512];
    if (json_is_object(v) && json_object_size(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            snprintf(sub, sizeof sub, "%s%s%s", key, *key ? "." : "", k);
            generic_rows(b, x, sub, rows);
        }
        return;
    }
    int scalars = json_is_array(v);
    for (size_t i = 0; scalars && i < json_array_size(v); i++) {
        json_t *x = json_array_get(v, i);
        scalars = !json_is_object(x) && !json_is_array(x);
    }
    if (json_is_array(v) && !scalars) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", key, i);
            generic_rows(b, json_array_get(v, i), sub, rows);
        }
        return;
    }
    (*rows)++;
    mt_sb_puts(b, "<tr>");
    cell_text(b, key);
    mt_sb_puts(b, "<td>");
    if (json_is_string(v)) {
        mt_sb_esc(b, json_string_value(v));
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (s && strlen(s) > 400) strcpy(s + 396, "...");
        mt_sb_esc(b, s ? s : "");
        free(s);
    }
    mt_sb_puts(b, "</td></tr>\n");
}

/* ---------------------------------------------------------------- page */

static const char *css =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1040px;color:#222;"
    "line-height:1.4}\n"
    "h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:1px solid #ccc;margin-top:36px}"
    "h3{font-size:15px;margin:20px 0 6px}\n"
    "table{border-collapse:collapse;font-size:12px;margin:4px 0 10px}"
    "th,td{border:1px solid #ddd;padding:3px 5px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tbody tr:nth-child(even){background:#fafafa}.ci{color:#777;font-size:11px}\n"
    "figure{margin:14px 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:12px;color:#555}.note{font-size:12px;color:#666}"
    "nav{font-size:13px}nav a{margin-right:12px}code{font-size:12px}\n";

static int add_fig(mt_report_page *p, mt_strbuf *html, const char *name, mt_strbuf *svg, const char *caption) {
    char **n = realloc(p->fig_names, sizeof(char *) * (size_t)(p->n_figs + 1));
    if (n) p->fig_names = n;
    char **s = realloc(p->fig_svgs, sizeof(char *) * (size_t)(p->n_figs + 1));
    if (s) p->fig_svgs = s;
    char *nm = mt_strdup(name);
    if (!n || !s || !nm || svg->oom) {
        free(nm);
        mt_sb_free(svg);
        return MT_ENOMEM;
    }
    mt_sb_puts(html, "<figure>\n");
    mt_sb_puts(html, svg->s);
    mt_sb_puts(html, "<figcaption>");
    mt_sb_esc(html, caption);
    mt_sb_puts(html, " (<a href=\"");
    mt_sb_esc(html, name);
    mt_sb_puts(html, "\">");
    mt_sb_esc(html, name);
    mt_sb_puts(html, "</a>)</figcaption>\n</figure>\n");
    p->fig_names[p->n_figs] = nm;
    p->fig_svgs[p->n_figs++] = svg->s; /* the page takes the text */
    memset(svg, 0, sizeof *svg);
    return MT_OK;
}

/* Runs one figure function; a figure without data is left out. */
#define FIGURE(call, name, caption)                                                                    \
    do {                                                                                               \
        mt_strbuf svg_ = {0};                                                                          \
        if (call) {                                                                                    \
            if (add_fig(page, &h, name, &svg_, caption)) goto oom;                                     \
        } else {                                                                                       \
            int oom_ = svg_.oom;                                                                       \
            mt_sb_free(&svg_);                                                                         \
            if (oom_) goto oom;                                                                        \
        }                                                                                              \
    } while (0)

int mt_report_render(const mt_report *r, mt_report_page *page, mt_err *e) {
    memset(page, 0, sizeof *page);
    mt_strbuf h = {0};
    mt_sb_printf(&h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                     "<title>matrice report</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>matrice report</h1>\n",
                 css);
    mt_sb_puts(&h, "<p class=\"note\">Inputs:</p>\n<ul class=\"note\">\n");
    for (int i = 0; i < r->n_locs; i++) {
        mt_sb_puts(&h, "<li><code>");
        mt_sb_esc(&h, r->locs[i]->path);
        mt_sb_puts(&h, "</code>: localization, method ");
        mt_sb_esc(&h, r->locs[i]->method);
        mt_sb_printf(&h, ", %d facts (%d failed)</li>\n", r->locs[i]->facts, r->locs[i]->failed);
    }
    for (int i = 0; i < r->n_docs; i++) {
        mt_sb_puts(&h, "<li><code>");
        mt_sb_esc(&h, r->docs[i]->path);
        mt_sb_puts(&h, "</code>: ");
        mt_sb_esc(&h, r->docs[i]->schema);
        mt_sb_puts(&h, "</li>\n");
    }
    mt_sb_puts(&h, "</ul>\n<nav>");
    if (r->n_locs) mt_sb_puts(&h, "<a href=\"#localization\">Localization</a>");
    for (int i = 0; i < r->n_docs; i++) {
        mt_sb_printf(&h, "<a href=\"#doc%d\">", i + 1);
        mt_sb_esc(&h, r->docs[i]->label);
        mt_sb_puts(&h, "</a>");
    }
    mt_sb_puts(&h, "</nav>\n");

    if (r->n_locs) {
        mt_sb_puts(&h, "<h2 id=\"localization\">Localization</h2>\n");
        loc_tables(r, &h);
        FIGURE(rp_fig_layers(r, &svg_), "fig-layers.svg",
               "Figure 1. Share of each set's neurons per layer, per method and language; LAKN dashed.");
        FIGURE(rp_fig_counts(r, &svg_), "fig-counts.svg",
               "Figure 2. Neurons per fact per language and LAKNs per fact; bar = mean over facts, whisker = quartiles.");
        FIGURE(rp_fig_jaccard(r, &svg_), "fig-jaccard.svg",
               "Figure 3. Jaccard overlap of two languages' neuron sets, mean over the facts that have both; languages grouped by family.");
        FIGURE(rp_fig_lakn_map(r, &svg_), "fig-lakn.svg",
               "Figure 4. Number of facts for which a neuron of the (layer, unit bin) cell is a LAKN (for kn/amig: the intersection of the per-language sets).");
        top_lakn_table(r, &h);
    }
    int n_eval = 0;
    for (int i = 0; i < r->n_docs; i++) {
        const rp_doc *d = r->docs[i];
        mt_sb_printf(&h, "<h2 id=\"doc%d\">", i + 1);
        mt_sb_esc(&h, d->kind == RP_EVAL ? "Evaluation: " : d->kind == RP_SUMMARY ? "Merge summary: " : "");
        mt_sb_esc(&h, d->label);
        mt_sb_puts(&h, "</h2>\n");
        if (d->kind == RP_EVAL) {
            json_t *mo = json_object_get(d->json, "model"), *nf = json_object_get(d->json, "facts"),
                   *bs = json_object_get(d->json, "bootstrap"), *set = json_object_get(d->json, "set");
            json_t *da = json_object_get(d->json, "data");
            mt_sb_puts(&h, "<p class=\"note\">");
            if (json_is_string(mo)) {
                mt_sb_puts(&h, "model ");
                mt_sb_esc(&h, json_string_value(mo));
                mt_sb_puts(&h, ", ");
            }
            if (json_is_string(da)) {
                mt_sb_puts(&h, "data ");
                mt_sb_esc(&h, json_string_value(da));
                mt_sb_puts(&h, ", ");
            }
            mt_sb_puts(&h, "facts ");
            mt_sb_num(&h, "%.0f", json_is_number(nf) ? json_number_value(nf) : NAN);
            mt_sb_puts(&h, ", bootstrap resamples ");
            mt_sb_num(&h, "%.0f", json_is_number(bs) ? json_number_value(bs) : NAN);
            if (json_is_string(set)) {
                mt_sb_puts(&h, ", neuron set ");
                mt_sb_esc(&h, json_string_value(set));
            }
            mt_sb_puts(&h, "</p>\n");
            char name[64], cap[600];
            snprintf(name, sizeof name, n_eval ? "fig-eval-%d.svg" : "fig-eval.svg", n_eval + 1);
            char sub[16] = "";
            if (n_eval) snprintf(sub, sizeof sub, " (%d)", n_eval + 1);
            snprintf(cap, sizeof cap,
                     "Figure 5%s. Relative change of P(answer) when the neurons are suppressed or enhanced, per relation, related vs unrelated queries, with 95%% intervals.",
                     sub);
            n_eval++;
            FIGURE(rp_fig_eval(d, &svg_), name, cap);
            eval_tables(d, &h);
        } else {
            mt_sb_puts(&h, "<table>");
            const char *hh[] = {"field", "value"};
            head_row(&h, hh, 2);
            int rows = 0;
            generic_rows(&h, d->json, "", &rows);
            mt_sb_puts(&h, "</tbody></table>\n");
        }
    }
    if (!r->n_locs && !r->n_docs) mt_sb_puts(&h, "<p>No inputs.</p>\n");
    mt_sb_puts(&h, "</body>\n</html>\n");
    if (h.oom) goto oom;
    page->html = h.s;
    return MT_OK;
oom:
    mt_sb_free(&h);
    mt_report_page_free(page);
    return mt_fail(e, MT_ENOMEM, "out of memory while rendering the report");
}

/* ---------------------------------------------------------------- writing */

static int write_text(const char *dir, const char *name, const char *text, mt_err *e) {
    char *p = mt_path_join(dir, name);
    if (!p) return mt_fail(e, MT_ENOMEM, "out of memory");
    FILE *f = fopen(p, "wb");
    size_t n = strlen(text);
    int ok = f && fwrite(text, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    int rc = ok ? MT_OK : mt_fail(e, MT_EIO, "%s: cannot write: %s", p, strerror(errno));
    free(p);
    return rc;
}

/* Removes the files of a report folder (only index.html and fig-*.svg) and the folder. */
static void remove_report_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, "index.html") && strncmp(de->d_name, "fig-", 4)) continue;
        char *p = mt_path_join(dir, de->d_name);
        if (p) unlink(p);
        free(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* 1 when dir holds nothing but a previous report; 0 otherwise. */
static int is_report_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int ok = 1;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "index.html")) continue;
        if (!strncmp(n, "fig-", 4) && len > 8 && !strcmp(n + len - 4, ".svg")) continue;
        ok = 0;
    }
    closedir(d);
    return ok;
}

int mt_report_write(const mt_report *r, const char *dir, mt_err *e) {
    mt_report_page page;
    int rc = mt_report_render(r, &page, e);
    if (!rc) rc = mt_report_write_page(&page, dir, e);
    mt_report_page_free(&page);
    return rc;
}

int mt_report_write_page(const mt_report_page *page, const char *dir_in, mt_err *e) {
    int rc = MT_OK;
    char *dir = mt_strdup(dir_in), *tmp = NULL, *old = NULL;
    if (!dir) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = 0;
    struct stat st;
    int exists = stat(dir, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode)) {
        rc = mt_fail(e, MT_EIO, "%s: exists and is not a folder", dir);
        goto done;
    }
    if (exists && !is_report_dir(dir)) {
        rc = mt_fail(e, MT_EIO, "%s: folder holds files other than a report (index.html, fig-*.svg); not replacing it", dir);
        goto done;
    }
    size_t n = strlen(dir) + 16;
    tmp = mt_malloc(n);
    old = mt_malloc(n);
    if (!tmp || !old) {
        rc = mt_fail(e, MT_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(tmp, n, "%s.tmp-XXXXXX", dir);
    snprintf(old, n, "%s.old-XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        rc = mt_fail(e, MT_EIO, "%s: cannot create a temporary folder next to it: %s", dir, strerror(errno));
        goto done;
    }
    chmod(tmp, 0755); /* mkdtemp makes it private; a report folder is meant to be read */
    rc = write_text(tmp, "index.html", page->html, e);
    for (int i = 0; !rc && i < page->n_figs; i++) rc = write_text(tmp, page->fig_names[i], page->fig_svgs[i], e);
    if (!rc && exists) {
        /* rename() replaces an empty folder only: move the old report aside first */
        if (!mkdtemp(old) || rename(dir, old)) {
            rc = mt_fail(e, MT_EIO, "%s: cannot move the previous report aside: %s", dir, strerror(errno));
            rmdir(old);
        }
    }
    if (!rc && rename(tmp, dir)) {
        rc = mt_fail(e, MT_EIO, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
        if (exists) rename(old, dir); /* put the previous report back */
    }
    if (rc) remove_report_dir(tmp);
    else if (exists) remove_report_dir(old);
done:
    free(dir), free(tmp), free(old);
    return rc;
}
