/* I/O layer tests: JSON getters, safetensors (single, sharded, unaligned, bad inputs),
 * f16/bf16 conversion, npy round trips and bad files. Bad files are generated into a
 * mkdtemp folder; tests/data/io holds files written by the reference Python libraries
 * (safetensors 0.8 / torch, numpy) to check compatibility with real writers. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_json.h"
#include "mt_npy.h"
#include "mt_safetensors.h"
#include "mt_test.h"

static char g_dir[64];

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void write_raw(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        CHECK(0, "cannot create %s", path);
        return;
    }
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

static void write_text(const char *path, const char *s) { write_raw(path, s, strlen(s)); }

/* Writes a safetensors file: u64 LE header length, header (padded with spaces to a multiple
 * of 8 when pad), data. hlen_override (if nonzero) replaces the header length field. */
static void write_st_ex(const char *path, const char *header, const void *data, size_t dlen, int pad,
                        uint64_t hlen_override) {
    size_t hl = strlen(header), padded = pad ? (hl + 7) / 8 * 8 : hl;
    uint64_t n = hlen_override ? hlen_override : padded;
    size_t total = 8 + padded + dlen;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, ' ', padded - hl);
    if (dlen) memcpy(buf + 8 + padded, data, dlen);
    write_raw(path, buf, total);
    free(buf);
}

static void write_st(const char *path, const char *header, const void *data, size_t dlen) {
    write_st_ex(path, header, data, dlen, 1, 0);
}

static int one_line(const char *s) { return strchr(s, '\n') == NULL && s[0]; }

/* Opens path, expects failure (MT_TEST_VERBOSE=1 prints each message) with code, and a message holding file and field. */
static void expect_st_fail(const char *path, int code, const char *file, const char *field, int line) {
    mt_safetensors *st = (mt_safetensors *)1;
    mt_err e = {0};
    int rc = mt_st_open(path, &st, &e);
    if (getenv("MT_TEST_VERBOSE")) printf("  %s\n", e.msg);
    CHECK(rc == code, "line %d: %s: got %s (%d), want %d: %s", line, path, mt_status_name(rc), rc, code, e.msg);
    CHECK(st == NULL, "line %d: handle not NULL on failure", line);
    CHECK(strstr(e.msg, file) != NULL, "line %d: message does not name file '%s': %s", line, file, e.msg);
    CHECK(strstr(e.msg, field) != NULL, "line %d: message does not name '%s': %s", line, field, e.msg);
    CHECK(one_line(e.msg), "line %d: message not one line: %s", line, e.msg);
    if (rc == MT_OK) mt_st_close(st);
}
#define EXPECT_ST_FAIL(path, code, file, field) expect_st_fail(path, code, file, field, __LINE__)

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ------------------------------------------------------------------- JSON */

static void test_json(void) {
    const char *p = tpath("config.json");
    write_text(p, "{\"a\": 1, \"b\": \"x\", \"c\": 1.5, \"d\": true, \"n\": null, \"r\": 768.0, \"big\": 9007199254740993}");
    json_t *j = NULL;
    mt_err e = {0};
    CHECK(mt_json_load_file(p, &j, &e) == MT_OK, "load: %s", e.msg);
    int64_t i = -1;
    double d = -1;
    int b = -1;
    const char *s = NULL;
    CHECK(mt_json_int(j, "a", p, &i, &e) == MT_OK && i == 1, "int a");
    CHECK(mt_json_int(j, "r", p, &i, &e) == MT_OK && i == 768, "int from 768.0");
    CHECK(mt_json_int(j, "big", p, &i, &e) == MT_OK && i == 9007199254740993LL, "int64 kept exactly");
    int rc = mt_json_int(j, "zz", p, &i, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, p) && strstr(e.msg, "missing field 'zz'"), "missing: %s", e.msg);
    rc = mt_json_int(j, "b", p, &i, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, p) && strstr(e.msg, "'b'") && strstr(e.msg, "integer"), "type: %s",
          e.msg);
    rc = mt_json_int(j, "c", p, &i, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'c'"), "1.5 is not an int: %s", e.msg);
    rc = mt_json_int(j, "n", p, &i, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "'n'") && strstr(e.msg, "null"), "required null: %s", e.msg);
    i = 42;
    CHECK(mt_json_int_opt(j, "zz", p, &i, &e) == MT_OK && i == 42, "opt absent leaves value");
    CHECK(mt_json_int_opt(j, "n", p, &i, &e) == MT_OK && i == 42, "opt null counts as absent");
    CHECK(mt_json_int_opt(j, "b", p, &i, &e) == MT_EFORMAT && strstr(e.msg, "'b'"), "opt wrong type: %s", e.msg);
    CHECK(mt_json_num(j, "c", p, &d, &e) == MT_OK && d == 1.5, "num c");
    CHECK(mt_json_num(j, "a", p, &d, &e) == MT_OK && d == 1.0, "num from int");
    CHECK(mt_json_num(j, "b", p, &d, &e) == MT_EFORMAT && strstr(e.msg, "'b'") && strstr(e.msg, "number"),
          "num type: %s", e.msg);
    CHECK(mt_json_num(j, "zz", p, &d, &e) == MT_EFORMAT && strstr(e.msg, "'zz'"), "num missing: %s", e.msg);
    d = 9;
    CHECK(mt_json_num_opt(j, "zz", p, &d, &e) == MT_OK && d == 9, "num opt absent");
    CHECK(mt_json_bool_opt(j, "d", p, &b, &e) == MT_OK && b == 1, "bool");
    CHECK(mt_json_bool_opt(j, "a", p, &b, &e) == MT_EFORMAT && strstr(e.msg, "'a'") && strstr(e.msg, p),
          "bool type: %s", e.msg);
    b = 5;
    CHECK(mt_json_bool_opt(j, "zz", p, &b, &e) == MT_OK && b == 5, "bool opt absent");
    CHECK(mt_json_str(j, "b", p, &s, &e) == MT_OK && s && !strcmp(s, "x"), "str");
    CHECK(mt_json_str(j, "a", p, &s, &e) == MT_EFORMAT && strstr(e.msg, "'a'") && strstr(e.msg, "string"),
          "str type: %s", e.msg);
    CHECK(mt_json_str(j, "zz", p, &s, &e) == MT_EFORMAT && strstr(e.msg, "missing field 'zz'"), "str missing");
    s = "keep";
    CHECK(mt_json_str_opt(j, "zz", p, &s, &e) == MT_OK && !strcmp(s, "keep"), "str opt absent");
    CHECK(mt_json_str_opt(j, "c", p, &s, &e) == MT_EFORMAT, "str opt type");
    json_t *arr = json_array();
    CHECK(mt_json_int(arr, "a", p, &i, &e) == MT_EFORMAT && strstr(e.msg, "object"), "getter on array: %s", e.msg);
    CHECK(mt_json_int(NULL, "a", p, &i, &e) == MT_EFORMAT, "getter on NULL");
    json_decref(arr);
    json_decref(j);

    /* parse errors name the file, line and column */
    p = tpath("dup.json");
    write_text(p, "{\"a\": 1,\n \"a\": 2}");
    j = (json_t *)1;
    rc = mt_json_load_file(p, &j, &e);
    CHECK(rc == MT_EFORMAT && j == NULL, "duplicate key rejected");
    CHECK(strstr(e.msg, p) && strstr(e.msg, "line 2") && strstr(e.msg, "duplicate") && one_line(e.msg), "dup msg: %s",
          e.msg);
    p = tpath("bad.json");
    write_text(p, "{\n  \"a\": 1,\n  \"b\": }");
    rc = mt_json_load_file(p, &j, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, p) && strstr(e.msg, "line 3 column"), "syntax: %s", e.msg);
    p = tpath("nul.json");
    write_text(p, "{\"a\": \"x\\u0000y\"}");
    CHECK(mt_json_load_file(p, &j, &e) == MT_EFORMAT && strstr(e.msg, p), "NUL in string rejected: %s", e.msg);
    rc = mt_json_load_file(tpath("absent.json"), &j, &e);
    CHECK(rc == MT_EIO && strstr(e.msg, "absent.json"), "missing file: %s", e.msg);
    rc = mt_json_load_buf("[1, 2", 5, "buffer X", &j, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "buffer X") && strstr(e.msg, "line 1"), "buf: %s", e.msg);
    CHECK(mt_json_load_buf("{\"k\": [1]}", 10, "buf", &j, &e) == MT_OK && json_is_object(j), "buf ok");
    json_decref(j);
}

