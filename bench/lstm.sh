#!/bin/sh
# lstm.sh — the fortunes_lstm net (Embedding(98,64) -> LSTM(256) or GRU(256)
# -> Dense(98), T 100, batch 64, Adam) trained by deepc and by each installed
# reference (PyTorch 1.13; PyTorch 2.x from TORCH2_PYTHON; Keras 3 from
# KERAS_PYTHON; JAX from JAX_PYTHON) at 1 and 2 threads, each run RUNS times in turn in this one
# invocation (the machine may be shared: the best of each is kept); prints
# training tokens/s, the ratio to the fastest reference at its best thread
# count, deepc's 1-thread GFLOP/s and inference (generation) tokens/s.
# usage: bench/lstm.sh BUILD_DIR [RESULTS_CSV] [RUNS]
BUILD=${1:-build}
CSV=${2:-bench/results/lstm.csv}
RUNS=${3:-2}
PY=/usr/bin/python3
mkdir -p "$(dirname "$CSV")"
echo "impl,cell,threads,train_tokens_per_s,gen_tokens_per_s,loss" > "$CSV"
echo "RNN benchmark on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
have_torch=1
$PY -c "import torch" 2>/dev/null || have_torch=0
# PyTorch 2.x from PyPI lives in a virtual environment outside the repository
# (make bench-refs); TORCH2_PYTHON names its python.
PY2=${TORCH2_PYTHON:-}
have_torch2=0
[ -n "$PY2" ] && "$PY2" -c "import torch" 2>/dev/null && have_torch2=1
# Keras 3 (tensorflow-cpu) likewise: KERAS_PYTHON names its python.
PYK=${KERAS_PYTHON:-}
have_keras=0
[ -n "$PYK" ] && "$PYK" -c "import keras, tensorflow" 2>/dev/null && have_keras=1
# JAX: JAX_PYTHON; its 1-thread run is pinned to one core (XLA sizes its pool by them).
PYJ=${JAX_PYTHON:-}
have_jax=0
[ -n "$PYJ" ] && "$PYJ" -c "import jax" 2>/dev/null && have_jax=1
for cell in lstm gru; do
    for r in $(seq "$RUNS"); do
        for th in 1 2; do
            OMP_NUM_THREADS=$th "$BUILD/bench/lstm_bench" --cell $cell --threads $th --steps 3 --reps 2 >> "$CSV"
            [ $have_torch -eq 1 ] && OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th MKL_NUM_THREADS=$th \
                $PY bench/lstm_torch.py --cell $cell --threads $th --steps 3 --reps 2 >> "$CSV"
            [ $have_torch2 -eq 1 ] && OMP_NUM_THREADS=$th MKL_NUM_THREADS=$th \
                "$PY2" bench/lstm_torch.py --cell $cell --threads $th --steps 3 --reps 2 \
                | sed 's/^torch,/torch2,/' >> "$CSV"
            [ $have_keras -eq 1 ] && OMP_NUM_THREADS=$th \
                "$PYK" bench/lstm_keras.py --cell $cell --threads $th --steps 3 --reps 2 2>/dev/null >> "$CSV"
            pin=""; [ "$th" -eq 1 ] && pin="taskset -c 0"
            [ $have_jax -eq 1 ] && $pin "$PYJ" bench/lstm_jax.py --cell $cell --threads $th --steps 3 --reps 2 \
                2>/dev/null >> "$CSV"
        done
    done
done
# best of the runs per (impl, cell, threads), then the ratios
awk -F, 'NR > 1 { k = $1 "," $2 "," $3; if ($4 > tr[k]) tr[k] = $4; if ($5 > ge[k]) ge[k] = $5 }
END {
    for (ci = 1; ci <= 2; ci++) {
        c = ci == 1 ? "lstm" : "gru"
        printf "%s training tokens/s:  deepc 1 thread %s, 2 threads %s | PyTorch 1 thread %s, 2 threads %s\n", c,
            tr["deepc," c ",1"], tr["deepc," c ",2"], tr["torch," c ",1"], tr["torch," c ",2"]
        if (tr["torch2," c ",1"] > 0)
            printf "%s training tokens/s:  PyTorch 2.x 1 thread %s, 2 threads %s\n", c,
                tr["torch2," c ",1"], tr["torch2," c ",2"]
        if (tr["keras," c ",1"] > 0)
            printf "%s training tokens/s:  Keras 3 1 thread %s, 2 threads %s\n", c,
                tr["keras," c ",1"], tr["keras," c ",2"]
        if (tr["jax," c ",1"] > 0)
            printf "%s training tokens/s:  JAX 1 thread %s, 2 threads %s\n", c,
                tr["jax," c ",1"], tr["jax," c ",2"]
        t = 0; who = ""
        split("torch torch2 keras jax", impl, " "); split("PyTorch 1.13|PyTorch 2.x|Keras 3|JAX", label, "|")
        for (ri = 1; ri <= 4; ri++) for (th = 1; th <= 2; th++) {
            r = impl[ri]
            if (tr[r "," c "," th] > t) { t = tr[r "," c "," th]; who = label[ri] " on " th " thread" (th > 1 ? "s" : "") }
        }
        if (t > 0) printf "%s ratio: deepc 2 threads / fastest reference (%s) = %.2f (deepc 1 thread / PyTorch 1.13 1 thread = %.2f)\n", c,
            who, tr["deepc," c ",2"] / t, tr["deepc," c ",1"] / tr["torch," c ",1"]
        # FLOPs per training token: the cell forward, its backward (dh and dx, the
        # weight gradients) 2 + 2 + 2 times (E+U)*G, and Dense(V) forward and backward
        g = (c == "lstm" ? 4 : 3) * 256; f = 6 * (64 + 256) * g + 6 * 256 * 98
        printf "%s deepc 1 thread: %.1f GFLOP/s (%.2f MFLOP per training token)\n", c,
            tr["deepc," c ",1"] * f / 1e9, f / 1e6
        printf "%s generation tokens/s (batch 1, state carried, 1 thread): deepc %s | PyTorch 1.13 %s", c,
            ge["deepc," c ",1"], ge["torch," c ",1"]
        if (ge["torch2," c ",1"] > 0) printf " | PyTorch 2.x %s", ge["torch2," c ",1"]
        if (ge["jax," c ",1"] > 0) printf " | JAX %s", ge["jax," c ",1"]
        printf "\n"
    }
}' "$CSV"
echo "load average at the end $(cut -d" " -f1-3 /proc/loadavg)"
