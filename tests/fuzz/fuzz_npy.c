/* Fuzzes the .npy reader (mt_npy_read_f32): magic, version, header dict, shape, dtype, size. */
#include "fuzz_common.h"
#include "mt_npy.h"

int fuzz_npy_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path = fz_write(0, "a.npy", d, n);
    float *data = NULL;
    int ndim = 0;
    int64_t shape[8];
    int rc = mt_npy_read_f32(path, &data, &ndim, shape, &e);
    fz_check_err(rc, &e);
    if (!rc) {
        int64_t numel = 1;
        for (int i = 0; i < ndim; i++) numel *= shape[i];
        volatile float s = 0;
        for (int64_t i = 0; i < numel; i++) s += data[i]; /* ASan checks the size claim */
        free(data);
    }
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_npy_one(d, n); }
#endif
