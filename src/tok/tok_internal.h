/* Internals of the tokenizer: shared types and helpers of the src/tok sources (not a public header).
 *
 * Pipeline of one encode, as in HF tokenizers (tokenizer/mod.rs encode_single_sequence):
 *   text --added tokens (normalized=false) split--> pieces --normalizer, per piece--> normalized
 *   pieces --added tokens (normalized=true) split--> --pre-tokenizer--> words --model--> ids
 *   --post-processor (if add_special_tokens)--> ids. */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mt_common.h"
#include "mt_tokenizer.h"

/* ---- growable byte buffer ---- */
typedef struct tok_buf {
    char *p;
    size_t n, cap;
    int oom; /* set when an allocation failed; further appends are ignored */
} tok_buf;

void tok_buf_put(tok_buf *b, const char *s, size_t n);
void tok_buf_putc(tok_buf *b, char c);
void tok_buf_put_cp(tok_buf *b, uint32_t cp);
void tok_buf_free(tok_buf *b);
/* Returns the NUL-terminated contents (owned by b; b->p may be NULL when empty: use this). */
const char *tok_buf_str(tok_buf *b);

/* ---- JSON field helpers (tok_json.c): errors read "<what>: <field>.<key>: ..." ---- */
/* Optional unless required; absent or null leaves *out unchanged. */
int tok_j_str(const json_t *o, const char *key, int required, const char *what, const char *field,
              const char **out, mt_err *e);
int tok_j_bool(const json_t *o, const char *key, const char *what, const char *field, int *out, mt_err *e);
int tok_j_int(const json_t *o, const char *key, int required, const char *what, const char *field,
              int64_t *out, mt_err *e);
/* The "type" of a component object; fails when o is not an object or has no string type. */
int tok_j_type(const json_t *o, const char *what, const char *field, const char **type, mt_err *e);

/* ---- UTF-8 ---- */
/* Decodes one code point of valid UTF-8 at s (n bytes left); returns its length. */
int tok_utf8_dec(const char *s, size_t n, uint32_t *cp);
/* Length of a valid UTF-8 sequence starting with byte c. */
int tok_utf8_len(unsigned char c);
int tok_utf8_enc(uint32_t cp, char out[4]);
/* Strict check (no overlongs, surrogates, > U+10FFFF); returns the offset of the first bad byte
 * or (size_t)-1 when valid. */
size_t tok_utf8_check(const char *s, size_t n);

/* ---- string -> id hash map (keys copied into the map) ---- */
typedef struct tok_map {
    struct tok_map_slot *slots;
    size_t cap, count;
} tok_map;

int tok_map_put(tok_map *m, const char *k, size_t n, int32_t v); /* MT_OK or MT_ENOMEM; overwrites */
int32_t tok_map_get(const tok_map *m, const char *k, size_t n);   /* -1 if absent */
void tok_map_free(tok_map *m);

/* ---- Unicode classes (tok_unitab.c, generated; tok_util.c) ---- */
typedef struct tok_range_table {
    const uint32_t (*r)[2];
    int n;
} tok_range_table;
typedef struct tok_lower_entry {
    uint32_t cp;
    int n;
    uint32_t to[3];
} tok_lower_entry;
extern const tok_range_table tok_uni_other, tok_uni_cleanws, tok_uni_punct, tok_uni_mn, tok_uni_mark, tok_uni_word,
    tok_uni_numeric;
extern const tok_lower_entry tok_uni_lower_tab[];
/* PCRE2 class fragments: code points Oniguruma's \p{L} / \p{N} (in tokenizers) match beyond
 * Unicode 14 (what PCRE2 10.42 knows), and Oniguruma's \s. */
extern const char tok_onig_L_extra[], tok_onig_N_extra[], tok_onig_space[];
extern const int tok_uni_lower_n;

