#include "mt_kernels.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mt_config.h"
#include "mt_half.h"

/* ---------------------------------------------------------------- thread pool */

/* One job at a time (ggml-style): workers sleep on a condition variable between jobs, so they
 * do not compete with OpenBLAS's threads for the cores while a GEMM runs. */
static struct {
    pthread_mutex_t mu, job; /* job: held by the thread that owns the pool for one call */
    pthread_cond_t go, done;
    int n_threads;           /* workers + the caller */
    unsigned long gen;       /* job counter: a worker runs each generation once */
    int running;             /* workers still on the current job */
    mt_range_fn fn;
    void *ctx;
    long n, grain;
    atomic_long next;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .job = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void run_chunks(void) {
    const long n = pool.n, g = pool.grain;
    for (long lo; (lo = atomic_fetch_add(&pool.next, g)) < n;) pool.fn(pool.ctx, lo, lo + g < n ? lo + g : n);
}

static void *worker(void *arg) {
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen) pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.gen;
        pthread_mutex_unlock(&pool.mu);
        run_chunks();
        pthread_mutex_lock(&pool.mu);
        if (--pool.running == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* A forked child has no workers: it runs everything on its one thread. */
static void pool_after_fork(void) { pool.n_threads = 1; }

static void pool_start(void) {
    pthread_atfork(NULL, NULL, pool_after_fork);
    const char *env = getenv("MT_THREADS");
    long n = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    pool.n_threads = 1;
    for (long i = 1; i < n; i++) { /* a worker that cannot start just leaves more to the others */
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (!pthread_create(&t, &at, worker, NULL)) pool.n_threads++;
        pthread_attr_destroy(&at);
    }
}

int mt_threads(void) {
    pthread_once(&pool_once, pool_start);
    return pool.n_threads;
}

void mt_parallel_for(long n, long grain, mt_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || mt_threads() == 1 || pthread_mutex_trylock(&pool.job)) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn, pool.ctx = ctx, pool.n = n, pool.grain = grain;
    atomic_store(&pool.next, 0);
    pool.running = pool.n_threads - 1;
    pool.gen++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    run_chunks();
    pthread_mutex_lock(&pool.mu);
    while (pool.running > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.job);
}

void *mt_alloc_big(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge) return aligned_alloc(64, (bytes + 63) / 64 * 64);
    size_t n = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, n);
    /* opt-in: on a busy machine, huge pages measured no faster (zeroing and compaction) */
    const char *env = getenv("MT_THP");
    if (p && env && *env == '1') madvise(p, n, MADV_HUGEPAGE); /* advice only: failure changes nothing */
    return p;
}

/* Rows per chunk so that a chunk holds about 16k values (less is not worth a wake-up). */
static long row_grain(long C) { return C >= 16384 ? 1 : 16384 / (C > 0 ? C : 1); }

/* GEMMs on the pool (MT_GEMM=pool): each chunk of output columns is one single-threaded
 * cblas_sgemm, and OpenBLAS's own threads stay off, so they cannot spin against the pool's
 * non-GEMM work. MT_GEMM=blas (the default) leaves the threading to OpenBLAS. */
void openblas_set_num_threads(int n);
static int gemm_on_pool = -1;

static int use_pool_gemm(void) {
    if (gemm_on_pool < 0) {
        const char *env = getenv("MT_GEMM");
        gemm_on_pool = env && !strcmp(env, "pool") && mt_threads() > 1;
        if (gemm_on_pool) openblas_set_num_threads(1);
    }
    return gemm_on_pool;
}

/* ---------------------------------------------------------------- f16/bf16 weights */

/* f32 values per converted block of half weights: 1 MB by default (MT_HALF_BLOCK, for tests),
 * so that a block stays in L2 between its conversion and its product. */
static long half_block(void) {
    static long v;
    if (!v) {
        const char *env = getenv("MT_HALF_BLOCK");
        long b = env && *env ? strtol(env, NULL, 10) : 0;
        v = b >= 1 ? b : 1L << 18;
    }
    return v;
}

/* The calling thread's conversion buffer, grown on demand and kept for later products. */
static _Thread_local float *half_buf;
static _Thread_local size_t half_cap;

static float *half_scratch(size_t n) {
    if (n <= half_cap) return half_buf;
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) return NULL;
    free(half_buf);
    half_buf = p, half_cap = n;
    return p;
}

typedef struct {
    float *dst;
    mt_w w;
    long C, r0, c0, cols;
} conv_job;

