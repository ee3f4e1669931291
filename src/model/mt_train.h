/* Changing what a model computes (METHOD.md sections 4-5): activation interventions
 * (suppress x0 / enhance x2), direct access to FFN weights for value-vector edits, weight
 * gradients of the model's own loss for the rows of selected neurons (knowledge injection), and
 * saving the edited weights as a HuggingFace folder.
 *
 * A "neuron" (layer, unit) owns: row `unit` of the first FFN matrix (W1 / up_proj, and
 * gate_proj for gated FFNs) with its bias entries, and its value vector: column `unit` of the
 * second matrix (W2 / down_proj). */
#ifndef MT_TRAIN_H
#define MT_TRAIN_H

#include "mt_model.h"

/* ---------------------------------------------------------------- interventions */

typedef struct mt_iv_unit {
    int layer, unit;
    float factor; /* 0: suppress, 2: enhance, 1: no change */
} mt_iv_unit;

typedef struct mt_intervention {
    const mt_iv_unit *units;
    int n_units;
    /* where it applies; n_positions == 0: every position. A negative position counts from the
     * end of the sequence being run (-1: the last token, the answer position of causal LMs). */
    const int *positions;
    int n_positions;
} mt_intervention;

/* Multiplies the listed units of the neuron tensor (the kind set by mt_run_set_neuron, at the
 * time of each forward) by their factor, right where it is computed, in every later
 * mt_forward and mt_forward_batch_acts on r (so mt_head_logits and mt_answer_scores see it;
 * mt_run_ffn_act returns the changed values). For gate/up/pre_act kinds the change happens
 * before the FFN's activation/product, as a forward hook on that module would. NULL (or no
 * units) clears it. The lists are copied. mt_patch_grad refuses to run while one is set. */
int mt_run_set_intervention(const mt_model *m, mt_run *r, const mt_intervention *iv, mt_err *e);

/* ---------------------------------------------------------------- FFN weights */

/* Pointers into the model's (writable) f32 weights of one layer's FFN. Row i of a first
 * matrix is d_model contiguous floats at W + i * d_model; the value vector of unit i is
 * d_model floats at down + i with stride down_stride (HF's [d_model, d_ff] layout). A layer
 * whose FFN matrices are held as f16/bf16 gets f32 copies of them first (3 d_model d_ff
 * floats): edits and training need f32 precision. The rows/edit/snapshot calls below do the
 * same for the layers they touch. */
typedef struct mt_ffn_view {
    int d_model, d_ff, gated;
    float *up, *up_b;     /* W1 (BERT, BLOOM, GPT-2) or up_proj (gated); bias may be NULL */
    float *gate, *gate_b; /* gated FFNs only, else NULL */
    float *down, *down_b; /* down_b: the layer's output bias, shared by all units (may be NULL) */
    long down_stride;     /* = d_ff */
} mt_ffn_view;

int mt_model_ffn_view(mt_model *m, int layer, mt_ffn_view *v, mt_err *e);
/* Row `token` of the output word embeddings (LM head / MLM decoder; tied or not) as f32 into
 * row [d_model]. */
int mt_model_out_embedding(const mt_model *m, int32_t token, float *row, mt_err *e);

typedef struct mt_neuron_id {
    int layer, unit;
} mt_neuron_id;

/* Which parameters of a neuron the flat vectors below hold. */
enum { MT_ROWS_VALUE = 1 }; /* also the value vector */

/* Floats per neuron in a flat parameter vector, in this order: [gate row d][up row d]
 * [gate bias][up bias][value d] (gated), [W1 row d][bias][value d] (otherwise); each bias
 * only if the model has it, the value only with MT_ROWS_VALUE. */
long mt_ffn_rows_size(const mt_model *m, int flags);
/* Copies the parameters of n neurons to / from params [n][mt_ffn_rows_size]. */
int mt_ffn_rows_get(const mt_model *m, const mt_neuron_id *sel, int n, int flags, float *params, mt_err *e);
int mt_ffn_rows_set(mt_model *m, const mt_neuron_id *sel, int n, int flags, const float *params, mt_err *e);