int tok_in_table(const tok_range_table *t, uint32_t cp);
int tok_is_whitespace(uint32_t cp);   /* Rust char::is_whitespace (Unicode White_Space) */
int tok_is_bert_punct(uint32_t cp);   /* ASCII punctuation or Unicode P* (tokenizers' tables) */
int tok_is_word(uint32_t cp);         /* \w of the Whitespace pre-tokenizer's regex */
int tok_is_numeric(uint32_t cp);      /* Rust char::is_numeric (N*), as Digits uses */
int tok_is_mn(uint32_t cp);           /* Mn (nonspacing mark) as BertNormalizer sees it */
int tok_is_mark(uint32_t cp);         /* any combining mark, as the StripAccents normalizer sees it */
int tok_is_chinese(uint32_t cp);      /* BertNormalizer's CJK ranges */
/* Rust char::to_lowercase: writes up to 3 code points, returns the count. */
int tok_lower(uint32_t cp, uint32_t out[3]);

/* ---- splits: pieces of text flowing through the pipeline ---- */
typedef struct tok_split {
    char *s;           /* owned, NUL-terminated */
    size_t n;
    int32_t id;        /* >= 0: an added token already resolved; -1: still text */
    size_t *al;        /* owned, n entries: for each byte, the start offset in the original text of
                        * the char it comes from, as tokenizers' NormalizedString alignments give it
                        * (only Metaspace's prepend_scheme "first" looks at al[0] == 0) */
} tok_split;

typedef struct tok_splits {
    tok_split *v;
    int n, cap;
} tok_splits;

/* Copies s and al (al NULL: identity alignment base, base+1, ...). */
int tok_splits_push(tok_splits *l, const char *s, size_t n, int32_t id, const size_t *al, size_t base);
void tok_splits_free(tok_splits *l);

/* A string as code points with their alignments (original start offsets). */
typedef struct tok_nstr {
    uint32_t *cp;
    size_t *al;
    size_t n, cap;
    int oom;
} tok_nstr;
void tok_nstr_push(tok_nstr *s, uint32_t cp, size_t al);
void tok_nstr_free(tok_nstr *s);
/* UTF-8 bytes -> code points; al: per-byte alignments (NULL: identity from base). */
void tok_nstr_from(tok_nstr *out, const char *s, size_t n, const size_t *al, size_t base);
/* Code points -> UTF-8 (into *s, malloc'ed) and per-byte alignments (*al, malloc'ed). */
int tok_nstr_to(const tok_nstr *in, char **s, size_t **al, size_t *n);

/* How a split pattern's matches are kept (SplitDelimiterBehavior). */
enum { TOK_REMOVED, TOK_ISOLATED, TOK_MERGED_PREV, TOK_MERGED_NEXT, TOK_CONTIGUOUS };
/* One match/non-match span of a pattern over a string. */
typedef struct tok_span {
    size_t a, b;
    int is_match;
} tok_span;
/* Applies a behavior to spans covering s[0..n) and appends the kept non-empty pieces to out. */
int tok_split_spans(const char *s, size_t n, const size_t *al, const tok_span *sp, int nsp, int behavior,
                    tok_splits *out);

/* ---- components ---- */
typedef struct tok_norm tok_norm;
typedef struct tok_pretok tok_pretok;
typedef struct tok_post tok_post;
typedef struct tok_dec tok_dec;
typedef struct tok_precompiled tok_precompiled;

/* normalize.c: in -> out (out must be empty), emulating the alignments tokenizers computes;
 * base is the original offset of the piece (what an insertion at its very start aligns to). */
int tok_norm_apply(const tok_norm *nm, const tok_nstr *in, size_t base, tok_nstr *out, mt_err *e);
/* Normalizes a split's text in place (text and alignments). */
int tok_norm_split(const tok_norm *nm, tok_split *sp, mt_err *e);
/* Plain string normalization (added tokens' contents); *out malloc'ed. */
int tok_norm_str(const tok_norm *nm, const char *s, char **out, mt_err *e);
void tok_norm_free(tok_norm *nm);
tok_norm *tok_norm_bert(int clean_text, int handle_chinese, int strip_accents, int lowercase);
/* Parses a "normalizer" object; what names the file in errors; field is its JSON path. */
int tok_norm_parse(const json_t *json, const char *what, const char *field, tok_norm **out, mt_err *e);

/* precompiled.c */
int tok_precompiled_new(const char *b64, const char *what, tok_precompiled **out, mt_err *e);
void tok_precompiled_free(tok_precompiled *p);
int tok_precompiled_apply(const tok_precompiled *p, const tok_nstr *in, size_t base, tok_nstr *out);

