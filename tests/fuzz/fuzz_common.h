/* Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c) and their regression test
 * (tests/unit/test_fuzz_regress.c). The readers take paths, so each input is written to a file
 * in a private scratch folder and the real loader is called on it.
 *
 * A harness file defines `int fuzz_<name>_one(const uint8_t *d, size_t n)` and, unless
 * MT_FUZZ_NO_MAIN is defined, LLVMFuzzerTestOneInput calling it; the regression test includes
 * every harness file with MT_FUZZ_NO_MAIN so `make test` runs the same bodies without libFuzzer. */
#ifndef MT_FUZZ_COMMON_H
#define MT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mt_common.h"

/* A broken contract (message not one line, lookup mismatch): aborts under libFuzzer so the input
 * is kept; counted in the regression test so it reports a failure and goes on. */
#ifdef MT_FUZZ_NO_MAIN
static int fz_bugs;
#define FZ_BUG(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); fz_bugs++; } while (0)
#else
#define FZ_BUG(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#endif

static char fz_dir_buf[512];

static void fz_cleanup(void) {
    if (!fz_dir_buf[0]) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir_buf);
    if (system(cmd)) { /* best effort */ }
}

/* The scratch folder: $MT_FUZZ_TMP (tests/fuzz/run.sh points it at /dev/shm when it can),
 * else /tmp; one sub-folder per process, removed at exit. */
static const char *fz_dir(void) {
    if (!fz_dir_buf[0]) {
        const char *base = getenv("MT_FUZZ_TMP");
        if (!base || !*base) base = "/tmp";
        snprintf(fz_dir_buf, sizeof fz_dir_buf, "%s/mt-fuzz-%d", base, (int)getpid());
        mkdir(fz_dir_buf, 0700);
        atexit(fz_cleanup);
    }
    return fz_dir_buf;
}

/* Writes d[0..n) to <scratch>/<name> and returns the path (static buffer per slot). */
static const char *fz_write(int slot, const char *name, const uint8_t *d, size_t n) {
    static char paths[4][600];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", fz_dir(), name);
    FILE *f = fopen(paths[slot], "wb");
    if (!f) abort();
    if (n && fwrite(d, 1, n, f) != n) abort();
    if (fclose(f)) abort();
    return paths[slot];
}

/* An mt_err must hold exactly one non-empty line when a loader fails: the error contract. */
static void fz_check_err(int rc, const mt_err *e) {
    if (rc == MT_OK) return;
    if (!e->msg[0] || strchr(e->msg, '\n')) FZ_BUG("bad error message for rc %d: '%s'", rc, e->msg);
}

#endif
