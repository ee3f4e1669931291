/* GGUF reader over read-only mmap, versions 2 and 3, little-endian (see mt_gguf.h).
 *
 * The format is ggml-org/ggml docs/gguf.md; validation follows ggml's src/gguf.cpp reader
 * (keys and tensor names unique, n_dims <= GGML_MAX_DIMS = 4, dims >= 0 without overflow,
 * dims[0] a multiple of the block size, general.alignment a non-zero power of two, offsets
 * aligned) and adds what an mmap reader needs: every tensor's bytes inside the file, no two
 * tensors overlapping, and no count or length believed before the bytes it promises are
 * known to be there (a count is compared with the bytes left divided by the smallest size
 * one item can take, so a lying header cannot make us allocate more than a small multiple
 * of the file size). Keys and tensor names with control characters are rejected, so every
 * error message stays one line.
 *
 * Block layouts and dequantization follow ggml's ggml-common.h and ggml-quants.c
 * (dequantize_row_*); the arithmetic is ordered as in gguf-py's gguf.quants, with products
 * kept in separate statements so that default compiler settings (GCC in ISO C mode does not
 * contract, clang contracts only within one expression) fuse none of them into an FMA: the
 * result is then bit-identical to that reference (-ffp-contract=fast would break this). Bytes are read one by one (data in the metadata part is
 * unaligned), never through cast pointers. */
#include "mt_half.h"
#include "mt_gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_safetensors.h" /* mt_f16_to_f32, mt_bf16_to_f32 */

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DEPTH 8 /* arrays of arrays nested deeper than this are refused */

struct mt_gguf {
    char *path;
    unsigned char *map;
    size_t size;
    uint32_t version, alignment;
    uint64_t data_offset;
    mt_gguf_kv *kv;
    int nkv;
    mt_gguf_tensor *t;
    int n;
    int *kv_slots, *t_slots; /* hash slots: index + 1, 0 = empty */
    size_t kv_nslots, t_nslots;
};

/* ------------------------------------------------------------ ggml types */

static const struct {
    const char *name;
    int blck, tsize; /* elements per block, bytes per block; blck 0 = no such type */
} TYPES[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},        [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [6] = {"Q5_0", 32, 22},     [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 36},     [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},  [12] = {"Q4_K", 256, 144},  [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292},  [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},  [21] = {"IQ3_S", 256, 110}, [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},       [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},       [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},  [30] = {"BF16", 1, 2},      [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},  [39] = {"MXFP4", 32, 17},   [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18},
};
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

const char *mt_gguf_type_name(int t) { return t >= 0 && t < N_TYPES && TYPES[t].blck ? TYPES[t].name : NULL; }

int mt_gguf_type_supported(int t) {
    switch (t) {
    case MT_GGML_F32: case MT_GGML_F16: case MT_GGML_BF16: case MT_GGML_Q8_0: case MT_GGML_Q4_0:
    case MT_GGML_Q4_1: case MT_GGML_Q5_0: case MT_GGML_Q5_1: case MT_GGML_Q4_K: case MT_GGML_Q5_K:
    case MT_GGML_Q6_K:
        return 1;
    default:
        return 0;
    }
}

static const char *const VTYPES[] = {"UINT8", "INT8",  "UINT16", "INT16",  "UINT32", "INT32", "FLOAT32",
                                     "BOOL",  "STRING", "ARRAY", "UINT64", "INT64",  "FLOAT64"};
#define N_VTYPES 13

const char *mt_gguf_vtype_name(int v) { return v >= 0 && v < N_VTYPES ? VTYPES[v] : "?"; }

/* Bytes of one scalar value; 0 for STRING and ARRAY. */
static int vtype_size(uint32_t v) {
    switch (v) {
    case MT_GGUF_U8: case MT_GGUF_I8: case MT_GGUF_BOOL: return 1;
    case MT_GGUF_U16: case MT_GGUF_I16: return 2;
    case MT_GGUF_U32: case MT_GGUF_I32: case MT_GGUF_F32: return 4;
    case MT_GGUF_U64: case MT_GGUF_I64: case MT_GGUF_F64: return 8;
    default: return 0;
    }
}

/* Smallest number of bytes one array element of type v takes in the file. */
static uint64_t vtype_min_size(uint32_t v) {
    if (v == MT_GGUF_STRING) return 8;       /* u64 length */
    if (v == MT_GGUF_ARRAY) return 12;       /* u32 type + u64 count */
    return (uint64_t)vtype_size(v);
}

