#!/bin/sh
# fuzz.sh — builds the libFuzzer targets of tests/fuzz/ against build-fuzz/libdeepc.a
# (clang, ASan + UBSan) and runs each for FUZZ_SECONDS; one line per target.
# Exit status 1 if any target found something (crash, leak, timeout, OOM).
set -e
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"idx csv ini model checkpoint image image_folder vectorizer text_csv keras keras_h5 h5_read"}
OUT=${FUZZ_BUILD:-build-fuzz}
CC=${FUZZ_CC:-clang}
LIBS="-lcjson -linih -lplplot -lpng -ljpeg -lz -lm $(pkg-config --libs libzip hdf5) -fopenmp"
FLAGS="-std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
-fno-omit-frame-pointer -D_DEFAULT_SOURCE -Iinclude -Isrc"
# One OpenMP thread: the inputs are tiny, and parallel runs share the cores.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions=$(pwd)/scripts/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
found=0
printf '%-13s %12s %9s %8s\n' target executions findings corpus
for t in $TARGETS; do
    $CC $FLAGS -DFUZZ_TARGET="$t" tests/fuzz/fuzz_main.c "$OUT/libdeepc.a" $LIBS -o "$OUT/fuzz_$t"
    mkdir -p "$OUT/corpus/$t" "$OUT/findings/$t"
    # New inputs go to the first folder (build-fuzz/corpus/T); the committed seeds are read too.
    set +e
    "$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$OUT/findings/$t/" \
        "$OUT/corpus/$t" "tests/fuzz/corpus/$t" > "$OUT/fuzz_$t.log" 2>&1
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz_$t.log" | tail -n 1)
    n_find=$(find "$OUT/findings/$t" -type f | wc -l)
    n_corp=$(find "$OUT/corpus/$t" "tests/fuzz/corpus/$t" -type f | wc -l)
    printf '%-13s %12s %9s %8s\n' "$t" "${execs:-?}" "$n_find" "$n_corp"
    if [ "$n_find" -gt 0 ]; then
        found=1
        echo "  findings in $OUT/findings/$t/ (log: $OUT/fuzz_$t.log); add each to tests/fuzz/regressions/$t/"
    fi
done
exit $found