/* ------------------------------------------------------- f16 / bf16 bits */

static void test_half(void) {
    static const struct {
        float f;
        uint16_t h;
    } f16[] = {
        {0.0f, 0x0000},        {1.0f, 0x3c00},          {-2.0f, 0xc000},
        {65504.0f, 0x7bff},    {65519.0f, 0x7bff},      {65520.0f, 0x7c00}, /* ties to even: inf */
        {5.9604644775390625e-08f, 0x0001},              /* 2^-24, smallest subnormal */
        {6.097555160522461e-05f, 0x03ff},               /* largest subnormal */
        {6.103515625e-05f, 0x0400},                     /* 2^-14, smallest normal */
        {2.98023223876953125e-08f, 0x0000},             /* 2^-25: tie, rounds to even 0 */
        {4.470348358154297e-08f, 0x0001},               /* 1.5 * 2^-25 */
        {1.00048828125f, 0x3c00},                       /* 1 + 2^-11: tie -> even */
        {1.00146484375f, 0x3c02},                       /* 1 + 3*2^-11: tie -> even (up) */
        {0.1f, 0x2e66},        {0.333251953125f, 0x3555}, {1e-10f, 0x0000},
    };
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++) {
        uint16_t h = mt_f32_to_f16(f16[i].f);
        CHECK(h == f16[i].h, "f32_to_f16(%.10g) = 0x%04x, want 0x%04x", f16[i].f, h, f16[i].h);
    }
    CHECK(mt_f32_to_f16(-0.0f) == 0x8000, "f16 -0");
    CHECK(mt_f32_to_f16(INFINITY) == 0x7c00 && mt_f32_to_f16(-INFINITY) == 0xfc00, "f16 inf");
    CHECK(mt_f32_to_f16(1e6f) == 0x7c00 && mt_f32_to_f16(-FLT_MAX) == 0xfc00, "f16 overflow");
    uint16_t hn = mt_f32_to_f16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "f16 nan 0x%04x", hn);
    CHECK(mt_f16_to_f32(0x0000) == 0.0f && !signbit(mt_f16_to_f32(0x0000)), "f16 0");
    CHECK(mt_f16_to_f32(0x8000) == 0.0f && signbit(mt_f16_to_f32(0x8000)), "f16 -0");
    CHECK(mt_f16_to_f32(0x3c00) == 1.0f, "f16 1");
    CHECK(mt_f16_to_f32(0x7bff) == 65504.0f, "f16 max");
    CHECK(fbits(mt_f16_to_f32(0x0001)) == 0x33800000u, "f16 min subnormal");
    CHECK(mt_f16_to_f32(0x03ff) == 6.097555160522461e-05f, "f16 max subnormal");
    CHECK(mt_f16_to_f32(0x83ff) == -6.097555160522461e-05f, "f16 -max subnormal");
    CHECK(isinf(mt_f16_to_f32(0x7c00)) && mt_f16_to_f32(0xfc00) < 0, "f16 inf");
    CHECK(isnan(mt_f16_to_f32(0x7e00)) && isnan(mt_f16_to_f32(0x7c01)), "f16 nan");

    /* exhaustive: every non-NaN half survives f16 -> f32 -> f16; every midpoint rounds to even */
    int bad_rt = 0, bad_mid = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = mt_f16_to_f32((uint16_t)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
            if (!isnan(f) || !isnan(mt_f16_to_f32(mt_f32_to_f16(f)))) bad_rt++;
            continue;
        }
        if (mt_f32_to_f16(f) != h) bad_rt++;
        if ((h & 0x7fff) < 0x7bff) { /* between h and h+1 (same sign, away from zero) */
            float g = mt_f16_to_f32((uint16_t)(h + 1));
            float mid = (f + g) / 2; /* exact in f32 */
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            if (mt_f32_to_f16(mid) != even) bad_mid++;
            if (mt_f32_to_f16(nextafterf(mid, f)) != h) bad_mid++;
            if (mt_f32_to_f16(nextafterf(mid, g)) != h + 1) bad_mid++;
        }
    }
    CHECK(bad_rt == 0, "%d halves failed the round trip", bad_rt);
    CHECK(bad_mid == 0, "%d midpoints rounded wrongly", bad_mid);

    /* bf16 */
    CHECK(mt_f32_to_bf16(0.0f) == 0x0000 && mt_f32_to_bf16(-0.0f) == 0x8000, "bf16 zeros");
    CHECK(mt_f32_to_bf16(1.0f) == 0x3f80 && mt_f32_to_bf16(-2.0f) == 0xc000, "bf16 1, -2");
    CHECK(mt_f32_to_bf16(65504.0f) == 0x4780, "bf16 65504 rounds to 65536: 0x%04x", mt_f32_to_bf16(65504.0f));
    CHECK(mt_f32_to_bf16(bitsf(0x3f808000u)) == 0x3f80, "bf16 tie to even (down)");
    CHECK(mt_f32_to_bf16(bitsf(0x3f818000u)) == 0x3f82, "bf16 tie to even (up)");
    CHECK(mt_f32_to_bf16(bitsf(0x3f808001u)) == 0x3f81, "bf16 above tie");
    CHECK(mt_f32_to_bf16(INFINITY) == 0x7f80 && mt_f32_to_bf16(-INFINITY) == 0xff80, "bf16 inf");
    CHECK(mt_f32_to_bf16(FLT_MAX) == 0x7f80, "bf16 FLT_MAX rounds to inf");
    CHECK(mt_f32_to_bf16(bitsf(0x00010000u)) == 0x0001, "bf16 subnormal");
    uint16_t bn = mt_f32_to_bf16(bitsf(0x7f800001u)); /* NaN with payload only in low bits */
    CHECK((bn & 0x7f80) == 0x7f80 && (bn & 0x7f), "bf16 nan stays nan 0x%04x", bn);
    CHECK(mt_bf16_to_f32(0x3f80) == 1.0f && mt_bf16_to_f32(0x3f81) == 1.0078125f, "bf16 to f32");
    CHECK(signbit(mt_bf16_to_f32(0x8000)) && mt_bf16_to_f32(0x8000) == 0.0f, "bf16 -0");
    CHECK(fbits(mt_bf16_to_f32(0x0001)) == 0x00010000u, "bf16 subnormal to f32");
    CHECK(isinf(mt_bf16_to_f32(0x7f80)) && isnan(mt_bf16_to_f32(0x7fc0)), "bf16 inf/nan");
}

