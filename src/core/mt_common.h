/* matrice: status codes, error messages and small helpers shared by every module.
 *
 * Library functions return an int status (MT_OK = 0) and, on failure, fill an mt_err with
 * one line that names the file and the field at fault. Only the CLI prints and exits. */
#ifndef MT_COMMON_H
#define MT_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    MT_OK = 0,
    MT_EIO = 1,          /* a file could not be opened, read, mapped or written */
    MT_EFORMAT = 2,      /* a file is malformed, truncated or inconsistent */
    MT_EUNSUPPORTED = 3, /* a valid input this program does not handle (dtype, architecture) */
    MT_ENOMEM = 4,       /* an allocation failed */
    MT_EINVAL = 5,       /* a bad argument: query without [Y], empty answer, bad option */
    MT_ENUMERIC = 6,     /* NaN or Inf met in a computation */
    MT_EINTERRUPTED = 7  /* stopped on request (SIGINT/SIGTERM); finished work is kept */
};

#define MT_ERR_MAX 1024

typedef struct mt_err {
    int code;
    char msg[MT_ERR_MAX];
} mt_err;

/* Formats the message into e (if not NULL) and returns code, so callers can write
 * `return mt_fail(e, MT_EFORMAT, "%s: field 'x': ...", path);`. */
int mt_fail(mt_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (used to add the file name on the way up). */
void mt_err_prefix(mt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *mt_status_name(int code);

/* Allocation that never returns NULL silently: NULL means the caller must fail with MT_ENOMEM. */
void *mt_malloc(size_t n);
void *mt_calloc(size_t n, size_t size);
void *mt_realloc(void *p, size_t n);
char *mt_strdup(const char *s);

/* Lays out float arrays in one arena in two passes: with *cur == NULL only counts (bytes in
 * *total); with *cur pointing into an arena of that size, returns the next 64-byte-aligned
 * slot of n floats. */
float *mt_arena_take(char **cur, size_t n, size_t *total);

/* Reads a whole file into a NUL-terminated buffer. */
int mt_read_file(const char *path, char **data, size_t *len, mt_err *e);

/* Joins a directory and a file name into a new string ("dir/name"). */
char *mt_path_join(const char *dir, const char *name);
int mt_file_exists(const char *path);

#endif
