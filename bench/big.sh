#!/bin/sh
# bench/big.sh: can matrice attribute a 7B model on this machine? IG (m = 20, zero baseline) of
# one ~12-token query on a few layers of a random-weight Llama-2-7B-shaped BF16 checkpoint
# (bench/make_big.py: 6.74B parameters, 13.5 GB as BF16, 27 GB as F32), timed under
# /usr/bin/time -v, once per weight variant:
#   native  weights kept in their storage type (BF16): should fit in ~14 GB
#   f32     MT_WEIGHTS=f32: every weight converted to F32 at load (27 GB): expected not to fit in
#           a 24 GB machine; reported as "out of memory" or "killed", which is not an error here
# Prints per variant: exit, wall seconds, load and IG seconds (bench_ig's own), peak RSS (time -v's
# "Maximum resident set size", which counts touched pages of the mmapped shards too). Raw files:
# $OUTDIR/<variant>.{json,err,time}. Exit status 1 only when the native variant fails.
#
# Environment:
#   BENCH_BIG_DIR     checkpoint folder (cache/big/llama7b-bf16, or cache/big/llama7b-bf16-<N>l with
#                     BENCH_BIG_MODEL_LAYERS=N); built with bench/make_big.py when absent (~2 min)
#   BENCH_BIG_MODEL_LAYERS  N < 32: a shallower model of the same width (quick checks)
#   BENCH_BIG_LAYERS  layers to attribute, "0 15 31" (commas or spaces; LO-HI ranges; "all"). Layer
#                     l costs a patched pass over the 31 - l layers above it (all 32 layers: ~7x
#                     the work of "0 15 31"); layers past the model's last are dropped
#   BENCH_BIG_STEPS (20)  BENCH_BIG_TOKENS (12)  BENCH_BIG_METHOD (kn | amig)
#   BENCH_BIG_VARIANTS  "native f32"
#   BENCH_BIG_VMEM    address-space limit (ulimit -v, kB) for every variant: default MemTotal, so a
#                     variant that cannot fit in RAM fails at malloc (out of memory) instead of
#                     paging or waking the OOM killer; "none": no limit (the process is then the
#                     OOM killer's first choice: oom_score_adj 1000)
#   BENCH_BIG_CORETYPE  OPENBLAS_CORETYPE for bench_ig (as the matrice CLI picks it: SkylakeX on
#                     AVX-512 machines, Haswell on AVX2 ones; Debian's OpenBLAS otherwise falls back to
#                     its generic Prescott kernels, 4-5x slower); "none": OpenBLAS's own detection
#   BENCH_BIG_THREADS  MT_THREADS and OPENBLAS_NUM_THREADS for bench_ig (default: unset, all cores)
#   BENCH_BIG_BIN     the bench_ig to run (default: $BUILD/bench_ig, made first with make)
#   OUTDIR            raw results ($BUILD/big)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
ML=${BENCH_BIG_MODEL_LAYERS:-}
DEFDIR=cache/big/llama7b-bf16
[ -n "$ML" ] && [ "$ML" != 32 ] && DEFDIR=$DEFDIR-${ML}l
DIR=${BENCH_BIG_DIR:-$DEFDIR}
LAYERS=${BENCH_BIG_LAYERS:-0 15 31}
STEPS=${BENCH_BIG_STEPS:-20}
TOKENS=${BENCH_BIG_TOKENS:-12}
METHOD=${BENCH_BIG_METHOD:-kn}
VARIANTS=${BENCH_BIG_VARIANTS:-native f32}
OUTDIR=${OUTDIR:-$BUILD/big}
PY=${PYTHON:-python3}
[ -x .venv/bin/python3 ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python3
mkdir -p "$OUTDIR" || exit 1

if [ -n "${BENCH_BIG_BIN:-}" ]; then
    BIN=$BENCH_BIG_BIN
else
    echo "== build"
    make -s "$BUILD/bench_ig" || exit 1
    BIN=$BUILD/bench_ig
fi
[ -x /usr/bin/time ] || { echo "big: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

if [ ! -f "$DIR/config.json" ] || [ ! -f "$DIR/model.safetensors.index.json" ]; then
    echo "== model: $DIR is absent, building it"
    $PY bench/make_big.py "$DIR" ${ML:+--layers "$ML"} || exit 1
fi

# config.json's num_hidden_layers and torch_dtype (plain sed: the file is make_big.py's)
cfg() { sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$DIR/config.json" | head -1; }
NL=$(cfg num_hidden_layers)
# the layer list, as bench_ig's --layers: drop layers the model lacks
sel=
if [ "$LAYERS" != all ]; then
    for item in $(echo "$LAYERS" | tr ',' ' '); do
        lo=${item%-*} hi=${item#*-}
        case $lo$hi in *[!0-9]*|'') echo "big: bad BENCH_BIG_LAYERS item '$item'" >&2; exit 2 ;; esac
        [ "$lo" -ge "$NL" ] && { echo "big: layer $lo dropped: the model has $NL layers"; continue; }
        [ "$hi" -ge "$NL" ] && hi=$((NL - 1))
        if [ "$lo" = "$hi" ]; then item=$lo; else item=$lo-$hi; fi
        sel=${sel:+$sel,}$item
    done
    [ -n "$sel" ] || { echo "big: no layer of '$LAYERS' is in the model" >&2; exit 2; }
fi
[ -n "$sel" ] || sel=all

CORE=${BENCH_BIG_CORETYPE:-${OPENBLAS_CORETYPE:-}}
if [ -z "$CORE" ]; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
    if has avx512f && has avx512bw && has avx512vl; then CORE=SkylakeX
    elif has avx2 && has fma; then CORE=Haswell
    else CORE=none; fi
fi
[ "$CORE" = none ] && CORE=

memtotal=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
VMEM=${BENCH_BIG_VMEM:-$memtotal}
echo "== model: $DIR ($(du -sh "$DIR" | cut -f1) on disk; $NL layers; $(cfg torch_dtype))"
echo "== machine: $(nproc) cores, MemTotal $((memtotal / 1024)) MB, MemAvailable $(($(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024)) MB"
echo "== bench_ig --layers $sel $DIR $STEPS $TOKENS 1 $METHOD  (threads: ${BENCH_BIG_THREADS:-all}; OpenBLAS core: ${CORE:-detected}; ulimit -v: $VMEM)"

jnum() { sed -n "s/.*\"$2\": \([-0-9.e+]*\).*/\1/p" "$1"; }
# wall clock of time -v ("h:mm:ss" or "m:ss.ss") in seconds
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" | awk -F: '{s=0; for(i=1;i<=NF;i++) s=s*60+$i; printf "%.1f", s}'; }
rss_mb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{printf "%.0f", $1/1024}'; }

status=0
rows=
for v in $VARIANTS; do
    case $v in
    native) wenv= ;;
    f32) wenv=MT_WEIGHTS=f32 ;;
    *) echo "big: unknown variant '$v' (native, f32)" >&2; exit 2 ;;
    esac
    out=$OUTDIR/$v.json err=$OUTDIR/$v.err tv=$OUTDIR/$v.time
    : >"$out"; : >"$err"; : >"$tv"
    echo
    echo "######## $v${wenv:+ ($wenv)}"
    # a subshell: the limits stay with this variant's process
    (
        # shellcheck disable=SC3045 # dash and bash have ulimit -v
        [ "$VMEM" != none ] && { ulimit -v "$VMEM" || exit 125; }
        echo 1000 >/proc/self/oom_score_adj 2>/dev/null
        exec env -u MT_WEIGHTS -u OPENBLAS_CORETYPE $wenv ${CORE:+OPENBLAS_CORETYPE=$CORE} ${BENCH_BIG_THREADS:+MT_THREADS=$BENCH_BIG_THREADS OPENBLAS_NUM_THREADS=$BENCH_BIG_THREADS} \
            /usr/bin/time -v -o "$tv" "$BIN" --layers "$sel" "$DIR" "$STEPS" "$TOKENS" 1 "$METHOD"
    ) >"$out" 2>"$err"
    rc=$?
    cat "$err" "$out"
    sig=$(sed -n 's/^Command terminated by signal \([0-9]*\)/\1/p' "$tv")
    if [ "$rc" = 0 ] && [ -s "$out" ]; then
        res=ok
    elif [ -n "$sig" ]; then
        res="killed by signal $sig"
        [ "$sig" = 9 ] && res="$res (SIGKILL: the OOM killer, most likely)"
    elif grep -qi "out of memory\|cannot allocate" "$err"; then
        res="out of memory: $(grep -i "out of memory\|cannot allocate" "$err" | tail -1)"
    else
        res="failed (exit $rc): $(tail -1 "$err")"
    fi
    [ "$v" = native ] && [ "$res" != ok ] && status=1
    w=$(wall "$tv") r=$(rss_mb "$tv")
    ld=$(jnum "$out" load_seconds) ig=$(jnum "$out" seconds_best) rj=$(jnum "$out" peak_rss_mb)
    gf=$(jnum "$out" gflop_model)
    rows="$rows$(printf '%-7s %8s %8s %8s %10s %12s %9s  %s' "$v" "${w:--}" "${ld:--}" "${ig:--}" "${gf:--}" \
        "${r:--}" "${rj:--}" "$res")
"
done

echo
echo "== $DIR, layers $sel, m = $STEPS, $TOKENS tokens, $METHOD"
printf '%-7s %8s %8s %8s %10s %12s %9s  %s\n' variant wall_s load_s ig_s ig_gflop peak_rss_MB rss_MB* result
printf '%s' "$rows"
echo "(peak_rss_MB: /usr/bin/time -v; rss_MB*: bench_ig's getrusage at exit; raw files in $OUTDIR)"
exit $status
