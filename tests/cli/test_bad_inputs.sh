#!/bin/sh
# Bad inputs, part 2 (test_cli.sh has the first): NaN/Inf weights, huge dimensions, unknown
# dtypes and architectures, lying safetensors/GGUF headers, empty and oversized queries,
# invalid UTF-8, answers the tokenizer cannot express, missing languages, disk full, unwritable
# or missing output folders, SIGINT/SIGTERM/SIGKILL mid-run. Every case checks: non-zero exit,
# nothing on stdout, exactly one stderr line holding the expected file/field, and no output left
# behind (neither the target file nor a temp file next to it). Each case is appended to
# $MT_BAD_INPUT_TABLE (tools/bad_input_table.sh makes docs/BAD_INPUTS.md from it).
: "${MATRICE:=build/matrice}"
. tests/cli/lib/bad_input_row.sh
B=tests/golden/models/bert
X=tests/golden/models/xlmr
Q=tests/golden/cli/qwen2
G=tests/golden/causal/llama/model.gguf
F=tests/fuzz/seeds/jsonl/fixture.jsonl
RAWFX=tests/data/raw-fixture/good
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }

# leftovers OUT: what a failed command left at OUT (the file, temp files next to it, the filter's
# .dropped.jsonl); empty when nothing.
leftovers() {
    [ "$1" = - ] && return 0
    for f in "$1" "$1".tmp.* "$1".dropped.jsonl "$1".dropped.jsonl.tmp.*; do
        [ -e "$f" ] && printf '%s ' "$f"
    done
    return 0
}

# check NAME WANT OUT RC [matrice args...]: judges the run whose stdout/stderr are in $tmp/out,
# $tmp/err; OUT is the output file the command was asked to write ("-" when it writes none).
check() {
    name=$1 want=$2 out=$3 rc=$4; shift 4
    first=$(head -n 1 "$tmp/err")
    left=$(leftovers "$out")
    if [ "$rc" -eq 0 ]; then ko "$name: exit 0"; return; fi
    if [ -s "$tmp/out" ]; then ko "$name: wrote to stdout"; return; fi
    if [ "$(wc -l <"$tmp/err")" -ne 1 ]; then ko "$name: $(wc -l <"$tmp/err") lines on stderr: $first"; return; fi
    case "$first" in *"$want"*) ;; *) ko "$name: stderr '$first' lacks '$want'"; return ;; esac
    if [ -n "$left" ]; then ko "$name: left $left"; return; fi
    ok
    if [ "$out" = - ]; then note="none (writes no file)"; else note="none (no file, no temp file)"; fi
    bad_input_row "$name" "$rc" "$first" "$note" "$@"
}

# bad NAME WANT OUT -- matrice args...
bad() {
    name=$1 want=$2 out=$3; shift 4
    "$MATRICE" "$@" >"$tmp/out" 2>"$tmp/err"
    check "$name" "$want" "$out" $? "$@"
}

