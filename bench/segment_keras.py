"""segment_keras.py — the Keras 3 reference for models/fashion_unet.ini: the same
U-Net (Conv2D 3x3 relu + BatchNormalization blocks: 8, 32, two of 64, two of 128
and two of 256 at the 4x4 bottom, MaxPooling2D down, Conv2DTranspose 2x2 stride 2 up,
Concatenate skips, a 1x1 Conv2D to 11 classes) trained with Adam under a cosine
decay of the learning rate over the run and sparse crossentropy from logits on deepc's own canvases,
written by build/bench/canvases (see bench/Makefile). Prints one line per epoch
and the test mean IoU (MeanIoU(11, sparse_y_pred=False)) and pixel accuracy.
--class-weights W0,W1,... weighs each pixel's crossentropy by its class (deepc's class_weights;
Keras divides the sum by the pixel count, deepc by the sum of the weights: a factor per batch
near 1 that Adam all but ignores).
usage: segment_keras.py DATA_DIR [--epochs N] [--schedule-epochs N] [--batch N] [--lr R]
                        [--class-weights W0,W1,...] [--threads N]"""
import argparse
import os
import time


def unet(size, classes=11):
    import keras
    from keras import layers

    def block(x, f):  # a 3x3 relu Conv2D, then BatchNormalization
        return layers.BatchNormalization()(layers.Conv2D(f, 3, padding="same", activation="relu")(x))

    def up(x, skip, f_up, f):
        x = layers.Conv2DTranspose(f_up, 2, strides=2)(x)
        return block(layers.Concatenate()([x, skip]), f)

    inp = keras.Input((size, size, 1))
    n1 = block(inp, 8)
    n2 = block(layers.MaxPooling2D()(n1), 32)
    n3 = block(block(layers.MaxPooling2D()(n2), 64), 64)
    nb = block(block(layers.MaxPooling2D()(n3), 128), 128)
    c = block(block(layers.MaxPooling2D()(nb), 256), 256)
    d = up(up(up(up(c, nb, 64, 96), n3, 32, 48), n2, 16, 24), n1, 8, 16)
    return keras.Model(inp, layers.Conv2D(classes, 1)(d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--schedule-epochs", type=int, default=0,
                    help="epochs the cosine decay spans (default: --epochs), to run the start of a longer run")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--class-weights", default="", help="one weight per class, comma-separated")
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
    weights = np.array([float(w) for w in a.class_weights.split(",")], "float32") if a.class_weights else None
    pixel_weights = weights[ytr] if weights is not None else None
    model = unet(xtr.shape[1])
    steps = -(-xtr.shape[0] // a.batch) * (a.schedule_epochs or a.epochs)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(a.lr, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", keras.metrics.MeanIoU(11, sparse_y_pred=False)])
    for e in range(a.epochs):
        t0 = time.time()
        h = model.fit(xtr, ytr, sample_weight=pixel_weights, batch_size=a.batch, epochs=1, verbose=0, shuffle=True)
        dt = time.time() - t0
        r = model.evaluate(xte, yte, batch_size=a.batch, verbose=0, return_dict=True)
        print(f"epoch {e + 1}: {dt:.1f}s loss {h.history['loss'][0]:.4f} "
              f"test loss {r['loss']:.4f} accuracy {r['accuracy']:.4f} mean_io_u {r['mean_io_u']:.4f}",
              flush=True)
    print(f"keras,test_mean_io_u,{r['mean_io_u']:.4f},test_accuracy,{r['accuracy']:.4f}")


if __name__ == "__main__":
    main()