/* Row r0 + r, columns [c0, c0 + cols) of a C-column matrix -> dst + r * cols. Q8_0: c0 and cols
 * are multiples of 32 (the loader keeps Q8_0 only for such rows; column chunks are multiples
 * of 64). */
static void conv_rows_range(void *ctx, long lo, long hi) {
    const conv_job *J = ctx;
    for (long r = lo; r < hi; r++) {
        const size_t at = (size_t)(J->r0 + r) * J->C + J->c0;
        float *d = J->dst + r * J->cols;
        if (J->w.type == MT_W_Q8_0)
            mt_q8_0_to_f32(d, (const unsigned char *)J->w.p + at / 32 * 34, (size_t)J->cols / 32);
        else
            mt_half_to_f32(d, (const uint16_t *)J->w.p + at, (size_t)J->cols, J->w.type == MT_W_BF16);
    }
}

/* dst [n][cols] = rows [r0, r0 + n), columns [c0, c0 + cols) of w (C columns) as f32, on the pool. */
static void w_convert(float *dst, mt_w w, long C, long r0, long n, long c0, long cols) {
    conv_job J = {dst, w, C, r0, c0, cols};
    mt_parallel_for(n, cols >= 16384 ? 1 : 16384 / cols, conv_rows_range, &J);
}

void mt_w_rows(mt_w w, long row, long n, long cols, float *dst) {
    if (w.type == MT_W_F32)
        memcpy(dst, (const float *)w.p + row * cols, sizeof(float) * (size_t)(n * cols));
    else
        w_convert(dst, w, cols, row, n, 0, cols);
}

int mt_w_promote(mt_w *w, size_t n) {
    if (w->type == MT_W_F32 || !w->p) return 0;
    float *f = mt_alloc_big(n * sizeof(float));
    if (!f) return -1;
    mt_w_rows(*w, 0, 1, (long)n, f);
    *w = (mt_w){f, MT_W_F32, f};
    return 0;
}

void mt_w_release(mt_w *w) {
    free(w->owned);
    w->owned = NULL;
}

typedef struct {
    float *out;
    const float *in;
    mt_w w;
    int N, C, OC, bwd;
    float beta;
    long chunk;
} gemm_job;

/* One value of a non-f32 matrix (the fallback below). */
static float w_at(mt_w w, size_t i) {
    float v[32];
    if (w.type == MT_W_Q8_0) {
        mt_q8_0_to_f32(v, (const unsigned char *)w.p + i / 32 * 34, 1);
        return v[i % 32];
    }
    mt_half_to_f32(v, (const uint16_t *)w.p + i, 1, w.type == MT_W_BF16);
    return v[0];
}

/* Unblocked fallback when no conversion buffer can be had: slow, exact, never fails. */
static void gemm_half_direct(const gemm_job *J, long c0, long c1) {
    const int K = J->bwd ? J->OC : J->C, ldo = J->bwd ? J->C : J->OC;
    for (int n = 0; n < J->N; n++)
        for (long c = c0; c < c1; c++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)J->in[(size_t)n * K + k] *
                       w_at(J->w, J->bwd ? (size_t)k * J->C + c : (size_t)c * J->C + k);
            float *o = J->out + (size_t)n * ldo + c;
            *o = (float)acc + (J->beta != 0 ? *o : 0);
        }
}

/* Output columns [c0, c1) of a product with f16/bf16/Q8_0 weights, converting a block of W's rows
 * at a time (contiguous, so the conversion streams) and multiplying it in f32. Forward, a block
 * of rows is a block of output columns; backward it is a slice of the inner dimension, and the
 * blocks' products are summed into the output (beta 1 after the first). */
static void gemm_half(const gemm_job *J, long c0, long c1) {
    const long rows = J->bwd ? J->OC : c1 - c0;
    /* few rows: a block per thread sized for its L2; many rows: 4x, fewer threaded sgemm calls */
    long B = half_block() * (J->N < 128 ? 1 : 4) / (J->bwd ? c1 - c0 : J->C);
    B = B < 16 ? 16 : B / 16 * 16;
    if (B > rows) B = rows;
    float *buf = half_scratch((size_t)B * J->C);
    if (!buf) {
        gemm_half_direct(J, c0, c1);
        return;
    }
    for (long r0 = 0; r0 < rows; r0 += B) {
        const long n = rows - r0 < B ? rows - r0 : B;
        if (!J->bwd) { /* out[:, c0+r0 : +n] = in . W[c0+r0 : +n, :]^T */
            w_convert(buf, J->w, J->C, c0 + r0, n, 0, J->C);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, J->N, (int)n, J->C, 1.0f, J->in, J->C, buf, J->C,
                        J->beta, J->out + c0 + r0, J->OC);
        } else { /* din[:, c0:c1] (+)= dout[:, r0 : +n] . W[r0 : +n, c0:c1] */
            const long w = c1 - c0; /* all of C unless the pool split the columns */
            w_convert(buf, J->w, J->C, r0, n, c0, w);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, J->N, (int)w, (int)n, 1.0f, J->in + r0, J->OC,
                        buf, (int)w, r0 ? 1.0f : J->beta, J->out + c0, J->C);
        }
    }
}