mkmodel() { # mkmodel NAME SRC: a copy of a golden model folder in $tmp/NAME
    rm -rf "$tmp/$1"; mkdir -p "$tmp/$1"
    for f in config.json tokenizer.json model.safetensors; do [ -f "$2/$f" ] && cp "$2/$f" "$tmp/$1/"; done
    return 0
}
# st_fill IN OUT HEX: the safetensors file IN with every data byte replaced by the pattern HEX
st_fill() {
    perl -e 'open F, "<:raw", $ARGV[0] or die; local $/; $d = <F>; $n = unpack "Q<", substr $d, 0, 8;
        $p = pack "H*", $ARGV[2]; $l = length($d) - 8 - $n; substr($d, 8 + $n) = substr($p x ($l / length($p) + 1), 0, $l);
        open O, ">:raw", $ARGV[1] or die; print O $d' "$@"
}
# st_header IN OUT PERL: IN with the Perl substitution PERL applied to its JSON header (length fixed up)
st_header() {
    perl -e 'open F, "<:raw", $ARGV[0] or die; local $/; $d = <F>; $n = unpack "Q<", substr $d, 0, 8;
        $_ = substr $d, 8, $n; eval $ARGV[2]; die $@ if $@;
        open O, ">:raw", $ARGV[1] or die; print O pack("Q<", length), $_, substr($d, 8 + $n)' "$@"
}
# gguf_tensor IN OUT TENSOR type|dim0 VALUE: IN with one field of a tensor info overwritten
gguf_tensor() {
    perl -e 'open F, "<:raw", $ARGV[0] or die; local $/; $d = <F>; $t = $ARGV[2];
        $i = index $d, pack("Q<", length $t) . $t; die "no tensor $t" if $i < 0; $p = $i + 8 + length $t;
        $nd = unpack "V", substr $d, $p, 4;
        if ($ARGV[3] eq "type") { substr($d, $p + 4 + 8 * $nd, 4) = pack "V", $ARGV[4] }
        else { substr($d, $p + 4, 8) = pack "Q<", $ARGV[4] }
        open O, ">:raw", $ARGV[1] or die; print O $d' "$@"
}
# st_bf16 IN OUT: IN with every F32 tensor stored as BF16 (the upper 16 bits: truncation, fine here)
st_bf16() {
    perl -MJSON::PP -e 'open F, "<:raw", $ARGV[0] or die; local $/; $d = <F>; $n = unpack "Q<", substr $d, 0, 8;
        $h = decode_json(substr $d, 8, $n); $body = ""; $off = 0;
        for $k (sort { $h->{$a}{data_offsets}[0] <=> $h->{$b}{data_offsets}[0] } grep { $_ ne "__metadata__" } keys %$h) {
            $t = $h->{$k}; ($b0, $b1) = @{$t->{data_offsets}}; $x = substr $d, 8 + $n + $b0, $b1 - $b0;
            if ($t->{dtype} eq "F32") { $x = pack "v*", map { $_ >> 16 } unpack "V*", $x; $t->{dtype} = "BF16" }
            $t->{data_offsets} = [$off, $off + length $x]; $off += length $x; $body .= $x;
        }
        $j = JSON::PP->new->canonical->encode($h); $j .= " " x ((8 - length($j) % 8) % 8);
        open O, ">:raw", $ARGV[1] or die; print O pack("Q<", length $j), $j, $body' "$@"
}
words() { perl -e 'print "word " x $ARGV[0]' "$1"; }

