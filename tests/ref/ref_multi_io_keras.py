"""ref_multi_io_keras.py — a model of two inputs and two outputs (a (3), b (2)
-> Concatenate -> trunk Dense(8, relu) -> cls Dense(3, softmax) and reg
Dense(1)) trained by Keras 3's fit from given weights: losses [sparse
categorical crossentropy, mse], loss_weights [1, 0.5], metrics {cls: accuracy,
reg: mae}, SGD 0.1, 2 epochs of batch 4 in order, 3 of 12 samples held out by
validation_split, then evaluated in batches of 5. Writes
ref/data/multi_io_keras.txt (the data, the weights before and after, every
history column and evaluate's values) for test_multi_io.c. Run by hand
with /work/venv-tf/bin/python."""
import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
from keras import layers
from reflib import RefWriter, det_inputs

N = 12
a_x, b_x = det_inputs((N, 3), 1), det_inputs((N, 2), 2)
cls_y = (np.arange(N) % 3).astype(np.float32)
reg_y = (a_x[:, 0] - b_x[:, 1]).reshape(N, 1).astype(np.float32)
w = {
    "trunk/kernel": det_inputs((5, 8), 3, -0.6, 0.6),
    "trunk/bias": det_inputs((8,), 4, -0.1, 0.1),
    "cls/kernel": det_inputs((8, 3), 5, -0.6, 0.6),
    "cls/bias": det_inputs((3,), 6, -0.1, 0.1),
    "reg/kernel": det_inputs((8, 1), 7, -0.6, 0.6),
    "reg/bias": det_inputs((1,), 8, -0.1, 0.1),
}

a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
h = layers.Dense(8, activation="relu", name="trunk")(layers.Concatenate()([a, b]))
model = keras.Model([a, b], [layers.Dense(3, activation="softmax", name="cls")(h),
                             layers.Dense(1, name="reg")(h)])
for name in ("trunk", "cls", "reg"):
    model.get_layer(name).set_weights([w[name + "/kernel"], w[name + "/bias"]])
model.compile(optimizer=keras.optimizers.SGD(0.1),
              loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
              metrics={"cls": ["accuracy"], "reg": ["mae"]})
hist = model.fit([a_x, b_x], [cls_y, reg_y], batch_size=4, epochs=2, shuffle=False,
                 validation_split=0.25, verbose=0).history

out = RefWriter(os.path.join(os.path.dirname(__file__), "data", "multi_io_keras.txt"))
for k, v in (("a", a_x), ("b", b_x), ("cls", cls_y), ("reg", reg_y)):
    out.add(k, v)
for k, v in w.items():
    out.add("init/" + k, v)
for key in sorted(hist):
    out.add("history/" + key, np.array(hist[key]))
# after fit: evaluate in batches of 5 (Keras weighs "loss" by the samples of
# each batch, but each batch once in "cls_loss" and "reg_loss")
ev = model.evaluate([a_x, b_x], [cls_y, reg_y], batch_size=5, verbose=0, return_dict=True)
for key in sorted(ev):
    out.add("evaluate/" + key, np.array([ev[key]]))
for name in ("trunk", "cls", "reg"):
    kernel, bias = model.get_layer(name).get_weights()
    out.add("final/" + name + "/kernel", kernel)
    out.add("final/" + name + "/bias", bias)
out.close()
