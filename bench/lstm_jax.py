"""lstm_jax.py — the JAX side of bench/lstm_bench.c: Embedding(V, 64) ->
LSTM(256) or GRU(256) over T 100 (lax.scan) -> Dense(V), batch 64,
cross-entropy over every position, Adam written out; the whole train step is
one jitted function. Prints jax,CELL,THREADS,train_tokens_per_s,gen_tokens_per_s,loss
usage: lstm_jax.py [--cell lstm|gru] [--threads N] [--steps N] [--reps N]"""
import os
import sys
import time

from lstm_args import B, E, T, U, V, parse  # noqa: E402


a = parse()
# XLA's CPU thread pool is sized when jax loads, one thread per core it may
# run on: 1 thread is asked for by pinning to one core (lstm.sh runs it under
# taskset), and Eigen's own threading is turned off with it.
if a.threads == 1:
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402


def init(key, gru):
    G = (3 if gru else 4) * U
    k = jax.random.split(key, 5)
    return {
        "emb": jax.random.uniform(k[0], (V, E), minval=-0.05, maxval=0.05),
        "wx": jax.random.normal(k[1], (E, G)) * 0.1,
        "wh": jax.random.normal(k[2], (U, G)) * 0.06,
        "b": jnp.zeros((2, G) if gru else (G,)),
        "wo": jax.random.normal(k[3], (U, V)) * 0.1,
        "bo": jnp.zeros((V,)),
    }


def lstm_step(p, carry, xg):
    h, c = carry
    g = xg + h @ p["wh"]
    i, f, gg, o = jnp.split(g, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def gru_step(p, carry, xg):
    h, = carry
    r_ = h @ p["wh"] + p["b"][1]
    xz, xr, xh = jnp.split(xg, 3, axis=-1)
    hz, hr, hh = jnp.split(r_, 3, axis=-1)
    z = jax.nn.sigmoid(xz + hz)
    r = jax.nn.sigmoid(xr + hr)
    n = jnp.tanh(xh + r * hh)
    h = z * h + (1 - z) * n
    return (h,), h


def forward(p, ids, gru):
    x = p["emb"][ids]  # (B, T, E)
    bias = p["b"][0] if gru else p["b"]
    xg = jnp.einsum("bte,eg->tbg", x, p["wx"]) + bias  # all steps at once
    nb = ids.shape[0]
    carry = (jnp.zeros((nb, U)),) if gru else (jnp.zeros((nb, U)), jnp.zeros((nb, U)))
    step = gru_step if gru else lstm_step
    _, hs = jax.lax.scan(lambda c, g: step(p, c, g), carry, xg)  # (T, B, U)
    return jnp.einsum("tbu,uv->btv", hs, p["wo"]) + p["bo"]


def loss_fn(p, ids, lab, gru):
    logits = forward(p, ids, gru)
    lp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(lp, lab[..., None], axis=-1))


def make_step(gru, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    def step(p, m, v, t, ids, lab):
        loss, g = jax.value_and_grad(loss_fn)(p, ids, lab, gru)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        a_t = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        p = jax.tree_util.tree_map(lambda p_, m_, v_: p_ - a_t * m_ / (jnp.sqrt(v_) + eps), p, m, v)
        return p, m, v, t, loss
    return jax.jit(step, donate_argnums=(0, 1, 2))


def main():
    gru = a.cell == "gru"
    key = jax.random.PRNGKey(0)
    p = init(key, gru)
    m = jax.tree_util.tree_map(jnp.zeros_like, p)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    t = jnp.zeros((), jnp.float32)
    ids = jax.random.randint(jax.random.PRNGKey(1), (B, T), 0, V)
    lab = jax.random.randint(jax.random.PRNGKey(2), (B, T), 0, V)
    step = make_step(gru)
    best = 1e30
    loss = None
    for rep in range(a.reps + 1):  # rep 0 compiles and warms up
        t0 = time.perf_counter()
        for _ in range(a.steps):
            p, m, v, t, loss = step(p, m, v, t, ids, lab)
        loss.block_until_ready()
        dt = (time.perf_counter() - t0) / a.steps
        if rep > 0:
            best = min(best, dt)
    # generation: one jitted cell step per token, the state carried
    bias = p["b"][0] if gru else p["b"]

    @jax.jit
    def gen_step(carry, tok):
        xg = p["emb"][tok] @ p["wx"] + bias
        carry, h = (gru_step if gru else lstm_step)(p, carry, xg)
        return carry, jnp.argmax(h @ p["wo"] + p["bo"], axis=-1)

    carry = (jnp.zeros((1, U)),) if gru else (jnp.zeros((1, U)), jnp.zeros((1, U)))
    tok = jnp.zeros((1,), jnp.int32)
    carry, tok = gen_step(carry, tok)
    gen = 500
    g0 = time.perf_counter()
    for _ in range(gen):
        carry, tok = gen_step(carry, tok)
    tok.block_until_ready()
    gen_tps = gen / (time.perf_counter() - g0)
    print(f"jax,{a.cell},{a.threads},{B * T / best:.0f},{gen_tps:.0f},{float(loss):.4f}")


if __name__ == "__main__":
    sys.exit(main())
