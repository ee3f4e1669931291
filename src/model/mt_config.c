#include "mt_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mt_json.h"

static int parse_act(const char *s, mt_act *out) {
    if (!strcmp(s, "gelu")) *out = MT_ACT_GELU_ERF;
    else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast"))
        *out = MT_ACT_GELU_TANH;
    else if (!strcmp(s, "relu")) *out = MT_ACT_RELU;
    else if (!strcmp(s, "silu") || !strcmp(s, "swish")) *out = MT_ACT_SILU;
    else return -1;
    return 0;
}

const char *mt_arch_name(mt_arch a) {
    switch (a) {
    case MT_ARCH_BERT: return "bert";
    case MT_ARCH_XLMR: return "xlm-roberta";
    case MT_ARCH_LLAMA: return "llama";
    case MT_ARCH_QWEN2: return "qwen2";
    case MT_ARCH_GEMMA3: return "gemma3";
    case MT_ARCH_BLOOM: return "bloom";
    case MT_ARCH_GPT2: return "gpt2";
    }
    return "?";
}

/* Reads an int field (first of several spellings present) bounded to [lo, hi]. */
static int get_dim_any(const json_t *root, const char *const *keys, const char *path, int64_t lo, int64_t hi,
                       int required, int *out, mt_err *e) {
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(root, keys[i]);
        if (!v || json_is_null(v)) continue;
        int64_t x;
        int rc = mt_json_int(root, keys[i], path, &x, e);
        if (rc) return rc;
        if (x < lo || x > hi)
            return mt_fail(e, MT_EFORMAT, "%s: field '%s' = %lld is out of range [%lld, %lld]", path, keys[i],
                           (long long)x, (long long)lo, (long long)hi);
        *out = (int)x;
        return MT_OK;
    }
    if (required) return mt_fail(e, MT_EFORMAT, "%s: missing field '%s'", path, keys[0]);
    return MT_OK;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define DIM(out, lo, hi, ...)                                                                    \
    do {                                                                                         \
        if ((rc = get_dim_any(root, KEYS(__VA_ARGS__), path, lo, hi, 1, &(out), e))) return rc; \
    } while (0)
#define DIM_OPT(out, lo, hi, ...)                                                                \
    do {                                                                                         \
        if ((rc = get_dim_any(root, KEYS(__VA_ARGS__), path, lo, hi, 0, &(out), e))) return rc; \
    } while (0)

static int get_eps(const json_t *root, const char *key, const char *path, float *out, mt_err *e) {
    double eps = *out;
    int rc = mt_json_num_opt(root, key, path, &eps, e);
    if (rc) return rc;
    if (!(eps > 0 && eps < 1)) return mt_fail(e, MT_EFORMAT, "%s: field '%s' = %g is not in (0, 1)", path, key, eps);
    *out = (float)eps;
    return MT_OK;
}

static int get_act(const json_t *root, const char *key, const char *path, const char *dflt, mt_act *out, mt_err *e) {
    const char *act = dflt;
    int rc = mt_json_str_opt(root, key, path, &act, e);
    if (rc) return rc;
    if (parse_act(act, out))
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field '%s' = '%s' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)",
                       path, key, act);
    return MT_OK;
}

