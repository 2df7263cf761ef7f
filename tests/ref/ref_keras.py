"""ref_keras.py — writes small Keras 3 models as .keras archives (tests/ref/data/keras/NAME.keras)
and Keras' outputs on fixed inputs (keras_outputs.txt) for deepc's importer (tests/test_keras.c);
then loads each archive deepc exported (export_NAME.keras, written by
`DC_KERAS_REGEN=1 build/test_runner keras_export_regenerate`) with keras.saving.load_model and
writes what Keras predicts on the committed inputs (export_NAME.keras.out.bin).

Run: /work/venv-tf/bin/python tests/ref/ref_keras.py [--exports-only]
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reflib import RefWriter, det_inputs  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras")
BATCH = 3


def mlp():
    m = keras.Sequential([
        keras.Input((8,)),
        layers.Dense(16, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.25),
        layers.Dense(8, activation="tanh", use_bias=False),
        layers.Dense(4, activation="softmax"),
    ], name="mlp")
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m, (8,), False


def cnn():
    m = keras.Sequential([
        keras.Input((9, 9, 2)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(3, (2, 3), strides=(1, 2), activation="sigmoid"),
        layers.AveragePooling2D(pool_size=2, padding="same"),
        layers.Flatten(),
        layers.Dense(5),
        layers.Activation("softmax"),
    ], name="cnn")
    m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    return m, (9, 9, 2), False


def rnn():
    m = keras.Sequential([
        keras.Input((7,)),
        layers.Embedding(12, 5),
        layers.LSTM(6, return_sequences=True),
        layers.GRU(4, return_sequences=True),
        layers.SimpleRNN(3),
        layers.Dense(2),
    ], name="rnn")
    m.compile(optimizer=keras.optimizers.RMSprop(), loss="mse", metrics=["mae"])
    return m, (7,), True


def seq():
    m = keras.Sequential([
        keras.Input((10, 3)),
        layers.Conv1D(4, 3, padding="causal", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(5, 2),
        layers.GlobalAveragePooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ], name="seq")
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return m, (10, 3), False


def bidi():
    m = keras.Sequential([
        keras.Input((6,)),
        layers.Embedding(10, 4, mask_zero=True),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
        layers.Bidirectional(layers.GRU(2), merge_mode="sum"),
        layers.Dense(2),
    ], name="bidi")
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    return m, (6,), True


MODELS = {"mlp": mlp, "cnn": cnn, "rnn": rnn, "seq": seq, "bidi": bidi}


def randomize(m, seed):
    """Every weight away from its initializer (biases, BN statistics too)."""
    rng = np.random.default_rng(seed)
    for layer in m.layers:
        ws = layer.get_weights()
        new = []
        for v, w in zip(layer.weights, ws):
            r = rng.normal(0.0, 0.5, w.shape).astype(np.float32)
            if "variance" in v.path:
                r = np.abs(r) + 0.5
            new.append(r)
        layer.set_weights(new)


def inputs(shape, ids, seed):
    if ids:
        x = np.floor(det_inputs((BATCH,) + shape, seed, 0.0, 9.99)).astype(np.float32)
        x[1, -2:] = 0  # padding at the end of one sequence (masked where mask_zero)
        return x
    return det_inputs((BATCH,) + shape, seed)


def write_reference():
    w = RefWriter(os.path.join(HERE, "keras_outputs.txt"))
    for i, (name, make) in enumerate(MODELS.items()):
        m, shape, ids = make()
        randomize(m, 100 + i)
        x = inputs(shape, ids, 7 + i)
        y = m.predict(x, verbose=0)
        m.save(os.path.join(HERE, name + ".keras"))
        w.add(name + "_x", x)
        w.add(name + "_y", y)
        print(f"{name}: {list(x.shape)} -> {list(y.shape)}")
    w.close()


def input_path(name):
    if name in ("trained", "bidi"):
        return os.path.join(HERE, name + ".input.bin")
    return os.path.join(HERE, "..", "onnx", name + ".input.bin")


def check_exports():
    """Keras loads what deepc exported and predicts on the committed inputs."""
    names = sorted(f[len("export_"):-len(".keras")] for f in os.listdir(HERE)
                   if f.startswith("export_") and f.endswith(".keras"))
    if not names:
        sys.exit("no exports: run DC_KERAS_REGEN=1 build/test_runner keras_export_regenerate")
    for name in names:
        path = os.path.join(HERE, "export_" + name + ".keras")
        m = keras.saving.load_model(path)
        shape = [BATCH] + list(m.input_shape[1:])
        x = np.fromfile(input_path(name), dtype="<f4").reshape(shape)
        y = np.asarray(m.predict(x, verbose=0), dtype="<f4")
        y.tofile(path + ".out.bin")
        opt = getattr(m, "optimizer", None)
        loss = getattr(m, "loss", None)
        logits = getattr(loss, "from_logits", None)
        print(f"{name}: {shape} -> {list(y.shape)}; loss {loss if isinstance(loss, str) else type(loss).__name__}"
              f" (from_logits {logits}), optimizer {opt.name if opt else None}")
        if name == "trained":
            assert logits is True, "deepc's logits model must compile with from_logits"
            assert opt.name == "adam" and abs(float(opt.learning_rate) - 0.01) < 1e-6


def main():
    if "--exports-only" not in sys.argv:
        write_reference()
    check_exports()
    print("keras", keras.__version__)


if __name__ == "__main__":
    main()
