/* Model configuration from GGUF metadata (llama.cpp's key names), for the architectures whose
 * GGUF layout matches our decoder: llama, qwen2, gemma3. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mt_config.h"
#include "mt_gguf.h"

/* Reads "<arch>.<key>" as an unsigned integer of any width; absent leaves *out unchanged
 * unless required. */
static int arch_uint(const mt_gguf *g, const char *arch, const char *key, int required, int64_t lo, int64_t hi,
                     int *out, mt_err *e) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    const mt_gguf_kv *kv = mt_gguf_find_kv(g, k);
    if (!kv) return required ? mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' is missing", mt_gguf_path(g), k) : MT_OK;
    uint64_t v64 = 0;
    uint32_t v32 = 0;
    int rc = mt_gguf_get_u32(g, k, &v32, NULL);
    if (rc == MT_OK) v64 = v32;
    else if ((rc = mt_gguf_get_u64(g, k, &v64, e))) return rc;
    if ((int64_t)v64 < lo || (int64_t)v64 > hi)
        return mt_fail(e, MT_EFORMAT, "%s: metadata key '%s' = %llu is out of range [%lld, %lld]", mt_gguf_path(g), k,
                       (unsigned long long)v64, (long long)lo, (long long)hi);
    *out = (int)v64;
    return MT_OK;
}

static int arch_f32(const mt_gguf *g, const char *arch, const char *key, float *out, mt_err *e) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    if (!mt_gguf_find_kv(g, k)) return MT_OK;
    return mt_gguf_get_f32(g, k, out, e);
}

static int token_id(const mt_gguf *g, const char *key) {
    uint32_t v;
    return mt_gguf_find_kv(g, key) && mt_gguf_get_u32(g, key, &v, NULL) == MT_OK ? (int)v : -1;
}

