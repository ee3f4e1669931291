/* Bulk conversion of IEEE half (f16) and bfloat16 arrays to f32: the hot path of weights kept
 * in their storage type (every product converts a block of them), and of loading. Exact: every
 * f16 and bf16 value is representable in f32. Host byte order (little-endian files on a
 * little-endian host, which is all mt_half_native allows). */
#ifndef MT_HALF_H
#define MT_HALF_H

#include <stddef.h>
#include <stdint.h>

/* dst[i] = src[i] for n values; bf16 selects bfloat16, else f16. */
void mt_half_to_f32(float *dst, const uint16_t *src, size_t n, int bf16);
/* Whether this host stores integers little-endian (files' half data can be used in place). */
int mt_host_le(void);

#endif
