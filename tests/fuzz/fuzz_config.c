/* Fuzzes config.json (mt_config_load): JSON parsing, architecture dispatch, field checks. */
#include "fuzz_common.h"
#include "mt_config.h"

int fuzz_config_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path = fz_write(0, "config.json", d, n);
    mt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) abort();
    int rc = mt_config_load(path, cfg, &e);
    fz_check_err(rc, &e);
    if (!rc) (void)mt_arch_name(cfg->arch);
    free(cfg);
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_config_one(d, n); }
#endif
