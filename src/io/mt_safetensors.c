/* safetensors reader over read-only mmap: single files and sharded checkpoints.
 *
 * A file is: u64 little-endian N, N bytes of JSON header, then the data buffer. Validation
 * follows huggingface/safetensors (Metadata::validate): N <= 100,000,000 and 8 + N <= file
 * size; the header is a JSON object without duplicate keys; "__metadata__" (optional) maps
 * strings to strings; every other key is a tensor {"dtype", "shape", "data_offsets"} with no
 * other fields; sorted by offsets the tensors are contiguous from 0 and each one spans
 * numel * bits / 8 bytes; the last end + 8 + N equals the file size.
 *
 * Sharded checkpoints (model.safetensors.index.json) open every distinct shard named in
 * "weight_map" (relative to the index's folder), check that each listed tensor sits in its
 * named shard, and reject a tensor found in two shards.
 *
 * Lookup by name is a hash table (open addressing, FNV-1a). Tensors are listed shard by shard
 * (shards in name order), and within a shard in data order. Data may be unaligned (old writers
 * did not pad the header), so conversions read bytes, never cast pointers. */
#include "mt_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_half.h"
#include "mt_json.h"

#define ST_MAX_HEADER 100000000ULL

typedef struct {
    char *path;
    unsigned char *map;
    size_t size;
} st_shard;

struct mt_safetensors {
    st_shard *shards;
    int nshards;
    mt_st_tensor *t;
    int n;
    int *slots; /* hash slots: tensor index + 1, 0 = empty */
    size_t nslots;
};

/* ------------------------------------------------------------------ dtypes */