/* ------------------------------------------------------------- byte reads */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double bits_f64(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Parser state: the mapping, a cursor, and where to report. */
typedef struct {
    const unsigned char *m;
    uint64_t pos, size;
    const char *path;
    mt_err *e;
} parser;

static uint64_t left(const parser *p) { return p->size - p->pos; }

static int truncated(parser *p, const char *what, uint64_t need) {
    return mt_fail(p->e, MT_EFORMAT, "%s: %s: file is truncated: %" PRIu64 " bytes needed at offset %" PRIu64
                   " but only %" PRIu64 " left (file size %" PRIu64 ")", p->path, what, need, p->pos, left(p), p->size);
}

/* 0 if a u32/u64 can be read, else fails naming what. */
static int get_u32(parser *p, const char *what, uint32_t *v) {
    if (left(p) < 4) return truncated(p, what, 4);
    *v = rd32(p->m + p->pos);
    p->pos += 4;
    return MT_OK;
}

static int get_u64(parser *p, const char *what, uint64_t *v) {
    if (left(p) < 8) return truncated(p, what, 8);
    *v = rd64(p->m + p->pos);
    p->pos += 8;
    return MT_OK;
}

static int has_ctrl(const char *s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 1;
    return 0;
}

/* Reads a key or tensor name (u64 length + bytes) into a new NUL-terminated string.
 * what names the item ("metadata pair 3", "tensor info 7") and noun the string for messages. */
static int get_name(parser *p, const char *what, const char *noun, char **out) {
    *out = NULL;
    char w[160];
    snprintf(w, sizeof w, "%s: %s length", what, noun);
    uint64_t len;
    int rc = get_u64(p, w, &len);
    if (rc) return rc;
    if (len == 0) return mt_fail(p->e, MT_EFORMAT, "%s: %s: %s is empty (at offset %" PRIu64 ")", p->path, what,
                                 noun, p->pos - 8);
    if (len > left(p))
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: %s length %" PRIu64 " runs past the end of the file (offset %"
                       PRIu64 ", %" PRIu64 " bytes left)", p->path, what, noun, len, p->pos - 8, left(p));
    const char *s = (const char *)p->m + p->pos;
    if (memchr(s, 0, (size_t)len) || has_ctrl(s, len))
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: %s holds a NUL or control character (at offset %" PRIu64 ")",
                       p->path, what, noun, p->pos);
    char *c = mt_malloc((size_t)len + 1);
    if (!c) return mt_fail(p->e, MT_ENOMEM, "%s: %s: out of memory for a %" PRIu64 "-byte %s", p->path, what, len, noun);
    memcpy(c, s, (size_t)len);
    c[len] = 0;
    p->pos += len;
    *out = c;
    return MT_OK;
}

/* ------------------------------------------------------------- metadata */

static void free_value(mt_gguf_value *v) {
    if (v->type != MT_GGUF_ARRAY) {
        free((char *)v->cstr);
        return;
    }
    if (v->items) {
        for (uint64_t k = 0; k < v->n; k++) free_value((mt_gguf_value *)&v->items[k]);
        free((mt_gguf_value *)v->items);
    }
    free((mt_gguf_str *)v->strs);
}

/* Reads one value of type `type` (already read) into v. key names the pair for messages;
 * depth counts enclosing arrays; top says whether v is a pair's value (strings get a cstr). */
static int parse_value(parser *p, const char *key, uint32_t type, int depth, int top, mt_gguf_value *v) {
    memset(v, 0, sizeof *v);
    v->type = (mt_gguf_vtype)type;
    const unsigned char *q = p->m + p->pos;
    int sz = vtype_size(type);
    char w[160];
    snprintf(w, sizeof w, "metadata key '%.100s'", key);
    if (sz) {
        if (left(p) < (uint64_t)sz) return truncated(p, w, (uint64_t)sz);
        switch (type) {
        case MT_GGUF_U8: v->u = q[0]; break;
        case MT_GGUF_I8: v->i = (int8_t)q[0]; break;
        case MT_GGUF_BOOL:
            if (q[0] > 1)
                return mt_fail(p->e, MT_EFORMAT, "%s: %s: BOOL value %u is neither 0 nor 1 (at offset %" PRIu64 ")",
                               p->path, w, q[0], p->pos);
            v->u = q[0];
            break;
        case MT_GGUF_U16: v->u = rd16(q); break;
        case MT_GGUF_I16: v->i = (int16_t)rd16(q); break;
        case MT_GGUF_U32: v->u = rd32(q); break;
        case MT_GGUF_I32: v->i = (int32_t)rd32(q); break;
        case MT_GGUF_F32: v->f = bits_f32(rd32(q)); break;
        case MT_GGUF_U64: v->u = rd64(q); break;
        case MT_GGUF_I64: v->i = (int64_t)rd64(q); break;
        case MT_GGUF_F64: v->f = bits_f64(rd64(q)); break;
        }
        p->pos += (uint64_t)sz;
        return MT_OK;
    }
    if (type == MT_GGUF_STRING) {
        uint64_t len;
        int rc = get_u64(p, w, &len);
        if (rc) return rc;
        if (len > left(p))
            return mt_fail(p->e, MT_EFORMAT, "%s: %s: string length %" PRIu64 " runs past the end of the file (offset %"
                           PRIu64 ", %" PRIu64 " bytes left)", p->path, w, len, p->pos - 8, left(p));
        v->str.s = (const char *)p->m + p->pos;
        v->str.len = len;
        if (top) {
            char *c = mt_malloc((size_t)len + 1);
            if (!c) return mt_fail(p->e, MT_ENOMEM, "%s: %s: out of memory for a %" PRIu64 "-byte string", p->path, w, len);
            memcpy(c, v->str.s, (size_t)len);
            c[len] = 0;
            v->cstr = c;
        }
        p->pos += len;
        return MT_OK;
    }
    if (type != MT_GGUF_ARRAY)
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: unknown value type %u (at offset %" PRIu64 "; GGUF has types 0..12)",
                       p->path, w, type, p->pos - 4);
    if (depth >= GGUF_MAX_DEPTH)
        return mt_fail(p->e, MT_EUNSUPPORTED, "%s: %s: arrays nested more than %d deep", p->path, w, GGUF_MAX_DEPTH);
    uint32_t elem;
    uint64_t n;
    int rc = get_u32(p, w, &elem);
    if (!rc) rc = get_u64(p, w, &n);
    if (rc) return rc;
    if (elem >= N_VTYPES)
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: array of unknown value type %u (at offset %" PRIu64
                       "; GGUF has types 0..12)", p->path, w, elem, p->pos - 12);
    v->elem = (mt_gguf_vtype)elem;
    uint64_t min = vtype_min_size(elem);
    if (n > left(p) / min)
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: array count %" PRIu64 " of %s runs past the end of the file: it needs at least %"
                       PRIu64 " bytes but only %" PRIu64 " are left (at offset %" PRIu64 ")", p->path, w, n,
                       VTYPES[elem], n > UINT64_MAX / min ? UINT64_MAX : n * min, left(p), p->pos - 8);
    if (n > SIZE_MAX / sizeof(mt_gguf_value))
        return mt_fail(p->e, MT_ENOMEM, "%s: %s: array of %" PRIu64 " items is too large", p->path, w, n);
    v->n = n;
    if (elem == MT_GGUF_STRING) {
        mt_gguf_str *s = mt_calloc((size_t)n, sizeof *s);
        if (!s) return mt_fail(p->e, MT_ENOMEM, "%s: %s: out of memory for %" PRIu64 " strings", p->path, w, n);
        v->strs = s;
        for (uint64_t k = 0; k < n; k++) {
            if (left(p) < 8) return truncated(p, w, 8);
            uint64_t len = rd64(p->m + p->pos);
            p->pos += 8;
            if (len > left(p))
                return mt_fail(p->e, MT_EFORMAT, "%s: %s: item %" PRIu64 ": string length %" PRIu64
                               " runs past the end of the file (offset %" PRIu64 ", %" PRIu64 " bytes left)",
                               p->path, w, k, len, p->pos - 8, left(p));
            s[k].s = (const char *)p->m + p->pos;
            s[k].len = len;
            p->pos += len;
        }
        return MT_OK;
    }
    if (elem == MT_GGUF_ARRAY) {
        mt_gguf_value *it = mt_calloc((size_t)n, sizeof *it);
        if (!it) return mt_fail(p->e, MT_ENOMEM, "%s: %s: out of memory for %" PRIu64 " arrays", p->path, w, n);
        v->items = it;
        for (uint64_t k = 0; k < n; k++) {
            /* each item is itself an array: its element type and count follow */
            if ((rc = parse_value(p, key, MT_GGUF_ARRAY, depth + 1, 0, &it[k]))) return rc;
        }
        return MT_OK;
    }
    /* fixed-size elements stay in the mapping */
    v->data = p->m + p->pos;
    if (elem == MT_GGUF_BOOL)
        for (uint64_t k = 0; k < n; k++)
            if (p->m[p->pos + k] > 1)
                return mt_fail(p->e, MT_EFORMAT, "%s: %s: item %" PRIu64 ": BOOL value %u is neither 0 nor 1",
                               p->path, w, k, p->m[p->pos + k]);
    p->pos += n * min;
    return MT_OK;
}

