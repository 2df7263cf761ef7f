"""ref_onnx.py — checks the .onnx files deepc exported (tests/test_onnx.c, onnx_regenerate and
onnx_regenerate_functional) with onnx.checker and runs them in onnxruntime on the committed
inputs; writes NAME.ort.bin. A model with several inputs reads them one after another from
NAME.input.bin (in the graph's input order); several outputs are written one after another.

Run: DC_ONNX_REGEN=1 build/test_runner onnx_regenerate
     (DC_ONNX_REGEN=1 build/test_runner onnx_regenerate_functional after the Keras exports)
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
    flat = np.fromfile(os.path.join(HERE, name + ".input.bin"), dtype="<f4")
    feeds, shapes, at = {}, [], 0
    for gi in model.graph.input:
        dims = gi.type.tensor_type.shape.dim
        assert dims[0].dim_param == "N", "batch axis is symbolic"
        shape = [BATCH] + [d.dim_value for d in dims[1:]]
        n = int(np.prod(shape))
        feeds[gi.name] = flat[at:at + n].reshape(shape)
        shapes.append(shape)
        at += n
    assert at == flat.size, f"{name}: the input file holds {flat.size} floats, not {at}"
    if len(feeds) == 1:
        assert "input" in feeds, "a model of one input names it 'input'"
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ys = sess.run(None, feeds)
    np.concatenate([y.astype("<f4").reshape(-1) for y in ys]).tofile(os.path.join(HERE, name + ".ort.bin"))
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{name}: inputs {shapes} -> outputs {[list(y.shape) for y in ys]}; ops {' '.join(ops)}")


def main():
    names = sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".onnx"))
    if not names:
        sys.exit("no .onnx files: run DC_ONNX_REGEN=1 build/test_runner onnx_regenerate first")
    for n in names:
        run(n)
    print("onnx", onnx.__version__, "onnxruntime", ort.__version__)


if __name__ == "__main__":
    main()
