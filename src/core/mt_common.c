#include "mt_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Error messages quote names and values read from files, which may hold control characters:
 * turn those into '?' so the message stays one line. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int mt_fail(mt_err *e, int code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        one_line(e->msg);
        e->code = code;
    }
    return code;
}

void mt_err_prefix(mt_err *e, const char *fmt, ...) {
    if (!e) return;
    char head[MT_ERR_MAX], old[MT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t h = strlen(head);
    if (h > MT_ERR_MAX - 3) h = MT_ERR_MAX - 3;
    memcpy(e->msg, head, h);
    memcpy(e->msg + h, ": ", 2);
    size_t o = strlen(old);
    if (o > MT_ERR_MAX - 3 - h) o = MT_ERR_MAX - 3 - h;
    memcpy(e->msg + h + 2, old, o);
    e->msg[h + 2 + o] = 0;
    one_line(e->msg);
}

const char *mt_status_name(int code) {
    switch (code) {
    case MT_OK: return "ok";
    case MT_EIO: return "io error";
    case MT_EFORMAT: return "format error";
    case MT_EUNSUPPORTED: return "unsupported";
    case MT_ENOMEM: return "out of memory";
    case MT_EINVAL: return "invalid argument";
    case MT_ENUMERIC: return "numerical error";
    case MT_EINTERRUPTED: return "interrupted";
    default: return "error";
    }
}

void *mt_malloc(size_t n) { return malloc(n ? n : 1); }
void *mt_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *mt_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

char *mt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int mt_read_file(const char *path, char **data, size_t *len, mt_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return mt_fail(e, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return mt_fail(e, MT_EIO, "%s: cannot seek", path);
    }
    long n = ftell(f);
    if (n < 0) {
        fclose(f);
        return mt_fail(e, MT_EIO, "%s: cannot size (not a regular file?)", path);
    }
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory reading %ld bytes", path, n);
    }
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return mt_fail(e, MT_EIO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    if (len) *len = (size_t)n;
    return MT_OK;
}

char *mt_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int mt_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

float *mt_arena_take(char **cur, size_t n, size_t *total) {
    n = (n + 15) & ~(size_t)15; /* 64-byte alignment for the GEMMs */
    float *p = *cur ? (float *)*cur : NULL;
    if (*cur) *cur += n * sizeof(float);
    *total += n * sizeof(float);
    return p;
}