/* A token id field that may be an int, a list (first used), or null. */
static int token_id(const json_t *root, const char *key) {
    json_t *v = json_object_get(root, key);
    if (json_is_array(v)) v = json_array_get(v, 0);
    return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

/* Reads one rope description: v5 `rope_parameters` object or v4 `rope_scaling` (theta given). */
static int parse_rope(const json_t *obj, const char *path, const char *field, mt_rope *r, mt_err *e) {
    if (!obj || json_is_null(obj)) return MT_OK;
    if (!json_is_object(obj)) return mt_fail(e, MT_EFORMAT, "%s: field '%s' must be an object", path, field);
    const char *type = NULL;
    json_t *t = json_object_get(obj, "rope_type");
    if (!t) t = json_object_get(obj, "type");
    if (json_is_string(t)) type = json_string_value(t);
    json_t *th = json_object_get(obj, "rope_theta");
    if (json_is_number(th)) r->theta = json_number_value(th);
    if (!type || !strcmp(type, "default")) {
        r->type = MT_ROPE_DEFAULT;
    } else if (!strcmp(type, "linear") || !strcmp(type, "llama3")) {
        r->type = !strcmp(type, "linear") ? MT_ROPE_LINEAR : MT_ROPE_LLAMA3;
        json_t *f = json_object_get(obj, "factor");
        if (!json_is_number(f) || json_number_value(f) <= 0)
            return mt_fail(e, MT_EFORMAT, "%s: field '%s.factor' must be a positive number", path, field);
        r->factor = json_number_value(f);
        if (r->type == MT_ROPE_LLAMA3) {
            json_t *lo = json_object_get(obj, "low_freq_factor"), *hi = json_object_get(obj, "high_freq_factor"),
                   *om = json_object_get(obj, "original_max_position_embeddings");
            if (!json_is_number(lo) || !json_is_number(hi) || !json_is_integer(om) ||
                json_number_value(hi) <= json_number_value(lo))
                return mt_fail(e, MT_EFORMAT,
                               "%s: field '%s' (llama3) needs low_freq_factor < high_freq_factor and "
                               "original_max_position_embeddings", path, field);
            r->low_freq_factor = json_number_value(lo);
            r->high_freq_factor = json_number_value(hi);
            r->orig_max_pos = (int)json_integer_value(om);
        }
    } else {
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field '%s.rope_type' = '%s' is not supported (default, linear, llama3)",
                       path, field, type);
    }
    if (!(r->theta > 0)) return mt_fail(e, MT_EFORMAT, "%s: rope theta must be positive (field '%s')", path, field);
    return MT_OK;
}

static int load_encoder(const json_t *root, const char *path, mt_config *cfg, mt_err *e) {
    int rc;
    const char *arch0 = cfg->architecture;
    if (*arch0 && !strstr(arch0, "MaskedLM") && !strstr(arch0, "PreTraining") && strcmp(arch0, "BertModel") &&
        strcmp(arch0, "XLMRobertaModel") && strcmp(arch0, "RobertaModel"))
        return mt_fail(e, MT_EUNSUPPORTED,
                       "%s: field 'architectures[0]' = '%s' is not supported; a masked-LM head is needed "
                       "(e.g. BertForMaskedLM, XLMRobertaForMaskedLM)", path, arch0);
    DIM(cfg->d_model, 1, 1 << 16, "hidden_size");
    DIM(cfg->n_layers, 1, MT_MAX_LAYERS, "num_hidden_layers");
    DIM(cfg->n_heads, 1, 1024, "num_attention_heads");
    DIM(cfg->d_ff, 1, 1 << 20, "intermediate_size");
    DIM(cfg->vocab_size, 1, 1 << 24, "vocab_size");
    DIM(cfg->max_pos, 1, 1 << 20, "max_position_embeddings");
    cfg->type_vocab = 2;
    DIM_OPT(cfg->type_vocab, 1, 1 << 16, "type_vocab_size");
    int64_t pad = cfg->arch == MT_ARCH_XLMR ? 1 : 0;
    if ((rc = mt_json_int_opt(root, "pad_token_id", path, &pad, e))) return rc;
    if (pad < 0 || pad >= cfg->vocab_size)
        return mt_fail(e, MT_EFORMAT, "%s: field 'pad_token_id' = %lld is outside the vocabulary", path, (long long)pad);
    cfg->pad_id = (int)pad;
    cfg->pos_offset = cfg->arch == MT_ARCH_XLMR ? cfg->pad_id + 1 : 0;
    if (cfg->pos_offset >= cfg->max_pos)
        return mt_fail(e, MT_EFORMAT, "%s: field 'max_position_embeddings' = %d leaves no room after pad_token_id + 1",
                       path, cfg->max_pos);
    cfg->ln_eps = 1e-12f;
    if ((rc = get_eps(root, "layer_norm_eps", path, &cfg->ln_eps, e))) return rc;
    if ((rc = get_act(root, "hidden_act", path, "gelu", &cfg->act, e))) return rc;
    const char *pet = "absolute";
    if ((rc = mt_json_str_opt(root, "position_embedding_type", path, &pet, e))) return rc;
    if (strcmp(pet, "absolute"))
        return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'position_embedding_type' = '%s' is not supported (absolute)",
                       path, pet);
    cfg->head_dim = cfg->d_model / cfg->n_heads;
    cfg->n_kv_heads = cfg->n_heads;
    cfg->norm = MT_NORM_LAYER;
    return MT_OK;
}

