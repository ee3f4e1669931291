/* A tiny SVG writer for the report: a growable text buffer with XML escaping, and the few
 * shapes the figures need (axes with nice ticks, bars with whiskers, heat-map cells with a
 * colour scale, labels, legends). Output is plain SVG 1.1 that browsers render without script. */
#ifndef MT_SVG_H
#define MT_SVG_H

#include <stddef.h>

/* Growable NUL-terminated text. An allocation failure sets `oom` and later writes are dropped,
 * so callers check once at the end instead of after every append. */
typedef struct mt_strbuf {
    char *s;
    size_t len, cap;
    int oom;
} mt_strbuf;

void mt_sb_free(mt_strbuf *b);
void mt_sb_puts(mt_strbuf *b, const char *s);
void mt_sb_printf(mt_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s escaped for XML/HTML text and attributes (& < > " '); drops the control characters
 * XML 1.0 forbids and replaces invalid UTF-8 with U+FFFD, so any fact label stays well-formed. */
void mt_sb_esc(mt_strbuf *b, const char *s);
/* Appends a number for display: "–" for NaN/Inf, else printf with `fmt` (e.g. "%.3f"). */
void mt_sb_num(mt_strbuf *b, const char *fmt, double v);

/* ---------------------------------------------------------------- SVG primitives */

/* <svg> with a white background and a title (escaped); mt_svg_end closes it. */
void mt_svg_begin(mt_strbuf *b, double w, double h, const char *title);
void mt_svg_end(mt_strbuf *b);
/* anchor: "start", "middle" or "end"; rotate in degrees around (x, y) (0 for none);
 * weight: 0 normal, 1 bold. */
void mt_svg_text(mt_strbuf *b, double x, double y, const char *anchor, double size, double rotate, int weight,
                 const char *fill, const char *text);
/* A rectangle; `tip` (may be NULL) becomes a <title> tooltip. */
void mt_svg_rect(mt_strbuf *b, double x, double y, double w, double h, const char *fill, const char *stroke,
                 const char *tip);
void mt_svg_line(mt_strbuf *b, double x1, double y1, double x2, double y2, const char *stroke, double width,
                 const char *dash);
/* A polyline through n points; points with a NaN y break the line. */
void mt_svg_polyline(mt_strbuf *b, const double *x, const double *y, int n, const char *stroke, double width,
                     const char *dash);
void mt_svg_circle(mt_strbuf *b, double x, double y, double r, const char *fill);

/* A vertical value axis from lo (bottom) to hi (top) at x, spanning [top, top + h], with about
 * `nticks` nice ticks, horizontal grid lines across `grid_w` (0 for none) and a rotated label. */
typedef struct mt_svg_axis {
    double x, top, h; /* pixel placement */
    double lo, hi;    /* value range */
} mt_svg_axis;
double mt_svg_axis_y(const mt_svg_axis *a, double v); /* value -> pixel y (clamped to the axis) */
void mt_svg_draw_axis(mt_strbuf *b, const mt_svg_axis *a, int nticks, double grid_w, const char *tick_fmt,
                      const char *label);
/* Rounds [lo, hi] outwards to nice tick values (1, 2, 5 x 10^k); keeps 0 inside if it was. */
void mt_svg_nice_range(double *lo, double *hi, int nticks);

/* A bar from value 0 (or the axis bottom) to v, with an optional whisker [wlo, whi]
 * (NaN = none); `tip` becomes a tooltip. */
void mt_svg_bar(mt_strbuf *b, const mt_svg_axis *a, double x, double w, double v, double wlo, double whi,
                const char *fill, const char *tip);

/* A horizontal legend row: coloured squares (or dashed lines when dash[i] != NULL) with
 * names, starting at (x, y); returns the x after the last entry. Wraps at max_w (returns the
 * height used through *used_h when not NULL). */
double mt_svg_legend(mt_strbuf *b, double x, double y, double max_w, const char *const *names,
                     const char *const *colors, int n, double *used_h);

/* Colours. mt_svg_palette: categorical colour i (cycles); mt_svg_seq: sequential scale for
 * t in [0, 1] (white -> yellow -> red -> dark purple), written as "#rrggbb" into out[8]. */
const char *mt_svg_palette(int i);
void mt_svg_seq(double t, char out[8]);
/* A vertical colour-scale bar at (x, y), size w x h, showing mt_svg_seq from t0 (bottom,
 * labelled lo) to 1 (top, labelled hi). */
void mt_svg_colorbar(mt_strbuf *b, double x, double y, double w, double h, double t0, double lo, double hi,
                     const char *fmt, const char *label);

/* Rough width in pixels of text at a font size (for layout; UTF-8 aware). */
double mt_svg_text_width(const char *s, double size);

#endif