static void gemm_cols(const gemm_job *J, long c0, long c1) {
    if (J->w.type != MT_W_F32) {
        gemm_half(J, c0, c1);
    } else if (!J->bwd) { /* out[:, c0:c1] = in . W[c0:c1, :]^T */
        const float *w = J->w.p;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, J->N, (int)(c1 - c0), J->C, 1.0f, J->in, J->C,
                    w + (size_t)c0 * J->C, J->C, J->beta, J->out + c0, J->OC);
    } else { /* din[:, c0:c1] = dout . W[:, c0:c1] */
        const float *w = J->w.p;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, J->N, (int)(c1 - c0), J->OC, 1.0f, J->in, J->OC,
                    w + c0, J->C, J->beta, J->out + c0, J->C);
    }
}

static void gemm_range(void *ctx, long lo, long hi) {
    const gemm_job *J = ctx;
    const long cols = J->bwd ? J->C : J->OC, c1 = hi * J->chunk;
    gemm_cols(J, lo * J->chunk, c1 < cols ? c1 : cols);
}

/* Column chunks on the pool: about 4 per thread, multiples of 64, whole GEMM when small;
 * otherwise one call (OpenBLAS threads it). Products with f16/bf16 weights and few rows (the
 * bandwidth-bound case: decoders' patched rows, one head row per step) split their columns over
 * the pool, one chunk per thread, each converting its blocks into its own cache and multiplying
 * them with a single-threaded sgemm, so no block changes hands between threads; with many rows
 * the GEMM dominates and OpenBLAS threads each block's product (measured faster there). */
int openblas_get_num_threads(void);
static void gemm(float *out, const float *in, mt_w w, int N, int C, int OC, int bwd, float beta) {
    const long cols = bwd ? C : OC;
    gemm_job J = {out, in, w, N, C, OC, bwd, beta, cols};
    const int split = w.type != MT_W_F32 && N < 128, T = mt_threads(); /* few-row half product */
    if ((use_pool_gemm() || split) && T > 1 && (double)N * C * OC >= 4e6) {
        const long per = split ? T : 4L * T;
        long chunk = (cols + per - 1) / per;
        J.chunk = (chunk + 63) / 64 * 64;
        const int blas = split && !use_pool_gemm() ? openblas_get_num_threads() : 1;
        if (blas > 1) openblas_set_num_threads(1);
        mt_parallel_for((cols + J.chunk - 1) / J.chunk, 1, gemm_range, &J);
        if (blas > 1) openblas_set_num_threads(blas);
        return;
    }
    gemm_cols(&J, 0, cols);
}

void mt_matmul_fwd(float *out, const float *in, mt_w w, const float *bias, int N, int C, int OC) {
    if (bias) {
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, sizeof(float) * OC);
    }
    gemm(out, in, w, N, C, OC, 0, bias ? 1.0f : 0.0f);
}

void mt_matmul_bwd_in(float *din, const float *dout, mt_w w, int N, int C, int OC, int accumulate) {
    gemm(din, dout, w, N, C, OC, 1, accumulate ? 1.0f : 0.0f);
}

/* The norm kernels' work, one row per item. Forward: y = norm(x), keeping mean (LayerNorm) and
 * rstd. Backward: y = din from dy, reading mean and rstd (the casts in the wrappers drop the
 * const of inputs that are only read). */
typedef struct {
    float *y, *mean, *rstd;
    const float *x, *dy, *w, *b;
    int C;
    float eps;
} norm_job;

static void layernorm_fwd_range(void *ctx, long lo, long hi) {
    const norm_job *J = ctx;
    const int C = J->C;
    for (long n = lo; n < hi; n++) {
        const float *x = J->x + (size_t)n * C, *w = J->w, *b = J->b;
        float *y = J->y + (size_t)n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += x[c];
        float m = (float)(s / C);
        double v = 0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - m;
            v += d * d;
        }
        float r = (float)(1.0 / sqrt(v / C + J->eps));
        for (int c = 0; c < C; c++) y[c] = (x[c] - m) * r * w[c] + b[c];
        J->mean[n] = m;
        J->rstd[n] = r;
    }
}

