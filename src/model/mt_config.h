/* Model configuration read from a HuggingFace config.json. */
#ifndef MT_CONFIG_H
#define MT_CONFIG_H

#include "mt_common.h"

typedef enum { MT_ARCH_BERT, MT_ARCH_XLMR, MT_ARCH_LLAMA, MT_ARCH_QWEN2, MT_ARCH_GEMMA3, MT_ARCH_BLOOM, MT_ARCH_GPT2 } mt_arch;
typedef enum { MT_ACT_GELU_ERF, MT_ACT_GELU_TANH, MT_ACT_RELU, MT_ACT_SILU } mt_act;
typedef enum { MT_NORM_LAYER, MT_NORM_RMS } mt_norm;
typedef enum { MT_ROPE_NONE, MT_ROPE_DEFAULT, MT_ROPE_LINEAR, MT_ROPE_LLAMA3 } mt_rope_type;

#define MT_MAX_LAYERS 1024

/* Rotary embedding parameters (HF rotate-half convention). */
typedef struct mt_rope {
    mt_rope_type type;
    double theta, factor, low_freq_factor, high_freq_factor;
    int orig_max_pos;
} mt_rope;

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
    /* decoder-only models */
    int causal;         /* 1 for causal LMs: answer position = last prompt token */
    int n_kv_heads, head_dim;
    mt_norm norm;
    int gated;          /* FFN = down(act(gate x) * up x) */
    int qkv_bias, o_bias, mlp_bias;
    int tie_embeddings;
    int sandwich_norms; /* Gemma 3: post-attention and post-FFN norms, QK-norm, (1 + w) norms */
    float embed_scale;  /* Gemma: sqrt(hidden_size); 1 otherwise */
    float attn_scale;   /* softmax(q.k * attn_scale) */
    float final_softcap, attn_softcap; /* 0 = off */
    int alibi;          /* BLOOM */
    int learned_pos;    /* GPT-2 */
    mt_rope rope, rope_local; /* rope_local: Gemma 3 sliding-window layers */
    int sliding_window;       /* 0 = none */
    uint8_t sliding[MT_MAX_LAYERS]; /* per layer: uses the sliding window (and rope_local) */
    int bos_id, eos_id;       /* -1 when absent */
} mt_config;

/* Reads dir/config.json (or a path to a config file); unknown architectures and missing or
 * inconsistent fields fail with one line naming the file and field. */
int mt_config_load(const char *path, mt_config *cfg, mt_err *e);

const char *mt_arch_name(mt_arch a);

/* The same from a GGUF file's metadata (llama, qwen2, gemma3). */
struct mt_gguf;
int mt_config_from_gguf(const struct mt_gguf *g, mt_config *cfg, mt_err *e);

#endif
