/* Internal: what each model family provides for mt_train.h (mt_decoder_train.c,
 * mt_bert_train.c); mt_train.c holds the family-independent parts. */
#ifndef MT_TRAIN_IMPL_H
#define MT_TRAIN_IMPL_H

#include "mt_kernels.h"
#include "mt_model_impl.h"
#include "mt_train.h"

/* A compiled intervention: units grouped by layer, positions as given (negative: from the end). */
struct mt_iv {
    int n_layers, n_pos;
    int *off; /* [n_layers + 1]: layer l's units are unit[off[l] .. off[l + 1]) */
    int *unit;
    float *factor;
    int *pos;
};

typedef struct mt_train_ops {
    void (*set_iv)(void *run, const struct mt_iv *iv);
    /* promote: f16/bf16 FFN matrices of the layer become f32 first (-1: out of memory), so the
     * view's pointers are set; otherwise they are NULL for matrices held as f16/bf16 */
    int (*ffn_view)(void *impl, int layer, int promote, mt_ffn_view *v);
    mt_w (*out_emb)(const void *impl);
    int (*rows_grad)(const void *impl, void *run, const mt_fact *f, const mt_neuron_id *sel, int n, int flags,
                     float *grads, double *loss, mt_err *e);
    /* writes model.safetensors (and config.json for GGUF sources) into dir */
    int (*save)(const void *impl, const char *src, const char *dir, mt_err *e);
} mt_train_ops;

extern const mt_train_ops mt_decoder_train_ops, mt_bert_train_ops;

/* Gradient of the weight rows of the selected units of one layer, accumulated into grads
 * (layout of mt_ffn_rows_size) for every k with sel[k].layer == l: first-matrix row i gets
 * sum_t dpre[t][i] * x[t] (dgate / dup: gradients at the pre-activations, gate may be NULL),
 * the value vector sum_t dout[t] * a[t][i]. T rows of d (x, dout) and f (dgate, dup, a). */
void mt_rows_accumulate(const mt_ffn_view *v, int l, const mt_neuron_id *sel, int n,
                        int flags, int T, const float *x, const float *dgate, const float *dup, const float *a,
                        const float *dout, float *grads);

/* Writes tensors as one safetensors file: names[i] with shape rows[i] x cols[i] (cols 0: a
 * vector), data[i] in its type (F32, F16 or BF16). */
typedef struct mt_st_out {
    int n, cap;
    char **names;
    long *rows, *cols;
    mt_w *data; /* data[i].p owned when own[i] */
    int *own;
} mt_st_out;
int mt_st_out_add(mt_st_out *o, const char *name, long rows, long cols, mt_w data, int copy, mt_err *e);
int mt_st_out_write(const mt_st_out *o, const char *path, mt_err *e);
void mt_st_out_free(mt_st_out *o);

/* Decoders (llama, qwen2, gemma3): every tensor under its HF name, pointing at the weights as
 * held in memory (mt_save.c); and a GGUF copy of src at out (mt_save_gguf.c). */
int mt_dec_tensors(const void *impl, mt_st_out *o, mt_err *e);
int mt_dec_save_gguf(const void *impl, const char *src, const char *out, mt_err *e);

#endif
