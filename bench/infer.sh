#!/bin/sh
# infer.sh — batch-1 inference latency of the Fashion-MNIST CNN (what a program
# embedding it pays per image): deepc (dc_model_predict), each installed PyTorch
# (eval mode) and onnxruntime running deepc's own ONNX export of the same net,
# each at 1 and 2 threads in turn; prints median microseconds per image, each
# one's best thread count, deepc's best / PyTorch's best and / onnxruntime's.
# usage: bench/infer.sh BUILD_DIR [RESULTS_CSV]   (BENCH_INFER_RUNS: timed calls, 1000)
BUILD=${1:-build}
CSV=${2:-bench/results/infer.csv}
RUNS=${BENCH_INFER_RUNS:-1000}
. bench/refs.sh
mkdir -p "$(dirname "$CSV")"
ONNX=$(dirname "$CSV")/cnn.onnx
echo "impl,net,threads,median_us,min_us" > "$CSV"
echo "batch-1 inference of the CNN, median of $RUNS calls${BENCH_INFER_RUNS:+ (BENCH_INFER_RUNS)}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "references:"
find_refs torch13 torch2 ort

run() { # IMPL THREADS: appends its CSV row as ID,net,threads,median,min, or says why not
    case $1 in
    deepc) cmd="$BUILD/bench/infer_deepc --net cnn --runs $RUNS --onnx $ONNX --threads" ;;
    torch13 | torch2) cmd="$(ref_python "$1") bench/torch_ref.py --net cnn --infer --runs $RUNS --threads" ;;
    ort) cmd="$(ref_python "$1") bench/ort_ref.py $ONNX cnn" ;;
    esac
    # shellcheck disable=SC2086
    out=$(with_policy env OMP_NUM_THREADS="$2" MKL_NUM_THREADS="$2" $cmd "$2" $([ "$1" = ort ] && echo "$RUNS") \
          2>"$CSV.err" | tail -n 1)
    if echo "$out" | grep -q "^[a-z]*,cnn,$2,[0-9.]*,"; then
        echo "$out" | sed "s/^[a-z]*,/$1,/" >> "$CSV"
    else
        echo "  $1 on $2 threads failed:"
        tail -n 5 "$CSV.err" | sed 's/^/    /'
    fi
    rm -f "$CSV.err"
}

for th in 1 2; do
    for impl in deepc $REFS; do run "$impl" "$th"; done
done
labels="deepc=deepc"
for id in torch13 torch2 ort; do labels="$labels|$id=$(eval echo "\$LABEL_$id")"; done
awk -F, -v labels="$labels" -v installed="deepc $REFS" '
function threads_word(n) { return n " thread" (n > 1 ? "s" : "") }
NR > 1 { us[$1, $3] = $4 }
END {
    n = split(labels, pairs, "|")
    split(installed, inst, " ")
    for (i in inst) is_inst[inst[i]] = 1
    printf "CNN batch-1 latency, us   %22s %9s %9s\n", "1 thread", "2 threads", "best"
    for (i = 1; i <= n; i++) {
        eq = index(pairs[i], "="); id = substr(pairs[i], 1, eq - 1); name[id] = substr(pairs[i], eq + 1)
        if (!(id in is_inst)) { printf "  %-38s not installed\n", name[id]; continue }
        b = 0
        for (th = 1; th <= 2; th++) if ((id, th) in us && (b == 0 || us[id, th] < b)) { b = us[id, th]; bt[id] = th }
        best[id] = b
        if (b == 0) { printf "  %-38s failed\n", name[id]; continue }
        printf "  %-38s %9s %9s %9.1f (%s)\n", name[id], (id, 1) in us ? us[id, 1] : "-",
            (id, 2) in us ? us[id, 2] : "-", b, threads_word(bt[id])
        if (id ~ /^torch/ && (tb == 0 || b < tb)) { tb = b; tid = id }
    }
    d = best["deepc"]
    if (d == 0) { print "  deepc failed: no ratios"; exit }
    if (tb > 0) {
        printf "latency: deepc %.1f us / fastest PyTorch (%s) %.1f us = %.2fx\n", d, name[tid], tb, d / tb
        printf "table: | CNN batch-1 inference latency (median) | %.0f us (%s) | %s: %.0f us (%s) | %.2fx |\n",
            d, threads_word(bt["deepc"]), name[tid], tb, threads_word(bt[tid]), d / tb
    }
    if (best["ort"] > 0) {
        printf "latency: deepc %.1f us / onnxruntime (deepc'"'"'s ONNX export) %.1f us = %.2fx\n", d, best["ort"], d / best["ort"]
        printf "table: | same, against onnxruntime running deepc'"'"'s ONNX export | | %s: %.0f us (%s) | %.2fx |\n",
            name["ort"], best["ort"], threads_word(bt["ort"]), d / best["ort"]
    }
}' "$CSV"
