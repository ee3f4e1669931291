/* Fuzzes the per-fact localization result reader (mt_locate_result_load, src/attr): JSON,
 * schema, fact id, status, neuron lists inside the model's shape. */
#include "fuzz_common.h"
#include "mt_locate.h"

int fuzz_result_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path = fz_write(0, "P17_Q1_Q2.json", d, n);
    json_t *r = NULL;
    int rc = mt_locate_result_load(path, &r, &e);
    fz_check_err(rc, &e);
    if (!rc) {
        if (!r) FZ_BUG("result loaded but NULL");
        json_decref(r);
    }
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_result_one(d, n); }
#endif
