#include "mt_config.h"

#include <string.h>
#include <stdlib.h>

#include "mt_json.h"

static int parse_act(const char *s, mt_act *out) {
    if (!strcmp(s, "gelu")) *out = MT_ACT_GELU_ERF;
    else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast"))
        *out = MT_ACT_GELU_TANH;
    else if (!strcmp(s, "relu")) *out = MT_ACT_RELU;
    else return -1;
    return 0;
}

const char *mt_arch_name(mt_arch a) {
    switch (a) {
    case MT_ARCH_BERT: return "bert";
    case MT_ARCH_XLMR: return "xlm-roberta";
    }
    return "?";
}

/* Reads a positive int field into *out, bounding it so later size arithmetic cannot overflow. */
static int get_dim(const json_t *root, const char *key, const char *path, int64_t lo, int64_t hi,
                   int *out, mt_err *e) {
    int64_t v;
    int rc = mt_json_int(root, key, path, &v, e);
    if (rc) return rc;
    if (v < lo || v > hi)
        return mt_fail(e, MT_EFORMAT, "%s: field '%s' = %lld is out of range [%lld, %lld]", path, key,
                       (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
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
    if (archs && json_is_array(archs) && json_array_size(archs) > 0 &&
        json_is_string(json_array_get(archs, 0)))
        arch0 = json_string_value(json_array_get(archs, 0));
    if (!mt) {
        rc = mt_fail(e, MT_EFORMAT, "%s: missing field 'model_type'", path);
        goto done;
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt);
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", arch0);
    if (!strcmp(mt, "bert")) cfg->arch = MT_ARCH_BERT;
    else if (!strcmp(mt, "xlm-roberta") || !strcmp(mt, "roberta")) cfg->arch = MT_ARCH_XLMR;
    else {
        rc = mt_fail(e, MT_EUNSUPPORTED,
                     "%s: field 'model_type' = '%s' (architectures[0] '%s') is not supported; "
                     "supported: bert, xlm-roberta, roberta", path, mt, arch0);
        goto done;
    }
    if (*arch0 && !strstr(arch0, "MaskedLM") && !strstr(arch0, "PreTraining") &&
        strcmp(arch0, "BertModel") && strcmp(arch0, "XLMRobertaModel") && strcmp(arch0, "RobertaModel")) {
        rc = mt_fail(e, MT_EUNSUPPORTED,
                     "%s: field 'architectures[0]' = '%s' is not supported; a masked-LM head is "
                     "needed (e.g. BertForMaskedLM, XLMRobertaForMaskedLM)", path, arch0);
        goto done;
    }
    if ((rc = get_dim(root, "hidden_size", path, 1, 1 << 16, &cfg->d_model, e))) goto done;
    if ((rc = get_dim(root, "num_hidden_layers", path, 1, 1024, &cfg->n_layers, e))) goto done;
    if ((rc = get_dim(root, "num_attention_heads", path, 1, 1024, &cfg->n_heads, e))) goto done;
    if ((rc = get_dim(root, "intermediate_size", path, 1, 1 << 20, &cfg->d_ff, e))) goto done;
    if ((rc = get_dim(root, "vocab_size", path, 1, 1 << 24, &cfg->vocab_size, e))) goto done;
    if ((rc = get_dim(root, "max_position_embeddings", path, 1, 1 << 20, &cfg->max_pos, e))) goto done;
    cfg->type_vocab = 2;
    if (json_object_get(root, "type_vocab_size") &&
        (rc = get_dim(root, "type_vocab_size", path, 1, 1 << 16, &cfg->type_vocab, e)))
        goto done;
    int64_t pad = cfg->arch == MT_ARCH_XLMR ? 1 : 0;
    if ((rc = mt_json_int_opt(root, "pad_token_id", path, &pad, e))) goto done;
    if (pad < 0 || pad >= cfg->vocab_size) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'pad_token_id' = %lld is outside the vocabulary", path,
                     (long long)pad);
        goto done;
    }
    cfg->pad_id = (int)pad;
    cfg->pos_offset = cfg->arch == MT_ARCH_XLMR ? cfg->pad_id + 1 : 0;
    if (cfg->pos_offset >= cfg->max_pos) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'max_position_embeddings' = %d leaves no room after pad_token_id + 1",
                     path, cfg->max_pos);
        goto done;
    }
    double eps = 1e-12;
    if ((rc = mt_json_num_opt(root, "layer_norm_eps", path, &eps, e))) goto done;
    if (!(eps > 0 && eps < 1)) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'layer_norm_eps' = %g is not in (0, 1)", path, eps);
        goto done;
    }
    cfg->ln_eps = (float)eps;
    const char *act = "gelu";
    if ((rc = mt_json_str_opt(root, "hidden_act", path, &act, e))) goto done;
    if (parse_act(act, &cfg->act)) {
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: field 'hidden_act' = '%s' is not supported (gelu, gelu_new, relu)",
                     path, act);
        goto done;
    }
    const char *pet = "absolute";
    if ((rc = mt_json_str_opt(root, "position_embedding_type", path, &pet, e))) goto done;
    if (strcmp(pet, "absolute")) {
        rc = mt_fail(e, MT_EUNSUPPORTED, "%s: field 'position_embedding_type' = '%s' is not supported (absolute)",
                     path, pet);
        goto done;
    }
    if (cfg->d_model % cfg->n_heads) {
        rc = mt_fail(e, MT_EFORMAT, "%s: field 'hidden_size' = %d is not divisible by num_attention_heads = %d",
                     path, cfg->d_model, cfg->n_heads);
        goto done;
    }
done:
    json_decref(root);
    free(path);
    return rc;
}
