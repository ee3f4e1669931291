/* Tokenizers that reproduce HuggingFace `tokenizers` exactly: tokenizer.json with WordPiece,
 * Unigram and BPE models (byte-level and SentencePiece-style), added tokens, normalizers,
 * pre-tokenizers, post-processors; BERT's vocab.txt + tokenizer_config.json as a fallback; and
 * GGUF tokenizer metadata. */
#ifndef MT_TOKENIZER_H
#define MT_TOKENIZER_H

#include "mt_common.h"

typedef struct mt_tokenizer mt_tokenizer; /* opaque */

/* dir: a model directory; uses dir/tokenizer.json, else dir/vocab.txt (+ tokenizer_config.json).
 * Also accepts a path to a tokenizer.json file directly. */
int mt_tok_load(const char *dir, mt_tokenizer **out, mt_err *e);
void mt_tok_free(mt_tokenizer *t);
/* The BERT fallback explicitly: vocab.txt (id = line number) and optional tokenizer_config.json
 * (do_lower_case, default true; strip_accents; tokenize_chinese_chars; *_token names). */
int mt_tok_load_vocab(const char *vocab_txt, const char *config_json, mt_tokenizer **out, mt_err *e);

/* A tokenizer from a GGUF file's metadata (tokenizer.ggml.model "gpt2": byte-level BPE with the
 * split regex tokenizer.ggml.pre names; "llama": SentencePiece-style BPE with byte fallback, merges
 * derived from the vocabulary when the file has none), built to encode like the model's HF
 * tokenizer; see src/tok/tok_gguf.c. mt_tok_load also accepts a path ending in ".gguf". */
int mt_tok_load_gguf(const char *path, mt_tokenizer **out, mt_err *e);
struct mt_gguf;
int mt_tok_from_gguf(const struct mt_gguf *g, mt_tokenizer **out, mt_err *e);

/* Encodes UTF-8 text like HF `tokenizer.encode(text, add_special_tokens=...)`.
 * *ids is malloc'ed (caller frees), *n its length. Invalid UTF-8 fails with MT_EINVAL. */
int mt_tok_encode(const mt_tokenizer *t, const char *text, int add_special_tokens,
                  int32_t **ids, int *n, mt_err *e);
/* The same for text of len bytes, which may contain U+0000. */
int mt_tok_encode_n(const mt_tokenizer *t, const char *text, size_t len, int add_special_tokens,
                    int32_t **ids, int *n, mt_err *e);

int mt_tok_vocab_size(const mt_tokenizer *t);   /* largest id + 1, added tokens included */
const char *mt_tok_id_to_token(const mt_tokenizer *t, int32_t id); /* NULL if out of range */
int32_t mt_tok_token_to_id(const mt_tokenizer *t, const char *token); /* -1 if absent */

/* The mask token's string and id ("[MASK]"/103, "<mask>"/250001), or NULL / -1. */
const char *mt_tok_mask_token(const mt_tokenizer *t);
int32_t mt_tok_mask_id(const mt_tokenizer *t);
/* Whether id is a special token (added token with special=true, e.g. [CLS], </s>). */
int mt_tok_is_special(const mt_tokenizer *t, int32_t id);

/* Decodes ids to text per the tokenizer.json decoder (for printing predictions), like HF
 * Tokenizer.decode; malloc'ed string (a decoded U+0000 is dropped). skip_special drops special
 * tokens. */
char *mt_tok_decode(const mt_tokenizer *t, const int32_t *ids, int n, int skip_special);

#endif