static int load_decoder(const json_t *root, const char *path, mt_config *cfg, mt_err *e) {
    int rc;
    const mt_arch a = cfg->arch;
    cfg->causal = 1;
    cfg->embed_scale = 1;
    cfg->bos_id = token_id(root, "bos_token_id");
    cfg->eos_id = token_id(root, "eos_token_id");
    cfg->pad_id = token_id(root, "pad_token_id");
    DIM(cfg->vocab_size, 1, 1 << 24, "vocab_size");
    cfg->tie_embeddings = a == MT_ARCH_LLAMA || a == MT_ARCH_QWEN2 ? 0 : 1;
    if ((rc = mt_json_bool_opt(root, "tie_word_embeddings", path, &cfg->tie_embeddings, e))) return rc;
    if (a == MT_ARCH_BLOOM || a == MT_ARCH_GPT2) {
        DIM(cfg->d_model, 1, 1 << 16, "hidden_size", "n_embd", "n_embed");
        DIM(cfg->n_layers, 1, MT_MAX_LAYERS, "n_layer", "num_hidden_layers");
        DIM(cfg->n_heads, 1, 1024, "n_head", "num_attention_heads");
        cfg->d_ff = 4 * cfg->d_model;
        if (a == MT_ARCH_GPT2) DIM_OPT(cfg->d_ff, 1, 1 << 20, "n_inner");
        cfg->norm = MT_NORM_LAYER;
        cfg->ln_eps = 1e-5f;
        if ((rc = get_eps(root, "layer_norm_epsilon", path, &cfg->ln_eps, e))) return rc;
        cfg->qkv_bias = cfg->o_bias = cfg->mlp_bias = 1;
        if (a == MT_ARCH_GPT2) {
            if ((rc = get_act(root, "activation_function", path, "gelu_new", &cfg->act, e))) return rc;
            DIM(cfg->max_pos, 1, 1 << 20, "n_positions", "max_position_embeddings");
            cfg->learned_pos = 1;
            int scale = 1, by_layer = 0;
            if ((rc = mt_json_bool_opt(root, "scale_attn_weights", path, &scale, e))) return rc;
            if ((rc = mt_json_bool_opt(root, "scale_attn_by_inverse_layer_idx", path, &by_layer, e))) return rc;
            if (!scale || by_layer)
                return mt_fail(e, MT_EUNSUPPORTED, "%s: fields 'scale_attn_weights'/'scale_attn_by_inverse_layer_idx' "
                               "other than true/false are not supported", path);
        } else {
            int post = 0;
            if ((rc = mt_json_bool_opt(root, "apply_residual_connection_post_layernorm", path, &post, e))) return rc;
            if (post)
                return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'apply_residual_connection_post_layernorm' = true is not supported", path);
            cfg->act = MT_ACT_GELU_TANH;
            cfg->alibi = 1;
            cfg->max_pos = 1 << 20;
        }
        if (cfg->d_model % cfg->n_heads)
            return mt_fail(e, MT_EFORMAT, "%s: hidden size %d is not divisible by the head count %d", path, cfg->d_model,
                           cfg->n_heads);
        cfg->head_dim = cfg->d_model / cfg->n_heads;
        cfg->n_kv_heads = cfg->n_heads;
        cfg->attn_scale = 1.0f / sqrtf((float)cfg->head_dim);
        return MT_OK;
    }
    /* Llama, Qwen2, Gemma 3 */
    DIM(cfg->d_model, 1, 1 << 16, "hidden_size");
    DIM(cfg->n_layers, 1, MT_MAX_LAYERS, "num_hidden_layers");
    DIM(cfg->n_heads, 1, 1024, "num_attention_heads");
    DIM(cfg->d_ff, 1, 1 << 20, "intermediate_size");
    DIM(cfg->max_pos, 1, 1 << 24, "max_position_embeddings");
    cfg->n_kv_heads = cfg->n_heads;
    DIM_OPT(cfg->n_kv_heads, 1, 1024, "num_key_value_heads");
    if (cfg->n_heads % cfg->n_kv_heads)
        return mt_fail(e, MT_EFORMAT, "%s: field 'num_attention_heads' = %d is not a multiple of num_key_value_heads = %d",
                       path, cfg->n_heads, cfg->n_kv_heads);
    cfg->head_dim = cfg->d_model / cfg->n_heads;
    DIM_OPT(cfg->head_dim, 1, 1 << 14, "head_dim");
    if (cfg->head_dim % 2) return mt_fail(e, MT_EFORMAT, "%s: head dimension %d is odd (RoPE needs pairs)", path, cfg->head_dim);
    cfg->norm = MT_NORM_RMS;
    cfg->ln_eps = 1e-6f;
    if ((rc = get_eps(root, "rms_norm_eps", path, &cfg->ln_eps, e))) return rc;
    cfg->gated = 1;
    cfg->qkv_bias = a == MT_ARCH_QWEN2;
    if (a != MT_ARCH_QWEN2 && (rc = mt_json_bool_opt(root, "attention_bias", path, &cfg->qkv_bias, e))) return rc;
    cfg->o_bias = a == MT_ARCH_QWEN2 ? 0 : cfg->qkv_bias;
    if ((rc = mt_json_bool_opt(root, "mlp_bias", path, &cfg->mlp_bias, e))) return rc;
    if ((rc = get_act(root, a == MT_ARCH_GEMMA3 ? "hidden_activation" : "hidden_act", path,
                      a == MT_ARCH_GEMMA3 ? "gelu_pytorch_tanh" : "silu", &cfg->act, e)))
        return rc;
    cfg->attn_scale = 1.0f / sqrtf((float)cfg->head_dim);
    /* RoPE: v5 `rope_parameters` (flat, or per layer type for Gemma 3) or v4 rope_theta/rope_scaling. */
    cfg->rope.type = MT_ROPE_DEFAULT;
    cfg->rope.theta = 10000;
    double theta = cfg->rope.theta;
    if ((rc = mt_json_num_opt(root, "rope_theta", path, &theta, e))) return rc;
    cfg->rope.theta = theta;
    json_t *rp = json_object_get(root, "rope_parameters");
    if (a == MT_ARCH_GEMMA3) {
        cfg->rope_local = cfg->rope;
        cfg->rope_local.theta = 10000;
        double lt = cfg->rope_local.theta;
        if ((rc = mt_json_num_opt(root, "rope_local_base_freq", path, &lt, e))) return rc;
        cfg->rope_local.theta = lt;
        if (json_is_object(rp) && json_object_get(rp, "full_attention")) {
            if ((rc = parse_rope(json_object_get(rp, "full_attention"), path, "rope_parameters.full_attention", &cfg->rope, e)))
                return rc;
            if ((rc = parse_rope(json_object_get(rp, "sliding_attention"), path, "rope_parameters.sliding_attention",
                                 &cfg->rope_local, e)))
                return rc;
        } else if ((rc = parse_rope(rp ? rp : json_object_get(root, "rope_scaling"), path,
                                    rp ? "rope_parameters" : "rope_scaling", &cfg->rope, e)))
            return rc;
    } else if ((rc = parse_rope(rp ? rp : json_object_get(root, "rope_scaling"), path, rp ? "rope_parameters" : "rope_scaling",
                                &cfg->rope, e)))
        return rc;
    /* Sliding windows: `layer_types`, or Gemma 3's older `sliding_window_pattern`. */
    json_t *lt = json_object_get(root, "layer_types");
    DIM_OPT(cfg->sliding_window, 1, 1 << 24, "sliding_window");
    int use_sw = a == MT_ARCH_GEMMA3;
    if (a == MT_ARCH_QWEN2 && (rc = mt_json_bool_opt(root, "use_sliding_window", path, &use_sw, e))) return rc;
    if (json_is_array(lt)) {
        if ((int)json_array_size(lt) != cfg->n_layers)
            return mt_fail(e, MT_EFORMAT, "%s: field 'layer_types' has %zu entries for %d layers", path,
                           json_array_size(lt), cfg->n_layers);
        for (int l = 0; l < cfg->n_layers; l++) {
            const char *s = json_string_value(json_array_get(lt, l));
            if (!s || (strcmp(s, "sliding_attention") && strcmp(s, "full_attention")))
                return mt_fail(e, MT_EUNSUPPORTED, "%s: field 'layer_types[%d]' = '%s' is not supported", path, l, s ? s : "?");
            cfg->sliding[l] = use_sw && !strcmp(s, "sliding_attention");
        }
    } else if (a == MT_ARCH_GEMMA3) {
        int pattern = 6;
        DIM_OPT(pattern, 1, 1 << 20, "sliding_window_pattern");
        for (int l = 0; l < cfg->n_layers; l++) cfg->sliding[l] = (l + 1) % pattern != 0;
    }
    int any = 0;
    for (int l = 0; l < cfg->n_layers; l++) any |= cfg->sliding[l];
    if (any && cfg->sliding_window <= 0) return mt_fail(e, MT_EFORMAT, "%s: sliding layers need field 'sliding_window'", path);
    if (!any) cfg->sliding_window = 0;
    if (a == MT_ARCH_GEMMA3) {
        cfg->sandwich_norms = 1;
        cfg->embed_scale = sqrtf((float)cfg->d_model);
        int qs = cfg->head_dim;
        DIM_OPT(qs, 1, 1 << 20, "query_pre_attn_scalar");
        cfg->attn_scale = 1.0f / sqrtf((float)qs);
        /* HF's Gemma 3 applies final_logit_softcapping when set and ignores attn_logit_softcapping. */
        json_t *fc = json_object_get(root, "final_logit_softcapping");
        if (json_is_number(fc)) cfg->final_softcap = (float)json_number_value(fc);
    }
    return MT_OK;
}

