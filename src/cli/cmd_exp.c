/* matrice evaluate | edit | enhance | inject (docs/EXPERIMENTS.md): each prints its JSON on
 * stdout, or writes it atomically to --out FILE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mt_afile.h"
#include "mt_exp.h"

static const char *eval_usage =
    "usage: matrice evaluate --model DIR --data FILE --neurons RESULTS[,RESULTS...] [--control random|none]\n"
    "         [--langs en,de,...] [--queries N] [--facts N] [--set lakn|LANG] [--bootstrap B] [--seed S]\n"
    "         [--out FILE]\n"
    "RESULTS: a merged JSONL of matrice merge, or a matrice locate --out folder (one per method).\n";
static const char *edit_usage =
    "usage: matrice edit --model DIR --data FILE --neurons RESULTS --fact ID --new-object TEXT\n"
    "         [--new-objects zh=TEXT,ja=TEXT] [--lang L] [--langs ...] [--lambda1 1] [--lambda2 8]\n"
    "         [--unrelated N] [--seed S] [--mode weight] [--save PATH] [--out FILE]\n";
static const char *enh_usage =
    "usage: matrice enhance --model DIR --data FILE --neurons RESULTS [--factor 2] [--langs ...] [--facts N]\n"
    "         [--unrelated N] [--seed S] [--out FILE]\n";
static const char *inj_usage =
    "usage: matrice inject --model DIR --facts FILE --lang L --neurons lakn|random|all-ffn [--results RESULTS]\n"
    "         [--unrelated FILE] [--langs ...] [--value] [--epochs N] [--lr X] [--weight-decay X] [--seed S]\n"
    "         [--save PATH] [--out FILE]\n";

/* Prints doc or writes it to path atomically. */
static int emit_to(const mt_cli *c, json_t *doc, const char *path) {
    if (!path) {
        mt_cli_emit(doc);
        return 0;
    }
    char *s = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(7));
    json_decref(doc);
    mt_err e = {0};
    int rc = s ? mt_afile_write(path, s, strlen(s), &e) : mt_fail(&e, MT_ENOMEM, "out of memory");
    free(s);
    return rc ? mt_cli_fail(c, &e) : 0;
}

typedef struct {
    mt_tokenizer *tok;
    mt_model *m;
    mt_dataset d;
    char **langs;
    int n_langs;
} common;

static void common_free(common *x) {
    mt_model_free(x->m);
    mt_tok_free(x->tok);
    mt_dataset_free(&x->d);
    if (x->langs) free(x->langs[0]);
    free(x->langs);
}

/* --model, --data (or the file named data_opt) and --langs. */
static int common_load(const mt_cli *c, const mt_cli_opt *o, int n, const char *data_opt, common *x) {
    memset(x, 0, sizeof *x);
    const char *model = mt_cli_get(o, n, "model"), *data = mt_cli_get(o, n, data_opt), *v;
    if (!model || !data) {
        char msg[64];
        snprintf(msg, sizeof msg, "--model and --%s are required", data_opt);
        return mt_cli_usage(c, msg, NULL);
    }
    if ((v = mt_cli_get(o, n, "langs")) && mt_cli_list(v, &x->langs, &x->n_langs))
        return mt_cli_usage(c, "--langs must be a comma-separated list, got", v);
    mt_err e = {0};
    if (mt_dataset_load(data, &x->d, &e) ||
        (x->langs && mt_dataset_check_langs(&x->d, (const char *const *)x->langs, x->n_langs, &e)) ||
        mt_tok_load(model, &x->tok, &e) || mt_model_load(model, &x->m, &e))
        return mt_cli_fail(c, &e);
    return 0;
}

static void on_progress(void *ctx, long done, long total) {
    if (!*(int *)ctx) fprintf(stderr, "evaluate: %ld/%ld facts\n", done, total);
}

/* The tail every results-based command shares: load the model, data and --neurons results, run
 * fn, print or write its document. */
typedef int (*results_fn)(common *x, const mt_results *res, void *ctx, json_t **doc, mt_err *e);

static int run_on_results(const mt_cli *c, const mt_cli_opt *o, int n, results_fn fn, void *ctx) {
    common x;
    mt_results res = {0};
    mt_err e = {0};
    json_t *doc = NULL;
    int rc = common_load(c, o, n, "data", &x);
    if (!rc) {
        if (mt_results_load(mt_cli_get(o, n, "neurons"), &res, &e) || fn(&x, &res, ctx, &doc, &e))
            rc = mt_cli_fail(c, &e);
        else
            rc = emit_to(c, doc, mt_cli_get(o, n, "out"));
    }
    mt_results_free(&res);
    common_free(&x);
    return rc;
}