# ---- weights: NaN / Inf, unknown or unconvertible dtypes, lying headers
mkmodel nan $Q; st_fill $Q/model.safetensors "$tmp/nan/model.safetensors" ffffffff
bad "NaN weights (every F32 value NaN)" "non-finite" - -- predict --model "$tmp/nan" --query "The capital of France is [Y]"
mkmodel bf $Q; st_bf16 $Q/model.safetensors "$tmp/bf/model.safetensors"
if "$MATRICE" predict --model "$tmp/bf" --query "The capital of France is [Y]" >/dev/null 2>"$tmp/err"; then ok; else ko "BF16 copy of the qwen2 model does not load: $(head -n 1 "$tmp/err")"; fi
mkmodel nanbf $Q; st_fill "$tmp/bf/model.safetensors" "$tmp/nanbf/model.safetensors" ffff
bad "NaN weights kept as BF16 (every BF16 value NaN)" "non-finite" - -- predict --model "$tmp/nanbf" --query "The capital of France is [Y]"
export MT_WEIGHTS=fp32
bad "MT_WEIGHTS=fp32 in the environment (a typo of f32)" "MT_WEIGHTS=fp32" - -- predict --model "$tmp/bf" --query "The capital of France is [Y]"
unset MT_WEIGHTS
mkmodel inf $B; st_fill $B/model.safetensors "$tmp/inf/model.safetensors" 0000807f
bad "Inf weights (every F32 value +Inf)" "non-finite" - -- attribute --model "$tmp/inf" --query "Paris is the capital of [Y] ." --answer France --steps 2
mkmodel i32 $Q; st_header $Q/model.safetensors "$tmp/i32/model.safetensors" 's/"dtype":"F32","shape":\[3000,32\]/"dtype":"I32","shape":[3000,32]/'
bad "weight of dtype I32 (valid safetensors, not a float)" "dtype I32" - -- predict --model "$tmp/i32" --query "a [Y]"
mkmodel huge $Q; st_header $Q/model.safetensors "$tmp/huge/model.safetensors" 's/"shape":\[3000,32\]/"shape":[3000000000000,32]/'
bad "safetensors shape of 3e12 rows over 384 kB of data" "needs 384000000000000" - -- predict --model "$tmp/huge" --query "a [Y]"
mkmodel ovf $Q; st_header $Q/model.safetensors "$tmp/ovf/model.safetensors" 's/"shape":\[3000,32\]/"shape":[4294967296,4294967296,4294967296]/'
bad "safetensors shape overflowing 64 bits" "overflows" - -- predict --model "$tmp/ovf" --query "a [Y]"
mkmodel neg $Q; st_header $Q/model.safetensors "$tmp/neg/model.safetensors" 's/"shape":\[3000,32\]/"shape":[3000,-32]/'
bad "safetensors negative dimension" "shape[1] = -32" - -- predict --model "$tmp/neg" --query "a [Y]"
mkmodel nanj $Q; st_header $Q/model.safetensors "$tmp/nanj/model.safetensors" 's/"data_offsets":\[0,384000\]/"data_offsets":[0,NaN]/'
bad "safetensors header with a NaN literal" "NaN" - -- predict --model "$tmp/nanj" --query "a [Y]"
mkmodel dup $Q; st_header $Q/model.safetensors "$tmp/dup/model.safetensors" 's/"model.layers.0.input_layernorm.weight"/"model.embed_tokens.weight"/'
bad "safetensors duplicate tensor name" "duplicate" - -- predict --model "$tmp/dup" --query "a [Y]"

# ---- config.json: huge or negative dimensions, unknown architecture, wrong JSON type
mkmodel lay $Q; sed 's/"num_hidden_layers": 2/"num_hidden_layers": 1000000000/' $Q/config.json >"$tmp/lay/config.json"
bad "config.json: 10^9 layers" "num_hidden_layers" - -- predict --model "$tmp/lay" --query "a [Y]"
mkmodel hid $Q; sed 's/"hidden_size": 32/"hidden_size": 1000000000/' $Q/config.json >"$tmp/hid/config.json"
bad "config.json: hidden size 10^9" "hidden_size" - -- predict --model "$tmp/hid" --query "a [Y]"
mkmodel voc $Q; sed 's/"vocab_size": 3000/"vocab_size": 1000000000000/' $Q/config.json >"$tmp/voc/config.json"
bad "config.json: vocabulary of 10^12" "vocab_size" - -- predict --model "$tmp/voc" --query "a [Y]"
mkmodel ffn $Q; sed 's/"intermediate_size": 48/"intermediate_size": -1/' $Q/config.json >"$tmp/ffn/config.json"
bad "config.json: negative FFN size" "intermediate_size" - -- predict --model "$tmp/ffn" --query "a [Y]"
mkmodel mamba $Q; sed 's/"model_type": "qwen2"/"model_type": "mamba"/; s/Qwen2ForCausalLM/MambaForCausalLM/' $Q/config.json >"$tmp/mamba/config.json"
bad "unknown architecture (model_type mamba)" "mamba" - -- predict --model "$tmp/mamba" --query "a [Y]"
mkmodel arr $Q; printf '[1, 2, 3]\n' >"$tmp/arr/config.json"
bad "config.json is an array" "config.json" - -- predict --model "$tmp/arr" --query "a [Y]"