int mt_config_load(const char *path_in, mt_config *cfg, mt_err *e) {
    char *path = mt_file_exists(path_in) ? mt_strdup(path_in) : mt_path_join(path_in, "config.json");
    if (!path) return mt_fail(e, MT_ENOMEM, "out of memory");
    json_t *root = NULL;
    int rc = mt_json_load_file(path, &root, e);
    if (rc) goto done;
    if (!json_is_object(root)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: top level is not a JSON object", path);
        goto done;
    }
    memset(cfg, 0, sizeof *cfg);
    const char *mt = NULL, *arch0 = "";
    if ((rc = mt_json_str_opt(root, "model_type", path, &mt, e))) goto done;
    json_t *archs = json_object_get(root, "architectures");
    if (archs && json_is_array(archs) && json_array_size(archs) > 0 && json_is_string(json_array_get(archs, 0)))
        arch0 = json_string_value(json_array_get(archs, 0));
    if (!mt) {
        rc = mt_fail(e, MT_EFORMAT, "%s: missing field 'model_type'", path);
        goto done;
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt);
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", arch0);
    static const struct {
        const char *name;
        mt_arch arch;
    } known[] = {{"bert", MT_ARCH_BERT},   {"xlm-roberta", MT_ARCH_XLMR},    {"roberta", MT_ARCH_XLMR},
                 {"llama", MT_ARCH_LLAMA}, {"qwen2", MT_ARCH_QWEN2},         {"gemma3_text", MT_ARCH_GEMMA3},
                 {"bloom", MT_ARCH_BLOOM}, {"gpt2", MT_ARCH_GPT2}};
    size_t k = 0;
    while (k < sizeof known / sizeof *known && strcmp(known[k].name, mt)) k++;
    if (k == sizeof known / sizeof *known) {
        rc = mt_fail(e, MT_EUNSUPPORTED,
                     "%s: field 'model_type' = '%s' (architectures[0] '%s') is not supported; supported: bert, "
                     "xlm-roberta, roberta, llama, qwen2, gemma3_text, bloom, gpt2", path, mt, arch0);
        goto done;
    }
    cfg->arch = known[k].arch;
    cfg->bos_id = cfg->eos_id = -1;
    rc = cfg->arch == MT_ARCH_BERT || cfg->arch == MT_ARCH_XLMR ? load_encoder(root, path, cfg, e)
                                                                 : load_decoder(root, path, cfg, e);
    if (!rc && cfg->d_model != cfg->n_heads * cfg->head_dim && !cfg->gated)
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'hidden_size' = %d is not divisible by the head count %d", path,
                     cfg->d_model, cfg->n_heads);
done:
    json_decref(root);
    free(path);
    return rc;
}
