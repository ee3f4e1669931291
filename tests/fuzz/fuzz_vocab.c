/* Fuzzes BERT's vocab.txt fallback: the input is vocab.txt, optionally followed by a line
 * "#--tokenizer_config.json--" and the tokenizer_config.json. Loaded through mt_tok_load on the
 * vocab.txt path (which picks the config next to it), then encodes and decodes a fixed string. */
#include "fuzz_common.h"
#include "mt_tokenizer.h"

#define FZ_SEP "\n#--tokenizer_config.json--\n"

int fuzz_vocab_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    size_t nv = n, sl = strlen(FZ_SEP);
    const uint8_t *cfg = NULL;
    for (size_t i = 0; i + sl <= n; i++)
        if (!memcmp(d + i, FZ_SEP, sl)) { nv = i; cfg = d + i + sl; break; }
    const char *vpath = fz_write(0, "vocab.txt", d, nv);
    char cpath[700];
    snprintf(cpath, sizeof cpath, "%s/tokenizer_config.json", fz_dir());
    if (cfg) fz_write(1, "tokenizer_config.json", cfg, n - (size_t)(cfg - d));
    else unlink(cpath);
    mt_tokenizer *tok = NULL;
    int rc = mt_tok_load(vpath, &tok, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    const char *text = "Paris is the capital of France. Paris ist die Hauptstadt. 巴黎 Ünïcödé [MASK] x";
    int32_t *ids = NULL; int nid = 0;
    rc = mt_tok_encode(tok, text, 1, &ids, &nid, &e);
    fz_check_err(rc, &e);
    if (!rc) free(mt_tok_decode(tok, ids, nid, 1));
    free(ids);
    mt_tok_free(tok);
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_vocab_one(d, n); }
#endif