double mt_gguf_arr_num(const mt_gguf_value *v, uint64_t k) {
    const unsigned char *q = (const unsigned char *)v->data + k * (uint64_t)vtype_size(v->elem);
    switch (v->elem) {
    case MT_GGUF_U8: case MT_GGUF_BOOL: return q[0];
    case MT_GGUF_I8: return (int8_t)q[0];
    case MT_GGUF_U16: return rd16(q);
    case MT_GGUF_I16: return (int16_t)rd16(q);
    case MT_GGUF_U32: return rd32(q);
    case MT_GGUF_I32: return (int32_t)rd32(q);
    case MT_GGUF_F32: return bits_f32(rd32(q));
    case MT_GGUF_U64: return (double)rd64(q);
    case MT_GGUF_I64: return (double)(int64_t)rd64(q);
    case MT_GGUF_F64: return bits_f64(rd64(q));
    default: return 0;
    }
}

/* ------------------------------------------------------------- hash table */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* names: n entries of `stride` bytes, each starting with a `const char *`. Fills *slots;
 * on a duplicate returns the 1-based index pair in *dup_a / *dup_b. */
#define NAME_AT(base, stride, i) (*(const char *const *)((const char *)(base) + (size_t)(i) * (stride)))

static int build_slots(const void *base, size_t stride, int n, int **slots, size_t *nslots, int *dup_a, int *dup_b) {
    size_t ns = 16;
    while (ns < (size_t)n * 2) ns <<= 1;
    int *s = mt_calloc(ns, sizeof *s);
    if (!s) return -1;
    *slots = s;
    *nslots = ns;
    for (int i = 0; i < n; i++) {
        const char *nm = NAME_AT(base, stride, i);
        size_t k = (size_t)hash_str(nm) & (ns - 1);
        while (s[k]) {
            if (!strcmp(NAME_AT(base, stride, s[k] - 1), nm)) {
                *dup_a = s[k];
                *dup_b = i + 1;
                return 1;
            }
            k = (k + 1) & (ns - 1);
        }
        s[k] = i + 1;
    }
    return 0;
}

static int find_slot(const void *base, size_t stride, const int *slots, size_t ns, const char *name) {
    if (!ns || !name) return -1;
    size_t k = (size_t)hash_str(name) & (ns - 1);
    while (slots[k]) {
        if (!strcmp(NAME_AT(base, stride, slots[k] - 1), name)) return slots[k] - 1;
        k = (k + 1) & (ns - 1);
    }
    return -1;
}

const mt_gguf_kv *mt_gguf_find_kv(const mt_gguf *g, const char *key) {
    if (!g) return NULL;
    int i = find_slot(g->kv, sizeof *g->kv, g->kv_slots, g->kv_nslots, key);
    return i < 0 ? NULL : &g->kv[i];
}

const mt_gguf_tensor *mt_gguf_find_tensor(const mt_gguf *g, const char *name) {
    if (!g) return NULL;
    int i = find_slot(g->t, sizeof *g->t, g->t_slots, g->t_nslots, name);
    return i < 0 ? NULL : &g->t[i];
}

