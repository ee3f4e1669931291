/* bench_ig: times integrated-gradients attribution over every FFN layer of one query.
 *
 *   bench_ig [options] MODEL [STEPS=20] [N_TOKENS=12] [REPEATS=3] [kn|amig]
 *   bench_ig --peak [N=1024] [REPEATS=20]
 *
 * MODEL is a folder (config.json + safetensors) or a .gguf file. The query is deterministic
 * (bench_query below; bench/ig_torch.py builds the same one):
 *   masked LMs: [CLS]=101 first, [SEP]=102 last (both flagged special), [MASK]=103 at position
 *     T/2, and ids 1000 + (7919 i) mod 100000 elsewhere; the answer position is the mask.
 *   causal LMs (mt_model_config(m)->causal): ids 1000 + (7919 i) mod 100000 at every position
 *     (with --bos, the model's BOS id first, flagged special); the answer position is the last
 *     token, the AMIG replacement id is the model's EOS (0 if it has none).
 *   An id at or above the vocabulary size V is taken mod V (vocabularies under 101,000, e.g.
 *   Llama-2's 32,000; make bench's models are all larger, so their queries are unchanged).
 * The target is the argmax at the answer position of the unpatched model. mt_ig_attribute runs
 * REPEATS times (zero baseline for kn, AMIG's for amig, multiplier a - b, target P(y), neuron:
 * the down projection's input); one line of JSON goes to stdout. Its weights_mb_f32 and
 * weights_mb_half are mt_model_weight_bytes (f16/bf16 matrices stay in their storage type unless
 * MT_WEIGHTS=f32, echoed as mt_weights).
 *
 * Options:
 *   --scores F.npy   write the [n_layers][d_ff] float32 scores of the last repeat
 *   --breakdown      also time the parts of one prompt through the mt_model API (unpatched
 *                    forward, patched pass per layer, best of 2) and the GEMMs of one layer and
 *                    of the head alone (also with the rows of all layers stacked), to split the
 *                    time into head / layer GEMMs / the rest
 *   --bos            causal models: begin the query with the model's BOS token
 *   --group N        target layers per patched pass (mt_ig_opts.layer_group): 0 = automatic
 *                    (default), 1 = one layer at a time (the unoptimized path)
 *   --check-old      also run the unoptimized path (layer_group 1) once and report its time and
 *                    the largest score difference relative to the largest score
 *   --layers LIST    attribute only these layers: comma-separated L or LO-HI (inclusive), e.g.
 *                    0,15,31 or 0-3; one mt_ig_attribute call per item (each redoes the unpatched
 *                    forward), times summed; the other layers' scores are 0 (default: all layers,
 *                    one call)
 *   --target Y       attribute token Y instead of the unpatched argmax (bench/run.sh: the BF16 copy
 *                    of a checkpoint gets the target of the F32 one, so their scores compare)
 *   --peak           time cblas_sgemm N x N x N instead (the machine's GEMM peak), no model */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mt_ig.h"
#include "mt_model.h"

/* OpenBLAS extensions (declared in its cblas.h; repeated here in case another BLAS is used). */
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

