#!/bin/sh
# matrice locate / merge: results per fact, resume, shards, SIGKILL and SIGINT mid-run, MPI,
# and bad input (each case a row of the bad-input table: tests/cli/lib/expect.sh).
: "${MATRICE:=build/matrice}"
M=tests/golden/cli/qwen2
D=tests/data/locate-mini.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/cli/lib/expect.sh

facts_in() { ls "$1/facts" 2>/dev/null | grep -c '\.json$'; }
temps_in() { ls -a "$1/facts" 2>/dev/null | grep -c 'tmp'; }
loc() { "$MATRICE" locate --model $M --data $D --quiet "$@"; }

# ---- a full run, and its merge
loc --out "$tmp/a" --langs en,de,zh --steps 6 2>"$tmp/err"
check "locate runs" '[ $? -eq 0 ]'
check "one result per fact" '[ "$(facts_in "$tmp/a")" -eq 12 ]'
"$MATRICE" merge "$tmp/a" --out "$tmp/a.jsonl" --no-timings 2>/dev/null
check "merge writes 12 lines" '[ "$(wc -l <"$tmp/a.jsonl")" -eq 12 ]'
check "merge writes a summary" 'grep -q "\"lakn_per_fact\"" "$tmp/a.jsonl.summary.json"'
check "summary has a layer histogram" 'grep -q "\"layer_histogram\"" "$tmp/a.jsonl.summary.json"'
check "every query of a causal model without a final [Y] is recorded with its reason" \
    'grep -q "must be final for a causal model" "$tmp/a.jsonl"'
check "no timing left with --no-timings" '! grep -q "\"seconds\"" "$tmp/a.jsonl"'

# ---- resume: a second run skips everything; a partial run is completed
loc --out "$tmp/a" --langs en,de,zh --steps 6 2>/dev/null
check "rerun is a no-op" '[ "$(facts_in "$tmp/a")" -eq 12 ]'
loc --out "$tmp/b" --langs en,de,zh --steps 6 --facts 5 2>/dev/null
check "--facts 5 writes 5" '[ "$(facts_in "$tmp/b")" -eq 5 ]'
"$MATRICE" locate --model $M --data $D --out "$tmp/b" --langs en,de,zh --steps 6 2>"$tmp/err"
check "resume reports the finished facts" 'grep -q "12 facts in this shard, 5 already finished" "$tmp/err"'
"$MATRICE" merge "$tmp/b" --out "$tmp/b.jsonl" --no-timings 2>/dev/null
check "resumed run equals the uninterrupted one" 'cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl"'

# ---- shards: two halves in one folder equal the whole; merging two folders works too
loc --out "$tmp/s" --langs en,de,zh --steps 6 --shard 0/2 2>/dev/null
check "shard 0/2 writes half" '[ "$(facts_in "$tmp/s")" -eq 6 ]'
loc --out "$tmp/s2" --langs en,de,zh --steps 6 --shard 1/2 2>/dev/null
"$MATRICE" merge "$tmp/s" "$tmp/s2" --out "$tmp/s.jsonl" --no-timings 2>/dev/null
check "two shards merge to the whole" 'cmp -s "$tmp/a.jsonl" "$tmp/s.jsonl"'

# ---- --reuse: amig aggregated again from a matrice run's kept scores equals a fresh amig run
loc --out "$tmp/keep" --langs en,de,zh --steps 6 --keep-scores 2>/dev/null
check "--keep-scores writes one .npy per usable query" '[ "$(ls "$tmp/keep/scores/P17_Q457_Q142" | grep -c npy)" -ge 3 ]'
loc --out "$tmp/re" --langs en,de,zh --steps 6 --method amig --reuse "$tmp/keep" 2>/dev/null
loc --out "$tmp/fresh" --langs en,de,zh --steps 6 --method amig 2>/dev/null
"$MATRICE" merge "$tmp/re" --out "$tmp/re.jsonl" --no-timings 2>/dev/null
"$MATRICE" merge "$tmp/fresh" --out "$tmp/fresh.jsonl" --no-timings 2>/dev/null
check "reused queries are marked" 'grep -q "\"reused\":true" "$tmp/re.jsonl"'
sed 's/,"reused":true//g' "$tmp/re.jsonl" >"$tmp/re2.jsonl"
check "amig from reused scores equals a fresh amig run" 'cmp -s "$tmp/re2.jsonl" "$tmp/fresh.jsonl"'
expect_error "locate: --reuse of a run with other IG options" "field 'options.steps' differs" -- \
    locate --model $M --data $D --out "$tmp/re3" --langs en,de,zh --steps 7 --reuse "$tmp/keep" --quiet