int mt_gguf_kv_count(const mt_gguf *g) { return g ? g->nkv : 0; }
const mt_gguf_kv *mt_gguf_kv_at(const mt_gguf *g, int i) { return g && i >= 0 && i < g->nkv ? &g->kv[i] : NULL; }
int mt_gguf_tensor_count(const mt_gguf *g) { return g ? g->n : 0; }
const mt_gguf_tensor *mt_gguf_tensor_at(const mt_gguf *g, int i) { return g && i >= 0 && i < g->n ? &g->t[i] : NULL; }
const char *mt_gguf_path(const mt_gguf *g) { return g ? g->path : NULL; }
uint32_t mt_gguf_version(const mt_gguf *g) { return g ? g->version : 0; }
uint32_t mt_gguf_alignment(const mt_gguf *g) { return g ? g->alignment : 0; }
uint64_t mt_gguf_data_offset(const mt_gguf *g) { return g ? g->data_offset : 0; }

/* ------------------------------------------------------------- getters */

static const mt_gguf_kv *need_kv(const mt_gguf *g, const char *key, mt_err *e) {
    const mt_gguf_kv *kv = mt_gguf_find_kv(g, key);
    if (!kv) mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' is missing", g->path, key);
    return kv;
}

static int wrong_type(const mt_gguf *g, const mt_gguf_kv *kv, const char *want, mt_err *e) {
    if (kv->v.type == MT_GGUF_ARRAY)
        return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' is an ARRAY of %s, expected %s", g->path, kv->key,
                       VTYPES[kv->v.elem], want);
    return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' has type %s, expected %s", g->path, kv->key,
                   VTYPES[kv->v.type], want);
}

static int is_unsigned(mt_gguf_vtype t) {
    return t == MT_GGUF_U8 || t == MT_GGUF_U16 || t == MT_GGUF_U32 || t == MT_GGUF_U64;
}
static int is_signed(mt_gguf_vtype t) {
    return t == MT_GGUF_I8 || t == MT_GGUF_I16 || t == MT_GGUF_I32 || t == MT_GGUF_I64;
}

/* An integer value as (negative?, magnitude-ish): returns it as signed when it fits int64. */
static int int_in_range(const mt_gguf *g, const mt_gguf_kv *kv, int64_t lo, uint64_t hi, const char *want,
                        uint64_t *out_u, int64_t *out_i, mt_err *e) {
    if (is_unsigned(kv->v.type)) {
        if (kv->v.u > hi)
            return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' = %" PRIu64 " does not fit in %s", g->path, kv->key,
                           kv->v.u, want);
        *out_u = kv->v.u;
        *out_i = (int64_t)kv->v.u;
        return MT_OK;
    }
    if (is_signed(kv->v.type)) {
        if (kv->v.i < lo || (kv->v.i > 0 && (uint64_t)kv->v.i > hi))
            return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' = %" PRId64 " does not fit in %s", g->path, kv->key,
                           kv->v.i, want);
        *out_u = (uint64_t)kv->v.i;
        *out_i = kv->v.i;
        return MT_OK;
    }
    return wrong_type(g, kv, want, e);
}

int mt_gguf_get_u32(const mt_gguf *g, const char *key, uint32_t *out, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (!kv) return MT_EFORMAT;
    uint64_t u;
    int64_t i;
    int rc = int_in_range(g, kv, 0, UINT32_MAX, "UINT32", &u, &i, e);
    if (!rc) *out = (uint32_t)u;
    return rc;
}

int mt_gguf_get_i32(const mt_gguf *g, const char *key, int32_t *out, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (!kv) return MT_EFORMAT;
    uint64_t u;
    int64_t i;
    int rc = int_in_range(g, kv, INT32_MIN, INT32_MAX, "INT32", &u, &i, e);
    if (!rc) *out = (int32_t)i;
    return rc;
}

int mt_gguf_get_u64(const mt_gguf *g, const char *key, uint64_t *out, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (!kv) return MT_EFORMAT;
    uint64_t u;
    int64_t i;
    int rc = int_in_range(g, kv, 0, UINT64_MAX, "UINT64", &u, &i, e);
    if (!rc) *out = u;
    return rc;
}

int mt_gguf_get_f32(const mt_gguf *g, const char *key, float *out, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (!kv) return MT_EFORMAT;
    if (kv->v.type != MT_GGUF_F32 && kv->v.type != MT_GGUF_F64) return wrong_type(g, kv, "FLOAT32", e);
    *out = (float)kv->v.f;
    return MT_OK;
}

int mt_gguf_get_bool(const mt_gguf *g, const char *key, int *out, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (!kv) return MT_EFORMAT;
    if (kv->v.type != MT_GGUF_BOOL) return wrong_type(g, kv, "BOOL", e);
    *out = (int)kv->v.u;
    return MT_OK;
}

int mt_gguf_get_str(const mt_gguf *g, const char *key, const char **out, uint64_t *len, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (!kv) return MT_EFORMAT;
    if (kv->v.type != MT_GGUF_STRING) return wrong_type(g, kv, "STRING", e);
    *out = kv->v.cstr;
    if (len) *len = kv->v.str.len;
    return MT_OK;
}

static const mt_gguf_kv *need_array(const mt_gguf *g, const char *key, const char *want, mt_err *e) {
    const mt_gguf_kv *kv = need_kv(g, key, e);
    if (kv && kv->v.type != MT_GGUF_ARRAY) {
        mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' has type %s, expected an ARRAY of %s", g->path, key,
                VTYPES[kv->v.type], want);
        return NULL;
    }
    return kv;
}

int mt_gguf_get_arr_str(const mt_gguf *g, const char *key, const mt_gguf_str **out, uint64_t *n, mt_err *e) {
    const mt_gguf_kv *kv = need_array(g, key, "STRING", e);
    if (!kv) return MT_EFORMAT;
    if (kv->v.elem != MT_GGUF_STRING) return wrong_type(g, kv, "an ARRAY of STRING", e);
    *out = kv->v.strs;
    *n = kv->v.n;
    return MT_OK;
}

