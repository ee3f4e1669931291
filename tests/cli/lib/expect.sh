# Sourced by the CLI test scripts: pass/fail counting and the bad-input check.
#   ok / ko MSG          count a pass / a failure (printed as "FAIL MSG")
#   check NAME 'COND'    ok when the shell condition holds
#   expect_error NAME SUBSTRING -- matrice args...
#       non-zero exit, nothing on stdout, the first stderr line contains SUBSTRING, and (unless it
#       is a usage error, exit 2) stderr is that one line; the case becomes a row of the
#       bad-input table (bad_input_row.sh).
# Needs $MATRICE and $tmp (the script's temp folder); the script prints "$pass passed, $fail failed".
. tests/cli/lib/bad_input_row.sh
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { if eval "$2"; then ok; else ko "$1"; fi; }
expect_error() {
    name=$1; want=$2; shift 3
    "$MATRICE" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
    first=$(head -n 1 "$tmp/err")
    if [ "$rc" -eq 0 ]; then ko "$name: exit 0"; return; fi
    if [ -s "$tmp/out" ]; then ko "$name: wrote to stdout"; return; fi
    case "$first" in *"$want"*) ;; *) ko "$name: stderr '$first' lacks '$want'"; return ;; esac
    if [ "$rc" -ne 2 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then ko "$name: several lines on stderr"; return; fi
    ok
    bad_input_row "$name" "$rc" "$first" "$(bad_input_left "$@")" "$@"
}