# ---- SIGKILL mid-run, then resume: nothing lost, nothing repeated, identical results
slow="--langs en,de --steps 100"
loc --out "$tmp/full" $slow 2>/dev/null
"$MATRICE" merge "$tmp/full" --out "$tmp/full.jsonl" --no-timings 2>/dev/null
kill_run() { # SIG OUT: start a run, wait for its first finished fact, send SIG
    "$MATRICE" locate --model $M --data $D --quiet --out "$2" $slow 2>"$tmp/kerr" &
    pid=$!
    i=0
    while [ "$(facts_in "$2")" -lt 1 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
    kill -"$1" $pid 2>/dev/null
    wait $pid
    echo $?
}
rc=$(kill_run KILL "$tmp/k" 2>/dev/null)
n=$(facts_in "$tmp/k")
check "SIGKILL stops the run mid-way (exit $rc, $n facts)" '[ "$rc" -ne 0 ] && [ "$n" -ge 1 ] && [ "$n" -lt 12 ]'
loc --out "$tmp/k" $slow 2>/dev/null
"$MATRICE" merge "$tmp/k" --out "$tmp/k.jsonl" --no-timings 2>/dev/null
check "after SIGKILL + resume the results equal an uninterrupted run" 'cmp -s "$tmp/full.jsonl" "$tmp/k.jsonl"'
check "no temporary file left after resume" '[ "$(temps_in "$tmp/k")" -eq 0 ]'
[ "$n" -lt 12 ] && bad_input_row "locate killed with SIGKILL mid-run, then rerun" "$rc" "(killed: no message)" \
    "finished facts kept ($n of 12), no temp file; the rerun completes and equals an uninterrupted run" \
    locate --model $M --data $D --out "$tmp/k" $slow

rc=$(kill_run INT "$tmp/i" 2>/dev/null)
n=$(facts_in "$tmp/i")
check "SIGINT exits 130 (got $rc)" '[ "$rc" -eq 130 ]'
check "SIGINT prints how to resume" 'grep -q "rerun the same command to resume" "$tmp/kerr"'
check "SIGINT leaves no temporary file" '[ "$(temps_in "$tmp/i")" -eq 0 ]'
loc --out "$tmp/i" $slow 2>/dev/null
"$MATRICE" merge "$tmp/i" --out "$tmp/i.jsonl" --no-timings 2>/dev/null
check "after SIGINT + resume the results equal an uninterrupted run" 'cmp -s "$tmp/full.jsonl" "$tmp/i.jsonl"'
bad_input_row "locate interrupted with SIGINT mid-run, then rerun" "$rc" "$(head -n 1 "$tmp/kerr")" \
    "finished facts kept ($(facts_in "$tmp/i") before the rerun), no temp file; the rerun equals an uninterrupted run" \
    locate --model $M --data $D --out "$tmp/i" $slow

# ---- OpenMPI: two ranks split the facts (when make test built the MPI binary and names it in
# $MATRICE_MPI). Both sides run with one BLAS/kernel thread per process, since summation order
# follows the thread count.
MPI_BIN=${MATRICE_MPI:-}
if [ -n "$MPI_BIN" ] && [ -x "$MPI_BIN" ] && command -v mpirun >/dev/null 2>&1; then
    export OPENBLAS_NUM_THREADS=1 MT_THREADS=1
    loc --out "$tmp/one" --langs en,de,zh --steps 6 2>/dev/null
    "$MATRICE" merge "$tmp/one" --out "$tmp/one.jsonl" --no-timings 2>/dev/null
    mpirun --allow-run-as-root --oversubscribe -np 2 -x OPENBLAS_NUM_THREADS -x MT_THREADS "$MPI_BIN" locate \
        --model $M --data $D --quiet --out "$tmp/mpi" --langs en,de,zh --steps 6 >/dev/null 2>"$tmp/mpierr"
    check "mpirun -np 2 finishes ($(head -c 200 "$tmp/mpierr"))" '[ $? -eq 0 ] && [ "$(facts_in "$tmp/mpi")" -eq 12 ]'
    "$MATRICE" merge "$tmp/mpi" --out "$tmp/mpi.jsonl" --no-timings 2>/dev/null
    check "mpirun -np 2 equals the single-process run" 'cmp -s "$tmp/one.jsonl" "$tmp/mpi.jsonl"'
    unset OPENBLAS_NUM_THREADS MT_THREADS
fi

# ---- bad input
expect_error "locate: language not in the data file" "language 'xx' is not in the data file" -- \
    locate --model $M --data $D --out "$tmp/x1" --langs en,xx --quiet
check "nothing written for a missing language" '[ "$(facts_in "$tmp/x1")" -eq 0 ]'
expect_error "locate: folder made with other options" "field 'options' is" -- \
    locate --model $M --data $D --out "$tmp/a" --langs en,de,zh --steps 7 --quiet
expect_error "locate: folder made with other languages" "field 'languages' is" -- \
    locate --model $M --data $D --out "$tmp/a" --langs en,de --steps 6 --quiet
expect_error "locate: --shard K/N with K >= N" "--shard must be K/N" -- \
    locate --model $M --data $D --out "$tmp/x2" --shard 2/2
expect_error "locate: unknown method" "--method must be kn|amig|matrice" -- \
    locate --model $M --data $D --out "$tmp/x2" --method foo
expect_error "locate: missing data file" "$tmp/none.jsonl" -- \
    locate --model $M --data "$tmp/none.jsonl" --out "$tmp/x3" --quiet
printf '{"format":"x"}\n{"id": 5}\n' >"$tmp/bad.jsonl"
expect_error "locate: fact without a string id" "bad.jsonl:2: field 'id'" -- \
    locate --model $M --data "$tmp/bad.jsonl" --out "$tmp/x4" --quiet
mkdir -p "$tmp/ro" && chmod 500 "$tmp/ro"
if [ "$(id -u)" -ne 0 ]; then
    expect_error "locate: unwritable output folder" "cannot create" -- \
        locate --model $M --data $D --out "$tmp/ro/x" --quiet
fi
expect_error "locate: output path is a file" "exists and is not a folder" -- \
    locate --model $M --data $D --out "$D" --quiet
expect_error "merge: not a result folder" "not a result folder" -- merge "$tmp/x4/nothing" --out "$tmp/m.jsonl"
check "merge wrote nothing" '[ ! -e "$tmp/m.jsonl" ]'
expect_error "merge: results of different runs" "field 'options' differs" -- merge "$tmp/a" "$tmp/full" --out "$tmp/m.jsonl"
expect_error "merge: the same fact twice" "is in" -- merge "$tmp/a" "$tmp/b" --out "$tmp/m.jsonl"
cp "$tmp/a/facts/P17_Q457_Q142.json" "$tmp/s/facts/zz.json" && printf '{"schema":"matrice.locate.v1"}' >"$tmp/s/facts/P17_Q457_Q142.json"
expect_error "merge: a damaged result file" "P17_Q457_Q142.json: missing field 'fact'" -- merge "$tmp/s" --out "$tmp/m.jsonl"
check "merge wrote nothing after an error" '[ ! -e "$tmp/m.jsonl" ] && [ ! -e "$tmp/m.jsonl.summary.json" ]'
# a damaged result is redone by the next run (it never counts as finished)
rm -f "$tmp/s/facts/zz.json"
loc --out "$tmp/s" --langs en,de,zh --steps 6 --shard 0/2 2>"$tmp/err"
check "a damaged result file is redone on resume" '"$MATRICE" merge "$tmp/s" --out "$tmp/m2.jsonl" 2>/dev/null'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
