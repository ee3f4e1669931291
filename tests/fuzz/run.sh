#!/bin/sh
# `make fuzz`: builds the libFuzzer harnesses (clang, ASan + UBSan) in $FUZZ_BUILD and runs each
# for FUZZ_SECONDS, one after another, from seed corpora taken from tests/golden and tests/data
# at run time (plus the small committed seeds in tests/fuzz/seeds). Prints one line per harness:
# execs, coverage (cov = edges, ft = features), corpus size and crashes; exits non-zero when any
# harness crashed, leaked, timed out or ran out of memory (the input is kept under
# $FUZZ_BUILD/artifacts/<harness>/ : copy it to tests/fuzz/regress/<harness>/ once fixed).
#   sh tests/fuzz/run.sh [harness ...]      (default: all of them)
#   FUZZ_SECONDS=600 sh tests/fuzz/run.sh gguf
set -u
: "${FUZZ_SECONDS:=60}" "${FUZZ_BUILD:=build-fuzz}" "${FUZZ_CC:=clang}"
ALL="safetensors gguf config tokenizer vocab jsonl npy result"
LIST=${*:-$ALL}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
LDLIBS="-ljansson -lutf8proc -lpcre2-8 -lopenblas -lopencc -lm -pthread"
INC="-Isrc/core -Isrc/io -Isrc/tok -Isrc/model -Isrc/attr -Isrc/data -Isrc/exp -Isrc/report -I/usr/include/x86_64-linux-gnu/openblas-pthread"

command -v "$FUZZ_CC" >/dev/null || { echo "fuzz: $FUZZ_CC not found (apt-get install clang)"; exit 1; }
make -s -j2 BUILD="$FUZZ_BUILD" CC="$FUZZ_CC" \
    OPT="-O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN" "$FUZZ_BUILD/libmatrice.a" || exit 1
mkdir -p "$FUZZ_BUILD/fuzz"
for h in $LIST; do
    src=tests/fuzz/fuzz_$h.c
    bin=$FUZZ_BUILD/fuzz/fuzz_$h
    [ -f "$src" ] || { echo "fuzz: no harness $src"; exit 1; }
    if [ ! -x "$bin" ] || [ -n "$(find "$src" tests/fuzz/fuzz_common.h "$FUZZ_BUILD/libmatrice.a" -newer "$bin")" ]; then
        $FUZZ_CC -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $SAN $INC \
            "$src" "$FUZZ_BUILD/libmatrice.a" -o "$bin" $LDLIBS || exit 1
    fi
done

# seeds: real small files of each kind (copied, so the fuzzer never writes into the tree)
seed() { # seed HARNESS FILE...
    d=$FUZZ_BUILD/seeds/$1; shift
    mkdir -p "$d"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$d/$(echo "$f" | tr / _)"; done
    return 0
}
rm -rf "$FUZZ_BUILD/seeds"
seed safetensors tests/data/io/ref.safetensors tests/golden/models/bert_sharded/model.safetensors.index.json \
    tests/golden/models/bert_sharded/model-00002-of-00002.safetensors tests/golden/causal/llama_bf16/model.safetensors
seed gguf tests/data/gguf/*.gguf tests/golden/tok/*/tokenizer.gguf tests/golden/causal/llama/model-q8_0.gguf
seed config tests/golden/*/*/config.json tests/golden/*/*/generation_config.json
# tokenizer.json: the committed seeds are the golden ones of every type with their vocabularies
# cut to a few hundred entries (the full files, 80-600 kB, run at a few execs per second)
seed tokenizer tests/fuzz/seeds/tokenizer/*
seed vocab tests/golden/tok/wordpiece*/vocab.txt tests/golden/models/bert_legacy/vocab.txt
for v in tests/golden/tok/wordpiece*/vocab.txt; do
    c=$(dirname "$v")/tokenizer_config.json
    [ -f "$c" ] && { cat "$v"; printf '\n#--tokenizer_config.json--\n'; cat "$c"; } >"$FUZZ_BUILD/seeds/vocab/$(echo "$v" | tr / _).cfg"
done
seed jsonl tests/fuzz/seeds/jsonl/* tests/data/raw-fixture/broken/*.jsonl
seed npy tests/data/io/*.npy tests/golden/models/bert_sharded/single_*grad*.npy tests/golden/models/bert_sharded/single_ig_kn.npy
[ -d tests/fuzz/seeds/result ] && seed result tests/fuzz/seeds/result/*
for h in $LIST; do [ -d tests/fuzz/regress/$h ] && seed "$h" tests/fuzz/regress/$h/*; done

scratch=/dev/shm
[ -d /dev/shm ] && [ -w /dev/shm ] || scratch=${TMPDIR:-/tmp}
# a folder of this run for the harnesses' scratch files (a crashing harness cannot clean up)
export MT_FUZZ_TMP=$scratch/mt-fuzz-run.$$
mkdir -p "$MT_FUZZ_TMP"
trap 'rm -rf "$MT_FUZZ_TMP"' EXIT
failed=0
for h in $LIST; do
    corpus=$FUZZ_BUILD/corpus/$h art=$FUZZ_BUILD/artifacts/$h/ log=$FUZZ_BUILD/fuzz/$h.log
    mkdir -p "$corpus" "$art" "$FUZZ_BUILD/seeds/$h"
    dict=
    case $h in gguf) dict=-dict=tests/fuzz/gguf.dict ;; npy) dict=-dict=tests/fuzz/npy.dict ;; *) dict=-dict=tests/fuzz/json.dict ;; esac
    maxlen=
    case $h in tokenizer|config|result|npy) maxlen=-max_len=65536 ;; esac
    before=$(ls "$art" | wc -l)
    "$FUZZ_BUILD/fuzz/fuzz_$h" "$corpus" "$FUZZ_BUILD/seeds/$h" $dict $maxlen -max_total_time="$FUZZ_SECONDS" \
        -timeout=20 -rss_limit_mb=3072 -artifact_prefix="$art" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    crashes=$(( $(ls "$art" | wc -l) - before ))
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    printf 'fuzz %-12s %4ss  execs %-9s cov %-6s ft %-6s corpus %-5s crashes %s\n' "$h" "$FUZZ_SECONDS" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
    if [ "$crashes" -ne 0 ]; then
        failed=$((failed + 1))
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5
        echo "  log: $log  artifacts: $art"
    fi
done
[ "$failed" -eq 0 ]
