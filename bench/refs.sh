# refs.sh — sourced by bench/train.sh and bench/infer.sh: where each reference
# framework's python is, and whether it is installed. PyTorch 1.13 is Debian's
# (/usr/bin/python3); PyTorch 2.x, Keras 3, JAX and onnxruntime come from the
# virtual environments `make bench-refs` makes under BENCH_VENV (one each:
# torch, keras, jax, ort) unless TORCH2_PYTHON, KERAS_PYTHON, JAX_PYTHON or
# ORT_PYTHON name another python.
BENCH_VENV=${BENCH_VENV:-${HOME:-/root}/.cache/deepc-bench-venv}
venv_python() { [ -x "$BENCH_VENV/$1/bin/python" ] && echo "$BENCH_VENV/$1/bin/python"; }
TORCH13_PYTHON=${TORCH13_PYTHON:-/usr/bin/python3}
TORCH2_PYTHON=${TORCH2_PYTHON:-$(venv_python torch)}
KERAS_PYTHON=${KERAS_PYTHON:-$(venv_python keras)}
JAX_PYTHON=${JAX_PYTHON:-$(venv_python jax)}
ORT_PYTHON=${ORT_PYTHON:-$(venv_python ort)}

ref_python() { # ID -> the python that runs it
    case $1 in
    torch13) echo "$TORCH13_PYTHON" ;;
    torch2) echo "$TORCH2_PYTHON" ;;
    keras) echo "$KERAS_PYTHON" ;;
    jax) echo "$JAX_PYTHON" ;;
    ort) echo "$ORT_PYTHON" ;;
    esac
}

# ID -> its name and version ("PyTorch 2.5.1"), or nothing when not installed.
# torch2 is PyTorch 2 or later (a torch 1.x there would repeat torch13).
ref_label() {
    py=$(ref_python "$1")
    [ -n "$py" ] && [ -x "$py" ] || command -v "$py" >/dev/null 2>&1 || return 0
    case $1 in
    torch13) code='import torch; print("PyTorch " + torch.__version__.split("+")[0])' ;;
    torch2) code='import torch; v = torch.__version__.split("+")[0]; print("PyTorch " + v if int(v.split(".")[0]) >= 2 else "")' ;;
    keras) code='import os; os.environ.setdefault("KERAS_BACKEND", "tensorflow"); import keras; print("Keras " + keras.__version__ + " (" + keras.backend.backend() + ")" if int(keras.__version__.split(".")[0]) >= 3 else "")' ;;
    jax) code='import jax; print("JAX " + jax.__version__)' ;;
    ort) code='import onnxruntime, numpy; print("onnxruntime " + onnxruntime.__version__)' ;;
    esac
    TF_CPP_MIN_LOG_LEVEL=3 JAX_PLATFORMS=cpu "$py" -c "$code" 2>/dev/null | tail -n 1
}

# Sets REFS to the installed references among the IDs given, and LABEL_<ID> to
# each one's name; prints one line per ID (the name, or "not installed").
find_refs() {
    REFS=""
    for id in "$@"; do
        label=$(ref_label "$id")
        if [ "$id" = torch2 ] && [ "$TORCH2_PYTHON" = "$TORCH13_PYTHON" ]; then label=""; fi
        if [ -n "$label" ]; then
            REFS="$REFS $id"
            eval "LABEL_$id=\$label"
            echo "  $id: $label ($(ref_python "$id"))"
        else
            eval "LABEL_$id=\$(ref_generic_name $id)"
            echo "  $id: not installed$(ref_hint "$id")"
        fi
    done
}

ref_generic_name() {
    case $1 in
    torch13) echo "PyTorch 1.13 (Debian)" ;;
    torch2) echo "PyTorch 2.x" ;;
    keras) echo "Keras 3" ;;
    jax) echo "JAX" ;;
    ort) echo "onnxruntime" ;;
    esac
}

ref_hint() {
    case $1 in
    torch13) echo " (scripts/install-deps.sh --bench: python3-torch)" ;;
    torch2) echo " (make bench-refs, or TORCH2_PYTHON=/path/to/python)" ;;
    keras) echo " (make bench-refs, or KERAS_PYTHON=/path/to/python)" ;;
    jax) echo " (make bench-refs, or JAX_PYTHON=/path/to/python)" ;;
    ort) echo " (make bench-refs, or ORT_PYTHON=/path/to/python)" ;;
    esac
}

# Runs a command with libgomp's wait policy as the caller asked: its default
# (spin a while, then sleep: what a user gets) unless OMP_WAIT_POLICY is set.
# Both deepc and PyTorch use libgomp, whose idle threads spin at every barrier:
# on a loaded machine a spinning thread takes the core its partner needs.
with_policy() {
    if [ -n "${OMP_WAIT_POLICY:-}" ]; then "$@"; else env -u OMP_WAIT_POLICY "$@"; fi
}
