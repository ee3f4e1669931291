#!/bin/sh
# Runs every unit test program and every CLI test script, then prints the total as
# "N passed, N failed". Each program/script ends its own output with such a line.
: "${MATRICE:=build/matrice}" "${TESTBIN:=build/tests}"
export MATRICE
total_p=0; total_f=0; crashed=0
log=$(mktemp)
for t in "$TESTBIN"/test_* tests/cli/*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.sh) cmd="sh $t" ;; *) cmd="$t" ;; esac
    $cmd >"$log" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "CRASH $t (exit $rc, no summary line)"; tail -n 20 "$log"; crashed=$((crashed + 1))
        continue
    fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { echo "CRASH $t exited $rc"; tail -n 20 "$log"; f=1; }
    grep -E '^FAIL' "$log"
    echo "$t: $line"
    total_p=$((total_p + p)); total_f=$((total_f + f))
done
rm -f "$log"
total_f=$((total_f + crashed))
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
