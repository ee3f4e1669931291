#include "mt_afile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Temp files of the writes in progress, read by mt_afile_remove_pending from a signal handler;
 * slots are claimed and released with atomic builtins (writers may run on several threads). */
#define PENDING_MAX 16
static char *volatile pending[PENDING_MAX];

static void pending_add(char *t) {
    for (int i = 0; i < PENDING_MAX; i++)
        if (__sync_bool_compare_and_swap(&pending[i], NULL, t)) return;
}

static void pending_del(char *t) {
    for (int i = 0; i < PENDING_MAX; i++)
        if (__sync_bool_compare_and_swap(&pending[i], t, NULL)) return;
}

void mt_afile_remove_pending(void) {
    for (int i = 0; i < PENDING_MAX; i++) {
        char *t = pending[i];
        if (t) unlink(t);
    }
}

/* Fills the XXXXXX at the end of t with letters that differ between calls and processes. */
static void fill_name(char *t) {
    static unsigned long counter;
    unsigned long x = (unsigned long)getpid() * 2654435761UL ^ (unsigned long)time(NULL) ^ (++counter * 40503UL) ^
                      (unsigned long)(uintptr_t)t;
    size_t n = strlen(t);
    for (size_t i = n - 6; i < n; i++) {
        t[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[x % 62];
        x = x / 62 + (x % 62) * 7919;
    }
}

int mt_afile_open(mt_afile *a, const char *path, mt_err *e) {
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = mt_strdup(path);
    a->tmp = malloc(n + 16);
    if (!a->path || !a->tmp) {
        free(a->path);
        free(a->tmp);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    snprintf(a->tmp, n + 16, "%s.tmp.XXXXXX", path);
    mode_t um = umask(0);
    umask(um);
    int fd = -1;
#ifdef O_TMPFILE
    char *d = access("/proc/self/fd", X_OK) == 0 ? mt_strdup(path) : NULL; /* commit links via /proc */
    if (d) {
        fd = open(dirname(d), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666 & ~um);
        free(d);
        if (fd >= 0) a->anon = 1;
    }
#endif
    if (fd < 0) {
        fd = mkstemp(a->tmp);
        if (fd < 0) {
            int rc = mt_fail(e, MT_EIO, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
            free(a->path);
            free(a->tmp);
            memset(a, 0, sizeof *a);
            return rc;
        }
        pending_add(a->tmp);
        (void)fchmod(fd, 0666 & ~um);
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        close(fd);
        if (!a->anon) {
            pending_del(a->tmp);
            unlink(a->tmp);
        }
        free(a->path);
        free(a->tmp);
        memset(a, 0, sizeof *a);
        return mt_fail(e, MT_EIO, "%s: cannot open for writing", path);
    }
    return MT_OK;
}

void mt_afile_abort(mt_afile *a) {
    if (a->f) fclose(a->f);
    if (a->tmp && a->anon != 1) { /* an unnamed file has nothing to remove */
        pending_del(a->tmp);
        unlink(a->tmp);
    }
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

/* Gives the unnamed file its temp name (a fresh one on a clash) so that rename can move it. */
static int link_anon(mt_afile *a) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(a->f));
    for (int tries = 0; tries < 100; tries++) {
        fill_name(a->tmp);
        pending_add(a->tmp);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, a->tmp, AT_SYMLINK_FOLLOW) == 0) {
            a->anon = 2;
            return 0;
        }
        int err = errno;
        pending_del(a->tmp);
        if (err != EEXIST) {
            errno = err;
            return -1;
        }
    }
    return -1;
}

int mt_afile_commit(mt_afile *a, mt_err *e) {
    int bad = fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0;
    int err = errno;
    if (!bad && a->anon == 1 && link_anon(a) != 0) {
        bad = 1;
        err = errno;
    }
    if (fclose(a->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    a->f = NULL;
    if (bad) {
        int rc = mt_fail(e, MT_EIO, "%s: write failed: %s", a->path, strerror(err));
        mt_afile_abort(a);
        return rc;
    }
    if (rename(a->tmp, a->path) != 0) {
        int rc = mt_fail(e, MT_EIO, "%s: cannot rename the temporary file into place: %s", a->path, strerror(errno));
        mt_afile_abort(a);
        return rc;
    }
    pending_del(a->tmp);
    char *d = mt_strdup(a->path);
    if (d) {
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(d);
    }
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
    return MT_OK;
}

int mt_afile_write(const char *path, const void *data, size_t n, mt_err *e) {
    mt_afile a;
    int rc = mt_afile_open(&a, path, e);
    if (rc) return rc;
    if (n && fwrite(data, 1, n, a.f) != n) {
        rc = mt_fail(e, MT_EIO, "%s: write failed: %s", path, strerror(errno));
        mt_afile_abort(&a);
        return rc;
    }
    return mt_afile_commit(&a, e);
}