/* pretok.c */
int tok_pretok_apply(const tok_pretok *pt, tok_splits *io, mt_err *e);
void tok_pretok_free(tok_pretok *pt);
tok_pretok *tok_pretok_bert(void);
int tok_pretok_parse(const json_t *json, const char *what, const char *field, tok_pretok **out, mt_err *e);

/* Regex helpers (PCRE2, UTF + UCP), shared by Replace and Split. tokenizers compiles with
 * Oniguruma; \s, \S, \p{L}, \p{N}, \P{L}, \P{N} are rewritten to Oniguruma's sets (see
 * pretok.c). */
void *tok_regex_compile(const char *pattern, int literal, const char *what, const char *field, mt_err *e);
void tok_regex_free(void *re);
/* Finds all non-overlapping matches in s[0..n); appends spans (match and gap) covering s. */
int tok_regex_spans(const void *re, const char *s, size_t n, tok_span **sp, int *nsp);

/* ---- models ---- */
enum { TOK_MODEL_WORDPIECE = 1, TOK_MODEL_UNIGRAM, TOK_MODEL_WORDLEVEL, TOK_MODEL_BPE };

typedef struct tok_model {
    int type;
    int32_t size;       /* number of ids in the model vocabulary (largest id + 1) */
    char **tokens;      /* id -> token (NULL holes allowed for WordPiece/WordLevel) */
    tok_map vocab;      /* token -> id */
    /* WordPiece / WordLevel */
    char *unk_token;
    char *prefix;       /* continuing_subword_prefix */
    int max_chars;      /* max_input_chars_per_word */
    /* Unigram */
    double *scores;
    int32_t unk_id;     /* -1 if none */
    int byte_fallback;
    double min_score;
    size_t max_piece_len; /* bytes */
    /* BPE (unk_token, prefix = continuing_subword_prefix and byte_fallback shared above; unk_token
     * and prefix may be NULL) */
    struct tok_merge_slot *merges; /* (left id, right id) -> (rank, new id), open addressing */
    size_t merge_cap, merge_count;
    char *suffix;         /* end_of_word_suffix, or NULL */
    int fuse_unk, ignore_merges;
    int32_t byte_id[256]; /* id of "<0xXX>", -1 if absent (BPE byte_fallback) */
} tok_model;

void tok_model_free(tok_model *m);
/* Appends the ids of one word / piece. */
int tok_wordpiece_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                         mt_err *e);
int tok_unigram_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                       mt_err *e);
int tok_wordlevel_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap,
                         mt_err *e);
int tok_ids_push(int32_t **ids, int *n, int *cap, int32_t id);

/* BPE (bpe.c). Merges are added in rank order (rank = index; a repeated pair takes the later rank,
 * as HF's HashMap collect does); idx names the entry in errors ("<what>: model.merges[idx]"). */
int tok_bpe_add_merge(tok_model *m, const char *a, size_t na, const char *b, size_t nb, uint32_t rank,
                      const char *what, size_t idx, mt_err *e);
/* After the vocabulary and merges: refuses zero merges, resolves byte tokens. */
int tok_bpe_finish(tok_model *m, const char *what, mt_err *e);
int tok_bpe_encode(const tok_model *m, const char *s, size_t n, int32_t **ids, int *nids, int *cap, mt_err *e);
/* Merges implied by a SentencePiece vocabulary, as transformers' generate_merges derives them:
 * every split of a piece into two pieces of the vocabulary, ordered by key[piece] descending
 * (ties: longer left part first, then longer right part, then piece id, then left id, right id).
 * Adds them to m (whose vocabulary is loaded) with tok_bpe_add_merge. */
int tok_bpe_merges_from_scores(tok_model *m, const double *key, const char *what, mt_err *e);

/* GPT-2's byte-to-unicode table: byte -> code point, and back (-1 if not a byte char). */
uint32_t tok_byte_char(unsigned char b);
int tok_char_byte(uint32_t cp);

/* ---- added tokens (added.c) ---- */
typedef struct tok_added {
    char *content;
    int32_t id;
    int single_word, lstrip, rstrip, normalized, special;
    char *norm_content; /* content after the normalizer (normalized tokens only) */
} tok_added;