int mt_gguf_get_arr_f32(const mt_gguf *g, const char *key, float **out, uint64_t *n, mt_err *e) {
    *out = NULL;
    const mt_gguf_kv *kv = need_array(g, key, "FLOAT32", e);
    if (!kv) return MT_EFORMAT;
    if (kv->v.elem != MT_GGUF_F32 && kv->v.elem != MT_GGUF_F64) return wrong_type(g, kv, "an ARRAY of FLOAT32", e);
    *n = kv->v.n;
    if (!kv->v.n) return MT_OK;
    float *d = mt_malloc((size_t)kv->v.n * sizeof *d);
    if (!d) return mt_fail(e, MT_ENOMEM, "%s: metadata key '%s': out of memory for %" PRIu64 " floats", g->path, key,
                           kv->v.n);
    for (uint64_t k = 0; k < kv->v.n; k++) d[k] = (float)mt_gguf_arr_num(&kv->v, k);
    *out = d;
    return MT_OK;
}

int mt_gguf_get_arr_i32(const mt_gguf *g, const char *key, int32_t **out, uint64_t *n, mt_err *e) {
    *out = NULL;
    const mt_gguf_kv *kv = need_array(g, key, "INT32", e);
    if (!kv) return MT_EFORMAT;
    mt_gguf_vtype el = kv->v.elem;
    if (!is_signed(el) && !is_unsigned(el)) return wrong_type(g, kv, "an ARRAY of INT32", e);
    *n = kv->v.n;
    if (!kv->v.n) return MT_OK;
    int32_t *d = mt_malloc((size_t)kv->v.n * sizeof *d);
    if (!d) return mt_fail(e, MT_ENOMEM, "%s: metadata key '%s': out of memory for %" PRIu64 " integers", g->path,
                           key, kv->v.n);
    int sz = vtype_size(el);
    for (uint64_t k = 0; k < kv->v.n; k++) {
        const unsigned char *q = (const unsigned char *)kv->v.data + k * (uint64_t)sz;
        int64_t x;
        int ok = 1;
        switch (el) {
        case MT_GGUF_U8: x = q[0]; break;
        case MT_GGUF_I8: x = (int8_t)q[0]; break;
        case MT_GGUF_U16: x = rd16(q); break;
        case MT_GGUF_I16: x = (int16_t)rd16(q); break;
        case MT_GGUF_U32: x = rd32(q); break;
        case MT_GGUF_I32: x = (int32_t)rd32(q); break;
        case MT_GGUF_U64: {
            uint64_t u = rd64(q);
            ok = u <= INT32_MAX;
            x = ok ? (int64_t)u : 0;
            break;
        }
        default: x = (int64_t)rd64(q); break; /* I64 */
        }
        if (!ok || x < INT32_MIN || x > INT32_MAX) {
            free(d);
            return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s': item %" PRIu64 " does not fit in INT32", g->path,
                           key, k);
        }
        d[k] = (int32_t)x;
    }
    *out = d;
    return MT_OK;
}

/* ------------------------------------------------------------- tensors */

/* Reads one tensor info into t (name owned). idx is its position, for messages. */
static int parse_tensor_info(parser *p, uint64_t idx, uint64_t count, mt_gguf_tensor *t) {
    char w[160];
    snprintf(w, sizeof w, "tensor info %" PRIu64 " of %" PRIu64, idx, count);
    char *name;
    int rc = get_name(p, w, "name", &name);
    if (rc) return rc;
    t->name = name;
    t->file = p->path;
    snprintf(w, sizeof w, "tensor '%.100s'", name);
    char wf[200];
    uint32_t nd;
    snprintf(wf, sizeof wf, "%s: field 'n_dims'", w);
    if ((rc = get_u32(p, wf, &nd))) return rc;
    if (nd > MT_GGUF_MAX_DIMS)
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: field 'n_dims' = %u exceeds the GGUF limit of %d", p->path, w, nd,
                       MT_GGUF_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t numel = 1;
    for (int k = 0; k < MT_GGUF_MAX_DIMS; k++) {
        t->dims[k] = 1;
        t->shape[k] = 0;
    }
    int zero = 0;
    for (uint32_t k = 0; k < nd; k++) {
        uint64_t d;
        snprintf(wf, sizeof wf, "%s: field 'dims[%u]'", w, k);
        if ((rc = get_u64(p, wf, &d))) return rc;
        if (d > (uint64_t)INT64_MAX)
            return mt_fail(p->e, MT_EFORMAT, "%s: %s: field 'dims[%u]' = %" PRIu64 " is negative as int64", p->path,
                           w, k, d);
        t->dims[k] = (int64_t)d;
        if (d == 0) zero = 1;
        else if (!zero && numel > INT64_MAX / (int64_t)d)
            return mt_fail(p->e, MT_EFORMAT, "%s: %s: field 'dims' overflows a 64-bit element count", p->path, w);
        else if (!zero)
            numel *= (int64_t)d;
    }
    if (zero) numel = 0;
    t->numel = numel;
    for (int k = 0; k < t->ndim; k++) t->shape[k] = t->dims[t->ndim - 1 - k];
    uint32_t ty;
    snprintf(wf, sizeof wf, "%s: field 'type'", w);
    if ((rc = get_u32(p, wf, &ty))) return rc;
    if (!mt_gguf_type_name((int)ty))
        return mt_fail(p->e, MT_EUNSUPPORTED, "%s: %s: field 'type' = %u is not a known ggml type", p->path, w, ty);
    t->type = (int)ty;
    t->type_name = TYPES[ty].name;
    int64_t blck = TYPES[ty].blck, tsize = TYPES[ty].tsize;
    if (t->dims[0] % blck)
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: field 'dims[0]' = %" PRId64 " is not a multiple of the %s block size %"
                       PRId64, p->path, w, t->dims[0], t->type_name, blck);
    if (numel / blck > INT64_MAX / tsize || (uint64_t)(numel / blck * tsize) > SIZE_MAX)
        return mt_fail(p->e, MT_EFORMAT, "%s: %s: %" PRId64 " elements of %s overflow a 64-bit byte count", p->path, w,
                       numel, t->type_name);
    t->nbytes = (size_t)(numel / blck * tsize);
    snprintf(wf, sizeof wf, "%s: field 'offset'", w);
    return get_u64(p, wf, &t->offset);
}