void mt_layernorm_fwd(float *out, float *mean, float *rstd, const float *in, const float *w,
                      const float *b, int N, int C, float eps) {
    norm_job J = {.y = out, .mean = mean, .rstd = rstd, .x = in, .w = w, .b = b, .C = C, .eps = eps};
    mt_parallel_for(N, row_grain(C), layernorm_fwd_range, &J);
}

static void layernorm_bwd_range(void *ctx, long lo, long hi) {
    const norm_job *J = ctx;
    const int C = J->C;
    const float *w = J->w;
    for (long n = lo; n < hi; n++) {
        const float *x = J->x + (size_t)n * C, *dy = J->dy + (size_t)n * C;
        float *dx = J->y + (size_t)n * C;
        float m = J->mean[n], r = J->rstd[n];
        /* dxhat = dy*w; dx = r * (dxhat - mean(dxhat) - xhat*mean(dxhat*xhat)) */
        double s1 = 0, s2 = 0;
        for (int c = 0; c < C; c++) {
            float g = dy[c] * w[c];
            float xh = (x[c] - m) * r;
            s1 += g;
            s2 += g * xh;
        }
        float a = (float)(s1 / C), bb = (float)(s2 / C);
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r;
            dx[c] = r * (dy[c] * w[c] - a - xh * bb);
        }
    }
}

void mt_layernorm_bwd(float *din, const float *dout, const float *in, const float *mean,
                      const float *rstd, const float *w, int N, int C) {
    norm_job J = {.y = din, .mean = (float *)mean, .rstd = (float *)rstd, .x = in, .dy = dout, .w = w, .C = C};
    mt_parallel_for(N, row_grain(C), layernorm_bwd_range, &J);
}

#define GELU_TANH_C 0.7978845608028654f /* sqrt(2/pi) */

/* Activation forward (y = act(x)) and backward (y = din = dy * act'(x)), elementwise. */
typedef struct {
    float *y;
    const float *x, *dy;
    int act;
} act_job;

static void act_fwd_range(void *ctx, long lo, long hi) {
    const act_job *J = ctx;
    float *out = J->y;
    const float *in = J->x;
    switch (J->act) {
    case MT_ACT_GELU_ERF:
        for (long i = lo; i < hi; i++) out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * (float)M_SQRT1_2));
        break;
    case MT_ACT_GELU_TANH:
        for (long i = lo; i < hi; i++) {
            float x = in[i];
            out[i] = 0.5f * x * (1.0f + tanhf(GELU_TANH_C * (x + 0.044715f * x * x * x)));
        }
        break;
    case MT_ACT_SILU:
        for (long i = lo; i < hi; i++) out[i] = in[i] / (1.0f + expf(-in[i]));
        break;
    default:
        for (long i = lo; i < hi; i++) out[i] = in[i] > 0 ? in[i] : 0;
    }
}

void mt_act_fwd(float *out, const float *in, long n, int act) {
    act_job J = {.y = out, .x = in, .act = act};
    mt_parallel_for(n, 16384, act_fwd_range, &J);
}

