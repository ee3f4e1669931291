/* Saving a decoder loaded from GGUF as a GGUF copy: the metadata bytes are copied verbatim
 * (tokenizer, configuration, everything), every tensor whose weights are unchanged keeps its
 * original bytes and type (Q4_K stays Q4_K), and each changed tensor is stored as F32.
 * "Changed" is decided by comparing the weights in memory with the source tensor dequantized
 * the way the loader did it (Llama Q/K rows permuted back to llama.cpp's order first). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_decoder_impl.h"
#include "mt_loader.h"
#include "mt_train_impl.h"

/* HF row order -> llama.cpp's interleaved RoPE order: GGUF row (h, 2i + c) = HF row (h, c D/2 + i). */
static void permute_qk(const float *hf, float *out, int heads, int D, int64_t cols) {
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < D / 2; i++)
            for (int c = 0; c < 2; c++)
                memcpy(out + ((int64_t)h * D + 2 * i + c) * cols, hf + ((int64_t)h * D + c * D / 2 + i) * cols,
                       sizeof(float) * (size_t)cols);
}

/* Whether t's dequantized values equal want (numel floats), chunk by chunk. */
static int same_values(const mt_gguf_tensor *t, const float *want, int *same, mt_err *e) {
    const int64_t row = t->dims[0], rows = t->numel / row, chunk = 4096;
    float *buf = malloc(sizeof(float) * (size_t)(row * (rows < chunk ? rows : chunk)));
    if (!buf) return mt_fail(e, MT_ENOMEM, "out of memory");
    *same = 1;
    int rc = MT_OK;
    for (int64_t r0 = 0; !rc && *same && r0 < rows; r0 += chunk) {
        int64_t n = rows - r0 < chunk ? rows - r0 : chunk;
        rc = mt_gguf_rows_to_f32(t, r0, n, buf, e);
        if (!rc) *same = !memcmp(buf, want + r0 * row, sizeof(float) * (size_t)(n * row));
    }
    free(buf);
    return rc;
}

static int put(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }

static int pad(FILE *f, uint64_t *at, uint32_t align) {
    static const char zero[256] = {0};
    int ok = 1;
    while (ok && *at % align) {
        size_t n = align - *at % align;
        if (n > sizeof zero) n = sizeof zero;
        ok = put(f, zero, n);
        *at += n;
    }
    return ok;
}

/* The raw metadata bytes: from offset 24 to the start of the tensor infos, which end within
 * one alignment before the data section (the first tensor name confirms where). */
static int metadata_span(const mt_gguf *g, const unsigned char *head, uint64_t *kv_end, mt_err *e) {
    const int nt = mt_gguf_tensor_count(g);
    const uint64_t data = mt_gguf_data_offset(g), align = mt_gguf_alignment(g);
    uint64_t tinfo = 0;
    for (int i = 0; i < nt; i++) {
        const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
        tinfo += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->ndim + 4 + 8;
    }
    if (nt == 0) return mt_fail(e, MT_EFORMAT, "%s: no tensors", mt_gguf_path(g));
    const char *name0 = mt_gguf_tensor_at(g, 0)->name;
    const uint64_t len0 = strlen(name0);
    for (uint64_t end = data; end + align > data && end >= 24 + tinfo; end--) {
        uint64_t start = end - tinfo, len;
        memcpy(&len, head + start, 8);
        if (len == len0 && start + 8 + len <= data && !memcmp(head + start + 8, name0, len)) {
            *kv_end = start;
            return MT_OK;
        }
        if (end == 0) break;
    }
    return mt_fail(e, MT_EFORMAT, "%s: cannot locate the tensor infos", mt_gguf_path(g));
}

