/* Replays every fuzzing regression input (tests/fuzz/regress/<harness>/) and the committed
 * seeds (tests/fuzz/seeds/<harness>/) through the fuzz harness bodies, so `make test` (and
 * `make asan`) checks the fixed findings without clang or libFuzzer. A harness body fails on a
 * crash (caught by the sanitizers under `make asan`) or a broken error contract (counted in
 * fz_bugs: a failing loader must leave one non-empty line naming the file). */
#define MT_FUZZ_NO_MAIN
#include "fuzz/fuzz_safetensors.c"
#include "fuzz/fuzz_gguf.c"
#include "fuzz/fuzz_config.c"
#include "fuzz/fuzz_tokenizer.c"
#include "fuzz/fuzz_vocab.c"
#include "fuzz/fuzz_jsonl.c"
#include "fuzz/fuzz_npy.c"
#include "fuzz/fuzz_result.c"

#include <dirent.h>

#include "mt_test.h"

typedef struct {
    const char *name;
    int (*one)(const uint8_t *, size_t);
} harness;

static const harness harnesses[] = {
    {"safetensors", fuzz_safetensors_one}, {"gguf", fuzz_gguf_one}, {"config", fuzz_config_one},
    {"tokenizer", fuzz_tokenizer_one},     {"vocab", fuzz_vocab_one}, {"jsonl", fuzz_jsonl_one},
    {"npy", fuzz_npy_one},                 {"result", fuzz_result_one},
};

static int replay_dir(const harness *h, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        FILE *f = fopen(p, "rb");
        CHECK(f != NULL, "%s: cannot open", p);
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        CHECK(buf && got == (size_t)n, "%s: short read", p);
        if (buf && got == (size_t)n) {
            fz_bugs = 0;
            h->one(buf, got);
            CHECK(fz_bugs == 0, "%s: %d broken contract(s) in harness %s", p, fz_bugs, h->name);
            count++;
        }
        free(buf);
    }
    closedir(d);
    return count;
}

int main(void) {
    int total = 0;
    for (size_t i = 0; i < sizeof harnesses / sizeof *harnesses; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", harnesses[i].name);
        total += replay_dir(&harnesses[i], dir);
        snprintf(dir, sizeof dir, "tests/fuzz/seeds/%s", harnesses[i].name);
        total += replay_dir(&harnesses[i], dir);
    }
    CHECK(total > 0, "no regression inputs found under tests/fuzz (run from the repository root)");
    return mt_test_report();
}