static void act_bwd_range(void *ctx, long lo, long hi) {
    const act_job *J = ctx;
    float *din = J->y;
    const float *dout = J->dy, *in = J->x;
    switch (J->act) {
    case MT_ACT_GELU_ERF:
        for (long i = lo; i < hi; i++) {
            float x = in[i];
            float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
            float pdf = expf(-0.5f * x * x) * 0.3989422804014327f;
            din[i] = dout[i] * (cdf + x * pdf);
        }
        break;
    case MT_ACT_GELU_TANH:
        for (long i = lo; i < hi; i++) {
            float x = in[i];
            float u = GELU_TANH_C * (x + 0.044715f * x * x * x);
            float t = tanhf(u);
            float du = GELU_TANH_C * (1.0f + 3.0f * 0.044715f * x * x);
            din[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
        }
        break;
    case MT_ACT_SILU:
        for (long i = lo; i < hi; i++) {
            float sg = 1.0f / (1.0f + expf(-in[i]));
            din[i] = dout[i] * sg * (1.0f + in[i] * (1.0f - sg));
        }
        break;
    default:
        for (long i = lo; i < hi; i++) din[i] = in[i] > 0 ? dout[i] : 0;
    }
}

void mt_act_bwd(float *din, const float *dout, const float *in, long n, int act) {
    act_job J = {.y = din, .x = in, .dy = dout, .act = act};
    mt_parallel_for(n, 16384, act_bwd_range, &J);
}

/* Bidirectional attention over (sequence, head) items. Forward writes out and att (the softmax
 * probabilities); backward reads att and writes dq, dk, dv from dout. */
typedef struct {
    float *out, *att, *dq, *dk, *dv;
    const float *dout, *q, *k, *v;
    int T, H, D;
} attention_job;

static void attention_fwd_range(void *ctx, long lo, long hi) {
    const attention_job *J = ctx;
    float *out = J->out, *att = J->att;
    const float *q = J->q, *k = J->k, *v = J->v;
    const int T = J->T, H = J->H, D = J->D;
    const int C = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    for (long bh = lo; bh < hi; bh++) {
        const int b = (int)(bh / H), h = (int)(bh % H);
        float *A = att + ((size_t)(b * H + h) * T) * T;
        for (int i = 0; i < T; i++) {
            const float *qi = q + ((size_t)b * T + i) * C + h * D;
            float *row = A + (size_t)i * T;
            float mx = -INFINITY;
            for (int j = 0; j < T; j++) {
                const float *kj = k + ((size_t)b * T + j) * C + h * D;
                float s = 0;
                for (int d = 0; d < D; d++) s += qi[d] * kj[d];
                row[j] = s * scale;
                if (row[j] > mx) mx = row[j];
            }
            float sum = 0;
            for (int j = 0; j < T; j++) {
                row[j] = expf(row[j] - mx);
                sum += row[j];
            }
            float inv = 1.0f / sum;
            float *oi = out + ((size_t)b * T + i) * C + h * D;
            memset(oi, 0, sizeof(float) * D);
            for (int j = 0; j < T; j++) {
                row[j] *= inv;
                const float *vj = v + ((size_t)b * T + j) * C + h * D;
                for (int d = 0; d < D; d++) oi[d] += row[j] * vj[d];
            }
        }
    }
}

void mt_attention_fwd(float *out, float *att, const float *q, const float *k, const float *v,
                      int B, int T, int H, int D) {
    attention_job J = {.out = out, .att = att, .q = q, .k = k, .v = v, .T = T, .H = H, .D = D};
    mt_parallel_for((long)B * H, 1, attention_fwd_range, &J);
}

static void attention_bwd_range(void *ctx, long lo, long hi) {
    const attention_job *J = ctx;
    float *dq = J->dq, *dk = J->dk, *dv = J->dv;
    const float *dout = J->dout, *att = J->att, *q = J->q, *k = J->k, *v = J->v;
    const int T = J->T, H = J->H, D = J->D;
    const int C = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    float dp[T]; /* T <= the model's positions (a few thousand): a few KB of stack */
    for (long bh = lo; bh < hi; bh++) {
        const int b = (int)(bh / H), h = (int)(bh % H);
        const float *A = att + ((size_t)(b * H + h) * T) * T;
        for (int i = 0; i < T; i++) {
            const float *row = A + (size_t)i * T;
            const float *doi = dout + ((size_t)b * T + i) * C + h * D;
            /* dP[j] = do_i . v_j ; dv_j += P[j] do_i */
            float dot = 0;
            for (int j = 0; j < T; j++) {
                const float *vj = v + ((size_t)b * T + j) * C + h * D;
                float *dvj = dv + ((size_t)b * T + j) * C + h * D;
                float s = 0;
                for (int d = 0; d < D; d++) {
                    s += doi[d] * vj[d];
                    dvj[d] += row[j] * doi[d];
                }
                dp[j] = s;
                dot += s * row[j];
            }
            /* dS[j] = P[j] (dP[j] - sum_j P dP) * scale; dq_i += dS k_j; dk_j += dS q_i */
            const float *qi = q + ((size_t)b * T + i) * C + h * D;
            float *dqi = dq + ((size_t)b * T + i) * C + h * D;
            for (int j = 0; j < T; j++) {
                float ds = row[j] * (dp[j] - dot) * scale;
                const float *kj = k + ((size_t)b * T + j) * C + h * D;
                float *dkj = dk + ((size_t)b * T + j) * C + h * D;
                for (int d = 0; d < D; d++) {
                    dqi[d] += ds * kj[d];
                    dkj[d] += ds * qi[d];
                }
            }
        }
    }
}

void mt_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *att,
                      const float *q, const float *k, const float *v, int B, int T, int H, int D) {
    size_t nall = (size_t)B * T * H * D;
    memset(dq, 0, sizeof(float) * nall);
    memset(dk, 0, sizeof(float) * nall);
    memset(dv, 0, sizeof(float) * nall);
    attention_job J = {.dq = dq, .dk = dk, .dv = dv, .dout = dout, .att = (float *)att, .q = q, .k = k, .v = v,
                       .T = T, .H = H, .D = D};
    mt_parallel_for((long)B * H, 1, attention_bwd_range, &J);
}