int mt_dec_save_gguf(const void *impl, const char *src, const char *out, mt_err *e) {
    const dec_model *m = impl;
    const mt_config *c = &m->cfg;
    if (!out || !*out) return mt_fail(e, MT_EINVAL, "save: missing output file");
    if (mt_file_exists(out)) return mt_fail(e, MT_EINVAL, "%s: already exists (not overwritten)", out);
    mt_st_out list = {0};
    mt_gguf *g = NULL;
    unsigned char *head = NULL;
    float **mem = NULL, *perm = NULL;
    int *changed = NULL;
    FILE *f = NULL, *in = NULL;
    char *tmp = NULL;
    int rc = mt_dec_tensors(m, &list, e);
    if (!rc) rc = mt_gguf_open(src, &g, e);
    const int nt = g ? mt_gguf_tensor_count(g) : 0;
    if (!rc) {
        mem = calloc((size_t)nt + 1, sizeof *mem);
        changed = calloc((size_t)nt + 1, sizeof *changed);
        head = malloc(mt_gguf_data_offset(g));
        tmp = malloc(strlen(out) + 16);
        if (!mem || !changed || !head || !tmp) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    }
    /* which source tensor each of our weights came from */
    mt_loader L = {.user = m};
    for (int k = 0; !rc && k < list.n; k++) {
        char gn[256];
        const mt_gguf_tensor *t = dec_gguf_name(&L, list.names[k], gn, sizeof gn) ? mt_gguf_find_tensor(g, gn) : NULL;
        const int64_t n = (int64_t)list.rows[k] * (list.cols[k] ? list.cols[k] : 1);
        if (!t || t->numel != n) {
            rc = mt_fail(e, MT_EFORMAT, "%s: no tensor of %lld values for %s", src, (long long)n, list.names[k]);
            break;
        }
        /* a matrix still held as f16/bf16 was never changed (edits convert to f32 first) */
        mem[t - mt_gguf_tensor_at(g, 0)] = mt_w_f32(list.data[k]);
    }
    /* changed tensors: compare with the source in its own row order */
    for (int i = 0; !rc && i < nt; i++) {
        const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
        const float *want = mem[i];
        if (!want) continue; /* not a weight we hold (e.g. rope_freqs): copied as is */
        int heads = 0;
        if (c->arch == MT_ARCH_LLAMA && strstr(t->name, "attn_q.")) heads = c->n_heads;
        if (c->arch == MT_ARCH_LLAMA && strstr(t->name, "attn_k.")) heads = c->n_kv_heads;
        if (heads) {
            free(perm);
            perm = malloc(sizeof(float) * (size_t)t->numel);
            if (!perm) {
                rc = mt_fail(e, MT_ENOMEM, "out of memory");
                break;
            }
            const int64_t cols = t->numel / ((int64_t)heads * c->head_dim);
            permute_qk(want, perm, heads, c->head_dim, cols);
            want = perm;
        }
        int same = 0;
        rc = same_values(t, want, &same, e);
        changed[i] = !same;
        if (changed[i] && heads) { /* keep the permuted copy for writing */
            float *keep = perm;
            perm = NULL;
            mem[i] = keep;
            changed[i] = 2; /* owned */
        }
    }
    uint64_t kv_end = 0;
    if (!rc) {
        in = fopen(src, "rb");
        if (!in || fread(head, 1, mt_gguf_data_offset(g), in) != mt_gguf_data_offset(g))
            rc = mt_fail(e, MT_EIO, "%s: cannot read the header", src);
    }
    if (!rc) rc = metadata_span(g, head, &kv_end, e);
    int fd = -1;
    if (!rc) {
        sprintf(tmp, "%s.tmp-XXXXXX", out);
        fd = mkstemp(tmp);
        if (fd >= 0) fchmod(fd, 0644); /* mkstemp's 0600 is for secrets, not models */
        f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!f) rc = mt_fail(e, MT_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        if (!f && fd >= 0) close(fd);
    }
    if (!rc) {
        const uint32_t align = mt_gguf_alignment(g);
        uint64_t at = 0, off = 0, cnt;
        int ok = put(f, head, 8); /* magic and version */
        cnt = (uint64_t)nt;
        ok = ok && put(f, &cnt, 8) && put(f, head + 16, 8) && put(f, head + 24, kv_end - 24);
        at = kv_end;
        for (int i = 0; ok && i < nt; i++) {
            const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
            uint64_t len = strlen(t->name);
            uint32_t nd = (uint32_t)t->ndim, type = changed[i] ? MT_GGML_F32 : (uint32_t)t->type;
            ok = put(f, &len, 8) && put(f, t->name, len) && put(f, &nd, 4);
            for (int k = 0; ok && k < t->ndim; k++) ok = put(f, &t->dims[k], 8);
            ok = ok && put(f, &type, 4) && put(f, &off, 8);
            at += 8 + len + 4 + 8 * (uint64_t)nd + 4 + 8;
            off += changed[i] ? sizeof(float) * (uint64_t)t->numel : t->nbytes;
            off = (off + align - 1) / align * align;
        }
        ok = ok && pad(f, &at, align);
        for (int i = 0; ok && i < nt; i++) {
            const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
            const size_t n = changed[i] ? sizeof(float) * (size_t)t->numel : t->nbytes;
            ok = put(f, changed[i] ? (const void *)mem[i] : t->data, n);
            at += n;
            ok = ok && pad(f, &at, align);
        }
        if (fclose(f)) ok = 0;
        f = NULL;
        if (!ok) rc = mt_fail(e, MT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        if (!rc && rename(tmp, out)) rc = mt_fail(e, MT_EIO, "%s: cannot rename into place: %s", out, strerror(errno));
        if (rc) unlink(tmp);
    }
    if (in) fclose(in);
    for (int i = 0; changed && i < nt; i++)
        if (changed[i] == 2) free(mem[i]);
    free(perm), free(mem), free(changed), free(head), free(tmp);
    mt_gguf_close(g);
    mt_st_out_free(&list);
    return rc;
}
