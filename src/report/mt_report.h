/* matrice report: one self-contained HTML page (inline SVG, CSS, no script) with the figures and
 * tables of localization and evaluation results (docs/REPORT.md).
 *
 * Inputs, recognised by content:
 *   - localization results (JSONL, one "matrice.locate.v1" object per line; `matrice merge`),
 *     one file per method (kn, amig, matrice): the figures compare them;
 *   - evaluation results ("matrice.evaluate.v1", `matrice evaluate`);
 *   - the summary `matrice merge` writes next to its output (OUT.summary.json);
 *   - any other JSON object whose "schema" starts with "matrice." (edit, enhance, inject runs):
 *     shown as a generic key/value table.
 * Every input is read and checked before anything is written; the folder is written atomically. */
#ifndef MT_REPORT_H
#define MT_REPORT_H

#include "mt_common.h"

typedef struct mt_report mt_report;

int mt_report_new(mt_report **out, mt_err *e);
void mt_report_free(mt_report *r);

/* Reads one input file and adds it to the report. Errors name the file (and line) and field. */
int mt_report_add_file(mt_report *r, const char *path, mt_err *e);

/* The rendered page, in memory: index.html and every figure as a standalone SVG document. */
typedef struct mt_report_page {
    char *html;
    int n_figs;
    char **fig_names; /* "fig-layers.svg", ... */
    char **fig_svgs;
} mt_report_page;

int mt_report_render(const mt_report *r, mt_report_page *page, mt_err *e);
void mt_report_page_free(mt_report_page *page);

/* Renders and writes DIR/index.html and DIR/fig-*.svg through a temporary sibling folder that is
 * renamed into place. An existing DIR is replaced only when it holds nothing but a previous
 * report (index.html, fig-*.svg); otherwise it is left alone and the call fails. */
int mt_report_write(const mt_report *r, const char *dir, mt_err *e);
/* The same for a page rendered already. */
int mt_report_write_page(const mt_report_page *page, const char *dir, mt_err *e);

#endif