/* ------------------------------------------------------ safetensors: good */

static void put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_f32(unsigned char *p, float f) {
    uint32_t u = fbits(f);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static void put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(u >> (8 * i));
}

/* Data for the round trip: f32 a[2,3] @0..24, f16 b[4] @24..32, bf16 c[2,2] @32..40,
 * f64 d[2] @40..56, f32 scalar s[] @56..60, f32 empty z[0,5] @60..60, i64 i[1] @60..68. */
static const float A[6] = {1.0f, -2.0f, 3.5f, 0.0f, 1e-3f, 65504.0f};
static const float B[4] = {1.0f, -2.5f, 0.1f, 65504.0f};
static const float C[4] = {1.0f, -3.140625f, 1e10f, 0.5f};
static const double D[2] = {0.1, -1e-5};
static const char *RT_HEADER =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[32,40]},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
    "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[40,56]},"
    "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[56,60]},"
    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[60,60]},"
    "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[60,68]}}";

static void rt_data(unsigned char *buf) {
    memset(buf, 0, 68);
    for (int k = 0; k < 6; k++) put_f32(buf + 4 * k, A[k]);
    for (int k = 0; k < 4; k++) put_u16(buf + 24 + 2 * k, mt_f32_to_f16(B[k]));
    for (int k = 0; k < 4; k++) put_u16(buf + 32 + 2 * k, mt_f32_to_bf16(C[k]));
    for (int k = 0; k < 2; k++) put_f64(buf + 40 + 8 * k, D[k]);
    put_f32(buf + 56, 7.5f);
    buf[60] = 9;
}

