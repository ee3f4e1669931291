#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mt_cli_usage(const mt_cli *c, const char *msg, const char *arg) {
    fprintf(stderr, "matrice %s: %s%s%s\n%s", c->cmd, msg, arg ? " " : "", arg ? arg : "", c->usage ? c->usage : "");
    return 2;
}

int mt_cli_parse(const mt_cli *c, int argc, char **argv, mt_cli_opt *o, int n, const char **pos, int max_pos,
                 int *n_pos) {
    if (n_pos) *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2)) {
            if (!pos || !n_pos || *n_pos >= max_pos) return mt_cli_usage(c, "unexpected argument", argv[i]);
            pos[(*n_pos)++] = argv[i];
            continue;
        }
        int k = 0;
        while (k < n && strcmp(argv[i] + 2, o[k].name)) k++;
        if (k == n) return mt_cli_usage(c, "unknown option", argv[i]);
        if (o[k].value) return mt_cli_usage(c, "option given twice:", argv[i]);
        if (o[k].is_flag) {
            o[k].value = "";
        } else {
            if (i + 1 >= argc) return mt_cli_usage(c, "missing value for", argv[i]);
            o[k].value = argv[++i];
        }
    }
    return 0;
}

const char *mt_cli_get(const mt_cli_opt *o, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (!strcmp(o[k].name, name)) return o[k].value;
    return NULL;
}

int mt_cli_long(const mt_cli *c, const char *name, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "matrice %s: --%s must be an integer in [%ld, %ld], got '%s'\n", c->cmd, name, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

int mt_cli_int(const mt_cli *c, const char *name, const char *s, int lo, int hi, int *out) {
    long v;
    int rc = mt_cli_long(c, name, s, lo, hi, &v);
    if (!rc) *out = (int)v;
    return rc;
}

int mt_cli_num(const mt_cli *c, const char *name, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "matrice %s: --%s must be a number in [%g, %g], got '%s'\n", c->cmd, name, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

int mt_cli_choice(const mt_cli *c, const char *name, const char *s, const char *const *choices) {
    for (int i = 0; choices[i]; i++)
        if (!strcmp(s, choices[i])) return i;
    char msg[256] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(msg, i ? "|" : "", sizeof msg - strlen(msg) - 1);
        strncat(msg, choices[i], sizeof msg - strlen(msg) - 1);
    }
    fprintf(stderr, "matrice %s: --%s must be %s, got '%s'\n", c->cmd, name, msg, s);
    return -2;
}

int mt_cli_list(const char *s, char ***items, int *n) {
    size_t len = strlen(s);
    if (!len || s[0] == ',' || s[len - 1] == ',' || strstr(s, ",,")) return MT_EINVAL; /* no empty items */
    char *copy = strdup(s);
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    char **a = malloc(sizeof(char *) * cap);
    if (!copy || !a) {
        free(copy);
        free(a);
        return MT_ENOMEM;
    }
    int k = 0;
    a[k++] = copy; /* (*items)[0] is the buffer to free */
    for (char *p = copy; *p; p++)
        if (*p == ',') {
            *p = 0;
            a[k++] = p + 1;
        }
    *items = a;
    *n = k;
    return MT_OK;
}

int mt_cli_fail(const mt_cli *c, const mt_err *e) {
    fprintf(stderr, "matrice %s: %s\n", c->cmd, e->msg);
    return 1;
}

void mt_cli_emit(json_t *doc) {
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(doc);
}
