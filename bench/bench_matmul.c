/* bench_matmul: one weight product, f32 weights vs the same values held as f16/bf16/Q8_0
 * (mt_matmul_fwd / mt_matmul_bwd_in), best of 5 calls each; one line per variant.
 *
 *   bench_matmul N C OC [bwd] [bf16|f16|q8_0]
 *
 * N rows, C inputs, OC outputs (forward out[N,OC] = in[N,C] W^T; with bwd, din[N,C] = dout W).
 * The shapes quoted in bench/RESULTS.md: 20 768 119547 (a head), 20 11008 4096 bwd (a 7B down
 * projection), 240 768 3072 (an mBERT FFN product). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_half.h"
#include "mt_kernels.h"
#include "mt_safetensors.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_matmul N C OC [bwd] [bf16|f16|q8_0]\n");
        return 2;
    }
    const int N = atoi(argv[1]), C = atoi(argv[2]), OC = atoi(argv[3]);
    int bwd = 0;
    mt_wtype type = MT_W_BF16;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "bwd")) bwd = 1;
        else if (!strcmp(argv[i], "f16")) type = MT_W_F16;
        else if (!strcmp(argv[i], "q8_0")) type = MT_W_Q8_0;
    }
    if (N < 1 || C < 32 || OC < 1 || (type == MT_W_Q8_0 && C % 32)) {
        fprintf(stderr, "bench_matmul: bad shape\n");
        return 2;
    }
    const size_t nw = (size_t)C * OC, nin = (size_t)N * (bwd ? OC : C), nout = (size_t)N * (bwd ? C : OC);
    float *w = malloc(nw * 4), *in = malloc(nin * 4), *out = malloc(nout * 4);
    unsigned char *h = malloc(nw * 2);
    if (!w || !in || !out || !h) return 1;
    unsigned long long s = 88172645463325252ULL;
    for (size_t i = 0; i < nw; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        w[i] = (float)((s >> 11) * (1.0 / 9007199254740992.0)) - 0.5f;
    }
    if (type == MT_W_Q8_0) { /* scale 1/127 per block, q = round(127 w / 0.5) */
        for (size_t b = 0; b < nw / 32; b++) {
            uint16_t d = mt_f32_to_f16(0.5f / 127);
            h[34 * b] = (unsigned char)(d & 0xff), h[34 * b + 1] = (unsigned char)(d >> 8);
            for (int j = 0; j < 32; j++) h[34 * b + 2 + j] = (unsigned char)(int8_t)(w[32 * b + j] * 254);
        }
        mt_q8_0_to_f32(w, h, nw / 32);
    } else {
        uint16_t *hh = (uint16_t *)h;
        for (size_t i = 0; i < nw; i++) {
            hh[i] = type == MT_W_BF16 ? mt_f32_to_bf16(w[i]) : mt_f32_to_f16(w[i]);
            w[i] = type == MT_W_BF16 ? mt_bf16_to_f32(hh[i]) : mt_f16_to_f32(hh[i]);
        }
    }
    for (size_t i = 0; i < nin; i++) in[i] = (float)(i % 97) / 97.0f;
    const mt_w W[2] = {mt_w_of(w), {h, type, NULL}};
    const char *names[2] = {"f32", type == MT_W_Q8_0 ? "q8_0" : type == MT_W_BF16 ? "bf16" : "f16"};
    for (int k = 0; k < 2; k++) {
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
            double t = now();
            if (bwd) mt_matmul_bwd_in(out, in, W[k], N, C, OC, 0);
            else mt_matmul_fwd(out, in, W[k], NULL, N, C, OC);
            t = now() - t;
            if (t < best) best = t;
        }
        printf("%s N=%d C=%d OC=%d %-4s: %8.2f ms %7.1f GFLOP/s\n", bwd ? "bwd" : "fwd", N, C, OC, names[k], best * 1e3,
               2.0 * N * C * OC / best / 1e9);
    }
    return 0;
}
