/* Bulk conversion of IEEE half (f16) and bfloat16 arrays, and of GGUF Q8_0 blocks, to f32: the
 * hot path of weights kept in their storage type (every product converts a block of them), and
 * of loading. f16 and bf16 convert exactly; Q8_0 values are computed as ggml defines them
 * (d * q in f32). Host byte order (little-endian files on a little-endian host). */
#ifndef MT_HALF_H
#define MT_HALF_H

#include <stddef.h>
#include <stdint.h>

/* dst[i] = src[i] for n values; bf16 selects bfloat16, else f16. */
void mt_half_to_f32(float *dst, const uint16_t *src, size_t n, int bf16);
/* nb Q8_0 blocks (34 bytes: an f16 scale d, then 32 int8 q) at src -> 32 nb floats d * q. */
void mt_q8_0_to_f32(float *dst, const void *src, size_t nb);
/* Whether this host stores integers little-endian (files' half data can be used in place). */
int mt_host_le(void);

#endif
