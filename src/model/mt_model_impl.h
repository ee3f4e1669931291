/* Internal: each model family (encoders in mt_bert.c, decoders in mt_decoder.c) implements
 * these operations; mt_model.c dispatches the public API to them. */
#ifndef MT_MODEL_IMPL_H
#define MT_MODEL_IMPL_H

#include "mt_model.h"

typedef struct mt_model_ops {
    const char *family;
    int (*load)(const char *dir, const mt_config *cfg, void **impl, mt_err *e);
    void (*free)(void *impl);
    int (*run_new)(const void *impl, int max_T, int max_B, void **run, size_t *bytes, mt_err *e);
    void (*run_free)(void *run);
    int (*forward)(const void *impl, void *run, const int32_t *ids, const int32_t *types, int T, mt_err *e);
    const float *(*ffn_act)(const void *run, int layer, int pos);
    int (*head_logits)(const void *impl, void *run, int pos, float *logits, mt_err *e);
    int (*forward_batch_acts)(const void *impl, void *run, const int32_t *ids, const int32_t *types, int B, int T,
                              int pos, float *acts, mt_err *e);
    int (*set_neuron)(const void *impl, void *run, int kind, mt_err *e); /* NULL: default only */
    int (*patch_grad)(const void *impl, void *run, int layer, int pos, const float *Z, int M, int32_t target,
                      int logprob, float *F, float *dZ, mt_err *e);
    void (*weight_bytes)(const void *impl, size_t *f32, size_t *half);
} mt_model_ops;

extern const mt_model_ops mt_bert_ops, mt_decoder_ops;

struct mt_iv; /* a compiled intervention (mt_train_impl.h) */
void mt_iv_free(struct mt_iv *iv);
/* Multiplies the units of `layer` in x [N][f] by their factors on the rows at the listed
 * positions; row i is at position p when p >= 0, else i % T. iv may be NULL. */
void mt_iv_apply(const struct mt_iv *iv, int layer, float *x, int f, int N, int T, int p);

struct mt_model {
    mt_config cfg;
    const mt_model_ops *ops;
    void *impl;
};

struct mt_run {
    const mt_model_ops *ops;
    void *impl;
    size_t bytes;
    struct mt_iv *iv; /* owned; NULL: none */
};

#endif
