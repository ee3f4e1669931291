/* Tokenizer tests: every tests/golden/tok/<name>/ tokenizer against the ids HuggingFace
 * tokenizers produced (tools/make_tok_golden.py), with and without special tokens, one CHECK per
 * string; the vocab.txt fallback on the same strings; bad inputs. Run from the repo root. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mt_test.h"
#include "mt_tokenizer.h"
#include "tok_internal.h" /* tok_from_vocab: the GGUF path on plain arrays */

#define GOLDEN "tests/golden/tok"

static int ids_equal(const int32_t *a, int na, const json_t *b) {
    if (!json_is_array(b) || (size_t)na != json_array_size(b)) return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != (int32_t)json_integer_value(json_array_get(b, (size_t)i))) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *a, int n) {
    printf("    %s:", label);
    for (int i = 0; i < n && i < 40; i++) printf(" %d", a[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

/* Checks one tokenizer against expect.jsonl; returns the number of strings that passed. */
static int check_expectations(const mt_tokenizer *t, const char *name, const char *expect, int *total, int *dec_ok,
                              int *dec_total) {
    FILE *f = fopen(expect, "rb");
    CHECK(f != NULL, "%s: cannot open %s", name, expect);
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ok_count = 0, shown = 0, dec_shown = 0;
    *total = *dec_ok = *dec_total = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *j = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &jerr);
        if (!j) {
            CHECK(0, "%s: bad line in %s: %s", name, expect, jerr.text);
            continue;
        }
        const char *text = json_string_value(json_object_get(j, "text"));
        size_t tl = json_string_length(json_object_get(j, "text")); /* texts may hold U+0000 */
        json_t *want = json_object_get(j, "ids"), *want_ns = json_object_get(j, "ids_nospecial");
        (*total)++;
        int32_t *a = NULL, *b = NULL;
        int na = 0, nb = 0;
        mt_err e = {0};
        int rc1 = mt_tok_encode_n(t, text ? text : "", tl, 1, &a, &na, &e);
        int rc2 = rc1 ? rc1 : mt_tok_encode_n(t, text ? text : "", tl, 0, &b, &nb, &e);
        int ok = rc1 == MT_OK && rc2 == MT_OK && ids_equal(a, na, want) && ids_equal(b, nb, want_ns);
        char *shown_text = ok ? NULL : json_dumps(json_object_get(j, "text"), JSON_ENCODE_ANY);
        CHECK(ok, "%s: text %.100s: ids differ from HF%s%s", name, shown_text ? shown_text : "",
              rc1 || rc2 ? ": " : "", rc1 || rc2 ? e.msg : "");
        free(shown_text);
        if (!ok && shown++ < 5 && rc1 == MT_OK && rc2 == MT_OK) {
            print_ids("got   ", b, nb);
            int nw = (int)json_array_size(want_ns);
            int32_t *w = malloc(sizeof *w * (size_t)(nw ? nw : 1));
            for (int i = 0; i < nw; i++) w[i] = (int32_t)json_integer_value(json_array_get(want_ns, (size_t)i));
            print_ids("wanted", w, nw);
            free(w);
            printf("    tokens:");
            for (int i = 0; i < nb && i < 40; i++) printf(" [%s]", mt_tok_id_to_token(t, b[i]));
            printf("\n");
        }
        ok_count += ok;
        /* decoding (for printing): compared in aggregate, reported per tokenizer */
        json_t *jd = json_object_get(j, "decoded");
        if (json_is_string(jd) && rc1 == MT_OK) {
            /* a C string cannot hold U+0000: mt_tok_decode drops it, so compare without it */
            size_t dl = json_string_length(jd), w = 0;
            char *want_dec = malloc(dl + 1);
            for (size_t q = 0; q < dl; q++)
                if (json_string_value(jd)[q]) want_dec[w++] = json_string_value(jd)[q];
            want_dec[w] = 0;
            char *dec = mt_tok_decode(t, a, na, 1);
            (*dec_total)++;
            if (dec && !strcmp(dec, want_dec)) (*dec_ok)++;
            else if (dec_shown++ < 3)
                printf("    %s: decode of %.60s: got '%.80s' want '%.80s'\n", name, text, dec ? dec : "(null)", want_dec);
            free(dec);
            free(want_dec);
        }
        free(a);
        free(b);
        json_decref(j);
    }
    free(line);
    fclose(f);
    return ok_count;
}

static char *join(const char *a, const char *b) {
    char *p = malloc(strlen(a) + strlen(b) + 2);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static int exists(const char *p) { return access(p, R_OK) == 0; }

static void test_golden(void) {
    DIR *d = opendir(GOLDEN);
    CHECK(d != NULL, "cannot open %s (run from the repo root)", GOLDEN);
    if (!d) return;
    char *names[64];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 64) {
        if (de->d_name[0] == '.') continue;
        char *dir = join(GOLDEN, de->d_name), *tj = join(dir, "tokenizer.json");
        if (exists(tj)) names[nn++] = strdup(de->d_name);
        free(dir);
        free(tj);
    }
    closedir(d);
    for (int i = 0; i < nn; i++) /* sorted, for stable output */
        for (int k = i + 1; k < nn; k++)
            if (strcmp(names[i], names[k]) > 0) {
                char *t = names[i];
                names[i] = names[k];
                names[k] = t;
            }
    CHECK(nn >= 2, "expected golden tokenizers under %s, found %d", GOLDEN, nn);
    for (int i = 0; i < nn; i++) {
        char *dir = join(GOLDEN, names[i]), *expect = join(dir, "expect.jsonl");
        mt_tokenizer *t = NULL;
        mt_err e = {0};
        int rc = mt_tok_load(dir, &t, &e);
        CHECK(rc == MT_OK, "%s: load failed: %s", names[i], e.msg);
        if (rc == MT_OK) {
            int total = 0, dok = 0, dtotal = 0, ok = check_expectations(t, names[i], expect, &total, &dok, &dtotal);
            printf("%s (tokenizer.json): %d/%d strings identical to HF; decode %d/%d\n", names[i], ok, total, dok,
                   dtotal);
            CHECK(dok == dtotal, "%s: %d of %d decodes differ from HF", names[i], dtotal - dok, dtotal);
            int causal = !strncmp(names[i], "bpe", 3); /* BPE (causal LM) tokenizers have no mask */
            CHECK(causal || (mt_tok_mask_id(t) >= 0 && mt_tok_mask_token(t)), "%s: no mask token", names[i]);
            if (mt_tok_mask_id(t) >= 0) {
                CHECK(mt_tok_is_special(t, mt_tok_mask_id(t)), "%s: mask is not special", names[i]);
                CHECK(mt_tok_token_to_id(t, mt_tok_mask_token(t)) == mt_tok_mask_id(t), "%s: mask lookup", names[i]);
            }
            mt_tok_free(t);
        }
        /* the same vocabulary as GGUF metadata must give the same ids */
        char *gg = join(dir, "tokenizer.gguf");
        if (exists(gg)) {
            rc = mt_tok_load(gg, &t, &e);
            CHECK(rc == MT_OK, "%s: tokenizer.gguf load failed: %s", names[i], e.msg);
            if (rc == MT_OK) {
                char label[300];
                snprintf(label, sizeof label, "%s[gguf]", names[i]);
                int total = 0, dok = 0, dtotal = 0, ok = check_expectations(t, label, expect, &total, &dok, &dtotal);
                printf("%s (tokenizer.gguf): %d/%d strings identical to HF; decode %d/%d\n", names[i], ok, total, dok,
                       dtotal);
                CHECK(dok == dtotal, "%s: %d of %d GGUF decodes differ from HF", names[i], dtotal - dok, dtotal);
                mt_tok_free(t);
            }
        }
        free(gg);
        char *vt = join(dir, "vocab.txt"), *cfg = join(dir, "tokenizer_config.json");
        if (exists(vt)) {
            rc = mt_tok_load_vocab(vt, cfg, &t, &e);
            CHECK(rc == MT_OK, "%s: vocab.txt load failed: %s", names[i], e.msg);
            if (rc == MT_OK) {
                char label[300];
                snprintf(label, sizeof label, "%s[vocab.txt]", names[i]);
                int total = 0, dok = 0, dtotal = 0, ok = check_expectations(t, label, expect, &total, &dok, &dtotal);
                printf("%s (vocab.txt + tokenizer_config.json): %d/%d strings identical to HF\n", names[i], ok, total);
                CHECK(mt_tok_mask_id(t) == 103, "%s: vocab.txt mask id %d", names[i], mt_tok_mask_id(t));
                mt_tok_free(t);
            }
        }
        free(vt);
        free(cfg);
        free(dir);
        free(expect);
        free(names[i]);
    }
}

/* ---- API details on the main tokenizers ---- */

static void test_api(void) {
    mt_tokenizer *t = NULL;
    mt_err e = {0};
    int rc = mt_tok_load(GOLDEN "/wordpiece", &t, &e);
    CHECK(rc == MT_OK, "wordpiece: %s", e.msg);
    if (rc == MT_OK) {
        CHECK(mt_tok_mask_id(t) == 103 && !strcmp(mt_tok_mask_token(t), "[MASK]"), "wordpiece mask");
        CHECK(mt_tok_token_to_id(t, "[CLS]") == 101 && mt_tok_token_to_id(t, "[SEP]") == 102, "wordpiece cls/sep");
        CHECK(mt_tok_is_special(t, 101) && !mt_tok_is_special(t, 2000), "wordpiece is_special");
        CHECK(mt_tok_id_to_token(t, -1) == NULL && mt_tok_id_to_token(t, mt_tok_vocab_size(t)) == NULL, "id range");
        int32_t *ids;
        int n;
        rc = mt_tok_encode(t, "Paris is the capital of France.", 1, &ids, &n, &e);
        CHECK(rc == MT_OK, "encode: %s", e.msg);
        if (rc == MT_OK) {
            char *s = mt_tok_decode(t, ids, n, 1);
            CHECK(s && !strcmp(s, "Paris is the capital of France."), "wordpiece decode: '%s'", s ? s : "(null)");
            free(s);
            s = mt_tok_decode(t, ids, n, 0);
            CHECK(s && !strncmp(s, "[CLS] Paris", 11), "wordpiece decode with specials: '%s'", s ? s : "(null)");
            free(s);
            free(ids);
        }
        /* invalid UTF-8 */
        const char *bad[] = {"caf\xc3", "\xff", "a\xed\xa0\x80z", "\xc0\xaf", "\xf4\x90\x80\x80", "ok\x80"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ids = NULL;
            rc = mt_tok_encode(t, bad[i], 1, &ids, &n, &e);
            CHECK(rc == MT_EINVAL && ids == NULL, "invalid UTF-8 #%zu: rc %d", i, rc);
        }
        mt_tok_free(t);
    }
    rc = mt_tok_load(GOLDEN "/unigram/tokenizer.json", &t, &e);
    CHECK(rc == MT_OK, "unigram: %s", e.msg);
    if (rc == MT_OK) {
        int v = mt_tok_vocab_size(t);
        CHECK(mt_tok_mask_id(t) == v - 1 && !strcmp(mt_tok_mask_token(t), "<mask>"), "unigram mask %d of %d",
              mt_tok_mask_id(t), v);
        CHECK(mt_tok_token_to_id(t, "<s>") == 0 && mt_tok_token_to_id(t, "</s>") == 2 && mt_tok_token_to_id(t, "<unk>") == 3,
              "unigram fairseq ids");
        int32_t *ids;
        int n;
        rc = mt_tok_encode(t, "Pariisi on <mask> pääkaupunki.", 1, &ids, &n, &e);
        CHECK(rc == MT_OK && n > 3 && ids[0] == 0 && ids[n - 1] == 2, "unigram encode: %s", e.msg);
        if (rc == MT_OK) {
            int has_mask = 0;
            for (int i = 0; i < n; i++) has_mask |= ids[i] == mt_tok_mask_id(t);
            CHECK(has_mask, "unigram: <mask> not found in ids");
            char *s = mt_tok_decode(t, ids, n, 1);
            CHECK(s && !strcmp(s, "Pariisi on pääkaupunki."), "unigram decode: '%s'", s ? s : "(null)");
            free(s);
            free(ids);
        }
        rc = mt_tok_encode(t, "\xe2\x82", 0, &ids, &n, &e);
        CHECK(rc == MT_EINVAL, "unigram invalid UTF-8: rc %d", rc);
        mt_tok_free(t);
    }
}

/* ---- the real Gemma 3 GGUF (tools/fetch_model.sh), when present ---- */

#define REAL_GEMMA "cache/models/gemma-3-270m-q4_k_m.gguf"

static void test_real_gemma(void) {
    if (!exists(REAL_GEMMA)) {
        printf("real Gemma 3 GGUF: %s absent, skipped (tools/fetch_model.sh fetches it)\n", REAL_GEMMA);
        return;
    }
    mt_tokenizer *t = NULL;
    mt_err e = {0};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = mt_tok_load(REAL_GEMMA, &t, &e);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(rc == MT_OK, "real Gemma 3 GGUF: %s", e.msg);
    if (rc) return;
    int total = 0, dok = 0, dtotal = 0;
    int ok = check_expectations(t, "real_gemma3_gguf", GOLDEN "/real_gemma3_gguf/expect.jsonl", &total, &dok, &dtotal);
    printf("real Gemma 3 GGUF (262k tokens, merges derived in %.2f s): %d/%d strings identical to transformers' GGUF "
           "tokenizer; decode %d/%d\n", (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec), ok,
           total, dok, dtotal);
    CHECK(dok == dtotal, "real Gemma 3 GGUF: %d of %d decodes differ", dtotal - dok, dtotal);
    CHECK(mt_tok_token_to_id(t, "<bos>") == 2 && mt_tok_is_special(t, 2) && mt_tok_vocab_size(t) == 262144,
          "real Gemma 3 GGUF: <bos> / vocabulary size");
    mt_tok_free(t);
}

/* ---- GGUF-style vocabularies given as plain arrays (tok_from_vocab) ---- */

static int from_vocab(const char *model, const char *pre, const char *const *toks, int nt, const char *const *merges,
                      int nm, const float *scores, mt_tokenizer **t, mt_err *e) {
    size_t tl[16], ml[16];
    for (int i = 0; i < nt; i++) tl[i] = strlen(toks[i]);
    for (int i = 0; i < nm; i++) ml[i] = strlen(merges[i]);
    tok_vocab_spec v = {model, pre, NULL, nt, toks, tl, scores, NULL, nm, merges, ml, -1, -1, -1, -1, -1, -1, -1};
    *t = NULL;
    return tok_from_vocab(&v, "test.gguf", t, e);
}

static void test_vocab_spec(void) {
    static const char *toks[] = {"a", "b", "c", "ab", "abc", "\xc4\xa0", "\xc4\xa0" "a"};
    static const char *good[] = {"a b", "ab c", "\xc4\xa0 a"};
    mt_tokenizer *t;
    mt_err e = {0};
    int rc = from_vocab("gpt2", "gpt-2", toks, 7, good, 3, NULL, &t, &e);
    CHECK(rc == MT_OK, "vocab spec gpt2: %s", e.msg);
    if (rc == MT_OK) {
        int32_t *ids;
        int n;
        rc = mt_tok_encode(t, "abc a", 1, &ids, &n, &e);
        CHECK(rc == MT_OK && n == 2 && ids[0] == 4 && ids[1] == 6, "vocab spec gpt2 encode (rc %d, n %d)", rc, n);
        if (rc == MT_OK) free(ids);
        mt_tok_free(t);
    }
    static const char *bad1[] = {"a b", "ab  c"}, *bad2[] = {"a b", "a q"}, *bad3[] = {" ab"};
    rc = from_vocab("gpt2", "gpt-2", toks, 7, good, 0, NULL, &t, &e);
    CHECK(rc == MT_EFORMAT && t == NULL && strstr(e.msg, "test.gguf: tokenizer.ggml.merges: no merges"), "gguf zero merges: %s",
          e.msg);
    rc = from_vocab("gpt2", "gpt-2", toks, 7, bad1, 2, NULL, &t, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "tokenizer.ggml.merges[1]: expected"), "gguf malformed merge: %s", e.msg);
    rc = from_vocab("gpt2", "gpt-2", toks, 7, bad2, 2, NULL, &t, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "merges[1]: token 'q' is not in the vocabulary"), "gguf unknown merge: %s",
          e.msg);
    rc = from_vocab("gpt2", "gpt-2", toks, 7, bad3, 1, NULL, &t, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "merges[0]"), "gguf leading-space merge: %s", e.msg);
    rc = from_vocab("gpt2", "no-such-pre", toks, 7, good, 3, NULL, &t, &e);
    CHECK(rc == MT_EUNSUPPORTED && strstr(e.msg, "tokenizer.ggml.pre 'no-such-pre'"), "gguf unknown pre: %s", e.msg);
    rc = from_vocab("bert", NULL, toks, 7, good, 3, NULL, &t, &e);
    CHECK(rc == MT_EUNSUPPORTED && strstr(e.msg, "tokenizer.ggml.model 'bert'"), "gguf unknown model: %s", e.msg);
    rc = from_vocab("llama", NULL, toks, 7, good, 0, NULL, &t, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "tokenizer.ggml.scores"), "gguf llama without scores or merges: %s", e.msg);
    static const char *dup[] = {"a", "b", "a"};
    static const float sc[] = {0, 0, 0, -1, -2, 0, 0};
    rc = from_vocab("llama", NULL, dup, 3, good, 0, sc, &t, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "tokens[2] repeats token 0"), "gguf duplicate token: %s", e.msg);
    static const char *spm[] = {"a", "b", "c", "ab", "bc", "abc"};
    static const float sc2[] = {0, 0, 0, -1, -2, -3};
    rc = from_vocab("llama", NULL, spm, 3, good, 0, sc2, &t, &e); /* no piece splits into two pieces */
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "no merges loaded"), "gguf llama with no derivable merges: %s", e.msg);
    rc = from_vocab("llama", NULL, spm, 6, good, 0, sc2, &t, &e);
    CHECK(rc == MT_OK, "gguf llama: %s", e.msg);
    if (rc == MT_OK) { /* merges by score: ab (-1) before bc (-2); abc from ab+c */
        int32_t *ids;
        int n;
        rc = mt_tok_encode(t, "abc", 0, &ids, &n, &e);
        CHECK(rc == MT_OK && n == 1 && ids[0] == 5, "gguf llama encode abc (n %d)", n);
        if (rc == MT_OK) free(ids);
        mt_tok_free(t);
    }
}