static const struct {
    const char *name;
    mt_dtype dt;
    int bits;
} DTYPES[] = {
    {"BOOL", MT_DT_BOOL, 8},     {"U8", MT_DT_U8, 8},           {"I8", MT_DT_I8, 8},
    {"I16", MT_DT_I16, 16},      {"U16", MT_DT_U16, 16},        {"F16", MT_DT_F16, 16},
    {"BF16", MT_DT_BF16, 16},    {"I32", MT_DT_I32, 32},        {"U32", MT_DT_U32, 32},
    {"F32", MT_DT_F32, 32},      {"F64", MT_DT_F64, 64},        {"I64", MT_DT_I64, 64},
    {"U64", MT_DT_U64, 64},      {"C64", MT_DT_OTHER, 64},      {"F8_E5M2", MT_DT_OTHER, 8},
    {"F8_E4M3", MT_DT_OTHER, 8}, {"F8_E8M0", MT_DT_OTHER, 8},   {"F4", MT_DT_OTHER, 4},
    {"F6_E2M3", MT_DT_OTHER, 6}, {"F6_E3M2", MT_DT_OTHER, 6},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *mt_dtype_name(mt_dtype d) {
    switch (d) {
    case MT_DT_F32: return "F32";
    case MT_DT_F16: return "F16";
    case MT_DT_BF16: return "BF16";
    case MT_DT_F64: return "F64";
    case MT_DT_I64: return "I64";
    case MT_DT_I32: return "I32";
    case MT_DT_I16: return "I16";
    case MT_DT_I8: return "I8";
    case MT_DT_U8: return "U8";
    case MT_DT_BOOL: return "BOOL";
    case MT_DT_U16: return "U16";
    case MT_DT_U32: return "U32";
    case MT_DT_U64: return "U64";
    case MT_DT_OTHER: return "OTHER";
    }
    return "?";
}

/* ------------------------------------------------------- f16 / bf16 bits */

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float mt_f16_to_f32(uint16_t h) {
    float f;
    mt_half_to_f32(&f, &h, 1, 0);
    return f;
}

float mt_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t mt_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) { /* inf, or NaN kept quiet with its top payload bits */
        if (ax == 0x7f800000u) return sign | 0x7c00;
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    }
    if (ax >= 0x477ff000u) return sign | 0x7c00; /* >= 65520 rounds to inf */
    if (ax >= 0x38800000u) {                      /* normal half: >= 2^-14 */
        uint32_t h = (((ax >> 23) - 112) << 10) | ((ax >> 13) & 0x3ff);
        uint32_t rem = ax & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    if (ax <= 0x33000000u) return sign; /* <= 2^-25: ties to even give zero */
    uint32_t m = (ax & 0x7fffff) | 0x800000, shift = 126 - (ax >> 23);
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

uint16_t mt_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

/* ------------------------------------------------------------- hash table */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Builds the name index; a name present twice (only possible across shards) fails. */
static int build_index(mt_safetensors *st, const char *what, mt_err *e) {
    size_t ns = 16;
    while (ns < (size_t)st->n * 2) ns <<= 1;
    st->slots = mt_calloc(ns, sizeof *st->slots);
    if (!st->slots) return mt_fail(e, MT_ENOMEM, "%s: out of memory for the tensor index", what);
    st->nslots = ns;
    for (int i = 0; i < st->n; i++) {
        size_t k = (size_t)hash_str(st->t[i].name) & (ns - 1);
        while (st->slots[k]) {
            const mt_st_tensor *o = &st->t[st->slots[k] - 1];
            if (!strcmp(o->name, st->t[i].name))
                return mt_fail(e, MT_EFORMAT, "%s: tensor '%s' is in two shards: %s and %s", what, o->name,
                               o->file, st->t[i].file);
            k = (k + 1) & (ns - 1);
        }
        st->slots[k] = i + 1;
    }
    return MT_OK;
}

const mt_st_tensor *mt_st_find(const mt_safetensors *st, const char *name) {
    if (!st || !st->nslots || !name) return NULL;
    size_t k = (size_t)hash_str(name) & (st->nslots - 1);
    while (st->slots[k]) {
        const mt_st_tensor *t = &st->t[st->slots[k] - 1];
        if (!strcmp(t->name, name)) return t;
        k = (k + 1) & (st->nslots - 1);
    }
    return NULL;
}

int mt_st_count(const mt_safetensors *st) { return st ? st->n : 0; }

const mt_st_tensor *mt_st_at(const mt_safetensors *st, int i) {
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

/* ------------------------------------------------------- header parsing */


static void fmt_shape(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t k = 0;
    buf[k++] = '[';
    for (int i = 0; i < ndim && k + 24 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    snprintf(buf + k, cap - k, "]");
}

typedef struct {
    int64_t begin, end, nbytes;
    int bits;
} entry_extra;

/* Parses one tensor entry of a header into t (name and file set by the caller). */
static int parse_entry(const char *path, const char *name, json_t *v, mt_st_tensor *t, entry_extra *x,
                       mt_err *e) {
    if (!json_is_object(v))
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': entry must be a JSON object, got %s", path, name, mt_json_type_name(v));
    const char *k;
    json_t *f;
    json_object_foreach(v, k, f) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': unknown field '%s' (expected dtype, shape, data_offsets)",
                           path, name, k);
    }
    /* dtype */
    json_t *dt = json_object_get(v, "dtype");
    if (!dt) return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': missing field 'dtype'", path, name);
    if (!json_is_string(dt))
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': field 'dtype' must be a string, got %s", path, name,
                       mt_json_type_name(dt));
    const char *ds = json_string_value(dt);
    int di = -1;
    for (int i = 0; i < N_DTYPES; i++)
        if (!strcmp(ds, DTYPES[i].name)) di = i;
    if (di < 0) return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name, ds);
    t->dtype = DTYPES[di].dt;
    t->dtype_str = DTYPES[di].name;
    x->bits = DTYPES[di].bits;
    /* shape */
    json_t *sh = json_object_get(v, "shape");
    if (!sh) return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': missing field 'shape'", path, name);
    if (!json_is_array(sh))
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': field 'shape' must be an array, got %s", path, name,
                       mt_json_type_name(sh));
    size_t nd = json_array_size(sh);
    if (nd > MT_ST_MAX_DIMS)
        return mt_fail(e, MT_EUNSUPPORTED, "%s: tensor '%s': shape has %zu dimensions, more than the %d supported",
                       path, name, nd, MT_ST_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d))
            return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': shape[%zu] must be an integer, got %s", path, name, i,
                           mt_json_type_name(d));
        int64_t s = (int64_t)json_integer_value(d);
        if (s < 0)
            return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': shape[%zu] = %" PRId64 " is negative", path, name, i, s);
        t->shape[i] = s;
        if (s && numel > INT64_MAX / s)
            return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': shape overflows 64-bit element count", path, name);
        numel *= s;
    }
    for (size_t i = nd; i < MT_ST_MAX_DIMS; i++) t->shape[i] = 0;
    t->numel = numel;
    char shs[256];
    fmt_shape(shs, sizeof shs, t->shape, t->ndim);
    if (numel > INT64_MAX / x->bits)
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': shape %s of %s overflows 64-bit byte count", path, name, shs,
                       ds);
    int64_t nbits = numel * x->bits;
    if (nbits % 8)
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': shape %s of %s holds %" PRId64
                       " bits, not a whole number of bytes", path, name, shs, ds, nbits);
    x->nbytes = nbits / 8;
    /* data_offsets */
    json_t *off = json_object_get(v, "data_offsets");
    if (!off) return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': missing field 'data_offsets'", path, name);
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)))
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': field 'data_offsets' must be [begin, end] integers", path,
                       name);
    x->begin = (int64_t)json_integer_value(json_array_get(off, 0));
    x->end = (int64_t)json_integer_value(json_array_get(off, 1));
    if (x->begin < 0 || x->end < x->begin)
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                       "] must satisfy 0 <= begin <= end", path, name, x->begin, x->end);
    if (x->end - x->begin != x->nbytes)
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] hold %" PRId64
                       " bytes but shape %s of %s needs %" PRId64, path, name, x->begin, x->end,
                       x->end - x->begin, shs, ds, x->nbytes);
    return MT_OK;
}