static void check_rt(const char *path, int pad) {
    mt_safetensors *st = NULL;
    mt_err e = {0};
    int rc = mt_st_open(path, &st, &e);
    CHECK(rc == MT_OK, "open %s: %s", path, e.msg);
    if (rc) return;
    CHECK(mt_st_count(st) == 7, "count %d", mt_st_count(st));
    const mt_st_tensor *a = mt_st_find(st, "a"), *b = mt_st_find(st, "b"), *c = mt_st_find(st, "c");
    const mt_st_tensor *d = mt_st_find(st, "d"), *s = mt_st_find(st, "s"), *z = mt_st_find(st, "z");
    const mt_st_tensor *ti = mt_st_find(st, "i");
    CHECK(a && b && c && d && s && z && ti, "all found");
    CHECK(mt_st_find(st, "__metadata__") == NULL && mt_st_find(st, "nope") == NULL, "absent names");
    if (!(a && b && c && d && s && z && ti)) {
        mt_st_close(st);
        return;
    }
    CHECK(a->dtype == MT_DT_F32 && !strcmp(a->dtype_str, "F32") && a->ndim == 2 && a->shape[0] == 2 &&
              a->shape[1] == 3 && a->numel == 6 && a->nbytes == 24 && !strcmp(a->name, "a"),
          "a metadata");
    CHECK(a->file && strstr(a->file, path), "a->file = %s", a->file ? a->file : "(null)");
    CHECK(b->dtype == MT_DT_F16 && b->nbytes == 8 && c->dtype == MT_DT_BF16 && !strcmp(c->dtype_str, "BF16"),
          "b, c dtype");
    CHECK(s->ndim == 0 && s->numel == 1 && s->nbytes == 4, "scalar");
    CHECK(z->ndim == 2 && z->numel == 0 && z->nbytes == 0, "empty");
    CHECK(ti->dtype == MT_DT_I64 && ((const unsigned char *)ti->data)[0] == 9, "i64 data");
    if (!pad) CHECK(((uintptr_t)a->data & 3) != 0, "unaligned case really is unaligned");
    /* listing: data order */
    const char *order = "abcdszi";
    int ok = 1;
    for (int k = 0; k < 7; k++) ok &= mt_st_at(st, k) && mt_st_at(st, k)->name[0] == order[k];
    CHECK(ok, "mt_st_at in data order");
    CHECK(mt_st_at(st, 7) == NULL && mt_st_at(st, -1) == NULL, "mt_st_at bounds");
    float out[8];
    CHECK(mt_st_to_f32(a, out, &e) == MT_OK && !memcmp(out, A, sizeof A), "a values");
    CHECK(mt_st_to_f32(b, out, &e) == MT_OK, "b convert");
    CHECK(out[0] == 1.0f && out[1] == -2.5f && out[2] == 0.0999755859375f && out[3] == 65504.0f, "b values %g %g",
          out[2], out[3]);
    CHECK(mt_st_to_f32(c, out, &e) == MT_OK, "c convert");
    CHECK(out[0] == 1.0f && out[1] == -3.140625f && out[2] == 9999220736.0f && out[3] == 0.5f, "c values %.10g",
          out[2]);
    CHECK(mt_st_to_f32(d, out, &e) == MT_OK && out[0] == 0.1f && out[1] == -1e-5f, "d values");
    CHECK(mt_st_to_f32(s, out, &e) == MT_OK && out[0] == 7.5f, "scalar value");
    CHECK(mt_st_to_f32(z, NULL, &e) == MT_OK, "empty convert");
    rc = mt_st_to_f32(ti, out, &e);
    CHECK(rc == MT_EUNSUPPORTED && strstr(e.msg, path) && strstr(e.msg, "'i'") && strstr(e.msg, "I64"),
          "i64 unsupported: %s", e.msg);
    mt_st_close(st);
}

static void test_st_good(void) {
    unsigned char data[68];
    rt_data(data);
    const char *p = tpath("rt.safetensors");
    write_st(p, RT_HEADER, data, sizeof data);
    check_rt(p, 1);
    /* unaligned data: header length not padded (odd) */
    const char *u = tpath("unaligned.safetensors");
    write_st_ex(u, RT_HEADER, data, sizeof data, 0, 0);
    check_rt(u, 0);
    /* directory form */
    mkdir(tpath("m1"), 0755);
    const char *dp = tpath("m1/model.safetensors");
    write_st(dp, RT_HEADER, data, sizeof data);
    check_rt(tpath("m1"), 1);

    /* other dtypes: described but not converted; sub-byte sizes use bits */
    const char *o = tpath("other.safetensors");
    write_st(o,
             "{\"f4\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]},"
             "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[3,5]},"
             "\"f6\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[5,8]},"
             "\"c64\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[8,16]},"
             "\"bo\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[16,18]}}",
             "0123456789abcdefgh", 18);
    mt_safetensors *st = NULL;
    mt_err e = {0};
    CHECK(mt_st_open(o, &st, &e) == MT_OK, "other dtypes: %s", e.msg);
    if (st) {
        const mt_st_tensor *t = mt_st_find(st, "f8");
        CHECK(t && t->dtype == MT_DT_OTHER && !strcmp(t->dtype_str, "F8_E4M3"), "F8 described");
        t = mt_st_find(st, "f4");
        CHECK(t && t->nbytes == 3 && t->numel == 6, "F4 nbytes");
        t = mt_st_find(st, "bo");
        CHECK(t && t->dtype == MT_DT_BOOL, "BOOL");
        float x[8];
        t = mt_st_find(st, "f8");
        int rc = t ? mt_st_to_f32(t, x, &e) : -1;
        CHECK(rc == MT_EUNSUPPORTED && strstr(e.msg, "F8_E4M3") && strstr(e.msg, "'f8'"), "F8 convert: %s", e.msg);
        mt_st_close(st);
    }
    /* no tensors at all */
    const char *m = tpath("meta_only.safetensors");
    write_st(m, "{\"__metadata__\":{\"a\":\"b\"}}", NULL, 0);
    st = NULL;
    CHECK(mt_st_open(m, &st, &e) == MT_OK && mt_st_count(st) == 0 && !mt_st_find(st, "a"), "no tensors: %s", e.msg);
    mt_st_close(st);

    /* many tensors: lookup by name */
    enum { NT = 1000 };
    size_t cap = 128 * NT;
    char *h = malloc(cap);
    size_t k = (size_t)snprintf(h, cap, "{");
    unsigned char *dd = malloc(4 * NT);
    for (int i = 0; i < NT; i++) {
        int j = (i * 7919) % NT; /* header order differs from data order */
        k += (size_t)snprintf(h + k, cap - k, "%s\"layer.%d.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                              i ? "," : "", j, 4 * j, 4 * j + 4);
        put_f32(dd + 4 * i, (float)i);
    }
    snprintf(h + k, cap - k, "}");
    const char *mp = tpath("many.safetensors");
    write_st(mp, h, dd, 4 * NT);
    st = NULL;
    CHECK(mt_st_open(mp, &st, &e) == MT_OK, "many: %s", e.msg);
    if (st) {
        int bad = 0;
        for (int i = 0; i < NT; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "layer.%d.w", i);
            const mt_st_tensor *t = mt_st_find(st, nm);
            float v = -1;
            if (!t || mt_st_to_f32(t, &v, &e) || v != (float)i) bad++;
        }
        CHECK(bad == 0 && mt_st_count(st) == NT, "%d of %d lookups wrong", bad, NT);
        CHECK(!mt_st_find(st, "layer.1000.w") && !mt_st_find(st, "layer.1.") && !mt_st_find(st, ""), "absent");
        mt_st_close(st);
    }
    free(h);
    free(dd);
}

