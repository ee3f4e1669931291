/* Model configuration read from a HuggingFace config.json. */
#ifndef MT_CONFIG_H
#define MT_CONFIG_H

#include "mt_common.h"

typedef enum { MT_ARCH_BERT, MT_ARCH_XLMR } mt_arch;
typedef enum { MT_ACT_GELU_ERF, MT_ACT_GELU_TANH, MT_ACT_RELU } mt_act;

typedef struct mt_config {
    mt_arch arch;
    char model_type[64];
    char architecture[128];
    int d_model;      /* hidden_size */
    int n_layers;     /* num_hidden_layers */
    int n_heads;      /* num_attention_heads */
    int d_ff;         /* intermediate_size */
    int vocab_size;
    int max_pos;      /* max_position_embeddings */
    int type_vocab;   /* type_vocab_size */
    int pad_id;       /* pad_token_id */
    int pos_offset;   /* first position id: 0 for BERT, pad_id + 1 for (XLM-)RoBERTa */
    float ln_eps;
    mt_act act;
} mt_config;

/* Reads dir/config.json (or a path to a config file); unknown architectures and missing or
 * inconsistent fields fail with one line naming the file and field. */
int mt_config_load(const char *path, mt_config *cfg, mt_err *e);

const char *mt_arch_name(mt_arch a);

#endif
