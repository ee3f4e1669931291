#!/bin/sh
# CLI tests: the commands' JSON on the golden models, and bad input. Every bad input must give
# a non-zero exit, exactly one line on stderr that names the file/field, and nothing on stdout.
# Each case is appended to $MT_BAD_INPUT_TABLE (if set) as a Markdown row for docs/BAD_INPUTS.md (tests/cli/lib/bad_input_row.sh).
: "${MATRICE:=build/matrice}"
M=tests/golden/models/bert
X=tests/golden/models/xlmr
. tests/cli/lib/bad_input_row.sh
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }

# expect_error NAME EXPECTED_SUBSTRING -- matrice args...
expect_error() {
    name=$1; want=$2; shift 3
    "$MATRICE" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -eq 0 ]; then ko "$name: exit 0"; return; fi
    if [ -s "$tmp/out" ]; then ko "$name: wrote to stdout"; return; fi
    first=$(head -n 1 "$tmp/err")
    case "$first" in *"$want"*) ;; *) ko "$name: stderr '$first' lacks '$want'"; return ;; esac
    # usage errors may add the usage text; other errors are one line
    if [ "$rc" -ne 2 ] && [ "$lines" -ne 1 ]; then ko "$name: $lines lines on stderr"; return; fi
    ok
    bad_input_row "$name" "$rc" "$first" "$(bad_input_left "$@")" "$@"
}

# expect_ok NAME PATTERN -- matrice args...
expect_ok() {
    name=$1; want=$2; shift 3
    "$MATRICE" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    if [ "$rc" -ne 0 ]; then ko "$name: exit $rc: $(head -n 1 "$tmp/err")"; return; fi
    if ! grep -q -- "$want" "$tmp/out"; then ko "$name: output lacks '$want'"; return; fi
    ok
}

mkmodel() { # copy a golden model folder to $tmp/$1
    rm -rf "$tmp/$1"; mkdir -p "$tmp/$1"; cp "$2"/config.json "$2"/tokenizer.json "$tmp/$1"/
    [ -f "$2/model.safetensors" ] && cp "$2/model.safetensors" "$tmp/$1/"
    return 0
}

# ---- working commands
expect_ok "tokenize bert" '"ids"' -- tokenize --model $M --text "Paris is the capital of France."
expect_ok "tokenize xlmr" '"tokens"' -- tokenize --model $X --text "Pariisi on Ranskan pääkaupunki."
expect_ok "predict bert" '"answer_position"' -- predict --model $M --query "Paris is the capital of [Y] ." --top 3
expect_ok "predict xlmr" '"prob"' -- predict --model $X --query "Paris ist die Hauptstadt von [Y] ." --top 3
expect_ok "attribute kn" '"top_neurons"' -- attribute --model $M --query "Paris is the capital of [Y] ." --answer France --steps 4 --scores "$tmp/s.npy"
if [ -s "$tmp/s.npy" ] && head -c 6 "$tmp/s.npy" | grep -q NUMPY; then ok; else ko "attribute --scores wrote no .npy"; fi
expect_ok "attribute amig multi-token" '"completeness"' -- attribute --model $X --query "La capitale de la France est [Y] ." --answer "Paris Berlin" --method amig --steps 3 --target logprob

# ---- causal models (byte-level BPE and SentencePiece-BPE tokenizers) and GGUF
Q=tests/golden/cli/qwen2
G=tests/golden/cli/gemma3
expect_ok "predict causal qwen2" '"answer_position": 5' -- predict --model $Q --query "The capital of France is [Y]" --top 3
expect_ok "predict causal gemma3 (BOS)" '"<bos>"' -- predict --model $G --query "The capital of France is [Y]." --top 3
expect_ok "attribute causal multi-token amig" '"completeness"' -- attribute --model $G --query "Die Hauptstadt von Frankreich ist [Y]." --answer "Parisienne" --method amig --steps 3
expect_ok "attribute causal --neuron gate" '"neuron": "gate"' -- attribute --model $Q --query "The capital of France is [Y]" --answer Paris --steps 2 --neuron gate
expect_ok "tokenize with byte-level BPE" '"ids"' -- tokenize --model $Q --text "Hello world"
expect_error "causal query with [Y] not final" "must be final" -- predict --model $Q --query "[Y] is the capital of France."
expect_error "neuron kind the model lacks" "pre_act" -- attribute --model $Q --query "The capital of France is [Y]" --answer Paris --neuron pre_act
T=tests/golden/causal/llama/model.gguf
head -c 3000 $T >"$tmp/trunc.gguf"
expect_error "GGUF truncated" "trunc.gguf" -- predict --model "$tmp/trunc.gguf" --query "a [Y]"
{ printf 'GGUF\001\000\000\000'; tail -c +9 $T; } >"$tmp/v1.gguf"
expect_error "GGUF version 1" "v1.gguf" -- predict --model "$tmp/v1.gguf" --query "a [Y]"
expect_error "GGUF without a tokenizer" "tokenizer" -- predict --model $T --query "a [Y]"

