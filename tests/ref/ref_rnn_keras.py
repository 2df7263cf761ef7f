"""ref_rnn_keras.py — Keras 3 references for the recurrent layers' semantics:
LSTM, GRU (reset_after and not) and SimpleRNN with masks that have holes (not
only padding), go_backwards, return_sequences and hard_sigmoid, weights set in
Keras' own layouts. Writes tests/ref/data/rnn_keras.txt; run by hand:
/work/venv-tf/bin/python tests/ref/ref_rnn_keras.py"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from reflib import RefWriter, det_inputs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
B, T, I, U = 4, 6, 3, 5
# kind, go_backwards, return_sequences, recurrent_activation, reset_after
CASES = [("LSTM", False, True, "sigmoid", True), ("LSTM", True, True, "hard_sigmoid", True),
         ("LSTM", True, False, "sigmoid", True), ("GRU", False, True, "sigmoid", True),
         ("GRU", True, True, "sigmoid", False), ("GRU", False, False, "hard_sigmoid", False),
         ("SimpleRNN", False, True, None, True), ("SimpleRNN", True, True, None, True)]


def main():
    w = RefWriter(os.path.join(HERE, "data", "rnn_keras.txt"))
    x = det_inputs((B, T, I), 1)
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 1],
                     [0, 0, 0, 0, 0, 0]], dtype=bool)
    w.add("x", x)
    w.add("mask", mask.astype(np.float64))
    w.add("ncases", [len(CASES)])
    for ci, (kind, back, seq, ract, reset_after) in enumerate(CASES):
        kw = dict(units=U, go_backwards=back, return_sequences=seq)
        if ract:
            kw["recurrent_activation"] = ract
        if kind == "GRU":
            kw["reset_after"] = reset_after
        layer = getattr(keras.layers, kind)(**kw)
        layer.build((B, T, I))
        weights = [det_inputs(v.shape, 10 * ci + j + 2, -0.6, 0.6) for j, v in enumerate(layer.weights)]
        layer.set_weights(weights)
        y = layer(x, mask=mask).numpy()
        p = f"c{ci}_"
        w.add(p + "meta", [["LSTM", "GRU", "SimpleRNN"].index(kind), back, seq,
                           ract == "hard_sigmoid", reset_after])
        for name, v in zip(("kernel", "recurrent_kernel", "bias"), weights):
            w.add(p + name, v)
        w.add(p + "y", y)
    w.close()


if __name__ == "__main__":
    main()
