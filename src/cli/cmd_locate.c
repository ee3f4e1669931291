/* matrice locate: KN / AMIG / MATRICE over a benchmark file, one result file per fact
 * (docs/LOCATE.md); matrice merge: result folders -> one JSONL + summary.
 *
 * Built with MT_WITH_MPI (make mpi), `mpirun -np N matrice locate ...` gives rank r the shard
 * r/N of the facts, with the same output folder and layout as N separate --shard runs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef MT_WITH_MPI
#include <mpi.h>
#endif

#include "cli.h"
#include "mt_locate.h"

static const char *locate_usage =
    "usage: matrice locate --model DIR --data FILE --out DIR [--method kn|amig|matrice]\n"
    "         [--langs en,de,...] [--facts N] [--relations P36,P37] [--shard K/N] [--queries N]\n"
    "         [--baseline zero|amig] [--multiplier delta|activation] [--steps M] [--target prob|logprob]\n"
    "         [--threshold T] [--share P] [--lambda-q X] [--lambda-l X] [--rho R]\n"
    "         [--confidence prob|entropy|none] [--neuron down_input|gate|up|pre_act] [--top K]\n"
    "         [--keep-scores] [--reuse DIR] [--quiet]\n"
    "Re-running the same command resumes: finished facts are skipped. --reuse DIR aggregates the raw\n"
    "scores an earlier --keep-scores run left in DIR (same model, data and IG options) again.\n";

static const char *merge_usage = "usage: matrice merge DIR... --out FILE [--no-timings]\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

typedef struct {
    int quiet, rank;
    char banner[1024]; /* printed with the first progress line */
} progress_ctx;

static void fmt_eta(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e8) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

static void progress(void *ctx, const mt_loc_progress *p) {
    progress_ctx *c = ctx;
    if (c->quiet) return;
    char rank[32] = "";
    if (c->rank >= 0) snprintf(rank, sizeof rank, "[rank %d] ", c->rank);
    if (!p->fact) {
        fputs(c->banner, stderr);
        fprintf(stderr, "locate: %s%ld facts in this shard, %ld already finished\n", rank, p->total, p->resumed);
        return;
    }
    long new_done = p->done - p->resumed;
    double qps = p->elapsed > 0 ? p->queries / p->elapsed : 0;
    double eta = new_done > 0 ? p->elapsed / new_done * (p->total - p->done) : -1;
    char e[32];
    fmt_eta(e, sizeof e, eta);
    fprintf(stderr, "locate: %s%ld/%ld facts (%ld failed), %.2f queries/s, ETA %s, last %s\n", rank, p->done, p->total,
            p->failed, qps, e, p->fact);
}

/* Resident memory now (bytes), from /proc/self/statm. */
static double resident_bytes(void) {
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * sysconf(_SC_PAGESIZE);
}

