/* Atomic file writing: a temp file next to the target, renamed over it on commit after
 * fflush + fsync, then the folder fsync'ed. The temp file is unnamed (O_TMPFILE, so even a
 * SIGKILL leaves nothing) and gets the name "<path>.tmp.XXXXXX" only between link and rename at
 * commit; where O_TMPFILE is not supported it is a mkstemp file of that name. A crash or kill at any
 * moment leaves either the old file or the complete new one, never a partial file under the
 * target name. */
#ifndef MT_AFILE_H
#define MT_AFILE_H

#include <stdio.h>

#include "mt_common.h"

typedef struct mt_afile {
    FILE *f;
    char *tmp, *path;
    int anon; /* 1: an unnamed O_TMPFILE file, 2: linked as tmp during commit, 0: a mkstemp file */
} mt_afile;

int mt_afile_open(mt_afile *a, const char *path, mt_err *e);
/* Flushes, fsyncs, renames into place; on failure removes the temp file. */
int mt_afile_commit(mt_afile *a, mt_err *e);
/* Closes and removes the temp file (safe on a zeroed or finished mt_afile). */
void mt_afile_abort(mt_afile *a);
/* Writes the whole buffer to path atomically. */
int mt_afile_write(const char *path, const void *data, size_t n, mt_err *e);
/* Async-signal-safe: unlinks the temp files of the writes still open, for a SIGINT/SIGTERM
 * handler that then _exits (so an interrupted command leaves nothing behind). */
void mt_afile_remove_pending(void);

#endif
