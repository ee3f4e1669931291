/* GGUF reader tests. tests/data/gguf holds files written by the official gguf-py writer
 * (make_fixtures.py there) with reference values from gguf-py's dequantizer; bad files are
 * built byte by byte into a mkdtemp folder. When the real default model has been fetched
 * (tools/fetch_model.sh), a few of its rows are compared with gguf-py's values as well. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_gguf.h"
#include "mt_npy.h"
#include "mt_test.h"

#define DATA "tests/data/gguf/"

static char g_dir[64];

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static int one_line(const char *s) { return strchr(s, '\n') == NULL && s[0]; }

/* --------------------------------------------------------- byte builder */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void b_bytes(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_u8(buf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    b_bytes(b, &c, 1);
}
static void b_u32(buf *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b_u8(b, v >> (8 * i) & 0xff);
}
static void b_u64(buf *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b_u8(b, (unsigned)(v >> (8 * i) & 0xff));
}
static void b_str(buf *b, const char *s) {
    b_u64(b, strlen(s));
    b_bytes(b, s, strlen(s));
}
static void b_header(buf *b, uint32_t version, uint64_t nt, uint64_t nkv) {
    b_bytes(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, nt);
    b_u64(b, nkv);
}
static void b_kv_u32(buf *b, const char *key, uint32_t v) {
    b_str(b, key);
    b_u32(b, MT_GGUF_U32);
    b_u32(b, v);
}
static void b_kv_str(buf *b, const char *key, const char *v) {
    b_str(b, key);
    b_u32(b, MT_GGUF_STRING);
    b_str(b, v);
}
/* tensor info with up to 4 dims (GGUF order) */
static void b_ti(buf *b, const char *name, uint32_t nd, const uint64_t *dims, uint32_t type, uint64_t off) {
    b_str(b, name);
    b_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) b_u64(b, dims[i]);
    b_u32(b, type);
    b_u64(b, off);
}
static void b_pad(buf *b, size_t align) {
    while (b->n % align) b_u8(b, 0);
}
static void b_zeros(buf *b, size_t n) {
    while (n--) b_u8(b, 0);
}

