#!/bin/sh
# `make bench`: IG attribution over all layers of one ~12-token query (m = 20, zero baseline),
# matrice (C) and PyTorch side by side on this CPU, for each benchmark model, plus the machine's
# sgemm peak. Prints one table; raw JSON lines stay in $OUTDIR/<model>/.
#
# Models (BENCH_MODELS, default "mbert xlmr qwen2 gemma3"):
#   mbert   random-weight BertForMaskedLM of mBERT-base shape (bench/make_model.py), answer at [MASK]
#   xlmr    random-weight XLMRobertaForMaskedLM of XLM-R-base shape (vocab 250k), answer at [MASK]
#   qwen2   random-weight Qwen2ForCausalLM of Qwen2-0.5B shape (bench/make_model.py), answer at
#           the last token; the neuron is the input of mlp.down_proj
#   gemma3  the real Gemma 3 270M (Q4_K_M GGUF, dequantized), C only unless BENCH_GEMMA_TORCH=1
#           (transformers' GGUF loading takes ~70 s); skipped when the file is absent
# For the safetensors models, one more C row by default: "matrice C, BF16 weights as stored", the
# same attribution on a BF16 copy of the checkpoint (bench/to_bf16.py, made once into
# <checkpoint dir>-bf16, e.g. cache/bench/mbert-base-bf16). matrice keeps F16/BF16 weight
# matrices in their storage type in memory (products convert blocks to f32 and accumulate in
# f32), used in place from the checkpoint's mapping: half the weights' bytes, where the fp32 rows'
# peak RSS counts the F32 file's mapped pages and the f32 copy made from them at load. Same FLOP
# count, torch/x against the same PyTorch fp32 row.
# Its score difference is against the same BF16 copy converted to f32 at load (MT_WEIGHTS=f32,
# one run, not a table row; the details print its RSS), so it isolates the in-memory format from
# the BF16 rounding of the weights (~1e-3-1e-2 vs the fp32 rows, in the details). Both runs
# use the fp32 row's target token (bench_ig --target) and the forced OpenBLAS core when there is one.
#
# Environment:
#   BENCH_MODELS   the models above to run, in order
#   BENCH_MBERT_DIR (or BENCH_MODEL) / BENCH_XLMR_DIR / BENCH_QWEN2_DIR / BENCH_GEMMA3_GGUF   where they are (under cache/)
#   BENCH_STEPS    m (20)          BENCH_TOKENS  query length (12)
#   BENCH_REPEATS  C repeats, mbert (3)      BENCH_TORCH_REPEATS  PyTorch repeats, mbert (2)
#   BENCH_BIG_REPEATS  C and PyTorch repeats for qwen2 and gemma3 (1)
#   BENCH_CORETYPE OpenBLAS core to force for the second C row (default: SkylakeX on AVX-512
#                  machines, Haswell on AVX2 ones; "none" skips the row)
#   BENCH_DEFAULT_ROW=0  skip the (slow) C row with OpenBLAS's detected core for qwen2 and gemma3
#   BENCH_F64=1    also run PyTorch in float64 (reference for the score differences; slow)
#   BENCH_CHECK_OLD=0  skip the unoptimized path (one target layer per patched pass), which the
#                  forced-core C row (else the default one) runs once for its time and score difference
#   BENCH_GROUP    target layers per patched pass for the C rows (0: automatic)
#   BENCH_PERF=1   also profile one C prompt per model with perf and print the top symbols
#   BENCH_BF16     the models that get the BF16 row: 1 = "mbert xlmr qwen2" (default), 0 = none,
#                  or a list of them (gemma3 has none: its GGUF is quantized). Costs per model the
#                  C repeats of the row plus one reference run, and once the copy (half the
#                  checkpoint's disk; bench/to_bf16.py reuses a copy that is there)
#   BENCH_BF16_REF=0  skip the MT_WEIGHTS=f32 run of the BF16 copy (the BF16 row's score difference
#                  is then against the fp32 checkpoint's C row)
# MT_WEIGHTS is passed on to the other C rows as it is (their checkpoints are F32; it matters for
# F16/BF16 tensors of a GGUF); the BF16 rows set it themselves.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODELS=${BENCH_MODELS:-mbert xlmr qwen2 gemma3}
STEPS=${BENCH_STEPS:-20}
TOKENS=${BENCH_TOKENS:-12}
REPEATS=${BENCH_REPEATS:-3}
TREPEATS=${BENCH_TORCH_REPEATS:-2}
BIGREPEATS=${BENCH_BIG_REPEATS:-1}
OUTDIR=${OUTDIR:-$BUILD/bench}
mkdir -p "$OUTDIR"
PY=${PYTHON:-python3}
[ -x .venv/bin/python3 ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python3
t_start=$(date +%s)
case ${BENCH_BF16-1} in
0 | '') BF16_MODELS= ;;
1) BF16_MODELS="mbert xlmr qwen2" ;;
*) BF16_MODELS=$BENCH_BF16 ;;
esac
for name in $BF16_MODELS; do
    case $name in mbert | xlmr | qwen2 | gemma3) ;; *) echo "bench: BENCH_BF16: unknown model '$name'" >&2; exit 2 ;; esac