double mt_softmax(float *probs, const float *logits, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    /* one exp per value (the vocabulary-wide softmax of every patched row is hot); the sum in
     * double. With mx = +-Inf every value is NaN, which the callers' checks report. */
    double s = 0;
    for (int i = 0; i < n; i++) {
        probs[i] = expf(logits[i] - mx);
        s += probs[i];
    }
    const float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) probs[i] *= inv;
    return mx + log(s);
}

typedef struct {
    float *dl, *F;
    const float *lg;
    int V, target, logprob;
    float softcap;
    atomic_long bad; /* first failing row, or LONG_MAX */
} target_job;

static void target_range(void *ctx, long lo, long hi) {
    target_job *J = ctx;
    const int V = J->V;
    for (long k = lo; k < hi; k++) {
        const float *lg = J->lg + (size_t)k * V;
        float *dl = J->dl + (size_t)k * V;
        mt_softmax(dl, lg, V);
        float p = dl[J->target];
        double lp = log((double)p);
        if (!isfinite(p) || (J->logprob && !isfinite(lp))) {
            long cur = atomic_load(&J->bad);
            while (k < cur && !atomic_compare_exchange_weak(&J->bad, &cur, k)) {
            }
            continue;
        }
        if (J->F) J->F[k] = J->logprob ? (float)lp : p;
        /* d p_y / d logit_j = p_y (1[j=y] - p_j);  d log p_y / d logit_j = 1[j=y] - p_j */
        const float s = J->logprob ? 1.0f : p;
        for (int j = 0; j < V; j++) dl[j] = -s * dl[j];
        dl[J->target] += s;
        if (J->softcap > 0)
            for (int j = 0; j < V; j++) {
                float t = lg[j] / J->softcap;
                dl[j] *= 1 - t * t;
            }
    }
}

long mt_target_grad(float *dl, float *F, const float *lg, long R, int V, int target, int logprob, float softcap) {
    target_job J = {dl, F, lg, V, target, logprob, softcap, LONG_MAX};
    mt_parallel_for(R, 1, target_range, &J);
    long bad = atomic_load(&J.bad);
    return bad == LONG_MAX ? -1 : bad;
}

/* ---------------------------------------------------------------- decoder kernels */

static void rmsnorm_fwd_range(void *ctx, long lo, long hi) {
    const norm_job *J = ctx;
    const int C = J->C;
    const float *w = J->w;
    for (long n = lo; n < hi; n++) {
        const float *x = J->x + (size_t)n * C;
        float *y = J->y + (size_t)n * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)x[c] * x[c];
        float r = (float)(1.0 / sqrt(s / C + J->eps));
        for (int c = 0; c < C; c++) y[c] = x[c] * r * (w ? w[c] : 1.0f);
        J->rstd[n] = r;
    }
}

void mt_rmsnorm_fwd(float *out, float *rstd, const float *in, const float *w, int N, int C, float eps) {
    norm_job J = {.y = out, .rstd = rstd, .x = in, .w = w, .C = C, .eps = eps};
    mt_parallel_for(N, row_grain(C), rmsnorm_fwd_range, &J);
}

static void rmsnorm_bwd_range(void *ctx, long lo, long hi) {
    const norm_job *J = ctx;
    const int C = J->C;
    const float *w = J->w;
    for (long n = lo; n < hi; n++) {
        const float *x = J->x + (size_t)n * C, *dy = J->dy + (size_t)n * C;
        float *dx = J->y + (size_t)n * C;
        float r = J->rstd[n];
        double s = 0;
        for (int c = 0; c < C; c++) s += (double)dy[c] * (w ? w[c] : 1.0f) * x[c] * r;
        float m = (float)(s / C);
        for (int c = 0; c < C; c++) dx[c] = r * (dy[c] * (w ? w[c] : 1.0f) - x[c] * r * m);
    }
}

