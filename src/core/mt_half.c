#include "mt_half.h"

#include <string.h>
#if defined(__AVX2__) || (defined(__F16C__) && defined(__AVX__))
#include <immintrin.h>
#endif

int mt_host_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Scalar f16 -> f32 for hosts without F16C and for tails. */
static float f16_scalar(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, x = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (x == 0) {
        if (m == 0) {
            u = s;
        } else { /* subnormal m * 2^-24: normalize so the leading 1 is implicit */
            uint32_t ex = 113;
            while (!(m & 0x400)) m <<= 1, ex--;
            u = s | ex << 23 | (m & 0x3ff) << 13;
        }
    } else if (x == 31) {
        u = s | 0x7f800000u | m << 13;
    } else {
        u = s | (x + 112) << 23 | m << 13;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void mt_half_to_f32(float *dst, const uint16_t *src, size_t n, int bf16) {
    size_t i = 0;
    if (bf16) { /* the upper 16 bits of an f32 */
#if defined(__AVX2__)
        for (; i + 8 <= n; i += 8) {
            __m256i x = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(x, 16));
        }
#endif
        for (; i < n; i++) {
            uint32_t u = (uint32_t)src[i] << 16;
            memcpy(dst + i, &u, 4);
        }
        return;
    }
#if defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#endif
    for (; i < n; i++) dst[i] = f16_scalar(src[i]);
}

void mt_q8_0_to_f32(float *dst, const void *src, size_t nb) {
    const unsigned char *q = src;
    for (size_t b = 0; b < nb; b++, q += 34, dst += 32) {
        uint16_t h = (uint16_t)(q[0] | q[1] << 8);
        float d;
        mt_half_to_f32(&d, &h, 1, 0);
#if defined(__AVX2__)
        const __m256 vd = _mm256_set1_ps(d);
        for (int j = 0; j < 32; j += 8) {
            __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 2 + j)));
            _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vd));
        }
#else
        for (int j = 0; j < 32; j++) dst[j] = (float)(int8_t)q[2 + j] * d;
#endif
    }
}