done
bf16dir=
# bf16_copy NAME DIR: sets bf16dir to DIR's BF16 copy (made when absent) if NAME is in BENCH_BF16
bf16_copy() {
    bf16dir=
    case " $BF16_MODELS " in *" $1 "*) ;; *) return 0 ;; esac
    bf16dir=${2%/}-bf16
    $PY bench/to_bf16.py "$2" "$bf16dir"
}

cut -d' ' -f1-3 /proc/loadavg >"$OUTDIR/loadavg.txt" 2>/dev/null || :
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

jget() { # jget FILE KEY: a field of bench_ig's JSON line (lists joined by commas)
    $PY -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(",".join(map(str, v)) if isinstance(v, list) else v)' "$1" "$2"
}

# bench_one NAME MODEL C_REPEATS TORCH_REPEATS [bench_ig options...]: TORCH_REPEATS 0 = C only.
bench_one() {
    name=$1 model=$2 crep=$3 trep=$4
    shift 4
    od=$OUTDIR/$name
    rm -rf "$od"
    mkdir -p "$od"
    echo
    echo "######## $name: $model"
    # The time breakdown runs on one row only: the forced core's when there is one.
    bd_default=--breakdown; [ "$BENCH_CORETYPE" != none ] && bd_default=
    # The unoptimized path runs once, on the same row as the breakdown.
    old_forced=; [ "${BENCH_CHECK_OLD:-1}" != 0 ] && old_forced=--check-old
    old_default=$old_forced; [ "$BENCH_CORETYPE" != none ] && old_default=
    grp="--group ${BENCH_GROUP:-0}"
    : >"$od/c.json"
    if [ "$name" = mbert ] || [ "${BENCH_DEFAULT_ROW:-1}" != 0 ] || [ "$BENCH_CORETYPE" = none ]; then
        echo "== matrice (C), OpenBLAS as detected"
        "$BIN" "$@" $grp $bd_default $old_default --scores "$od/scores_c.npy" "$model" "$STEPS" "$TOKENS" "$crep" kn | tee "$od/c.json"
    fi
    : >"$od/c_forced.json"
    if [ "$BENCH_CORETYPE" != none ]; then
        echo "== matrice (C), OPENBLAS_CORETYPE=$BENCH_CORETYPE"
        OPENBLAS_CORETYPE=$BENCH_CORETYPE "$BIN" "$@" $grp --breakdown $old_forced --scores "$od/scores_c_forced.npy" \
            "$model" "$STEPS" "$TOKENS" "$crep" kn | tee "$od/c_forced.json"
    fi
    cj=$od/c.json; [ -s "$cj" ] || cj=$od/c_forced.json
    : >"$od/c_bf16.json"
    : >"$od/c_bf16_f32.json"
    if [ -n "$bf16dir" ]; then
        core=$BENCH_CORETYPE; [ "$core" = none ] && core=
        tgt=$(jget "$cj" target)
        echo "== matrice (C), BF16 copy, weights as stored${core:+, OPENBLAS_CORETYPE=$core}: $bf16dir"
        env -u MT_WEIGHTS ${core:+OPENBLAS_CORETYPE=$core} "$BIN" "$@" $grp --target "$tgt" \
            --scores "$od/scores_c_bf16.npy" "$bf16dir" "$STEPS" "$TOKENS" "$crep" kn | tee "$od/c_bf16.json"
        if [ "${BENCH_BF16_REF:-1}" != 0 ]; then
            echo "== matrice (C), the same BF16 copy converted to f32 at load (MT_WEIGHTS=f32), once"
            env MT_WEIGHTS=f32 ${core:+OPENBLAS_CORETYPE=$core} "$BIN" "$@" $grp --target "$tgt" \
                --scores "$od/scores_c_bf16_f32.npy" "$bf16dir" "$STEPS" "$TOKENS" 1 kn | tee "$od/c_bf16_f32.json"
        fi
    fi

    : >"$od/torch.json"
    : >"$od/torch64.json"
    if [ "$trep" -gt 0 ]; then
        # The same ids and target as the C program.
        ids=$(jget "$cj" ids) mpos=$(jget "$cj" mask_pos) tgt=$(jget "$cj" target)
        tdir=$model gguf=
        case $model in *.gguf) tdir=$(dirname "$model") gguf="--gguf $(basename "$model")" ;; esac
        echo "== PyTorch (peer-style: whole model per step batch, every position)"
        # shellcheck disable=SC2086
        $PY bench/ig_torch.py "$tdir" $gguf --steps "$STEPS" --repeats "$trep" --ids "$ids" --mask-pos "$mpos" \
            --target "$tgt" --scores "$od/scores_torch.npy" 2>&1 >"$od/torch.json" | grep -v '^Loading weights' || true
        cat "$od/torch.json"
        if [ "${BENCH_F64:-0}" = 1 ]; then
            echo "== PyTorch float64"
            # shellcheck disable=SC2086
            $PY bench/ig_torch.py "$tdir" $gguf --steps "$STEPS" --repeats 1 --ids "$ids" --mask-pos "$mpos" \
                --target "$tgt" --float64 --scores "$od/scores_torch64.npy" 2>&1 >"$od/torch64.json" |
                grep -v '^Loading weights' || true
            cat "$od/torch64.json"
        fi
    fi

    if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
        core=$BENCH_CORETYPE; [ "$core" = none ] && core=
        echo "== perf: one C prompt (OpenBLAS core ${core:-as detected})"
        env ${core:+OPENBLAS_CORETYPE=$core} perf record -q -o "$od/perf.data" \
            "$BIN" "$@" "$model" "$STEPS" "$TOKENS" 1 kn >/dev/null 2>&1 || true
        perf report -i "$od/perf.data" --no-children --sort dso,symbol --percent-limit 1 --stdio 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -25 || true
    fi
}

