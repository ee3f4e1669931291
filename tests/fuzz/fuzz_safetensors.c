/* Fuzzes the safetensors reader: header JSON and tensor layout of a single file and, when the
 * input starts with '{', a sharded model.safetensors.index.json next to the two real shards of
 * tests/golden/models/bert_sharded (symlinked; run from the repository root). Every tensor that
 * opens is converted to f32 when its dtype allows, to touch all the mapped bytes. */
#include "fuzz_common.h"
#include "mt_safetensors.h"

int fuzz_safetensors_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path;
    if (n && d[0] == '{') {
        static int linked;
        if (!linked) {
            char cwd[400], src[600], dst[700];
            if (!getcwd(cwd, sizeof cwd)) abort();
            for (int k = 1; k <= 2; k++) {
                snprintf(src, sizeof src, "%s/tests/golden/models/bert_sharded/model-0000%d-of-00002.safetensors", cwd, k);
                snprintf(dst, sizeof dst, "%s/model-0000%d-of-00002.safetensors", fz_dir(), k);
                if (symlink(src, dst) && access(dst, F_OK)) abort();
            }
            linked = 1;
        }
        path = fz_write(0, "model.safetensors.index.json", d, n);
    } else {
        path = fz_write(0, "model.safetensors", d, n);
    }
    mt_safetensors *st = NULL;
    int rc = mt_st_open(path, &st, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    for (int i = 0; i < mt_st_count(st); i++) {
        const mt_st_tensor *t = mt_st_at(st, i);
        if (mt_st_find(st, t->name) != t) FZ_BUG("mt_st_find(%s) differs", t->name);
        if (t->numel > (1 << 22)) continue;
        float *buf = malloc(((size_t)t->numel + 1) * sizeof *buf);
        if (!buf) abort();
        rc = mt_st_to_f32(t, buf, &e);
        fz_check_err(rc, &e);
        free(buf);
    }
    mt_st_close(st);
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_safetensors_one(d, n); }
#endif
