"""keras_ref.py — the Keras 3 side of `make bench` (TensorFlow backend unless
KERAS_BACKEND says otherwise): one epoch of the Fashion-MNIST MLP or CNN, the
nets, batch sizes and optimizer of bench/torch_ref.py, by model.fit. Tracing is
left out of the time: a short fit on full and last-partial batches runs first.
Prints net,threads,seconds_per_epoch,peak_rss_mb,final_loss (the epoch's mean)."""
import argparse
import os
import time

import fmnist


def make_net(keras, kind):
    L = keras.layers
    if kind == "mlp":
        body = [L.Flatten(), L.Dense(128, activation="relu"), L.Dense(10)]
    else:
        body = [L.Conv2D(24, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Conv2D(36, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
                L.Flatten(), L.Dense(128, activation="relu"), L.Dense(10)]
    return keras.Sequential([keras.Input((28, 28, 1))] + body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    fmnist.pin_to_cores(a.threads)
    import keras
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(a.threads)
        tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    keras.utils.set_random_seed(0)
    x, y = fmnist.load_train(a.limit)
    batch = 32 if a.net == "mlp" else 64
    model = make_net(keras, a.net)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    warm = 2 * batch + len(x) % batch
    model.fit(x[:warm], y[:warm], batch_size=batch, epochs=1, shuffle=False, verbose=0)
    start = time.perf_counter()
    h = model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    secs = time.perf_counter() - start
    print(f"{a.net},{a.threads},{secs:.3f},{fmnist.peak_rss_mb():.1f},{h.history['loss'][-1]:.4f}")


if __name__ == "__main__":
    main()
