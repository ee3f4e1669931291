/* The report's figures (METHOD.md section 6), each a standalone SVG document. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_report_internal.h"

#define FIG_W 960.0

const char *rp_method_color(const char *method, int index) {
    if (!strcmp(method, "matrice")) return "#d55e00";
    if (!strcmp(method, "amig")) return "#0072b2";
    if (!strcmp(method, "kn")) return "#009e73";
    if (!strncmp(method, "random", 6)) { /* "random", or "random-<method>" controls: greys */
        static const char *grey[] = {"#8a8a8a", "#5e5e5e", "#b4b4b4"};
        return grey[index % 3];
    }
    static const char *more[] = {"#cc79a7", "#e69f00", "#56b4e9", "#6a3d9a", "#b15928"};
    return more[index % 5];
}

/* The colour blended towards white by f (0: unchanged, 1: white). */
static void tint(const char *hex, double f, char out[8]) {
    unsigned c[3] = {0, 0, 0};
    if (sscanf(hex, "#%02x%02x%02x", &c[0], &c[1], &c[2]) != 3) c[0] = c[1] = c[2] = 128;
    for (int i = 0; i < 3; i++) c[i] = (unsigned)lround(c[i] + f * (255.0 - c[i]));
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static int by_family_code(const void *a, const void *b, const rp_loc *l) {
    const rp_lang *x = &l->lang[*(const int *)a], *y = &l->lang[*(const int *)b];
    int c = strcmp(x->family, y->family);
    return c ? c : strcmp(x->code, y->code);
}

void rp_lang_order(const rp_loc *l, int *order) {
    for (int i = 0; i < l->nlang; i++) order[i] = i;
    /* insertion sort: at most RP_MAX_LANGS entries, and qsort has no context argument in C11 */
    for (int i = 1; i < l->nlang; i++)
        for (int j = i; j > 0 && by_family_code(&order[j - 1], &order[j], l) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

/* The union of the languages of every localization file, ordered by family then code, so that
 * a language has the same colour and position in every figure. */
typedef struct {
    const char *code[RP_MAX_LANGS * 4], *family[RP_MAX_LANGS * 4];
    int n;
} lang_set;

static void all_langs(const mt_report *r, lang_set *s) {
    s->n = 0;
    for (int i = 0; i < r->n_locs; i++)
        for (int k = 0; k < r->locs[i]->nlang; k++) {
            const rp_lang *g = &r->locs[i]->lang[k];
            if (!g->facts) continue;
            int j = 0;
            while (j < s->n && strcmp(s->code[j], g->code)) j++;
            if (j < s->n || s->n == RP_MAX_LANGS * 4) continue;
            s->code[s->n] = g->code, s->family[s->n] = g->family, s->n++;
        }
    for (int i = 1; i < s->n; i++)
        for (int j = i; j > 0; j--) {
            int c = strcmp(s->family[j - 1], s->family[j]);
            if (c < 0 || (c == 0 && strcmp(s->code[j - 1], s->code[j]) <= 0)) break;
            const char *t = s->code[j];
            s->code[j] = s->code[j - 1], s->code[j - 1] = t;
            t = s->family[j];
            s->family[j] = s->family[j - 1], s->family[j - 1] = t;
        }
}

static int find_lang(const rp_loc *l, const char *code) {
    for (int i = 0; i < l->nlang; i++)
        if (!strcmp(l->lang[i].code, code)) return i;
    return -1;
}

/* x-axis tick labels under a row of n equal slots starting at x0, skipping labels that would
 * touch their neighbour. */
static void slot_labels(mt_strbuf *b, double x0, double slot, int n, double y, const char *const *labels,
                        const int *values) {
    double last_end = -1e9;
    char tmp[32];
    for (int i = 0; i < n; i++) {
        const char *s = labels ? labels[i] : (snprintf(tmp, sizeof tmp, "%d", values[i]), tmp);
        double cx = x0 + slot * (i + 0.5), w = mt_svg_text_width(s, 10);
        if (cx - w / 2 < last_end + 3) continue;
        mt_svg_text(b, cx, y, "middle", 10, 0, 0, "#444", s);
        last_end = cx + w / 2;
    }
}

/* ---------------------------------------------------------------- 1. layer distribution */

int rp_fig_layers(const mt_report *r, mt_strbuf *b) {
    if (!r->n_locs) return 0;
    lang_set ls;
    all_langs(r, &ls);
    const int cols = r->n_locs == 1 ? 1 : 2;
    const double pw = (FIG_W - 20) / cols, ph = 230, leg_y = 48;
    const char *names[RP_MAX_LANGS * 4 + 1], *colors[RP_MAX_LANGS * 4 + 1];
    for (int i = 0; i < ls.n; i++) names[i] = ls.code[i], colors[i] = mt_svg_palette(i);
    names[ls.n] = "LAKN", colors[ls.n] = "#000000";
    /* legend first, into a scratch buffer, to learn its height */
    mt_strbuf leg = {0};
    double leg_h = 16;
    mt_svg_legend(&leg, 20, leg_y, FIG_W - 40, names, colors, ls.n + 1, &leg_h);
    const int rows = (r->n_locs + cols - 1) / cols;
    const double top = leg_y + leg_h + 4, H = top + rows * (ph + 20) + 10;
    mt_svg_begin(b, FIG_W, H, "Layer distribution of neurons");
    mt_svg_text(b, 20, 24, "start", 15, 0, 1, NULL, "Layer distribution of neurons (% of each set's neurons per layer)");
    if (leg.s) mt_sb_puts(b, leg.s);
    mt_sb_free(&leg);
    for (int p = 0; p < r->n_locs; p++) {
        const rp_loc *l = r->locs[p];
        const double ox = 10 + (p % cols) * pw, oy = top + (p / cols) * (ph + 20);
        const double px = ox + 58, pwid = pw - 78, py = oy + 26, phh = ph - 70;
        const int L = l->n_layers;
        double ymax = 0;
        double pct[RP_MAX_LANGS + 1][RP_MAX_LAYERS];
        int has[RP_MAX_LANGS + 1];
        for (int k = 0; k <= l->nlang; k++) {
            const double *h = k < l->nlang ? l->lang[k].hist : l->lakn_hist;
            double tot = 0;
            for (int i = 0; i < L; i++) tot += h[i];
            has[k] = tot > 0;
            for (int i = 0; i < L; i++) {
                pct[k][i] = tot > 0 ? 100.0 * h[i] / tot : NAN;
                if (tot > 0 && pct[k][i] > ymax) ymax = pct[k][i];
            }
        }
        mt_svg_text(b, ox + pw / 2, oy + 14, "middle", 13, 0, 1, NULL, l->label);
        double lo = 0, hi = ymax > 0 ? ymax : 1;
        mt_svg_nice_range(&lo, &hi, 5);
        mt_svg_axis ax = {px, py, phh, lo, hi};
        mt_svg_draw_axis(b, &ax, 5, pwid, "%.0f", "% of neurons");
        const double slot = pwid / L;
        double xs[RP_MAX_LAYERS], ys[RP_MAX_LAYERS];
        for (int i = 0; i < L; i++) xs[i] = px + slot * (i + 0.5);
        for (int k = 0; k <= l->nlang; k++) {
            if (!has[k]) continue;
            int gi = -1;
            if (k < l->nlang)
                for (int j = 0; j < ls.n; j++)
                    if (!strcmp(ls.code[j], l->lang[k].code)) gi = j;
            if (k < l->nlang && gi < 0) continue;
            const char *col = k < l->nlang ? mt_svg_palette(gi) : "#000000";
            for (int i = 0; i < L; i++) ys[i] = isfinite(pct[k][i]) ? mt_svg_axis_y(&ax, pct[k][i]) : NAN;
            mt_svg_polyline(b, xs, ys, L, col, k < l->nlang ? 1.4 : 2.6, k < l->nlang ? NULL : "6 3");
            for (int i = 0; i < L; i++)
                if (pct[k][i] > 0) mt_svg_circle(b, xs[i], ys[i], k < l->nlang ? 1.8 : 2.6, col);
        }
        int lv[RP_MAX_LAYERS];
        for (int i = 0; i < L; i++) lv[i] = i;
        mt_svg_line(b, px, py + phh, px + pwid, py + phh, "#444", 0.8, NULL);
        slot_labels(b, px, slot, L, py + phh + 14, NULL, lv);
        mt_svg_text(b, px + pwid / 2, py + phh + 30, "middle", 11, 0, 0, NULL, "layer");
    }
    mt_svg_end(b);
    return 1;
}

/* ---------------------------------------------------------------- 2. neurons per fact */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Mean and quartiles of the non-negative entries of v[0..n). Returns how many there were. */
static int summarize(const int *v, int n, double *mean, double *q1, double *q3) {
    int *s = malloc(sizeof(int) * (size_t)(n ? n : 1)), k = 0;
    double sum = 0;
    for (int i = 0; s && i < n; i++)
        if (v[i] >= 0) s[k++] = v[i], sum += v[i];
    *mean = *q1 = *q3 = NAN;
    if (k) {
        qsort(s, (size_t)k, sizeof *s, cmp_int);
        *mean = sum / k;
        *q1 = s[(k - 1) / 4];
        *q3 = s[(3 * (k - 1) + 3) / 4];
    }
    free(s);
    return k;
}

int rp_fig_counts(const mt_report *r, mt_strbuf *b) {
    if (!r->n_locs) return 0;
    lang_set ls;
    all_langs(r, &ls);
    const int G = ls.n + 1, M = r->n_locs; /* groups: languages, then LAKN */
    double *mean = calloc((size_t)(G * M), sizeof(double)), *q1 = calloc((size_t)(G * M), sizeof(double)),
           *q3 = calloc((size_t)(G * M), sizeof(double));
    int *cnt = calloc((size_t)(G * M), sizeof(int));
    if (!mean || !q1 || !q3 || !cnt) {
        free(mean), free(q1), free(q3), free(cnt);
        b->oom = 1;
        return 0;
    }
    double ymax = 0;
    for (int g = 0; g < G; g++)
        for (int m = 0; m < M; m++) {
            const rp_loc *l = r->locs[m];
            int li = g < ls.n ? find_lang(l, ls.code[g]) : -2, k = g * M + m;
            mean[k] = q1[k] = q3[k] = NAN;
            if (li == -1) continue;
            cnt[k] = summarize(li >= 0 ? l->lang[li].per_fact : l->lakn_per_fact, l->facts, &mean[k], &q1[k], &q3[k]);
            if (isfinite(q3[k]) && q3[k] > ymax) ymax = q3[k];
            if (isfinite(mean[k]) && mean[k] > ymax) ymax = mean[k];
        }
    const double H = 330, px = 70, py = 64, pw = FIG_W - px - 20, ph = H - py - 56;
    mt_svg_begin(b, FIG_W, H, "Neurons per fact");
    mt_svg_text(b, 20, 24, "start", 15, 0, 1, NULL,
                "Neurons per fact, per language, and LAKNs per fact (bar: mean; whisker: quartiles)");
    const char *names[64], *colors[64];
    int nm = M < 64 ? M : 64;
    for (int m = 0; m < nm; m++) names[m] = r->locs[m]->label, colors[m] = rp_method_color(r->locs[m]->method, m);
    mt_svg_legend(b, 20, 46, FIG_W - 40, names, colors, nm, NULL);
    double lo = 0, hi = ymax > 0 ? ymax : 1;
    mt_svg_nice_range(&lo, &hi, 5);
    mt_svg_axis ax = {px, py, ph, lo, hi};
    mt_svg_draw_axis(b, &ax, 5, pw, hi <= 5 ? "%.1f" : "%.0f", "neurons per fact");
    const double slot = pw / G, bw = slot * 0.8 / M;
    char tip[256];
    const char *labels[RP_MAX_LANGS * 4 + 1];
    for (int g = 0; g < G; g++) {
        labels[g] = g < ls.n ? ls.code[g] : "LAKN";
        for (int m = 0; m < M; m++) {
            int k = g * M + m;
            if (!cnt[k]) continue;
            snprintf(tip, sizeof tip, "%s, %s: mean %.2f, quartiles %.0f-%.0f, %d facts", r->locs[m]->label, labels[g],
                     mean[k], q1[k], q3[k], cnt[k]);
            mt_svg_bar(b, &ax, px + slot * g + slot * 0.1 + bw * m, bw, mean[k], q1[k], q3[k],
                       rp_method_color(r->locs[m]->method, m), tip);
        }
    }
    if (ls.n) mt_svg_line(b, px + slot * ls.n, py, px + slot * ls.n, py + ph, "#999", 0.8, "3 3");
    slot_labels(b, px, slot, G, py + ph + 15, labels, NULL);
    mt_svg_text(b, px + pw / 2, py + ph + 34, "middle", 11, 0, 0, NULL, "language (grouped by family)");
    mt_svg_end(b);
    free(mean), free(q1), free(q3), free(cnt);
    return 1;
}

/* ---------------------------------------------------------------- 3. Jaccard overlap */

int rp_fig_jaccard(const mt_report *r, mt_strbuf *b) {
    int panels = 0, maxn = 0;
    for (int p = 0; p < r->n_locs; p++) {
        int n = 0;
        for (int k = 0; k < r->locs[p]->nlang; k++) n += r->locs[p]->lang[k].facts > 0;
        if (n >= 2) panels++;
        if (n > maxn) maxn = n;
    }
    if (!panels) return 0;
    /* families in a fixed order across panels, for the colour strip */
    lang_set ls;
    all_langs(r, &ls);
    const char *fams[RP_MAX_LANGS * 4];
    int nf = 0;
    for (int i = 0; i < ls.n; i++)
        if (!nf || strcmp(fams[nf - 1], ls.family[i])) fams[nf++] = ls.family[i];
    const int cols = panels >= 3 ? 3 : panels;
    const double pw = (FIG_W - 70) / cols, cell = fmin(30, (pw - 60) / maxn);
    const double ph = 30 + cell * maxn + 44;
    const int rows = (panels + cols - 1) / cols;
    double fam_h = 16;
    mt_strbuf leg = {0};
    const char *fcol[RP_MAX_LANGS * 4];
    for (int i = 0; i < nf; i++) fcol[i] = mt_svg_palette(i + 7);
    mt_svg_legend(&leg, 20, 0, FIG_W - 40, fams, fcol, nf, &fam_h);
    const double H = 40 + rows * ph + fam_h + 14;
    mt_svg_begin(b, FIG_W, H, "Pairwise language overlap");
    mt_svg_text(b, 20, 24, "start", 15, 0, 1, NULL,
                "Pairwise language overlap: Jaccard of per-language neuron sets, mean over facts");
    int p = 0;
    char tip[256], col[8], val[16];
    for (int q = 0; q < r->n_locs; q++) {
        const rp_loc *l = r->locs[q];
        int order[RP_MAX_LANGS], n = 0;
        rp_lang_order(l, order);
        for (int k = 0; k < l->nlang; k++)
            if (l->lang[order[k]].facts > 0) order[n++] = order[k];
        if (n < 2) continue;
        const double ox = 10 + (p % cols) * pw, oy = 40 + (p / cols) * ph;
        const double gx = ox + 52, gy = oy + 30;
        mt_svg_text(b, gx + cell * n / 2, oy + 14, "middle", 13, 0, 1, NULL, l->label);
        for (int i = 0; i < n; i++) {
            const rp_lang *gi = &l->lang[order[i]];
            int fi = 0;
            while (fi < nf && strcmp(fams[fi], gi->family)) fi++;
            /* family strips left of the rows and above the columns */
            mt_svg_rect(b, gx - 8, gy + cell * i, 5, cell, fcol[fi < nf ? fi : 0], NULL, gi->family);
            mt_svg_rect(b, gx + cell * i, gy - 8, cell, 5, fcol[fi < nf ? fi : 0], NULL, gi->family);
            mt_svg_text(b, gx - 11, gy + cell * (i + 0.5) + 3.5, "end", 10, 0, 0, "#222", gi->code);
            mt_svg_text(b, gx + cell * (i + 0.5), gy + cell * n + 13, "middle", 10, 0, 0, "#222", gi->code);
            for (int j = 0; j < n; j++) {
                int a = order[i], c = order[j];
                double x = gx + cell * j, y = gy + cell * i;
                if (a == c) {
                    mt_svg_rect(b, x, y, cell, cell, "#d9d9d9", "#ffffff", NULL);
                    continue;
                }
                double v = l->jac_n[a][c] ? l->jac_sum[a][c] / l->jac_n[a][c] : NAN;
                if (!isfinite(v)) {
                    mt_svg_rect(b, x, y, cell, cell, "#f4f4f4", "#ffffff", "no facts in common");
                    continue;
                }
                mt_svg_seq(v, col);
                snprintf(tip, sizeof tip, "%s-%s: Jaccard %.3f over %d facts", gi->code, l->lang[c].code, v,
                         l->jac_n[a][c]);
                mt_svg_rect(b, x, y, cell, cell, col, "#ffffff", tip);
                if (cell >= 22) {
                    snprintf(val, sizeof val, "%.2f", v);
                    mt_svg_text(b, x + cell / 2, y + cell / 2 + 3, "middle", cell >= 28 ? 9 : 7.5, 0, 0,
                                v > 0.45 ? "#ffffff" : "#222", val + (v < 1));
                }
            }
        }
        /* lines between families */
        for (int i = 1; i < n; i++)
            if (strcmp(l->lang[order[i]].family, l->lang[order[i - 1]].family)) {
                mt_svg_line(b, gx + cell * i, gy, gx + cell * i, gy + cell * n, "#333", 1.2, NULL);
                mt_svg_line(b, gx, gy + cell * i, gx + cell * n, gy + cell * i, "#333", 1.2, NULL);
            }
        p++;
    }
    mt_svg_colorbar(b, FIG_W - 48, 70, 12, 140, 0, 0, 1, "%.1f", "J");
    double ly = 40 + rows * ph + 10;
    mt_svg_text(b, 20, ly, "start", 11, 0, 0, "#444", "family:");
    mt_sb_printf(b, "<g transform=\"translate(50 %.1f)\">\n", ly);
    if (leg.s) mt_sb_puts(b, leg.s);
    mt_sb_puts(b, "</g>\n");
    mt_sb_free(&leg);
    mt_svg_end(b);
    return 1;
}

/* ---------------------------------------------------------------- 4. LAKN (layer, unit) map */

/* Units go into min(64, d_ff) equal bins; bin c holds units [first(c), first(c + 1)). */
static int n_bins(const rp_loc *l) { return l->d_ff < RP_UNIT_BINS ? l->d_ff : RP_UNIT_BINS; }
static int unit_bin(int unit, int d_ff, int nb) {
    int c = (int)((int64_t)unit * nb / d_ff);
    return c < nb ? c : nb - 1;
}
static int bin_first_unit(int c, int d_ff, int nb) { return (int)(((int64_t)c * d_ff + nb - 1) / nb); }

int rp_fig_lakn_map(const mt_report *r, mt_strbuf *b) {
    int any = 0, maxL = 1;
    for (int p = 0; p < r->n_locs; p++) {
        any |= r->locs[p]->n_lakn > 0;
        if (r->locs[p]->n_layers > maxL) maxL = r->locs[p]->n_layers;
    }
    if (!any) return 0;
    const int cols = r->n_locs >= 2 ? 2 : 1;
    const double pw = (FIG_W - 20) / cols, cw = fmin(6.2, (pw - 130) / RP_UNIT_BINS);
    const double chh = fmax(3, fmin(24, 320.0 / maxL)), ph = 40 + fmax(chh * maxL, 84) + 40;
    const int rows = (r->n_locs + cols - 1) / cols;
    const double H = 40 + rows * ph;
    mt_svg_begin(b, FIG_W, H, "LAKN heat map");
    mt_svg_text(b, 20, 24, "start", 15, 0, 1, NULL,
                "How often a neuron is a LAKN: facts per (layer, unit bin)");
    int *grid = malloc(sizeof(int) * (size_t)maxL * RP_UNIT_BINS);
    if (!grid) {
        b->oom = 1;
        return 0;
    }
    char tip[256], col[8], lab[32];
    /* one colour scale for every panel, so that methods compare */
    int gmx = 0;
    for (int p = 0; p < r->n_locs; p++) {
        const rp_loc *l = r->locs[p];
        const int nb = n_bins(l);
        memset(grid, 0, sizeof(int) * (size_t)l->n_layers * RP_UNIT_BINS);
        for (size_t k = 0; k < l->n_lakn; k++) {
            int v = ++grid[l->lakn[k].layer * RP_UNIT_BINS + unit_bin(l->lakn[k].unit, l->d_ff, nb)];
            if (v > gmx) gmx = v;
        }
    }
    for (int p = 0; p < r->n_locs; p++) {
        const rp_loc *l = r->locs[p];
        const int L = l->n_layers;
        const double ox = 10 + (p % cols) * pw, oy = 40 + (p / cols) * ph, gx = ox + 50, gy = oy + 30;
        const int nb = n_bins(l);
        const double bw = cw * RP_UNIT_BINS / nb; /* the panel keeps its width when d_ff < 64 */
        mt_svg_text(b, gx + cw * RP_UNIT_BINS / 2, oy + 14, "middle", 13, 0, 1, NULL, l->label);
        memset(grid, 0, sizeof(int) * (size_t)L * RP_UNIT_BINS);
        int mx = 0;
        for (size_t k = 0; k < l->n_lakn; k++) {
            int v = ++grid[l->lakn[k].layer * RP_UNIT_BINS + unit_bin(l->lakn[k].unit, l->d_ff, nb)];
            if (v > mx) mx = v;
        }
        mt_svg_rect(b, gx, gy, cw * RP_UNIT_BINS, chh * L, "#fafafa", "#999", NULL);
        for (int y = 0; y < L; y++)
            for (int c = 0; c < nb; c++) {
                int v = grid[y * RP_UNIT_BINS + c];
                if (!v) continue;
                mt_svg_seq(gmx > 1 ? 0.35 + 0.65 * (v - 1) / (gmx - 1) : 1, col);
                int u0 = bin_first_unit(c, l->d_ff, nb), u1 = bin_first_unit(c + 1, l->d_ff, nb) - 1;
                if (u0 == u1) snprintf(tip, sizeof tip, "layer %d, unit %d: %d LAKNs", y, u0, v);
                else snprintf(tip, sizeof tip, "layer %d, units %d-%d: %d LAKNs", y, u0, u1, v);
                mt_svg_rect(b, gx + bw * c, gy + chh * y, bw, chh, col, NULL, tip);
            }
        /* layer labels on the left, about every 20 px */
        int step = (int)ceil(14 / chh);
        for (int y = 0; y < L; y += step) {
            snprintf(lab, sizeof lab, "%d", y);
            mt_svg_text(b, gx - 4, gy + chh * (y + 0.5) + 3.5, "end", 9, 0, 0, "#444", lab);
        }
        mt_svg_text(b, gx - 30, gy + chh * L / 2, "middle", 11, -90, 0, NULL, "layer");
        snprintf(lab, sizeof lab, "%d", l->d_ff - 1);
        mt_svg_text(b, gx, gy + chh * L + 12, "start", 9, 0, 0, "#444", "0");
        mt_svg_text(b, gx + cw * RP_UNIT_BINS, gy + chh * L + 12, "end", 9, 0, 0, "#444", lab);
        if (nb == l->d_ff) snprintf(tip, sizeof tip, "unit");
        else snprintf(tip, sizeof tip, "unit (%d bins of %.0f)", nb, (double)l->d_ff / nb);
        mt_svg_text(b, gx + cw * RP_UNIT_BINS / 2, gy + chh * L + 26, "middle", 11, 0, 0, NULL, tip);
        if (!mx) {
            mt_svg_text(b, gx + cw * RP_UNIT_BINS / 2, gy + chh * L / 2, "middle", 12, 0, 0, "#888", "no LAKNs");
            continue;
        }
        if (gmx > 1)
            mt_svg_colorbar(b, gx + cw * RP_UNIT_BINS + 12, gy + 12, 10, fmax(60, fmin(120, chh * L - 12)), 0.35, 1, gmx, "%.0f",
                            "facts");
        else
            mt_svg_colorbar(b, gx + cw * RP_UNIT_BINS + 12, gy + 12, 10, 10, 1, 1, 1, "%.0f", "facts");
    }
    free(grid);
    mt_svg_end(b);
    return 1;
}

/* ---------------------------------------------------------------- 5. suppress / enhance */

/* An evaluation's statistics for one relation, or overall (rel NULL). */
static json_t *eval_group(const json_t *eval, const char *rel) {
    return rel ? json_object_get(json_object_get(eval, "by_relation"), rel) : json_object_get(eval, "overall");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int rp_fig_eval(const rp_doc *d, mt_strbuf *b) {
    json_t *methods = json_object_get(d->json, "methods");
    const int M = (int)json_object_size(methods);
    if (!M) return 0;
    const char *mname[64];
    json_t *mval[64];
    int nm = 0;
    const char *key;
    json_t *v;
    json_object_foreach(methods, key, v) {
        if (nm < 64) mname[nm] = key, mval[nm++] = v;
    }
    /* groups: "all" (overall), then the union of relations, sorted */
    const char **grp = malloc(sizeof(char *) * 1024);
    if (!grp) return b->oom = 1, 0;
    int G = 1;
    grp[0] = "all";
    for (int m = 0; m < nm; m++) {
        json_t *br = json_object_get(mval[m], "by_relation");
        json_object_foreach(br, key, v) {
            int j = 1;
            while (j < G && strcmp(grp[j], key)) j++;
            if (j == G && G < 1024) grp[G++] = key;
        }
    }
    qsort(grp + 1, (size_t)(G - 1), sizeof *grp, cmp_str);
    const char *fields[2][2] = {{"sup_rel", "sup_unrel"}, {"enh_rel", "enh_unrel"}};
    char titles[2][96];
    json_t *fs = json_object_get(d->json, "suppress"), *fe = json_object_get(d->json, "enhance");
    snprintf(titles[0], sizeof titles[0], "Suppress (activation x %g)", json_is_number(fs) ? json_number_value(fs) : 0.0);
    snprintf(titles[1], sizeof titles[1], "Enhance (activation x %g)", json_is_number(fe) ? json_number_value(fe) : 2.0);
    const double ph = 250, H = 60 + 2 * (ph + 40) + 10;
    const double px = 70, pw = FIG_W - px - 20;
    char title[512], tip[512], light[8];
    snprintf(title, sizeof title, "Relative change of P(answer) after intervention, %s", d->label);
    mt_svg_begin(b, FIG_W, H, title);
    mt_svg_text(b, 20, 24, "start", 15, 0, 1, NULL, title);
    /* legend: method colours; related solid, unrelated light */
    const char *names[130], *colors[130];
    int nl = 0;
    for (int m = 0; m < nm && nl < 126; m++) names[nl] = mname[m], colors[nl++] = rp_method_color(mname[m], m);
    mt_svg_legend(b, 20, 46, FIG_W - 300, names, colors, nl, NULL);
    mt_svg_text(b, FIG_W - 20, 46, "end", 11, 0, 0, "#444", "solid: related queries; light: unrelated; whisker: 95% CI");
    for (int panel = 0; panel < 2; panel++) {
        const double py = 80 + panel * (ph + 40), plot_h = ph - 60;
        double lo = 0, hi = 0;
        for (int g = 0; g < G; g++)
            for (int m = 0; m < nm; m++) {
                json_t *S = eval_group(mval[m], g ? grp[g] : NULL);
                for (int k = 0; k < 2; k++) {
                    double mu, l0, h0;
                    rp_ci(S, fields[panel][k], &mu, &l0, &h0);
                    double vals[3] = {mu, l0, h0};
                    for (int t = 0; t < 3; t++)
                        if (isfinite(vals[t])) lo = fmin(lo, 100 * vals[t]), hi = fmax(hi, 100 * vals[t]);
                }
            }
        mt_svg_nice_range(&lo, &hi, 5);
        mt_svg_axis ax = {px, py, plot_h, lo, hi};
        mt_svg_text(b, px, py - 8, "start", 13, 0, 1, NULL, titles[panel]);
        mt_svg_draw_axis(b, &ax, 5, pw, "%.0f", "change of P (%)");
        const double slot = pw / G, bw = slot * 0.84 / (2 * nm);
        for (int g = 0; g < G; g++)
            for (int m = 0; m < nm; m++) {
                json_t *S = eval_group(mval[m], g ? grp[g] : NULL);
                for (int k = 0; k < 2; k++) {
                    double mu, l0, h0;
                    if (!rp_ci(S, fields[panel][k], &mu, &l0, &h0)) continue;
                    snprintf(tip, sizeof tip, "%s, %s, %s: %.1f%% [%.1f, %.1f]", mname[m], grp[g], fields[panel][k],
                             100 * mu, 100 * l0, 100 * h0);
                    const char *c = rp_method_color(mname[m], m);
                    if (k) {
                        tint(c, 0.6, light);
                        c = light;
                    }
                    mt_svg_bar(b, &ax, px + slot * g + slot * 0.08 + bw * (2 * m + k), bw, 100 * mu, 100 * l0,
                               100 * h0, c, tip);
                }
            }
        if (G > 1) mt_svg_line(b, px + slot, py, px + slot, py + plot_h, "#999", 0.8, "3 3");
        /* relation labels: rotated when they would collide */
        double maxw = 0;
        for (int g = 0; g < G; g++) maxw = fmax(maxw, mt_svg_text_width(grp[g], 10));
        if (maxw + 4 < slot) {
            slot_labels(b, px, slot, G, py + plot_h + 15, grp, NULL);
        } else {
            int step = (int)ceil(13 / slot);
            for (int g = 0; g < G; g += step)
                mt_svg_text(b, px + slot * (g + 0.5) + 3, py + plot_h + 10, "end", 9.5, -50, 0, "#444", grp[g]);
        }
    }
    free(grp);
    mt_svg_end(b);
    return 1;
}
