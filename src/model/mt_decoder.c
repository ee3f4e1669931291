/* Decoder-only causal LMs: Llama, Qwen2, Gemma 3, BLOOM, GPT-2.
 *
 * Pre-norm block:  h = N1(x); attention with RoPE (Llama/Qwen2/Gemma: rotate-half, GQA;
 *                  Gemma: QK-norm, sliding windows), ALiBi (BLOOM) or learned positions (GPT-2);
 *                  o = Wo ctx [Gemma: o = Npa(o)]; m = x + o;
 *                  h2 = N2(m); a = act(Wg h2) * (Wu h2)  (gated)  or  act(Wu h2 + b);
 *                  [patch point: a, the input of the down projection]
 *                  f = Wd a + b [Gemma: f = Npf(f)]; x' = m + f.
 * Head: logits = Wlm Nf(x) [Gemma: optional final soft-capping].
 *
 * The answer position is the last token p. A patch there cannot change earlier positions, so
 * each patched row recomputes only token p above the patched layer, attending to the cached
 * keys/values of positions < p (exact), and the backward pass covers those rows only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_kernels.h"
#include "mt_loader.h"
#include "mt_decoder_impl.h"

/* ---------------------------------------------------------------- loading */

static void dec_free(void *impl) {
    dec_model *m = impl;
    if (!m) return;
    for (int l = 0; m->layers && l < m->cfg.n_layers; l++) { /* f32 copies made for editing */
        dec_layer *w = &m->layers[l];
        mt_w *mats[] = {&w->q_w, &w->k_w, &w->v_w, &w->o_w, &w->gate_w, &w->up_w, &w->down_w};
        for (size_t i = 0; i < sizeof mats / sizeof *mats; i++) mt_w_release(mats[i]);
    }
    free(m->arena);
    free(m->harena);
    mt_st_close(m->st);
    mt_gguf_close(m->gguf);
    free(m->layers);
    free(m->slopes);
    free(m->inv_freq);
    free(m->inv_freq_local);
    free(m);
}

/* Norm weights stored as w for (1 + w) norms become 1 + w once, so the kernels stay plain. */
static void plus_one(float *w, int n) {
    if (w)
        for (int i = 0; i < n; i++) w[i] += 1.0f;
}

