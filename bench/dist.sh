#!/bin/sh
# dist.sh — one Fashion-MNIST epoch of models/fashion_cnn.ini with 1 process x
# 1 thread, 1 process x 2 threads and 2 processes (mpirun) x 1 thread, the
# last with the gradient's sum after backward and overlapped with it
# (DEEPC_DIST_OVERLAP=1), and the speed-ups over 1 x 1. The time is the
# epoch's `seconds` in history.csv (training and validation, both split over
# the processes). The CPU seconds are user + system time of every process of
# the run (the ranks, mpirun, and each process's start: loading the data, about
# a second each): on a loaded machine the wall clock says how much of the
# machine the run got, the CPU time how much work it did.
# usage: bench/dist.sh BUILD_DIR [RESULTS_CSV]
BUILD=${1:-build}
CSV=${2:-bench/results/dist.csv}
MODEL=${MODEL:-models/fashion_cnn.ini}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$(dirname "$CSV")"
echo "processes,threads,overlap,seconds_per_epoch,val_accuracy,cpu_seconds" > "$CSV"
echo "data-parallel benchmark: one epoch of $MODEL; load average $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: other loads change the figures)"
command -v mpirun >/dev/null || { echo "mpirun not found: install openmpi-bin (scripts/install-deps.sh)"; exit 1; }
# mpirun as root needs both variables; no binding, so that 2 threads of one rank can run
MPIRUN="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe --bind-to none"

col() { # history.csv column by name, last row
    awk -F, -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i } END { print $c }' "$1"
}
cpu_file() { # user + system seconds of a `times` output's children (2nd line)
    awk 'NR == 2 { n = split($0, f, /[ms ]+/); t = 0
        for (i = 1; i + 1 <= n; i += 2) if (f[i] != "") t += f[i] * 60 + f[i + 1]; print t }' "$1"
}
run() { # processes threads overlap(0|1) -> "seconds cpu_seconds"
    dir="$OUT/p$1t$2o$3"
    launch=""
    [ "$1" -gt 1 ] && launch="$MPIRUN -np $1"
    times > "$OUT/times0" # in this shell: a subshell's `times` has no children
    DEEPC_DIST_OVERLAP=$3 OMP_NUM_THREADS=$2 $launch "$BUILD/deepc" train "$MODEL" --epochs 1 \
        --threads "$2" --quiet --no-checkpoint --out "$dir" >"$OUT/log" 2>&1 ||
        { cat "$OUT/log" >&2; echo n/a n/a; return; }
    times > "$OUT/times1"
    c=$(awk -v a="$(cpu_file "$OUT/times0")" -v b="$(cpu_file "$OUT/times1")" 'BEGIN { printf "%.2f", b - a }')
    s=$(printf "%.3f" "$(col "$dir/history.csv" seconds)")
    echo "$1,$2,$3,$s,$(col "$dir/history.csv" val_accuracy),$c" >> "$CSV"
    echo "$s $c"
}

set -- $(run 1 1 0)
base=$1 base_cpu=$2
printf "%-36s %10s %9s %10s %9s\n" "" "s/epoch" speed-up "CPU s" "CPU x"
printf "%-36s %10s %9s %10s %9s\n" "1 process x 1 thread" "$base" "1.00x" "$base_cpu" "1.00x"
for pt in "1 2 0" "2 1 0" "2 1 1"; do
    set -- $pt
    r=$(run "$1" "$2" "$3")
    s=${r% *} c=${r#* }
    up=$(awk -v a="$base" -v b="$s" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }')
    cx=$(awk -v a="$base_cpu" -v b="$c" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", b / a; else print "n/a" }')
    label="$1 process$([ "$1" -gt 1 ] && echo es) x $2 thread$([ "$2" -gt 1 ] && echo s)"
    [ "$3" = 1 ] && label="$label, overlapped sum"
    printf "%-36s %10s %9s %10s %9s\n" "$label" "$s" "$up" "$c" "$cx"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "figures also in $CSV (target: 2 processes >= 1.8x over 1 x 1)"
