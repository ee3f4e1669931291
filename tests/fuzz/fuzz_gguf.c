/* Fuzzes the GGUF reader: header, metadata, tensor infos; then, for a file that validates,
 * every typed getter on every key, dequantization of each (not too large) tensor, the model
 * config from metadata and the GGUF tokenizer (encode + decode of a fixed string). */
#include "fuzz_common.h"
#include "mt_gguf.h"
#include "mt_config.h"
#include "mt_tokenizer.h"

#ifndef FZ_TEXT
#define FZ_TEXT "Paris is the capital of France. Париж — столица Франции. 巴黎是法国的首都。 パリ  x\t\xc3\xa9\xf0\x9f\x98\x80 [MASK] <s>"
#endif

int fuzz_gguf_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path = fz_write(0, "model.gguf", d, n);
    mt_gguf *g = NULL;
    int rc = mt_gguf_open(path, &g, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    for (int i = 0; i < mt_gguf_kv_count(g); i++) {
        const mt_gguf_kv *kv = mt_gguf_kv_at(g, i);
        if (mt_gguf_find_kv(g, kv->key) != kv) FZ_BUG("mt_gguf_find_kv(%s) differs", kv->key);
        uint32_t u32; int32_t i32; uint64_t u64; float f; int b; const char *s; uint64_t len;
        const mt_gguf_str *strs; float *fa = NULL; int32_t *ia = NULL;
        mt_gguf_get_u32(g, kv->key, &u32, &e);
        mt_gguf_get_i32(g, kv->key, &i32, &e);
        mt_gguf_get_u64(g, kv->key, &u64, &e);
        mt_gguf_get_f32(g, kv->key, &f, &e);
        mt_gguf_get_bool(g, kv->key, &b, &e);
        mt_gguf_get_str(g, kv->key, &s, &len, &e);
        mt_gguf_get_arr_str(g, kv->key, &strs, &u64, &e);
        if (!mt_gguf_get_arr_f32(g, kv->key, &fa, &u64, &e)) free(fa);
        if (!mt_gguf_get_arr_i32(g, kv->key, &ia, &u64, &e)) free(ia);
        if (kv->v.type == MT_GGUF_ARRAY && kv->v.elem != MT_GGUF_STRING && kv->v.elem != MT_GGUF_ARRAY && kv->v.n)
            (void)mt_gguf_arr_num(&kv->v, kv->v.n - 1);
    }
    for (int i = 0; i < mt_gguf_tensor_count(g); i++) {
        const mt_gguf_tensor *t = mt_gguf_tensor_at(g, i);
        if (mt_gguf_find_tensor(g, t->name) != t) FZ_BUG("mt_gguf_find_tensor(%s) differs", t->name);
        if (t->numel > (1 << 22)) continue;
        float *buf = malloc(((size_t)t->numel + 1) * sizeof *buf);
        if (!buf) abort();
        rc = mt_gguf_to_f32(t, buf, &e);
        fz_check_err(rc, &e);
        if (!rc && t->ndim >= 2 && t->dims[1] > 0) {
            rc = mt_gguf_rows_to_f32(t, t->dims[1] - 1, 1, buf, &e);
            fz_check_err(rc, &e);
        }
        free(buf);
    }
    mt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) abort();
    rc = mt_config_from_gguf(g, cfg, &e);
    fz_check_err(rc, &e);
    free(cfg);
    mt_tokenizer *tok = NULL;
    rc = mt_tok_from_gguf(g, &tok, &e);
    fz_check_err(rc, &e);
    if (!rc) {
        int32_t *ids = NULL; int nid = 0;
        rc = mt_tok_encode(tok, FZ_TEXT, 1, &ids, &nid, &e);
        fz_check_err(rc, &e);
        if (!rc) free(mt_tok_decode(tok, ids, nid, 0));
        free(ids);
        mt_tok_free(tok);
    }
    mt_gguf_close(g);
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_gguf_one(d, n); }
#endif
