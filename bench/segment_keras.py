"""segment_keras.py — the Keras 3 reference for models/fashion_unet.ini: the same
small U-Net (a Conv2D 3x3 relu per block, 16-32-64 filters, MaxPooling2D down,
Conv2DTranspose 2x2 stride 2 up, Concatenate skips, a 1x1 Conv2D to 11 classes)
trained with Adam and sparse crossentropy from logits on deepc's own canvases,
written by build/bench/canvases (see bench/Makefile). Prints one line per epoch
and the test mean IoU (MeanIoU(11, sparse_y_pred=False)) and pixel accuracy.
usage: segment_keras.py DATA_DIR [--epochs N] [--batch N] [--lr R] [--threads N]"""
import argparse
import os
import time


def unet(size, classes=11):
    import keras
    from keras import layers

    def block(x, f):
        return layers.Conv2D(f, 3, padding="same", activation="relu")(x)

    inp = keras.Input((size, size, 1))
    c1 = block(inp, 16)
    c2 = block(layers.MaxPooling2D()(c1), 32)
    b = block(layers.MaxPooling2D()(c2), 64)
    u2 = layers.Conv2DTranspose(32, 2, strides=2)(b)
    d2 = block(layers.Concatenate()([u2, c2]), 32)
    u1 = layers.Conv2DTranspose(16, 2, strides=2)(d2)
    d1 = block(layers.Concatenate()([u1, c1]), 16)
    return keras.Model(inp, layers.Conv2D(classes, 1)(d1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    keras.utils.set_random_seed(1)
    load = lambda n: np.load(os.path.join(a.data, n))
    xtr = load("train_x.npy").astype("float32") / 255.0
    ytr = load("train_y.npy").astype("int32")
    xte = load("test_x.npy").astype("float32") / 255.0
    yte = load("test_y.npy").astype("int32")
    model = unet(xtr.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(a.lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", keras.metrics.MeanIoU(11, sparse_y_pred=False)])
    for e in range(a.epochs):
        t0 = time.time()
        h = model.fit(xtr, ytr, batch_size=a.batch, epochs=1, verbose=0, shuffle=True)
        dt = time.time() - t0
        r = model.evaluate(xte, yte, batch_size=a.batch, verbose=0, return_dict=True)
        print(f"epoch {e + 1}: {dt:.1f}s loss {h.history['loss'][0]:.4f} "
              f"test loss {r['loss']:.4f} accuracy {r['accuracy']:.4f} mean_io_u {r['mean_io_u']:.4f}",
              flush=True)
    print(f"keras,test_mean_io_u,{r['mean_io_u']:.4f},test_accuracy,{r['accuracy']:.4f}")


if __name__ == "__main__":
    main()