typedef struct {
    mt_st_tensor t;
    entry_extra x;
} pending;

static int cmp_pending(const void *a, const void *b) {
    const pending *p = a, *q = b;
    if (p->x.begin != q->x.begin) return p->x.begin < q->x.begin ? -1 : 1;
    if (p->x.end != q->x.end) return p->x.end < q->x.end ? -1 : 1;
    return 0;
}

static int grow_tensors(mt_safetensors *st, size_t more) {
    mt_st_tensor *t = mt_realloc(st->t, ((size_t)st->n + more) * sizeof *t);
    if (!t) return -1;
    st->t = t;
    return 0;
}

/* Validates the header and data layout of one mapped file and appends its tensors. */
static int parse_file(mt_safetensors *st, st_shard *sh, mt_err *e) {
    const char *path = sh->path;
    const unsigned char *m = sh->map;
    uint64_t N = 0;
    for (int i = 7; i >= 0; i--) N = N << 8 | m[i];
    if (N > ST_MAX_HEADER)
        return mt_fail(e, MT_EFORMAT, "%s: header length %" PRIu64 " exceeds the limit of %llu bytes", path, N,
                       ST_MAX_HEADER);
    if (N > sh->size - 8)
        return mt_fail(e, MT_EFORMAT, "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                       path, N, sh->size);
    char what[1100];
    snprintf(what, sizeof what, "%s: header", path);
    json_t *h = NULL;
    int rc = mt_json_load_buf((const char *)m + 8, (size_t)N, what, &h, e);
    if (rc) return rc;
    pending *p = NULL;
    size_t np = 0;
    if (!json_is_object(h)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: header is not a JSON object (got %s)", path, mt_json_type_name(h));
        goto done;
    }
    p = mt_calloc(json_object_size(h), sizeof *p);
    if (!p) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory for %zu header entries", path, json_object_size(h));
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(h, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (json_is_null(v)) continue;
            if (!json_is_object(v)) {
                rc = mt_fail(e, MT_EFORMAT, "%s: field '__metadata__' must be an object of strings, got %s", path,
                             mt_json_type_name(v));
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = mt_fail(e, MT_EFORMAT, "%s: field '__metadata__' key '%s' must be a string, got %s", path,
                                 mk, mt_json_type_name(mv));
                    goto done;
                }
            }
            continue;
        }
        if ((rc = parse_entry(path, key, v, &p[np].t, &p[np].x, e))) goto done;
        p[np].t.name = key; /* replaced by an owned copy below */
        np++;
    }
    qsort(p, np, sizeof *p, cmp_pending);
    int64_t prev_end = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < np; i++) {
        const pending *q = &p[i];
        if (q->x.begin != prev_end) {
            if (q->x.begin > prev_end && prev)
                rc = mt_fail(e, MT_EFORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                             "] leave a gap of %" PRId64 " bytes after tensor '%s' (which ends at %" PRId64 ")",
                             path, q->t.name, q->x.begin, q->x.end, q->x.begin - prev_end, prev, prev_end);
            else if (q->x.begin > prev_end)
                rc = mt_fail(e, MT_EFORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                             "] leave a gap of %" PRId64 " bytes at the start of the data (the first tensor must "
                             "begin at 0)", path, q->t.name, q->x.begin, q->x.end, q->x.begin);
            else
                rc = mt_fail(e, MT_EFORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                             "] overlap tensor '%s' (which ends at %" PRId64 ")",
                             path, q->t.name, q->x.begin, q->x.end, prev, prev_end);
            goto done;
        }
        prev_end = q->x.end;
        prev = q->t.name;
    }
    uint64_t data_len = sh->size - 8 - N;
    if ((uint64_t)prev_end > data_len) {
        rc = mt_fail(e, MT_EFORMAT, "%s: file is truncated: tensor '%s' ends at data byte %" PRId64 " but only %" PRIu64
                     " data bytes follow the header (file size %zu)", path, prev, prev_end, data_len, sh->size);
        goto done;
    }
    if ((uint64_t)prev_end < data_len) {
        if (prev)
            rc = mt_fail(e, MT_EFORMAT, "%s: %" PRIu64 " trailing bytes after the last tensor ('%s' ends at data byte %"
                         PRId64 ", file size %zu)", path, data_len - (uint64_t)prev_end, prev, prev_end, sh->size);
        else
            rc = mt_fail(e, MT_EFORMAT, "%s: %" PRIu64 " trailing bytes after a header that lists no tensors", path,
                         data_len);
        goto done;
    }
    if (grow_tensors(st, np)) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory for %zu tensors", path, np);
        goto done;
    }
    const unsigned char *data = m + 8 + N;
    for (size_t i = 0; i < np; i++) {
        char *nm = mt_strdup(p[i].t.name);
        if (!nm) {
            rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        mt_st_tensor *t = &st->t[st->n++];
        *t = p[i].t;
        t->name = nm;
        t->data = data + p[i].x.begin;
        t->nbytes = (size_t)p[i].x.nbytes;
        t->file = sh->path;
    }
done:
    free(p);
    json_decref(h);
    return rc;
}

