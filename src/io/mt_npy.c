/* NumPy .npy files of float32 (written as format 1.0 '<f4', C order).
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE in 1.0, u32 LE in 2.0/3.0), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces and ended by '\n' so that the data starts at a multiple of 64 bytes. */
#include "mt_half.h"
#include "mt_npy.h"
#include "mt_afile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAX_DIMS 8
#define NPY_MAX_HEADER (1u << 20)

static void fmt_tuple(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = 0;
    buf[k++] = '(';
    for (int i = 0; i < ndim && k + 24 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    snprintf(buf + k, cap - k, ndim == 1 ? ",)" : ")");
}

/* ------------------------------------------------------------------ write */

static int write_all(FILE *f, const float *data, size_t n) {
    if (!n) return 0;
    if (mt_host_le()) return fwrite(data, 4, n, f) == n ? 0 : -1;
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        for (int b = 0; b < 4; b++) buf[k++] = (unsigned char)(u >> (8 * b));
        if (k == sizeof buf || i + 1 == n) {
            if (fwrite(buf, 1, k, f) != k) return -1;
            k = 0;
        }
    }
    return 0;
}

int mt_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape, mt_err *e) {
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return mt_fail(e, MT_EINVAL, "%s: cannot write %d dimensions (0 to %d supported)", path, ndim, NPY_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return mt_fail(e, MT_EINVAL, "%s: shape[%d] = %" PRId64 " is negative", path, i, shape[i]);
        if (shape[i] && numel > INT64_MAX / 4 / shape[i])
            return mt_fail(e, MT_EINVAL, "%s: shape overflows the byte count", path);
        numel *= shape[i];
    }
    if (numel && !data) return mt_fail(e, MT_EINVAL, "%s: no data to write", path);
    char tup[256], dict[400];
    fmt_tuple(tup, sizeof tup, ndim, shape);
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", tup);
    size_t total = ((size_t)10 + (size_t)dl + 1 + 63) / 64 * 64; /* magic..len + dict + '\n' */
    size_t hlen = total - 10;
    unsigned char head[512];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)dl);
    memset(head + 10 + dl, ' ', total - 10 - (size_t)dl - 1);
    head[total - 1] = '\n';

    mt_afile a; /* atomic: nothing under the target name until the whole file is on disk */
    int rc = mt_afile_open(&a, path, e);
    if (rc) return rc;
    if (fwrite(head, 1, total, a.f) != total || write_all(a.f, data, (size_t)numel)) {
        rc = mt_fail(e, MT_EIO, "%s: write failed: %s", path, strerror(errno));
        mt_afile_abort(&a);
        return rc;
    }
    return mt_afile_commit(&a, e);
}

/* ------------------------------------------------------------------- read */

typedef struct {
    const char *s, *end, *path;
    mt_err *e;
} cur;

static void skip_ws(cur *c) {
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}

static int expect(cur *c, char ch, const char *where) {
    skip_ws(c);
    if (c->s >= c->end || *c->s != ch)
        return mt_fail(c->e, MT_EFORMAT, "%s: npy header: expected '%c' %s", c->path, ch, where);
    c->s++;
    return MT_OK;
}

/* A Python string literal in ' or " quotes, without escapes, copied into buf. */
static int parse_pystr(cur *c, char *buf, size_t cap, const char *where) {
    skip_ws(c);
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"'))
        return mt_fail(c->e, MT_EFORMAT, "%s: npy header: expected a quoted string %s", c->path, where);
    char q = *c->s++;
    size_t k = 0;
    while (c->s < c->end && *c->s != q) {
        if (*c->s == '\\' || k + 1 >= cap)
            return mt_fail(c->e, MT_EFORMAT, "%s: npy header: unsupported string %s", c->path, where);
        buf[k++] = *c->s++;
    }
    if (c->s >= c->end) return mt_fail(c->e, MT_EFORMAT, "%s: npy header: unterminated string %s", c->path, where);
    c->s++;
    buf[k] = 0;
    return MT_OK;
}