typedef struct tok_added_set {
    tok_added *v;
    int n, cap;
    tok_map by_content; /* content -> index in v */
    /* lookup index built by tok_added_prepare (Gemma has 6k added tokens): per set (0: matched
     * on raw text, 1: normalized), pattern -> first index in v, and per first byte the distinct
     * pattern lengths, longest first; by_id: id -> index in v (-1), n_by_id entries */
    tok_map pat[2];
    int *lens[2][256];
    int nlens[2][256];
    int32_t *by_id;
    int32_t n_by_id;
    int indexed;
} tok_added_set;

/* Adds one token the way tokenizers' AddedVocabulary::add_tokens assigns ids: an id of the model
 * vocabulary when the content is there, else the next free id past the model (the file's id is
 * only a hint that HF ignores). */
int tok_added_add(tok_added_set *a, const tok_model *m, const char *content, int single_word, int lstrip,
                  int rstrip, int normalized, int special, mt_err *e);
/* Computes norm_content of normalized tokens (after the normalizer is known). */
int tok_added_prepare(tok_added_set *a, const tok_norm *nm, mt_err *e);
/* Splits every text piece of io (id < 0) around added tokens; normalized selects the set. */
int tok_added_split(const tok_added_set *a, int normalized, tok_splits *io);
const tok_added *tok_added_by_id(const tok_added_set *a, int32_t id);
void tok_added_free(tok_added_set *a);

/* ---- post-processors and decoders (post.c) ---- */
int tok_post_parse(const json_t *json, const char *what, const char *field, tok_post **out, mt_err *e);
int tok_post_apply(const tok_post *p, int32_t **ids, int *n, int *cap);
void tok_post_free(tok_post *p);
tok_post *tok_post_bert(int32_t cls, int32_t sep);

int tok_dec_parse(const json_t *json, const char *what, const char *field, tok_dec **out, mt_err *e);
void tok_dec_free(tok_dec *d);
tok_dec *tok_dec_wordpiece(const char *prefix, int cleanup);
/* Decodes tokens (strings) to text; returns malloc'ed string or NULL on OOM. */
char *tok_dec_run(const tok_dec *d, char **toks, int n);

/* ---- the tokenizer ---- */
struct mt_tokenizer {
    tok_model model;
    tok_norm *norm;       /* NULL: none */
    tok_pretok *pretok;   /* NULL: none */
    tok_post *post;       /* NULL: none */
    tok_dec *dec;         /* NULL: tokens joined with " " */
    tok_added_set added;
    int32_t mask_id;
    char *mask_token;
    char *source;         /* file it came from, for messages */
};

int tok_load_json(const char *path, mt_tokenizer **out, mt_err *e);
/* The components of a tokenizer.json object (normalizer, pre_tokenizer, post_processor, decoder,
 * added_tokens) into t; the model too unless have_model (already built in t->model). */
int tok_load_components(mt_tokenizer *t, const json_t *root, int have_model, const char *what, mt_err *e);
int tok_load_vocab_txt(const char *vocab_path, const char *config_path, mt_tokenizer **out, mt_err *e);
void tok_find_mask(mt_tokenizer *t);

/* A tokenizer from plain arrays, as GGUF metadata holds them (tok_gguf.c; keys in parentheses). */
typedef struct tok_vocab_spec {
    const char *model;           /* tokenizer.ggml.model: "gpt2" or "llama" */
    const char *pre;             /* tokenizer.ggml.pre, or NULL */
    const char *arch;            /* general.architecture, or NULL */
    int64_t n_tokens;
    const char *const *tokens;   /* tokenizer.ggml.tokens: n_tokens strings of token_len bytes */
    const size_t *token_len;
    const float *scores;         /* tokenizer.ggml.scores, or NULL */
    const int32_t *types;        /* tokenizer.ggml.token_type, or NULL */
    int64_t n_merges;            /* tokenizer.ggml.merges ("a b"), 0 if absent */
    const char *const *merges;
    const size_t *merge_len;
    int64_t bos, eos, unk, pad;  /* tokenizer.ggml.*_token_id; -1: absent */
    int add_bos, add_eos;        /* tokenizer.ggml.add_bos_token / add_eos_token; -1: absent */
    int add_space_prefix;        /* tokenizer.ggml.add_space_prefix; -1: absent */
} tok_vocab_spec;
int tok_from_vocab(const tok_vocab_spec *v, const char *what, mt_tokenizer **out, mt_err *e);

#endif
