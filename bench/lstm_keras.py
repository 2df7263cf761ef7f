"""lstm_keras.py — the Keras 3 side of bench/lstm_bench.c: Embedding(V, 64) ->
LSTM(256) or GRU(256) with return_sequences -> Dense(V), T 100, batch 64, Adam,
sparse cross-entropy from logits over every position, one compiled train step
(train_on_batch). Prints keras,CELL,THREADS,train_tokens_per_s,gen_tokens_per_s,loss
usage: lstm_keras.py [--cell lstm|gru] [--threads N] [--steps N] [--reps N]"""
import os
import time

from lstm_args import B, E, T, U, V, parse  # noqa: E402


def main():
    a = parse()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    keras.utils.set_random_seed(0)
    cell = keras.layers.GRU if a.cell == "gru" else keras.layers.LSTM
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(V, E),
        cell(U, return_sequences=True),
        keras.layers.Dense(V),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, (B, T)).astype("int32")
    lab = rng.integers(0, V, (B, T)).astype("int32")
    best = 1e30
    loss = 0.0
    for rep in range(a.reps + 1):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = model.train_on_batch(ids, lab)
        dt = (time.perf_counter() - t0) / a.steps
        if rep > 0:
            best = min(best, dt)
    # generation: one step at a time with the state carried, as a stateful RNN
    rnn = model.layers[1]
    emb, dense = model.layers[0], model.layers[2]
    cellf = tf.function(lambda x, st: rnn.cell(x, st))
    tok = np.zeros((1,), dtype="int32")
    state = [tf.zeros((1, U))] * (2 if a.cell == "lstm" else 1)
    gen = 200
    g0 = time.perf_counter()
    for _ in range(gen):
        h, state = cellf(emb(tok), state)
        tok = np.asarray(tf.argmax(dense(h), -1), dtype="int32")
    gen_tps = gen / (time.perf_counter() - g0)
    print(f"keras,{a.cell},{a.threads},{B * T / best:.0f},{gen_tps:.0f},{float(loss):.4f}")


if __name__ == "__main__":
    main()
