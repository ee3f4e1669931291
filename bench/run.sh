#!/bin/sh
# `make bench`: IG attribution over all 12 layers of one ~12-token query of a random-weight
# mBERT-base-shaped model (m = 20, zero baseline), matrice (C) and PyTorch side by side on this
# CPU, plus the machine's sgemm peak. Prints one table; raw JSON lines stay in $OUTDIR.
#
# Environment:
#   BENCH_MODEL    model folder (default cache/bench/mbert-base; built by bench/make_model.py)
#   BENCH_STEPS    m (20)          BENCH_TOKENS  query length (12)
#   BENCH_REPEATS  C repeats (3)   BENCH_TORCH_REPEATS  PyTorch repeats (2)
#   BENCH_CORETYPE OpenBLAS core to force for the second C row (default: SkylakeX on AVX-512
#                  machines, Haswell on AVX2 ones; "none" skips the row)
#   BENCH_F64=1    also run PyTorch in float64 (reference for the score differences; slow)
#   BENCH_PERF=1   also profile one C prompt with perf and print the top symbols
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${BENCH_MODEL:-cache/bench/mbert-base}
STEPS=${BENCH_STEPS:-20}
TOKENS=${BENCH_TOKENS:-12}
REPEATS=${BENCH_REPEATS:-3}
TREPEATS=${BENCH_TORCH_REPEATS:-2}
OUTDIR=${OUTDIR:-$BUILD/bench}
mkdir -p "$OUTDIR"
PY=${PYTHON:-python3}
[ -x .venv/bin/python3 ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python3
t_start=$(date +%s)

echo "== model"
$PY bench/make_model.py "$MODEL"
echo "== build"
make -s "$BUILD/bench_ig"
BIN=$BUILD/bench_ig

if [ -z "${BENCH_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then BENCH_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then BENCH_CORETYPE=Haswell
    else BENCH_CORETYPE=none; fi
fi

echo "== sgemm peak (1024^3, best of 20)"
"$BIN" --peak 1024 20 | tee "$OUTDIR/peak_default.json"
: >"$OUTDIR/peak_forced.json"
if [ "$BENCH_CORETYPE" != none ]; then
    OPENBLAS_CORETYPE=$BENCH_CORETYPE "$BIN" --peak 1024 20 | tee "$OUTDIR/peak_forced.json"
fi

# The time breakdown runs on one row only: the forced core's when there is one.
BD_DEFAULT=--breakdown; [ "$BENCH_CORETYPE" != none ] && BD_DEFAULT=
echo "== matrice (C), OpenBLAS as detected"
"$BIN" $BD_DEFAULT --scores "$OUTDIR/scores_c.npy" "$MODEL" "$STEPS" "$TOKENS" "$REPEATS" kn | tee "$OUTDIR/c.json"
: >"$OUTDIR/c_forced.json"
if [ "$BENCH_CORETYPE" != none ]; then
    echo "== matrice (C), OPENBLAS_CORETYPE=$BENCH_CORETYPE"
    OPENBLAS_CORETYPE=$BENCH_CORETYPE "$BIN" --breakdown --scores "$OUTDIR/scores_c_forced.npy" \
        "$MODEL" "$STEPS" "$TOKENS" "$REPEATS" kn | tee "$OUTDIR/c_forced.json"
fi

# The same ids and target as the C program.
IDS=$($PY -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["ids"])))' "$OUTDIR/c.json")
MPOS=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["mask_pos"])' "$OUTDIR/c.json")
TGT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$OUTDIR/c.json")

echo "== PyTorch (peer-style: whole model per step batch, head at every position)"
$PY bench/ig_torch.py "$MODEL" --steps "$STEPS" --repeats "$TREPEATS" --ids "$IDS" --mask-pos "$MPOS" \
    --target "$TGT" --scores "$OUTDIR/scores_torch.npy" 2>&1 >"$OUTDIR/torch.json" | grep -v '^Loading weights' || true
cat "$OUTDIR/torch.json"
: >"$OUTDIR/torch64.json"
if [ "${BENCH_F64:-0}" = 1 ]; then
    echo "== PyTorch float64"
    $PY bench/ig_torch.py "$MODEL" --steps "$STEPS" --repeats 1 --ids "$IDS" --mask-pos "$MPOS" --target "$TGT" \
        --float64 --scores "$OUTDIR/scores_torch64.npy" 2>&1 >"$OUTDIR/torch64.json" | grep -v '^Loading weights' || true
    cat "$OUTDIR/torch64.json"
fi

if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    core=$BENCH_CORETYPE; [ "$core" = none ] && core=
    echo "== perf: one C prompt (OpenBLAS core ${core:-as detected})"
    env ${core:+OPENBLAS_CORETYPE=$core} perf record -q -o "$OUTDIR/perf.data" \
        "$BIN" "$MODEL" "$STEPS" "$TOKENS" 1 kn >/dev/null 2>&1 || true
    perf report -i "$OUTDIR/perf.data" --no-children --sort dso,symbol --percent-limit 1 --stdio 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -25 || true
fi

echo
$PY bench/report.py "$OUTDIR"
echo "(make bench took $(($(date +%s) - t_start)) s; raw results in $OUTDIR)"
