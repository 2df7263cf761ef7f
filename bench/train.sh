#!/bin/sh
# train.sh — one Fashion-MNIST epoch of the MLP and the CNN by deepc and by each
# installed reference (bench/refs.sh: PyTorch 1.13, PyTorch 2.x, Keras 3, JAX),
# every one at 1 and 2 threads, in turn in this one invocation. Prints seconds
# per epoch and peak RSS, each one's best thread count, deepc's best divided by
# the fastest reference's best (named), deepc's GFLOP/s as a share of the FMA
# peak, and "table:" rows that bench/speed_table.py puts into the README.
# usage: bench/train.sh BUILD_DIR [RESULTS_CSV]
# BENCH_LIMIT=N trains on the first N images only (a smoke run); NETS="mlp cnn".
BUILD=${1:-build}
CSV=${2:-bench/results/train.csv}
LIMIT=${BENCH_LIMIT:-0}
. bench/refs.sh
mkdir -p "$(dirname "$CSV")"
echo "net,threads,impl,seconds_per_epoch,peak_rss_mb,final_loss" > "$CSV"
images=60000
[ "$LIMIT" -gt 0 ] && images="the first $LIMIT (BENCH_LIMIT: a smoke run, not an epoch)"
echo "training benchmark: one epoch of Fashion-MNIST, $images images; load average" \
     "$(cut -d' ' -f1-3 /proc/loadavg); OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}"
echo "references:"
find_refs torch13 torch2 keras jax
limit_arg=""
[ "$LIMIT" -gt 0 ] && limit_arg="--limit $LIMIT"

run() { # IMPL NET THREADS: appends its CSV row, or says why there is none
    case $1 in
    deepc) cmd="$BUILD/bench/train_deepc" ;;
    torch13 | torch2) cmd="$(ref_python "$1") bench/torch_ref.py" ;;
    keras) cmd="$(ref_python "$1") bench/keras_ref.py" ;;
    jax) cmd="$(ref_python "$1") bench/jax_ref.py" ;;
    esac
    # shellcheck disable=SC2086
    out=$(with_policy env OMP_NUM_THREADS="$3" MKL_NUM_THREADS="$3" OPENBLAS_NUM_THREADS="$3" \
          $cmd --net "$2" --threads "$3" $limit_arg 2>"$CSV.err" | tail -n 1)
    if echo "$out" | grep -q "^$2,$3,[0-9.]*,"; then
        echo "$out" | sed "s/^\([a-z]*\),\([0-9]*\),/\1,\2,$1,/" >> "$CSV"
    else
        echo "  $1 $2 on $3 threads failed:"
        tail -n 5 "$CSV.err" | sed 's/^/    /'
    fi
    rm -f "$CSV.err"
}

# the FMA peak from the run's machine report, else measured now
PEAK=$(sed -n 's/^peak_gflops=//p' "$(dirname "$CSV")/machine.txt" 2>/dev/null)
[ -z "$PEAK" ] && [ -x "$BUILD/bench/peak" ] && PEAK=$("$BUILD/bench/peak" | sed -n 's/^peak_gflops=//p')
labels="deepc=deepc"
for id in torch13 torch2 keras jax; do labels="$labels|$id=$(eval echo "\$LABEL_$id")"; done
for net in ${NETS:-mlp cnn}; do
    for th in 1 2; do
        for impl in deepc $REFS; do run "$impl" "$net" "$th"; done
    done
    # shellcheck disable=SC2086
    flops=$("$BUILD/bench/train_deepc" --flops --net "$net" $limit_arg)
    awk -F, -v net="$net" -v labels="$labels" -v installed="deepc $REFS" -v flops="$flops" \
        -v peak="${PEAK:-0}" -v cores="$(nproc)" -f bench/train_summary.awk "$CSV"
done
echo "ratios are deepc / reference, each at its best thread count (lower is better); figures also in $CSV"