static int parse_shape(cur *c, int *ndim, int64_t *shape) {
    int rc = expect(c, '(', "to open field 'shape'");
    if (rc) return rc;
    int n = 0;
    for (;;) {
        skip_ws(c);
        if (c->s < c->end && *c->s == ')') {
            c->s++;
            break;
        }
        if (c->s >= c->end || *c->s < '0' || *c->s > '9')
            return mt_fail(c->e, MT_EFORMAT, "%s: npy header: field 'shape' must be a tuple of non-negative integers",
                           c->path);
        int64_t v = 0;
        while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return mt_fail(c->e, MT_EFORMAT, "%s: npy header: field 'shape' has a dimension too large", c->path);
            v = v * 10 + (*c->s++ - '0');
        }
        if (c->s < c->end && *c->s == 'L') c->s++; /* Python 2 long */
        if (n == NPY_MAX_DIMS)
            return mt_fail(c->e, MT_EUNSUPPORTED, "%s: npy header: field 'shape' has more than %d dimensions", c->path,
                           NPY_MAX_DIMS);
        shape[n++] = v;
        skip_ws(c);
        if (c->s < c->end && *c->s == ',') {
            c->s++;
            continue;
        }
        if ((rc = expect(c, ')', "to close field 'shape'"))) return rc;
        break;
    }
    *ndim = n;
    return MT_OK;
}

/* Parses the header dict; *item is 4 or 8. */
static int parse_header(const char *path, const char *h, size_t len, int *item, int *ndim, int64_t *shape,
                        mt_err *e) {
    cur c = {h, h + len, path, e};
    int have_descr = 0, have_fo = 0, have_shape = 0, rc;
    char key[64], descr[64] = "";
    if ((rc = expect(&c, '{', "at the start"))) return rc;
    for (;;) {
        skip_ws(&c);
        if (c.s < c.end && *c.s == '}') {
            c.s++;
            break;
        }
        if ((rc = parse_pystr(&c, key, sizeof key, "as a key"))) return rc;
        if ((rc = expect(&c, ':', "after a key"))) return rc;
        skip_ws(&c);
        if (!strcmp(key, "descr")) {
            if ((rc = parse_pystr(&c, descr, sizeof descr, "in field 'descr'"))) return rc;
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if ((size_t)(c.end - c.s) >= 4 && !memcmp(c.s, "True", 4)) {
                return mt_fail(e, MT_EUNSUPPORTED, "%s: npy field 'fortran_order' is True; only C order is supported",
                               path);
            } else if ((size_t)(c.end - c.s) >= 5 && !memcmp(c.s, "False", 5)) {
                c.s += 5;
            } else {
                return mt_fail(e, MT_EFORMAT, "%s: npy header: field 'fortran_order' must be True or False", path);
            }
            have_fo = 1;
        } else if (!strcmp(key, "shape")) {
            if ((rc = parse_shape(&c, ndim, shape))) return rc;
            have_shape = 1;
        } else {
            return mt_fail(e, MT_EFORMAT, "%s: npy header: unknown field '%s'", path, key);
        }
        skip_ws(&c);
        if (c.s < c.end && *c.s == ',') {
            c.s++;
            continue;
        }
        if ((rc = expect(&c, '}', "after a value"))) return rc;
        break;
    }
    skip_ws(&c);
    if (c.s != c.end) return mt_fail(e, MT_EFORMAT, "%s: npy header: unexpected text after the dict", path);
    if (!have_descr) return mt_fail(e, MT_EFORMAT, "%s: npy header: missing field 'descr'", path);
    if (!have_fo) return mt_fail(e, MT_EFORMAT, "%s: npy header: missing field 'fortran_order'", path);
    if (!have_shape) return mt_fail(e, MT_EFORMAT, "%s: npy header: missing field 'shape'", path);
    if (!strcmp(descr, "<f4"))
        *item = 4;
    else if (!strcmp(descr, "<f8"))
        *item = 8;
    else
        return mt_fail(e, MT_EUNSUPPORTED, "%s: npy field 'descr' is '%s'; only '<f4' and '<f8' are supported", path,
                       descr);
    return MT_OK;
}