static int cmp_by_offset(const void *a, const void *b) {
    const mt_gguf_tensor *x = *(const mt_gguf_tensor *const *)a, *y = *(const mt_gguf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Places every tensor in the data section: aligned, inside the file, not overlapping. */
static int place_tensors(mt_gguf *g, mt_err *e) {
    uint64_t data_len = g->data_offset < g->size ? g->size - g->data_offset : 0;
    for (int i = 0; i < g->n; i++) {
        mt_gguf_tensor *t = &g->t[i];
        if (t->offset % g->alignment)
            return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': field 'offset' = %" PRIu64
                           " is not a multiple of general.alignment = %u", g->path, t->name, t->offset, g->alignment);
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': field 'offset': data [%" PRIu64 ", %" PRIu64
                           ") runs past the end of the file: the data section starts at byte %" PRIu64
                           " and holds %" PRIu64 " bytes (file size %zu)", g->path, t->name, t->offset,
                           t->offset + (uint64_t)t->nbytes, g->data_offset, data_len, g->size);
        t->data = g->map + g->data_offset + t->offset;
    }
    if (g->n < 2) return MT_OK;
    const mt_gguf_tensor **s = mt_calloc((size_t)g->n, sizeof *s);
    if (!s) return mt_fail(e, MT_ENOMEM, "%s: out of memory", g->path);
    for (int i = 0; i < g->n; i++) s[i] = &g->t[i];
    qsort(s, (size_t)g->n, sizeof *s, cmp_by_offset);
    const mt_gguf_tensor *prev = NULL;
    int rc = MT_OK;
    for (int i = 0; i < g->n; i++) {
        if (!s[i]->nbytes) continue;
        if (prev && prev->offset + prev->nbytes > s[i]->offset) {
            rc = mt_fail(e, MT_EFORMAT, "%s: tensor '%s': field 'offset': data [%" PRIu64 ", %" PRIu64
                         ") overlaps tensor '%s' [%" PRIu64 ", %" PRIu64 ")", g->path, s[i]->name, s[i]->offset,
                         s[i]->offset + (uint64_t)s[i]->nbytes, prev->name, prev->offset,
                         prev->offset + (uint64_t)prev->nbytes);
            break;
        }
        prev = s[i];
    }
    free(s);
    return rc;
}

/* ------------------------------------------------------------- open */

