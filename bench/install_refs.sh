#!/bin/sh
# install_refs.sh — `make bench-refs`: the optional references of `make bench`
# from PyPI, each in its own virtual environment under BENCH_VENV (outside the
# repository; pip's resolver then never trades one's versions for another's):
#   torch  PyTorch 2.x, the CPU-only wheel from TORCH_INDEX (PyTorch's CPU index;
#          PyPI's own wheel, tried when that index cannot be reached, brings ~5 GB
#          of CUDA libraries even for CPU use)
#   keras  Keras 3 on tensorflow-cpu;  jax  JAX (jaxlib, XLA);  ort  onnxruntime
# usage: bench/install_refs.sh [WHICH...]   (default: torch keras jax ort)
set -e
VENV=${BENCH_VENV:-${HOME:-/root}/.cache/deepc-bench-venv}
PY=${BENCH_BASE_PYTHON:-/usr/bin/python3}
TORCH_INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
mkdir -p "$VENV"
case "$(cd "$VENV" && pwd -P)/" in
"$(pwd -P)"/*) echo "bench-refs: BENCH_VENV=$VENV is inside the repository; choose a folder outside it" >&2
    exit 1 ;;
esac
for which in ${*:-torch keras jax ort}; do
    dir=$VENV/$which
    echo "bench-refs: $which into $dir"
    [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
    pip="$dir/bin/pip --disable-pip-version-check -q"
    case $which in
    torch)
        if [ -z "$TORCH_INDEX" ] || ! $pip install torch --index-url "$TORCH_INDEX"; then
            echo "bench-refs: no CPU-only wheel from ${TORCH_INDEX:-(no index)}; torch from PyPI (with CUDA libraries)"
            $pip install torch
        fi ;;
    keras) $pip install tensorflow-cpu keras ;;
    jax) $pip install jax ;;
    ort) $pip install onnxruntime numpy ;;
    *) echo "bench-refs: unknown reference $which (torch, keras, jax, ort)" >&2; exit 1 ;;
    esac
done
echo "bench-refs: done; make bench finds them in $VENV"
