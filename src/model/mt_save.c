/* Saving the (edited) weights as a HuggingFace folder: model.safetensors with the names
 * and layouts transformers expects (GPT-2 Conv1D transposed back, BLOOM/GPT-2 fused QKV
 * re-fused, Gemma's (1 + w) norms stored as w, GGUF Llama Q/K already in HF order since the
 * loader undid llama.cpp's permutation), plus config.json and tokenizer files. Each tensor is
 * written in its type in memory: f32, or f16/bf16 for matrices kept as the checkpoint stored
 * them (unchanged: an edit converts a matrix to f32 first). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt_bert_impl.h"
#include "mt_decoder_impl.h"
#include "mt_train_impl.h"

/* ---------------------------------------------------------------- safetensors writer */


int mt_st_out_add(mt_st_out *o, const char *name, long rows, long cols, mt_w data, int copy, mt_err *e) {
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        char **nn = realloc(o->names, sizeof *nn * cap);
        if (nn) o->names = nn;
        long *r = nn ? realloc(o->rows, sizeof *r * cap) : NULL;
        if (r) o->rows = r;
        long *c = r ? realloc(o->cols, sizeof *c * cap) : NULL;
        if (c) o->cols = c;
        mt_w *d = c ? realloc(o->data, sizeof *d * cap) : NULL;
        if (d) o->data = d;
        int *own = d ? realloc(o->own, sizeof *own * cap) : NULL;
        if (!own) return mt_fail(e, MT_ENOMEM, "out of memory");
        o->own = own;
        o->cap = cap;
    }
    const size_t bytes = mt_wtype_bytes(data.type, (size_t)rows * (cols ? cols : 1));
    if (copy) {
        void *buf = malloc(bytes ? bytes : 1);
        if (!buf) return mt_fail(e, MT_ENOMEM, "out of memory");
        memcpy(buf, data.p, bytes);
        data.p = buf;
    }
    o->names[o->n] = strdup(name);
    if (!o->names[o->n]) {
        if (copy) free((void *)data.p);
        return mt_fail(e, MT_ENOMEM, "out of memory");
    }
    data.owned = NULL;
    o->rows[o->n] = rows, o->cols[o->n] = cols, o->data[o->n] = data, o->own[o->n] = copy;
    o->n++;
    return MT_OK;
}

/* Adds a fresh zeroed buffer of `type` the writer owns (filled by the caller). */
static void *add_new(mt_st_out *o, const char *name, long rows, long cols, mt_wtype type, mt_err *e) {
    void *buf = calloc(mt_wtype_bytes(type, (size_t)rows * (cols ? cols : 1)), 1);
    if (!buf) return mt_fail(e, MT_ENOMEM, "out of memory"), NULL;
    if (mt_st_out_add(o, name, rows, cols, (mt_w){buf, type, NULL}, 0, e)) {
        free(buf);
        return NULL;
    }
    o->own[o->n - 1] = 1;
    return buf;
}

void mt_st_out_free(mt_st_out *o) {
    for (int i = 0; i < o->n; i++) {
        free(o->names[i]);
        if (o->own[i]) free((void *)o->data[i].p);
    }
    free(o->names), free(o->rows), free(o->cols), free(o->data), free(o->own);
    memset(o, 0, sizeof *o);
}