static const char *b_write(buf *b, const char *name) {
    const char *p = tpath(name);
    FILE *f = fopen(p, "wb");
    if (f) {
        if (b->n) fwrite(b->p, 1, b->n, f);
        fclose(f);
    }
    free(b->p);
    memset(b, 0, sizeof *b);
    return p;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *d = malloc((size_t)len + 1);
    if (fread(d, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    *n = (size_t)len;
    return d;
}

static void write_raw(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(d, 1, n, f);
    fclose(f);
}

/* Opens path, expects failure with code and a one-line message naming the file and field. */
static void expect_fail(const char *path, int code, const char *field, int line) {
    mt_gguf *g = (mt_gguf *)1;
    mt_err e = {0};
    int rc = mt_gguf_open(path, &g, &e);
    if (getenv("MT_TEST_VERBOSE")) printf("  %s\n", e.msg);
    CHECK(rc == code, "line %d: %s: got %s (%d), want %d: %s", line, path, mt_status_name(rc), rc, code, e.msg);
    CHECK(g == NULL, "line %d: handle not NULL on failure", line);
    CHECK(strstr(e.msg, path) != NULL, "line %d: message does not name the file: %s", line, e.msg);
    CHECK(strstr(e.msg, field) != NULL, "line %d: message does not name '%s': %s", line, field, e.msg);
    CHECK(one_line(e.msg), "line %d: message not one line: %s", line, e.msg);
    if (rc == MT_OK) mt_gguf_close(g);
}
#define EXPECT_FAIL(path, code, field) expect_fail(path, code, field, __LINE__)

/* ----------------------------------------------------- reference compare */

static int same_bits(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

/* Dequantizes tensor name of g and compares it bit for bit with ref/<refname>.npy. */
static void check_tensor(const mt_gguf *g, const char *name, const char *refname, int type, int ndim,
                         const int64_t *shape) {
    const mt_gguf_tensor *t = mt_gguf_find_tensor(g, name);
    CHECK(t != NULL, "tensor %s missing", name);
    if (!t) return;
    CHECK(t->type == type, "%s: type %d, want %d", name, t->type, type);
    CHECK(t->ndim == ndim, "%s: ndim %d, want %d", name, t->ndim, ndim);
    int64_t numel = 1;
    for (int k = 0; k < ndim; k++) {
        CHECK(t->shape[k] == shape[k], "%s: shape[%d] = %lld, want %lld", name, k, (long long)t->shape[k],
              (long long)shape[k]);
        CHECK(t->dims[ndim - 1 - k] == shape[k], "%s: dims are not the reverse of shape", name);
        numel *= shape[k];
    }
    CHECK(t->numel == numel, "%s: numel %lld", name, (long long)t->numel);
    CHECK(!strcmp(t->type_name, mt_gguf_type_name(type)), "%s: type name %s", name, t->type_name);
    char rp[256];
    snprintf(rp, sizeof rp, DATA "ref/%s.npy", refname);
    float *ref = NULL;
    int nd = 0;
    int64_t sh[8];
    mt_err e = {0};
    int rc = mt_npy_read_f32(rp, &ref, &nd, sh, &e);
    CHECK(rc == MT_OK, "read %s: %s", rp, e.msg);
    if (rc) return;
    CHECK(nd == ndim, "%s: reference has %d dims", name, nd);
    float *d = malloc((size_t)numel * sizeof *d);
    rc = mt_gguf_to_f32(t, d, &e);
    CHECK(rc == MT_OK, "%s: to_f32: %s", name, e.msg);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < numel && !rc; i++)
        if (!same_bits(d[i], ref[i])) {
            if (first < 0) first = i;
            bad++;
        }
    CHECK(bad == 0, "%s (%s): %lld of %lld values differ from gguf-py, first at %lld: %.9g vs %.9g", name,
          t->type_name, (long long)bad, (long long)numel, (long long)first, first >= 0 ? d[first] : 0,
          first >= 0 ? ref[first] : 0);
    /* rows: the last row alone */
    int64_t rows = numel / t->dims[0], len = t->dims[0];
    float *r = malloc((size_t)len * sizeof *r);
    rc = mt_gguf_rows_to_f32(t, rows - 1, 1, r, &e);
    CHECK(rc == MT_OK && !memcmp(r, ref + (rows - 1) * len, (size_t)len * 4), "%s: last row alone: %s", name, e.msg);
    rc = mt_gguf_rows_to_f32(t, rows - 1, 2, r, &e);
    CHECK(rc == MT_EINVAL && strstr(e.msg, name) && strstr(e.msg, "rows"), "%s: rows past the end: %s", name, e.msg);
    rc = mt_gguf_rows_to_f32(t, -1, 1, r, &e);
    CHECK(rc == MT_EINVAL, "%s: negative row", name);
    free(r);
    free(d);
    free(ref);
}

/* ------------------------------------------------------------- fixtures */

static void test_types_file(void) {
    const char *p = DATA "types.gguf";
    mt_gguf *g = NULL;
    mt_err e = {0};
    int rc = mt_gguf_open(p, &g, &e);
    CHECK(rc == MT_OK, "open %s: %s", p, e.msg);
    if (rc) return;
    CHECK(mt_gguf_version(g) == 3, "version %u", mt_gguf_version(g));
    CHECK(mt_gguf_alignment(g) == 32, "default alignment %u", mt_gguf_alignment(g));
    CHECK(mt_gguf_data_offset(g) % 32 == 0, "data section aligned");
    CHECK(!strcmp(mt_gguf_path(g), p), "path");

    /* metadata: every scalar type */
    const char *s = NULL;
    uint64_t len = 0;
    CHECK(mt_gguf_get_str(g, "general.architecture", &s, &len, &e) == MT_OK && !strcmp(s, "testarch") && len == 8,
          "architecture: %s", e.msg);
    const mt_gguf_kv *kv = mt_gguf_find_kv(g, "test.u8");
    CHECK(kv && kv->v.type == MT_GGUF_U8 && kv->v.u == 200, "u8");
    kv = mt_gguf_find_kv(g, "test.i8");
    CHECK(kv && kv->v.type == MT_GGUF_I8 && kv->v.i == -100, "i8");
    kv = mt_gguf_find_kv(g, "test.u16");
    CHECK(kv && kv->v.type == MT_GGUF_U16 && kv->v.u == 60000, "u16");
    kv = mt_gguf_find_kv(g, "test.i16");
    CHECK(kv && kv->v.type == MT_GGUF_I16 && kv->v.i == -30000, "i16");
    kv = mt_gguf_find_kv(g, "test.u32");
    CHECK(kv && kv->v.type == MT_GGUF_U32 && kv->v.u == 4000000000u, "u32");
    kv = mt_gguf_find_kv(g, "test.i32");
    CHECK(kv && kv->v.type == MT_GGUF_I32 && kv->v.i == -2000000000, "i32");
    kv = mt_gguf_find_kv(g, "test.f32");
    CHECK(kv && kv->v.type == MT_GGUF_F32 && kv->v.f == 0.15625, "f32");
    kv = mt_gguf_find_kv(g, "test.bool");
    CHECK(kv && kv->v.type == MT_GGUF_BOOL && kv->v.u == 1, "bool");
    kv = mt_gguf_find_kv(g, "test.string");
    CHECK(kv && kv->v.type == MT_GGUF_STRING && !strcmp(kv->v.cstr, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93") &&
          kv->v.str.len == 17, "string");
    kv = mt_gguf_find_kv(g, "test.u64");
    CHECK(kv && kv->v.type == MT_GGUF_U64 && kv->v.u == 9223372036854775813ULL, "u64");
    kv = mt_gguf_find_kv(g, "test.i64");
    CHECK(kv && kv->v.type == MT_GGUF_I64 && kv->v.i == -4611686018427387904LL, "i64");
    kv = mt_gguf_find_kv(g, "test.f64");
    CHECK(kv && kv->v.type == MT_GGUF_F64 && kv->v.f == 3.141592653589793, "f64");
    CHECK(mt_gguf_find_kv(g, "test.absent") == NULL, "absent key");

    /* typed getters */
    uint32_t u32 = 0;
    int32_t i32 = 0;
    uint64_t u64 = 0;
    float f = 0;
    int b = -1;
    CHECK(mt_gguf_get_u32(g, "test.u32", &u32, &e) == MT_OK && u32 == 4000000000u, "get_u32");
    CHECK(mt_gguf_get_u32(g, "test.u8", &u32, &e) == MT_OK && u32 == 200, "get_u32 from u8");
    CHECK(mt_gguf_get_u32(g, "test.small_u64_as_u32", &u32, &e) == MT_OK && u32 == 7, "get_u32");
    CHECK(mt_gguf_get_i32(g, "test.i16", &i32, &e) == MT_OK && i32 == -30000, "get_i32 from i16");
    CHECK(mt_gguf_get_u64(g, "test.u64", &u64, &e) == MT_OK && u64 == 9223372036854775813ULL, "get_u64");
    CHECK(mt_gguf_get_f32(g, "test.f32", &f, &e) == MT_OK && f == 0.15625f, "get_f32");
    CHECK(mt_gguf_get_f32(g, "test.f64", &f, &e) == MT_OK && f == 3.14159265f, "get_f32 from f64");
    CHECK(mt_gguf_get_bool(g, "test.bool", &b, &e) == MT_OK && b == 1, "get_bool");
    CHECK(mt_gguf_get_bool(g, "test.bool_false", &b, &e) == MT_OK && b == 0, "get_bool false");
    CHECK(mt_gguf_get_str(g, "test.empty_string", &s, &len, &e) == MT_OK && s && !s[0] && len == 0, "empty string");
    rc = mt_gguf_get_u32(g, "test.i32", &u32, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, p) && strstr(e.msg, "'test.i32'") && strstr(e.msg, "UINT32"),
          "negative into u32: %s", e.msg);
    rc = mt_gguf_get_u32(g, "test.u64", &u32, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'test.u64'") && strstr(e.msg, "does not fit"), "u64 into u32: %s",
          e.msg);
    rc = mt_gguf_get_i32(g, "test.u32", &i32, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'test.u32'"), "4e9 into i32: %s", e.msg);
    rc = mt_gguf_get_u64(g, "test.i64", &u64, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'test.i64'"), "negative into u64: %s", e.msg);
    rc = mt_gguf_get_u32(g, "test.string", &u32, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'test.string'") && strstr(e.msg, "STRING") && strstr(e.msg, "UINT32"),
          "string as u32: %s", e.msg);
    rc = mt_gguf_get_u32(g, "test.f32", &u32, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "FLOAT32"), "f32 as u32: %s", e.msg);
    rc = mt_gguf_get_f32(g, "test.u32", &f, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'test.u32'"), "u32 as f32: %s", e.msg);
    rc = mt_gguf_get_bool(g, "test.u8", &b, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "BOOL"), "u8 as bool: %s", e.msg);
    rc = mt_gguf_get_str(g, "test.arr_str", &s, &len, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "ARRAY of STRING"), "array as string: %s", e.msg);
    rc = mt_gguf_get_u32(g, "test.absent", &u32, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, p) && strstr(e.msg, "'test.absent' is missing"), "missing: %s", e.msg);

    /* arrays of every scalar type */
    static const struct {
        const char *key;
        mt_gguf_vtype elem;
        int n;
        double v[3];
    } arrs[] = {
        {"test.arr_u8", MT_GGUF_U8, 3, {1, 2, 255}},
        {"test.arr_i8", MT_GGUF_I8, 3, {-128, 0, 127}},
        {"test.arr_u16", MT_GGUF_U16, 2, {0, 65535}},
        {"test.arr_i16", MT_GGUF_I16, 2, {-32768, 5}},
        {"test.arr_u32", MT_GGUF_U32, 2, {4000000000.0, 1}},
        {"test.arr_i32", MT_GGUF_I32, 3, {-1, 0, 2147483647}},
        {"test.arr_f32", MT_GGUF_F32, 3, {0.5, -1.25, (double)1e30f}},
        {"test.arr_bool", MT_GGUF_BOOL, 3, {1, 0, 1}},
        {"test.arr_u64", MT_GGUF_U64, 2, {18446744073709551615.0, 3}},
        {"test.arr_i64", MT_GGUF_I64, 2, {-9223372036854775808.0, 9}},
        {"test.arr_f64", MT_GGUF_F64, 2, {1e300, -0.5}},
    };
    for (size_t k = 0; k < sizeof arrs / sizeof arrs[0]; k++) {
        kv = mt_gguf_find_kv(g, arrs[k].key);
        int ok = kv && kv->v.type == MT_GGUF_ARRAY && kv->v.elem == arrs[k].elem && kv->v.n == (uint64_t)arrs[k].n;
        for (int j = 0; ok && j < arrs[k].n; j++) ok = mt_gguf_arr_num(&kv->v, (uint64_t)j) == arrs[k].v[j];
        CHECK(ok, "array %s", arrs[k].key);
    }
    const mt_gguf_str *strs = NULL;
    uint64_t n = 0;
    rc = mt_gguf_get_arr_str(g, "test.arr_str", &strs, &n, &e);
    CHECK(rc == MT_OK && n == 3 && strs[0].len == 1 && !memcmp(strs[0].s, "a", 1) && strs[1].len == 0 &&
          strs[2].len == 5 && !memcmp(strs[2].s, "\xc3\xbcn\xc3\xaf", 5), "arr_str: %s", e.msg);
    float *fa = NULL;
    rc = mt_gguf_get_arr_f32(g, "test.arr_f32", &fa, &n, &e);
    CHECK(rc == MT_OK && n == 3 && fa[0] == 0.5f && fa[1] == -1.25f && fa[2] == 1e30f, "arr_f32: %s", e.msg);
    free(fa);
    rc = mt_gguf_get_arr_f32(g, "test.arr_f64", &fa, &n, &e);
    CHECK(rc == MT_OK && n == 2 && fa[1] == -0.5f, "arr_f32 from f64: %s", e.msg);
    free(fa);
    int32_t *ia = NULL;
    rc = mt_gguf_get_arr_i32(g, "test.arr_i32", &ia, &n, &e);
    CHECK(rc == MT_OK && n == 3 && ia[0] == -1 && ia[2] == 2147483647, "arr_i32: %s", e.msg);
    free(ia);
    rc = mt_gguf_get_arr_i32(g, "test.arr_u8", &ia, &n, &e);
    CHECK(rc == MT_OK && n == 3 && ia[2] == 255, "arr_i32 from u8: %s", e.msg);
    free(ia);
    rc = mt_gguf_get_arr_i32(g, "test.arr_u32", &ia, &n, &e);
    CHECK(rc == MT_EFORMAT && ia == NULL && strstr(e.msg, "'test.arr_u32'") && strstr(e.msg, "item 0"),
          "4e9 in arr_i32: %s", e.msg);
    rc = mt_gguf_get_arr_i32(g, "test.arr_str", &ia, &n, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "ARRAY of STRING"), "arr_i32 of strings: %s", e.msg);
    rc = mt_gguf_get_arr_f32(g, "test.arr_i32", &fa, &n, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'test.arr_i32'") && strstr(e.msg, "INT32"), "arr_f32 of ints: %s",
          e.msg);
    rc = mt_gguf_get_arr_str(g, "test.u8", &strs, &n, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "UINT8"), "arr_str of scalar: %s", e.msg);
    rc = mt_gguf_get_arr_str(g, "test.absent", &strs, &n, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "missing"), "arr missing: %s", e.msg);

    /* nested arrays */
    kv = mt_gguf_find_kv(g, "test.nested");
    int ok = kv && kv->v.type == MT_GGUF_ARRAY && kv->v.elem == MT_GGUF_ARRAY && kv->v.n == 3;
    if (ok) {
        const mt_gguf_value *it = kv->v.items;
        ok = it[0].elem == MT_GGUF_I32 && it[0].n == 3 && mt_gguf_arr_num(&it[0], 2) == 3 && it[1].n == 1 &&
             mt_gguf_arr_num(&it[1], 0) == 4 && it[2].n == 2 && mt_gguf_arr_num(&it[2], 1) == 6;
    }
    CHECK(ok, "nested array of INT32");
    kv = mt_gguf_find_kv(g, "test.nested_str");
    ok = kv && kv->v.elem == MT_GGUF_ARRAY && kv->v.n == 2 && kv->v.items[0].elem == MT_GGUF_STRING &&
         kv->v.items[0].n == 2 && kv->v.items[0].strs[1].len == 1 && kv->v.items[0].strs[1].s[0] == 'y' &&
         kv->v.items[1].strs[0].s[0] == 'z';
    CHECK(ok, "nested array of STRING");
    kv = mt_gguf_find_kv(g, "test.nested2");
    ok = kv && kv->v.n == 2 && kv->v.items[0].elem == MT_GGUF_ARRAY && kv->v.items[0].n == 2 &&
         kv->v.items[0].items[1].n == 2 && mt_gguf_arr_num(&kv->v.items[0].items[1], 1) == 3 &&
         mt_gguf_arr_num(&kv->v.items[1].items[0], 0) == 4;
    CHECK(ok, "array nested three deep");
    int seen = 0;
    for (int i = 0; i < mt_gguf_kv_count(g); i++) seen += mt_gguf_kv_at(g, i) != NULL;
    CHECK(seen == mt_gguf_kv_count(g) && mt_gguf_kv_at(g, seen) == NULL && mt_gguf_kv_at(g, -1) == NULL,
          "kv iteration");
    CHECK(!strcmp(mt_gguf_kv_at(g, 0)->key, "general.architecture"), "kv file order");

    /* tensors: every supported type against gguf-py */
    static const struct {
        const char *name;
        int type, ndim;
        int64_t shape[4];
    } ts[] = {
        {"f32_3d", MT_GGML_F32, 3, {2, 3, 4}},   {"f32_4d", MT_GGML_F32, 4, {1, 2, 1, 3}},
        {"f16", MT_GGML_F16, 2, {4, 40}},        {"bf16", MT_GGML_BF16, 2, {3, 16}},
        {"q8_0", MT_GGML_Q8_0, 2, {3, 64}},      {"q4_0", MT_GGML_Q4_0, 2, {3, 64}},
        {"q4_1", MT_GGML_Q4_1, 2, {3, 64}},      {"q5_0", MT_GGML_Q5_0, 2, {3, 64}},
        {"q5_1", MT_GGML_Q5_1, 2, {3, 64}},      {"q4_k", MT_GGML_Q4_K, 2, {2, 512}},
        {"q5_k", MT_GGML_Q5_K, 2, {2, 512}},     {"q6_k", MT_GGML_Q6_K, 2, {2, 512}},
        {"q8_0_sin", MT_GGML_Q8_0, 2, {3, 64}},
    };
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++)
        check_tensor(g, ts[k].name, ts[k].name, ts[k].type, ts[k].ndim, ts[k].shape);
    CHECK(mt_gguf_tensor_count(g) == 14, "tensor count %d", mt_gguf_tensor_count(g));
    const mt_gguf_tensor *t = mt_gguf_tensor_at(g, 0);
    CHECK(t && !strcmp(t->name, "f32_3d") && t->dims[0] == 4 && t->dims[2] == 2 && t->dims[3] == 1 &&
          t->shape[3] == 0, "tensor order and unused dims");
    CHECK(mt_gguf_tensor_at(g, 14) == NULL && mt_gguf_find_tensor(g, "nope") == NULL, "absent tensor");
    for (int i = 0; i < mt_gguf_tensor_count(g); i++) {
        t = mt_gguf_tensor_at(g, i);
        CHECK(t->offset % 32 == 0 && (const unsigned char *)t->data >= (const unsigned char *)0 &&
              !strcmp(t->file, p), "tensor %s offset aligned", t->name);
    }
    t = mt_gguf_find_tensor(g, "q4_k");
    CHECK(t && t->nbytes == 4 * 144 && !strcmp(t->type_name, "Q4_K"), "Q4_K nbytes");
    t = mt_gguf_find_tensor(g, "q2_k");
    CHECK(t && t->type == 10 && !strcmp(t->type_name, "Q2_K") && t->nbytes == 84 && !mt_gguf_type_supported(10),
          "Q2_K is known");
    float tmp[256];
    rc = mt_gguf_to_f32(t, tmp, &e);
    CHECK(rc == MT_EUNSUPPORTED && strstr(e.msg, p) && strstr(e.msg, "'q2_k'") && strstr(e.msg, "Q2_K"),
          "Q2_K not convertible: %s", e.msg);
    mt_gguf_close(g);
}

