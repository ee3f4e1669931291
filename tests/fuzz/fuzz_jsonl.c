/* Fuzzes the benchmark JSONL readers: mt_data_validate (schema and consistency checks),
 * mt_data_each_line and mt_data_stats on the same file. */
#include "fuzz_common.h"
#include "mt_data.h"

static int fz_line(void *ctx, int is_header, long lineno, json_t *j, const char *line, size_t len, mt_err *e) {
    (void)ctx; (void)is_header; (void)lineno; (void)line; (void)len; (void)e;
    if (!j) FZ_BUG("line %ld: no JSON", lineno);
    return 0;
}

int fuzz_jsonl_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path = fz_write(0, "bench.jsonl", d, n);
    mt_data_problems p = {0};
    int rc = mt_data_validate(path, 5, &p, &e);
    fz_check_err(rc, &e);
    for (int i = 0; i < p.n_msg; i++)
        if (!p.msg[i] || strchr(p.msg[i], '\n')) FZ_BUG("problem %d not one line", i);
    mt_data_problems_free(&p);
    rc = mt_data_each_line(path, fz_line, NULL, &e);
    fz_check_err(rc, &e);
    json_t *st = NULL;
    rc = mt_data_stats(path, &st, &e);
    fz_check_err(rc, &e);
    if (!rc) {
        free(mt_data_stats_table(st));
        json_decref(st);
    }
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_jsonl_one(d, n); }
#endif