# ---- GGUF: unknown tensor type, huge dimension, bad block multiple, unknown architecture
gguf_tensor $G "$tmp/type.gguf" token_embd.weight type 99
bad "GGUF unknown ggml type 99" "'type' = 99" - -- predict --model "$tmp/type.gguf" --query "a [Y]"
gguf_tensor $G "$tmp/dim.gguf" token_embd.weight dim0 1099511627776
bad "GGUF dimension 2^40 (data past the end of the file)" "runs past the end" - -- predict --model "$tmp/dim.gguf" --query "a [Y]"
gguf_tensor $G "$tmp/blk.gguf" token_embd.weight type 19
bad "GGUF row length not a multiple of the type's block" "block size" - -- predict --model "$tmp/blk.gguf" --query "a [Y]"
perl -0777 -pe 's/llama/mamba/g' $G >"$tmp/arch.gguf"
bad "GGUF unknown architecture (mamba)" "mamba" - -- predict --model "$tmp/arch.gguf" --query "a [Y]"

# ---- queries and answers
bad "empty query" "[Y]" - -- predict --model $Q --query ""
bad "causal query with nothing before [Y]" "nothing before [Y]" - -- predict --model $Q --query "[Y]"
bad "query longer than max_position_embeddings (BERT)" "positions" - -- predict --model $B --query "$(words 5000)[Y] ."
bad "query longer than max_position_embeddings (causal)" "positions" - -- predict --model $Q --query "$(words 5000)[Y]"
bad "answer longer than the positions left" "positions" - -- attribute --model $Q --query "The capital of France is [Y]" --answer "$(words 300)"
bad "invalid UTF-8 in the answer" "UTF-8" - -- attribute --model $B --query "Paris is the capital of [Y] ." --answer "$(printf 'caf\351')"
bad "invalid UTF-8 in the text to tokenize" "UTF-8" - -- tokenize --model $Q --text "$(printf '\300\200')"
bad "answer the tokenizer cannot express (XLM-R)" "cannot express" - -- attribute --model $X --query "Paris is the capital of [Y] ." --answer "☃"

# ---- data files and languages
bad "language missing from the raw data" "fi" "$tmp/b1.jsonl" -- data build --raw $RAWFX --langs en,fi --out "$tmp/b1.jsonl"
bad "language not in the data file" "'xx' is not in the data file" - -- locate --model $Q --data $F --out "$tmp/loc" --langs xx --quiet
head -c 5000 $F >"$tmp/trunc.jsonl"
bad "benchmark file truncated mid-line" "trunc.jsonl:1" - -- data stats "$tmp/trunc.jsonl"
perl -pe 's/Alice/Al\xffice/ if $. == 2' $F >"$tmp/utf.jsonl"
bad "invalid UTF-8 in a benchmark file" "utf.jsonl:2" - -- data stats "$tmp/utf.jsonl"
: >"$tmp/empty.jsonl"
bad "empty benchmark file" "empty file" - -- data stats "$tmp/empty.jsonl"
bad "filter over a broken benchmark file" "utf.jsonl:2" "$tmp/f.jsonl" -- data filter --model $Q --in "$tmp/utf.jsonl" --out "$tmp/f.jsonl"