static void die(const char *what, const mt_err *e) {
    fprintf(stderr, "bench_ig: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

/* The benchmark query; shared with bench/ig_torch.py (keep the two in step). Returns the
 * answer position. bos >= 0: causal query beginning with that id; bos = -2: causal, no BOS. */
static int bench_query(int T, int causal, int bos, int V, int32_t *ids, uint8_t *special) {
    for (int i = 0; i < T; i++) {
        ids[i] = 1000 + (int32_t)((7919L * i) % 100000);
        if (ids[i] >= V) ids[i] %= V;
        special[i] = 0;
    }
    if (causal) {
        if (bos >= 0) {
            ids[0] = bos;
            special[0] = 1;
        }
        return T - 1;
    }
    ids[0] = 101;
    ids[T - 1] = 102;
    special[0] = special[T - 1] = 1;
    int mask_pos = T / 2;
    ids[mask_pos] = 103;
    return mask_pos;
}

/* .npy v1.0, little-endian float32, C order. */
static int write_npy(const char *path, const float *x, int rows, int cols) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    int total = 10 + n + 1, pad = (64 - total % 64) % 64;
    unsigned short hlen = (unsigned short)(n + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
    fputc(hlen & 0xff, fp);
    fputc(hlen >> 8, fp);
    fwrite(hdr, 1, n, fp);
    for (int i = 0; i < pad; i++) fputc(' ', fp);
    fputc('\n', fp);
    size_t w = fwrite(x, sizeof(float), (size_t)rows * cols, fp);
    return (fclose(fp) == 0 && w == (size_t)rows * cols) ? 0 : -1;
}

/* Best time of `reps` calls of out[M][N] = A[M][K] . B[N][K]^T (mt_matmul_fwd's layout). */
static double time_gemm(int M, int N, int K, int trans_b, int reps) {
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)N * K),
          *C = malloc(sizeof(float) * (size_t)M * N);
    if (!A || !B || !C) die("gemm", NULL);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)((i * 37 % 101) - 50) * 1e-3f;
    for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (float)((i * 53 % 97) - 48) * 1e-3f;
    memset(C, 0, sizeof(float) * (size_t)M * N);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) { /* first call warms up */
        double t0 = now();
        if (trans_b)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        else /* B read as [K][N] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        double t = now() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(A);
    free(B);
    free(C);
    return best;
}

/* Causal LMs: best time of one downstream layer's GEMMs for M rows (q, k, v, o, gate, up, down
 * forward and activation backward) with the weights streamed from memory as in the patched pass,
 * where consecutive layers use different weights: the layer runs over `sets` distinct weight
 * copies (together larger than the last-level cache) and the time is per layer. */
static double time_layer_stream(int M, int d, int qd, int kd, int f, int gated, int sets, int rounds) {
    const size_t nw[7] = {(size_t)qd * d, (size_t)kd * d, (size_t)kd * d, (size_t)d * qd,
                          gated ? (size_t)f * d : 0, (size_t)f * d, (size_t)d * f};
    size_t per = 0;
    for (int i = 0; i < 7; i++) per += nw[i];
    const int widest = f > qd ? f : qd;
    float *W = malloc(sizeof(float) * per * sets), *X = malloc(sizeof(float) * (size_t)M * widest),
          *Y = malloc(sizeof(float) * (size_t)M * widest);
    if (!W || !X || !Y) die("gemm", NULL);
    for (size_t i = 0; i < per * sets; i++) W[i] = (float)((i * 53 % 97) - 48) * 1e-3f;
    for (size_t i = 0; i < (size_t)M * widest; i++) X[i] = (float)((i * 37 % 101) - 50) * 1e-3f;
    /* per weight: out (rows of W) and in (columns) */
    const int out[7] = {qd, kd, kd, d, f, f, d}, in[7] = {d, d, d, qd, d, d, f};
    double best = 1e30;
    for (int r = 0; r < rounds + 1; r++) { /* the first round warms up */
        double t0 = now();
        for (int s = 0; s < sets; s++) {
            const float *w = W + per * s;
            for (int i = 0; i < 7; w += nw[i], i++) /* forward: Y[M][out] = X[M][in] . W^T */
                if (nw[i])
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, out[i], in[i], 1.0f, X, in[i], w, in[i],
                                0.0f, Y, out[i]);
        }
        for (int s = 0; s < sets; s++) {
            const float *w = W + per * s;
            for (int i = 0; i < 7; w += nw[i], i++) /* backward: dX[M][in] = dY[M][out] . W */
                if (nw[i])
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, in[i], out[i], 1.0f, X, out[i], w, in[i],
                                0.0f, Y, in[i]);
        }
        double t = (now() - t0) / sets;
        if (r > 0 && t < best) best = t;
    }
    free(W);
    free(X);
    free(Y);
    return best;
}

static int peak_main(int argc, char **argv) {
    int n = argc > 0 ? atoi(argv[0]) : 1024, reps = argc > 1 ? atoi(argv[1]) : 20;
    if (n < 16 || reps < 1) {
        fprintf(stderr, "bench_ig --peak: bad N or REPEATS\n");
        return 2;
    }
    double t = time_gemm(n, n, n, 1, reps);
    double gf = 2.0 * n * n * n / t / 1e9;
    printf("{\"impl\": \"cblas_sgemm\", \"blas_core\": \"%s\", \"n\": %d, \"threads\": %d, \"repeats\": %d, "
           "\"seconds_best\": %.6f, \"gflops\": %.2f}\n",
           openblas_get_corename(), n, openblas_get_num_threads(), reps, t, gf);
    return 0;
}