/* Maps one file read-only into a new shard slot of st and parses it. */
static int open_file(mt_safetensors *st, const char *path, mt_err *e) {
    st_shard *s = mt_realloc(st->shards, ((size_t)st->nshards + 1) * sizeof *s);
    if (!s) return mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
    st->shards = s;
    st_shard *sh = &st->shards[st->nshards];
    memset(sh, 0, sizeof *sh);
    if (!(sh->path = mt_strdup(path))) return mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
    st->nshards++;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mt_fail(e, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return mt_fail(e, MT_EIO, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return mt_fail(e, MT_EFORMAT, "%s: file is %lld bytes, shorter than the 8-byte header length", path,
                       (long long)sb.st_size);
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return mt_fail(e, MT_EIO, "%s: cannot mmap: %s", path, strerror(err));
    sh->map = map;
    sh->size = (size_t)sb.st_size;
    return parse_file(st, sh, e);
}

void mt_st_close(mt_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free((char *)st->t[i].name);
    for (int i = 0; i < st->nshards; i++) {
        if (st->shards[i].map) munmap(st->shards[i].map, st->shards[i].size);
        free(st->shards[i].path);
    }
    free(st->shards);
    free(st->t);
    free(st->slots);
    free(st);
}

/* ---------------------------------------------------------------- sharded */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int bad_shard_name(const char *s) {
    if (!*s || *s == '/') return 1;
    for (const char *p = s; *p;) { /* reject any ".." path component */
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 1;
        p += n + (q ? 1 : 0);
    }
    return 0;
}

static int open_index(mt_safetensors *st, const char *path, mt_err *e) {
    json_t *root = NULL;
    const char **names = NULL;
    char *dir = NULL, *shard_path = NULL;
    int rc = mt_json_load_file(path, &root, e);
    if (rc) return rc;
    if (!json_is_object(root)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: top level is not a JSON object (got %s)", path, mt_json_type_name(root));
        goto done;
    }
    json_t *meta = json_object_get(root, "metadata");
    if (meta && !json_is_object(meta) && !json_is_null(meta)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'metadata' must be an object, got %s", path, mt_json_type_name(meta));
        goto done;
    }
    json_t *wm = json_object_get(root, "weight_map");
    if (!wm) {
        rc = mt_fail(e, MT_EFORMAT, "%s: missing field 'weight_map'", path);
        goto done;
    }
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'weight_map' must be a non-empty object, got %s", path,
                     json_is_object(wm) ? "an empty object" : mt_json_type_name(wm));
        goto done;
    }
    /* distinct shard names, sorted */
    names = mt_calloc(json_object_size(wm), sizeof *names);
    if (!names) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t nn = 0;
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: weight_map['%s'] must be a shard file name, got %s", path, key, mt_json_type_name(v));
            goto done;
        }
        const char *s = json_string_value(v);
        if (bad_shard_name(s)) {
            rc = mt_fail(e, MT_EFORMAT, "%s: weight_map['%s'] = '%s' is not a file name relative to the index's folder",
                         path, key, s);
            goto done;
        }
        names[nn++] = s;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    size_t nu = 0;
    for (size_t i = 0; i < nn; i++)
        if (!nu || strcmp(names[nu - 1], names[i])) names[nu++] = names[i];
    dir = mt_strdup(path);
    if (!dir) {
        rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    for (size_t i = 0; i < nu; i++) {
        free(shard_path);
        shard_path = dir[0] ? mt_path_join(dir, names[i]) : mt_strdup(names[i]);
        if (!shard_path) {
            rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        if (!mt_file_exists(shard_path)) {
            const char *who = "";
            json_object_foreach(wm, key, v) {
                if (!strcmp(json_string_value(v), names[i])) {
                    who = key;
                    break;
                }
            }
            rc = mt_fail(e, MT_EIO, "%s: weight_map['%s'] names shard '%s', but %s does not exist", path, who,
                         names[i], shard_path);
            goto done;
        }
        if ((rc = open_file(st, shard_path, e))) goto done;
    }
    if ((rc = build_index(st, path, e))) goto done;
    json_object_foreach(wm, key, v) {
        const mt_st_tensor *t = mt_st_find(st, key);
        const char *s = json_string_value(v);
        if (!t) {
            rc = mt_fail(e, MT_EFORMAT, "%s: weight_map['%s'] names shard '%s', but that shard has no such tensor",
                         path, key, s);
            goto done;
        }
        size_t fl = strlen(t->file), sl = strlen(s);
        if (fl < sl || strcmp(t->file + fl - sl, s) || (fl > sl && t->file[fl - sl - 1] != '/')) {
            rc = mt_fail(e, MT_EFORMAT, "%s: weight_map['%s'] names shard '%s', but the tensor is in %s", path, key,
                         s, t->file);
            goto done;
        }
    }
done:
    free(shard_path);
    free(dir);
    free(names);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ open */

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int mt_st_open(const char *path, mt_safetensors **out, mt_err *e) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return mt_fail(e, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
        return mt_fail(e, MT_EIO, "%s: not a regular file or folder", path);
    mt_safetensors *st = mt_calloc(1, sizeof *st);
    if (!st) return mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
    int rc;
    if (S_ISDIR(sb.st_mode)) {
        char *single = mt_path_join(path, "model.safetensors");
        char *index = mt_path_join(path, "model.safetensors.index.json");
        if (!single || !index)
            rc = mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
        else if (mt_file_exists(single))
            rc = open_file(st, single, e);
        else if (mt_file_exists(index))
            rc = open_index(st, index, e);
        else
            rc = mt_fail(e, MT_EIO, "%s: no checkpoint found: looked for model.safetensors and "
                         "model.safetensors.index.json in this folder", path);
        free(single);
        free(index);
    } else if (ends_with(path, ".json")) {
        rc = open_index(st, path, e);
    } else {
        rc = open_file(st, path, e);
    }
    if (!rc && !st->slots) rc = build_index(st, path, e);
    if (rc) {
        mt_st_close(st);
        return rc;
    }
    *out = st;
    return MT_OK;
}

/* ------------------------------------------------------------ conversion */

int mt_st_to_f32(const mt_st_tensor *t, float *dst, mt_err *e) {
    size_t n = (size_t)t->numel;
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case MT_DT_F32:
        if (!n) return MT_OK;
        if (mt_host_le()) {
            memcpy(dst, p, n * 4);
        } else {
            for (size_t i = 0; i < n; i++, p += 4)
                dst[i] = bits_f32((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        }
        return MT_OK;
    case MT_DT_F16:
    case MT_DT_BF16:
        if (mt_host_le() && !((uintptr_t)p & 1)) {
            mt_half_to_f32(dst, (const uint16_t *)p, n, t->dtype == MT_DT_BF16);
            return MT_OK;
        }
        for (size_t i = 0; i < n; i++, p += 2) {
            uint16_t h = (uint16_t)(p[0] | p[1] << 8);
            dst[i] = t->dtype == MT_DT_BF16 ? mt_bf16_to_f32(h) : mt_f16_to_f32(h);
        }
        return MT_OK;
    case MT_DT_F64:
        for (size_t i = 0; i < n; i++, p += 8) {
            uint64_t u = 0;
            for (int k = 7; k >= 0; k--) u = u << 8 | p[k];
            double d;
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
        }
        return MT_OK;
    default:
        return mt_fail(e, MT_EUNSUPPORTED, "%s: tensor '%s': dtype %s cannot be converted to F32 "
                       "(supported: F32, F16, BF16, F64)", t->file, t->name, t->dtype_str);
    }
}