# ---- bad input
expect_error "model folder missing" "$tmp/nope" -- predict --model "$tmp/nope" --query "a [Y] ."
mkmodel cfgtrunc $M; head -c 40 $M/config.json >"$tmp/cfgtrunc/config.json"
expect_error "config.json truncated (malformed JSON)" "config.json" -- predict --model "$tmp/cfgtrunc" --query "a [Y] ."
mkmodel arch $M; sed 's/"model_type": *"bert"/"model_type": "gpt_neox"/' $M/config.json >"$tmp/arch/config.json"
expect_error "unknown architecture (model_type gpt_neox)" "gpt_neox" -- predict --model "$tmp/arch" --query "a [Y] ."
mkmodel nohid $M; sed 's/"hidden_size"/"hidden_sizes"/' $M/config.json >"$tmp/nohid/config.json"
expect_error "config.json without hidden_size" "hidden_size" -- predict --model "$tmp/nohid" --query "a [Y] ."
mkmodel layers $M; sed 's/"num_hidden_layers": *\([0-9]*\)/"num_hidden_layers": 9/' $M/config.json >"$tmp/layers/config.json"
expect_error "tensor missing (config claims more layers)" "is missing" -- predict --model "$tmp/layers" --query "a [Y] ."
mkmodel hid $M; sed 's/"intermediate_size": *\([0-9]*\)/"intermediate_size": 77/' $M/config.json >"$tmp/hid/config.json"
expect_error "tensor shape differs from config.json" "shape" -- predict --model "$tmp/hid" --query "a [Y] ."
mkmodel trunc $M; head -c 5000 $M/model.safetensors >"$tmp/trunc/model.safetensors"
expect_error "safetensors truncated" "model.safetensors" -- predict --model "$tmp/trunc" --query "a [Y] ."
mkmodel tiny $M; printf 'abc' >"$tmp/tiny/model.safetensors"
expect_error "safetensors shorter than its 8-byte header length" "model.safetensors" -- predict --model "$tmp/tiny" --query "a [Y] ."
mkmodel lie $M; { printf '\377\377\377\377\000\000\000\000'; tail -c +9 $M/model.safetensors; } >"$tmp/lie/model.safetensors"
expect_error "safetensors header length lies (4 GB)" "model.safetensors" -- predict --model "$tmp/lie" --query "a [Y] ."
mkmodel dtype $M; perl -0777 -pe 's/"dtype":"F32"/"dtype":"Q32"/' $M/model.safetensors >"$tmp/dtype/model.safetensors"
expect_error "safetensors unknown dtype Q32" "Q32" -- predict --model "$tmp/dtype" --query "a [Y] ."
mkmodel off $M; perl -0777 -pe 's/("data_offsets":\[)0,/${1}4,/' $M/model.safetensors >"$tmp/off/model.safetensors"
expect_error "safetensors offsets not contiguous" "model.safetensors" -- predict --model "$tmp/off" --query "a [Y] ."
mkmodel garbage $M; cat $M/model.safetensors >"$tmp/garbage/model.safetensors"; printf 'xx' >>"$tmp/garbage/model.safetensors"
expect_error "safetensors trailing bytes" "model.safetensors" -- predict --model "$tmp/garbage" --query "a [Y] ."
mkmodel nost $M; rm -f "$tmp/nost/model.safetensors"
expect_error "no weights file" "safetensors" -- predict --model "$tmp/nost" --query "a [Y] ."
mkmodel toktrunc $M; head -c 100 $M/tokenizer.json >"$tmp/toktrunc/tokenizer.json"
expect_error "tokenizer.json malformed" "tokenizer.json" -- predict --model "$tmp/toktrunc" --query "a [Y] ."
expect_error "query without [Y]" "[Y]" -- predict --model $M --query "Paris is the capital of France ."
expect_error "query with two [Y]" "[Y]" -- predict --model $M --query "[Y] is the capital of [Y] ."
expect_error "empty answer" "answer" -- attribute --model $M --query "Paris is the capital of [Y] ." --answer "  "
expect_error "answer the tokenizer cannot express" "cannot express" -- attribute --model $M --query "Paris is the capital of [Y] ." --answer "☃"
expect_error "invalid UTF-8 in the query" "UTF-8" -- predict --model $M --query "$(printf 'caf\351 [Y] .')"
expect_error "steps out of range" "--steps" -- attribute --model $M --query "a [Y] ." --answer France --steps 0
expect_error "unknown method" "--method" -- attribute --model $M --query "a [Y] ." --answer France --method foo
expect_error "unknown option" "unknown option --bogus" -- predict --model $M --query "a [Y] ." --bogus
expect_error "unknown command" "unknown command" -- frobnicate
expect_error "scores file in a missing folder" "$tmp/no/dir" -- attribute --model $M --query "Paris is the capital of [Y] ." --answer France --steps 2 --scores "$tmp/no/dir/s.npy"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