static int edit_fn(common *x, const mt_results *res, void *ctx, json_t **doc, mt_err *e) {
    mt_edit_opts *eo = ctx;
    eo->langs = (const char *const *)x->langs;
    eo->n_langs = x->n_langs;
    return mt_edit(x->m, x->tok, &x->d, res, eo, doc, e);
}

static int enhance_fn(common *x, const mt_results *res, void *ctx, json_t **doc, mt_err *e) {
    mt_enhance_opts *eo = ctx;
    eo->langs = (const char *const *)x->langs;
    eo->n_langs = x->n_langs;
    return mt_enhance(x->m, x->tok, &x->d, res, eo, doc, e);
}

int mt_cmd_evaluate(int argc, char **argv) {
    mt_cli c = {"evaluate", eval_usage};
    mt_cli_opt o[] = {{"model", NULL, 0},     {"data", NULL, 0},    {"neurons", NULL, 0}, {"control", NULL, 0},
                      {"langs", NULL, 0},     {"queries", NULL, 0}, {"facts", NULL, 0},   {"set", NULL, 0},
                      {"bootstrap", NULL, 0}, {"seed", NULL, 0},    {"out", NULL, 0},     {"quiet", NULL, 1}};
    const int n = sizeof o / sizeof *o;
    int rc = mt_cli_parse(&c, argc, argv, o, n, NULL, 0, NULL);
    if (rc) return rc;
    mt_eval_opts eo;
    mt_eval_opts_default(&eo);
    eo.control_random = 1;
    const char *v, *nv = mt_cli_get(o, n, "neurons");
    long seed = 0;
    int quiet = mt_cli_get(o, n, "quiet") != NULL;
    if (!nv) return mt_cli_usage(&c, "--neurons is required", NULL);
    if ((v = mt_cli_get(o, n, "control"))) {
        static const char *const ch[] = {"random", "none", NULL};
        int k = mt_cli_choice(&c, "control", v, ch);
        if (k < 0) return 2;
        eo.control_random = k == 0;
    }
    if (((v = mt_cli_get(o, n, "queries")) && (rc = mt_cli_int(&c, "queries", v, 0, 1 << 20, &eo.max_queries))) ||
        ((v = mt_cli_get(o, n, "facts")) && (rc = mt_cli_long(&c, "facts", v, 0, 1L << 40, &eo.max_facts))) ||
        ((v = mt_cli_get(o, n, "bootstrap")) && (rc = mt_cli_int(&c, "bootstrap", v, 0, 1000000, &eo.bootstrap))) ||
        ((v = mt_cli_get(o, n, "seed")) && (rc = mt_cli_long(&c, "seed", v, 0, 1L << 62, &seed))))
        return rc;
    eo.seed = (uint64_t)seed;
    if ((v = mt_cli_get(o, n, "set")) && strcmp(v, "lakn")) eo.set_lang = v;
    char **paths = NULL;
    int np = 0;
    if (mt_cli_list(nv, &paths, &np)) return mt_cli_usage(&c, "--neurons must be a comma-separated list, got", nv);
    common x;
    mt_results *sets = calloc(np, sizeof(mt_results));
    json_t *doc = NULL;
    mt_err e = {0};
    int loaded = 0;
    if (!(rc = common_load(&c, o, n, "data", &x))) {
        for (; loaded < np && !rc; loaded++)
            if (mt_results_load(paths[loaded], &sets[loaded], &e)) {
                rc = mt_cli_fail(&c, &e);
                break;
            }
        eo.langs = (const char *const *)x.langs;
        eo.n_langs = x.n_langs;
        eo.progress = on_progress;
        eo.ctx = &quiet;
        if (!rc && mt_evaluate(x.m, x.tok, &x.d, sets, np, &eo, &doc, &e)) rc = mt_cli_fail(&c, &e);
        if (!rc) rc = emit_to(&c, doc, mt_cli_get(o, n, "out"));
    }
    for (int i = 0; i < loaded && i < np; i++) mt_results_free(&sets[i]);
    free(sets);
    free(paths[0]);
    free(paths);
    common_free(&x);
    return rc;
}

