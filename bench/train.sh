#!/bin/sh
# train.sh — one Fashion-MNIST epoch of the MLP and the CNN, deepc against
# PyTorch (same nets, batch sizes, optimizer, thread count), run in turn in one
# invocation; prints seconds per epoch, peak RSS and the ratios.
# usage: bench/train.sh BUILD_DIR [RESULTS_CSV]
BUILD=${1:-build}
CSV=${2:-bench/results/train.csv}
PY=/usr/bin/python3
# Both deepc and PyTorch use libgomp, whose idle threads spin ~300k iterations
# at every barrier by default: on a loaded machine a spinning thread takes the
# core its partner needs, and 2-thread runs of either get 10-100x slower
# (measured: deepc 0.4 s -> 15 s, PyTorch 1.6 s -> 230 s). Both get the same
# policy: libgomp's default (spin a while, then sleep: what a user gets) unless
# OMP_WAIT_POLICY is set; on a busy machine, passive is the fair choice.
WAIT=${OMP_WAIT_POLICY:-}
with_policy() { if [ -n "$WAIT" ]; then OMP_WAIT_POLICY=$WAIT "$@"; else env -u OMP_WAIT_POLICY "$@"; fi; }
mkdir -p "$(dirname "$CSV")"
echo "net,threads,impl,seconds_per_epoch,peak_rss_mb,final_loss" > "$CSV"
echo "training benchmark: one epoch of Fashion-MNIST (60000 images); load average $(cut -d' ' -f1-3 /proc/loadavg); OMP_WAIT_POLICY=${WAIT:-default}"
have_torch=1
$PY -c "import torch" 2>/dev/null || have_torch=0
[ $have_torch -eq 0 ] && echo "(PyTorch not found: install python3-torch for the reference column)"

run() { # impl net threads -> "secs,rss,loss" or "n/a"
    if [ "$1" = deepc ]; then
        # its stderr (CPU seconds, for comparing code versions) shows only on failure
        out=$(OMP_NUM_THREADS=$3 with_policy "$BUILD/bench/train_deepc" --net "$2" --threads "$3" \
              2>"$CSV.err") || { out=""; cat "$CSV.err" >&2; }
        rm -f "$CSV.err"
    elif [ $have_torch -eq 1 ]; then
        out=$(OMP_NUM_THREADS=$3 with_policy $PY bench/torch_ref.py --net "$2" --threads "$3") || out=""
    fi
    [ -n "$out" ] && echo "$out" | sed "s/^\([a-z]*\),\([0-9]*\),/\1,\2,$1,/" >> "$CSV"
    echo "${out:-n/a}" | cut -d, -f3-5
}

printf "%-4s %7s %14s %14s %8s %12s %12s %8s\n" net threads "deepc s/epoch" "torch s/epoch" ratio \
    "deepc RSS MB" "torch RSS MB" ratio
for net in ${NETS:-mlp cnn}; do
    d1=""
    for th in 1 2; do
        d=$(run deepc $net $th)
        t=$(run torch $net $th)
        ds=${d%%,*}; ts=${t%%,*}
        dr=$(echo "$d" | cut -d, -f2); tr=$(echo "$t" | cut -d, -f2)
        ratio=$(awk -v a="$ds" -v b="$ts" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2fx", a / b; else print "n/a" }')
        rratio=$(awk -v a="$dr" -v b="$tr" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2fx", a / b; else print "n/a" }')
        printf "%-4s %7s %14s %14s %8s %12s %12s %8s\n" $net $th "$ds" "$ts" "$ratio" "$dr" "$tr" "$rratio"
        [ $th = 1 ] && d1=$ds
    done
    awk -v a="$d1" -v b="$ds" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "     deepc speed-up from 1 to 2 threads: %.2fx\n", a / b }'
done
echo "ratios are deepc / PyTorch (lower is better); figures also in $CSV"
