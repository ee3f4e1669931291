#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <opencc/opencc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "mt_data_internal.h"
#include "mt_json.h"

/* ---------------------------------------------------------------- sbuf */

void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        char *p = realloc(b->s, c);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = c;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

char *sb_take(sbuf *b) {
    char *s = b->oom ? NULL : b->s;
    if (b->oom) free(b->s);
    if (s == NULL && !b->oom) s = mt_strdup("");
    memset(b, 0, sizeof *b);
    return s;
}

void sb_free(sbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- UTF-8 text */

static int is_space_cp(utf8proc_int32_t c) {
    if (c == ' ' || (c >= 9 && c <= 13) || c == 0x85) return 1;
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS || c == 0x2028 || c == 0x2029;
}

int dt_utf8_ok(const char *s) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t n = (utf8proc_ssize_t)strlen(s);
    while (n > 0) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, n, &c);
        if (k <= 0) return 0;
        p += k;
        n -= k;
    }
    return 1;
}

char *dt_norm_space(const char *s, int no_spaces) {
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t n = (utf8proc_ssize_t)len;
    size_t o = 0;
    int pending = 0;
    while (n > 0) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, n, &c);
        if (k <= 0) {
            free(out);
            return NULL;
        }
        if (is_space_cp(c)) {
            pending = 1;
        } else {
            if (pending && o > 0 && !no_spaces) out[o++] = ' ';
            pending = 0;
            memcpy(out + o, p, (size_t)k);
            o += (size_t)k;
        }
        p += k;
        n -= k;
    }
    out[o] = 0;
    return out;
}

char *dt_casefold(const char *s) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &dst,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0) return NULL;
    return (char *)dst;
}

int dt_count(const char *s, const char *sub) {
    int n = 0;
    size_t k = strlen(sub);
    for (const char *p = strstr(s, sub); p; p = strstr(p + k, sub)) n++;
    return n;
}

char *dt_replace1(const char *s, const char *what, const char *with) {
    const char *p = strstr(s, what);
    if (!p) return mt_strdup(s);
    size_t a = (size_t)(p - s), w = strlen(what), b = strlen(with), r = strlen(p + w);
    char *out = malloc(a + b + r + 1);
    if (!out) return NULL;
    memcpy(out, s, a);
    memcpy(out + a, with, b);
    memcpy(out + a + b, p + w, r + 1);
    return out;
}

int mt_data_y_final(const char *text) {
    const char *y = strstr(text, "[Y]");
    if (!y) return 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)y + 3;
    utf8proc_ssize_t n = (utf8proc_ssize_t)strlen((const char *)p);
    while (n > 0) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, n, &c);
        if (k <= 0) return 0;
        if (!is_space_cp(c)) {
            utf8proc_category_t cat = utf8proc_category(c);
            if (cat < UTF8PROC_CATEGORY_PC || cat > UTF8PROC_CATEGORY_PO) return 0;
        }
        p += k;
        n -= k;
    }
    return 1;
}

const char *mt_data_template_problem(const char *t) {
    int nx = dt_count(t, "[X]"), ny = dt_count(t, "[Y]");
    if (nx == 0) return "no [X]";
    if (ny == 0) return "no [Y]";
    if (nx > 1) return "several [X]";
    if (ny > 1) return "several [Y]";
    /* Any other bracket (square, or a lone one) means a broken placeholder such as "[X]n]". */
    for (const char *p = t; *p; p++) {
        if (*p == '[' && (!strncmp(p, "[X]", 3) || !strncmp(p, "[Y]", 3))) {
            p += 2;
            continue;
        }
        if (*p == '[' || *p == ']') return "stray bracket";
    }
    if (strstr(t, "[Y]") < strstr(t, "[X]")) return "[Y] before [X]";
    return NULL;
}

/* ---------------------------------------------------------------- ids, hashes */

static int id_num_cmp(const char *a, const char *b) {
    size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
    if (la != lb) return la < lb ? -1 : 1;
    int c = strncmp(a, b, la);
    if (c) return c;
    return strcmp(a + la, b + lb);
}

int dt_id_cmp(const char *a, const char *b) {
    if (a[0] != b[0]) return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
    if (!a[0]) return 0;
    return id_num_cmp(a + 1, b + 1);
}

int dt_id_ok(const char *s, char letter) {
    if (s[0] != letter || !s[1] || s[1] == '0') return 0;
    for (const char *p = s + 1; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return strlen(s) < 24;
}

uint64_t dt_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t dt_mix64(uint64_t x) { /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---------------------------------------------------------------- lines */

int dt_next_line(dt_lines *it, const char **line, size_t *len) {
    if (it->p >= it->end) return 0;
    const char *s = it->p;
    const char *nl = memchr(s, '\n', (size_t)(it->end - s));
    const char *stop = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    it->lineno++;
    size_t n = (size_t)(stop - s);
    if (n && s[n - 1] == '\r') n--;
    *line = s;
    *len = n;
    return 1;
}

int dt_blank(const char *line, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return 0;
    return 1;
}

/* ---------------------------------------------------------------- OpenCC */

struct dt_opencc {
    opencc_t od;
};

int dt_opencc_open(dt_opencc **out, mt_err *e) {
    *out = NULL;
    opencc_t od = opencc_open("t2s.json");
    if (od == (opencc_t)-1) {
        const char *why = opencc_error();
        return mt_fail(e, MT_EIO, "OpenCC: cannot open t2s.json (package libopencc-dev/opencc-data): %s",
                       why ? why : "unknown error");
    }
    dt_opencc *c = malloc(sizeof *c);
    if (!c) {
        opencc_close(od);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    c->od = od;
    *out = c;
    return MT_OK;
}

char *dt_opencc_t2s(dt_opencc *c, const char *s) {
    char *r = opencc_convert_utf8(c->od, s, strlen(s));
    if (!r) return NULL;
    char *copy = mt_strdup(r);
    opencc_convert_utf8_free(r);
    return copy;
}

void dt_opencc_close(dt_opencc *c) {
    if (!c) return;
    opencc_close(c->od);
    free(c);
}

/* ---------------------------------------------------------------- JSON fields */

int dt_get_str(const json_t *o, const char *key, const char *file, long line, int required, const char **out,
               mt_err *e) {
    *out = NULL;
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return mt_fail(e, MT_EFORMAT, "%s:%ld: field '%s': missing", file, line, key);
        return MT_OK;
    }
    if (!json_is_string(v)) return mt_fail(e, MT_EFORMAT, "%s:%ld: field '%s': not a string", file, line, key);
    *out = json_string_value(v);
    if (!dt_utf8_ok(*out)) return mt_fail(e, MT_EFORMAT, "%s:%ld: field '%s': invalid UTF-8", file, line, key);
    return MT_OK;
}