ran=
for name in $MODELS; do
    case $name in
    mbert)
        dir=${BENCH_MBERT_DIR:-${BENCH_MODEL:-cache/bench/mbert-base}}
        echo "== model: $name"
        $PY bench/make_model.py "$dir" --arch mbert
        bf16_copy mbert "$dir"
        bench_one mbert "$dir" "$REPEATS" "$TREPEATS" ;;
    xlmr)
        dir=${BENCH_XLMR_DIR:-cache/bench/xlmr-base}
        echo "== model: $name"
        $PY bench/make_model.py "$dir" --arch xlmr
        bf16_copy xlmr "$dir"
        bench_one xlmr "$dir" "$BIGREPEATS" "$BIGREPEATS" ;;
    qwen2)
        dir=${BENCH_QWEN2_DIR:-cache/bench/qwen2-0.5b}
        echo "== model: $name"
        $PY bench/make_model.py "$dir" --arch qwen2
        bf16_copy qwen2 "$dir"
        bench_one qwen2 "$dir" "$BIGREPEATS" "$BIGREPEATS" ;;
    gemma3)
        gguf=${BENCH_GEMMA3_GGUF:-cache/models/gemma-3-270m-q4_k_m.gguf}
        if [ ! -f "$gguf" ]; then
            echo "== gemma3: $gguf is absent, skipped"
            continue
        fi
        trep=0; [ "${BENCH_GEMMA_TORCH:-0}" = 1 ] && trep=$BIGREPEATS
        bf16dir=
        case " $BF16_MODELS " in *" gemma3 "*) echo "== gemma3: no BF16 copy of a quantized GGUF, BENCH_BF16 row skipped" ;; esac
        bench_one gemma3 "$gguf" "$BIGREPEATS" "$trep" --bos ;;
    *) echo "bench: unknown model '$name' (mbert, xlmr, qwen2, gemma3)" >&2; exit 2 ;;
    esac
    ran="$ran $name"
done

cut -d' ' -f1-3 /proc/loadavg >>"$OUTDIR/loadavg.txt" 2>/dev/null || :
echo
# shellcheck disable=SC2086
$PY bench/report.py "$OUTDIR" $ran
echo "(make bench took $(($(date +%s) - t_start)) s; raw results in $OUTDIR)"
