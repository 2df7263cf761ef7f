"""ref_keras.py — writes small Keras 3 models as .keras archives (tests/ref/data/keras/NAME.keras)
and Keras' outputs on fixed inputs for deepc's importer (tests/test_keras.c): Sequential models
into keras_outputs.txt, Functional ones (several inputs and outputs: NAME_x0, NAME_y1 ...) into
functional_outputs.txt;
then loads each archive deepc exported (export_NAME.keras, written by
`DC_KERAS_REGEN=1 build/test_runner keras_export_regenerate`) with keras.saving.load_model and
writes what Keras predicts on the committed inputs (export_NAME.keras.out.bin).

An exported model with several inputs reads them one after another from its .input.bin and
writes its outputs one after another.

Run: /work/venv-tf/bin/python tests/ref/ref_keras.py [--exports-only | --functional-only]
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


def unet():
    """A small U-Net: two levels, UpSampling2D and Conv2DTranspose, skip connections."""
    x = keras.Input((8, 8, 2), name="image")
    c1 = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    p1 = layers.MaxPooling2D()(c1)
    c2 = layers.Conv2D(6, 3, padding="same", activation="relu")(p1)
    up = layers.UpSampling2D()(c2)
    ct = layers.Conv2DTranspose(3, 2, strides=2)(c2)
    cat = layers.Concatenate()([up, ct, c1])
    bn = layers.BatchNormalization()(cat)
    y = layers.Conv2D(3, 1, activation="softmax")(bn)
    m = keras.Model(x, y, name="unet")
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m, [(8, 8, 2)]


def two_in():
    """Two inputs, two outputs; every merge layer; a Dense called twice (shared);
    LeakyReLU layers with Keras' default slope (0.3) and another."""
    a = keras.Input((6,), name="a")
    b = keras.Input((4,), name="b")
    h = layers.Dense(4, activation="tanh", name="h")(a)
    shared = layers.Dense(4, name="shared")
    sa, sb = shared(h), shared(b)
    s = layers.Add()([h, b, sa])
    d = layers.Subtract()([s, sb])
    mu = layers.Multiply()([d, sa])
    av = layers.Average()([mu, b])
    mx = layers.Maximum()([av, sb, h])
    cat = layers.Concatenate(axis=-1)([mx, a])
    y0 = layers.Dense(3, name="y0")(cat)
    y1 = layers.LeakyReLU(name="y1")(layers.Dense(2)(mx))
    m = keras.Model([a, b], [y0, y1], name="two_in")
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.02, momentum=0.5),
              loss=["mse", "mse"], loss_weights=[1.0, 0.5])
    return m, [(6,), (4,)]


FUNCTIONAL = {"unet": unet, "two_in": two_in}


def opt_batch():
    """The fixed batch the optimizer-state tests train on (as tests/test_keras.c makes it)."""
    x = det_inputs((4, 5), 51)
    y = det_inputs((4, 2), 52)
    return x, y


def trainable_flat(m):
    return np.concatenate([np.asarray(v).reshape(-1) for v in m.trainable_variables])


def write_optimizer_state():
    """Keras trains a small model three steps and saves it with its optimizer's
    variables; deepc imports it and takes a fourth step, which must give the
    weights Keras' fourth step gives (optimizer_outputs.txt)."""
    w = RefWriter(os.path.join(HERE, "optimizer_outputs.txt"))
    x, y = opt_batch()
    w.add("opt_x", x)
    w.add("opt_y", y)
    opts = {"opt_adam": lambda: keras.optimizers.Adam(learning_rate=0.05),
            "opt_sgd": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)}
    for i, (name, make) in enumerate(opts.items()):
        m = keras.Sequential([keras.Input((5,)), layers.Dense(4, activation="tanh"), layers.Dense(2)],
                             name=name)
        m.compile(optimizer=make(), loss="mse")
        randomize(m, 300 + i)
        for _ in range(3):
            m.train_on_batch(x, y)
        m.save(os.path.join(HERE, name + ".keras"))
        m.train_on_batch(x, y)
        w.add(name + "_w4", trainable_flat(m))
        print(f"{name}: iterations {int(m.optimizer.iterations)}")
    w.close()


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


def write_functional():
    w = RefWriter(os.path.join(HERE, "functional_outputs.txt"))
    for i, (name, make) in enumerate(FUNCTIONAL.items()):
        m, shapes = make()
        randomize(m, 200 + i)
        xs = [det_inputs((BATCH,) + sh, 30 + 7 * i + k) for k, sh in enumerate(shapes)]
        ys = m.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        ys = ys if isinstance(ys, (list, tuple)) else [ys]
        m.save(os.path.join(HERE, name + ".keras"))
        for k, x in enumerate(xs):
            w.add(f"{name}_x{k}", x)
        for k, y in enumerate(ys):
            w.add(f"{name}_y{k}", y)
        print(f"{name}: {[list(x.shape) for x in xs]} -> {[list(y.shape) for y in ys]}")
    w.close()


def input_path(name):
    if name in ("trained", "bidi", "opt_mlp") or name.startswith("fun_"):
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
        flat = np.fromfile(input_path(name), dtype="<f4")
        xs, at = [], 0
        for inp in m.inputs:
            shape = [BATCH] + list(inp.shape[1:])
            n = int(np.prod(shape))
            xs.append(flat[at:at + n].reshape(shape))
            at += n
        assert at == flat.size, f"{name}: the input file holds {flat.size} floats, not {at}"
        ys = m.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        ys = ys if isinstance(ys, (list, tuple)) else [ys]
        np.concatenate([np.asarray(y, dtype="<f4").reshape(-1) for y in ys]).tofile(path + ".out.bin")
        shape = [list(x.shape) for x in xs] if len(xs) > 1 else list(xs[0].shape)
        opt = getattr(m, "optimizer", None)
        loss = getattr(m, "loss", None)
        logits = getattr(loss, "from_logits", None)
        print(f"{name}: {shape} -> {[list(np.shape(v)) for v in ys]}; loss {loss if isinstance(loss, str) else type(loss).__name__}"
              f" (from_logits {logits}), optimizer {opt.name if opt else None}")
        leaky = [lay for lay in m.layers if type(lay).__name__ == "LeakyReLU"]
        if name in ("mlp", "fun_c"):  # deepc's leaky_relu (slope 0.3) as LeakyReLU layers
            assert leaky and all(abs(float(lay.negative_slope) - 0.3) < 1e-7 for lay in leaky)
        if name == "fun_c":
            assert len(m.inputs) == 2 and len(m.outputs) == 2
            assert [float(w) for w in m._compile_config.config["loss_weights"]] == [1.0, 0.25]
        if name == "opt_mlp":  # deepc's Adam state: Keras takes the next step from it
            assert int(m.optimizer.iterations) == 3, int(m.optimizer.iterations)
            x, yt = opt_batch()
            m.train_on_batch(x, yt)
            trainable_flat(m).astype("<f4").tofile(path + ".step.bin")
        if name == "trained":
            assert logits is True, "deepc's logits model must compile with from_logits"
            assert opt.name == "adam" and abs(float(opt.learning_rate) - 0.01) < 1e-6


def main():
    if "--exports-only" not in sys.argv and "--functional-only" not in sys.argv:
        write_reference()
    if "--exports-only" not in sys.argv:
        write_functional()
        write_optimizer_state()
    check_exports()
    print("keras", keras.__version__)


if __name__ == "__main__":
    main()