/* Files written by the Python safetensors/torch and numpy libraries. */
static void test_reference_files(void) {
    const char *p = "tests/data/io/ref.safetensors";
    if (!mt_file_exists(p)) {
        CHECK(0, "%s not found (run tests from the repository root)", p);
        return;
    }
    mt_safetensors *st = NULL;
    mt_err e = {0};
    CHECK(mt_st_open(p, &st, &e) == MT_OK, "ref: %s", e.msg);
    if (!st) return;
    CHECK(mt_st_count(st) == 8, "ref count %d", mt_st_count(st));
    float x[8];
    const mt_st_tensor *t = mt_st_find(st, "w.f32");
    CHECK(t && !mt_st_to_f32(t, x, &e) && x[0] == 1 && x[2] == 3.5f && signbit(x[4]) && x[5] == 65504, "ref f32");
    t = mt_st_find(st, "w.f16");
    CHECK(t && !mt_st_to_f32(t, x, &e) && x[1] == -2.5f && x[2] == 0.0999755859375f && x[4] == 5.960464477539063e-08f,
          "ref f16");
    t = mt_st_find(st, "w.bf16");
    CHECK(t && t->ndim == 2 && !mt_st_to_f32(t, x, &e) && x[1] == -3.140625f && x[2] == 9999220736.0f, "ref bf16");
    t = mt_st_find(st, "w.f64");
    CHECK(t && !mt_st_to_f32(t, x, &e) && x[0] == 0.1f && isinf(x[1]) && x[1] < 0, "ref f64");
    t = mt_st_find(st, "scalar");
    CHECK(t && t->ndim == 0 && !mt_st_to_f32(t, x, &e) && x[0] == 7.5f, "ref scalar");
    t = mt_st_find(st, "empty");
    CHECK(t && t->numel == 0 && t->shape[1] == 4, "ref empty");
    t = mt_st_find(st, "mask");
    CHECK(t && t->dtype == MT_DT_BOOL && t->nbytes == 3, "ref bool");
    t = mt_st_find(st, "ids");
    CHECK(t && t->dtype == MT_DT_I64 && ((uintptr_t)t->data & 7) == 0, "ref i64 aligned");
    mt_st_close(st);

    float *d = NULL;
    int nd = 0;
    int64_t sh[8];
    CHECK(mt_npy_read_f32("tests/data/io/ref_f4.npy", &d, &nd, sh, &e) == MT_OK, "ref npy f4: %s", e.msg);
    CHECK(d && nd == 2 && sh[0] == 3 && sh[1] == 4 && d[11] == 11.0f / 8, "ref npy f4 values");
    free(d);
    d = NULL;
    CHECK(mt_npy_read_f32("tests/data/io/ref_f8.npy", &d, &nd, sh, &e) == MT_OK, "ref npy f8: %s", e.msg);
    CHECK(d && nd == 2 && sh[0] == 2 && d[0] == 0.1f && d[2] == 1e-3f && d[3] == 3.0f, "ref npy f8 values");
    free(d);
}

/* ------------------------------------------------------- safetensors: bad */

