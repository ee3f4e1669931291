/* Tiny SVG writer (see mt_svg.h). */
#include "mt_svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- text buffer */

void mt_sb_free(mt_strbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

static int grow(mt_strbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

static void put_n(mt_strbuf *b, const char *s, size_t n) {
    if (!grow(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void mt_sb_puts(mt_strbuf *b, const char *s) { put_n(b, s, strlen(s)); }

void mt_sb_printf(mt_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not valid. */
static int utf8_len(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0; /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    /* U+FFFE and U+FFFF are not XML characters either */
    if (n == 3 && s[0] == 0xEF && s[1] == 0xBF && s[2] >= 0xBE) return 0;
    return n;
}

void mt_sb_esc(mt_strbuf *b, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        unsigned char c = *s;
        switch (c) {
        case '&': mt_sb_puts(b, "&amp;"); s++; continue;
        case '<': mt_sb_puts(b, "&lt;"); s++; continue;
        case '>': mt_sb_puts(b, "&gt;"); s++; continue;
        case '"': mt_sb_puts(b, "&quot;"); s++; continue;
        case '\'': mt_sb_puts(b, "&#39;"); s++; continue;
        default: break;
        }
        if (c < 0x20) { /* XML 1.0 allows only tab, newline and carriage return */
            if (c == '\t' || c == '\n' || c == '\r') put_n(b, (const char *)s, 1);
            s++;
            continue;
        }
        int n = utf8_len(s);
        if (!n) {
            mt_sb_puts(b, "\xEF\xBF\xBD");
            s++;
            continue;
        }
        put_n(b, (const char *)s, (size_t)n);
        s += n;
    }
}

void mt_sb_num(mt_strbuf *b, const char *fmt, double v) {
    if (!isfinite(v)) {
        mt_sb_puts(b, "\xE2\x80\x93");
        return;
    }
    if (v == 0) v = 0; /* no "-0.000" */
    char tmp[64];
    snprintf(tmp, sizeof tmp, fmt, v);
    if (!strncmp(tmp, "-0.", 3) && strspn(tmp + 3, "0") == strlen(tmp + 3)) memmove(tmp, tmp + 1, strlen(tmp));
    mt_sb_puts(b, tmp);
}

/* ---------------------------------------------------------------- primitives */

void mt_svg_begin(mt_strbuf *b, double w, double h, const char *title) {
    mt_sb_printf(b,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                 "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<title>",
                 w, h, w, h);
    mt_sb_esc(b, title);
    mt_sb_printf(b, "</title>\n<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

void mt_svg_end(mt_strbuf *b) { mt_sb_puts(b, "</svg>\n"); }

void mt_svg_text(mt_strbuf *b, double x, double y, const char *anchor, double size, double rotate, int weight,
                 const char *fill, const char *text) {
    mt_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\" fill=\"%s\"", x, y, size,
                 anchor, fill ? fill : "#222");
    if (weight) mt_sb_puts(b, " font-weight=\"bold\"");
    if (rotate != 0) mt_sb_printf(b, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    mt_sb_puts(b, ">");
    mt_sb_esc(b, text);
    mt_sb_puts(b, "</text>\n");
}

void mt_svg_rect(mt_strbuf *b, double x, double y, double w, double h, const char *fill, const char *stroke,
                 const char *tip) {
    if (w < 0) x += w, w = -w;
    if (h < 0) y += h, h = -h;
    mt_sb_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y, w, h, fill);
    if (stroke) mt_sb_printf(b, " stroke=\"%s\" stroke-width=\"0.6\"", stroke);
    if (tip) {
        mt_sb_puts(b, "><title>");
        mt_sb_esc(b, tip);
        mt_sb_puts(b, "</title></rect>\n");
    } else {
        mt_sb_puts(b, "/>\n");
    }
}

void mt_svg_line(mt_strbuf *b, double x1, double y1, double x2, double y2, const char *stroke, double width,
                 const char *dash) {
    mt_sb_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"%.2f\"", x1, y1,
                 x2, y2, stroke, width);
    if (dash) mt_sb_printf(b, " stroke-dasharray=\"%s\"", dash);
    mt_sb_puts(b, "/>\n");
}

void mt_svg_polyline(mt_strbuf *b, const double *x, const double *y, int n, const char *stroke, double width,
                     const char *dash) {
    int i = 0;
    while (i < n) {
        while (i < n && !isfinite(y[i])) i++;
        int j = i;
        while (j < n && isfinite(y[j])) j++;
        if (j - i >= 2) {
            mt_sb_puts(b, "<polyline points=\"");
            for (int k = i; k < j; k++) mt_sb_printf(b, "%s%.2f,%.2f", k > i ? " " : "", x[k], y[k]);
            mt_sb_printf(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" stroke-linejoin=\"round\"", stroke,
                         width);
            if (dash) mt_sb_printf(b, " stroke-dasharray=\"%s\"", dash);
            mt_sb_puts(b, "/>\n");
        }
        i = j;
    }
}

void mt_svg_circle(mt_strbuf *b, double x, double y, double r, const char *fill) {
    mt_sb_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\"/>\n", x, y, r, fill);
}

/* ---------------------------------------------------------------- axes */

static double nice_step(double range, int nticks) {
    if (!(range > 0) || !isfinite(range)) return 1;
    double raw = range / (nticks > 1 ? nticks : 1), p = pow(10, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

void mt_svg_nice_range(double *lo, double *hi, int nticks) {
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = 0, *hi = 1;
    if (*hi <= *lo) {
        double c = *lo;
        *lo = c - (c == 0 ? 0 : fabs(c) * 0.5);
        *hi = c + (c == 0 ? 1 : fabs(c) * 0.5);
    }
    /* widening the range can change the step mt_svg_draw_axis picks; repeat until both ends are
     * ticks of the step the widened range gets */
    for (int it = 0; it < 4; it++) {
        double step = nice_step(*hi - *lo, nticks);
        double l = floor(*lo / step + 1e-9) * step, h = ceil(*hi / step - 1e-9) * step;
        int stable = l == *lo && h == *hi;
        *lo = l, *hi = h;
        if (stable) break;
    }
}

double mt_svg_axis_y(const mt_svg_axis *a, double v) {
    double t = (v - a->lo) / (a->hi - a->lo);
    if (!isfinite(t)) t = 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return a->top + a->h * (1 - t);
}

void mt_svg_draw_axis(mt_strbuf *b, const mt_svg_axis *a, int nticks, double grid_w, const char *tick_fmt,
                      const char *label) {
    double step = nice_step(a->hi - a->lo, nticks);
    char tmp[64];
    for (double v = ceil(a->lo / step - 1e-9) * step; v <= a->hi + step * 1e-6; v += step) {
        double y = mt_svg_axis_y(a, v);
        if (grid_w > 0) mt_svg_line(b, a->x, y, a->x + grid_w, y, fabs(v) < step * 1e-6 ? "#888" : "#e4e4e4", 0.8, NULL);
        mt_svg_line(b, a->x - 4, y, a->x, y, "#444", 0.8, NULL);
        snprintf(tmp, sizeof tmp, tick_fmt, fabs(v) < step * 1e-6 ? 0.0 : v);
        mt_svg_text(b, a->x - 6, y + 3.5, "end", 10, 0, 0, "#444", tmp);
    }
    mt_svg_line(b, a->x, a->top, a->x, a->top + a->h, "#444", 0.8, NULL);
    if (label) mt_svg_text(b, a->x - 44, a->top + a->h / 2, "middle", 11, -90, 0, "#222", label);
}

void mt_svg_bar(mt_strbuf *b, const mt_svg_axis *a, double x, double w, double v, double wlo, double whi,
                const char *fill, const char *tip) {
    double base = a->lo > 0 ? a->lo : a->hi < 0 ? a->hi : 0;
    if (isfinite(v)) {
        double y0 = mt_svg_axis_y(a, base), y1 = mt_svg_axis_y(a, v);
        mt_svg_rect(b, x, y1 < y0 ? y1 : y0, w, fabs(y0 - y1) < 0.5 ? 0.5 : fabs(y0 - y1), fill, NULL, tip);
    }
    if (isfinite(wlo) && isfinite(whi)) {
        double cx = x + w / 2, ylo = mt_svg_axis_y(a, wlo), yhi = mt_svg_axis_y(a, whi), cap = w * 0.3;
        mt_svg_line(b, cx, ylo, cx, yhi, "#222", 1, NULL);
        mt_svg_line(b, cx - cap, ylo, cx + cap, ylo, "#222", 1, NULL);
        mt_svg_line(b, cx - cap, yhi, cx + cap, yhi, "#222", 1, NULL);
    }
}

double mt_svg_text_width(const char *s, double size) {
    double w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue; /* continuation byte */
        w += *p >= 0xE3 ? 1.0 : *p >= 'A' && *p <= 'Z' ? 0.68 : 0.56; /* CJK is about one em wide */
    }
    return w * size;
}

double mt_svg_legend(mt_strbuf *b, double x, double y, double max_w, const char *const *names,
                     const char *const *colors, int n, double *used_h) {
    double x0 = x, row = 0;
    for (int i = 0; i < n; i++) {
        double w = 18 + mt_svg_text_width(names[i], 11) + 14;
        if (x + w > x0 + max_w && x > x0) x = x0, row += 16;
        mt_svg_rect(b, x, y + row - 9, 11, 11, colors[i], NULL, NULL);
        mt_svg_text(b, x + 15, y + row, "start", 11, 0, 0, "#222", names[i]);
        x += w;
    }
    if (used_h) *used_h = row + 16;
    return x;
}

/* ---------------------------------------------------------------- colours */

const char *mt_svg_palette(int i) {
    /* Okabe-Ito-like categorical colours, distinguishable with the common colour deficiencies,
     * then a second set for long language lists */
    static const char *p[] = {"#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c6d31",
                              "#3f3f3f", "#a6cee3", "#b2df8a", "#fb9a99", "#cab2d6", "#6a3d9a", "#b15928"};
    int n = (int)(sizeof p / sizeof *p);
    return p[((i % n) + n) % n];
}

void mt_svg_seq(double t, char out[8]) {
    static const double stops[][3] = {{255, 255, 255}, {254, 232, 154}, {253, 174, 97}, {215, 48, 39},
                                      {127, 0, 82},    {45, 0, 75}};
    const int ns = (int)(sizeof stops / sizeof *stops);
    if (!isfinite(t) || t < 0) t = 0;
    if (t > 1) t = 1;
    double u = t * (ns - 1);
    int k = (int)u;
    if (k >= ns - 1) k = ns - 2;
    double f = u - k;
    int c[3];
    for (int j = 0; j < 3; j++) c[j] = (int)lround(stops[k][j] + f * (stops[k + 1][j] - stops[k][j]));
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

void mt_svg_colorbar(mt_strbuf *b, double x, double y, double w, double h, double t0, double lo, double hi,
                     const char *fmt, const char *label) {
    const int steps = 40;
    char col[8], tmp[64];
    for (int i = 0; i < steps; i++) {
        mt_svg_seq(1.0 - (1.0 - t0) * (i + 0.5) / steps, col);
        mt_svg_rect(b, x, y + h * i / steps, w, h / steps + 0.3, col, NULL, NULL);
    }
    mt_svg_rect(b, x, y, w, h, "none", "#666", NULL);
    snprintf(tmp, sizeof tmp, fmt, hi);
    mt_svg_text(b, x + w + 4, y + 8, "start", 10, 0, 0, "#444", tmp);
    snprintf(tmp, sizeof tmp, fmt, lo);
    if (lo != hi) mt_svg_text(b, x + w + 4, y + h, "start", 10, 0, 0, "#444", tmp);
    if (label) mt_svg_text(b, x + w / 2, y - 6, "middle", 10, 0, 0, "#444", label);
}