int mt_cmd_edit(int argc, char **argv) {
    mt_cli c = {"edit", edit_usage};
    mt_cli_opt o[] = {{"model", NULL, 0},   {"data", NULL, 0},        {"neurons", NULL, 0}, {"fact", NULL, 0},
                      {"new-object", NULL, 0}, {"new-objects", NULL, 0}, {"lang", NULL, 0},    {"langs", NULL, 0},
                      {"lambda1", NULL, 0}, {"lambda2", NULL, 0},     {"unrelated", NULL, 0}, {"seed", NULL, 0},
                      {"mode", NULL, 0},    {"save", NULL, 0},        {"out", NULL, 0}};
    const int n = sizeof o / sizeof *o;
    int rc = mt_cli_parse(&c, argc, argv, o, n, NULL, 0, NULL);
    if (rc) return rc;
    mt_edit_opts eo = {0};
    eo.lambda1 = 1;
    eo.lambda2 = 8;
    eo.n_unrelated = 20;
    const char *v;
    double l1 = 1, l2 = 8;
    long seed = 0;
    if (!mt_cli_get(o, n, "fact") || !mt_cli_get(o, n, "neurons") ||
        (!mt_cli_get(o, n, "new-object") && !mt_cli_get(o, n, "new-objects")))
        return mt_cli_usage(&c, "--fact, --neurons and --new-object (or --new-objects) are required", NULL);
    if ((v = mt_cli_get(o, n, "mode")) && strcmp(v, "weight"))
        return mt_cli_usage(&c, "--mode: only 'weight' (value-vector edits) is implemented, got", v);
    if (((v = mt_cli_get(o, n, "lambda1")) && (rc = mt_cli_num(&c, "lambda1", v, -1e6, 1e6, &l1))) ||
        ((v = mt_cli_get(o, n, "lambda2")) && (rc = mt_cli_num(&c, "lambda2", v, -1e6, 1e6, &l2))) ||
        ((v = mt_cli_get(o, n, "unrelated")) && (rc = mt_cli_int(&c, "unrelated", v, 0, 100000, &eo.n_unrelated))) ||
        ((v = mt_cli_get(o, n, "seed")) && (rc = mt_cli_long(&c, "seed", v, 0, 1L << 62, &seed))))
        return rc;
    eo.lambda1 = (float)l1;
    eo.lambda2 = (float)l2;
    eo.seed = (uint64_t)seed;
    eo.fact_id = mt_cli_get(o, n, "fact");
    eo.new_object = mt_cli_get(o, n, "new-object");
    eo.lang = mt_cli_get(o, n, "lang");
    eo.save_dir = mt_cli_get(o, n, "save");
    eo.model_dir = mt_cli_get(o, n, "model");
    if ((v = mt_cli_get(o, n, "new-objects"))) { /* zh=巴黎,ja=パリ */
        char **items;
        int ni;
        if (mt_cli_list(v, &items, &ni)) return mt_cli_usage(&c, "--new-objects must be LANG=TEXT,..., got", v);
        eo.new_objects = json_object();
        for (int i = 0; i < ni; i++) {
            char *eq = strchr(items[i], '=');
            if (!eq || eq == items[i]) {
                json_decref(eo.new_objects);
                free(items[0]);
                free(items);
                return mt_cli_usage(&c, "--new-objects must be LANG=TEXT,..., got", v);
            }
            *eq = 0;
            json_object_set_new(eo.new_objects, items[i], json_string(eq + 1));
        }
        free(items[0]);
        free(items);
    }
    rc = run_on_results(&c, o, n, edit_fn, &eo);
    json_decref(eo.new_objects);
    return rc;
}