static void test_small_versions(void) {
    static const char *files[] = {DATA "small_v2.gguf", DATA "small_v3.gguf"};
    for (int v = 0; v < 2; v++) {
        mt_gguf *g = NULL;
        mt_err e = {0};
        int rc = mt_gguf_open(files[v], &g, &e);
        CHECK(rc == MT_OK, "open %s: %s", files[v], e.msg);
        if (rc) continue;
        CHECK(mt_gguf_version(g) == (uint32_t)(2 + v), "%s: version %u", files[v], mt_gguf_version(g));
        uint32_t ans = 0;
        const char *s = NULL;
        CHECK(mt_gguf_get_u32(g, "small.answer", &ans, &e) == MT_OK && ans == 42, "%s: answer", files[v]);
        CHECK(mt_gguf_get_str(g, "small.name", &s, NULL, &e) == MT_OK && !strcmp(s, "v2 and v3 share a layout"),
              "%s: name", files[v]);
        const mt_gguf_str *w = NULL;
        uint64_t n = 0;
        CHECK(mt_gguf_get_arr_str(g, "small.words", &w, &n, &e) == MT_OK && n == 2 && w[1].len == 3 &&
              !memcmp(w[1].s, "two", 3), "%s: words", files[v]);
        check_tensor(g, "x", "small_x", MT_GGML_F32, 2, (const int64_t[]){2, 4});
        check_tensor(g, "q", "small_q", MT_GGML_Q8_0, 2, (const int64_t[]){2, 32});
        mt_gguf_close(g);
    }
}