/* ---- bad files ---- */

static char tmpdir[64];

static char *write_tmp(const char *name, const char *content) {
    char *p = join(tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
    return p;
}

static void expect_load_fail(const char *label, const char *json, int code, const char *needle) {
    char *p = write_tmp("tokenizer.json", json);
    mt_tokenizer *t = NULL;
    mt_err e = {0};
    int rc = mt_tok_load(p, &t, &e);
    CHECK(rc == code && t == NULL, "%s: rc %d (want %d): %s", label, rc, code, e.msg);
    CHECK(!needle || strstr(e.msg, needle), "%s: message '%s' lacks '%s'", label, e.msg, needle ? needle : "");
    CHECK(!strchr(e.msg, '\n'), "%s: message spans lines", label);
    mt_tok_free(t);
    unlink(p);
    free(p);
}

#define BPE_VOCAB "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4}"
#define WP_MODEL "\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}}"

static void test_bad(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mt_test_tok_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    expect_load_fail("malformed", "{\"model\": {\"type\": \"WordPiece\",", MT_EFORMAT, "malformed JSON at line");
    expect_load_fail("not an object", "[1, 2]", MT_EFORMAT, "top level");
    expect_load_fail("duplicate keys", "{\"model\": 1, \"model\": 2}", MT_EFORMAT, "malformed JSON");
    expect_load_fail("no model", "{\"normalizer\": null}", MT_EFORMAT, "model");
    expect_load_fail("unknown model", "{\"model\": {\"type\": \"Foo\", \"vocab\": {}}}", MT_EUNSUPPORTED,
                     "model.type 'Foo' is not supported");
    /* BPE: zero merges (either spelling), missing merges, unknown tokens, malformed entries, dropout */
    expect_load_fail("BPE zero merges", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", MT_EFORMAT,
                     "tokenizer.json: model.merges: no merges loaded");
    expect_load_fail("BPE no merges", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", MT_EFORMAT,
                     "missing field 'model.merges'");
    expect_load_fail("BPE merges not a list", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": \"a b\"}}",
                     MT_EFORMAT, "model.merges: expected an array");
    expect_load_fail("BPE unknown merge token", "{" BPE_VOCAB ", \"merges\": [\"a b\", \"a x\"]}}", MT_EFORMAT,
                     "model.merges[1]: token 'x' is not in the vocabulary");
    expect_load_fail("BPE unknown merge token (pair)", "{" BPE_VOCAB ", \"merges\": [[\"q\", \"b\"]]}}", MT_EFORMAT,
                     "model.merges[0]: token 'q' is not in the vocabulary");
    expect_load_fail("BPE merged token missing", "{" BPE_VOCAB ", \"merges\": [\"b c\"]}}", MT_EFORMAT,
                     "model.merges[0]: the merged token 'bc' is not in the vocabulary");
    expect_load_fail("BPE malformed merge", "{" BPE_VOCAB ", \"merges\": [\"a b\", \"ab c d\"]}}", MT_EFORMAT,
                     "model.merges[1]: expected \"a b\"");
    expect_load_fail("BPE merge without space", "{" BPE_VOCAB ", \"merges\": [\"ab\"]}}", MT_EFORMAT,
                     "model.merges[0]: expected \"a b\"");
    expect_load_fail("BPE short pair", "{" BPE_VOCAB ", \"merges\": [[\"a\", \"b\"], [\"ab\"]]}}", MT_EFORMAT,
                     "model.merges[1]: expected an [\"a\", \"b\"] pair");
    expect_load_fail("BPE mixed spellings", "{" BPE_VOCAB ", \"merges\": [\"a b\", [\"ab\", \"c\"]]}}", MT_EFORMAT,
                     "model.merges[1]");
    expect_load_fail("BPE number merge", "{" BPE_VOCAB ", \"merges\": [1]}}", MT_EFORMAT, "model.merges[0]");
    expect_load_fail("BPE dropout", "{" BPE_VOCAB ", \"merges\": [\"a b\"], \"dropout\": 0.1}}", MT_EUNSUPPORTED,
                     "model.dropout 0.1 is not supported");
    expect_load_fail("BPE bad dropout", "{" BPE_VOCAB ", \"merges\": [\"a b\"], \"dropout\": \"x\"}}", MT_EFORMAT,
                     "model.dropout");
    expect_load_fail("missing vocab", "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\"}}", MT_EFORMAT,
                     "model.vocab");
    expect_load_fail("missing unigram vocab", "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0}}", MT_EFORMAT,
                     "model.vocab");
    expect_load_fail("bad vocab id", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": \"x\"}}}", MT_EFORMAT,
                     "model.vocab['a']");
    expect_load_fail("bad unk_id", "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", -1.0]]}}",
                     MT_EFORMAT, "unk_id");
    expect_load_fail("unknown normalizer", "{" WP_MODEL ", \"normalizer\": {\"type\": \"Foo\"}}", MT_EUNSUPPORTED,
                     "tokenizer.json: normalizer.type 'Foo' is not supported");
    expect_load_fail("nested normalizer",
                     "{" WP_MODEL ", \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, "
                     "{\"type\": \"Bar\"}]}}",
                     MT_EUNSUPPORTED, "normalizer.normalizers[1].type 'Bar'");
    expect_load_fail("unknown pre_tokenizer", "{" WP_MODEL ", \"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}}",
                     MT_EUNSUPPORTED, "pre_tokenizer.type 'UnicodeScripts'");
    expect_load_fail("unknown post", "{" WP_MODEL ", \"post_processor\": {\"type\": \"Foo\"}}", MT_EUNSUPPORTED,
                     "post_processor.type 'Foo'");
    expect_load_fail("unknown decoder", "{" WP_MODEL ", \"decoder\": {\"type\": \"CTC\"}}", MT_EUNSUPPORTED,
                     "decoder.type 'CTC'");
    expect_load_fail("untyped normalizer", "{" WP_MODEL ", \"normalizer\": {\"lowercase\": true}}", MT_EFORMAT,
                     "normalizer.type");
    expect_load_fail("bad regex", "{" WP_MODEL ", \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(\"}, "
                     "\"content\": \"\"}}", MT_EUNSUPPORTED, "normalizer.pattern");
    expect_load_fail("bad charsmap", "{" WP_MODEL ", \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": "
                     "\"AAAA!!\"}}", MT_EFORMAT, "precompiled_charsmap");
    expect_load_fail("truncated charsmap", "{" WP_MODEL ", \"normalizer\": {\"type\": \"Precompiled\", "
                     "\"precompiled_charsmap\": \"/////w==\"}}", MT_EFORMAT, "precompiled_charsmap");
    expect_load_fail("bad added token", "{" WP_MODEL ", \"added_tokens\": [{\"id\": 0}]}", MT_EFORMAT,
                     "added_tokens[0].content");

    /* a tiny valid tokenizer.json works, with an unknown word -> [UNK] */
    char *p = write_tmp("tokenizer.json", "{" WP_MODEL ", \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}}");
    mt_tokenizer *t = NULL;
    mt_err e = {0};
    int rc = mt_tok_load(tmpdir, &t, &e);
    CHECK(rc == MT_OK, "tiny tokenizer: %s", e.msg);
    if (rc == MT_OK) {
        int32_t *ids;
        int n;
        rc = mt_tok_encode(t, "a b aa", 1, &ids, &n, &e);
        CHECK(rc == MT_OK && n == 3 && ids[0] == 1 && ids[1] == 0 && ids[2] == 0, "tiny encode");
        if (rc == MT_OK) free(ids);
        CHECK(mt_tok_mask_id(t) == -1 && mt_tok_mask_token(t) == NULL, "tiny: no mask");
        mt_tok_free(t);
    }
    unlink(p);
    free(p);

    /* missing files */
    rc = mt_tok_load("tests/golden/tok/no-such-dir", &t, &e);
    CHECK(rc == MT_EIO && t == NULL, "missing dir: rc %d", rc);
    rc = mt_tok_load(tmpdir, &t, &e); /* empty dir */
    CHECK(rc == MT_EIO && strstr(e.msg, "no tokenizer.json or vocab.txt"), "empty dir: rc %d %s", rc, e.msg);
    rc = mt_tok_load_vocab("tests/golden/tok/no-such/vocab.txt", NULL, &t, &e);
    CHECK(rc == MT_EIO, "missing vocab.txt: rc %d", rc);

    /* vocab.txt without tokenizer_config.json: lowercases (HF default) */
    p = write_tmp("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nparis\n##is\n");
    rc = mt_tok_load(tmpdir, &t, &e);
    CHECK(rc == MT_OK, "vocab.txt only: %s", e.msg);
    if (rc == MT_OK) {
        int32_t *ids;
        int n;
        rc = mt_tok_encode(t, "PARIS [MASK] Rome", 1, &ids, &n, &e);
        CHECK(rc == MT_OK && n == 5 && ids[0] == 2 && ids[1] == 5 && ids[2] == 4 && ids[3] == 1 && ids[4] == 3,
              "vocab.txt only: encode");
        if (rc == MT_OK) free(ids);
        mt_tok_free(t);
    }
    char *cfg = write_tmp("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    rc = mt_tok_load(tmpdir, &t, &e);
    CHECK(rc == MT_EFORMAT && strstr(e.msg, "do_lower_case"), "bad config: rc %d %s", rc, e.msg);
    unlink(cfg);
    free(cfg);
    unlink(p);
    free(p);
    rmdir(tmpdir);
}

int main(void) {
    test_golden();
    test_api();
    test_real_gemma();
    test_vocab_spec();
    test_bad();
    return mt_test_report();
}