int mt_config_from_gguf(const mt_gguf *g, mt_config *cfg, mt_err *e) {
    const char *path = mt_gguf_path(g), *arch = NULL;
    uint64_t alen = 0;
    memset(cfg, 0, sizeof *cfg);
    int rc = mt_gguf_get_str(g, "general.architecture", &arch, &alen, e);
    if (rc) return rc;
    snprintf(cfg->model_type, sizeof cfg->model_type, "%.*s", (int)alen, arch);
    snprintf(cfg->architecture, sizeof cfg->architecture, "gguf:%s", cfg->model_type);
    const char *a = cfg->model_type;
    if (!strcmp(a, "llama")) cfg->arch = MT_ARCH_LLAMA;
    else if (!strcmp(a, "qwen2")) cfg->arch = MT_ARCH_QWEN2;
    else if (!strcmp(a, "gemma3")) cfg->arch = MT_ARCH_GEMMA3;
    else
        return mt_fail(e, MT_EUNSUPPORTED, "%s: metadata 'general.architecture' = '%s' is not supported from GGUF "
                       "(llama, qwen2, gemma3)", path, a);
    cfg->causal = 1;
    cfg->gated = 1;
    cfg->norm = MT_NORM_RMS;
    cfg->embed_scale = 1;
    if ((rc = arch_uint(g, a, "embedding_length", 1, 1, 1 << 16, &cfg->d_model, e)) ||
        (rc = arch_uint(g, a, "block_count", 1, 1, MT_MAX_LAYERS, &cfg->n_layers, e)) ||
        (rc = arch_uint(g, a, "feed_forward_length", 1, 1, 1 << 20, &cfg->d_ff, e)) ||
        (rc = arch_uint(g, a, "attention.head_count", 1, 1, 1024, &cfg->n_heads, e)))
        return rc;
    cfg->n_kv_heads = cfg->n_heads;
    cfg->head_dim = cfg->d_model / cfg->n_heads;
    cfg->max_pos = 1 << 20;
    if ((rc = arch_uint(g, a, "attention.head_count_kv", 0, 1, 1024, &cfg->n_kv_heads, e)) ||
        (rc = arch_uint(g, a, "attention.key_length", 0, 2, 1 << 14, &cfg->head_dim, e)) ||
        (rc = arch_uint(g, a, "context_length", 0, 1, 1 << 24, &cfg->max_pos, e)))
        return rc;
    if (cfg->n_heads % cfg->n_kv_heads || cfg->head_dim % 2)
        return mt_fail(e, MT_EFORMAT, "%s: head counts %d/%d or head size %d are inconsistent", path, cfg->n_heads,
                       cfg->n_kv_heads, cfg->head_dim);
    cfg->ln_eps = 1e-6f;
    if ((rc = arch_f32(g, a, "attention.layer_norm_rms_epsilon", &cfg->ln_eps, e))) return rc;
    float theta = 10000;
    if ((rc = arch_f32(g, a, "rope.freq_base", &theta, e))) return rc;
    cfg->rope.type = MT_ROPE_DEFAULT;
    cfg->rope.theta = theta;
    char k[160];
    snprintf(k, sizeof k, "%s.rope.scaling.type", a);
    const char *st = NULL;
    uint64_t sl = 0;
    if (mt_gguf_find_kv(g, k) && mt_gguf_get_str(g, k, &st, &sl, e) == MT_OK && !(sl == 4 && !memcmp(st, "none", 4))) {
        float factor = 1;
        if (sl == 6 && !memcmp(st, "linear", 6) && !arch_f32(g, a, "rope.scaling.factor", &factor, e) && factor > 0) {
            cfg->rope.type = MT_ROPE_LINEAR;
            cfg->rope.factor = factor;
        } else {
            return mt_fail(e, MT_EUNSUPPORTED, "%s: metadata '%s' = '%.*s' is not supported", path, k, (int)sl, st);
        }
    }
    const mt_gguf_tensor *emb = mt_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->ndim != 2) return mt_fail(e, MT_EFORMAT, "%s: tensor 'token_embd.weight' is missing or not 2-D", path);
    cfg->vocab_size = (int)emb->shape[0];
    cfg->tie_embeddings = mt_gguf_find_tensor(g, "output.weight") == NULL;
    cfg->qkv_bias = mt_gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
    cfg->o_bias = mt_gguf_find_tensor(g, "blk.0.attn_output.bias") != NULL;
    cfg->mlp_bias = mt_gguf_find_tensor(g, "blk.0.ffn_up.bias") != NULL;
    cfg->act = cfg->arch == MT_ARCH_GEMMA3 ? MT_ACT_GELU_TANH : MT_ACT_SILU;
    cfg->attn_scale = 1.0f / sqrtf((float)cfg->head_dim);
    if ((rc = arch_f32(g, a, "attention.scale", &cfg->attn_scale, e))) return rc;
    cfg->bos_id = token_id(g, "tokenizer.ggml.bos_token_id");
    cfg->eos_id = token_id(g, "tokenizer.ggml.eos_token_id");
    cfg->pad_id = token_id(g, "tokenizer.ggml.padding_token_id");
    if (cfg->arch == MT_ARCH_GEMMA3) {
        /* As llama.cpp: every 6th layer global, the others sliding with rope base 10000. */
        cfg->sandwich_norms = 1;
        cfg->embed_scale = sqrtf((float)cfg->d_model);
        cfg->rope_local = cfg->rope;
        cfg->rope_local.type = MT_ROPE_DEFAULT;
        cfg->rope_local.theta = 10000;
        if ((rc = arch_uint(g, a, "attention.sliding_window", 0, 1, 1 << 24, &cfg->sliding_window, e))) return rc;
        int pattern = 6; /* llama.cpp's fixed Gemma 3 pattern unless the file says otherwise */
        if ((rc = arch_uint(g, a, "attention.sliding_window_pattern", 0, 1, 1 << 20, &pattern, e))) return rc;
        for (int l = 0; l < cfg->n_layers; l++) cfg->sliding[l] = cfg->sliding_window > 0 && (l + 1) % pattern != 0;
        float cap = 0;
        if ((rc = arch_f32(g, a, "final_logit_softcapping", &cap, e))) return rc;
        cfg->final_softcap = cap;
    }
    return MT_OK;
}
