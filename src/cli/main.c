/* matrice command line: the only place that prints and exits.
 *
 *   matrice tokenize  --model DIR --text TEXT [--no-special]
 *   matrice predict   --model DIR --query Q [--top K]
 *   matrice attribute --model DIR --query Q --answer A [--method kn|amig] [--steps M]
 *                     [--target prob|logprob] [--multiplier delta|activation]
 *                     [--baseline zero|amig] [--neuron down_input|gate|up|pre_act]
 *                     [--top N] [--scores OUT.npy]
 *
 * Results go to stdout as one JSON document; errors to stderr as one line; exit status 0 on
 * success, 2 on a usage error, 1 on any other failure. */
#include <cblas.h>
#include <jansson.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "mt_cloze.h"
#include "mt_ig.h"
#include "mt_kernels.h"
#include "mt_model.h"
#include "mt_npy.h"
#include "cli.h"
#include "mt_tokenizer.h"

#define MATRICE_VERSION "0.1.0"

/* Subcommand groups implemented in their own files (src/cli/cmd_*.c). */
int mt_cmd_data(int argc, char **argv); /* matrice data build|stats|validate|filter */
int mt_cmd_locate(int argc, char **argv); /* matrice locate (cmd_locate.c) */
int mt_cmd_merge(int argc, char **argv);  /* matrice merge (cmd_locate.c) */
int mt_cmd_evaluate(int argc, char **argv); /* matrice evaluate|edit|enhance|inject (cmd_exp.c) */
int mt_cmd_edit(int argc, char **argv);
int mt_cmd_enhance(int argc, char **argv);
int mt_cmd_inject(int argc, char **argv);
int mt_cli_report(int argc, char **argv); /* matrice report (cmd_report.c) */

static const char *usage_text =
    "usage: matrice <command> [options]\n"
    "commands:\n"
    "  tokenize  --model DIR --text TEXT [--no-special]\n"
    "  predict   --model DIR --query \"Paris is the capital of [Y] .\" [--top K]\n"
    "  attribute --model DIR --query Q --answer A [--method kn|amig] [--steps M]\n"
    "            [--target prob|logprob] [--multiplier delta|activation] [--baseline zero|amig]\n"
    "            [--neuron down_input|gate|up|pre_act] [--top N] [--scores OUT.npy]\n"
    "  data build --raw DIR --langs en,de,... --out FILE [--max-per-relation N] [--seed S]\n"
    "  data stats FILE [--json] | data validate FILE\n"
    "  data filter --model DIR --in FILE --out FILE [--min-prob P] [--require all|any]\n"
    "  locate    --model DIR --data FILE --out DIR [--method kn|amig|matrice] [--langs ...]\n"
    "            [--facts N] [--shard K/N] (matrice locate --help for every option)\n"
    "  merge     DIR... --out FILE [--no-timings]\n"
    "  evaluate  --model DIR --data FILE --neurons RESULTS[,...] [--control random|none]\n"
    "  edit      --model DIR --data FILE --neurons RESULTS --fact ID --new-object TEXT [--save PATH]\n"
    "  enhance   --model DIR --data FILE --neurons RESULTS [--factor 2]\n"
    "  inject    --model DIR --facts FILE --lang L --neurons lakn|random|all-ffn [--results RESULTS]\n"
    "  report    RESULTS... --out DIR   (HTML page with SVG figures)\n"
    "  version\n"
    "DIR: a HuggingFace model folder (config.json, *.safetensors, tokenizer.json) or a .gguf file.\n";

/* ---------------------------------------------------------------- options (cli.h) */

typedef mt_cli_opt opt;

static int usage_error(const char *cmd, const char *msg, const char *arg) {
    mt_cli c = {cmd, usage_text};
    return mt_cli_usage(&c, msg, arg);
}

/* Fills opts from argv; every argument must be a known --name (with a value unless a flag). */
static int parse_opts(const char *cmd, int argc, char **argv, opt *opts, int nopts) {
    mt_cli c = {cmd, usage_text};
    return mt_cli_parse(&c, argc, argv, opts, nopts, NULL, 0, NULL);
}

static int parse_int(const char *cmd, const char *name, const char *s, int lo, int hi, int *out) {
    mt_cli c = {cmd, usage_text};
    return mt_cli_int(&c, name, s, lo, hi, out);
}

static int fail(const char *cmd, const mt_err *e) {
    mt_cli c = {cmd, NULL};
    return mt_cli_fail(&c, e);
}

static json_t *ids_json(const int32_t *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static json_t *tokens_json(const mt_tokenizer *tok, const int32_t *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        const char *s = mt_tok_id_to_token(tok, ids[i]);
        json_array_append_new(a, json_string(s ? s : ""));
    }
    return a;
}

/* ---------------------------------------------------------------- tokenize */

