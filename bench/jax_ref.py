"""jax_ref.py — the JAX side of `make bench`: one epoch of the Fashion-MNIST MLP
or CNN (the nets, batch sizes and optimizer of bench/torch_ref.py), the whole
train step (batch gather, forward, backward, Adam written out) one jitted
function. Compilation is left out of the time: the full and the last partial
batch shapes are compiled first. 1 thread: pinned to one core, Eigen's own
threading off. Prints net,threads,seconds_per_epoch,peak_rss_mb,final_loss"""
import argparse
import os
import time

import fmnist

B1, B2, EPS, LR = 0.9, 0.999, 1e-7, 1e-3


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    return ap.parse_args()


a = parse()
fmnist.pin_to_cores(a.threads)
if a.threads == 1:
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def uniform(key, shape, fan_in):
    lim = (6.0 / fan_in) ** 0.5
    return jax.random.uniform(key, shape, minval=-lim, maxval=lim)


def init(key, kind):
    k = jax.random.split(key, 4)
    if kind == "mlp":
        return {"w1": uniform(k[0], (784, 128), 784), "b1": jnp.zeros(128),
                "w2": uniform(k[1], (128, 10), 128), "b2": jnp.zeros(10)}
    return {"c1": uniform(k[0], (3, 3, 1, 24), 9), "cb1": jnp.zeros(24),
            "c2": uniform(k[1], (3, 3, 24, 36), 216), "cb2": jnp.zeros(36),
            "w1": uniform(k[2], (7 * 7 * 36, 128), 7 * 7 * 36), "b1": jnp.zeros(128),
            "w2": uniform(k[3], (128, 10), 128), "b2": jnp.zeros(10)}


def conv_relu_pool(x, w, b):
    y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = jax.nn.relu(y + b)
    return jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def forward(p, x):
    if "c1" in p:
        x = conv_relu_pool(conv_relu_pool(x, p["c1"], p["cb1"]), p["c2"], p["cb2"])
    x = x.reshape(x.shape[0], -1)
    return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def loss_fn(p, x, y):
    lp = jax.nn.log_softmax(forward(p, x))
    return -jnp.mean(jnp.take_along_axis(lp, y[:, None], axis=1))


def step(p, m, v, t, X, Y, idx):
    loss, g = jax.value_and_grad(loss_fn)(p, X[idx], Y[idx])
    t = t + 1
    m = jax.tree_util.tree_map(lambda m_, g_: B1 * m_ + (1 - B1) * g_, m, g)
    v = jax.tree_util.tree_map(lambda v_, g_: B2 * v_ + (1 - B2) * g_ * g_, v, g)
    lr = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
    p = jax.tree_util.tree_map(lambda p_, m_, v_: p_ - lr * m_ / (jnp.sqrt(v_) + EPS), p, m, v)
    return p, m, v, t, loss


def main():
    x, y = fmnist.load_train(a.limit)
    if a.net == "mlp":
        x = x.reshape(len(x), -1)
    batch = 32 if a.net == "mlp" else 64
    X, Y = jnp.asarray(x), jnp.asarray(y)
    p = init(jax.random.PRNGKey(0), a.net)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, p)
    m, v, t = zeros, jax.tree_util.tree_map(jnp.zeros_like, p), jnp.zeros((), jnp.float32)
    train_step = jax.jit(step, donate_argnums=(0, 1, 2))
    n = len(x)
    for size in sorted({batch, n % batch} - {0}):
        p, m, v, t, loss = train_step(p, m, v, t, X, Y, np.arange(size, dtype=np.int32))
    loss.block_until_ready()
    start = time.perf_counter()
    perm = np.random.default_rng(0).permutation(n).astype(np.int32)
    for i in range(0, n, batch):
        p, m, v, t, loss = train_step(p, m, v, t, X, Y, perm[i:i + batch])
    loss = float(loss)
    secs = time.perf_counter() - start
    print(f"{a.net},{a.threads},{secs:.3f},{fmnist.peak_rss_mb():.1f},{loss:.4f}")


if __name__ == "__main__":
    main()