#define T(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_st_bad(void) {
    char zeros[256] = {0};
    const char *p;

    p = tpath("short.safetensors");
    write_raw(p, "\x05\0\0\0\0", 5);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "shorter than the 8-byte header length");
    p = tpath("empty.safetensors");
    write_raw(p, "", 0);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "0 bytes");

    p = tpath("hlen_past_end.safetensors");
    write_st_ex(p, "{}", NULL, 0, 1, 1000);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "header length 1000 runs past the end");
    p = tpath("hlen_huge.safetensors");
    write_st_ex(p, "{}", NULL, 0, 1, 100000001ULL);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "exceeds the limit of 100000000");
    p = tpath("hlen_max.safetensors");
    write_st_ex(p, "{}", NULL, 0, 1, ~0ULL);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "header length 18446744073709551615");

    p = tpath("not_json.safetensors");
    write_st(p, "{\"a\": nope}", NULL, 0);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "header: malformed JSON at line 1 column");
    p = tpath("not_object.safetensors");
    write_st(p, "[1, 2]", NULL, 0);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "not a JSON object");
    p = tpath("nul_pad.safetensors");
    write_raw(p, "\x08\0\0\0\0\0\0\0{}\0\0\0\0\0\0", 16); /* NUL padding is not JSON whitespace */
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "malformed JSON");

    p = tpath("no_dtype.safetensors");
    write_st(p, "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': missing field 'dtype'");
    p = tpath("no_shape.safetensors");
    write_st(p, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': missing field 'shape'");
    p = tpath("no_offsets.safetensors");
    write_st(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': missing field 'data_offsets'");
    p = tpath("extra_field.safetensors");
    write_st(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"stride\":[1]}}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': unknown field 'stride'");
    p = tpath("entry_not_object.safetensors");
    write_st(p, "{\"w\":[1]}", NULL, 0);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': entry must be a JSON object");
    p = tpath("dtype_int.safetensors");
    write_st(p, "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': field 'dtype' must be a string");
    p = tpath("bad_dtype.safetensors");
    write_st(p, "{" T("enc.w", "F12", "[1]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'enc.w': unknown dtype 'F12'");
    p = tpath("lower_dtype.safetensors");
    write_st(p, "{" T("w", "f32", "[1]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "unknown dtype 'f32'");

    p = tpath("neg_shape.safetensors");
    write_st(p, "{" T("w", "F32", "[2,-1]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': shape[1] = -1 is negative");
    p = tpath("float_shape.safetensors");
    write_st(p, "{" T("w", "F32", "[1.0]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': shape[0] must be an integer");
    p = tpath("shape_overflow.safetensors");
    write_st(p, "{" T("w", "F32", "[4294967296,4294967296]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': shape overflows");
    p = tpath("bytes_overflow.safetensors");
    write_st(p, "{" T("w", "F64", "[4611686018427387904]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': shape [4611686018427387904] of F64 overflows");
    p = tpath("rank9.safetensors");
    write_st(p, "{" T("w", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EUNSUPPORTED, p, "tensor 'w': shape has 9 dimensions");
    p = tpath("f4_odd.safetensors");
    write_st(p, "{" T("w", "F4", "[3]", 0, 2) "}", zeros, 2);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': shape [3] of F4 holds 12 bits");

    p = tpath("offsets_bad.safetensors");
    write_st(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': field 'data_offsets' must be [begin, end]");
    p = tpath("offsets_reversed.safetensors");
    write_st(p, "{" T("w", "F32", "[0]", 4, 0) "}", zeros, 4);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'w': data_offsets [4, 0]");
    p = tpath("size_mismatch.safetensors");
    write_st(p, "{" T("bert.encoder.layer.0.attention.self.query.weight", "F32", "[3, 4]", 0, 100) "}", zeros, 100);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p,
                   "tensor 'bert.encoder.layer.0.attention.self.query.weight': data_offsets [0, 100] hold 100 bytes "
                   "but shape [3, 4] of F32 needs 48");

    p = tpath("gap.safetensors");
    write_st(p, "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 12, 20) "}", zeros, 20);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'b': data_offsets [12, 20] leave a gap of 4 bytes after tensor 'a'");
    p = tpath("gap_start.safetensors");
    write_st(p, "{" T("a", "F32", "[2]", 4, 12) "}", zeros, 12);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'a': data_offsets [4, 12] leave a gap");
    p = tpath("overlap.safetensors");
    write_st(p, "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}", zeros, 12);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
    p = tpath("same_offsets.safetensors");
    write_st(p, "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 0, 8) "}", zeros, 8);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "overlap tensor 'a'");

    p = tpath("truncated.safetensors");
    write_st(p, "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[4]", 8, 24) "}", zeros, 20);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "file is truncated: tensor 'b' ends at data byte 24 but only 20");
    p = tpath("trailing.safetensors");
    write_st(p, "{" T("a", "F32", "[2]", 0, 8) "}", zeros, 11);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "3 trailing bytes after the last tensor ('a'");
    p = tpath("trailing_none.safetensors");
    write_st(p, "{}", zeros, 2);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "2 trailing bytes");

    p = tpath("dup_name.safetensors");
    write_st(p, "{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", zeros, 8);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "duplicate object key near '\"a\"'");
    p = tpath("meta_bad.safetensors");
    write_st(p, "{\"__metadata__\":{\"total\":5}}", NULL, 0);
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "field '__metadata__' key 'total' must be a string");

    /* opening */
    mkdir(tpath("emptydir"), 0755);
    p = tpath("emptydir");
    EXPECT_ST_FAIL(p, MT_EIO, p, "model.safetensors and model.safetensors.index.json");
    p = tpath("does_not_exist");
    EXPECT_ST_FAIL(p, MT_EIO, p, "cannot open");
    p = tpath("fifo.safetensors");
    if (mkfifo(p, 0600) == 0) EXPECT_ST_FAIL(p, MT_EIO, p, "not a regular file"); /* must not block */
}

/* ---------------------------------------------------------- sharded */

static void write_shards(const char *dir, int dup) {
    char p[512];
    float v[6] = {1, 2, 3, 4, 5, 6};
    unsigned char d[24];
    for (int i = 0; i < 6; i++) put_f32(d + 4 * i, v[i]);
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    write_st(p, "{\"__metadata__\":{\"format\":\"pt\"}," T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[1]", 8, 12) "}",
             d, 12);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    if (dup)
        write_st(p, "{" T("c", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", d + 12, 8);
    else
        write_st(p, "{" T("c", "F32", "[1]", 0, 4) "}", d + 12, 4);
}

#define S1 "\"model-00001-of-00002.safetensors\""
#define S2 "\"model-00002-of-00002.safetensors\""

static void test_sharded(void) {
    mkdir(tpath("sh"), 0755);
    write_shards(tpath("sh"), 0);
    const char *ix = tpath("sh/model.safetensors.index.json");
    write_text(ix, "{\"metadata\":{\"total_size\":16},\"weight_map\":{\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2 "}}");
    mt_safetensors *st = NULL;
    mt_err e = {0};
    for (int pass = 0; pass < 2; pass++) {
        st = NULL;
        int rc = mt_st_open(pass ? ix : tpath("sh"), &st, &e);
        CHECK(rc == MT_OK, "sharded open (%s): %s", pass ? "index" : "dir", e.msg);
        if (rc) continue;
        CHECK(mt_st_count(st) == 3, "sharded count %d", mt_st_count(st));
        const mt_st_tensor *a = mt_st_find(st, "a"), *c = mt_st_find(st, "c");
        float x[2] = {0};
        CHECK(a && !mt_st_to_f32(a, x, &e) && x[0] == 1 && x[1] == 2, "sharded a");
        CHECK(c && !mt_st_to_f32(c, x, &e) && x[0] == 4, "sharded c");
        CHECK(a && c && strstr(a->file, "sh/model-00001-of-00002.safetensors") &&
                  strstr(c->file, "sh/model-00002-of-00002.safetensors"),
              "shard files");
        CHECK(mt_st_at(st, 0) == a && mt_st_at(st, 2) == c, "listing shard by shard");
        mt_st_close(st);
    }
    /* a single file wins over an index in the same folder */
    mkdir(tpath("both"), 0755);
    write_shards(tpath("both"), 0);
    write_text(tpath("both/model.safetensors.index.json"), "{\"weight_map\":{\"zz\":" S1 "}}");
    write_st(tpath("both/model.safetensors"), "{" T("only", "F32", "[0]", 0, 0) "}", NULL, 0);
    st = NULL;
    CHECK(mt_st_open(tpath("both"), &st, &e) == MT_OK && mt_st_count(st) == 1 && mt_st_find(st, "only"),
          "model.safetensors preferred: %s", e.msg);
    mt_st_close(st);

    const char *p;
    p = tpath("sh/missing_shard.index.json");
    write_text(p, "{\"weight_map\":{\"a\":" S1 ",\"c\":\"model-00003-of-00003.safetensors\"}}");
    EXPECT_ST_FAIL(p, MT_EIO, p, "weight_map['c'] names shard 'model-00003-of-00003.safetensors'");
    p = tpath("sh/absent_tensor.index.json");
    write_text(p, "{\"weight_map\":{\"a\":" S1 ",\"zz\":" S1 ",\"c\":" S2 "}}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "weight_map['zz'] names shard 'model-00001-of-00002.safetensors', but that shard has no such tensor");
    p = tpath("sh/wrong_shard.index.json");
    write_text(p, "{\"weight_map\":{\"a\":" S2 ",\"c\":" S2 ",\"b\":" S1 "}}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "weight_map['a'] names shard 'model-00002-of-00002.safetensors', but the tensor is in");
    p = tpath("sh/malformed.index.json");
    write_text(p, "{\"weight_map\": {\"a\": " S1 ",\n}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "malformed JSON at line 2");
    p = tpath("sh/no_map.index.json");
    write_text(p, "{\"metadata\":{}}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "missing field 'weight_map'");
    p = tpath("sh/map_array.index.json");
    write_text(p, "{\"weight_map\":[]}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "field 'weight_map' must be a non-empty object");
    p = tpath("sh/map_value.index.json");
    write_text(p, "{\"weight_map\":{\"a\":1}}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "weight_map['a'] must be a shard file name");
    p = tpath("sh/escape.index.json");
    write_text(p, "{\"weight_map\":{\"a\":\"../x.safetensors\"}}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "weight_map['a'] = '../x.safetensors' is not a file name");
    p = tpath("sh/dup_key.index.json");
    write_text(p, "{\"weight_map\":{\"a\":" S1 ",\"a\":" S1 "}}");
    EXPECT_ST_FAIL(p, MT_EFORMAT, p, "duplicate object key");

    /* a shard that is itself bad: its own message names the shard */
    mkdir(tpath("sh_bad"), 0755);
    write_shards(tpath("sh_bad"), 0);
    write_raw(tpath("sh_bad/model-00002-of-00002.safetensors"), "abc", 3);
    write_text(tpath("sh_bad/model.safetensors.index.json"), "{\"weight_map\":{\"a\":" S1 ",\"c\":" S2 "}}");
    EXPECT_ST_FAIL(tpath("sh_bad"), MT_EFORMAT, "sh_bad/model-00002-of-00002.safetensors", "shorter than");

    /* the same tensor in two shards */
    mkdir(tpath("sh_dup"), 0755);
    write_shards(tpath("sh_dup"), 1);
    p = tpath("sh_dup/model.safetensors.index.json");
    write_text(p, "{\"weight_map\":{\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2 "}}");
    EXPECT_ST_FAIL(tpath("sh_dup"), MT_EFORMAT, p, "tensor 'a' is in two shards");
}

/* ------------------------------------------------------------------- npy */

static int count_tmp_files(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *len) {
    char *d = NULL;
    mt_err e;
    if (mt_read_file(path, &d, len, &e)) return NULL;
    return (unsigned char *)d;
}

static void write_npy_raw(const char *path, const char *dict, const void *data, size_t dlen) {
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64;
    unsigned char *b = calloc(1, total + dlen);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)((total - 10) & 0xff);
    b[9] = (unsigned char)((total - 10) >> 8);
    memcpy(b + 10, dict, dl);
    memset(b + 10 + dl, ' ', total - 11 - dl);
    b[total - 1] = '\n';
    if (dlen) memcpy(b + total, data, dlen);
    write_raw(path, b, total + dlen);
    free(b);
}

static void expect_npy_fail(const char *path, int code, const char *field, int line) {
    float *d = (float *)1;
    int nd = -1;
    int64_t sh[8];
    mt_err e = {0};
    int rc = mt_npy_read_f32(path, &d, &nd, sh, &e);
    if (getenv("MT_TEST_VERBOSE")) printf("  %s\n", e.msg);
    CHECK(rc == code, "line %d: %s: got %d want %d: %s", line, path, rc, code, e.msg);
    CHECK(d == NULL, "line %d: data not NULL on failure", line);
    CHECK(strstr(e.msg, path) && strstr(e.msg, field) && one_line(e.msg), "line %d: message lacks '%s': %s", line,
          field, e.msg);
    if (!rc) free(d);
}
#define EXPECT_NPY_FAIL(path, code, field) expect_npy_fail(path, code, field, __LINE__)

static void test_npy(void) {
    const float v[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-7f, -65504.0f};
    const int64_t sh23[2] = {2, 3};
    const char *p = tpath("a.npy");
    mt_err e = {0};
    CHECK(mt_npy_write_f32(p, v, 2, sh23, &e) == MT_OK, "write: %s", e.msg);
    size_t len = 0, total = 0;
    unsigned char *raw = slurp(p, &len);
    CHECK(raw != NULL, "read back raw");
    if (raw) {
        size_t hl = (size_t)raw[8] | (size_t)raw[9] << 8;
        total = 10 + hl;
        CHECK(!memcmp(raw, "\x93NUMPY\x01\x00", 8), "magic and version 1.0");
        CHECK(total % 64 == 0 && raw[total - 1] == '\n', "header padded to 64 and ends with newline");
        CHECK(len == total + 24, "file length %zu", len);
        const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        CHECK(!memcmp(raw + 10, want, strlen(want)), "header text");
        free(raw);
    }
    float *d = NULL;
    int nd = 0;
    int64_t sh[8] = {0};
    CHECK(mt_npy_read_f32(p, &d, &nd, sh, &e) == MT_OK, "read: %s", e.msg);
    CHECK(d && nd == 2 && sh[0] == 2 && sh[1] == 3 && !memcmp(d, v, sizeof v), "round trip");
    free(d);
    /* overwrite in place, 1-D */
    const int64_t sh5[1] = {5};
    CHECK(mt_npy_write_f32(p, v, 1, sh5, &e) == MT_OK, "rewrite: %s", e.msg);
    raw = slurp(p, &len);
    CHECK(raw && strstr((char *)raw + 10, "'shape': (5,), }"), "1-D tuple");
    free(raw);
    d = NULL;
    CHECK(mt_npy_read_f32(p, &d, &nd, sh, &e) == MT_OK && nd == 1 && sh[0] == 5 && d && d[4] == 1e-7f, "1-D read");
    free(d);
    /* scalar and empty */
    const char *q = tpath("s.npy");
    CHECK(mt_npy_write_f32(q, v + 2, 0, NULL, &e) == MT_OK, "scalar write: %s", e.msg);
    d = NULL;
    CHECK(mt_npy_read_f32(q, &d, &nd, sh, &e) == MT_OK && nd == 0 && d && d[0] == 3.25f, "scalar read: %s", e.msg);
    free(d);
    const int64_t sh03[2] = {0, 3};
    q = tpath("z.npy");
    CHECK(mt_npy_write_f32(q, NULL, 2, sh03, &e) == MT_OK, "empty write: %s", e.msg);
    d = NULL;
    CHECK(mt_npy_read_f32(q, &d, &nd, sh, &e) == MT_OK && nd == 2 && sh[0] == 0 && sh[1] == 3, "empty read");
    free(d);
    CHECK(count_tmp_files() == 0, "no temporary files left");
    /* failures */
    q = tpath("no_such_dir/x.npy");
    int rc = mt_npy_write_f32(q, v, 2, sh23, &e);
    CHECK(rc == MT_EIO && strstr(e.msg, q), "write into missing folder: %s", e.msg);
    const int64_t neg[1] = {-1};
    rc = mt_npy_write_f32(tpath("neg.npy"), v, 1, neg, &e);
    CHECK(rc == MT_EINVAL && strstr(e.msg, "neg.npy"), "negative shape: %s", e.msg);
    CHECK(!mt_file_exists(tpath("neg.npy")) && count_tmp_files() == 0, "nothing written on failure");

    /* truncated and trailing */
    CHECK(mt_npy_write_f32(p, v, 2, sh23, &e) == MT_OK, "write");
    CHECK(truncate(p, (off_t)total + 20) == 0, "truncate");
    EXPECT_NPY_FAIL(p, MT_EFORMAT, "npy data is truncated: shape (2, 3) of <f4 needs 24 bytes");
    CHECK(truncate(p, 30) == 0, "truncate into header");
    char msg[64];
    snprintf(msg, sizeof msg, "npy header length %zu runs past the end", total - 10);
    EXPECT_NPY_FAIL(p, MT_EFORMAT, msg);
    CHECK(truncate(p, 5) == 0, "truncate into magic");
    EXPECT_NPY_FAIL(p, MT_EFORMAT, "too short");
    CHECK(mt_npy_write_f32(p, v, 2, sh23, &e) == MT_OK, "write");
    CHECK(truncate(p, (off_t)total + 28) == 0, "extend");
    EXPECT_NPY_FAIL(p, MT_EFORMAT, "4 trailing bytes");
    write_raw(p, "NOTNUMPYxxxxxxxxxxxx", 20);
    EXPECT_NPY_FAIL(p, MT_EFORMAT, "bad magic");

    /* f8 converted; unsupported layouts */
    unsigned char f8[24];
    put_f64(f8, 0.1);
    put_f64(f8 + 8, -3.0);
    put_f64(f8 + 16, 1e-300);
    q = tpath("f8.npy");
    write_npy_raw(q, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8, 24);
    d = NULL;
    CHECK(mt_npy_read_f32(q, &d, &nd, sh, &e) == MT_OK && d && nd == 1 && d[0] == 0.1f && d[1] == -3.0f &&
              d[2] == 0.0f,
          "f8 read: %s", e.msg);
    free(d);
    q = tpath("dq.npy"); /* double quotes and other key order, Python 2 long */
    write_npy_raw(q, "{\"shape\": (1L, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", f8, 8);
    d = NULL;
    CHECK(mt_npy_read_f32(q, &d, &nd, sh, &e) == MT_OK && nd == 2 && sh[0] == 1 && sh[1] == 2, "key order: %s", e.msg);
    free(d);
    q = tpath("be.npy");
    write_npy_raw(q, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EUNSUPPORTED, "field 'descr' is '>f4'");
    q = tpath("i4.npy");
    write_npy_raw(q, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EUNSUPPORTED, "field 'descr' is '<i4'");
    q = tpath("fo.npy");
    write_npy_raw(q, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EUNSUPPORTED, "fortran_order");
    q = tpath("noshape.npy");
    write_npy_raw(q, "{'descr': '<f4', 'fortran_order': False, }", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EFORMAT, "missing field 'shape'");
    q = tpath("extrakey.npy");
    write_npy_raw(q, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EFORMAT, "unknown field 'x'");
    q = tpath("badshape.npy");
    write_npy_raw(q, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EFORMAT, "field 'shape'");
    q = tpath("garbage.npy");
    write_npy_raw(q, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", f8, 8);
    EXPECT_NPY_FAIL(q, MT_EFORMAT, "after the dict");
    EXPECT_NPY_FAIL(tpath("absent.npy"), MT_EIO, "cannot open");
}

/* ----------------------------------------------------------------- main */


int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/mt_test_io_XXXXXX");
    if (!mkdtemp(g_dir)) {
        CHECK(0, "mkdtemp failed");
        return mt_test_report();
    }
    test_json();
    test_half();
    test_st_good();
    test_reference_files();
    test_st_bad();
    test_sharded();
    test_npy();
    if (getenv("MT_TEST_KEEP"))
        printf("kept %s\n", g_dir);
    else
        mt_test_rm_rf(g_dir);
    return mt_test_report();
}