static int load_llama_like(dec_model *m, mt_loader *L) {
    const mt_config *c = &m->cfg;
    const int64_t d = c->d_model, f = c->d_ff, V = c->vocab_size, qd = (int64_t)c->n_heads * c->head_dim,
                  kd = (int64_t)c->n_kv_heads * c->head_dim, hd = c->head_dim;
    const int gem = c->arch == MT_ARCH_GEMMA3;
    char n[256];
    int rc;
#define GET(dst, d0, d1, opt, ...)                                   \
    do {                                                             \
        snprintf(n, sizeof n, __VA_ARGS__);                          \
        if ((rc = mt_loader_get(L, &(dst), n, d0, d1, opt))) return rc; \
    } while (0)
#define GET_W(dst, d0, d1, opt, ...)                                           \
    do {                                                                       \
        snprintf(n, sizeof n, __VA_ARGS__);                                    \
        if ((rc = mt_loader_get_w(L, &(dst), n, d0, d1, 0, opt))) return rc;   \
    } while (0)
    GET_W(m->tok_emb, V, d, 0, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        dec_layer *w = &m->layers[l];
        GET(w->n1_w, d, 0, 0, "model.layers.%d.input_layernorm.weight", l);
        GET_W(w->q_w, qd, d, 0, "model.layers.%d.self_attn.q_proj.weight", l);
        GET_W(w->k_w, kd, d, 0, "model.layers.%d.self_attn.k_proj.weight", l);
        GET_W(w->v_w, kd, d, 0, "model.layers.%d.self_attn.v_proj.weight", l);
        GET_W(w->o_w, d, qd, 0, "model.layers.%d.self_attn.o_proj.weight", l);
        if (c->qkv_bias) {
            GET(w->q_b, qd, 0, 0, "model.layers.%d.self_attn.q_proj.bias", l);
            GET(w->k_b, kd, 0, 0, "model.layers.%d.self_attn.k_proj.bias", l);
            GET(w->v_b, kd, 0, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        }
        if (c->o_bias) GET(w->o_b, d, 0, 0, "model.layers.%d.self_attn.o_proj.bias", l);
        if (gem) {
            GET(w->qn_w, hd, 0, 0, "model.layers.%d.self_attn.q_norm.weight", l);
            GET(w->kn_w, hd, 0, 0, "model.layers.%d.self_attn.k_norm.weight", l);
            GET(w->npa_w, d, 0, 0, "model.layers.%d.post_attention_layernorm.weight", l);
            GET(w->n2_w, d, 0, 0, "model.layers.%d.pre_feedforward_layernorm.weight", l);
            GET(w->npf_w, d, 0, 0, "model.layers.%d.post_feedforward_layernorm.weight", l);
        } else {
            GET(w->n2_w, d, 0, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        }
        GET_W(w->gate_w, f, d, 0, "model.layers.%d.mlp.gate_proj.weight", l);
        GET_W(w->up_w, f, d, 0, "model.layers.%d.mlp.up_proj.weight", l);
        GET_W(w->down_w, d, f, 0, "model.layers.%d.mlp.down_proj.weight", l);
        if (c->mlp_bias) {
            GET(w->gate_b, f, 0, 0, "model.layers.%d.mlp.gate_proj.bias", l);
            GET(w->up_b, f, 0, 0, "model.layers.%d.mlp.up_proj.bias", l);
            GET(w->down_b, d, 0, 0, "model.layers.%d.mlp.down_proj.bias", l);
        }
        if (gem && L->next && !L->gguf) { /* llama.cpp's converter already stored 1 + w */
            plus_one(w->n1_w, d), plus_one(w->n2_w, d), plus_one(w->npa_w, d), plus_one(w->npf_w, d);
            plus_one(w->qn_w, hd), plus_one(w->kn_w, hd);
        }
    }
    GET(m->final_w, d, 0, 0, "model.norm.weight");
    if (gem && L->next && !L->gguf) plus_one(m->final_w, d);
    GET_W(m->lm_head, V, d, 1, "lm_head.weight");
    if (!m->lm_head.p && !c->tie_embeddings && (L->next || !mt_loader_has(L, "lm_head.weight")))
        return mt_fail(L->e, MT_EFORMAT, "%s: tensor 'lm_head.weight' is missing and tie_word_embeddings is false", L->dir);
#undef GET
#undef GET_W
    return MT_OK;
}

/* BLOOM's fused query_key_value rows are laid out [head][q|k|v][head_dim]; GPT-2's Conv1D c_attn
 * is [in, q|k|v]. Both are split into separate [out, in] matrices. */
static int load_fused_qkv(dec_model *m, mt_loader *L, dec_layer *w, const char *wname, const char *bname) {
    const mt_config *c = &m->cfg;
    const int64_t d = c->d_model, hd = c->head_dim, H = c->n_heads;
    float *q = mt_loader_take(L, d * d), *k = mt_loader_take(L, d * d), *v = mt_loader_take(L, d * d);
    float *qb = mt_loader_take(L, d), *kb = mt_loader_take(L, d), *vb = mt_loader_take(L, d);
    const int gpt = c->arch == MT_ARCH_GPT2;
    if (!L->next) { /* counting pass: validate shapes only */
        int rc = mt_loader_read(L, wname, 3 * d, d, gpt, 0, NULL, NULL);
        return rc ? rc : mt_loader_read(L, bname, 3 * d, 0, 0, 0, NULL, NULL);
    }
    float *W = malloc(sizeof(float) * 3 * d * d), *B = malloc(sizeof(float) * 3 * d);
    int rc = !W || !B ? mt_fail(L->e, MT_ENOMEM, "out of memory") : MT_OK;
    if (!rc) rc = mt_loader_read(L, wname, 3 * d, d, gpt, 0, W, NULL);
    if (!rc) rc = mt_loader_read(L, bname, 3 * d, 0, 0, 0, B, NULL);
    if (!rc) {
        float *dst[3] = {q, k, v}, *dstb[3] = {qb, kb, vb};
        for (int64_t h = 0; h < H; h++)
            for (int part = 0; part < 3; part++)
                for (int64_t i = 0; i < hd; i++) {
                    /* row of the fused output that holds (head h, part, i) */
                    int64_t src = gpt ? part * d + h * hd + i : (h * 3 + part) * hd + i, out = h * hd + i;
                    memcpy(dst[part] + out * d, W + src * d, sizeof(float) * d);
                    dstb[part][out] = B[src];
                }
        w->q_w = mt_w_of(q), w->k_w = mt_w_of(k), w->v_w = mt_w_of(v), w->q_b = qb, w->k_b = kb, w->v_b = vb;
    }
    free(W);
    free(B);
    return rc;
}

static int load_bloom_gpt2(dec_model *m, mt_loader *L) {
    const mt_config *c = &m->cfg;
    const int64_t d = c->d_model, f = c->d_ff, V = c->vocab_size;
    const int gpt = c->arch == MT_ARCH_GPT2;
    char n[256], n2[256];
    int rc;
#define NAME(buf, ...) snprintf(buf, sizeof buf, __VA_ARGS__)
#define GET(dst, d0, d1, ...)                                              \
    do {                                                                   \
        NAME(n, __VA_ARGS__);                                              \
        if ((rc = mt_loader_get(L, &(dst), n, d0, d1, 0))) return rc;      \
    } while (0)
/* Conv1D weights are stored [in, out]: read transposed into [out, in]. */
#define GET_T(dst, d0, d1, ...)                                                     \
    do {                                                                            \
        NAME(n, __VA_ARGS__);                                                       \
        if ((rc = mt_loader_get_w(L, &(dst), n, d0, d1, gpt, 0))) return rc;       \
    } while (0)
    if (gpt) {
        if ((rc = mt_loader_get_w(L, &m->tok_emb, "transformer.wte.weight", V, d, 0, 0))) return rc;
        GET(m->pos_emb, c->max_pos, d, "transformer.wpe.weight");
    } else {
        if ((rc = mt_loader_get_w(L, &m->tok_emb, "transformer.word_embeddings.weight", V, d, 0, 0))) return rc;
        GET(m->emb_n_w, d, 0, "transformer.word_embeddings_layernorm.weight");
        GET(m->emb_n_b, d, 0, "transformer.word_embeddings_layernorm.bias");
    }
    for (int l = 0; l < c->n_layers; l++) {
        dec_layer *w = &m->layers[l];
        const char *n1 = gpt ? "ln_1" : "input_layernorm", *n2n = gpt ? "ln_2" : "post_attention_layernorm";
        const char *att = gpt ? "attn" : "self_attention", *qkv = gpt ? "c_attn" : "query_key_value";
        const char *o = gpt ? "c_proj" : "dense", *up = gpt ? "c_fc" : "dense_h_to_4h", *down = gpt ? "c_proj" : "dense_4h_to_h";
        GET(w->n1_w, d, 0, "transformer.h.%d.%s.weight", l, n1);
        GET(w->n1_b, d, 0, "transformer.h.%d.%s.bias", l, n1);
        NAME(n, "transformer.h.%d.%s.%s.weight", l, att, qkv);
        NAME(n2, "transformer.h.%d.%s.%s.bias", l, att, qkv);
        if ((rc = load_fused_qkv(m, L, w, n, n2))) return rc;
        GET_T(w->o_w, d, d, "transformer.h.%d.%s.%s.weight", l, att, o);
        GET(w->o_b, d, 0, "transformer.h.%d.%s.%s.bias", l, att, o);
        GET(w->n2_w, d, 0, "transformer.h.%d.%s.weight", l, n2n);
        GET(w->n2_b, d, 0, "transformer.h.%d.%s.bias", l, n2n);
        GET_T(w->up_w, f, d, "transformer.h.%d.mlp.%s.weight", l, up);
        GET(w->up_b, f, 0, "transformer.h.%d.mlp.%s.bias", l, up);
        GET_T(w->down_w, d, f, "transformer.h.%d.mlp.%s.weight", l, down);
        GET(w->down_b, d, 0, "transformer.h.%d.mlp.%s.bias", l, down);
    }
    GET(m->final_w, d, 0, "transformer.ln_f.weight");
    GET(m->final_b, d, 0, "transformer.ln_f.bias");
    if ((rc = mt_loader_get_w(L, &m->lm_head, "lm_head.weight", V, d, 0, 1))) return rc;
#undef GET
#undef GET_T
#undef NAME
    return MT_OK;
}

/* HF's inverse frequencies, computed in float32 as torch does. */
static float *rope_inv_freq(const mt_rope *r, int D) {
    float *f = malloc(sizeof(float) * (size_t)(D / 2));
    if (!f) return NULL;
    for (int i = 0; i < D / 2; i++) {
        float inv = 1.0f / powf((float)r->theta, (float)(2 * i) / (float)D);
        if (r->type == MT_ROPE_LINEAR) inv /= (float)r->factor;
        if (r->type == MT_ROPE_LLAMA3) {
            const float lo_wl = (float)r->orig_max_pos / (float)r->low_freq_factor;
            const float hi_wl = (float)r->orig_max_pos / (float)r->high_freq_factor;
            float wl = 2.0f * (float)M_PI / inv, adj = wl > lo_wl ? inv / (float)r->factor : inv;
            if (!(wl < hi_wl) && !(wl > lo_wl)) {
                float s = ((float)r->orig_max_pos / wl - (float)r->low_freq_factor) /
                          (float)(r->high_freq_factor - r->low_freq_factor);
                adj = (1 - s) * adj / (float)r->factor + s * adj;
            }
            inv = adj;
        }
        f[i] = inv;
    }
    return f;
}

/* ALiBi slopes as HF build_alibi_tensor computes them, including non-power-of-2 head counts. */
static float *alibi_slopes(int H) {
    float *s = malloc(sizeof(float) * (size_t)H);
    if (!s) return NULL;
    int p2 = 1;
    while (p2 * 2 <= H) p2 *= 2;
    double base = pow(2.0, -pow(2.0, -(log2((double)p2) - 3)));
    for (int i = 0; i < p2; i++) s[i] = (float)pow(base, i + 1);
    if (p2 != H) {
        double extra = pow(2.0, -pow(2.0, -(log2(2.0 * p2) - 3)));
        int rem = H - p2 < p2 ? H - p2 : p2;
        for (int i = 0; i < rem; i++) s[p2 + i] = (float)pow(extra, 2 * i + 1);
    }
    return s;
}

/* HF tensor names -> llama.cpp's GGUF names (llama, qwen2, gemma3). */
int dec_gguf_name(const mt_loader *L, const char *hf, char *out, size_t n) {
    const dec_model *m = L->user;
    static const char *const glob[][2] = {
        {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"}};
    for (size_t i = 0; i < sizeof glob / sizeof *glob; i++)
        if (!strcmp(hf, glob[i][0])) return snprintf(out, n, "%s", glob[i][1]) > 0;
    int l, off = 0;
    if (sscanf(hf, "model.layers.%d.%n", &l, &off) != 1 || !off) return 0;
    const char *rest = hf + off;
    const int gem = m->cfg.arch == MT_ARCH_GEMMA3;
    static const char *const per[][2] = {
        {"input_layernorm.", "attn_norm."},       {"self_attn.q_proj.", "attn_q."},
        {"self_attn.k_proj.", "attn_k."},         {"self_attn.v_proj.", "attn_v."},
        {"self_attn.o_proj.", "attn_output."},    {"self_attn.q_norm.", "attn_q_norm."},
        {"self_attn.k_norm.", "attn_k_norm."},    {"pre_feedforward_layernorm.", "ffn_norm."},
        {"post_feedforward_layernorm.", "post_ffw_norm."}, {"mlp.gate_proj.", "ffn_gate."},
        {"mlp.up_proj.", "ffn_up."},              {"mlp.down_proj.", "ffn_down."},
        {"post_attention_layernorm.", NULL}};
    for (size_t i = 0; i < sizeof per / sizeof *per; i++) {
        size_t k = strlen(per[i][0]);
        if (strncmp(rest, per[i][0], k)) continue;
        const char *g = per[i][1] ? per[i][1] : gem ? "post_attention_norm." : "ffn_norm.";
        return snprintf(out, n, "blk.%d.%s%s", l, g, rest + k) > 0;
    }
    return 0;
}

/* llama.cpp permutes Llama's q/k rows for its interleaved RoPE: row (h, 2i + c) holds HF row
 * (h, c * D/2 + i). Undo it so the rotate-half kernels apply. */
static int gguf_unpermute(const mt_loader *L, const char *hf, void *data, size_t elem, int64_t d0, int64_t d1) {
    const dec_model *m = L->user;
    if (m->cfg.arch != MT_ARCH_LLAMA) return 0;
    int heads = strstr(hf, "q_proj.") ? m->cfg.n_heads : strstr(hf, "k_proj.") ? m->cfg.n_kv_heads : 0;
    if (!heads || !data) return heads != 0;
    const int64_t D = m->cfg.head_dim, cols = d1 ? d1 : 1;
    const size_t row = elem * (size_t)cols;
    char *tmp = malloc(row * (size_t)D), *x = data;
    if (!tmp) return 1; /* cannot happen in practice; the caller's checks on logits would show it */
    for (int h = 0; h < heads; h++) {
        char *blk = x + (size_t)h * D * row;
        memcpy(tmp, blk, row * (size_t)D);
        for (int64_t i = 0; i < D / 2; i++)
            for (int c = 0; c < 2; c++) memcpy(blk + (c * D / 2 + i) * row, tmp + (2 * i + c) * row, row);
    }
    free(tmp);
    return 1;
}

static int dec_load(const char *dir, const mt_config *cfg, void **out, mt_err *e) {
    *out = NULL;
    dec_model *m = mt_calloc(1, sizeof *m);
    if (!m) return mt_fail(e, MT_ENOMEM, "out of memory");
    m->cfg = *cfg;
    m->layers = mt_calloc((size_t)cfg->n_layers, sizeof *m->layers);
    mt_safetensors *st = NULL;
    mt_gguf *gg = NULL;
    const int from_gguf = mt_model_is_gguf(dir);
    int rc = !m->layers ? mt_fail(e, MT_ENOMEM, "out of memory") : from_gguf ? mt_gguf_open(dir, &gg, e) : mt_st_open(dir, &st, e);
    const char *prefix = cfg->arch == MT_ARCH_BLOOM || cfg->arch == MT_ARCH_GPT2 ? "transformer." : "model.";
    mt_loader L = {.st = st, .gguf = gg, .dir = dir, .prefix = prefix, .e = e, .user = m};
    if (gg) {
        if (cfg->arch == MT_ARCH_BLOOM || cfg->arch == MT_ARCH_GPT2)
            rc = mt_fail(e, MT_EUNSUPPORTED, "%s: %s from GGUF is not supported", dir, mt_arch_name(cfg->arch));
        L.gguf_name = dec_gguf_name;
        L.gguf_fix = gguf_unpermute;
    }
    int (*fill)(dec_model *, mt_loader *) =
        cfg->arch == MT_ARCH_BLOOM || cfg->arch == MT_ARCH_GPT2 ? load_bloom_gpt2 : load_llama_like;
    if (!rc) rc = fill(m, &L);
    if (!rc) rc = mt_loader_alloc(&L, &m->arena, &m->harena);
    if (!rc) rc = fill(m, &L);
    m->n_arena = L.count;
    if (!rc && !m->lm_head.p) m->lm_head = m->tok_emb;
    if (!rc && cfg->alibi && !(m->slopes = alibi_slopes(cfg->n_heads))) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    if (!rc && !cfg->alibi && !cfg->learned_pos) {
        m->inv_freq = rope_inv_freq(&cfg->rope, cfg->head_dim);
        m->inv_freq_local = rope_inv_freq(cfg->arch == MT_ARCH_GEMMA3 ? &cfg->rope_local : &cfg->rope, cfg->head_dim);
        if (!m->inv_freq || !m->inv_freq_local) rc = mt_fail(e, MT_ENOMEM, "out of memory");
    }
    /* Llama 3.x GGUFs carry their rope scaling as per-frequency divisors. */
    const mt_gguf_tensor *rf = gg ? mt_gguf_find_tensor(gg, "rope_freqs.weight") : NULL;
    if (!rc && rf) {
        float fac[4096];
        if (rf->numel != cfg->head_dim / 2 || rf->numel > 4096)
            rc = mt_fail(e, MT_EFORMAT, "%s: tensor 'rope_freqs.weight' has %lld values, expected %d", dir,
                         (long long)rf->numel, cfg->head_dim / 2);
        else if (!(rc = mt_gguf_to_f32(rf, fac, e)))
            for (int i = 0; i < cfg->head_dim / 2; i++) m->inv_freq[i] /= fac[i], m->inv_freq_local[i] /= fac[i];
    }
    if (!rc && L.aliased) { /* matrices point into its mapping */
        m->st = st, m->gguf = gg;
        st = NULL, gg = NULL;
    }
    mt_st_close(st);
    mt_gguf_close(gg);
    if (rc) {
        dec_free(m);
        return rc;
    }
    *out = m;
    return MT_OK;
}

/* ---------------------------------------------------------------- run state */

static size_t lay_run(dec_run *r, const mt_config *c, char *cur) {
    size_t t = 0;
    const size_t T = r->max_T, B = r->max_B, N = B * T, d = c->d_model, f = c->d_ff, qd = r->qd, kd = r->kd;
    const size_t L = c->n_layers, H = c->n_heads, hd = c->head_dim;
    for (size_t l = 0; l < L; l++) {
        r->kc[l] = mt_arena_take(&cur, T * kd, &t);
        r->vc[l] = mt_arena_take(&cur, T * kd, &t);
        r->ac[l] = mt_arena_take(&cur, T * f, &t);
        r->midc[l] = mt_arena_take(&cur, T * d, &t);
        r->oc[l] = mt_arena_take(&cur, T * f, &t);
    }
    r->xfinal = mt_arena_take(&cur, T * d, &t);
    float **full[] = {&r->sx, &r->sh, &r->so, &r->smid, &r->sf};
    for (size_t i = 0; i < sizeof full / sizeof *full; i++) *full[i] = mt_arena_take(&cur, N * d, &t);
    r->sq = mt_arena_take(&cur, N * qd, &t);
    r->sctx = mt_arena_take(&cur, N * qd, &t);
    r->sk = mt_arena_take(&cur, N * kd, &t);
    r->sv = mt_arena_take(&cur, N * kd, &t);
    r->sg = mt_arena_take(&cur, N * f, &t);
    r->su = mt_arena_take(&cur, N * f, &t);
    r->sa = mt_arena_take(&cur, N * f, &t);
    r->sm = mt_arena_take(&cur, N * H, &t);
    r->sr = mt_arena_take(&cur, N * H, &t);
    for (size_t l = 0; l < L; l++) {
        row_acts *a = &r->ra[l];
        float **rd[] = {&a->x, &a->h, &a->o, &a->mid, &a->h2};
        for (size_t i = 0; i < sizeof rd / sizeof *rd; i++) *rd[i] = mt_arena_take(&cur, B * d, &t);
        float **rs[] = {&a->n1m, &a->n1r, &a->npar, &a->n2m, &a->n2r, &a->npfr};
        for (size_t i = 0; i < sizeof rs / sizeof *rs; i++) *rs[i] = mt_arena_take(&cur, B, &t);
        a->qr = mt_arena_take(&cur, B * qd, &t);
        a->q = mt_arena_take(&cur, B * qd, &t);
        a->ctx = mt_arena_take(&cur, B * qd, &t);
        a->qnr = mt_arena_take(&cur, B * H, &t);
        a->kr = mt_arena_take(&cur, B * kd, &t);
        a->k = mt_arena_take(&cur, B * kd, &t);
        a->v = mt_arena_take(&cur, B * kd, &t);
        a->knr = mt_arena_take(&cur, B * c->n_kv_heads, &t);
        a->att = mt_arena_take(&cur, B * H * T, &t);
        a->g = mt_arena_take(&cur, B * f, &t);
        a->u = mt_arena_take(&cur, B * f, &t);
        a->a = mt_arena_take(&cur, B * f, &t);
        a->f = mt_arena_take(&cur, B * d, &t);
    }
    float **hd_[] = {&r->xtop, &r->hn, &r->dx, &r->dmid, &r->dt, &r->dt2, &r->pf};
    for (size_t i = 0; i < sizeof hd_ / sizeof *hd_; i++) *hd_[i] = mt_arena_take(&cur, B * d, &t);
    r->hm = mt_arena_take(&cur, B, &t);
    r->hr = mt_arena_take(&cur, B, &t);
    r->pfr = mt_arena_take(&cur, B, &t);
    r->logits = mt_arena_take(&cur, B * (size_t)c->vocab_size, &t);
    r->dlogits = mt_arena_take(&cur, B * (size_t)c->vocab_size, &t);
    r->dff = mt_arena_take(&cur, B * f, &t);
    r->dff2 = mt_arena_take(&cur, B * f, &t);
    r->dq = mt_arena_take(&cur, B * qd, &t);
    r->dctx = mt_arena_take(&cur, B * qd, &t);
    r->dk = mt_arena_take(&cur, B * kd, &t);
    r->dv = mt_arena_take(&cur, B * kd, &t);
    r->cosb = mt_arena_take(&cur, hd, &t);
    r->sinb = mt_arena_take(&cur, hd, &t);
    return t;
}

static void dec_run_free(void *run) {
    dec_run *r = run;
    if (!r) return;
    free(r->kc);
    free(r->vc);
    free(r->ac);
    free(r->midc);
    free(r->oc);
    free(r->ra);
    free(r->arena);
    free(r);
}

static int dec_run_new(const void *impl, int max_T, int max_B, void **out, size_t *bytes, mt_err *e) {
    const dec_model *m = impl;
    const mt_config *c = &m->cfg;
    *out = NULL;
    if (max_T < 1 || max_B < 1) return mt_fail(e, MT_EINVAL, "run: max_T and max_B must be positive");
    if (max_T > c->max_pos)
        return mt_fail(e, MT_EINVAL, "input of %d tokens exceeds the model's %d positions", max_T, c->max_pos);
    dec_run *r = mt_calloc(1, sizeof *r);
    if (!r) return mt_fail(e, MT_ENOMEM, "out of memory");
    r->max_T = max_T, r->max_B = max_B, r->d = c->d_model, r->f = c->d_ff;
    r->qd = c->n_heads * c->head_dim, r->kd = c->n_kv_heads * c->head_dim;
    const size_t L = c->n_layers;
    r->kc = calloc(L, sizeof(float *)), r->vc = calloc(L, sizeof(float *));
    r->ac = calloc(L, sizeof(float *)), r->midc = calloc(L, sizeof(float *));
    r->oc = calloc(L, sizeof(float *));
    r->ra = calloc(L, sizeof(row_acts));
    if (r->kc && r->vc && r->ac && r->midc && r->oc && r->ra) {
        r->bytes = lay_run(r, c, NULL);
        r->arena = mt_alloc_big(r->bytes);
    }
    if (!r->arena) {
        size_t mb = r->bytes >> 20;
        dec_run_free(r);
        return mt_fail(e, MT_ENOMEM, "cannot allocate %zu MB of activations (%d tokens x %d rows)", mb, max_T, max_B);
    }
    lay_run(r, c, r->arena);
    *bytes = r->bytes;
    *out = r;
    return MT_OK;
}

/* ---------------------------------------------------------------- shared pieces */

void dec_norm_fwd(const dec_model *m, float *out, float *mean, float *rstd, const float *in, const float *w,
                     const float *b, int N, int C) {
    if (m->cfg.norm == MT_NORM_LAYER) mt_layernorm_fwd(out, mean, rstd, in, w, b, N, C, m->cfg.ln_eps);
    else mt_rmsnorm_fwd(out, rstd, in, w, N, C, m->cfg.ln_eps);
}

void dec_norm_bwd(const dec_model *m, float *din, const float *dout, const float *in, const float *mean,
                     const float *rstd, const float *w, int N, int C) {
    if (m->cfg.norm == MT_NORM_LAYER) mt_layernorm_bwd(din, dout, in, mean, rstd, w, N, C);
    else mt_rmsnorm_bwd(din, dout, in, rstd, w, N, C);
}

mt_attn_rule dec_attn_rule(const dec_model *m, int l) {
    const mt_config *c = &m->cfg;
    mt_attn_rule r = {c->attn_scale, c->sliding[l] ? c->sliding_window : 0, c->attn_softcap, m->slopes};
    return r;
}

void dec_rope_tables(const dec_model *m, dec_run *r, int l, int pos) {
    const float *inv = m->cfg.sliding[l] ? m->inv_freq_local : m->inv_freq;
    for (int i = 0; i < m->cfg.head_dim / 2; i++) {
        float ang = (float)pos * inv[i];
        r->cosb[i] = cosf(ang);
        r->sinb[i] = sinf(ang);
    }
}

int dec_has_rope(const dec_model *m) { return m->inv_freq != NULL; }

/* FFN from h2 [N, d] to the neuron a [N, f]; g/u keep the pre-activations for backward. */
void dec_ffn_up(const dec_model *m, const dec_run *r, int l, const dec_layer *w, float *g, float *u, float *a,
                const float *h2, int N, int T, int p) {
    const mt_config *c = &m->cfg;
    const long nf = (long)N * c->d_ff;
    mt_matmul_fwd(u, h2, w->up_w, w->up_b, N, c->d_model, c->d_ff);
    if (c->gated) mt_matmul_fwd(g, h2, w->gate_w, w->gate_b, N, c->d_model, c->d_ff);
    /* interventions (mt_train.h) act where the neuron tensor is computed */
    if (r && r->iv && r->neuron != MT_NEURON_DOWN_INPUT)
        mt_iv_apply(r->iv, l, r->neuron == MT_NEURON_GATE ? g : u, c->d_ff, N, T, p);
    if (c->gated) {
        mt_act_fwd(a, g, nf, c->act);
        for (long i = 0; i < nf; i++) a[i] *= u[i];
    } else {
        mt_act_fwd(a, u, nf, c->act);
    }
    if (r && r->iv && r->neuron == MT_NEURON_DOWN_INPUT) mt_iv_apply(r->iv, l, a, c->d_ff, N, T, p);
}

int dec_embed(const dec_model *m, float *x, const int32_t *ids, int B, int T, mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int32_t id = ids[(size_t)b * T + t];
            if (id < 0 || id >= c->vocab_size)
                return mt_fail(e, MT_EINVAL, "token id %d at position %d is outside the vocabulary (%d)", id, t,
                               c->vocab_size);
            float *row = x + ((size_t)b * T + t) * d;
            mt_w_rows(m->tok_emb, id, 1, d, row);
            for (int i = 0; i < d; i++) row[i] *= c->embed_scale;
            if (m->pos_emb)
                for (int i = 0; i < d; i++) row[i] += m->pos_emb[(size_t)t * d + i];
        }
    return MT_OK;
}

/* ---------------------------------------------------------------- full-sequence forward */

/* B sequences of T tokens through every layer. cache: keep K, V, neuron, mid of every layer
 * and the final hidden states (B == 1). acts: the neuron at `pos` of every layer, [B][L][f]. */
static int full_forward(const dec_model *m, dec_run *r, const int32_t *ids, int B, int T, int cache, int pos,
                        float *acts, mt_err *e) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, N = B * T, H = c->n_heads, Hk = c->n_kv_heads, hd = c->head_dim;
    const int qd = r->qd, kd = r->kd, gem = c->sandwich_norms;
    if (T < 1) return mt_fail(e, MT_EINVAL, "empty input sequence");
    if (T > r->max_T || B > r->max_B)
        return mt_fail(e, MT_EINVAL, "input of %d x %d tokens exceeds the run's %d x %d", B, T, r->max_B, r->max_T);
    int rc = dec_embed(m, r->sx, ids, B, T, e);
    if (rc) return rc;
    if (m->emb_n_w) mt_layernorm_fwd(r->sx, r->sm, r->sr, r->sx, m->emb_n_w, m->emb_n_b, N, d, c->ln_eps);
    for (int l = 0; l < c->n_layers; l++) {
        const dec_layer *w = &m->layers[l];
        dec_norm_fwd(m, r->sh, r->sm, r->sr, r->sx, w->n1_w, w->n1_b, N, d);
        mt_matmul_fwd(r->sq, r->sh, w->q_w, w->q_b, N, d, qd);
        mt_matmul_fwd(r->sk, r->sh, w->k_w, w->k_b, N, d, kd);
        mt_matmul_fwd(r->sv, r->sh, w->v_w, w->v_b, N, d, kd);
        if (gem) {
            mt_rmsnorm_fwd(r->sq, r->sr, r->sq, w->qn_w, N * H, hd, c->ln_eps);
            mt_rmsnorm_fwd(r->sk, r->sr, r->sk, w->kn_w, N * Hk, hd, c->ln_eps);
        }
        if (dec_has_rope(m))
            for (int t = 0; t < T; t++) {
                dec_rope_tables(m, r, l, t);
                for (int b = 0; b < B; b++) {
                    mt_rope_apply(r->sq + ((size_t)b * T + t) * qd, H, hd, r->cosb, r->sinb, 0);
                    mt_rope_apply(r->sk + ((size_t)b * T + t) * kd, Hk, hd, r->cosb, r->sinb, 0);
                }
            }
        mt_attn_rule rule = dec_attn_rule(m, l);
        mt_causal_attention_fwd(r->sctx, r->sq, r->sk, r->sv, B, T, H, Hk, hd, &rule);
        mt_matmul_fwd(r->so, r->sctx, w->o_w, w->o_b, N, qd, d);
        if (gem) mt_rmsnorm_fwd(r->so, r->sr, r->so, w->npa_w, N, d, c->ln_eps);
        for (size_t i = 0; i < (size_t)N * d; i++) r->smid[i] = r->sx[i] + r->so[i];
        dec_norm_fwd(m, r->sh, r->sm, r->sr, r->smid, w->n2_w, w->n2_b, N, d);
        dec_ffn_up(m, r, l, w, r->sg, r->su, r->sa, r->sh, N, T, -1);
        mt_matmul_fwd(r->sf, r->sa, w->down_w, w->down_b, N, f, d);
        if (gem) mt_rmsnorm_fwd(r->sf, r->sr, r->sf, w->npf_w, N, d, c->ln_eps);
        for (size_t i = 0; i < (size_t)N * d; i++) r->sx[i] = r->smid[i] + r->sf[i];
        if (cache) {
            memcpy(r->kc[l], r->sk, sizeof(float) * (size_t)T * kd);
            memcpy(r->vc[l], r->sv, sizeof(float) * (size_t)T * kd);
            const float *nv = r->neuron == MT_NEURON_GATE ? r->sg : r->neuron == MT_NEURON_DOWN_INPUT ? r->sa : r->su;
            memcpy(r->ac[l], nv, sizeof(float) * (size_t)T * f);
            if (r->neuron == MT_NEURON_GATE || r->neuron == MT_NEURON_UP)
                memcpy(r->oc[l], r->neuron == MT_NEURON_GATE ? r->su : r->sg, sizeof(float) * (size_t)T * f);
            memcpy(r->midc[l], r->smid, sizeof(float) * (size_t)T * d);
        }
        if (acts) {
            const float *nv = r->neuron == MT_NEURON_GATE ? r->sg : r->neuron == MT_NEURON_DOWN_INPUT ? r->sa : r->su;
            for (int b = 0; b < B; b++)
                memcpy(acts + ((size_t)b * c->n_layers + l) * f, nv + ((size_t)b * T + pos) * f, sizeof(float) * f);
        }
    }
    if (cache) memcpy(r->xfinal, r->sx, sizeof(float) * (size_t)T * d);
    return MT_OK;
}

static int dec_forward(const void *impl, void *run, const int32_t *ids, const int32_t *types, int T, mt_err *e) {
    dec_run *r = run;
    int rc = full_forward(impl, r, ids, 1, T, 1, 0, NULL, e);
    if (!rc) r->T = T;
    return rc;
}

static const float *dec_ffn_act(const void *run, int layer, int pos) {
    const dec_run *r = run;
    return r->ac[layer] + (size_t)pos * r->f;
}

static int dec_forward_batch_acts(const void *impl, void *run, const int32_t *ids, const int32_t *types, int B, int T,
                                  int pos, float *acts, mt_err *e) {
    if (pos < 0 || pos >= T) return mt_fail(e, MT_EINVAL, "position %d is outside the sequence (%d)", pos, T);
    return full_forward(impl, run, ids, B, T, 0, pos, acts, e);
}

/* ---------------------------------------------------------------- head */

/* logits [M][V] of M final hidden rows x; keeps the norm statistics in r. */
void dec_head_fwd(const dec_model *m, dec_run *r, const float *x, int M) {
    const mt_config *c = &m->cfg;
    dec_norm_fwd(m, r->hn, r->hm, r->hr, x, m->final_w, m->final_b, M, c->d_model);
    mt_matmul_fwd(r->logits, r->hn, m->lm_head, NULL, M, c->d_model, c->vocab_size);
    if (c->final_softcap > 0)
        for (size_t i = 0; i < (size_t)M * c->vocab_size; i++)
            r->logits[i] = tanhf(r->logits[i] / c->final_softcap) * c->final_softcap;
}

static int dec_head_logits(const void *impl, void *run, int pos, float *logits, mt_err *e) {
    const dec_model *m = impl;
    dec_run *r = run;
    if (pos < 0 || pos >= r->T) return mt_fail(e, MT_EINVAL, "position %d is outside the sequence (%d)", pos, r->T);
    dec_head_fwd(m, r, r->xfinal + (size_t)pos * r->d, 1);
    memcpy(logits, r->logits, sizeof(float) * m->cfg.vocab_size);
    return MT_OK;
}

/* ---------------------------------------------------------------- patched rows */

/* Layer l for the M rows at position p: input ra[l].x, output into `out`. */
void dec_row_fwd(const dec_model *m, dec_run *r, int l, int M, int p, float *out) {
    const mt_config *c = &m->cfg;
    const dec_layer *w = &m->layers[l];
    row_acts *a = &r->ra[l];
    const int d = c->d_model, f = c->d_ff, H = c->n_heads, Hk = c->n_kv_heads, hd = c->head_dim, qd = r->qd, kd = r->kd;
    const int gem = c->sandwich_norms;
    dec_norm_fwd(m, a->h, a->n1m, a->n1r, a->x, w->n1_w, w->n1_b, M, d);
    mt_matmul_fwd(a->qr, a->h, w->q_w, w->q_b, M, d, qd);
    mt_matmul_fwd(a->kr, a->h, w->k_w, w->k_b, M, d, kd);
    mt_matmul_fwd(a->v, a->h, w->v_w, w->v_b, M, d, kd);
    if (gem) {
        mt_rmsnorm_fwd(a->q, a->qnr, a->qr, w->qn_w, M * H, hd, c->ln_eps);
        mt_rmsnorm_fwd(a->k, a->knr, a->kr, w->kn_w, M * Hk, hd, c->ln_eps);
    } else {
        memcpy(a->q, a->qr, sizeof(float) * (size_t)M * qd);
        memcpy(a->k, a->kr, sizeof(float) * (size_t)M * kd);
    }
    if (dec_has_rope(m)) {
        dec_rope_tables(m, r, l, p);
        for (int k = 0; k < M; k++) {
            mt_rope_apply(a->q + (size_t)k * qd, H, hd, r->cosb, r->sinb, 0);
            mt_rope_apply(a->k + (size_t)k * kd, Hk, hd, r->cosb, r->sinb, 0);
        }
    }
    mt_attn_rule rule = dec_attn_rule(m, l);
    mt_decode_attention_fwd(a->ctx, a->att, a->q, r->kc[l], r->vc[l], a->k, a->v, M, p, H, Hk, hd, &rule);
    mt_matmul_fwd(a->o, a->ctx, w->o_w, w->o_b, M, qd, d);
    const float *o = a->o;
    if (gem) {
        mt_rmsnorm_fwd(r->dt, a->npar, a->o, w->npa_w, M, d, c->ln_eps);
        o = r->dt;
    }
    for (size_t i = 0; i < (size_t)M * d; i++) a->mid[i] = a->x[i] + o[i];
    dec_norm_fwd(m, a->h2, a->n2m, a->n2r, a->mid, w->n2_w, w->n2_b, M, d);
    dec_ffn_up(m, r, l, w, a->g, a->u, a->a, a->h2, M, r->T, p);
    mt_matmul_fwd(a->f, a->a, w->down_w, w->down_b, M, f, d);
    const float *ff = a->f;
    if (gem) {
        mt_rmsnorm_fwd(r->dt, a->npfr, a->f, w->npf_w, M, d, c->ln_eps);
        ff = r->dt;
    }
    for (size_t i = 0; i < (size_t)M * d; i++) out[i] = a->mid[i] + ff[i];
}

/* d(neuron) [M][f] from d(FFN output before the post-FFN norm) is W_down^T; this maps the
 * gradient at the neuron back to h2 (gated: through act(g) * u). dff is consumed. */
static void ffn_bwd(const dec_model *m, dec_run *r, const dec_layer *w, const row_acts *a, int M, float *dh2) {
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff;
    const long nf = (long)M * f;
    if (c->gated) {
        mt_act_fwd(r->dff2, a->g, nf, c->act);
        for (long i = 0; i < nf; i++) {
            float da = r->dff[i];
            r->dff2[i] *= da;  /* d up = da * act(g) */
            r->dff[i] = da * a->u[i]; /* d act(g) */
        }
        mt_act_bwd(r->dff, r->dff, a->g, nf, c->act);
        mt_matmul_bwd_in(dh2, r->dff, w->gate_w, M, d, f, 0);
        mt_matmul_bwd_in(dh2, r->dff2, w->up_w, M, d, f, 1);
    } else {
        mt_act_bwd(r->dff, r->dff, a->u, nf, c->act);
        mt_matmul_bwd_in(dh2, r->dff, w->up_w, M, d, f, 0);
    }
}

/* Layer l backward for the M rows: r->dx holds d(output), becomes d(input). */
void dec_row_bwd(const dec_model *m, dec_run *r, int l, int M, int p) {
    const mt_config *c = &m->cfg;
    const dec_layer *w = &m->layers[l];
    const row_acts *a = &r->ra[l];
    const int d = c->d_model, f = c->d_ff, H = c->n_heads, Hk = c->n_kv_heads, hd = c->head_dim, qd = r->qd, kd = r->kd;
    const int gem = c->sandwich_norms;
    const size_t Md = (size_t)M * d;
    memcpy(r->dmid, r->dx, sizeof(float) * Md);
    /* FFN branch */
    if (gem) mt_rmsnorm_bwd(r->dt, r->dx, a->f, a->npfr, w->npf_w, M, d);
    else memcpy(r->dt, r->dx, sizeof(float) * Md);
    mt_matmul_bwd_in(r->dff, r->dt, w->down_w, M, f, d, 0);
    ffn_bwd(m, r, w, a, M, r->dt);
    dec_norm_bwd(m, r->dt2, r->dt, a->mid, a->n2m, a->n2r, w->n2_w, M, d);
    for (size_t i = 0; i < Md; i++) r->dmid[i] += r->dt2[i];
    /* attention branch */
    if (gem) mt_rmsnorm_bwd(r->dt, r->dmid, a->o, a->npar, w->npa_w, M, d);
    else memcpy(r->dt, r->dmid, sizeof(float) * Md);
    mt_matmul_bwd_in(r->dctx, r->dt, w->o_w, M, qd, d, 0);
    mt_attn_rule rule = dec_attn_rule(m, l);
    mt_decode_attention_bwd(r->dq, r->dk, r->dv, r->dctx, a->att, a->q, r->kc[l], r->vc[l], a->k, a->v, M, p, H, Hk, hd,
                            &rule);
    if (dec_has_rope(m)) {
        dec_rope_tables(m, r, l, p);
        for (int k = 0; k < M; k++) {
            mt_rope_apply(r->dq + (size_t)k * qd, H, hd, r->cosb, r->sinb, 1);
            mt_rope_apply(r->dk + (size_t)k * kd, Hk, hd, r->cosb, r->sinb, 1);
        }
    }
    if (gem) {
        mt_rmsnorm_bwd(r->dq, r->dq, a->qr, a->qnr, w->qn_w, M * H, hd);
        mt_rmsnorm_bwd(r->dk, r->dk, a->kr, a->knr, w->kn_w, M * Hk, hd);
    }
    mt_matmul_bwd_in(r->dt, r->dq, w->q_w, M, d, qd, 0);
    mt_matmul_bwd_in(r->dt, r->dk, w->k_w, M, d, kd, 1);
    mt_matmul_bwd_in(r->dt, r->dv, w->v_w, M, d, kd, 1);
    dec_norm_bwd(m, r->dt2, r->dt, a->x, a->n1m, a->n1r, w->n1_w, M, d);
    for (size_t i = 0; i < Md; i++) r->dx[i] = r->dmid[i] + r->dt2[i];
}

static int dec_patch_grad(const void *impl, void *run, int layer, int pos, const float *Z, int M, int32_t target,
                          int logprob, float *F, float *dZ, mt_err *e) {
    const dec_model *m = impl;
    dec_run *r = run;
    const mt_config *c = &m->cfg;
    const int d = c->d_model, f = c->d_ff, L = c->n_layers, V = c->vocab_size, p = pos;
    const int gem = c->sandwich_norms;
    if (layer < 0 || layer >= L) return mt_fail(e, MT_EINVAL, "layer %d is outside [0, %d)", layer, L);
    if (pos != r->T - 1)
        return mt_fail(e, MT_EINVAL, "causal models attribute at the last position (%d), not %d", r->T - 1, pos);
    if (M < 1 || M > r->max_B) return mt_fail(e, MT_EINVAL, "%d patched rows exceed the run's %d", M, r->max_B);
    if (target < 0 || target >= V) return mt_fail(e, MT_EINVAL, "target id %d is outside the vocabulary", target);
    const dec_layer *w = &m->layers[layer];
    /* the neuron vector a from the patched tensor z (identity for the default patch point) */
    const float *A = Z, *other = r->oc[layer] + (size_t)p * f;
    const long Mf = (long)M * f;
    if (r->neuron != MT_NEURON_DOWN_INPUT) {
        float *a = r->sa; /* the full-sequence scratch is free during a patched pass */
        if (r->neuron == MT_NEURON_UP) {
            mt_act_fwd(r->dff2, other, f, c->act);
            for (long i = 0; i < Mf; i++) a[i] = r->dff2[i % f] * Z[i];
        } else {
            mt_act_fwd(a, Z, Mf, c->act);
            if (r->neuron == MT_NEURON_GATE)
                for (long i = 0; i < Mf; i++) a[i] *= other[i % f];
        }
        A = a;
    }
    /* patched layer: x' = mid[p] + Npf(W_down a + b) */
    mt_matmul_fwd(r->pf, A, w->down_w, w->down_b, M, f, d);
    float *out = layer + 1 < L ? r->ra[layer + 1].x : r->xtop;
    const float *ff = r->pf;
    if (gem) {
        mt_rmsnorm_fwd(r->dt, r->pfr, r->pf, w->npf_w, M, d, c->ln_eps);
        ff = r->dt;
    }
    const float *mid = r->midc[layer] + (size_t)p * d;
    for (int k = 0; k < M; k++)
        for (int i = 0; i < d; i++) out[(size_t)k * d + i] = mid[i] + ff[(size_t)k * d + i];
    for (int l = layer + 1; l < L; l++) dec_row_fwd(m, r, l, M, p, l + 1 < L ? r->ra[l + 1].x : r->xtop);
    dec_head_fwd(m, r, r->xtop, M);
    for (int k = 0; k < M; k++) {
        float *lg = r->logits + (size_t)k * V, *dl = r->dlogits + (size_t)k * V;
        mt_softmax(dl, lg, V);
        float pr = dl[target];
        if (!isfinite(pr) || (logprob && !(pr > 0)))
            return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite probability at patched step %d", layer, k);
        if (F) F[k] = logprob ? logf(pr) : pr;
        float s = logprob ? 1.0f : pr;
        for (int j = 0; j < V; j++) dl[j] = -s * dl[j];
        dl[target] += s;
        if (c->final_softcap > 0)
            for (int j = 0; j < V; j++) {
                float t = lg[j] / c->final_softcap;
                dl[j] *= 1 - t * t;
            }
    }
    mt_matmul_bwd_in(r->dt, r->dlogits, m->lm_head, M, d, V, 0);
    dec_norm_bwd(m, r->dx, r->dt, r->xtop, r->hm, r->hr, m->final_w, M, d);
    for (int l = L - 1; l > layer; l--) dec_row_bwd(m, r, l, M, p);
    if (gem) mt_rmsnorm_bwd(r->dt, r->dx, r->pf, r->pfr, w->npf_w, M, d);
    mt_matmul_bwd_in(dZ, gem ? r->dt : r->dx, w->down_w, M, f, d, 0);
    if (r->neuron == MT_NEURON_UP) { /* da/dz = act(g) */
        mt_act_fwd(r->dff2, other, f, c->act);
        for (long i = 0; i < Mf; i++) dZ[i] *= r->dff2[i % f];
    } else if (r->neuron != MT_NEURON_DOWN_INPUT) { /* da/dz = act'(z) (* u for the gate) */
        if (r->neuron == MT_NEURON_GATE)
            for (long i = 0; i < Mf; i++) dZ[i] *= other[i % f];
        mt_act_bwd(dZ, dZ, Z, Mf, c->act);
    }
    for (size_t i = 0; i < (size_t)M * f; i++)
        if (!isfinite(dZ[i])) return mt_fail(e, MT_ENUMERIC, "layer %d: non-finite gradient at the FFN activation", layer);
    return MT_OK;
}

static int dec_set_neuron(const void *impl, void *run, int kind, mt_err *e) {
    const dec_model *m = impl;
    dec_run *r = run;
    int gated = m->cfg.gated;
    if ((kind == MT_NEURON_GATE || kind == MT_NEURON_UP) && !gated)
        return mt_fail(e, MT_EINVAL, "neuron '%s' needs a gated FFN; %s has none (use pre_act)",
                       mt_neuron_name((mt_neuron)kind), mt_arch_name(m->cfg.arch));
    if (kind == MT_NEURON_PRE_ACT && gated)
        return mt_fail(e, MT_EINVAL, "neuron 'pre_act' is for non-gated FFNs; %s is gated (use gate or up)",
                       mt_arch_name(m->cfg.arch));
    r->neuron = kind;
    r->T = 0; /* the cache must be rebuilt by mt_forward */
    return MT_OK;
}

static void dec_weight_bytes(const void *impl, size_t *f32, size_t *half) {
    const dec_model *m = impl;
    const mt_config *c = &m->cfg;
    const size_t d = c->d_model, f = c->d_ff, V = c->vocab_size, qd = (size_t)c->n_heads * c->head_dim,
                 kd = (size_t)c->n_kv_heads * c->head_dim;
    *f32 = 4 * m->n_arena, *half = 0;
    mt_w_bytes(m->tok_emb, V * d, f32, half);
    if (m->lm_head.p != m->tok_emb.p) mt_w_bytes(m->lm_head, V * d, f32, half);
    for (int l = 0; l < c->n_layers; l++) {
        const dec_layer *w = &m->layers[l];
        mt_w_bytes(w->q_w, qd * d, f32, half), mt_w_bytes(w->k_w, kd * d, f32, half);
        mt_w_bytes(w->v_w, kd * d, f32, half), mt_w_bytes(w->o_w, d * qd, f32, half);
        mt_w_bytes(w->gate_w, f * d, f32, half), mt_w_bytes(w->up_w, f * d, f32, half);
        mt_w_bytes(w->down_w, d * f, f32, half);
    }
}

const mt_model_ops mt_decoder_ops = {"decoder", dec_load, dec_free, dec_run_new, dec_run_free, dec_forward, dec_ffn_act,
                                     dec_head_logits, dec_forward_batch_acts, dec_set_neuron, dec_patch_grad,
                                     dec_weight_bytes};
