/* GGUF reader over read-only mmap (llama.cpp / ggml model files), versions 2 and 3,
 * little-endian only.
 *
 * A file is: magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count, the
 * metadata key/value pairs (13 value types; strings are u64 length + bytes, arrays are u32
 * element type + u64 count + elements, and may nest), the tensor infos (name, u32 n_dims,
 * n_dims u64 dims innermost first, u32 ggml type, u64 offset), padding up to
 * general.alignment (default 32), then the data section. Every offset is relative to the
 * data section and a multiple of the alignment.
 *
 * mt_gguf_open validates the whole header before it returns: counts and lengths are checked
 * against the bytes left in the file before anything is allocated, keys and tensor names are
 * unique, every tensor has n_dims <= 4, a known ggml type, dims[0] a multiple of the type's
 * block size, an aligned offset, and bytes that lie inside the file and overlap no other
 * tensor. Errors are one line naming the file and the field (key, tensor) at fault.
 *
 * Dimensions come in two orders: dims[] as GGUF stores them (dims[0] is the row length) and
 * shape[] in HuggingFace / PyTorch order (the reverse), so shape[] of "blk.0.attn_q.weight"
 * equals the shape of the HF checkpoint's q_proj.weight, [out, in]. */
#ifndef MT_GGUF_H
#define MT_GGUF_H

#include "mt_common.h"

/* Metadata value types, numbered as in the file. */
typedef enum {
    MT_GGUF_U8 = 0, MT_GGUF_I8 = 1, MT_GGUF_U16 = 2, MT_GGUF_I16 = 3, MT_GGUF_U32 = 4,
    MT_GGUF_I32 = 5, MT_GGUF_F32 = 6, MT_GGUF_BOOL = 7, MT_GGUF_STRING = 8, MT_GGUF_ARRAY = 9,
    MT_GGUF_U64 = 10, MT_GGUF_I64 = 11, MT_GGUF_F64 = 12
} mt_gguf_vtype;

/* ggml tensor types this reader can dequantize (the numbering is ggml's; other known types,
 * e.g. Q2_K or IQ4_NL, open fine but mt_gguf_to_f32 refuses them). */
enum {
    MT_GGML_F32 = 0, MT_GGML_F16 = 1, MT_GGML_Q4_0 = 2, MT_GGML_Q4_1 = 3, MT_GGML_Q5_0 = 6,
    MT_GGML_Q5_1 = 7, MT_GGML_Q8_0 = 8, MT_GGML_Q4_K = 12, MT_GGML_Q5_K = 13, MT_GGML_Q6_K = 14,
    MT_GGML_BF16 = 30
};

/* A string in the file: points into the mapping, NOT NUL-terminated, may hold any bytes. */
typedef struct mt_gguf_str {
    const char *s;
    uint64_t len;
} mt_gguf_str;

typedef struct mt_gguf_value mt_gguf_value;
struct mt_gguf_value {
    mt_gguf_vtype type;
    /* scalars: unsigned types and BOOL in u, signed types in i, F32 and F64 in f */
    uint64_t u;
    int64_t i;
    double f;
    /* STRING: the bytes, plus cstr, an owned NUL-terminated copy (for top-level values only;
     * NULL inside arrays) */
    mt_gguf_str str;
    const char *cstr;
    /* ARRAY: element type and count; numeric/BOOL elements are raw little-endian bytes at
     * data (maybe unaligned: read them through the typed getters), STRING elements are in
     * strs[n], ARRAY elements (nested arrays) in items[n] */
    mt_gguf_vtype elem;
    uint64_t n;
    const void *data;
    const mt_gguf_str *strs;
    const mt_gguf_value *items;
};

typedef struct mt_gguf_kv {
    const char *key; /* owned, NUL-terminated */
    mt_gguf_value v;
} mt_gguf_kv;

#define MT_GGUF_MAX_DIMS 4

typedef struct mt_gguf_tensor {
    const char *name;      /* owned by the handle */
    int type;              /* ggml type number */
    const char *type_name; /* "Q4_K", "F32", ... */
    int ndim;              /* 0..4 */
    int64_t dims[MT_GGUF_MAX_DIMS];  /* GGUF order, innermost first; unused entries are 1 */
    int64_t shape[MT_GGUF_MAX_DIMS]; /* HF order: shape[k] = dims[ndim-1-k]; unused entries 0 */
    int64_t numel;
    uint64_t offset;       /* relative to the data section */
    const void *data;      /* points into the mapping */
    size_t nbytes;
    const char *file;      /* path of the file */
} mt_gguf_tensor;

