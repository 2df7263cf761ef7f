#!/bin/sh
# run-tests.sh — runs the unit-test runner, then the examples that double as
# tests, and ends with one line "N passed, N failed[, N skipped]".
BUILD=${BUILD:-build}
# Sleeping idle threads keep the suite's time steady on a shared machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=$(mktemp)
# The runner's own exit status, not tee's: a crash must count as a failure.
{ "$BUILD/test_runner" 2>&1; echo $? > "$out.rc"; } | tee "$out"
rc=$(cat "$out.rc")
p=$(sed -n 's/^runner: \([0-9]*\) passed.*/\1/p' "$out")
f=$(sed -n 's/^runner: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$out")
s=$(sed -n 's/.* \([0-9]*\) skipped$/\1/p' "$out")
p=${p:-0}; f=${f:-0}; s=${s:-0}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL test_runner exited with status $rc"; f=1
fi
for ex in tape_regression custom_loop regression sequence_tape; do
    if [ -x "$BUILD/examples/$ex" ]; then
        if "$BUILD/examples/$ex" > "$out.ex" 2>&1; then
            echo "ok   example $ex ($(tail -n 1 "$out.ex"))"; p=$((p + 1))
        else
            echo "FAIL example $ex"; tail -n 20 "$out.ex"; f=$((f + 1))
        fi
    fi
done
rm -f "$out" "$out.ex" "$out.rc"
if [ "$s" -gt 0 ]; then echo "$p passed, $f failed, $s skipped"; else echo "$p passed, $f failed"; fi
[ "$f" -eq 0 ]
