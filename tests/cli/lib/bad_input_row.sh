# Sourced by the CLI test scripts (tests/cli/*.sh): bad_input_row appends one row to the
# bad-input table, $MT_BAD_INPUT_TABLE (when set; tools/bad_input_table.sh turns the rows into
# docs/BAD_INPUTS.md). One Markdown row per case:
#   | case | command | exit status | the stderr line | output left behind |
# Usage: bad_input_row CASE EXIT STDERR_LINE OUTPUT_NOTE [matrice args...]
# The test's temp folder ($tmp) is written as $TMP so the table does not change between runs;
# long arguments are shortened, bytes that are not UTF-8 are written as \xNN.
bad_input_row() {
    [ -n "${MT_BAD_INPUT_TABLE:-}" ] || return 0
    _case=$1 _rc=$2 _err=$3 _out=$4
    shift 4
    _cmd=matrice
    for _a in "$@"; do
        if [ "${#_a}" -gt 48 ]; then _a="$(printf '%s' "$_a" | cut -c1-24)…($(printf '%s' "$_a" | wc -c) bytes)"; fi
        case "$_a" in *" "*|"") _a="\"$_a\"" ;; esac
        _cmd="$_cmd $_a"
    done
    _esc() { printf '%s' "$1" | tr '\n' ' ' | sed 's/|/\\|/g'; }
    printf '| %s | `%s` | %s | `%s` | %s |\n' "$(_esc "$_case")" "$(_esc "$_cmd")" "$_rc" "$(_esc "$_err")" "$(_esc "$_out")" |
        perl -MEncode -pe 'BEGIN { $t = shift } s/\Q$t\E/\$TMP/g if length $t;
            $_ = Encode::encode("UTF-8", Encode::decode("UTF-8", $_, sub { sprintf "\\x%02X", shift }))' \
            "${tmp:-}" >>"$MT_BAD_INPUT_TABLE"
}

# bad_input_left ARGS...: the output-left column for a failed matrice command: looks at the
# paths given with --out / --scores (and temp files next to them).
bad_input_left() {
    _next= _left= _any=
    for _a in "$@"; do
        if [ -n "$_next" ]; then
            _any=1
            for _f in "$_a" "$_a".tmp.*; do [ -e "$_f" ] && [ ! -d "$_f" ] && _left="$_left $_f"; done
        fi
        case "$_a" in --out|--scores) _next=1 ;; *) _next= ;; esac
    done
    if [ -z "$_any" ]; then echo "none (writes no file)"
    elif [ -z "$_left" ]; then echo "none (no file, no temp file)"
    else echo "LEFT:$_left"; fi
}
