/* safetensors reader over mmap: single files and sharded checkpoints
 * (model.safetensors.index.json). Validates the header per the format rules: header size
 * <= 100,000,000 bytes, valid JSON object, no duplicate names, known dtype strings, offsets
 * sorted and contiguous from 0, end-begin == numel*dtype_size, last end + 8 + N == file size. */
#ifndef MT_SAFETENSORS_H
#define MT_SAFETENSORS_H

#include "mt_common.h"

typedef enum {
    MT_DT_F32, MT_DT_F16, MT_DT_BF16, MT_DT_F64,
    MT_DT_I64, MT_DT_I32, MT_DT_I16, MT_DT_I8, MT_DT_U8, MT_DT_BOOL,
    MT_DT_U16, MT_DT_U32, MT_DT_U64,
    MT_DT_OTHER /* a valid safetensors dtype (F8_*, C64, ...) we can describe but not convert */
} mt_dtype;

#define MT_ST_MAX_DIMS 8

typedef struct mt_st_tensor {
    const char *name;      /* owned by the mt_safetensors handle */
    mt_dtype dtype;
    const char *dtype_str; /* as written in the header, e.g. "BF16" */
    int ndim;
    int64_t shape[MT_ST_MAX_DIMS];
    int64_t numel;
    const void *data;      /* points into the mapping */
    size_t nbytes;
    const char *file;      /* path of the shard holding it */
} mt_st_tensor;

typedef struct mt_safetensors mt_safetensors; /* opaque */

/* path: a .safetensors file, a model.safetensors.index.json, or a directory holding either
 * model.safetensors or model.safetensors.index.json. */
int mt_st_open(const char *path, mt_safetensors **out, mt_err *e);
void mt_st_close(mt_safetensors *st);

int mt_st_count(const mt_safetensors *st);
const mt_st_tensor *mt_st_at(const mt_safetensors *st, int i);
const mt_st_tensor *mt_st_find(const mt_safetensors *st, const char *name); /* NULL if absent */

/* Converts a tensor of F32, F16, BF16 or F64 to f32 into dst (numel floats). Other dtypes
 * fail with MT_EUNSUPPORTED naming the file, tensor and dtype. */
int mt_st_to_f32(const mt_st_tensor *t, float *dst, mt_err *e);

const char *mt_dtype_name(mt_dtype d);
float mt_f16_to_f32(uint16_t h);
float mt_bf16_to_f32(uint16_t h);
uint16_t mt_f32_to_f16(float f);  /* round to nearest even */
uint16_t mt_f32_to_bf16(float f); /* round to nearest even */

#endif
