/* Transformer masked LMs (BERT, XLM-R) with a patch point at the FFN intermediate activation.
 *
 * Usage: mt_model_load -> mt_run_new -> mt_forward (one sequence, caches every layer) ->
 * mt_head_logits / mt_run_ffn_act / mt_patch_grad. The patched pass reuses the cached states
 * below the patched layer (exact prefix reuse) and back-propagates to the patched activation
 * only (no weight gradients). */
#ifndef MT_MODEL_H
#define MT_MODEL_H

#include "mt_common.h"
#include "mt_config.h"

typedef struct mt_model mt_model; /* opaque: config + weights */
typedef struct mt_run mt_run;     /* opaque: activations and scratch for one query */

/* dir holds config.json and model.safetensors (or a sharded index), or is a .gguf file
 * (llama, qwen2, gemma3: configuration from its metadata, quantized weights dequantized). */
int mt_model_load(const char *dir, mt_model **out, mt_err *e);
/* The configuration alone (config.json of a folder, or a GGUF file's metadata): cheap. */
int mt_model_config_load(const char *path, mt_config *cfg, mt_err *e);
/* Whether path is a GGUF file (by its magic). */
int mt_model_is_gguf(const char *path);
void mt_model_free(mt_model *m);
/* Bytes of the weights as held: f32 ones, and f16/bf16 matrices kept in their storage type
 * (in the checkpoint's mapping or copied; MT_WEIGHTS=f32 converts them at load instead). */
void mt_model_weight_bytes(const mt_model *m, size_t *f32, size_t *half);
const mt_config *mt_model_config(const mt_model *m);

/* Run state for sequences of up to max_T tokens and patched batches of up to max_B rows. */
int mt_run_new(const mt_model *m, int max_T, int max_B, mt_run **out, mt_err *e);
void mt_run_free(mt_run *r);
size_t mt_run_bytes(const mt_run *r);

/* Which tensor is "the neuron" (the patch point). The default is the input of the FFN's down
 * projection: act(gate x) * up x for gated FFNs, act(W1 x + b) otherwise (METHOD.md). The
 * others reproduce peers' conventions on decoder models: the gate projection before its
 * activation (EasyEdit, DKN), the up projection (disentangleKNs), the pre-activation of a
 * non-gated FFN (GPT-2 c_fc / BLOOM dense_h_to_4h in EleutherAI's and AMIG's code). */
typedef enum { MT_NEURON_DOWN_INPUT, MT_NEURON_GATE, MT_NEURON_UP, MT_NEURON_PRE_ACT } mt_neuron;
/* Sets the patch point for the next mt_forward on r; fails on a kind the model lacks. */
int mt_run_set_neuron(const mt_model *m, mt_run *r, mt_neuron kind, mt_err *e);
const char *mt_neuron_name(mt_neuron kind);

/* Unpatched forward of one sequence (types may be NULL: all zero). */
int mt_forward(const mt_model *m, mt_run *r, const int32_t *ids, const int32_t *types, int T, mt_err *e);
/* After mt_forward: layer's FFN intermediate activation at pos (d_ff floats, owned by r). */
const float *mt_run_ffn_act(const mt_run *r, int layer, int pos);
/* After mt_forward: MLM-head logits at pos (vocab_size floats). */
int mt_head_logits(const mt_model *m, mt_run *r, int pos, float *logits, mt_err *e);

/* Unpatched forward of B sequences of T tokens; writes the FFN activation at pos of every layer
 * into acts[B][n_layers][d_ff]. Does not disturb the cache of mt_forward. B <= max_B. */
int mt_forward_batch_acts(const mt_model *m, mt_run *r, const int32_t *ids, const int32_t *types,
                          int B, int T, int pos, float *acts, mt_err *e);

/* For the sequence of the last mt_forward: replaces layer's FFN activation at pos by each of the
 * M rows of Z[M][d_ff] (M <= max_B) and computes, at the same position, F_k = P(target) (or
 * log P(target) when logprob) and dF_k/dZ_k into dZ[M][d_ff]. F may be NULL. */
int mt_patch_grad(const mt_model *m, mt_run *r, int layer, int pos, const float *Z, int M,
                  int32_t target, int logprob, float *F, float *dZ, mt_err *e);
/* The same for n target layers [layer, layer + n) in one pass (mt_ig's batched path): Z and dZ
 * are [n][M][d_ff], F [n][M]; needs n * M <= max_B. The layers above are run once for the rows of
 * every target below them, and the head once for all n * M rows: the FLOPs of n calls of
 * mt_patch_grad in taller matrix products. */
int mt_patch_grad_layers(const mt_model *m, mt_run *r, int layer, int n, int pos, const float *Z, int M,
                         int32_t target, int logprob, float *F, float *dZ, mt_err *e);

#endif
