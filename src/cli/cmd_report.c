/* matrice report RESULTS... --out DIR: an HTML page with SVG figures of localization and
 * evaluation results (docs/REPORT.md). Prints {"out": DIR, "inputs": N, "figures": [...]} on
 * success; an error is one line on stderr (exit 1; 2 for a usage error) and nothing is written. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_report.h"

static const char *report_usage = "usage: matrice report RESULTS... --out DIR\n"
                                  "  RESULTS: localization JSONL (matrice merge), its .summary.json,\n"
                                  "           evaluation JSON (matrice evaluate), or any matrice.* JSON\n";

int mt_cli_report(int argc, char **argv) {
    const char *out = NULL;
    int n_in = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) return fprintf(stderr, "matrice report: missing value for --out\n%s", report_usage), 2;
            if (out) return fprintf(stderr, "matrice report: --out given twice\n%s", report_usage), 2;
            out = argv[++i];
        } else if (!strncmp(argv[i], "--", 2)) {
            return fprintf(stderr, "matrice report: unknown option %s\n%s", argv[i], report_usage), 2;
        } else {
            n_in++;
        }
    }
    if (!out || !n_in)
        return fprintf(stderr, "matrice report: needs at least one RESULTS file and --out DIR\n%s", report_usage), 2;
    mt_err e = {0};
    mt_report *r = NULL;
    if (mt_report_new(&r, &e)) return fprintf(stderr, "matrice report: %s\n", e.msg), 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out")) {
            i++;
            continue;
        }
        if (mt_report_add_file(r, argv[i], &e)) {
            fprintf(stderr, "matrice report: %s\n", e.msg);
            mt_report_free(r);
            return 1;
        }
    }
    mt_report_page page;
    int rc = mt_report_render(r, &page, &e);
    mt_report_free(r);
    if (rc) return fprintf(stderr, "matrice report: %s\n", e.msg), 1;
    if (mt_report_write_page(&page, out, &e)) {
        fprintf(stderr, "matrice report: %s\n", e.msg);
        mt_report_page_free(&page);
        return 1;
    }
    json_t *doc = json_object(), *figs = json_array();
    json_object_set_new(doc, "out", json_string(out));
    json_object_set_new(doc, "inputs", json_integer(n_in));
    json_array_append_new(figs, json_string("index.html"));
    for (int i = 0; i < page.n_figs; i++) json_array_append_new(figs, json_string(page.fig_names[i]));
    json_object_set_new(doc, "files", figs);
    char *s = json_dumps(doc, JSON_INDENT(2));
    if (s) puts(s);
    free(s);
    json_decref(doc);
    mt_report_page_free(&page);
    return 0;
}
