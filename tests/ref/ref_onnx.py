"""ref_onnx.py — checks the .onnx files deepc exported (tests/test_onnx.c, onnx_regenerate)
with onnx.checker and runs them in onnxruntime on the committed inputs; writes NAME.ort.bin.

Run: DC_ONNX_REGEN=1 build/test_runner onnx_regenerate
     /work/venv-tf/bin/python tests/ref/ref_onnx.py
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "onnx")
BATCH = 3


def run(name):
    path = os.path.join(HERE, name + ".onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 13
    inp = model.graph.input[0].type.tensor_type.shape.dim
    assert inp[0].dim_param == "N", "batch axis is symbolic"
    shape = [BATCH] + [d.dim_value for d in inp[1:]]
    x = np.fromfile(os.path.join(HERE, name + ".input.bin"), dtype="<f4").reshape(shape)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"input": x})
    y.astype("<f4").tofile(os.path.join(HERE, name + ".ort.bin"))
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{name}: input {shape} -> output {list(y.shape)}; ops {' '.join(ops)}")


def main():
    names = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".onnx"))
    if not names:
        sys.exit("no .onnx files: run DC_ONNX_REGEN=1 build/test_runner onnx_regenerate first")
    for n in names:
        run(n)
    print("onnx", onnx.__version__, "onnxruntime", ort.__version__)


if __name__ == "__main__":
    main()
