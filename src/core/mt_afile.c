#include "mt_afile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


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
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int rc = mt_fail(e, MT_EIO, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
        free(a->path);
        free(a->tmp);
        memset(a, 0, sizeof *a);
        return rc;
    }
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        close(fd);
        unlink(a->tmp);
        free(a->path);
        free(a->tmp);
        memset(a, 0, sizeof *a);
        return mt_fail(e, MT_EIO, "%s: cannot open for writing", path);
    }
    return MT_OK;
}

void mt_afile_abort(mt_afile *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

int mt_afile_commit(mt_afile *a, mt_err *e) {
    int bad = fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0;
    int err = errno;
    if (fclose(a->f) != 0) bad = 1;
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