void mt_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, const float *w, int N, int C) {
    norm_job J = {.y = din, .rstd = (float *)rstd, .x = in, .dy = dout, .w = w, .C = C};
    mt_parallel_for(N, row_grain(C), rmsnorm_bwd_range, &J);
}

void mt_rope_apply(float *x, int n_heads, int D, const float *cos_t, const float *sin_t, int inverse) {
    const int half = D / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * D;
        for (int i = 0; i < half; i++) {
            float c = cos_t[i], s = inverse ? -sin_t[i] : sin_t[i];
            float a = v[i], b = v[i + half];
            v[i] = a * c - b * s;
            v[i + half] = b * c + a * s;
        }
    }
}

static float attn_score(float dot, int h, int j, const mt_attn_rule *r) {
    float s = dot * r->scale;
    if (r->softcap > 0) s = tanhf(s / r->softcap) * r->softcap;
    if (r->slopes) s += r->slopes[h] * (float)j;
    return s;
}

static int visible(int i, int j, const mt_attn_rule *r) { return j <= i && (r->window <= 0 || i - j < r->window); }

void mt_causal_attention_fwd(float *out, const float *q, const float *k, const float *v, int B, int T, int H,
                             int Hkv, int D, const mt_attn_rule *rule) {
    const int C = H * D, Ck = Hkv * D, group = H / Hkv;
    float *row = malloc(sizeof(float) * (size_t)T);
    if (!row) return;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            for (int i = 0; i < T; i++) {
                const float *qi = q + ((size_t)b * T + i) * C + h * D;
                float mx = -INFINITY;
                for (int j = 0; j <= i; j++) {
                    if (!visible(i, j, rule)) {
                        row[j] = -INFINITY;
                        continue;
                    }
                    const float *kj = k + ((size_t)b * T + j) * Ck + hk * D;
                    float s = 0;
                    for (int d = 0; d < D; d++) s += qi[d] * kj[d];
                    row[j] = attn_score(s, h, j, rule);
                    if (row[j] > mx) mx = row[j];
                }
                float sum = 0;
                for (int j = 0; j <= i; j++) {
                    row[j] = row[j] == -INFINITY ? 0 : expf(row[j] - mx);
                    sum += row[j];
                }
                float *oi = out + ((size_t)b * T + i) * C + h * D;
                memset(oi, 0, sizeof(float) * D);
                for (int j = 0; j <= i; j++) {
                    if (!row[j]) continue;
                    const float *vj = v + ((size_t)b * T + j) * Ck + hk * D;
                    float pj = row[j] / sum;
                    for (int d = 0; d < D; d++) oi[d] += pj * vj[d];
                }
            }
        }
    free(row);
}

/* key/value vector j for row m and kv head hk: the cache below p, the row's own at p */
static const float *kv_at(const float *cache, const float *self, int m, int j, int p, int hk, int Ck, int D) {
    return j < p ? cache + (size_t)j * Ck + hk * D : self + (size_t)m * Ck + hk * D;
}

/* One job for the forward (out, att) and the backward (dq, dks, dvs, dout) of decode attention. */
typedef struct {
    float *out, *att, *dq, *dks, *dvs;
    const float *dout, *q, *kc, *vc, *ks, *vs;
    int p, H, Hkv, D;
    const mt_attn_rule *rule;
} decode_attention_job;

static void decode_attention_fwd_range(void *ctx, long lo, long hi) {
    const decode_attention_job *J = ctx;
    float *out = J->out, *att = J->att;
    const float *q = J->q, *kc = J->kc, *vc = J->vc, *ks = J->ks, *vs = J->vs;
    const int p = J->p, H = J->H, Hkv = J->Hkv, D = J->D;
    const mt_attn_rule *rule = J->rule;

    const int C = H * D, Ck = Hkv * D, group = H / Hkv, n = p + 1;
    for (long m = lo; m < hi; m++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            const float *qm = q + (size_t)m * C + h * D;
            float *a = att + ((size_t)m * H + h) * n, mx = -INFINITY;
            for (int j = 0; j < n; j++) {
                if (!visible(p, j, rule)) {
                    a[j] = -INFINITY;
                    continue;
                }
                const float *kj = kv_at(kc, ks, m, j, p, hk, Ck, D);
                float s = 0;
                for (int d = 0; d < D; d++) s += qm[d] * kj[d];
                a[j] = attn_score(s, h, j, rule);
                if (a[j] > mx) mx = a[j];
            }
            float sum = 0;
            for (int j = 0; j < n; j++) {
                a[j] = a[j] == -INFINITY ? 0 : expf(a[j] - mx);
                sum += a[j];
            }
            float *o = out + (size_t)m * C + h * D;
            memset(o, 0, sizeof(float) * D);
            for (int j = 0; j < n; j++) {
                a[j] /= sum;
                if (!a[j]) continue;
                const float *vj = kv_at(vc, vs, m, j, p, hk, Ck, D);
                for (int d = 0; d < D; d++) o[d] += a[j] * vj[d];
            }
        }
}