int mt_cmd_enhance(int argc, char **argv) {
    mt_cli c = {"enhance", enh_usage};
    mt_cli_opt o[] = {{"model", NULL, 0}, {"data", NULL, 0},      {"neurons", NULL, 0}, {"factor", NULL, 0},
                      {"langs", NULL, 0}, {"facts", NULL, 0},     {"unrelated", NULL, 0}, {"seed", NULL, 0},
                      {"out", NULL, 0}};
    const int n = sizeof o / sizeof *o;
    int rc = mt_cli_parse(&c, argc, argv, o, n, NULL, 0, NULL);
    if (rc) return rc;
    mt_enhance_opts eo = {0};
    eo.factor = 2;
    eo.n_unrelated = 2;
    double factor = 2;
    long seed = 0;
    const char *v;
    if (!mt_cli_get(o, n, "neurons")) return mt_cli_usage(&c, "--neurons is required", NULL);
    if (((v = mt_cli_get(o, n, "factor")) && (rc = mt_cli_num(&c, "factor", v, -1e6, 1e6, &factor))) ||
        ((v = mt_cli_get(o, n, "facts")) && (rc = mt_cli_long(&c, "facts", v, 0, 1L << 40, &eo.max_facts))) ||
        ((v = mt_cli_get(o, n, "unrelated")) && (rc = mt_cli_int(&c, "unrelated", v, 0, 64, &eo.n_unrelated))) ||
        ((v = mt_cli_get(o, n, "seed")) && (rc = mt_cli_long(&c, "seed", v, 0, 1L << 62, &seed))))
        return rc;
    eo.factor = (float)factor;
    eo.seed = (uint64_t)seed;
    return run_on_results(&c, o, n, enhance_fn, &eo);
}

int mt_cmd_inject(int argc, char **argv) {
    mt_cli c = {"inject", inj_usage};
    mt_cli_opt o[] = {{"model", NULL, 0},  {"facts", NULL, 0}, {"lang", NULL, 0},   {"neurons", NULL, 0},
                      {"results", NULL, 0}, {"unrelated", NULL, 0}, {"langs", NULL, 0}, {"value", NULL, 1},
                      {"epochs", NULL, 0}, {"lr", NULL, 0},    {"weight-decay", NULL, 0}, {"seed", NULL, 0},
                      {"save", NULL, 0},   {"out", NULL, 0}};
    const int n = sizeof o / sizeof *o;
    int rc = mt_cli_parse(&c, argc, argv, o, n, NULL, 0, NULL);
    if (rc) return rc;
    mt_inject_opts io;
    mt_inject_opts_default(&io);
    const char *v;
    long seed = 0;
    if (!mt_cli_get(o, n, "lang") || !mt_cli_get(o, n, "neurons"))
        return mt_cli_usage(&c, "--lang and --neurons are required", NULL);
    static const char *const ch[] = {"lakn", "random", "all-ffn", NULL};
    int k = mt_cli_choice(&c, "neurons", mt_cli_get(o, n, "neurons"), ch);
    if (k < 0) return 2;
    io.choice = (mt_inject_choice)k;
    if (((v = mt_cli_get(o, n, "epochs")) && (rc = mt_cli_int(&c, "epochs", v, 0, 1000000, &io.epochs))) ||
        ((v = mt_cli_get(o, n, "lr")) && (rc = mt_cli_num(&c, "lr", v, 0, 1e3, &io.lr))) ||
        ((v = mt_cli_get(o, n, "weight-decay")) && (rc = mt_cli_num(&c, "weight-decay", v, 0, 1e3, &io.weight_decay))) ||
        ((v = mt_cli_get(o, n, "seed")) && (rc = mt_cli_long(&c, "seed", v, 0, 1L << 62, &seed))))
        return rc;
    io.seed = (uint64_t)seed;
    io.lang = mt_cli_get(o, n, "lang");
    io.with_value = mt_cli_get(o, n, "value") != NULL;
    io.save_dir = mt_cli_get(o, n, "save");
    io.model_dir = mt_cli_get(o, n, "model");
    common x;
    mt_results res = {0};
    mt_dataset un = {0};
    mt_err e = {0};
    json_t *doc = NULL;
    int have_res = 0, have_un = 0;
    if (!(rc = common_load(&c, o, n, "facts", &x))) {
        io.langs = (const char *const *)x.langs;
        io.n_langs = x.n_langs;
        if ((v = mt_cli_get(o, n, "results")) && !(have_res = !mt_results_load(v, &res, &e))) rc = mt_cli_fail(&c, &e);
        else if ((v = mt_cli_get(o, n, "unrelated")) && !(have_un = !mt_dataset_load(v, &un, &e))) rc = mt_cli_fail(&c, &e);
        else if (mt_inject(x.m, x.tok, &x.d, have_un ? &un : NULL, have_res ? &res : NULL, &io, &doc, &e))
            rc = mt_cli_fail(&c, &e);
        else
            rc = emit_to(&c, doc, mt_cli_get(o, n, "out"));
    }
    if (have_res) mt_results_free(&res);
    if (have_un) mt_dataset_free(&un);
    common_free(&x);
    return rc;
}
