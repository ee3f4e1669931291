/* Public model API: picks the family from config.json and dispatches to its operations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_gguf.h"
#include "mt_model_impl.h"

static const mt_model_ops *ops_for(const mt_config *c) {
    return c->causal ? &mt_decoder_ops : &mt_bert_ops;
}

int mt_model_is_gguf(const char *path) {
    if (!mt_file_exists(path)) return 0;
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    int ok = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    return ok;
}

int mt_model_config_load(const char *path, mt_config *cfg, mt_err *e) {
    if (!mt_model_is_gguf(path)) return mt_config_load(path, cfg, e);
    mt_gguf *g = NULL; /* a GGUF file: configuration from its metadata */
    int rc = mt_gguf_open(path, &g, e);
    if (!rc) rc = mt_config_from_gguf(g, cfg, e);
    mt_gguf_close(g);
    return rc;
}

void mt_model_weight_bytes(const mt_model *m, size_t *f32, size_t *half) { m->ops->weight_bytes(m->impl, f32, half); }

int mt_model_load(const char *dir, mt_model **out, mt_err *e) {
    *out = NULL;
    mt_model *m = mt_calloc(1, sizeof *m);
    if (!m) return mt_fail(e, MT_ENOMEM, "out of memory");
    int rc = mt_model_config_load(dir, &m->cfg, e);
    if (!rc) {
        m->ops = ops_for(&m->cfg);
        if (!m->ops) rc = mt_fail(e, MT_EUNSUPPORTED, "%s: architecture %s has no engine", dir, mt_arch_name(m->cfg.arch));
    }
    if (!rc) rc = m->ops->load(dir, &m->cfg, &m->impl, e);
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    return MT_OK;
}

void mt_model_free(mt_model *m) {
    if (!m) return;
    if (m->impl) m->ops->free(m->impl);
    free(m);
}

const mt_config *mt_model_config(const mt_model *m) { return &m->cfg; }

int mt_run_new(const mt_model *m, int max_T, int max_B, mt_run **out, mt_err *e) {
    *out = NULL;
    mt_run *r = mt_calloc(1, sizeof *r);
    if (!r) return mt_fail(e, MT_ENOMEM, "out of memory");
    r->ops = m->ops;
    int rc = m->ops->run_new(m->impl, max_T, max_B, &r->impl, &r->bytes, e);
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return MT_OK;
}

void mt_run_free(mt_run *r) {
    if (!r) return;
    r->ops->run_free(r->impl);
    mt_iv_free(r->iv);
    free(r);
}

size_t mt_run_bytes(const mt_run *r) { return r->bytes; }

int mt_forward(const mt_model *m, mt_run *r, const int32_t *ids, const int32_t *types, int T, mt_err *e) {
    return m->ops->forward(m->impl, r->impl, ids, types, T, e);
}

const float *mt_run_ffn_act(const mt_run *r, int layer, int pos) { return r->ops->ffn_act(r->impl, layer, pos); }

int mt_head_logits(const mt_model *m, mt_run *r, int pos, float *logits, mt_err *e) {
    return m->ops->head_logits(m->impl, r->impl, pos, logits, e);
}

int mt_forward_batch_acts(const mt_model *m, mt_run *r, const int32_t *ids, const int32_t *types, int B, int T,
                          int pos, float *acts, mt_err *e) {
    return m->ops->forward_batch_acts(m->impl, r->impl, ids, types, B, T, pos, acts, e);
}

int mt_patch_grad(const mt_model *m, mt_run *r, int layer, int pos, const float *Z, int M, int32_t target,
                  int logprob, float *F, float *dZ, mt_err *e) {
    if (r->iv) return mt_fail(e, MT_EINVAL, "patched pass: clear the run's intervention first");
    return m->ops->patch_grad(m->impl, r->impl, layer, pos, Z, M, target, logprob, F, dZ, e);
}

const char *mt_neuron_name(mt_neuron kind) {
    switch (kind) {
    case MT_NEURON_DOWN_INPUT: return "down_input";
    case MT_NEURON_GATE: return "gate";
    case MT_NEURON_UP: return "up";
    case MT_NEURON_PRE_ACT: return "pre_act";
    }
    return "?";
}

int mt_run_set_neuron(const mt_model *m, mt_run *r, mt_neuron kind, mt_err *e) {
    if (kind == MT_NEURON_DOWN_INPUT && !m->ops->set_neuron) return MT_OK;
    if (!m->ops->set_neuron)
        return mt_fail(e, MT_EUNSUPPORTED, "neuron '%s' is not available for %s models (down_input only)",
                       mt_neuron_name(kind), m->ops->family);
    return m->ops->set_neuron(m->impl, r->impl, kind, e);
}