static int cmd_tokenize(int argc, char **argv) {
    opt o[] = {{"model", NULL, 0}, {"text", NULL, 0}, {"no-special", NULL, 1}};
    int n = sizeof o / sizeof *o, rc = parse_opts("tokenize", argc, argv, o, n);
    if (rc) return rc;
    const char *dir = mt_cli_get(o, n, "model"), *text = mt_cli_get(o, n, "text");
    if (!dir || !text) return usage_error("tokenize", "--model and --text are required", NULL);
    mt_err e = {0};
    mt_tokenizer *tok = NULL;
    if (mt_tok_load(dir, &tok, &e)) return fail("tokenize", &e);
    int32_t *ids = NULL;
    int T = 0;
    if (mt_tok_encode(tok, text, mt_cli_get(o, n, "no-special") == NULL, &ids, &T, &e)) {
        mt_tok_free(tok);
        return fail("tokenize", &e);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "text", json_string(text));
    json_object_set_new(doc, "ids", ids_json(ids, T));
    json_object_set_new(doc, "tokens", tokens_json(tok, ids, T));
    mt_cli_emit(doc);
    free(ids);
    mt_tok_free(tok);
    return 0;
}

/* ---------------------------------------------------------------- predict */

typedef struct {
    int id;
    float p;
} scored;

static int by_p_desc(const void *a, const void *b) {
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return x < y ? 1 : x > y ? -1 : ((const scored *)a)->id - ((const scored *)b)->id;
}

static int cmd_predict(int argc, char **argv) {
    opt o[] = {{"model", NULL, 0}, {"query", NULL, 0}, {"top", NULL, 0}};
    int n = sizeof o / sizeof *o, rc = parse_opts("predict", argc, argv, o, n);
    if (rc) return rc;
    const char *dir = mt_cli_get(o, n, "model"), *query = mt_cli_get(o, n, "query");
    if (!dir || !query) return usage_error("predict", "--model and --query are required", NULL);
    int top = 10;
    if (mt_cli_get(o, n, "top") && (rc = parse_int("predict", "top", mt_cli_get(o, n, "top"), 1, 1000, &top))) return rc;
    mt_err e = {0};
    mt_tokenizer *tok = NULL;
    mt_model *m = NULL;
    mt_run *r = NULL;
    mt_cloze c = {0};
    float *logits = NULL, *probs = NULL;
    scored *s = NULL;
    mt_config cfg;
    if (mt_model_config_load(dir, &cfg, &e) || mt_tok_load(dir, &tok, &e) || mt_cloze_make(tok, &cfg, query, NULL, &c, &e) ||
        mt_model_load(dir, &m, &e) || mt_run_new(m, c.T, 1, &r, &e) || mt_forward(m, r, c.ids, NULL, c.T, &e)) {
        rc = fail("predict", &e);
        goto done;
    }
    const int V = mt_model_config(m)->vocab_size;
    logits = malloc(sizeof(float) * V);
    probs = malloc(sizeof(float) * V);
    s = malloc(sizeof(scored) * V);
    if (!logits || !probs || !s) {
        mt_fail(&e, MT_ENOMEM, "out of memory");
        rc = fail("predict", &e);
        goto done;
    }
    if (mt_head_logits(m, r, c.answer_pos[0], logits, &e)) {
        rc = fail("predict", &e);
        goto done;
    }
    mt_softmax(probs, logits, V);
    for (int i = 0; i < V; i++) s[i] = (scored){i, probs[i]};
    qsort(s, V, sizeof *s, by_p_desc);
    json_t *doc = json_object(), *tops = json_array();
    json_object_set_new(doc, "query", json_string(query));
    json_object_set_new(doc, "ids", ids_json(c.ids, c.T));
    json_object_set_new(doc, "tokens", tokens_json(tok, c.ids, c.T));
    json_object_set_new(doc, "answer_position", json_integer(c.answer_pos[0]));
    for (int i = 0; i < top && i < V; i++) {
        const char *ts = mt_tok_id_to_token(tok, s[i].id);
        char *text = mt_tok_decode(tok, &s[i].id, 1, 0);
        json_array_append_new(tops, json_pack("{s:i, s:s, s:s, s:f}", "id", s[i].id, "token", ts ? ts : "", "text",
                                              text ? text : "", "prob", (double)s[i].p));
        free(text);
    }
    json_object_set_new(doc, "top", tops);
    mt_cli_emit(doc);
done:
    free(logits);
    free(probs);
    free(s);
    mt_cloze_free(&c);
    mt_run_free(r);
    mt_model_free(m);
    mt_tok_free(tok);
    return rc;
}

/* ---------------------------------------------------------------- attribute */

