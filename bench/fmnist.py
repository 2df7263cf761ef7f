"""fmnist.py — Fashion-MNIST's training images for the numpy-based references
(Keras, JAX) of `make bench`: x (N, 28, 28, 1) float32 in [0, 1], y (N,) int32."""
import gzip
import resource

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_train(limit=0):
    x = load_idx(f"{DATA}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1)
    y = load_idx(f"{DATA}/train-labels-idx1-ubyte.gz", 8)
    if limit:
        x, y = x[:limit], y[:limit]
    return x.astype(np.float32) / 255.0, y.astype(np.int32)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pin_to_cores(threads):
    """Runs the process on its first `threads` allowed cores: XLA and TensorFlow
    size their thread pools by the cores they may use when they load."""
    import os
    cores = sorted(os.sched_getaffinity(0))
    if threads < len(cores):
        os.sched_setaffinity(0, cores[:threads])
