#include "mt_loader.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "mt_half.h"

const mt_st_tensor *mt_loader_find(const mt_loader *L, const char *name) {
    char alt[6][512];
    int n = 0;
    size_t pl = L->prefix ? strlen(L->prefix) : 0;
    snprintf(alt[n++], 512, "%s", name);
    if (pl && !strncmp(name, L->prefix, pl)) snprintf(alt[n++], 512, "%s", name + pl);
    int base = n;
    for (int i = 0; i < base; i++) {
        const char *a = alt[i];
        size_t len = strlen(a);
        if (strstr(a, "LayerNorm") || strstr(a, "layer_norm") || strstr(a, "layernorm")) {
            const char *suffix = NULL;
            if (len > 7 && !strcmp(a + len - 7, ".weight")) suffix = ".gamma", len -= 7;
            else if (len > 5 && !strcmp(a + len - 5, ".bias")) suffix = ".beta", len -= 5;
            if (suffix && len < 500) {
                memcpy(alt[n], a, len);
                strcpy(alt[n] + len, suffix);
                n++;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        const mt_st_tensor *t = mt_st_find(L->st, alt[i]);
        if (t) return t;
    }
    return NULL;
}

static const mt_gguf_tensor *gguf_find(const mt_loader *L, const char *name) {
    char g[512];
    if (!L->gguf_name || !L->gguf_name(L, name, g, sizeof g)) return NULL;
    return mt_gguf_find_tensor(L->gguf, g);
}

int mt_loader_has(const mt_loader *L, const char *name) {
    return L->gguf ? gguf_find(L, name) != NULL : mt_loader_find(L, name) != NULL;
}

/* GGUF tensors: same checks, dequantized by the GGUF reader. */
static int read_gguf(mt_loader *L, const char *name, int64_t d0, int64_t d1, int optional, float *dst, int *found) {
    const mt_gguf_tensor *t = gguf_find(L, name);
    if (found) *found = t != NULL;
    if (!t) {
        if (optional) return MT_OK;
        char g[512] = "";
        if (L->gguf_name) L->gguf_name(L, name, g, sizeof g);
        return mt_fail(L->e, MT_EFORMAT, "%s: tensor '%s' (HF '%s') is missing", L->dir, *g ? g : "?", name);
    }
    if (t->ndim != (d1 ? 2 : 1) || t->shape[0] != d0 || (d1 && t->shape[1] != d1))
        return mt_fail(L->e, MT_EFORMAT, "%s: tensor '%s' has shape [%lld, %lld], the metadata implies [%lld, %lld]",
                       L->dir, t->name, (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0),
                       (long long)d0, (long long)d1);
    if (!dst) return MT_OK;
    int rc = mt_gguf_to_f32(t, dst, L->e);
    size_t numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    for (size_t i = 0; !rc && i < numel; i++)
        if (!isfinite(dst[i]))
            rc = mt_fail(L->e, MT_ENUMERIC, "%s: tensor '%s' holds a non-finite value (%g) at flat index %zu", L->dir,
                         t->name, dst[i], i);
    if (!rc && L->gguf_fix) L->gguf_fix(L, name, dst, sizeof(float), d0, d1);
    return rc;
}

float *mt_loader_take(mt_loader *L, size_t n) {
    L->count += n;
    if (!L->next) return NULL;
    float *p = L->next;
    L->next += n;
    return p;
}

static void shape_str(char *buf, const mt_st_tensor *t) {
    char *p = buf;
    for (int i = 0; i < t->ndim && p < buf + 100; i++) p += sprintf(p, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
}

int mt_loader_read(mt_loader *L, const char *name, int64_t d0, int64_t d1, int transpose, int optional,
                   float *dst, int *found) {
    if (L->gguf) {
        if (transpose) return mt_fail(L->e, MT_EUNSUPPORTED, "%s: transposed tensors from GGUF are not supported", L->dir);
        return read_gguf(L, name, d0, d1, optional, dst, found);
    }
    const mt_st_tensor *t = mt_loader_find(L, name);
    if (found) *found = t != NULL;
    if (!t) {
        if (optional) return MT_OK;
        return mt_fail(L->e, MT_EFORMAT, "%s: tensor '%s' is missing from the checkpoint", L->dir, name);
    }
    int64_t s0 = transpose ? d1 : d0, s1 = transpose ? d0 : d1;
    if (t->ndim != (d1 ? 2 : 1) || t->shape[0] != s0 || (d1 && t->shape[1] != s1)) {
        char got[128] = "";
        shape_str(got, t);
        if (d1)
            return mt_fail(L->e, MT_EFORMAT, "%s: tensor '%s' has shape [%s], config.json implies [%lld, %lld]", t->file,
                           t->name, got, (long long)s0, (long long)s1);
        return mt_fail(L->e, MT_EFORMAT, "%s: tensor '%s' has shape [%s], config.json implies [%lld]", t->file, t->name,
                       got, (long long)s0);
    }
    if (!dst) return MT_OK;
    size_t numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    float *buf = dst;
    if (transpose && !(buf = malloc(numel * sizeof(float))))
        return mt_fail(L->e, MT_ENOMEM, "%s: out of memory converting '%s'", t->file, t->name);
    int rc = mt_st_to_f32(t, buf, L->e);
    for (size_t i = 0; !rc && i < numel; i++)
        if (!isfinite(buf[i]))
            rc = mt_fail(L->e, MT_ENUMERIC, "%s: tensor '%s' holds a non-finite value (%g) at flat index %zu", t->file,
                         t->name, buf[i], i);
    if (!rc && transpose)
        for (int64_t i = 0; i < d1; i++)
            for (int64_t j = 0; j < d0; j++) dst[j * d1 + i] = buf[i * d0 + j];
    if (transpose) free(buf);
    return rc;
}

int mt_loader_get(mt_loader *L, float **dst, const char *name, int64_t d0, int64_t d1, int optional) {
    *dst = NULL;
    if (optional && !mt_loader_has(L, name)) return MT_OK;
    float *p = mt_loader_take(L, (size_t)d0 * (size_t)(d1 ? d1 : 1));
    int rc = mt_loader_read(L, name, d0, d1, 0, 0, p, NULL);
    *dst = p;
    return rc;
}

/* ---------------------------------------------------------------- f16/bf16 weight matrices */

/* The storage type a matrix keeps: f16/bf16/Q8_0 when the file holds it so and MT_WEIGHTS is
 * not f32 (read on every load, so one process can hold both kinds), else f32. */
static mt_wtype kept_type(const mt_loader *L, const char *name, int as_f32, const void **data) {
    *data = NULL;
    if (as_f32 || !mt_host_le()) return MT_W_F32;
    if (L->gguf) {
        const mt_gguf_tensor *t = gguf_find(L, name);
        if (!t || (t->type != MT_GGML_F16 && t->type != MT_GGML_BF16 && t->type != MT_GGML_Q8_0)) return MT_W_F32;
        if (t->type == MT_GGML_Q8_0 && (t->dims[0] % 32 || (L->gguf_fix && L->gguf_fix(L, name, NULL, 0, 0, 0))))
            return MT_W_F32; /* Q8_0 is kept only as the file's own rows */
        *data = t->data;
        return t->type == MT_GGML_Q8_0 ? MT_W_Q8_0 : t->type == MT_GGML_BF16 ? MT_W_BF16 : MT_W_F16;
    }
    const mt_st_tensor *t = mt_loader_find(L, name);
    if (!t || (t->dtype != MT_DT_F16 && t->dtype != MT_DT_BF16)) return MT_W_F32;
    *data = t->data;
    return t->dtype == MT_DT_BF16 ? MT_W_BF16 : MT_W_F16;
}

/* The flat index of the first non-finite value of n values, or -1: an all-ones exponent of an
 * f16/bf16 value, or of a Q8_0 block's f16 scale. */
static long half_nonfinite(const void *p, size_t n, mt_wtype type) {
    if (type == MT_W_Q8_0) {
        const unsigned char *q = p;
        for (size_t b = 0; b < n / 32; b++, q += 34)
            if ((q[1] & 0x7c) == 0x7c) return (long)(32 * b);
        return -1;
    }
    const uint16_t *h = p, mask = type == MT_W_BF16 ? 0x7f80 : 0x7c00;
    for (size_t i = 0; i < n; i++)
        if ((h[i] & mask) == mask) return (long)i;
    return -1;
}

int mt_loader_get_w(mt_loader *L, mt_w *dst, const char *name, int64_t d0, int64_t d1, int transpose, int optional) {
    *dst = (mt_w){0};
    const char *env = getenv("MT_WEIGHTS");
    if (env && *env && strcmp(env, "f32") && strcmp(env, "stored"))
        return mt_fail(L->e, MT_EINVAL, "MT_WEIGHTS=%s: expected 'f32' (convert at load) or 'stored' (the default)", env);
    if (optional && !mt_loader_has(L, name)) return MT_OK;
    const void *src;
    const mt_wtype type = kept_type(L, name, env && !strcmp(env, "f32"), &src);
    const size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    if (type == MT_W_F32) {
        float *p = mt_loader_take(L, n);
        int rc = mt_loader_read(L, name, d0, d1, transpose, 0, p, NULL);
        *dst = mt_w_of(p);
        return rc;
    }
    int rc = mt_loader_read(L, name, d0, d1, transpose, 0, NULL, NULL); /* names and shapes */
    if (rc) return rc;
    const int fix = L->gguf && L->gguf_fix && L->gguf_fix(L, name, NULL, 2, d0, d1);
    const int copy = transpose || fix || (type != MT_W_Q8_0 && ((uintptr_t)src & 1)); /* Q8_0: bytes */
    uint16_t *h = NULL;
    if (copy) {
        L->hcount += n;
        if (!L->hnext) return MT_OK;
        h = L->hnext;
        L->hnext += n;
    }
    if (!L->next) return MT_OK; /* counting pass */
    long bad = half_nonfinite(src, n, type);
    if (bad >= 0) {
        float v;
        if (type == MT_W_Q8_0) { /* the block's scale */
            const unsigned char *q = (const unsigned char *)src + bad / 32 * 34;
            const uint16_t h = (uint16_t)(q[0] | q[1] << 8);
            mt_half_to_f32(&v, &h, 1, 0);
        } else {
            mt_half_to_f32(&v, (const uint16_t *)src + bad, 1, type == MT_W_BF16);
        }
        return mt_fail(L->e, MT_ENUMERIC, "%s: tensor '%s' holds a non-finite value (%g) at flat index %ld",
                       L->gguf ? L->dir : mt_loader_find(L, name)->file, name, v, bad);
    }
    if (!copy) {
        *dst = (mt_w){src, type, NULL};
        L->aliased = 1;
        return MT_OK;
    }
    const uint16_t *s = src;
    if (transpose) /* the file holds [d1, d0] */
        for (int64_t i = 0; i < d1; i++)
            for (int64_t j = 0; j < d0; j++) h[j * d1 + i] = s[i * d0 + j];
    else
        memcpy(h, s, n * 2);
    if (fix) L->gguf_fix(L, name, h, 2, d0, d1);
    *dst = (mt_w){h, type, NULL};
    return MT_OK;
}

int mt_loader_alloc(mt_loader *L, float **arena, uint16_t **harena) {
    *arena = L->count ? malloc(L->count * sizeof(float)) : NULL;
    *harena = L->hcount ? malloc(L->hcount * sizeof(uint16_t)) : NULL;
    if ((L->count && !*arena) || (L->hcount && !*harena))
        return mt_fail(L->e, MT_ENOMEM, "%s: cannot allocate %zu MB for the weights", L->dir,
                       (L->count * 4 + L->hcount * 2) >> 20);
    /* the filling pass needs a non-NULL cursor even for an empty arena */
    static float none;
    L->next = *arena ? *arena : &none;
    L->hnext = *harena;
    L->count = L->hcount = 0;
    return MT_OK;
}