static void test_align64(void) {
    const char *p = DATA "align64.gguf";
    mt_gguf *g = NULL;
    mt_err e = {0};
    int rc = mt_gguf_open(p, &g, &e);
    CHECK(rc == MT_OK, "open %s: %s", p, e.msg);
    if (rc) return;
    CHECK(mt_gguf_alignment(g) == 64 && mt_gguf_data_offset(g) % 64 == 0, "alignment 64");
    int ok = mt_gguf_tensor_count(g) == 3;
    for (int i = 0; ok && i < 3; i++) {
        const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
        float v[5];
        ok = t->offset == (uint64_t)(64 * i) && mt_gguf_to_f32(t, v, &e) == MT_OK && v[0] == i + 0.5f && v[4] == i + 0.5f;
    }
    CHECK(ok, "tensors at multiples of 64");
    mt_gguf_close(g);
}

/* ------------------------------------------------------------- bad input */

static void test_bad(void) {
    buf b = {0};
    const uint64_t d32[] = {32}, d4[] = {4, 2};

    EXPECT_FAIL(b_write(&b, "empty.gguf"), MT_EFORMAT, "magic");
    b_bytes(&b, "GGU", 3);
    EXPECT_FAIL(b_write(&b, "short.gguf"), MT_EFORMAT, "magic");
    b_bytes(&b, "GGUX", 4);
    b_u32(&b, 3);
    b_u64(&b, 0);
    b_u64(&b, 0);
    EXPECT_FAIL(b_write(&b, "magic.gguf"), MT_EFORMAT, "magic");
    b_bytes(&b, "{\"a\"", 4);
    EXPECT_FAIL(b_write(&b, "json.gguf"), MT_EFORMAT, "magic");
    b_header(&b, 1, 0, 0);
    EXPECT_FAIL(b_write(&b, "v1.gguf"), MT_EUNSUPPORTED, "version 1");
    b_header(&b, 4, 0, 0);
    EXPECT_FAIL(b_write(&b, "v4.gguf"), MT_EUNSUPPORTED, "version");
    b_header(&b, 0x03000000u, 0, 0);
    EXPECT_FAIL(b_write(&b, "bigendian.gguf"), MT_EUNSUPPORTED, "big-endian");
    b_bytes(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u32(&b, 0);
    EXPECT_FAIL(b_write(&b, "cut_count.gguf"), MT_EFORMAT, "tensor_count");

    /* a minimal valid file, to be sure the builder is right */
    b_header(&b, 3, 1, 1);
    b_kv_str(&b, "general.architecture", "x");
    b_ti(&b, "w", 1, d32, MT_GGML_F32, 0);
    b_pad(&b, 32);
    b_zeros(&b, 128);
    const char *p = b_write(&b, "ok.gguf");
    mt_gguf *g = NULL;
    mt_err e = {0};
    CHECK(mt_gguf_open(p, &g, &e) == MT_OK, "minimal file: %s", e.msg);
    mt_gguf_close(g);

    /* an empty file of metadata only, no data section and no padding */
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "a", 1);
    p = b_write(&b, "no_tensors.gguf");
    g = NULL;
    CHECK(mt_gguf_open(p, &g, &e) == MT_OK && mt_gguf_tensor_count(g) == 0, "no tensors: %s", e.msg);
    mt_gguf_close(g);

    /* an empty array and a 0-dim tensor are valid */
    b_header(&b, 3, 1, 1);
    b_str(&b, "empty");
    b_u32(&b, MT_GGUF_ARRAY);
    b_u32(&b, MT_GGUF_F32);
    b_u64(&b, 0);
    b_ti(&b, "scalar", 0, NULL, MT_GGML_F32, 0);
    b_pad(&b, 32);
    float one = 1.5f;
    b_bytes(&b, &one, 4);
    p = b_write(&b, "edge_ok.gguf");
    g = NULL;
    CHECK(mt_gguf_open(p, &g, &e) == MT_OK, "empty array, 0-dim tensor: %s", e.msg);
    if (g) {
        float *fa = (float *)1;
        uint64_t n = 9;
        CHECK(mt_gguf_get_arr_f32(g, "empty", &fa, &n, &e) == MT_OK && n == 0 && fa == NULL, "empty array");
        const mt_gguf_tensor *t = mt_gguf_find_tensor(g, "scalar");
        float v = 0;
        CHECK(t && t->ndim == 0 && t->numel == 1 && mt_gguf_to_f32(t, &v, &e) == MT_OK && v == 1.5f, "0-dim tensor");
        mt_gguf_close(g);
    }

    /* counts that lie */
    b_header(&b, 3, 1ULL << 40, 0);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "lying_tensor_count.gguf"), MT_EFORMAT, "tensor_count");
    b_header(&b, 3, 0, 1ULL << 61);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "lying_kv_count.gguf"), MT_EFORMAT, "metadata_kv_count");
    b_header(&b, 3, 3, 0); /* promises 3 tensors, holds 1 */
    b_ti(&b, "w", 1, d32, MT_GGML_F32, 0);
    b_zeros(&b, 80);
    EXPECT_FAIL(b_write(&b, "missing_tensor_info.gguf"), MT_EFORMAT, "tensor info 1");
    b_header(&b, 3, 0, 2); /* promises 2 pairs, holds 1 */
    b_kv_u32(&b, "a", 1);
    b_zeros(&b, 13);
    EXPECT_FAIL(b_write(&b, "missing_pair.gguf"), MT_EFORMAT, "metadata pair 1");

    /* lengths that lie */
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.name");
    b_u32(&b, MT_GGUF_STRING);
    b_u64(&b, 1ULL << 62);
    b_bytes(&b, "abc", 3);
    EXPECT_FAIL(b_write(&b, "lying_string.gguf"), MT_EFORMAT, "'general.name'");
    b_header(&b, 3, 0, 1);
    b_u64(&b, 0xffffffffffffff00ULL);
    b_bytes(&b, "key", 3);
    b_zeros(&b, 20);
    EXPECT_FAIL(b_write(&b, "lying_key.gguf"), MT_EFORMAT, "metadata pair 0");
    b_header(&b, 3, 1, 0);
    b_u64(&b, 1ULL << 40);
    b_bytes(&b, "w", 1);
    b_zeros(&b, 40);
    EXPECT_FAIL(b_write(&b, "lying_name.gguf"), MT_EFORMAT, "tensor info 0");
    b_header(&b, 3, 0, 1);
    b_str(&b, "tokenizer.ggml.scores");
    b_u32(&b, MT_GGUF_ARRAY);
    b_u32(&b, MT_GGUF_F32);
    b_u64(&b, 1ULL << 50);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "lying_array.gguf"), MT_EFORMAT, "'tokenizer.ggml.scores'");
    b_header(&b, 3, 0, 1);
    b_str(&b, "tokenizer.ggml.tokens");
    b_u32(&b, MT_GGUF_ARRAY);
    b_u32(&b, MT_GGUF_STRING);
    b_u64(&b, 1ULL << 60);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "lying_str_array.gguf"), MT_EFORMAT, "array count");
    b_header(&b, 3, 0, 1);
    b_str(&b, "tokenizer.ggml.tokens");
    b_u32(&b, MT_GGUF_ARRAY);
    b_u32(&b, MT_GGUF_STRING);
    b_u64(&b, 2);
    b_str(&b, "ok");
    b_u64(&b, 1000);
    b_bytes(&b, "short", 5);
    EXPECT_FAIL(b_write(&b, "lying_item.gguf"), MT_EFORMAT, "item 1");

    /* values */
    b_header(&b, 3, 0, 1);
    b_str(&b, "odd.type");
    b_u32(&b, 13);
    b_u32(&b, 0);
    EXPECT_FAIL(b_write(&b, "value_type.gguf"), MT_EFORMAT, "'odd.type'");
    b_header(&b, 3, 0, 1);
    b_str(&b, "odd.array");
    b_u32(&b, MT_GGUF_ARRAY);
    b_u32(&b, 77);
    b_u64(&b, 1);
    b_zeros(&b, 8);
    EXPECT_FAIL(b_write(&b, "array_type.gguf"), MT_EFORMAT, "unknown value type 77");
    b_header(&b, 3, 0, 1);
    b_str(&b, "odd.bool");
    b_u32(&b, MT_GGUF_BOOL);
    b_u8(&b, 2);
    EXPECT_FAIL(b_write(&b, "bool.gguf"), MT_EFORMAT, "'odd.bool'");
    b_header(&b, 3, 0, 1);
    b_str(&b, "deep");
    b_u32(&b, MT_GGUF_ARRAY);
    for (int k = 0; k < 9; k++) {
        b_u32(&b, MT_GGUF_ARRAY);
        b_u64(&b, 1);
    }
    b_u32(&b, MT_GGUF_U8);
    b_u64(&b, 0);
    EXPECT_FAIL(b_write(&b, "deep.gguf"), MT_EUNSUPPORTED, "'deep'");
    b_header(&b, 3, 0, 2);
    b_kv_u32(&b, "dup.key", 1);
    b_kv_u32(&b, "dup.key", 2);
    EXPECT_FAIL(b_write(&b, "dup_key.gguf"), MT_EFORMAT, "'dup.key' appears twice");
    b_header(&b, 3, 0, 1);
    b_str(&b, "");
    b_u32(&b, MT_GGUF_U8);
    b_u8(&b, 1);
    b_zeros(&b, 8);
    EXPECT_FAIL(b_write(&b, "empty_key.gguf"), MT_EFORMAT, "metadata pair 0");
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "bad\nkey", 1);
    EXPECT_FAIL(b_write(&b, "ctrl_key.gguf"), MT_EFORMAT, "control character");

    /* alignment */
    b_header(&b, 3, 1, 1);
    b_kv_u32(&b, "general.alignment", 48);
    b_ti(&b, "w", 1, d32, MT_GGML_F32, 0);
    b_pad(&b, 16);
    b_zeros(&b, 128);
    EXPECT_FAIL(b_write(&b, "align48.gguf"), MT_EFORMAT, "'general.alignment' = 48 is not a power of 2");
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "general.alignment", 0);
    EXPECT_FAIL(b_write(&b, "align0.gguf"), MT_EFORMAT, "'general.alignment'");
    b_header(&b, 3, 0, 1);
    b_kv_str(&b, "general.alignment", "32");
    EXPECT_FAIL(b_write(&b, "align_str.gguf"), MT_EFORMAT, "'general.alignment' has type STRING");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "misaligned", 1, d32, MT_GGML_F32, 16);
    b_pad(&b, 32);
    b_zeros(&b, 256);
    EXPECT_FAIL(b_write(&b, "misaligned.gguf"), MT_EFORMAT, "'misaligned': field 'offset' = 16 is not a multiple");
    b_header(&b, 3, 1, 1);
    b_kv_u32(&b, "general.alignment", 64);
    b_ti(&b, "w", 1, d32, MT_GGML_F32, 32);
    b_pad(&b, 64);
    b_zeros(&b, 256);
    EXPECT_FAIL(b_write(&b, "misaligned64.gguf"), MT_EFORMAT, "general.alignment = 64");

    /* tensor infos */
    b_header(&b, 3, 1, 0);
    b_ti(&b, "blk.0.ffn_up.weight", 2, d4, 99, 0);
    b_pad(&b, 32);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "type99.gguf"), MT_EUNSUPPORTED, "'blk.0.ffn_up.weight': field 'type' = 99");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "old", 1, d32, 4, 0); /* Q4_2, removed from ggml */
    b_pad(&b, 32);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "type4.gguf"), MT_EUNSUPPORTED, "'type' = 4");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "five", 5, (const uint64_t[]){1, 1, 1, 1, 1}, MT_GGML_F32, 0);
    b_pad(&b, 32);
    b_zeros(&b, 64);
    EXPECT_FAIL(b_write(&b, "ndims5.gguf"), MT_EFORMAT, "'five': field 'n_dims' = 5");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "k", 2, (const uint64_t[]){100, 2}, MT_GGML_Q4_K, 0);
    b_pad(&b, 32);
    b_zeros(&b, 512);
    EXPECT_FAIL(b_write(&b, "blocksize.gguf"), MT_EFORMAT, "'dims[0]' = 100 is not a multiple of the Q4_K block");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "huge", 3, (const uint64_t[]){1ULL << 31, 1ULL << 31, 1ULL << 31}, MT_GGML_F32, 0);
    b_pad(&b, 32);
    EXPECT_FAIL(b_write(&b, "overflow.gguf"), MT_EFORMAT, "'huge'");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "neg", 1, (const uint64_t[]){1ULL << 63}, MT_GGML_F32, 0);
    b_pad(&b, 32);
    EXPECT_FAIL(b_write(&b, "negative_dim.gguf"), MT_EFORMAT, "'dims[0]'");
    b_header(&b, 3, 2, 0);
    b_ti(&b, "same", 1, d32, MT_GGML_F32, 0);
    b_ti(&b, "same", 1, d32, MT_GGML_F32, 128);
    b_pad(&b, 32);
    b_zeros(&b, 256);
    EXPECT_FAIL(b_write(&b, "dup_tensor.gguf"), MT_EFORMAT, "'same': name appears twice");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "tab\tname", 1, d32, MT_GGML_F32, 0);
    b_pad(&b, 32);
    b_zeros(&b, 128);
    EXPECT_FAIL(b_write(&b, "ctrl_name.gguf"), MT_EFORMAT, "tensor info 0");
    b_header(&b, 3, 2, 0);
    b_ti(&b, "a", 1, d32, MT_GGML_F32, 0);
    b_ti(&b, "b", 1, d32, MT_GGML_F32, 96); /* a spans [0, 128) */
    b_pad(&b, 32);
    b_zeros(&b, 256);
    EXPECT_FAIL(b_write(&b, "overlap.gguf"), MT_EFORMAT, "overlaps tensor 'a'");

    /* data past the end */
    b_header(&b, 3, 2, 0);
    b_ti(&b, "first", 1, d32, MT_GGML_F32, 0);
    b_ti(&b, "token_embd.weight", 2, (const uint64_t[]){64, 4}, MT_GGML_Q8_0, 128);
    b_pad(&b, 32);
    b_zeros(&b, 128 + 4 * 2 * 34 - 1);
    EXPECT_FAIL(b_write(&b, "past_end.gguf"), MT_EFORMAT, "'token_embd.weight': field 'offset': data [128, 400)");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "far", 1, d32, MT_GGML_F32, 1ULL << 62);
    b_pad(&b, 32);
    b_zeros(&b, 128);
    EXPECT_FAIL(b_write(&b, "far_offset.gguf"), MT_EFORMAT, "'far'");
    b_header(&b, 3, 1, 0);
    b_ti(&b, "nodata", 1, d32, MT_GGML_F32, 0); /* the file ends right after the infos */
    EXPECT_FAIL(b_write(&b, "no_data.gguf"), MT_EFORMAT, "runs past the end");
    free(b.p);

    /* I/O errors */
    EXPECT_FAIL(tpath("absent.gguf"), MT_EIO, "cannot open");
    EXPECT_FAIL(g_dir, MT_EIO, "not a regular file");
}