# ---- output: disk full, unwritable / missing folder, a folder as the file
# disk full: a 4 kB file size limit (SIGXFSZ ignored, so writes fail with EFBIG)
( trap '' XFSZ; ulimit -f 8; exec "$MATRICE" data build --raw $RAWFX --langs en,de,zh --out "$tmp/full.jsonl" ) >"$tmp/out" 2>"$tmp/err"
check "disk full while writing (file size limit)" "File too large" "$tmp/full.jsonl" $? data build --raw $RAWFX --langs en,de,zh --out "$tmp/full.jsonl"
( trap '' XFSZ; ulimit -f 1; exec "$MATRICE" attribute --model $B --query "Paris is the capital of [Y] ." --answer France --steps 2 --scores "$tmp/full.npy" ) >"$tmp/out" 2>"$tmp/err"
check "disk full while writing --scores" "File too large" "$tmp/full.npy" $? attribute --model $B --query "Paris is the capital of [Y] ." --answer France --steps 2 --scores "$tmp/full.npy"
# unwritable folder: chmod for a normal user; root ignores modes, so there /sys (read-only for files)
if [ "$(id -u)" -ne 0 ]; then ro=$tmp/ro; mkdir -p "$ro"; chmod 555 "$ro"; else ro=/sys; fi
if ! touch "$ro/.mt_probe" 2>/dev/null; then
    bad "unwritable output folder" "Permission denied" "$ro/b.jsonl" -- data build --raw $RAWFX --langs en --out "$ro/b.jsonl"
else
    rm -f "$ro/.mt_probe"; echo "skipped: no unwritable folder to test with"
fi
bad "output folder missing" "No such file or directory" "$tmp/no/dir/b.jsonl" -- data build --raw $RAWFX --langs en --out "$tmp/no/dir/b.jsonl"
mkdir -p "$tmp/isdir.jsonl"
bad "output path is a folder" "Is a directory" - -- data build --raw $RAWFX --langs en --out "$tmp/isdir.jsonl"
[ -z "$(ls "$tmp" | grep 'isdir.jsonl.tmp')" ] && ok || ko "temp file left next to a folder target"

# ---- signals mid-run: a long `data build` over the vendored raw data (10 languages)
RAWTAR=data/raw/matrice-raw.tar.xz
if [ -f $RAWTAR ] && mkdir -p "$tmp/raw" && tar -xJf $RAWTAR -C "$tmp/raw" 2>/dev/null; then
    L10=en,de,fr,es,ru,zh,ja,ko,ar,tr
    # midrun SIG WHEN NAME WANT: starts the build (SIGINT reset to default: a background job
    # of a script starts with it ignored), sends SIG when the output is being written
    # (WHEN=write: the open unnamed temp file shows in /proc) or after 1 s (WHEN=early)
    midrun() {
        sig=$1 when=$2 name=$3 want=$4 o=$tmp/sig-$1-$2.jsonl try=0 rc=0
        # a fast machine may finish writing before the signal lands: then try again
        while [ "$rc" -eq 0 ] && [ $try -lt 3 ]; do
            try=$((try + 1)); rm -f "$o"
            perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV' "$MATRICE" data build --raw "$tmp/raw" --langs $L10 --out "$o" \
                >"$tmp/out" 2>"$tmp/err" &
            p=$! i=0
            if [ "$when" = write ]; then
                while [ $i -lt 3000 ] && ! ls -l /proc/$p/fd 2>/dev/null | grep -q -e 'deleted' -e '\.tmp\.'; do sleep 0.01; i=$((i + 1)); done
            else
                sleep 1
            fi
            kill -"$sig" $p 2>/dev/null; { wait $p; } 2>/dev/null; rc=$?
        done
        if [ "$sig" = KILL ]; then # no message possible: only the exit status and the files count
            left=$(leftovers "$o")
            if [ "$rc" -ne 137 ]; then ko "$name: exit $rc"
            elif [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then ko "$name: printed something"
            elif [ -n "$left" ]; then ko "$name: left $left"
            else ok; bad_input_row "$name" "$rc" "(none: killed)" "none (no file, no temp file)" data build --raw "\$TMP/raw" --langs $L10 --out "$o"
            fi
        else
            check "$name" "$want" "$o" $rc data build --raw "\$TMP/raw" --langs $L10 --out "$o"
        fi
    }
    midrun INT write "SIGINT while the output is written" "interrupted (SIGINT)"
    midrun TERM early "SIGTERM while reading the raw data" "terminated (SIGTERM)"
    midrun KILL write "SIGKILL while the output is written" ""
else
    echo "skipped: signal cases need $RAWTAR"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
