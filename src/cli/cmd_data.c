/* matrice data: the benchmark (docs/DATA_SCHEMA.md).
 *
 *   matrice data build    --raw DIR --langs en,de,... --out FILE [--max-per-relation N] [--seed S]
 *                         [--max-templates K] [--min-templates M] [--one-per-subject] [--report FILE]
 *   matrice data stats    FILE [--json]
 *   matrice data validate FILE [--max-errors N]
 *   matrice data filter   --model DIR --in FILE --out FILE [--min-prob P] [--require all|any]
 *
 * Exit status 0 on success, 2 on a usage error, 1 otherwise (errors: one line on stderr). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt_afile.h"
#include "cli.h"
#include "mt_data.h"

static const char *data_usage =
    "usage: matrice data <command> [options]\n"
    "  build    --raw DIR --langs en,de,fr,... --out FILE [--max-per-relation N] [--seed S]\n"
    "           [--max-templates K] [--min-templates M] [--one-per-subject] [--report FILE]\n"
    "  stats    FILE [--json]\n"
    "  validate FILE [--max-errors N]\n"
    "  filter   --model DIR --in FILE --out FILE [--min-prob P] [--require all|any]\n";

/* Options through cli.h; the command is named "data <cmd>" in messages. */
typedef mt_cli_opt dopt;

static mt_cli data_cli(const char *cmd) {
    static char name[64];
    snprintf(name, sizeof name, "data %s", cmd);
    return (mt_cli){name, data_usage};
}

static int usage(const char *cmd, const char *msg, const char *arg) {
    mt_cli c = data_cli(cmd);
    return mt_cli_usage(&c, msg, arg);
}

/* --name value pairs and flags; at most one positional argument (*pos). */
static int parse(const char *cmd, int argc, char **argv, dopt *o, int n, const char **pos) {
    mt_cli c = data_cli(cmd);
    int np = 0;
    return mt_cli_parse(&c, argc, argv, o, n, pos, pos ? 1 : 0, &np);
}

static int to_long(const char *cmd, const char *name, const char *s, long lo, long hi, long *out) {
    mt_cli c = data_cli(cmd);
    return mt_cli_long(&c, name, s, lo, hi, out);
}

static int fail(const char *cmd, const mt_err *e) {
    mt_cli c = data_cli(cmd);
    return mt_cli_fail(&c, e);
}

/* SIGINT/SIGTERM during build or filter: remove the temp files of the atomic writes, say so in
 * one line, exit 128 + signal; the output file is never left partial (the messages are built
 * beforehand because a handler may only call async-signal-safe functions). */
static char sig_msg[2][1200];

static void on_signal(int sig) {
    int k = sig == SIGINT ? 0 : 1;
    mt_afile_remove_pending();
    if (write(2, sig_msg[k], strlen(sig_msg[k])) < 0) { /* nothing more to do */ }
    _exit(128 + sig);
}

static void catch_signals(const char *cmd, const char *out) {
    snprintf(sig_msg[0], sizeof sig_msg[0], "matrice data %s: interrupted (SIGINT); %s not written\n", cmd, out);
    snprintf(sig_msg[1], sizeof sig_msg[1], "matrice data %s: terminated (SIGTERM); %s not written\n", cmd, out);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (s) {
        puts(s);
        free(s);
    }
}

static int cmd_build(int argc, char **argv) {
    dopt o[] = {{"raw", NULL, 0},  {"langs", NULL, 0},         {"out", NULL, 0},           {"max-per-relation", NULL, 0},
                {"seed", NULL, 0}, {"max-templates", NULL, 0}, {"min-templates", NULL, 0}, {"report", NULL, 0},
                {"one-per-subject", NULL, 1}};
    int n = sizeof o / sizeof *o, rc = parse("build", argc, argv, o, n, NULL);
    if (rc) return rc;
    const char *raw = mt_cli_get(o, n, "raw"), *langs = mt_cli_get(o, n, "langs"), *out = mt_cli_get(o, n, "out"), *v;
    if (!raw || !langs || !out) return usage("build", "--raw, --langs and --out are required", NULL);
    mt_data_build_opts bo;
    mt_data_build_opts_default(&bo);
    bo.raw_dir = raw;
    bo.report_path = mt_cli_get(o, n, "report");
    bo.one_per_subject = mt_cli_get(o, n, "one-per-subject") != NULL;
    long x;
    if ((v = mt_cli_get(o, n, "max-per-relation"))) {
        if ((rc = to_long("build", "max-per-relation", v, 0, 100000000, &x))) return rc;
        bo.max_per_relation = (int)x;
    }
    if ((v = mt_cli_get(o, n, "seed"))) {
        if ((rc = to_long("build", "seed", v, 0, 2147483647L, &x))) return rc;
        bo.seed = (uint64_t)x;
    }
    if ((v = mt_cli_get(o, n, "max-templates"))) {
        if ((rc = to_long("build", "max-templates", v, 1, 1000, &x))) return rc;
        bo.max_templates = (int)x;
    }
    if ((v = mt_cli_get(o, n, "min-templates"))) {
        if ((rc = to_long("build", "min-templates", v, 1, 1000, &x))) return rc;
        bo.min_templates = (int)x;
    }
    if (bo.min_templates > bo.max_templates) return usage("build", "--min-templates must not exceed --max-templates", NULL);
    /* split the language list */
    char *copy = strdup(langs);
    const char *codes[64];
    int nl = 0;
    if (!copy) {
        fprintf(stderr, "matrice data build: out of memory\n");
        return 1;
    }
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (nl == 64) {
            free(copy);
            return usage("build", "at most 64 languages", NULL);
        }
        codes[nl++] = tok;
    }
    if (nl == 0) {
        free(copy);
        return usage("build", "--langs needs at least one language code", NULL);
    }
    for (int i = 0; i < nl; i++)
        if (!mt_data_lang_find(codes[i])) {
            fprintf(stderr, "matrice data build: unknown language '%s' in --langs\n%s", codes[i], data_usage);
            free(copy);
            return 2;
        }
    bo.langs = codes;
    bo.n_langs = nl;
    mt_err e = {0};
    mt_data_build_info info;
    catch_signals("build", out);
    rc = mt_data_build(&bo, out, &info, &e);
    free(copy);
    if (rc) return fail("build", &e);
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I}", "out", out, "facts", (json_int_t)info.facts, "queries",
                          (json_int_t)info.queries, "relations", (json_int_t)info.relations, "templates",
                          (json_int_t)info.templates);
    if (bo.report_path) json_object_set_new(j, "report", json_string(bo.report_path));
    print_json(j);
    json_decref(j);
    return 0;
}

