/* Minimal test harness: each test program includes this once, uses CHECK/CHECK_CLOSE, and
 * ends main with `return mt_test_report();`, which prints "N passed, N failed". */
#ifndef MT_TEST_H
#define MT_TEST_H
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_npy.h"

static int mt_test_passed, mt_test_failed;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (cond) {                                                                         \
            mt_test_passed++;                                                               \
        } else {                                                                            \
            mt_test_failed++;                                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                     \
            printf(__VA_ARGS__);                                                            \
            printf("\n");                                                                   \
        }                                                                                   \
    } while (0)

/* Removes a test's temporary folder and everything below it. */
static inline void mt_test_rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[1024];
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            mt_test_rm_rf(p);
        else
            unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* A golden .npy of exactly `want` floats (malloc'ed), or NULL after a failed check. */
static inline float *mt_test_npy(const char *path, size_t want) {
    float *d = NULL;
    int nd;
    int64_t sh[8];
    mt_err e;
    if (mt_npy_read_f32(path, &d, &nd, sh, &e)) {
        CHECK(0, "%s", e.msg);
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)sh[i];
    if (n != want) {
        CHECK(0, "%s: %zu values, expected %zu", path, n, want);
        free(d);
        return NULL;
    }
    return d;
}

/* max |got - ref| over max |ref| (NaN propagates): the relative error every golden check uses. */
static inline double mt_test_max_rel(const float *got, const float *ref, size_t n) {
    double md = 0, mx = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= md)) md = d;
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
    }
    return md / mx;
}

static inline int mt_test_report(void) {
    printf("%d passed, %d failed\n", mt_test_passed, mt_test_failed);
    return mt_test_failed ? 1 : 0;
}
#endif
