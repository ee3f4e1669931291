/* Shared command-line plumbing for the subcommands: --name value options and flags, positional
 * arguments, typed values, and the one-line error convention (exit 2: usage, 1: failure). */
#ifndef MT_CLI_H
#define MT_CLI_H

#include <jansson.h>

#include "mt_common.h"

typedef struct mt_cli_opt {
    const char *name;
    const char *value; /* NULL when absent; "" for a flag that is present */
    int is_flag;
} mt_cli_opt;

typedef struct mt_cli {
    const char *cmd;   /* "locate", "data build", ... */
    const char *usage; /* printed after a usage error */
} mt_cli;

/* Prints "matrice CMD: msg arg" and the usage; returns 2. */
int mt_cli_usage(const mt_cli *c, const char *msg, const char *arg);
/* Fills o from argv; arguments not starting with "--" go to pos (at most max_pos of them). */
int mt_cli_parse(const mt_cli *c, int argc, char **argv, mt_cli_opt *o, int n, const char **pos, int max_pos,
                 int *n_pos);
const char *mt_cli_get(const mt_cli_opt *o, int n, const char *name);
/* Typed values of option `name` (value s); usage error (2) when malformed or out of range. */
int mt_cli_long(const mt_cli *c, const char *name, const char *s, long lo, long hi, long *out);
int mt_cli_int(const mt_cli *c, const char *name, const char *s, int lo, int hi, int *out);
int mt_cli_num(const mt_cli *c, const char *name, const char *s, double lo, double hi, double *out);
/* Index of s in the NULL-terminated choices, or a usage error (returned as -2). */
int mt_cli_choice(const mt_cli *c, const char *name, const char *s, const char *const *choices);
/* Splits "a,b,c" into a malloc'ed array of pointers into a malloc'ed copy (free both: (*items)[0],
 * then *items). MT_EINVAL on an empty list or an empty item. */
int mt_cli_list(const char *s, char ***items, int *n);
/* Prints "matrice CMD: message"; returns 1. */
int mt_cli_fail(const mt_cli *c, const mt_err *e);
/* Prints a JSON document on stdout (indented) and frees it. */
void mt_cli_emit(json_t *doc);

#endif