static int cmd_stats(int argc, char **argv) {
    dopt o[] = {{"json", NULL, 1}};
    const char *file = NULL;
    int n = 1, rc = parse("stats", argc, argv, o, n, &file);
    if (rc) return rc;
    if (!file) return usage("stats", "a benchmark FILE is required", NULL);
    mt_err e = {0};
    json_t *st = NULL;
    if (mt_data_stats(file, &st, &e)) return fail("stats", &e);
    if (mt_cli_get(o, n, "json")) print_json(st);
    else {
        char *t = mt_data_stats_table(st);
        if (t) fputs(t, stdout);
        free(t);
    }
    json_decref(st);
    return 0;
}

static int cmd_validate(int argc, char **argv) {
    dopt o[] = {{"max-errors", NULL, 0}};
    const char *file = NULL;
    int n = 1, rc = parse("validate", argc, argv, o, n, &file);
    if (rc) return rc;
    if (!file) return usage("validate", "a benchmark FILE is required", NULL);
    long maxe = 20;
    if (mt_cli_get(o, n, "max-errors") && (rc = to_long("validate", "max-errors", mt_cli_get(o, n, "max-errors"), 1, 1000000, &maxe)))
        return rc;
    mt_err e = {0};
    mt_data_problems p;
    rc = mt_data_validate(file, (int)maxe, &p, &e);
    if (rc == MT_OK) {
        printf("%s: valid (%ld facts)\n", file, p.facts);
    } else if (rc == MT_EFORMAT) {
        for (int i = 0; i < p.n_msg; i++) fprintf(stderr, "%s\n", p.msg[i]);
        if (p.n > p.n_msg) fprintf(stderr, "... %ld more\n", p.n - p.n_msg);
        fprintf(stderr, "%s: %ld problem%s in %ld fact lines\n", file, p.n, p.n == 1 ? "" : "s", p.facts);
    } else {
        fail("validate", &e);
    }
    mt_data_problems_free(&p);
    return rc ? 1 : 0;
}

static int cmd_filter(int argc, char **argv) {
    dopt o[] = {{"model", NULL, 0}, {"in", NULL, 0}, {"out", NULL, 0}, {"min-prob", NULL, 0}, {"require", NULL, 0}};
    int n = sizeof o / sizeof *o, rc = parse("filter", argc, argv, o, n, NULL);
    if (rc) return rc;
    const char *model = mt_cli_get(o, n, "model"), *in = mt_cli_get(o, n, "in"), *out = mt_cli_get(o, n, "out"), *v;
    if (!model || !in || !out) return usage("filter", "--model, --in and --out are required", NULL);
    mt_data_filter_opts fo = {-1.0, 1, model};
    if ((v = mt_cli_get(o, n, "min-prob"))) {
        char *end;
        double p = strtod(v, &end);
        if (!*v || *end || !(p >= 0 && p <= 1)) {
            fprintf(stderr, "matrice data filter: --min-prob must be a number in [0, 1], got '%s'\n", v);
            return 2;
        }
        fo.min_prob = p;
    }
    if ((v = mt_cli_get(o, n, "require"))) {
        if (!strcmp(v, "all")) fo.require_all = 1;
        else if (!strcmp(v, "any")) fo.require_all = 0;
        else return usage("filter", "--require must be all or any, got", v);
    }
    mt_err e = {0};
    mt_data_scorer s;
    if (mt_data_scorer_open(model, &s, &e)) return fail("filter", &e);
    mt_data_filter_info info;
    catch_signals("filter", out);
    rc = mt_data_filter(in, out, &s, &fo, &info, &e);
    mt_data_scorer_close(&s);
    if (rc) return fail("filter", &e);
    size_t k = strlen(out);
    char *dropped = malloc(k + 16);
    if (!dropped) return 1;
    snprintf(dropped, k + 16, "%s.dropped.jsonl", out);
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I}", "out", out, "dropped_file", dropped, "kept", (json_int_t)info.kept,
                          "dropped", (json_int_t)info.dropped, "queries_scored", (json_int_t)info.queries_scored);
    print_json(j);
    json_decref(j);
    free(dropped);
    return 0;
}

int mt_cmd_data(int argc, char **argv) {
    if (argc < 1) {
        fputs(data_usage, stderr);
        return 2;
    }
    const char *c = argv[0];
    if (!strcmp(c, "build")) return cmd_build(argc - 1, argv + 1);
    if (!strcmp(c, "stats")) return cmd_stats(argc - 1, argv + 1);
    if (!strcmp(c, "validate")) return cmd_validate(argc - 1, argv + 1);
    if (!strcmp(c, "filter")) return cmd_filter(argc - 1, argv + 1);
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        fputs(data_usage, stdout);
        return 0;
    }
    fprintf(stderr, "matrice data: unknown command '%s'\n%s", c, data_usage);
    return 2;
}
