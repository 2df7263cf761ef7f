"""ref_seq_layers.py — Keras 3 references for deepc's sequence layers: Embedding
(mask_zero), Masking, Conv1D (valid, same, causal, strides, dilation), MaxPooling1D,
GlobalAveragePooling1D over a mask, and a masked sequence loss and metric with one
SGD step. Writes tests/ref/data/seq_layers.txt.
Run by hand: /work/venv-tf/bin/python tests/ref/ref_seq_layers.py

Inputs and weights come from det_inputs, so deepc's test sets the same numbers.
Gradients are those of sum(y * g) for a fixed g, taken with tf.GradientTape."""
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras
from reflib import RefWriter, det_inputs

HERE = os.path.dirname(os.path.abspath(__file__))
w = RefWriter(os.path.join(HERE, "data", "seq_layers.txt"))


def grads_of(layer, x, g, watch_x=True):
    """y = layer(x); gradients of sum(y * g) to x (if float) and the weights."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        if watch_x:
            tape.watch(xt)
        y = layer(xt)
        s = tf.reduce_sum(y * g)
    srcs = ([xt] if watch_x else []) + list(layer.trainable_weights)
    return y, tape.gradient(s, srcs)


# ---- Embedding(7, 3, mask_zero) on ids (2,5) ----
ids = np.array([[3, 1, 0, 6, 0], [0, 2, 2, 5, 4]], dtype=np.float32)
emb_w = det_inputs((7, 3), 1)
emb = keras.layers.Embedding(7, 3, mask_zero=True)
emb.build((2, 5))
emb.set_weights([emb_w])
g = det_inputs((2, 5, 3), 2)
y, (dw,) = grads_of(emb, ids.astype("int32"), g, watch_x=False)
w.add("emb_ids", ids)
w.add("emb_w", emb_w)
w.add("emb_g", g)
w.add("emb_y", y.numpy())
w.add("emb_mask", emb.compute_mask(ids.astype("int32")).numpy().astype(np.float32))
w.add("emb_dw", tf.convert_to_tensor(dw).numpy())

# ---- Masking(0.5) on (2,4,3): steps all 0.5 are masked ----
xm = det_inputs((2, 4, 3), 3)
xm[0, 1, :] = 0.5
xm[1, 3, :] = 0.5
xm[1, 0, 0] = 0.5  # one feature equal is not enough
msk = keras.layers.Masking(mask_value=0.5)
w.add("mask_x", xm)
w.add("mask_y", msk(tf.constant(xm)).numpy())
w.add("mask_mask", msk.compute_mask(tf.constant(xm)).numpy().astype(np.float32))

# ---- GlobalAveragePooling1D over that mask ----
gap = keras.layers.GlobalAveragePooling1D()
mk = msk.compute_mask(tf.constant(xm))
w.add("gap_y", gap(msk(tf.constant(xm)), mask=mk).numpy())
w.add("gap_nomask_y", gap(tf.constant(xm)).numpy())
gmp = keras.layers.GlobalMaxPooling1D()
w.add("gmp_nomask_y", gmp(tf.constant(xm)).numpy())

# ---- Conv1D on (2,9,3) ----
xc = det_inputs((2, 9, 3), 4)
w.add("conv_x", xc)
cases = [  # name, filters, kernel, strides, padding, dilation, activation, bias
    ("c1_valid", 4, 3, 1, "valid", 1, "relu", True),
    ("c1_same", 5, 4, 2, "same", 1, "tanh", True),
    ("c1_causal", 2, 3, 1, "causal", 2, "linear", False),
    ("c1_stride", 3, 2, 3, "valid", 1, "linear", True),
]
for i, (name, f, k, s, pad, d, act, bias) in enumerate(cases):
    layer = keras.layers.Conv1D(f, k, strides=s, padding=pad, dilation_rate=d,
                                activation=act, use_bias=bias)
    layer.build((None, 9, 3))
    kern = det_inputs((k, 3, f), 10 + i, -0.5, 0.5)
    wts = [kern]
    if bias:
        wts.append(det_inputs((f,), 20 + i, -0.3, 0.3))
    layer.set_weights(wts)
    y0 = layer(tf.constant(xc)).numpy()
    gy = det_inputs(y0.shape, 30 + i)
    y, gr = grads_of(layer, xc, gy)
    w.add(name + "_kernel", kern)
    if bias:
        w.add(name + "_bias", wts[1])
    w.add(name + "_g", gy)
    w.add(name + "_y", y.numpy())
    w.add(name + "_dx", gr[0].numpy())
    w.add(name + "_dk", gr[1].numpy())
    if bias:
        w.add(name + "_db", gr[2].numpy())

# ---- MaxPooling1D ----
for name, p, s, pad in [("mp_valid", 2, None, "valid"), ("mp_same", 3, 2, "same")]:
    layer = keras.layers.MaxPooling1D(p, strides=s, padding=pad)
    w.add(name + "_y", layer(tf.constant(xc)).numpy())

# ---- masked sequence loss: Embedding(mask_zero) -> Dense(4), (B=3,T=5) ----
V, D, C = 6, 3, 4
sid = np.array([[1, 4, 2, 0, 0], [5, 3, 0, 0, 0], [2, 2, 1, 3, 4]], dtype=np.float32)
sy = np.array([[0, 3, 1, 2, 2], [1, 2, 0, 0, 3], [3, 3, 0, 1, 2]], dtype=np.float32)
ew = det_inputs((V, D), 40)
dk = det_inputs((D, C), 41)
db = det_inputs((C,), 42, -0.2, 0.2)
w.add("seq_ids", sid)
w.add("seq_y", sy)
w.add("seq_emb", ew)
w.add("seq_kernel", dk)
w.add("seq_bias", db)
onehot = np.eye(C, dtype=np.float32)[sy.astype(int)]
multihot = np.clip(onehot + np.eye(C, dtype=np.float32)[(sy.astype(int) + 1) % C] * (sy[..., None] > 1), 0, 1)
w.add("seq_multihot", multihot)
for lname, loss, yy, act, metric in [
        ("sce", keras.losses.SparseCategoricalCrossentropy(from_logits=True), sy, None, "accuracy"),
        ("mse", "mse", onehot, None, "mae"),
        ("cce", keras.losses.CategoricalCrossentropy(from_logits=True), onehot, None, "accuracy"),
        # probabilities: Keras' binary_accuracy thresholds the raw outputs at 0.5,
        # which for logits is not what deepc (sigmoid first) compares
        ("bce", "binary_crossentropy", multihot, "sigmoid", "binary_accuracy"),
        ("sce_softmax", "sparse_categorical_crossentropy", sy, "softmax", "accuracy")]:
    model = keras.Sequential([keras.Input((5,)), keras.layers.Embedding(V, D, mask_zero=True),
                              keras.layers.Dense(C, activation=act)])
    model.set_weights([ew, dk, db])
    metrics = [metric]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss, metrics=metrics)
    ev = model.evaluate(sid, yy, batch_size=3, verbose=0)
    w.add(lname + "_eval", np.array(ev, dtype=np.float32))
    model.train_on_batch(sid, yy)
    after = model.get_weights()
    w.add(lname + "_emb_after", after[0])
    w.add(lname + "_kernel_after", after[1])
    w.add(lname + "_bias_after", after[2])
# ---- Bidirectional over Embedding(mask_zero) ids (2,5), post-padded ----
bids = np.array([[3, 1, 4, 0, 0], [2, 5, 1, 6, 2]], dtype=np.float32)
bemb = det_inputs((7, 4), 60)
w.add("bi_ids", bids)
w.add("bi_emb", bemb)
bcases = [  # name, wrapped, units, return_sequences, merge_mode
    ("bi_lstm", keras.layers.LSTM, 3, True, "concat"),
    ("bi_gru", keras.layers.GRU, 2, False, "sum"),
    ("bi_rnn", keras.layers.SimpleRNN, 3, True, "ave"),
    ("bi_gru_mul", keras.layers.GRU, 2, True, "mul"),
]
for i, (name, cls, units, rs, mm) in enumerate(bcases):
    emb = keras.layers.Embedding(7, 4, mask_zero=True)
    bi = keras.layers.Bidirectional(cls(units, return_sequences=rs), merge_mode=mm)
    model = keras.Sequential([keras.Input((5,)), emb, bi])
    emb.set_weights([bemb])
    wts = [det_inputs(v.shape, 70 + 10 * i + j, -0.6, 0.6) for j, v in enumerate(bi.get_weights())]
    bi.set_weights(wts)
    for j, v in enumerate(wts):
        w.add(f"{name}_w{j}", v)
    y0 = model(bids.astype("int32")).numpy()
    g = det_inputs(y0.shape, 90 + i)
    with tf.GradientTape() as tape:
        y = model(bids.astype("int32"))
        s = tf.reduce_sum(y * g)
    grads = tape.gradient(s, bi.trainable_weights)
    w.add(name + "_g", g)
    w.add(name + "_y", y.numpy())
    for j, gr in enumerate(grads):
        w.add(f"{name}_dw{j}", tf.convert_to_tensor(gr).numpy())
w.close()
print("wrote", os.path.join(HERE, "data", "seq_layers.txt"))
