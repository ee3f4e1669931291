/* mt_patch_grad_layers: dispatch to the family's batched patched pass. */
#include "mt_bert_impl.h"
#include "mt_decoder_impl.h"

int mt_patch_grad_layers(const mt_model *m, mt_run *r, int layer, int n, int pos, const float *Z, int M,
                         int32_t target, int logprob, float *F, float *dZ, mt_err *e) {
    if (r->iv) return mt_fail(e, MT_EINVAL, "patched pass: clear the run's intervention first");
    return (m->cfg.causal ? mt_dec_patch_layers : mt_bert_patch_layers)(m->impl, r->impl, layer, n, pos, Z, M, target,
                                                                         logprob, F, dZ, e);
}