static int parse(mt_gguf *g, mt_err *e) {
    parser P = {g->map, 0, g->size, g->path, e}, *p = &P;
    if (g->size < 4)
        return mt_fail(e, MT_EFORMAT, "%s: field 'magic': file is %zu bytes, too short for a GGUF header", g->path,
                       g->size);
    if (memcmp(g->map, "GGUF", 4)) {
        const unsigned char *m = g->map;
        return mt_fail(e, MT_EFORMAT, "%s: field 'magic': expected \"GGUF\", got bytes %02x %02x %02x %02x: not a "
                       "GGUF file", g->path, m[0], m[1], m[2], m[3]);
    }
    p->pos = 4;
    uint32_t ver;
    int rc = get_u32(p, "field 'version'", &ver);
    if (rc) return rc;
    uint32_t sw = (ver >> 24) | ((ver >> 8) & 0xff00) | ((ver << 8) & 0xff0000) | (ver << 24);
    if (ver == 1)
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'version': GGUF version 1 is not supported (only 2 and 3; "
                       "re-convert the model with a current llama.cpp)", g->path);
    if ((ver & 0xffff) == 0 && sw >= 1 && sw <= 3)
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'version': reads as %u little-endian, %u big-endian: big-endian "
                       "GGUF files are not supported", g->path, ver, sw);
    if (ver != 2 && ver != 3)
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'version': GGUF version %u is not supported (only 2 and 3)",
                       g->path, ver);
    g->version = ver;
    uint64_t nt, nkv;
    if ((rc = get_u64(p, "field 'tensor_count'", &nt))) return rc;
    if ((rc = get_u64(p, "field 'metadata_kv_count'", &nkv))) return rc;
    /* smallest pair: key length + 1-byte key + type + 1-byte value; smallest tensor info:
     * name length + 1-byte name + n_dims + type + offset */
    const uint64_t min_kv = 8 + 1 + 4 + 1, min_ti = 8 + 1 + 4 + 4 + 8;
    if (nkv > left(p) / min_kv || nkv > INT_MAX)
        return mt_fail(e, MT_EFORMAT, "%s: field 'metadata_kv_count' = %" PRIu64 " cannot fit in the %" PRIu64
                       " bytes left in the file (at least %" PRIu64 " bytes per pair)", g->path, nkv, left(p), min_kv);
    if (nt > left(p) / min_ti || nt > INT_MAX)
        return mt_fail(e, MT_EFORMAT, "%s: field 'tensor_count' = %" PRIu64 " cannot fit in the %" PRIu64
                       " bytes left in the file (at least %" PRIu64 " bytes per tensor info)", g->path, nt, left(p),
                       min_ti);
    g->kv = mt_calloc((size_t)nkv, sizeof *g->kv);
    if (!g->kv) return mt_fail(e, MT_ENOMEM, "%s: out of memory for %" PRIu64 " metadata pairs", g->path, nkv);
    for (uint64_t i = 0; i < nkv; i++) {
        char w[96];
        snprintf(w, sizeof w, "metadata pair %" PRIu64 " of %" PRIu64, i, nkv);
        mt_gguf_kv *kv = &g->kv[i];
        char *key;
        if ((rc = get_name(p, w, "key", &key))) return rc;
        kv->key = key;
        g->nkv++;
        char wt[160];
        snprintf(wt, sizeof wt, "metadata key '%.100s': value type", key);
        uint32_t ty;
        if ((rc = get_u32(p, wt, &ty))) return rc;
        if ((rc = parse_value(p, key, ty, 0, 1, &kv->v))) return rc;
    }
    int da = 0, db = 0;
    int dup = build_slots(g->kv, sizeof *g->kv, g->nkv, &g->kv_slots, &g->kv_nslots, &da, &db);
    if (dup < 0) return mt_fail(e, MT_ENOMEM, "%s: out of memory for the metadata index", g->path);
    if (dup)
        return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' appears twice (pairs %d and %d)", g->path,
                       g->kv[da - 1].key, da - 1, db - 1);
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const mt_gguf_kv *al = mt_gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a;
        if ((rc = mt_gguf_get_u32(g, "general.alignment", &a, e))) return rc;
        if (a == 0 || (a & (a - 1)))
            return mt_fail(e, MT_EFORMAT, "%s: metadata key 'general.alignment' = %u is not a power of 2", g->path, a);
        g->alignment = a;
    }
    if (nt > left(p) / min_ti)
        return mt_fail(e, MT_EFORMAT, "%s: field 'tensor_count' = %" PRIu64 " cannot fit in the %" PRIu64
                       " bytes left after the metadata (at least %" PRIu64 " bytes per tensor info)", g->path, nt,
                       left(p), min_ti);
    g->t = mt_calloc((size_t)nt, sizeof *g->t);
    if (!g->t) return mt_fail(e, MT_ENOMEM, "%s: out of memory for %" PRIu64 " tensors", g->path, nt);
    for (uint64_t i = 0; i < nt; i++) {
        rc = parse_tensor_info(p, i, nt, &g->t[i]);
        if (g->t[i].name) g->n++;
        if (rc) return rc;
    }
    dup = build_slots(g->t, sizeof *g->t, g->n, &g->t_slots, &g->t_nslots, &da, &db);
    if (dup < 0) return mt_fail(e, MT_ENOMEM, "%s: out of memory for the tensor index", g->path);
    if (dup)
        return mt_fail(e, MT_EFORMAT, "%s: tensor '%s': name appears twice (tensor infos %d and %d)", g->path,
                       g->t[da - 1].name, da - 1, db - 1);
    uint64_t pad = (g->alignment - p->pos % g->alignment) % g->alignment;
    g->data_offset = p->pos + pad;
    return place_tensors(g, e);
}

void mt_gguf_close(mt_gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->nkv; i++) {
        free((char *)g->kv[i].key);
        free_value(&g->kv[i].v);
    }
    for (int i = 0; i < g->n; i++) free((char *)g->t[i].name);
    free(g->kv);
    free(g->t);
    free(g->kv_slots);
    free(g->t_slots);
    if (g->map) munmap(g->map, g->size);
    free(g->path);
    free(g);
}

int mt_gguf_open(const char *path, mt_gguf **out, mt_err *e) {
    *out = NULL;
    mt_gguf *g = mt_calloc(1, sizeof *g);
    if (!g || !(g->path = mt_strdup(path))) {
        free(g);
        return mt_fail(e, MT_ENOMEM, "%s: out of memory", path);
    }
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = mt_fail(e, MT_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        rc = mt_fail(e, MT_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if (sb.st_size == 0) {
        close(fd);
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'magic': file is empty", path);
        goto fail;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) {
        rc = mt_fail(e, MT_EIO, "%s: cannot mmap: %s", path, strerror(err));
        goto fail;
    }
    g->map = map;
    g->size = (size_t)sb.st_size;
    if ((rc = parse(g, e))) goto fail;
    *out = g;
    return MT_OK;
fail:
    mt_gguf_close(g);
    return rc;
}

/* ------------------------------------------------------------- dequantization */

static float h2f(const unsigned char *p) { return mt_f16_to_f32(rd16(p)); }

/* Each dequantizes nb blocks from q into y. */

static void deq_q4_0(const unsigned char *q, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, q += 18, y += 32) {
        float d = h2f(q);
        const unsigned char *qs = q + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((qs[j] & 0x0f) - 8) * d;
            y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const unsigned char *q, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, q += 20, y += 32) {
        float d = h2f(q), m = h2f(q + 2);
        const unsigned char *qs = q + 4;
        for (int j = 0; j < 16; j++) {
            float a = (float)(qs[j] & 0x0f) * d, b = (float)(qs[j] >> 4) * d;
            y[j] = a + m;
            y[j + 16] = b + m;
        }
    }
}

static void deq_q5_0(const unsigned char *q, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, q += 22, y += 32) {
        float d = h2f(q);
        uint32_t qh = rd32(q + 2);
        const unsigned char *qs = q + 6;
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (float)(((qs[j] & 0x0f) | h0) - 16) * d;
            y[j + 16] = (float)(((qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void deq_q5_1(const unsigned char *q, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, q += 24, y += 32) {
        float d = h2f(q), m = h2f(q + 2);
        uint32_t qh = rd32(q + 4);
        const unsigned char *qs = q + 8;
        for (int j = 0; j < 16; j++) {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            float a = (float)((qs[j] & 0x0f) | h0) * d, b = (float)((qs[j] >> 4) | h1) * d;
            y[j] = a + m;
            y[j + 16] = b + m;
        }
    }
}

/* The 6-bit scale and min of sub-block j (0..7) packed in 12 bytes (ggml get_scale_min_k4). */
static void scale_min_k4(int j, const unsigned char *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* block_q4_K: half d, half dmin, u8 scales[12], u8 qs[128] */
static void deq_q4_k(const unsigned char *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 144) {
        float d = h2f(b), dmin = h2f(b + 2);
        const unsigned char *sc = b + 4, *q = b + 16;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
            int s, m;
            scale_min_k4(is, sc, &s, &m);
            float d1 = d * (float)s, m1 = dmin * (float)m;
            scale_min_k4(is + 1, sc, &s, &m);
            float d2 = d * (float)s, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                float t = d1 * (float)(q[l] & 0x0f);
                *y++ = t - m1;
            }
            for (int l = 0; l < 32; l++) {
                float t = d2 * (float)(q[l] >> 4);
                *y++ = t - m2;
            }
        }
    }
}

/* block_q5_K: half d, half dmin, u8 scales[12], u8 qh[32], u8 qs[128] */
static void deq_q5_k(const unsigned char *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 176) {
        float d = h2f(b), dmin = h2f(b + 2);
        const unsigned char *sc = b + 4, *qh = b + 16, *ql = b + 48;
        unsigned u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            int s, m;
            scale_min_k4(is, sc, &s, &m);
            float d1 = d * (float)s, m1 = dmin * (float)m;
            scale_min_k4(is + 1, sc, &s, &m);
            float d2 = d * (float)s, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                float t = d1 * (float)((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0));
                *y++ = t - m1;
            }
            for (int l = 0; l < 32; l++) {
                float t = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0));
                *y++ = t - m2;
            }
        }
    }
}