/* Every prefix of a valid file fails cleanly, except those that still hold all tensor data. */
static void test_truncated(void) {
    size_t n = 0;
    unsigned char *d = slurp(DATA "small_v3.gguf", &n);
    CHECK(d && n > 64, "read small_v3.gguf");
    if (!d) return;
    mt_gguf *g = NULL;
    mt_err e = {0};
    size_t need = 0;
    if (mt_gguf_open(DATA "small_v3.gguf", &g, &e) == MT_OK) {
        for (int i = 0; i < mt_gguf_tensor_count(g); i++) {
            const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
            size_t end = (size_t)(mt_gguf_data_offset(g) + t->offset + t->nbytes);
            if (end > need) need = end;
        }
        mt_gguf_close(g);
    }
    const char *p = tpath("prefix.gguf");
    int bad = 0, trunc_msgs = 0;
    for (size_t len = 0; len < n; len++) {
        write_raw(p, d, len);
        g = NULL;
        e.msg[0] = 0;
        int rc = mt_gguf_open(p, &g, &e);
        if (len >= need) {
            if (rc != MT_OK) {
                bad++;
                printf("  prefix %zu of %zu should open: %s\n", len, n, e.msg);
            }
        } else if (rc != MT_EFORMAT || g || !strstr(e.msg, p) || !one_line(e.msg)) {
            bad++;
            printf("  prefix %zu: rc %d: %s\n", len, rc, e.msg);
        } else if (strstr(e.msg, "truncated") || strstr(e.msg, "past the end") || strstr(e.msg, "too short") ||
                   strstr(e.msg, "empty") || strstr(e.msg, "cannot fit")) {
            trunc_msgs++;
        } else if (getenv("MT_TEST_VERBOSE")) {
            printf("  prefix %zu: %s\n", len, e.msg);
        }
        mt_gguf_close(g);
    }
    CHECK(bad == 0, "%d of %zu prefixes misbehaved", bad, n);
    CHECK(trunc_msgs == (int)need, "%d of %zu failing prefixes say the file is truncated", trunc_msgs, need);
    free(d);
}

