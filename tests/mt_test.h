/* Minimal test harness: each test program includes this once, uses CHECK/CHECK_CLOSE, and
 * ends main with `return mt_test_report();`, which prints "N passed, N failed". */
#ifndef MT_TEST_H
#define MT_TEST_H
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static inline int mt_test_report(void) {
    printf("%d passed, %d failed\n", mt_test_passed, mt_test_failed);
    return mt_test_failed ? 1 : 0;
}
#endif