/* block_q6_K: u8 ql[128], u8 qh[64], i8 scales[16], half d */
static void deq_q6_k(const unsigned char *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 210) {
        float d = h2f(b + 208);
        const unsigned char *ql = b, *qh = b + 128;
        const signed char *sc = (const signed char *)(b + 192);
        for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0 & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2 & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
                float s1 = d * (float)sc[is], s2 = d * (float)sc[is + 2], s3 = d * (float)sc[is + 4],
                      s4 = d * (float)sc[is + 6];
                y[l] = s1 * (float)q1;
                y[l + 32] = s2 * (float)q2;
                y[l + 64] = s3 * (float)q3;
                y[l + 96] = s4 * (float)q4;
            }
        }
    }
}

/* Dequantizes n elements (a whole number of blocks) of type ty starting at block-aligned q. */
static void deq(int ty, const unsigned char *q, float *y, int64_t n) {
    int64_t nb = n / TYPES[ty].blck;
    switch (ty) {
    case MT_GGML_F32:
        if (mt_host_le()) {
            if (n) memcpy(y, q, (size_t)n * 4);
        } else {
            for (int64_t i = 0; i < n; i++) y[i] = bits_f32(rd32(q + 4 * i));
        }
        break;
    case MT_GGML_F16: for (int64_t i = 0; i < n; i++) y[i] = mt_f16_to_f32(rd16(q + 2 * i)); break;
    case MT_GGML_BF16: for (int64_t i = 0; i < n; i++) y[i] = mt_bf16_to_f32(rd16(q + 2 * i)); break;
    case MT_GGML_Q8_0: mt_q8_0_to_f32(y, q, (size_t)nb); break;
    case MT_GGML_Q4_0: deq_q4_0(q, y, nb); break;
    case MT_GGML_Q4_1: deq_q4_1(q, y, nb); break;
    case MT_GGML_Q5_0: deq_q5_0(q, y, nb); break;
    case MT_GGML_Q5_1: deq_q5_1(q, y, nb); break;
    case MT_GGML_Q4_K: deq_q4_k(q, y, nb); break;
    case MT_GGML_Q5_K: deq_q5_k(q, y, nb); break;
    case MT_GGML_Q6_K: deq_q6_k(q, y, nb); break;
    }
}

int mt_gguf_rows_to_f32(const mt_gguf_tensor *t, int64_t row0, int64_t nrows, float *dst, mt_err *e) {
    if (!mt_gguf_type_supported(t->type))
        return mt_fail(e, MT_EUNSUPPORTED, "%s: tensor '%s': type %s cannot be converted to F32 (supported: F32, "
                       "F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", t->file, t->name,
                       t->type_name ? t->type_name : "?");
    int64_t len = t->dims[0];
    int64_t rows = t->dims[1] * t->dims[2] * t->dims[3];
    if (row0 < 0 || nrows < 0 || row0 > rows || nrows > rows - row0)
        return mt_fail(e, MT_EINVAL, "%s: tensor '%s': rows [%" PRId64 ", %" PRId64 ") are outside its %" PRId64
                       " rows", t->file, t->name, row0, row0 + nrows, rows);
    if (!len || !nrows) return MT_OK;
    size_t row_bytes = (size_t)(len / TYPES[t->type].blck * TYPES[t->type].tsize);
    const unsigned char *q = (const unsigned char *)t->data + (size_t)row0 * row_bytes;
    for (int64_t r = 0; r < nrows; r++, q += row_bytes) deq(t->type, q, dst + r * len, len);
    return MT_OK;
}

int mt_gguf_to_f32(const mt_gguf_tensor *t, float *dst, mt_err *e) {
    return mt_gguf_rows_to_f32(t, 0, t->dims[1] * t->dims[2] * t->dims[3], dst, e);
}