/* Random byte mutations of the header of types.gguf: open either succeeds (and every tensor
 * converts) or fails with a one-line message; nothing crashes (the sanitizer build checks
 * the reads). */
static void test_mutations(void) {
    size_t n = 0;
    unsigned char *d = slurp(DATA "types.gguf", &n);
    if (!d) {
        CHECK(0, "read types.gguf");
        return;
    }
    mt_gguf *g = NULL;
    mt_err e = {0};
    size_t hdr = 0;
    if (mt_gguf_open(DATA "types.gguf", &g, &e) == MT_OK) {
        hdr = (size_t)mt_gguf_data_offset(g);
        mt_gguf_close(g);
    }
    CHECK(hdr > 0 && hdr < n, "header size");
    unsigned char *m = malloc(n);
    const char *p = tpath("mutant.gguf");
    uint64_t s = 88172645463325252ULL;
    int bad = 0, opened = 0, iters = 1500;
    float *buf = malloc(4096 * sizeof *buf);
    for (int it = 0; it < iters; it++) {
        memcpy(m, d, n);
        int k = 1 + it % 4;
        for (int j = 0; j < k; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            size_t pos = (size_t)(s % hdr);
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            m[pos] = (it & 1) ? (unsigned char)s : m[pos] ^ (unsigned char)(1u << (s % 8));
        }
        write_raw(p, m, n);
        g = NULL;
        e.msg[0] = 0;
        int rc = mt_gguf_open(p, &g, &e);
        if (rc == MT_OK) {
            opened++;
            for (int i = 0; i < mt_gguf_tensor_count(g); i++) {
                const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
                if (t->numel <= 4096 && mt_gguf_type_supported(t->type)) mt_gguf_to_f32(t, buf, &e);
            }
            mt_gguf_close(g);
        } else if (g || !strstr(e.msg, p) || !one_line(e.msg)) {
            bad++;
        }
    }
    CHECK(bad == 0, "%d of %d mutants failed without a proper message", bad, iters);
    if (getenv("MT_TEST_VERBOSE")) printf("  mutations: %d of %d still opened\n", opened, iters);
    free(buf);
    free(m);
    free(d);
}

