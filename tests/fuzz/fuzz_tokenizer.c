/* Fuzzes tokenizer.json (every model type: WordPiece, Unigram, BPE; normalizers,
 * pre-tokenizers, post-processors, added tokens), then encodes a fixed short multilingual
 * string with and without special tokens, decodes it, and looks up the mask token. */
#include "fuzz_common.h"
#include "mt_tokenizer.h"

#ifndef FZ_TEXT
#define FZ_TEXT "Paris is the capital of France. Париж — столица Франции. 巴黎是法国的首都。 パリ  x\t\xc3\xa9\xf0\x9f\x98\x80 [MASK] <s>"
#endif

static void fz_exercise_tok(const mt_tokenizer *tok) {
    mt_err e = {0};
    for (int special = 0; special <= 1; special++) {
        int32_t *ids = NULL; int nid = 0;
        int rc = mt_tok_encode(tok, FZ_TEXT, special, &ids, &nid, &e);
        fz_check_err(rc, &e);
        if (!rc) {
            for (int i = 0; i < nid; i++) {
                const char *s = mt_tok_id_to_token(tok, ids[i]);
                if (s) (void)mt_tok_token_to_id(tok, s);
                (void)mt_tok_is_special(tok, ids[i]);
            }
            free(mt_tok_decode(tok, ids, nid, special));
        }
        free(ids);
    }
    (void)mt_tok_mask_token(tok);
    (void)mt_tok_mask_id(tok);
    (void)mt_tok_vocab_size(tok);
}

int fuzz_tokenizer_one(const uint8_t *d, size_t n) {
    mt_err e = {0};
    const char *path = fz_write(0, "tokenizer.json", d, n);
    mt_tokenizer *tok = NULL;
    int rc = mt_tok_load(path, &tok, &e);
    fz_check_err(rc, &e);
    if (rc) return 0;
    fz_exercise_tok(tok);
    mt_tok_free(tok);
    return 0;
}

#ifndef MT_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_tokenizer_one(d, n); }
#endif
