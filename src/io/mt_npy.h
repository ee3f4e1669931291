/* NumPy .npy (format 1.0) reading and writing of little-endian float32 arrays. */
#ifndef MT_NPY_H
#define MT_NPY_H

#include "mt_common.h"

/* Writes atomically (mt_afile: an unnamed temp file, fsync, rename). */
int mt_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape, mt_err *e);
/* Reads '<f4' (or '<f8', converted) C-order arrays. *data is malloc'ed; shape has room for 8 dims. */
int mt_npy_read_f32(const char *path, float **data, int *ndim, int64_t *shape, mt_err *e);

#endif