/* --------------------------------------------------------- the real model */

static void test_real_model(void) {
    const char *dir = getenv("MATRICE_CACHE");
    char p[1024];
    snprintf(p, sizeof p, "%s/gemma-3-270m-q4_k_m.gguf", dir && *dir ? dir : "cache/models");
    if (access(p, R_OK) != 0) {
        printf("skip: %s not fetched (tools/fetch_model.sh); real-model checks not run\n", p);
        return;
    }
    mt_gguf *g = NULL;
    mt_err e = {0};
    int rc = mt_gguf_open(p, &g, &e);
    CHECK(rc == MT_OK, "open %s: %s", p, e.msg);
    if (rc) return;
    const char *arch = NULL;
    uint32_t nl = 0, emb = 0;
    CHECK(mt_gguf_get_str(g, "general.architecture", &arch, NULL, &e) == MT_OK && !strcmp(arch, "gemma3"), "arch");
    CHECK(mt_gguf_get_u32(g, "gemma3.block_count", &nl, &e) == MT_OK && nl == 18, "block_count");
    CHECK(mt_gguf_get_u32(g, "gemma3.embedding_length", &emb, &e) == MT_OK && emb == 640, "embedding_length");
    const mt_gguf_str *tok = NULL;
    uint64_t ntok = 0;
    CHECK(mt_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &tok, &ntok, &e) == MT_OK && ntok == 262144 &&
          tok[2].len == 5 && !memcmp(tok[2].s, "<bos>", 5), "tokens");
    CHECK(mt_gguf_tensor_count(g) == 236, "236 tensors");
    FILE *f = fopen(DATA "gemma3/rows.txt", "r");
    CHECK(f != NULL, "rows.txt");
    char line[512];
    int compared = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[128], type[16];
        int off = 0;
        if (sscanf(line, "%127s %15s %n", name, type, &off) != 2) continue;
        const mt_gguf_tensor *t = mt_gguf_find_tensor(g, name);
        CHECK(t && !strcmp(t->type_name, type), "%s is %s", name, type);
        if (!t) continue;
        char rp[256];
        snprintf(rp, sizeof rp, DATA "gemma3/%s.npy", name);
        float *ref = NULL;
        int nd;
        int64_t sh[8];
        CHECK(mt_npy_read_f32(rp, &ref, &nd, sh, &e) == MT_OK, "%s", e.msg);
        if (!ref) continue;
        float *row = malloc((size_t)t->dims[0] * sizeof *row);
        const char *q = line + off;
        int r = 0, k, used;
        long long idx;
        while (sscanf(q, "%lld%n", &idx, &used) == 1) {
            q += used;
            rc = mt_gguf_rows_to_f32(t, idx, 1, row, &e);
            int same = rc == MT_OK;
            for (k = 0; same && k < t->dims[0]; k++) same = same_bits(row[k], ref[(int64_t)r * t->dims[0] + k]);
            CHECK(same, "%s row %lld differs from gguf-py: %s", name, idx, e.msg);
            r++;
            compared++;
        }
        free(row);
        free(ref);
    }
    if (f) fclose(f);
    CHECK(compared >= 10, "compared %d real rows", compared);
    mt_gguf_close(g);
}

/* ----------------------------------------------------------------- main */


int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mt_test_gguf_XXXXXX");
    if (!mkdtemp(g_dir)) {
        CHECK(0, "mkdtemp failed");
        return mt_test_report();
    }
    test_types_file();
    test_small_versions();
    test_align64();
    test_bad();
    test_truncated();
    test_mutations();
    test_real_model();
    if (getenv("MT_TEST_KEEP"))
        printf("kept %s\n", g_dir);
    else
        mt_test_rm_rf(g_dir);
    return mt_test_report();
}
