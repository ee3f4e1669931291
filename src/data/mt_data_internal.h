/* Helpers shared by the src/data files (not part of the public interface). */
#ifndef MT_DATA_INTERNAL_H
#define MT_DATA_INTERNAL_H

#include <stdio.h>

#include "mt_afile.h"
#include "mt_data.h"

/* Growable string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;
void sb_add(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sb_take(sbuf *b); /* NUL-terminated result (NULL if out of memory); b is reset */
void sb_free(sbuf *b);

/* Whitespace runs (ASCII controls and Unicode Zs) become one space, trimmed at both ends; with
 * no_spaces every whitespace is deleted. Returns a new string (NULL on bad UTF-8 or no memory). */
char *dt_norm_space(const char *s, int no_spaces);
/* Unicode case folding + NFC (new string; NULL on bad UTF-8). */
char *dt_casefold(const char *s);
/* Whether s is valid UTF-8. */
int dt_utf8_ok(const char *s);
/* Counts occurrences of a substring. */
int dt_count(const char *s, const char *sub);
/* Replaces the one occurrence of `what` in s by `with` (new string). */
char *dt_replace1(const char *s, const char *what, const char *with);

/* Orders Wikidata ids ("P19" < "P101", "Q5" < "Q42"): by letter, then numerically. */
int dt_id_cmp(const char *a, const char *b);
/* Whether s is a letter followed by digits, without a leading zero ("Q42"). */
int dt_id_ok(const char *s, char letter);

uint64_t dt_fnv1a(uint64_t h, const void *p, size_t n);
uint64_t dt_mix64(uint64_t x);


/* Lines of a buffer: *line and *len for the next line (without "\n" or "\r\n"); 0 at the end. */
typedef struct dt_lines {
    const char *p, *end;
    long lineno;
} dt_lines;
int dt_next_line(dt_lines *it, const char **line, size_t *len);
/* Whether a line holds only whitespace. */
int dt_blank(const char *line, size_t len);

/* Traditional -> simplified Chinese with OpenCC (t2s.json). NULL on failure (message in e). */
typedef struct dt_opencc dt_opencc;
int dt_opencc_open(dt_opencc **out, mt_err *e);
char *dt_opencc_t2s(dt_opencc *c, const char *s);
void dt_opencc_close(dt_opencc *c);

/* JSON string fields with the file:line named in errors. */
int dt_get_str(const json_t *o, const char *key, const char *file, long line, int required, const char **out,
               mt_err *e);

#endif
