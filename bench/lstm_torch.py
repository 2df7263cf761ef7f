"""lstm_torch.py — the PyTorch side of bench/lstm_bench.c: Embedding(V, 64) ->
LSTM(256) or GRU(256) -> Linear(V), T 100, batch 64, Adam, cross-entropy over
every position. Prints torch,CELL,THREADS,train_tokens_per_s,gen_tokens_per_s,loss
usage: lstm_torch.py [--cell lstm|gru] [--threads N] [--steps N] [--reps N]"""
import time

import torch

from lstm_args import B, E, T, U, V, parse  # noqa: E402


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    emb = torch.nn.Embedding(V, E)
    rnn = (torch.nn.GRU if a.cell == "gru" else torch.nn.LSTM)(E, U, batch_first=True)
    out = torch.nn.Linear(U, V)
    params = list(emb.parameters()) + list(rnn.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    ids = torch.randint(0, V, (B, T))
    lab = torch.randint(0, V, (B * T,))
    lossf = torch.nn.CrossEntropyLoss()
    best = 1e30
    for rep in range(a.reps + 1):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            opt.zero_grad()
            y, _ = rnn(emb(ids))
            loss = lossf(out(y.reshape(B * T, U)), lab)
            loss.backward()
            opt.step()
        dt = (time.perf_counter() - t0) / a.steps
        if rep > 0:
            best = min(best, dt)
    gen = 500
    with torch.no_grad():
        tok = torch.zeros((1, 1), dtype=torch.long)
        state = None
        g0 = time.perf_counter()
        for _ in range(gen):
            y, state = rnn(emb(tok), state)
            tok = out(y[:, -1]).argmax(-1, keepdim=True)
        gen_tps = gen / (time.perf_counter() - g0)
    print(f"torch,{a.cell},{a.threads},{B * T / best:.0f},{gen_tps:.0f},{loss.item():.4f}")


if __name__ == "__main__":
    main()