typedef struct mt_gguf mt_gguf; /* opaque */

int mt_gguf_open(const char *path, mt_gguf **out, mt_err *e);
void mt_gguf_close(mt_gguf *g);

const char *mt_gguf_path(const mt_gguf *g);
uint32_t mt_gguf_version(const mt_gguf *g);
uint32_t mt_gguf_alignment(const mt_gguf *g);
uint64_t mt_gguf_data_offset(const mt_gguf *g); /* file offset of the data section */

/* Metadata, in file order. */
int mt_gguf_kv_count(const mt_gguf *g);
const mt_gguf_kv *mt_gguf_kv_at(const mt_gguf *g, int i);
const mt_gguf_kv *mt_gguf_find_kv(const mt_gguf *g, const char *key); /* NULL if absent */

/* Typed getters. A missing key or a value of another type fails with MT_EFORMAT naming the
 * file and key. The integer getters accept any integer type whose value fits (converters
 * differ: context_length may be U32, I32 or U64); f32 accepts F32 and F64; bool only BOOL. */
int mt_gguf_get_u32(const mt_gguf *g, const char *key, uint32_t *out, mt_err *e);
int mt_gguf_get_i32(const mt_gguf *g, const char *key, int32_t *out, mt_err *e);
int mt_gguf_get_u64(const mt_gguf *g, const char *key, uint64_t *out, mt_err *e);
int mt_gguf_get_f32(const mt_gguf *g, const char *key, float *out, mt_err *e);
int mt_gguf_get_bool(const mt_gguf *g, const char *key, int *out, mt_err *e);
/* *out is NUL-terminated and owned by the handle; len (if not NULL) counts bytes without
 * the NUL (a string may hold NUL bytes). */
int mt_gguf_get_str(const mt_gguf *g, const char *key, const char **out, uint64_t *len, mt_err *e);
/* Array getters. Strings: *out points to n views owned by the handle. f32 / i32: *out is a
 * malloc'ed copy the caller frees (NULL when n is 0); f32 takes F32 or F64 elements, i32 any
 * integer element type whose values fit. */
int mt_gguf_get_arr_str(const mt_gguf *g, const char *key, const mt_gguf_str **out, uint64_t *n, mt_err *e);
int mt_gguf_get_arr_f32(const mt_gguf *g, const char *key, float **out, uint64_t *n, mt_err *e);
int mt_gguf_get_arr_i32(const mt_gguf *g, const char *key, int32_t **out, uint64_t *n, mt_err *e);

/* Element k of a numeric or BOOL array value as a double / int64 (no bounds check beyond
 * k < v->n, which the caller ensures). */
double mt_gguf_arr_num(const mt_gguf_value *v, uint64_t k);

/* Tensors, in file order. */
int mt_gguf_tensor_count(const mt_gguf *g);
const mt_gguf_tensor *mt_gguf_tensor_at(const mt_gguf *g, int i);
const mt_gguf_tensor *mt_gguf_find_tensor(const mt_gguf *g, const char *name); /* NULL if absent */

/* Dequantizes a whole tensor to f32 (numel floats, in GGUF = row-major HF order). Supported:
 * F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K; others fail with
 * MT_EUNSUPPORTED naming the file, tensor and type. */
int mt_gguf_to_f32(const mt_gguf_tensor *t, float *dst, mt_err *e);
/* The same for rows [row0, row0 + nrows) only, a row being dims[0] values (e.g. a few token
 * embeddings without dequantizing the whole table). */
int mt_gguf_rows_to_f32(const mt_gguf_tensor *t, int64_t row0, int64_t nrows, float *dst, mt_err *e);

int mt_gguf_type_supported(int ggml_type); /* 1 if mt_gguf_to_f32 converts it */
const char *mt_gguf_type_name(int ggml_type); /* "Q4_K"; NULL for an unknown number */
const char *mt_gguf_vtype_name(int vtype);    /* "UINT32"; "?" for an unknown number */

#endif
