#!/bin/sh
# segment.sh — one training epoch of models/fashion_unet.ini (the U-Net on
# fashion-canvas) by deepc at 2 threads and by PyTorch 1.13 (NCHW) at 1 and 2
# threads, on the same canvases (written as .npy by build/bench/canvases); deepc
# also with OMP_WAIT_POLICY=passive (unless a policy is set): on a loaded machine
# libgomp's spinning threads cost much more. Prints seconds per epoch, CPU seconds
# and peak RSS of each, each side's best, and the ratio deepc / PyTorch (the
# issue's target: at most 0.3).
# usage: bench/segment.sh BUILD_DIR [RESULTS_CSV]
# The epoch is over the model's first 8000 canvases at most (it trains on 28000;
# 8000 keep `make bench` short and the figures comparable across recipes).
# BENCH_LIMIT=N trains on the first N canvases only (a smoke run).
BUILD=${1:-build}
CSV=${2:-bench/results/segment.csv}
LIMIT=${BENCH_LIMIT:-0}
MODEL=models/fashion_unet.ini
. bench/refs.sh
mkdir -p "$(dirname "$CSV")"
echo "net,threads,impl,seconds_per_epoch,peak_rss_mb,final_loss" > "$CSV"
canvases=$(sed -n 's/^train_canvases *= *//p' "$MODEL")
[ "$canvases" -gt 8000 ] && canvases=8000
[ "$LIMIT" -gt 0 ] && canvases=$LIMIT
echo "segmentation benchmark: one epoch of $MODEL, $canvases canvases 64x64; load average" \
     "$(cut -d' ' -f1-3 /proc/loadavg)"
data=$BUILD/bench/canvas-data
mkdir -p "$data"
"$BUILD/bench/canvases" "$data" 64 "$canvases" 1 || exit 1

run() { # IMPL THREADS: appends its CSV row, or says why there is none
    case $1 in
    deepc) cmd="$BUILD/bench/segment_deepc --model $MODEL --limit $canvases" ;;
    deepc-passive) cmd="env OMP_WAIT_POLICY=passive $BUILD/bench/segment_deepc --model $MODEL --limit $canvases" ;;
    torch13) cmd="$TORCH13_PYTHON bench/segment_torch.py $data" ;;
    esac
    # shellcheck disable=SC2086
    out=$(env OMP_NUM_THREADS="$2" MKL_NUM_THREADS="$2" $cmd --threads "$2" 2>"$CSV.err" | tail -n 1)
    if echo "$out" | grep -q "^unet,$2,[0-9.]*,"; then
        echo "$out" | sed "s/^unet,$2,/unet,$2,$1,/" >> "$CSV"
        echo "  $1 at $2 thread(s): $(echo "$out" | cut -d, -f3) s, peak RSS $(echo "$out" | cut -d, -f4) MB" \
             "($(grep cpu_seconds "$CSV.err" | cut -d' ' -f2) CPU s)" | sed 's/ ( CPU s)//'
    else
        echo "  $1 at $2 thread(s) failed:"
        tail -n 5 "$CSV.err" | sed 's/^/    /'
    fi
    rm -f "$CSV.err"
}

run deepc 2
[ -z "${OMP_WAIT_POLICY:-}" ] && run deepc-passive 2
if [ -n "$(ref_label torch13)" ]; then
    run torch13 1
    run torch13 2
else
    echo "  PyTorch 1.13 ($TORCH13_PYTHON) not installed"
fi
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F, 'NR > 1 { id = $3; sub(/-passive$/, "", id) }
         NR > 1 && (!(id in s) || $4 < s[id]) { s[id] = $4; r[id] = $5 }
         END { if (!("deepc" in s) || !("torch13" in s)) exit
               printf "U-Net epoch: deepc (2 threads, best wait policy) %.2f s, %.0f MB; PyTorch 1.13 (best of 1, 2 threads) %.2f s, %.0f MB\n",
                      s["deepc"], r["deepc"], s["torch13"], r["torch13"]
               printf "ratio deepc / PyTorch: time %.2fx (target <= 0.3x), peak RSS %.2fx\n",
                      s["deepc"] / s["torch13"], r["deepc"] / r["torch13"] }' "$CSV"