/* --layers: up to 256 ranges [lo, hi). Returns their count, -1 when LIST is malformed. */
#define MAX_RANGES 256
static int parse_layers(const char *s, int *lo, int *hi) {
    int n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0 || n == MAX_RANGES) return -1;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s || b < a) return -1;
        }
        lo[n] = (int)a, hi[n] = (int)b + 1, n++;
        if (*end == ',') end++;
        else if (*end) return -1;
        s = end;
    }
    return n;
}

/* mt_ig_attribute over the layer ranges (nr = 0: all layers, one call), merged into one result. */
static int ig_ranges(const mt_model *m, const mt_query *q, const mt_ig_opts *o, int nr, const int *lo,
                     const int *hi, mt_ig_result *out, mt_err *e) {
    if (nr == 0) return mt_ig_attribute(m, q, o, out, e);
    const mt_config *c = mt_model_config(m);
    const size_t L = c->n_layers, f = c->d_ff, na = q->n_answer;
    memset(out, 0, sizeof *out);
    out->n_layers = (int)L, out->d_ff = (int)f, out->n_answer = (int)na;
    out->scores = calloc(L * f, sizeof(float));
    out->prob = calloc(na, sizeof(double));
    out->f_a = calloc(L, sizeof(double));
    out->f_b = calloc(L, sizeof(double));
    out->score_sum = calloc(L, sizeof(double));
    out->baseline = calloc(na * L * f, sizeof(float));
    if (!out->scores || !out->prob || !out->f_a || !out->f_b || !out->score_sum || !out->baseline) die("alloc", NULL);
    for (int i = 0; i < nr; i++) {
        mt_ig_opts o1 = *o;
        o1.layer_lo = lo[i], o1.layer_hi = hi[i];
        mt_ig_result p = {0};
        int rc = mt_ig_attribute(m, q, &o1, &p, e);
        if (rc) {
            mt_ig_result_free(out);
            return rc;
        }
        for (int l = lo[i]; l < hi[i]; l++) {
            memcpy(out->scores + l * f, p.scores + l * f, sizeof(float) * f);
            out->f_a[l] = p.f_a[l], out->f_b[l] = p.f_b[l], out->score_sum[l] = p.score_sum[l];
            for (size_t t = 0; t < na; t++)
                memcpy(out->baseline + (t * L + l) * f, p.baseline + (t * L + l) * f, sizeof(float) * f);
        }
        if (i == 0) memcpy(out->prob, p.prob, sizeof(double) * na);
        out->seconds += p.seconds;
        out->flops += p.flops;
        if (p.groups > out->groups) out->groups = p.groups;
        mt_ig_result_free(&p);
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_ig [--scores F.npy] [--breakdown] [--bos] [--group N] [--check-old] [--layers LIST] "
                    "[--target Y] MODEL [STEPS=20] [N_TOKENS=12] [REPEATS=3] [kn|amig]\n       bench_ig --peak [N=1024] [REPEATS=20]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *scores_path = NULL, *pos[8] = {0}, *layers_arg = NULL;
    int npos = 0, breakdown = 0, want_bos = 0, group = 0, check_old = 0, forced_target = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--peak")) return peak_main(argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "--scores") && i + 1 < argc) scores_path = argv[++i];
        else if (!strcmp(argv[i], "--breakdown")) breakdown = 1;
        else if (!strcmp(argv[i], "--bos")) want_bos = 1;
        else if (!strcmp(argv[i], "--group") && i + 1 < argc) group = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--check-old")) check_old = 1;
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers_arg = argv[++i];
        else if (!strcmp(argv[i], "--target") && i + 1 < argc) {
            forced_target = atoi(argv[++i]);
            if (forced_target < 0) usage();
        }
        else if (argv[i][0] == '-' && argv[i][1]) usage();
        else if (npos < 8) pos[npos++] = argv[i];
        else usage();
    }
    if (npos < 1) usage();
    const char *dir = pos[0];
    int steps = npos > 1 ? atoi(pos[1]) : 20, T = npos > 2 ? atoi(pos[2]) : 12, repeats = npos > 3 ? atoi(pos[3]) : 3;
    const char *method = npos > 4 ? pos[4] : "kn";
    if (steps < 1 || T < 3 || repeats < 1 || (strcmp(method, "kn") && strcmp(method, "amig"))) usage();

    mt_err e = {0};
    mt_model *m = NULL;
    double t0 = now();
    if (mt_model_load(dir, &m, &e)) die("load", &e);
    double load_s = now() - t0;
    const mt_config *c = mt_model_config(m);
    const int L = c->n_layers, f = c->d_ff, d = c->d_model, V = c->vocab_size, causal = c->causal;
    /* attention widths: query/output and key/value (GQA) */
    const int qd = causal ? c->n_heads * c->head_dim : d, kd = causal ? c->n_kv_heads * c->head_dim : d;
    if (T > c->max_pos - c->pos_offset) die("n_tokens exceeds the model's positions", NULL);
    if (want_bos && (!causal || c->bos_id < 0)) die("--bos: the model is not causal or has no BOS id", NULL);
    int rlo[MAX_RANGES], rhi[MAX_RANGES], nr = 0;
    static uint8_t selected[MT_MAX_LAYERS];
    if (layers_arg && strcmp(layers_arg, "all")) {
        if ((nr = parse_layers(layers_arg, rlo, rhi)) <= 0) usage();
        for (int i = 0; i < nr; i++) {
            if (rhi[i] > L) die("--layers: a layer is outside the model", NULL);
            for (int l = rlo[i]; l < rhi[i]; l++) selected[l] = 1;
        }
    } else
        for (int l = 0; l < L; l++) selected[l] = 1;

    int32_t *ids = malloc(sizeof(int32_t) * T);
    uint8_t *special = malloc(T);
    float *logits = malloc(sizeof(float) * V);
    if (!ids || !special || !logits) die("alloc", NULL);
    int mask_pos = bench_query(T, causal, want_bos ? c->bos_id : -2, V, ids, special);
    const int32_t mask_id = causal ? (c->eos_id >= 0 ? c->eos_id : 0) : 103;

    /* Target: argmax at the answer position of the unpatched model. */
    mt_run *r = NULL;
    if (mt_run_new(m, T, 1, &r, &e)) die("run", &e);
    if (mt_forward(m, r, ids, NULL, T, &e) || mt_head_logits(m, r, mask_pos, logits, &e)) die("forward", &e);
    int32_t target = 0;
    for (int j = 1; j < V; j++)
        if (logits[j] > logits[target]) target = j;
    mt_run_free(r);
    if (forced_target >= 0) {
        if (forced_target >= V) die("--target: outside the vocabulary", NULL);
        if (forced_target != target)
            fprintf(stderr, "bench_ig: --target %d (the unpatched argmax is %d)\n", forced_target, target);
        target = forced_target;
    }

    mt_query q = {.ids = ids, .types = NULL, .T = T, .answer_pos = &mask_pos, .answer_ids = &target,
                  .n_answer = 1, .mask_id = mask_id, .special = special};
    mt_ig_opts o;
    mt_ig_opts_default(&o);
    o.steps = steps;
    o.baseline = strcmp(method, "amig") ? MT_BASELINE_ZERO : MT_BASELINE_AMIG;
    o.layer_group = group;

    double *secs = malloc(sizeof(double) * repeats), best = 1e30, sum = 0;
    mt_ig_result res = {0};
    for (int i = 0; i < repeats; i++) {
        mt_ig_result_free(&res);
        double w0 = now();
        if (ig_ranges(m, &q, &o, nr, rlo, rhi, &res, &e)) die("mt_ig_attribute", &e);
        double wall = now() - w0;
        secs[i] = res.seconds > 0 ? res.seconds : wall;
        sum += secs[i];
        if (secs[i] < best) best = secs[i];
        fprintf(stderr, "bench_ig: repeat %d/%d: %.3f s (wall %.3f s)\n", i + 1, repeats, secs[i], wall);
    }
    double mean = sum / repeats, gflop = res.flops / 1e9;
    /* Causal LMs: the same work counted by this program from the exact shapes (GQA widths, gated
     * FFN, no head transform), matrix-multiply FLOPs, forward + activation backward. mt_ig's own
     * count uses 4 d^2 for the attention projections and d^2 + d V for the head (exact for BERT). */
    double gflop_model = gflop;
    if (causal) {
        const double M = steps + 1, fw = c->gated ? 3.0 : 2.0;
        const double tok = 2.0 * d * qd + 2.0 * d * kd + fw * d * f + 2.0 * T * qd; /* MACs, one token, one layer */
        double fl = (nr ? nr : 1) * 2.0 * T * L * tok;                                /* unpatched forward(s) */
        for (int l = 0; l < L; l++)
            if (selected[l]) fl += 2.0 * M * 2.0 * ((double)d * f + (L - 1 - l) * tok + (double)d * V);
        gflop_model = fl / 1e9;
    }

    /* The unoptimized path (one target layer per patched pass) on the same query. */
    double old_s = -1, old_rel = -1;
    if (check_old) {
        mt_ig_opts o1 = o;
        o1.layer_group = 1;
        mt_ig_result r1 = {0};
        if (ig_ranges(m, &q, &o1, nr, rlo, rhi, &r1, &e)) die("mt_ig_attribute (layer_group 1)", &e);
        old_s = r1.seconds;
        double md = 0, mx = 1e-30;
        for (size_t i = 0; i < (size_t)L * f; i++) {
            double dd = res.scores[i] - r1.scores[i], a = r1.scores[i] < 0 ? -r1.scores[i] : r1.scores[i];
            if (dd < 0) dd = -dd;
            if (!(dd <= md)) md = dd;
            if (a > mx) mx = a;
        }
        old_rel = md / mx;
        fprintf(stderr, "bench_ig: unoptimized path: %.3f s, scores differ by %.3g of the largest\n", old_s, old_rel);
        mt_ig_result_free(&r1);
    }

    /* Sanity: completeness per layer (score sum vs F(a) - F(b)), largest score. */
    double max_score = 0, worst_compl = 0;
    for (size_t i = 0; i < (size_t)L * f; i++) {
        double a = res.scores[i] < 0 ? -res.scores[i] : res.scores[i];
        if (a > max_score) max_score = a;
    }
    for (int l = 0; l < L; l++) {
        double want = res.f_a[l] - res.f_b[l], got = res.score_sum[l];
        double rel = (got - want) / (want < 0 ? -want : want > 1e-30 ? want : 1e-30);
        if (rel < 0) rel = -rel;
        if (rel > worst_compl) worst_compl = rel;
    }
    if (scores_path && write_npy(scores_path, res.scores, L, f)) {
        fprintf(stderr, "bench_ig: cannot write %s\n", scores_path);
        return 1;
    }

    /* The activation arena mt_ig_attribute allocates (T tokens x steps + 1 rows). */
    size_t arena = 0;
    if (!mt_run_new(m, T, steps + 1, &r, &e)) {
        arena = mt_run_bytes(r);
        mt_run_free(r);
    }

    size_t w_f32 = 0, w_half = 0;
    mt_model_weight_bytes(m, &w_f32, &w_half);
    const char *mt_weights = getenv("MT_WEIGHTS");

    /* mask_pos: the answer position (the mask for masked LMs, the last token for causal ones). */
    printf("{\"impl\": \"matrice-c\", \"method\": \"%s\", \"model\": \"%s\", \"arch\": \"%s\", \"causal\": %d, "
           "\"n_layers\": %d, \"d_model\": %d, \"d_ff\": %d, \"vocab\": %d, \"T\": %d, \"steps\": %d, "
           "\"mask_pos\": %d, \"mask_id\": %d, \"ids\": [",
           method, dir, mt_arch_name(c->arch), causal, L, d, f, V, T, steps, mask_pos, mask_id);
    for (int i = 0; i < T; i++) printf("%s%d", i ? ", " : "", ids[i]);
    printf("], \"target\": %d, \"prob\": %.9g, \"blas_core\": \"%s\", \"threads\": %d, \"repeats\": %d, "
           "\"seconds_all\": [",
           target, res.prob[0], openblas_get_corename(), openblas_get_num_threads(), repeats);
    for (int i = 0; i < repeats; i++) printf("%s%.4f", i ? ", " : "", secs[i]);
    printf("], \"seconds_best\": %.4f, \"seconds_mean\": %.4f, \"gflop\": %.3f, \"gflop_model\": %.3f, \"gflops_best\": %.2f, "
           "\"gflops_mean\": %.2f, \"peak_rss_mb\": %.1f, \"run_arena_mb\": %.1f, \"load_seconds\": %.3f, "
           "\"max_abs_score\": %.6g, \"completeness_max_rel_err\": %.3g, \"layer_group\": %d, \"old_path_seconds\": %.4f, "
           "\"old_path_max_rel_diff\": %.3g, \"layers\": \"%s\", "
           "\"weights_mb_f32\": %.1f, \"weights_mb_half\": %.1f, \"mt_weights\": \"%s\"",
           best, mean, gflop, gflop_model, gflop / best, gflop / mean, peak_rss_mb(), arena / 1048576.0, load_s, max_score,
           worst_compl, res.groups, old_s, old_rel, nr ? layers_arg : "all", w_f32 / 1048576.0, w_half / 1048576.0,
           mt_weights && strchr(mt_weights, '"') == NULL && strchr(mt_weights, '\\') == NULL ? mt_weights : "");

    if (breakdown) {
        /* The same work as one kn prompt, piece by piece through the public model API. */
        const int M = steps + 1;
        float *Z = malloc(sizeof(float) * (size_t)M * f), *dZ = malloc(sizeof(float) * (size_t)M * f);
        float *F = malloc(sizeof(float) * M);
        double *pg = malloc(sizeof(double) * L);
        if (!Z || !dZ || !F || !pg) die("alloc", NULL);
        if (mt_run_new(m, T, M, &r, &e)) die("run", &e);
        double b0 = now();
        if (mt_forward(m, r, ids, NULL, T, &e)) die("forward", &e);
        double fwd_s = now() - b0;
        b0 = now();
        if (mt_head_logits(m, r, mask_pos, logits, &e)) die("head", &e);
        double head1_s = now() - b0;
        /* Best of two passes per layer: the machine is shared, single timings are noisy. */
        double pg_total = 0;
        for (int l = 0; l < L; l++) {
            const float *a = mt_run_ffn_act(r, l, mask_pos);
            for (int k = 0; k < M; k++)
                for (int i = 0; i < f; i++) Z[(size_t)k * f + i] = ((float)k / steps) * a[i];
            pg[l] = 1e30;
            for (int pass = 0; pass < 2; pass++) {
                b0 = now();
                if (mt_patch_grad(m, r, l, mask_pos, Z, M, target, 0, F, dZ, &e)) die("patch_grad", &e);
                double t = now() - b0;
                if (t < pg[l]) pg[l] = t;
            }
            pg_total += pg[l];
        }
        mt_run_free(r);
        /* pg[l] ~ top + (L-1-l) * per_layer: least-squares fit over l. */
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int l = 0; l < L; l++) {
            double x = L - 1 - l;
            sx += x, sy += pg[l], sxx += x * x, sxy += x * pg[l];
        }
        double slope = L > 1 ? (L * sxy - sx * sy) / (L * sxx - sx * sx) : 0, icpt = (sy - slope * sx) / L;
        /* GEMMs alone at the shapes of the patched pass. Masked LMs: one downstream layer at M*T
         * rows, forward (q, k, v, o, fc1, fc2) and activation backward (the same six, transposed);
         * the head at M rows (transform d x d and decoder d x V, forward and backward). Causal LMs:
         * one downstream layer at M rows (the last token only): q, k, v (GQA widths), o, gate, up,
         * down forward and backward; the head: decoder d x V at M rows, forward and backward. */
        const int N = causal ? M : M * T, gr = 3;
        double layer_gemm, head_gemm, head_gemm_batched, layer_gemm_flop, head_gemm_flop, layer_gemm_stream = 0;
        const int MB = M * L; /* the head GEMMs if the rows of all L target layers went through it at once */
        if (causal) {
            const int nup = c->gated ? 2 : 1;
            layer_gemm = time_gemm(N, qd, d, 1, gr) + 2 * time_gemm(N, kd, d, 1, gr) + time_gemm(N, d, qd, 1, gr) +
                         nup * time_gemm(N, f, d, 1, gr) + time_gemm(N, d, f, 1, gr) + time_gemm(N, d, qd, 0, gr) +
                         2 * time_gemm(N, d, kd, 0, gr) + time_gemm(N, qd, d, 0, gr) + nup * time_gemm(N, d, f, 0, gr) +
                         time_gemm(N, f, d, 0, gr);
            head_gemm = time_gemm(M, V, d, 1, gr) + time_gemm(M, d, V, 0, gr);
            head_gemm_batched = (time_gemm(MB, V, d, 1, gr) + time_gemm(MB, d, V, 0, gr)) / L;
            /* weights streamed from memory: enough distinct layers to exceed 512 MB */
            const double layer_bytes = 4.0 * ((double)d * (2 * qd + 2 * kd) + (nup + 1.0) * d * f);
            int sets = (int)(512e6 / layer_bytes) + 1;
            if (sets > L) sets = L;
            layer_gemm_stream = time_layer_stream(N, d, qd, kd, f, c->gated, sets, 2);
            layer_gemm_flop = 2.0 * 2.0 * N * (2.0 * d * qd + 2.0 * d * kd + (nup + 1.0) * d * f);
            head_gemm_flop = 2.0 * 2.0 * M * ((double)d * V);
        } else {
            layer_gemm = 4 * time_gemm(N, d, d, 1, gr) + time_gemm(N, f, d, 1, gr) + time_gemm(N, d, f, 1, gr) +
                         4 * time_gemm(N, d, d, 0, gr) + time_gemm(N, d, f, 0, gr) + time_gemm(N, f, d, 0, gr);
            head_gemm = time_gemm(M, d, d, 1, gr) + time_gemm(M, V, d, 1, gr) + time_gemm(M, d, d, 0, gr) +
                        time_gemm(M, d, V, 0, gr);
            head_gemm_batched = (time_gemm(MB, d, d, 1, gr) + time_gemm(MB, V, d, 1, gr) + time_gemm(MB, d, d, 0, gr) +
                                 time_gemm(MB, d, V, 0, gr)) / L;
            layer_gemm_flop = 2.0 * 2.0 * N * (4.0 * d * d + 2.0 * d * f);
            head_gemm_flop = 2.0 * 2.0 * M * ((double)d * d + (double)d * V);
        }
        printf(", \"breakdown\": {\"forward_1seq_s\": %.4f, \"head_1row_s\": %.4f, \"patch_grad_total_s\": %.4f, "
               "\"patch_grad_s\": [",
               fwd_s, head1_s, pg_total);
        for (int l = 0; l < L; l++) printf("%s%.4f", l ? ", " : "", pg[l]);
        printf("], \"fit_top_s\": %.4f, \"fit_per_layer_s\": %.4f, \"head_gemm_s\": %.4f, \"head_gemm_gflops\": %.2f, "
               "\"head_gemm_batched_per_layer_s\": %.4f, \"head_gemm_batched_gflops\": %.2f, "
               "\"layer_gemm_s\": %.4f, \"layer_gemm_gflops\": %.2f, \"layer_gemm_stream_s\": %.4f, \"rows_per_layer\": %d, "
               "\"patched_rows\": %d}",
               icpt, slope, head_gemm, head_gemm_flop / head_gemm / 1e9, head_gemm_batched,
               head_gemm_flop / head_gemm_batched / 1e9, layer_gemm, layer_gemm_flop / layer_gemm / 1e9, layer_gemm_stream, N, M);
        free(Z);
        free(dZ);
        free(F);
        free(pg);
    }
    printf("}\n");

    mt_ig_result_free(&res);
    mt_model_free(m);
    free(ids);
    free(special);
    free(logits);
    free(secs);
    return 0;
}