static int cmp_score_desc(const void *a, const void *b, void *scores) {
    const float *sc = scores;
    float x = sc[*(const int *)a], y = sc[*(const int *)b];
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

static int cmd_attribute(int argc, char **argv) {
    opt o[] = {{"model", NULL, 0},      {"query", NULL, 0},  {"answer", NULL, 0}, {"method", NULL, 0},
               {"steps", NULL, 0},      {"target", NULL, 0}, {"multiplier", NULL, 0}, {"baseline", NULL, 0},
               {"top", NULL, 0},        {"scores", NULL, 0}, {"neuron", NULL, 0}};
    int n = sizeof o / sizeof *o, rc = parse_opts("attribute", argc, argv, o, n);
    if (rc) return rc;
    const char *dir = mt_cli_get(o, n, "model"), *query = mt_cli_get(o, n, "query"), *answer = mt_cli_get(o, n, "answer");
    if (!dir || !query || !answer) return usage_error("attribute", "--model, --query and --answer are required", NULL);
    mt_ig_opts opts;
    mt_ig_opts_default(&opts);
    const char *method = mt_cli_get(o, n, "method") ? mt_cli_get(o, n, "method") : "kn";
    if (!strcmp(method, "kn")) opts.baseline = MT_BASELINE_ZERO;
    else if (!strcmp(method, "amig")) opts.baseline = MT_BASELINE_AMIG;
    else return usage_error("attribute", "--method must be kn or amig, got", method);
    const char *v;
    if ((v = mt_cli_get(o, n, "baseline"))) {
        if (!strcmp(v, "zero")) opts.baseline = MT_BASELINE_ZERO;
        else if (!strcmp(v, "amig")) opts.baseline = MT_BASELINE_AMIG;
        else return usage_error("attribute", "--baseline must be zero or amig, got", v);
    }
    if ((v = mt_cli_get(o, n, "target"))) {
        if (!strcmp(v, "prob")) opts.logprob = 0;
        else if (!strcmp(v, "logprob")) opts.logprob = 1;
        else return usage_error("attribute", "--target must be prob or logprob, got", v);
    }
    if ((v = mt_cli_get(o, n, "multiplier"))) {
        if (!strcmp(v, "delta")) opts.multiplier = MT_MULT_DELTA;
        else if (!strcmp(v, "activation")) opts.multiplier = MT_MULT_ACTIVATION;
        else return usage_error("attribute", "--multiplier must be delta or activation, got", v);
    }
    if ((v = mt_cli_get(o, n, "steps")) && (rc = parse_int("attribute", "steps", v, 1, 10000, &opts.steps))) return rc;
    if ((v = mt_cli_get(o, n, "neuron"))) {
        const mt_neuron kinds[] = {MT_NEURON_DOWN_INPUT, MT_NEURON_GATE, MT_NEURON_UP, MT_NEURON_PRE_ACT};
        size_t k = 0;
        while (k < 4 && strcmp(v, mt_neuron_name(kinds[k]))) k++;
        if (k == 4) return usage_error("attribute", "--neuron must be down_input, gate, up or pre_act, got", v);
        opts.neuron = kinds[k];
    }
    int top = 20;
    if ((v = mt_cli_get(o, n, "top")) && (rc = parse_int("attribute", "top", v, 0, 1 << 30, &top))) return rc;
    const char *scores_path = mt_cli_get(o, n, "scores");

    mt_err e = {0};
    mt_tokenizer *tok = NULL;
    mt_model *m = NULL;
    mt_cloze c = {0};
    mt_ig_result res = {0};
    int *order = NULL;
    mt_config cfg0;
    if (mt_model_config_load(dir, &cfg0, &e) || mt_tok_load(dir, &tok, &e) || mt_cloze_make(tok, &cfg0, query, answer, &c, &e) ||
        mt_model_load(dir, &m, &e)) {
        rc = fail("attribute", &e);
        goto done;
    }
    mt_query q = mt_cloze_query(&c);
    if (mt_ig_attribute(m, &q, &opts, &res, &e)) {
        rc = fail("attribute", &e);
        goto done;
    }
    const mt_config *cfg = mt_model_config(m);
    const int L = cfg->n_layers, f = cfg->d_ff;
    if (scores_path) {
        int64_t shape[2] = {L, f};
        if (mt_npy_write_f32(scores_path, res.scores, 2, shape, &e)) {
            rc = fail("attribute", &e);
            goto done;
        }
    }
    double prob = 1;
    json_t *doc = json_object(), *per = json_array(), *layers = json_array(), *neurons = json_array();
    for (int t = 0; t < c.n_answer; t++) {
        prob *= res.prob[t];
        json_array_append_new(per, json_real(res.prob[t]));
    }
    json_object_set_new(doc, "query", json_string(query));
    json_object_set_new(doc, "answer", json_string(answer));
    json_object_set_new(doc, "ids", ids_json(c.ids, c.T));
    json_object_set_new(doc, "tokens", tokens_json(tok, c.ids, c.T));
    json_object_set_new(doc, "answer_ids", ids_json(c.answer_ids, c.n_answer));
    json_object_set_new(doc, "answer_tokens", tokens_json(tok, c.answer_ids, c.n_answer));
    json_t *pos = json_array();
    for (int t = 0; t < c.n_answer; t++) json_array_append_new(pos, json_integer(c.answer_pos[t]));
    json_object_set_new(doc, "answer_positions", pos);
    json_object_set_new(doc, "prob", json_real(prob));
    json_object_set_new(doc, "prob_per_token", per);
    json_object_set_new(doc, "options",
                        json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "method", method, "baseline",
                                  opts.baseline == MT_BASELINE_AMIG ? "amig" : "zero", "multiplier",
                                  opts.multiplier == MT_MULT_DELTA ? "delta" : "activation", "target",
                                  opts.logprob ? "logprob" : "prob", "steps", opts.steps, "neuron",
                                  mt_neuron_name(opts.neuron)));
    for (int l = 0; l < L; l++)
        json_array_append_new(layers, json_pack("{s:i, s:f, s:f, s:f, s:f}", "layer", l, "score_sum", res.score_sum[l],
                                                "f_a", res.f_a[l], "f_b", res.f_b[l], "gap",
                                                res.score_sum[l] - (res.f_a[l] - res.f_b[l])));
    json_object_set_new(doc, "completeness", layers);
    order = malloc(sizeof(int) * (size_t)L * f);
    if (!order) {
        json_decref(doc);
        mt_fail(&e, MT_ENOMEM, "out of memory");
        rc = fail("attribute", &e);
        goto done;
    }
    for (int i = 0; i < L * f; i++) order[i] = i;
    qsort_r(order, (size_t)L * f, sizeof(int), cmp_score_desc, res.scores);
    for (int i = 0; i < top && i < L * f; i++)
        json_array_append_new(neurons, json_pack("{s:i, s:i, s:f}", "layer", order[i] / f, "unit", order[i] % f,
                                                 "score", (double)res.scores[order[i]]));
    json_object_set_new(doc, "top_neurons", neurons);
    json_object_set_new(doc, "max_score", json_real(res.scores[order[0]]));
    json_object_set_new(doc, "seconds", json_real(res.seconds));
    json_object_set_new(doc, "gflop", json_real(res.flops * 1e-9));
    if (scores_path) json_object_set_new(doc, "scores_file", json_string(scores_path));
    mt_cli_emit(doc);
done:
    free(order);
    mt_ig_result_free(&res);
    mt_cloze_free(&c);
    mt_model_free(m);
    mt_tok_free(tok);
    return rc;
}