/* The edit of METHOD.md section 4: v <- v - l1 (|v|/|e_old|) e_old + l2 (|v|/|e_new|) e_new on
 * the value vector of (layer, unit); e_old or e_new may be NULL (that term is skipped). */
int mt_ffn_edit_value(mt_model *m, int layer, int unit, const float *e_old, const float *e_new, float l1, float l2,
                      mt_err *e);

/* Snapshot of every parameter of n neurons (first-matrix rows, biases, value vectors), to
 * undo edits or training without reloading the model. */
typedef struct mt_ffn_snapshot mt_ffn_snapshot;
int mt_ffn_snapshot_take(const mt_model *m, const mt_neuron_id *sel, int n, mt_ffn_snapshot **out, mt_err *e);
void mt_ffn_snapshot_restore(mt_model *m, const mt_ffn_snapshot *s);
void mt_ffn_snapshot_free(mt_ffn_snapshot *s);

/* ---------------------------------------------------------------- weight gradients */

/* A fact as the model's own loss sees it (fields as in mt_query).
 * Causal LMs: ids = the prompt (T tokens); the loss is -sum_t log P(y_t | prompt + y_<t),
 * computed in one pass over prompt + y_1..y_{n-1} (the run needs T + n - 1 positions).
 * Masked LMs: ids = the query with n answer slots at answer_pos; the loss is -sum_t log P(y_t)
 * at slot t when slot t holds mask_id and the other slots their gold tokens (n passes). */
typedef struct mt_fact {
    const int32_t *ids;
    const int32_t *types; /* NULL: all zero */
    int T;
    const int *answer_pos; /* masked LMs */
    const int32_t *answer_ids;
    int n_answer;
    int32_t mask_id; /* masked LMs */
} mt_fact;

/* loss (may be NULL) and, when grads is not NULL, its gradient with respect to the parameters
 * of the n selected neurons, grads [n][mt_ffn_rows_size(m, flags)] (layout as there).
 * Everything is computed in one forward and a full-sequence backward that stops at the lowest
 * selected layer; no other weight gradient is formed. Interventions must be cleared. The run
 * serves as scratch only: what the last mt_forward cached stays valid. Masked LMs need
 * T <= the run's max_T; causal LMs allocate their own buffers for the T + n - 1 positions. */
int mt_ffn_rows_grad(const mt_model *m, mt_run *r, const mt_fact *fact, const mt_neuron_id *sel, int n, int flags,
                     float *grads, double *loss, mt_err *e);

/* AdamW (decoupled weight decay, bias-corrected moments) over a flat parameter vector, for
 * knowledge injection: params = mt_ffn_rows_get, grads = mt_ffn_rows_grad, then
 * mt_ffn_rows_set after each step. */
typedef struct mt_adamw {
    float lr, beta1, beta2, eps, weight_decay;
    long n;
    int t;
    float *m, *v;
} mt_adamw;
/* beta1 0.9, beta2 0.999, eps 1e-8 (torch's defaults) */
int mt_adamw_init(mt_adamw *o, long n, float lr, float weight_decay, mt_err *e);
void mt_adamw_step(mt_adamw *o, float *params, const float *grads);
void mt_adamw_free(mt_adamw *o);

/* ---------------------------------------------------------------- saving */

/* Writes the current weights. From a HuggingFace folder src_dir: a folder out_dir with
 * model.safetensors (F32, HF names and layouts: what transformers loads) and config.json and
 * the tokenizer files copied. From a GGUF file src_dir (llama, qwen2, gemma3): a GGUF file
 * out_dir with every metadata byte kept, unchanged tensors byte for byte in their own type and
 * changed ones as F32. Written under a temporary name next to out_dir, then renamed; fails if
 * out_dir exists. The source is never modified. */
int mt_model_save(const mt_model *m, const char *src_dir, const char *out_dir, mt_err *e);

#endif
