"""lstm_args.py — what every side of bench/lstm.sh shares: the net's sizes (as
bench/lstm_bench.c) and the command line [--cell lstm|gru] [--threads N]
[--steps N] [--reps N]."""
import argparse

V, E, U, T, B = 98, 64, 256, 100, 64


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", default="lstm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    return ap.parse_args()