int mt_st_out_write(const mt_st_out *o, const char *path, mt_err *e) {
    static const char *const dtype[] = {[MT_W_F32] = "F32", [MT_W_F16] = "F16", [MT_W_BF16] = "BF16"};
    for (int i = 0; i < o->n; i++) /* GGUF sources are saved as GGUF (mt_save_gguf.c) */
        if (o->data[i].type == MT_W_Q8_0)
            return mt_fail(e, MT_EUNSUPPORTED, "%s: tensor '%s' is Q8_0, which safetensors cannot hold", path, o->names[i]);
    json_t *h = json_object();
    size_t off = 0;
    for (int i = 0; h && i < o->n; i++) {
        const size_t bytes = mt_wtype_bytes(o->data[i].type, (size_t)o->rows[i] * (o->cols[i] ? o->cols[i] : 1));
        json_t *t = json_pack("{s:s, s:[I], s:[I, I]}", "dtype", dtype[o->data[i].type], "shape", (json_int_t)o->rows[i],
                              "data_offsets", (json_int_t)off, (json_int_t)(off + bytes));
        if (t && o->cols[i]) json_array_append_new(json_object_get(t, "shape"), json_integer(o->cols[i]));
        if (!t || json_object_set_new(h, o->names[i], t)) {
            json_decref(h);
            return mt_fail(e, MT_ENOMEM, "out of memory");
        }
        off += bytes;
    }
    if (h) json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!text) return mt_fail(e, MT_ENOMEM, "out of memory");
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    uint64_t hl = padded; /* little-endian hosts only, as the reader */
    ok = ok && fwrite(&hl, 8, 1, f) == 1 && fwrite(text, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < o->n; i++) {
        const size_t bytes = mt_wtype_bytes(o->data[i].type, (size_t)o->rows[i] * (o->cols[i] ? o->cols[i] : 1));
        ok = fwrite(o->data[i].p, 1, bytes, f) == bytes;
    }
    if (f && fclose(f)) ok = 0;
    free(text);
    return ok ? MT_OK : mt_fail(e, MT_EIO, "%s: cannot write: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------- decoders */

/* ADD: an f32 vector or matrix (skipped when NULL); ADD_W: a matrix in its storage type. */
#define ADD(name_fmt, ptr, r, c, ...)                                                         \
    do {                                                                                      \
        snprintf(n, sizeof n, name_fmt, __VA_ARGS__);                                         \
        if ((ptr) && (rc = mt_st_out_add(&o, n, r, c, mt_w_of(ptr), 0, e))) goto done;        \
    } while (0)
#define ADD_W(name_fmt, w, r, c, ...)                                                         \
    do {                                                                                      \
        snprintf(n, sizeof n, name_fmt, __VA_ARGS__);                                         \
        if ((w).p && (rc = mt_st_out_add(&o, n, r, c, w, 0, e))) goto done;                  \
    } while (0)

/* A (1 + w) norm gain stored as w. */
static int add_minus_one(mt_st_out *o, const char *name, const float *w, int n, mt_err *e) {
    float *b = add_new(o, name, n, 0, MT_W_F32, e);
    if (!b) return MT_ENOMEM;
    for (int i = 0; i < n; i++) b[i] = w[i] - 1.0f;
    return MT_OK;
}

/* raw: norm gains as held in memory (GGUF keeps llama.cpp's 1 + w), else as HF stores them. */
static int save_llama_like(const dec_model *m, mt_st_out *oo, int raw, mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, qd = c->n_heads * c->head_dim, kd = c->n_kv_heads * c->head_dim;
    const int gem = c->arch == MT_ARCH_GEMMA3 && !raw, hd = c->head_dim;
    mt_st_out o = *oo;
    char n[256];
    int rc = MT_OK;
#define NORM(w, len, ...)                                                          \
    do {                                                                           \
        snprintf(n, sizeof n, __VA_ARGS__);                                        \
        if (gem ? (rc = add_minus_one(&o, n, w, len, e)) : (rc = mt_st_out_add(&o, n, len, 0, mt_w_of(w), 0, e))) goto done; \
    } while (0)
    ADD_W("%s", m->tok_emb, c->vocab_size, d, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        const dec_layer *w = &m->layers[l];
        NORM(w->n1_w, d, "model.layers.%d.input_layernorm.weight", l);
        ADD_W("model.layers.%d.self_attn.q_proj.weight", w->q_w, qd, d, l);
        ADD_W("model.layers.%d.self_attn.k_proj.weight", w->k_w, kd, d, l);
        ADD_W("model.layers.%d.self_attn.v_proj.weight", w->v_w, kd, d, l);
        ADD_W("model.layers.%d.self_attn.o_proj.weight", w->o_w, d, qd, l);
        ADD("model.layers.%d.self_attn.q_proj.bias", w->q_b, qd, 0, l);
        ADD("model.layers.%d.self_attn.k_proj.bias", w->k_b, kd, 0, l);
        ADD("model.layers.%d.self_attn.v_proj.bias", w->v_b, kd, 0, l);
        ADD("model.layers.%d.self_attn.o_proj.bias", w->o_b, d, 0, l);
        if (c->arch == MT_ARCH_GEMMA3) {
            NORM(w->qn_w, hd, "model.layers.%d.self_attn.q_norm.weight", l);
            NORM(w->kn_w, hd, "model.layers.%d.self_attn.k_norm.weight", l);
            NORM(w->npa_w, d, "model.layers.%d.post_attention_layernorm.weight", l);
            NORM(w->n2_w, d, "model.layers.%d.pre_feedforward_layernorm.weight", l);
            NORM(w->npf_w, d, "model.layers.%d.post_feedforward_layernorm.weight", l);
        } else {
            NORM(w->n2_w, d, "model.layers.%d.post_attention_layernorm.weight", l);
        }
        ADD_W("model.layers.%d.mlp.gate_proj.weight", w->gate_w, f, d, l);
        ADD_W("model.layers.%d.mlp.up_proj.weight", w->up_w, f, d, l);
        ADD_W("model.layers.%d.mlp.down_proj.weight", w->down_w, d, f, l);
        ADD("model.layers.%d.mlp.gate_proj.bias", w->gate_b, f, 0, l);
        ADD("model.layers.%d.mlp.up_proj.bias", w->up_b, f, 0, l);
        ADD("model.layers.%d.mlp.down_proj.bias", w->down_b, d, 0, l);
    }
    NORM(m->final_w, d, "model.norm.weight");
    if (m->lm_head.p != m->tok_emb.p) ADD_W("%s", m->lm_head, c->vocab_size, d, "lm_head.weight");
#undef NORM
done:
    *oo = o;
    return rc;
}

/* BLOOM rows [head][q|k|v][hd] or GPT-2 Conv1D [in][q|k|v] (transposed). */
static int add_fused_qkv(const dec_model *m, const dec_layer *w, mt_st_out *o, const char *wn, const char *bn,
                         mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model, hd = c->head_dim, H = c->n_heads, gpt = c->arch == MT_ARCH_GPT2;
    float *W = add_new(o, wn, gpt ? d : 3 * d, gpt ? 3 * d : d, MT_W_F32, e);
    float *B = W ? add_new(o, bn, 3 * d, 0, MT_W_F32, e) : NULL;
    if (!B) return MT_ENOMEM;
    /* the loader split the fused tensor into f32 matrices */
    const float *src[3] = {mt_w_f32(w->q_w), mt_w_f32(w->k_w), mt_w_f32(w->v_w)}, *srcb[3] = {w->q_b, w->k_b, w->v_b};
    for (int h = 0; h < H; h++)
        for (int part = 0; part < 3; part++)
            for (int i = 0; i < hd; i++) {
                const long row = gpt ? (long)part * d + h * hd + i : ((long)h * 3 + part) * hd + i, at = (long)h * hd + i;
                for (int j = 0; j < d; j++) {
                    float x = src[part][(size_t)at * d + j];
                    if (gpt) W[(size_t)j * 3 * d + row] = x;
                    else W[(size_t)row * d + j] = x;
                }
                B[row] = srcb[part][at];
            }
    return MT_OK;
}

/* [out, in] -> Conv1D [in, out], in the storage type */
static int add_transposed(mt_st_out *o, const char *name, mt_w w, int out, int in, mt_err *e) {
    char *b = add_new(o, name, in, out, w.type, e);
    if (!b) return MT_ENOMEM;
    const size_t es = mt_wtype_bytes(w.type, 1);
    const char *src = w.p;
    for (int r = 0; r < out; r++)
        for (int j = 0; j < in; j++) memcpy(b + ((size_t)j * out + r) * es, src + ((size_t)r * in + j) * es, es);
    return MT_OK;
}

static int save_bloom_gpt2(const dec_model *m, mt_st_out *oo, mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, gpt = c->arch == MT_ARCH_GPT2;
    mt_st_out o = *oo;
    char n[256], n2[256];
    int rc = MT_OK;
    if (gpt) {
        ADD_W("%s", m->tok_emb, c->vocab_size, d, "transformer.wte.weight");
        ADD("%s", m->pos_emb, c->max_pos, d, "transformer.wpe.weight");
    } else {
        ADD_W("%s", m->tok_emb, c->vocab_size, d, "transformer.word_embeddings.weight");
        ADD("%s", m->emb_n_w, d, 0, "transformer.word_embeddings_layernorm.weight");
        ADD("%s", m->emb_n_b, d, 0, "transformer.word_embeddings_layernorm.bias");
    }
    const char *n1 = gpt ? "ln_1" : "input_layernorm", *n2n = gpt ? "ln_2" : "post_attention_layernorm";
    const char *att = gpt ? "attn" : "self_attention", *qkv = gpt ? "c_attn" : "query_key_value";
    const char *on = gpt ? "c_proj" : "dense", *up = gpt ? "c_fc" : "dense_h_to_4h", *down = gpt ? "c_proj" : "dense_4h_to_h";
    for (int l = 0; l < c->n_layers; l++) {
        const dec_layer *w = &m->layers[l];
        ADD("transformer.h.%d.%s.weight", w->n1_w, d, 0, l, n1);
        ADD("transformer.h.%d.%s.bias", w->n1_b, d, 0, l, n1);
        snprintf(n, sizeof n, "transformer.h.%d.%s.%s.weight", l, att, qkv);
        snprintf(n2, sizeof n2, "transformer.h.%d.%s.%s.bias", l, att, qkv);
        if ((rc = add_fused_qkv(m, w, &o, n, n2, e))) goto done;
        snprintf(n, sizeof n, "transformer.h.%d.%s.%s.weight", l, att, on);
        if ((rc = gpt ? add_transposed(&o, n, w->o_w, d, d, e) : mt_st_out_add(&o, n, d, d, w->o_w, 0, e))) goto done;
        ADD("transformer.h.%d.%s.%s.bias", w->o_b, d, 0, l, att, on);
        ADD("transformer.h.%d.%s.weight", w->n2_w, d, 0, l, n2n);
        ADD("transformer.h.%d.%s.bias", w->n2_b, d, 0, l, n2n);
        snprintf(n, sizeof n, "transformer.h.%d.mlp.%s.weight", l, up);
        if ((rc = gpt ? add_transposed(&o, n, w->up_w, f, d, e) : mt_st_out_add(&o, n, f, d, w->up_w, 0, e))) goto done;
        ADD("transformer.h.%d.mlp.%s.bias", w->up_b, f, 0, l, up);
        snprintf(n, sizeof n, "transformer.h.%d.mlp.%s.weight", l, down);
        if ((rc = gpt ? add_transposed(&o, n, w->down_w, d, f, e) : mt_st_out_add(&o, n, d, f, w->down_w, 0, e)))
            goto done;
        ADD("transformer.h.%d.mlp.%s.bias", w->down_b, d, 0, l, down);
    }
    ADD("%s", m->final_w, d, 0, "transformer.ln_f.weight");
    ADD("%s", m->final_b, d, 0, "transformer.ln_f.bias");
    if (m->lm_head.p != m->tok_emb.p) ADD_W("%s", m->lm_head, c->vocab_size, d, "lm_head.weight");
done:
    *oo = o;
    return rc;
}

int mt_dec_tensors(const void *impl, mt_st_out *o, mt_err *e) { return save_llama_like(impl, o, 1, e); }

int mt_dec_save(const void *impl, const char *src, const char *dir, mt_err *e);
int mt_dec_save(const void *impl, const char *src, const char *dir, mt_err *e) {
    const dec_model *m = impl;
    mt_st_out o = {0};
    int rc = m->cfg.arch == MT_ARCH_BLOOM || m->cfg.arch == MT_ARCH_GPT2 ? save_bloom_gpt2(m, &o, e)
                                                                          : save_llama_like(m, &o, 0, e);
    char *path = rc ? NULL : mt_path_join(dir, "model.safetensors");
    if (!rc) rc = path ? mt_st_out_write(&o, path, e) : mt_fail(e, MT_ENOMEM, "out of memory");
    free(path);
    mt_st_out_free(&o);
    return rc;
}

/* ---------------------------------------------------------------- encoders */

int mt_bert_save(const void *impl, const char *src, const char *dir, mt_err *e);
int mt_bert_save(const void *impl, const char *src, const char *dir, mt_err *e) {
    const bert_model *m = impl;
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, V = c->vocab_size, bert = c->arch == MT_ARCH_BERT;
    const char *P = bert ? "bert" : "roberta", *L = "encoder.layer";
    mt_st_out o = {0};
    char n[512];
    int rc = MT_OK;
    ADD_W("%s.embeddings.word_embeddings.weight", m->word_emb, V, d, P);
    ADD("%s.embeddings.position_embeddings.weight", m->pos_emb, c->max_pos, d, P);
    ADD("%s.embeddings.token_type_embeddings.weight", m->type_emb, c->type_vocab, d, P);
    ADD("%s.embeddings.LayerNorm.weight", m->emb_ln_w, d, 0, P);
    ADD("%s.embeddings.LayerNorm.bias", m->emb_ln_b, d, 0, P);
    for (int l = 0; l < c->n_layers; l++) {
        const layer_weights *w = &m->layers[l];
        ADD_W("%s.%s.%d.attention.self.query.weight", w->q_w, d, d, P, L, l);
        ADD("%s.%s.%d.attention.self.query.bias", w->q_b, d, 0, P, L, l);
        ADD_W("%s.%s.%d.attention.self.key.weight", w->k_w, d, d, P, L, l);
        ADD("%s.%s.%d.attention.self.key.bias", w->k_b, d, 0, P, L, l);
        ADD_W("%s.%s.%d.attention.self.value.weight", w->v_w, d, d, P, L, l);
        ADD("%s.%s.%d.attention.self.value.bias", w->v_b, d, 0, P, L, l);
        ADD_W("%s.%s.%d.attention.output.dense.weight", w->o_w, d, d, P, L, l);
        ADD("%s.%s.%d.attention.output.dense.bias", w->o_b, d, 0, P, L, l);
        ADD("%s.%s.%d.attention.output.LayerNorm.weight", w->ln1_w, d, 0, P, L, l);
        ADD("%s.%s.%d.attention.output.LayerNorm.bias", w->ln1_b, d, 0, P, L, l);
        ADD_W("%s.%s.%d.intermediate.dense.weight", w->fc1_w, f, d, P, L, l);
        ADD("%s.%s.%d.intermediate.dense.bias", w->fc1_b, f, 0, P, L, l);
        ADD_W("%s.%s.%d.output.dense.weight", w->fc2_w, d, f, P, L, l);
        ADD("%s.%s.%d.output.dense.bias", w->fc2_b, d, 0, P, L, l);
        ADD("%s.%s.%d.output.LayerNorm.weight", w->ln2_w, d, 0, P, L, l);
        ADD("%s.%s.%d.output.LayerNorm.bias", w->ln2_b, d, 0, P, L, l);
    }
    const char *h = bert ? "cls.predictions.transform.dense" : "lm_head.dense";
    const char *hl = bert ? "cls.predictions.transform.LayerNorm" : "lm_head.layer_norm";
    const char *dec = bert ? "cls.predictions" : "lm_head";
    ADD_W("%s.weight", m->head_w, d, d, h);
    ADD("%s.bias", m->head_b, d, 0, h);
    ADD("%s.weight", m->head_ln_w, d, 0, hl);
    ADD("%s.bias", m->head_ln_b, d, 0, hl);
    if (m->dec_w.p != m->word_emb.p) ADD_W("%s.decoder.weight", m->dec_w, V, d, dec);
    ADD("%s.bias", m->dec_b, V, 0, dec);
    char *path = mt_path_join(dir, "model.safetensors");
    rc = path ? mt_st_out_write(&o, path, e) : mt_fail(e, MT_ENOMEM, "out of memory");
    free(path);
done:
    mt_st_out_free(&o);
    return rc;
}
#undef ADD
#undef ADD_W

/* ---------------------------------------------------------------- the folder */

static int copy_file(const char *from, const char *to, mt_err *e) {
    char *data = NULL;
    size_t len = 0;
    int rc = mt_read_file(from, &data, &len, e);
    if (rc) return rc;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    free(data);
    return ok ? MT_OK : mt_fail(e, MT_EIO, "%s: cannot write: %s", to, strerror(errno));
}

static void rm_dir(const char *dir) {
    static const char *const names[] = {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
                                        "vocab.txt", "special_tokens_map.json", "sentencepiece.bpe.model",
                                        "tokenizer.model", "generation_config.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *p = mt_path_join(dir, names[i]);
        if (p) unlink(p);
        free(p);
    }
    rmdir(dir);
}

int mt_model_save(const mt_model *m, const char *src_dir, const char *out_dir, mt_err *e) {
    if (!src_dir || !out_dir || !*out_dir) return mt_fail(e, MT_EINVAL, "save: missing folder");
    struct stat sb;
    if (stat(out_dir, &sb) == 0) return mt_fail(e, MT_EINVAL, "%s: already exists (not overwritten)", out_dir);
    if (mt_model_is_gguf(src_dir)) {
        if (m->ops != &mt_decoder_ops) return mt_fail(e, MT_EUNSUPPORTED, "%s: not a decoder GGUF", src_dir);
        return mt_dec_save_gguf(m->impl, src_dir, out_dir, e);
    }
    size_t len = strlen(out_dir);
    char *tmp = malloc(len + 16);
    if (!tmp) return mt_fail(e, MT_ENOMEM, "out of memory");
    snprintf(tmp, len + 16, "%s.tmp-XXXXXX", out_dir);
    while (len > 1 && tmp[len - 1] == '/') len--; /* "out/" -> "out.tmp-XXXXXX" */
    snprintf(tmp + len, 16, ".tmp-XXXXXX");
    if (!mkdtemp(tmp)) {
        int rc = mt_fail(e, MT_EIO, "%s: cannot create a temporary folder: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    chmod(tmp, 0755);
    int rc = (m->ops == &mt_decoder_ops ? &mt_decoder_train_ops : &mt_bert_train_ops)->save(m->impl, src_dir, tmp, e);
    static const char *const copies[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                         "special_tokens_map.json", "sentencepiece.bpe.model", "tokenizer.model",
                                         "generation_config.json"};
    for (size_t i = 0; !rc && i < sizeof copies / sizeof *copies; i++) {
        char *from = mt_path_join(src_dir, copies[i]), *to = mt_path_join(tmp, copies[i]);
        if (!from || !to) rc = mt_fail(e, MT_ENOMEM, "out of memory");
        else if (mt_file_exists(from)) rc = copy_file(from, to, e);
        free(from);
        free(to);
    }
    if (!rc && rename(tmp, out_dir)) rc = mt_fail(e, MT_EIO, "%s: cannot rename into place: %s", out_dir, strerror(errno));
    if (rc) rm_dir(tmp);
    free(tmp);
    return rc;
}