static int read_body(FILE *f, const char *path, int item, float *out, size_t n, mt_err *e) {
    if (item == 4 && mt_host_le()) {
        if (n && fread(out, 4, n, f) != n) return mt_fail(e, MT_EIO, "%s: short read of npy data", path);
        return MT_OK;
    }
    unsigned char buf[8192];
    size_t per = sizeof buf / (size_t)item;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < per ? n - i : per;
        if (fread(buf, (size_t)item, k, f) != k) return mt_fail(e, MT_EIO, "%s: short read of npy data", path);
        for (size_t j = 0; j < k; j++) {
            const unsigned char *p = buf + j * (size_t)item;
            uint64_t u = 0;
            for (int b = item - 1; b >= 0; b--) u = u << 8 | p[b];
            if (item == 4) {
                uint32_t w = (uint32_t)u;
                memcpy(&out[i + j], &w, 4);
            } else {
                double d;
                memcpy(&d, &u, 8);
                out[i + j] = (float)d;
            }
        }
        i += k;
    }
    return MT_OK;
}

int mt_npy_read_f32(const char *path, float **data, int *ndim, int64_t *shape, mt_err *e) {
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mt_fail(e, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = MT_OK;
    char *h = NULL;
    float *out = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = mt_fail(e, MT_EIO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)sb.st_size;
    unsigned char pre[12];
    if (size < 10 || fread(pre, 1, 10, f) != 10) {
        rc = mt_fail(e, MT_EFORMAT, "%s: file is %" PRIu64 " bytes, too short for an npy header", path, size);
        goto done;
    }
    if (memcmp(pre, "\x93NUMPY", 6)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: not an npy file (bad magic)", path);
        goto done;
    }
    int major = pre[6];
    uint64_t hlen, off;
    if (major == 1) {
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12 || fread(pre + 10, 1, 2, f) != 2) {
            rc = mt_fail(e, MT_EFORMAT, "%s: file is %" PRIu64 " bytes, too short for an npy header", path, size);
            goto done;
        }
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
        off = 12;
    } else {
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: npy format version %d.%d is not supported", path, major, pre[7]);
        goto done;
    }
    if (hlen > NPY_MAX_HEADER || off + hlen > size) {
        rc = mt_fail(e, MT_EFORMAT, "%s: npy header length %" PRIu64 " runs past the end of the file (%" PRIu64
                     " bytes)", path, hlen, size);
        goto done;
    }
    h = malloc((size_t)hlen + 1);
    if (!h) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (hlen && fread(h, 1, (size_t)hlen, f) != hlen) {
        rc = mt_fail(e, MT_EIO, "%s: short read of the npy header", path);
        goto done;
    }
    h[hlen] = 0;
    int item = 0, nd = 0;
    int64_t sh[NPY_MAX_DIMS];
    if ((rc = parse_header(path, h, (size_t)hlen, &item, &nd, sh, e))) goto done;
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        if (sh[i] && numel > (UINT64_MAX / 8) / (uint64_t)sh[i]) {
            rc = mt_fail(e, MT_EFORMAT, "%s: npy field 'shape' overflows the byte count", path);
            goto done;
        }
        numel *= (uint64_t)sh[i];
    }
    uint64_t need = numel * (uint64_t)item, have = size - off - hlen;
    if (need != have) {
        char tup[256];
        fmt_tuple(tup, sizeof tup, nd, sh);
        if (have < need)
            rc = mt_fail(e, MT_EFORMAT, "%s: npy data is truncated: shape %s of %s needs %" PRIu64
                         " bytes after the header but the file holds %" PRIu64, path, tup, item == 4 ? "<f4" : "<f8",
                         need, have);
        else
            rc = mt_fail(e, MT_EFORMAT, "%s: %" PRIu64 " trailing bytes after the npy data (shape %s of %s needs %"
                         PRIu64 ")", path, have - need, tup, item == 4 ? "<f4" : "<f8", need);
        goto done;
    }
    out = mt_malloc((size_t)numel * sizeof(float));
    if (!out) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory for %" PRIu64 " floats", path, numel);
        goto done;
    }
    if ((rc = read_body(f, path, item, out, (size_t)numel, e))) goto done;
    *ndim = nd;
    for (int i = 0; i < nd; i++) shape[i] = sh[i];
    *data = out;
    out = NULL;
done:
    free(out);
    free(h);
    fclose(f);
    return rc;
}