/* Debian's OpenBLAS 0.3.21 does not know recent CPUs (e.g. Xeon model 207) and falls back to
 * its generic "Prescott" kernels, 4-5x slower than its AVX2/AVX-512 ones on the same chip.
 * OPENBLAS_CORETYPE is read when the library loads, so when the user has not chosen a core and
 * the CPU has the instructions, set it and re-execute once. MATRICE_BLAS_TUNED stops loops. */
static void tune_blas(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("MATRICE_BLAS_TUNED")) return;
    const char *core = openblas_get_corename();
    const char *generic[] = {"prescott", "core2", "nehalem", "sandybridge", "katmai", "unknown"};
    int is_generic = 0;
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++) is_generic |= core && !strcasecmp(core, generic[i]);
    if (!is_generic) return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("MATRICE_BLAS_TUNED", "1", 1);
    execv("/proc/self/exe", argv); /* returns only on failure: carry on with the generic kernels */
}

int main(int argc, char **argv) {
    tune_blas(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "attribute")) return cmd_attribute(argc - 2, argv + 2);
    if (!strcmp(cmd, "data")) return mt_cmd_data(argc - 2, argv + 2);
    if (!strcmp(cmd, "locate")) return mt_cmd_locate(argc - 2, argv + 2);
    if (!strcmp(cmd, "merge")) return mt_cmd_merge(argc - 2, argv + 2);
    if (!strcmp(cmd, "evaluate")) return mt_cmd_evaluate(argc - 2, argv + 2);
    if (!strcmp(cmd, "edit")) return mt_cmd_edit(argc - 2, argv + 2);
    if (!strcmp(cmd, "enhance")) return mt_cmd_enhance(argc - 2, argv + 2);
    if (!strcmp(cmd, "inject")) return mt_cmd_inject(argc - 2, argv + 2);
    if (!strcmp(cmd, "report")) return mt_cli_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("matrice %s\n", MATRICE_VERSION);
        return 0;
    }
    fprintf(stderr, "matrice: unknown command '%s'\n%s", cmd, usage_text);
    return 2;
}
