/* Weight loading shared by the model families: finds tensors under current or legacy names,
 * checks shapes against config.json, converts to f32 into one arena (two passes: the first
 * counts and validates, the second fills), and rejects non-finite values. Weight matrices
 * (mt_loader_get_w) stored as f16/bf16 stay so: in place in the file's mapping when they need
 * no rearranging (the caller then keeps the file open), else copied into a second arena of
 * 16-bit values. MT_WEIGHTS=f32 converts them to f32 like everything else. */
#ifndef MT_LOADER_H
#define MT_LOADER_H

#include "mt_gguf.h"
#include "mt_kernels.h"
#include "mt_safetensors.h"

typedef struct mt_loader mt_loader;
struct mt_loader {
    const mt_safetensors *st; /* one of st and gguf */
    const mt_gguf *gguf;
    /* GGUF: maps an HF tensor name to the GGUF one (0 if it has none), and fixes a converted
     * tensor up afterwards (e.g. undoing llama.cpp's Q/K row permutation); either may be NULL. */
    int (*gguf_name)(const mt_loader *L, const char *hf, char *out, size_t n);
    /* gguf_fix rearranges rows of elem-byte values; with data NULL it only says whether it would. */
    int (*gguf_fix)(const mt_loader *L, const char *hf, void *data, size_t elem, int64_t d0, int64_t d1);
    const void *user;
    const char *dir;
    const char *prefix; /* optional model prefix ("bert.", "transformer."): tried with and without */
    float *next;        /* next free arena slot; NULL during the counting pass */
    size_t count;       /* floats reserved so far */
    uint16_t *hnext;    /* next free slot of the 16-bit arena; NULL during the counting pass */
    size_t hcount;      /* 16-bit values reserved so far */
    int aliased;        /* some weights point into the checkpoint's mapping */
    mt_err *e;
};

/* Finds `name`, or the name without/with the prefix, or LayerNorm gamma/beta for weight/bias. */
const mt_st_tensor *mt_loader_find(const mt_loader *L, const char *name);
/* Whether the checkpoint (safetensors or GGUF) holds the tensor named `name` in HF terms. */
int mt_loader_has(const mt_loader *L, const char *name);

/* Reserves n floats of the arena (NULL during the counting pass). */
float *mt_loader_take(mt_loader *L, size_t n);

/* Reads tensor `name` of shape [d0] (d1 == 0) or [d0, d1] into dst (skipped when dst is NULL).
 * transpose: the file holds [d1, d0] (GPT-2 Conv1D) and dst receives [d0, d1].
 * optional: an absent tensor sets *found = 0 instead of failing. */
int mt_loader_read(mt_loader *L, const char *name, int64_t d0, int64_t d1, int transpose, int optional,
                   float *dst, int *found);

/* take + read: the common case. *dst is NULL when the tensor is optional and absent. */
int mt_loader_get(mt_loader *L, float **dst, const char *name, int64_t d0, int64_t d1, int optional);

/* A weight matrix [d0, d1] (transpose: the file holds [d1, d0]): f16/bf16 kept as stored (see
 * above), anything else converted to f32. optional: absent leaves dst->p NULL. */
int mt_loader_get_w(mt_loader *L, mt_w *dst, const char *name, int64_t d0, int64_t d1, int transpose, int optional);

/* After the counting pass: allocates the arenas (*arena for the floats, *harena for the 16-bit
 * values; either NULL when empty) and points the loader at them for the filling pass. */
int mt_loader_alloc(mt_loader *L, float **arena, uint16_t **harena);

#endif