void mt_decode_attention_fwd(float *out, float *att, const float *q, const float *kc, const float *vc,
                             const float *ks, const float *vs, int M, int p, int H, int Hkv, int D,
                             const mt_attn_rule *rule) {
    decode_attention_job J = {.out = out, .att = att, .q = q, .kc = kc, .vc = vc, .ks = ks, .vs = vs,
                              .p = p, .H = H, .Hkv = Hkv, .D = D, .rule = rule};
    mt_parallel_for(M, 4, decode_attention_fwd_range, &J);
}

static void decode_attention_bwd_range(void *ctx, long lo, long hi) {
    const decode_attention_job *J = ctx;
    float *dq = J->dq, *dks = J->dks, *dvs = J->dvs;
    const float *dout = J->dout, *att = J->att, *q = J->q, *kc = J->kc, *vc = J->vc, *ks = J->ks, *vs = J->vs;
    const int p = J->p, H = J->H, Hkv = J->Hkv, D = J->D;
    const mt_attn_rule *rule = J->rule;

    const int C = H * D, Ck = Hkv * D, group = H / Hkv, n = p + 1;
    for (long m = lo; m < hi; m++)
        for (int h = 0; h < H; h++) {
            const int hk = h / group;
            const float *a = att + ((size_t)m * H + h) * n, *dom = dout + (size_t)m * C + h * D;
            const float *qm = q + (size_t)m * C + h * D;
            float *dqm = dq + (size_t)m * C + h * D;
            /* dA_j = do . v_j; dS_j = A_j (dA_j - sum A dA) */
            double dot = 0;
            for (int j = 0; j < n; j++) {
                if (!a[j]) continue;
                const float *vj = kv_at(vc, vs, m, j, p, hk, Ck, D);
                float s = 0;
                for (int d = 0; d < D; d++) s += dom[d] * vj[d];
                dot += a[j] * s;
            }
            for (int j = 0; j < n; j++) {
                if (!a[j]) continue;
                const float *vj = kv_at(vc, vs, m, j, p, hk, Ck, D), *kj = kv_at(kc, ks, m, j, p, hk, Ck, D);
                float s = 0;
                for (int d = 0; d < D; d++) s += dom[d] * vj[d];
                float ds = a[j] * (s - (float)dot);
                if (rule->softcap > 0) { /* through tanh: d/ds cap*tanh(s/cap) = 1 - tanh^2 */
                    float raw = 0;
                    for (int d = 0; d < D; d++) raw += qm[d] * kj[d];
                    float t = tanhf(raw * rule->scale / rule->softcap);
                    ds *= 1 - t * t;
                }
                ds *= rule->scale;
                for (int d = 0; d < D; d++) dqm[d] += ds * kj[d];
                if (j == p) {
                    float *dk = dks + (size_t)m * Ck + hk * D, *dv = dvs + (size_t)m * Ck + hk * D;
                    for (int d = 0; d < D; d++) {
                        dk[d] += ds * qm[d];
                        dv[d] += a[j] * dom[d];
                    }
                }
            }
        }
}

void mt_decode_attention_bwd(float *dq, float *dks, float *dvs, const float *dout, const float *att,
                             const float *q, const float *kc, const float *vc, const float *ks, const float *vs,
                             int M, int p, int H, int Hkv, int D, const mt_attn_rule *rule) {
    const int C = H * D, Ck = Hkv * D;
    memset(dq, 0, sizeof(float) * (size_t)M * C);
    memset(dks, 0, sizeof(float) * (size_t)M * Ck);
    memset(dvs, 0, sizeof(float) * (size_t)M * Ck);
    decode_attention_job J = {.att = (float *)att, .dq = dq, .dks = dks, .dvs = dvs, .dout = dout, .q = q, .kc = kc,
                              .vc = vc, .ks = ks, .vs = vs, .p = p, .H = H, .Hkv = Hkv, .D = D, .rule = rule};
    mt_parallel_for(M, 4, decode_attention_bwd_range, &J);
}