int mt_cmd_locate(int argc, char **argv) {
    mt_cli c = {"locate", locate_usage};
    mt_cli_opt o[] = {{"model", NULL, 0},      {"data", NULL, 0},       {"out", NULL, 0},       {"method", NULL, 0},    {"langs", NULL, 0},      {"facts", NULL, 0},
                      {"relations", NULL, 0},  {"shard", NULL, 0},      {"queries", NULL, 0},   {"baseline", NULL, 0},  {"multiplier", NULL, 0}, {"steps", NULL, 0},
                      {"target", NULL, 0},     {"threshold", NULL, 0},  {"share", NULL, 0},     {"lambda-q", NULL, 0},  {"lambda-l", NULL, 0},   {"rho", NULL, 0},
                      {"confidence", NULL, 0}, {"neuron", NULL, 0},     {"top", NULL, 0},       {"keep-scores", NULL, 1}, {"reuse", NULL, 0},      {"quiet", NULL, 1}};
    const int n = sizeof o / sizeof *o;
    int rc = mt_cli_parse(&c, argc, argv, o, n, NULL, 0, NULL);
    if (rc) return rc;
    const char *model = mt_cli_get(o, n, "model"), *data = mt_cli_get(o, n, "data"), *out = mt_cli_get(o, n, "out");
    if (!model || !data || !out) return mt_cli_usage(&c, "--model, --data and --out are required", NULL);
    static const char *const methods[] = {"kn", "amig", "matrice", NULL};
    const char *v = mt_cli_get(o, n, "method");
    int mi = v ? mt_cli_choice(&c, "method", v, methods) : MT_LOC_MATRICE;
    if (mi < 0) return 2;
    mt_loc_opts lo;
    mt_loc_opts_default(&lo, (mt_loc_method)mi);
    static const char *const baselines[] = {"zero", "amig", NULL}, *const mults[] = {"delta", "activation", NULL},
                             *const targets[] = {"prob", "logprob", NULL},
                             *const confs[] = {"prob", "entropy", "none", NULL},
                             *const neurons[] = {"down_input", "gate", "up", "pre_act", NULL};
    int k;
    if ((v = mt_cli_get(o, n, "baseline"))) {
        if ((k = mt_cli_choice(&c, "baseline", v, baselines)) < 0) return 2;
        lo.ig.baseline = k ? MT_BASELINE_AMIG : MT_BASELINE_ZERO;
    }
    if ((v = mt_cli_get(o, n, "multiplier"))) {
        if ((k = mt_cli_choice(&c, "multiplier", v, mults)) < 0) return 2;
        lo.ig.multiplier = k ? MT_MULT_ACTIVATION : MT_MULT_DELTA;
    }
    if ((v = mt_cli_get(o, n, "target"))) {
        if ((k = mt_cli_choice(&c, "target", v, targets)) < 0) return 2;
        lo.ig.logprob = k;
    }
    if ((v = mt_cli_get(o, n, "confidence"))) {
        if ((k = mt_cli_choice(&c, "confidence", v, confs)) < 0) return 2;
        lo.confidence = (mt_conf_kind)k;
    }
    if ((v = mt_cli_get(o, n, "neuron"))) {
        if ((k = mt_cli_choice(&c, "neuron", v, neurons)) < 0) return 2;
        const mt_neuron kinds[] = {MT_NEURON_DOWN_INPUT, MT_NEURON_GATE, MT_NEURON_UP, MT_NEURON_PRE_ACT};
        lo.ig.neuron = kinds[k];
    }
    long max_facts = 0;
    if (((v = mt_cli_get(o, n, "steps")) && (rc = mt_cli_int(&c, "steps", v, 1, 10000, &lo.ig.steps))) ||
        ((v = mt_cli_get(o, n, "queries")) && (rc = mt_cli_int(&c, "queries", v, 0, 1 << 20, &lo.max_queries))) ||
        ((v = mt_cli_get(o, n, "top")) && (rc = mt_cli_int(&c, "top", v, 0, 1 << 20, &lo.top))) ||
        ((v = mt_cli_get(o, n, "facts")) && (rc = mt_cli_long(&c, "facts", v, 0, 1L << 40, &max_facts))) ||
        ((v = mt_cli_get(o, n, "threshold")) && (rc = mt_cli_num(&c, "threshold", v, -1e9, 1e9, &lo.threshold))) ||
        ((v = mt_cli_get(o, n, "share")) && (rc = mt_cli_num(&c, "share", v, 0, 1, &lo.share))) ||
        ((v = mt_cli_get(o, n, "lambda-q")) && (rc = mt_cli_num(&c, "lambda-q", v, 0, 1e6, &lo.lambda_q))) ||
        ((v = mt_cli_get(o, n, "lambda-l")) && (rc = mt_cli_num(&c, "lambda-l", v, 0, 1e6, &lo.lambda_l))) ||
        ((v = mt_cli_get(o, n, "rho")) && (rc = mt_cli_num(&c, "rho", v, 0, 1, &lo.rho))))
        return rc;
    mt_loc_run run = {.model_path = model, .data_path = data, .out_dir = out, .max_facts = max_facts, .shard_n = 1,
                      .keep_scores = mt_cli_get(o, n, "keep-scores") != NULL, .stop = &stop_flag};
    if ((v = mt_cli_get(o, n, "shard"))) {
        char *end;
        long a = strtol(v, &end, 10), b = *end == '/' ? strtol(end + 1, &end, 10) : 0;
        if (*end || b < 1 || a < 0 || a >= b || b > 1 << 20)
            return mt_cli_usage(&c, "--shard must be K/N with 0 <= K < N, got", v);
        run.shard_k = (int)a;
        run.shard_n = (int)b;
    }
    char **langs = NULL, **rels = NULL;
    if ((v = mt_cli_get(o, n, "langs")) && mt_cli_list(v, &langs, &run.n_langs))
        return mt_cli_usage(&c, "--langs must be a comma-separated list, got", v);
    if ((v = mt_cli_get(o, n, "relations")) && mt_cli_list(v, &rels, &run.n_relations)) {
        if (langs) free(langs[0]);
        free(langs);
        return mt_cli_usage(&c, "--relations must be a comma-separated list, got", v);
    }
    run.reuse = mt_cli_get(o, n, "reuse");
    run.langs = (const char *const *)langs;
    run.relations = (const char *const *)rels;
    progress_ctx pc = {mt_cli_get(o, n, "quiet") != NULL, -1, ""};
#ifdef MT_WITH_MPI
    int mpi_size = 1, mpi_rank = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    if (mpi_size > 1) {
        if (mt_cli_get(o, n, "shard")) {
            MPI_Finalize();
            return mt_cli_usage(&c, "--shard cannot be combined with mpirun -np > 1", NULL);
        }
        run.shard_k = mpi_rank;
        run.shard_n = mpi_size;
        pc.rank = mpi_rank;
    }
#endif
    run.progress = progress;
    run.ctx = &pc;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    mt_err e = {0};
    mt_model *m = NULL;
    mt_tokenizer *tok = NULL;
    mt_run *probe = NULL;
    double before = resident_bytes();
    if (mt_tok_load(model, &tok, &e) || mt_model_load(model, &m, &e)) {
        rc = mt_cli_fail(&c, &e);
        goto done;
    }
    const mt_config *cfg = mt_model_config(m);
    if (!pc.quiet && pc.rank <= 0) {
        /* the largest allocations of a query: the run state for 64 tokens and m+1 patched rows,
         * and the fact's per-query score matrices; printed once the run's inputs are checked */
        size_t run_bytes = 0;
        if (mt_run_new(m, 64, lo.ig.steps + 1, &probe, &e) == MT_OK) run_bytes = mt_run_bytes(probe);
        size_t wf32, whalf;
        mt_model_weight_bytes(m, &wf32, &whalf);
        snprintf(pc.banner, sizeof pc.banner,
                 "locate: %s %s, %d layers x %d neurons; memory: %.1f MB for the model (weights: %.1f MB f32, %.1f MB "
                 "f16/bf16), %.1f MB run state per query (64 tokens), %.1f MB per query kept until its fact is "
                 "aggregated\n",
                 mt_loc_method_name(lo.method), model, cfg->n_layers, cfg->d_ff, (resident_bytes() - before) / 1e6,
                 wf32 / 1e6, whalf / 1e6, run_bytes / 1e6, (double)cfg->n_layers * cfg->d_ff * 4 / 1e6);
    }
    rc = mt_locate_run(m, tok, &lo, &run, &e);
    if (rc == MT_EINTERRUPTED) {
        fprintf(stderr, "matrice locate: interrupted; finished facts are kept in %s, rerun the same command to resume\n",
                out);
        rc = 130;
    } else if (rc) {
        rc = mt_cli_fail(&c, &e);
    }
done:
    mt_run_free(probe);
    mt_model_free(m);
    mt_tok_free(tok);
    if (langs) free(langs[0]);
    free(langs);
    if (rels) free(rels[0]);
    free(rels);
#ifdef MT_WITH_MPI
    MPI_Finalize();
#endif
    return rc;
}

int mt_cmd_merge(int argc, char **argv) {
    mt_cli c = {"merge", merge_usage};
    mt_cli_opt o[] = {{"out", NULL, 0}, {"no-timings", NULL, 1}};
    const int n = sizeof o / sizeof *o;
    const char **dirs = calloc(argc > 0 ? argc : 1, sizeof(char *));
    int nd = 0, rc = dirs ? mt_cli_parse(&c, argc, argv, o, n, dirs, argc, &nd) : 1;
    if (!rc && (!mt_cli_get(o, n, "out") || nd == 0)) rc = mt_cli_usage(&c, "result folders and --out are required", NULL);
    if (!rc) {
        mt_err e = {0};
        mt_loc_merge_info info = {0};
        if (mt_locate_merge(dirs, nd, mt_cli_get(o, n, "out"), mt_cli_get(o, n, "no-timings") != NULL, &info, &e))
            rc = mt_cli_fail(&c, &e);
        else
            fprintf(stderr, "merge: %ld facts (%ld failed) -> %s\n", info.facts, info.failed, mt_cli_get(o, n, "out"));
    }
    free(dirs);
    return rc;
}
