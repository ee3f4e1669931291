/* Minimal test harness: each test program includes this once, uses CHECK/CHECK_CLOSE, and
 * ends main with `return mt_test_report();`, which prints "N passed, N failed". */
#ifndef MT_TEST_H
#define MT_TEST_H
#include <math.h>
#include <stdio.h>

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

static inline int mt_test_report(void) {
    printf("%d passed, %d failed\n", mt_test_passed, mt_test_failed);
    return mt_test_failed ? 1 : 0;
}
#endif
