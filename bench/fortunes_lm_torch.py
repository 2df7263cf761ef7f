"""fortunes_lm_torch.py — the PyTorch side of models/fortunes_lm.ini's comparison:
the same character language model (Embedding(V, 64) -> LSTM(256) -> Linear(V)) on
the same text (every fortune of /usr/share/games/fortunes joined by a blank line,
as deepc's `corpus = fortunes`), windows of 100 characters predicting the next
character at every position, batch 64, Adam 1e-3, the last 5% held out.
Trains for --seconds of wall time, then prints the validation loss per character.
usage: fortunes_lm_torch.py [--seconds 600] [--threads 1] [--seed 1]"""
import argparse
import math
import os
import time

import torch

DIR = "/usr/share/games/fortunes"
T, B, E, U = 100, 64, 64, 256


def load_text():
    """Every fortune file (no extension), sorted; fortunes split at lines '%'."""
    fortunes = []
    for name in sorted(os.listdir(DIR)):
        path = os.path.join(DIR, name)
        if "." in name or not os.path.isfile(path):
            continue
        raw = open(path, "rb").read().decode("utf-8", errors="replace")
        for part in raw.replace("\r\n", "\n").split("\n%\n"):
            part = part.rstrip("\n")
            if part.strip():
                fortunes.append(part)
    return "\n\n".join(fortunes)


def windows(ids):
    """Non-overlapping windows x (N, T) and their next characters y (N, T)."""
    n = (len(ids) - 1) // T
    x = ids[: n * T].view(n, T)
    y = ids[1 : n * T + 1].view(n, T)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = load_text()
    n_val = int(len(text) * 0.05)
    train_text, val_text = text[: len(text) - n_val], text[len(text) - n_val :]
    chars = sorted(set(train_text))
    index = {c: i + 2 for i, c in enumerate(chars)}  # 0 padding, 1 out of vocabulary
    V = len(chars) + 2
    to_ids = lambda s: torch.tensor([index.get(c, 1) for c in s], dtype=torch.long)
    xt, yt = windows(to_ids(train_text))
    xv, yv = windows(to_ids(val_text))
    emb = torch.nn.Embedding(V, E)
    lstm = torch.nn.LSTM(E, U, batch_first=True)
    out = torch.nn.Linear(U, V)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        perm = torch.randperm(len(xt))
        for k in range(0, len(xt), B):
            if time.perf_counter() - t0 >= a.seconds:
                break
            i = perm[k : k + B]
            opt.zero_grad()
            y, _ = lstm(emb(xt[i]))
            loss = lossf(out(y).reshape(-1, V), yt[i].reshape(-1))
            loss.backward()
            opt.step()
            steps += 1
    trained = time.perf_counter() - t0
    with torch.no_grad():
        total = 0.0
        for k in range(0, len(xv), 256):
            y, _ = lstm(emb(xv[k : k + 256]))
            total += lossf(out(y).reshape(-1, V), yv[k : k + 256].reshape(-1)).item() * len(
                xv[k : k + 256])
        val = total / len(xv)
    print(f"torch {torch.__version__} threads {a.threads}: {steps} steps "
          f"({steps * B * T / trained:.0f} tokens/s) in {trained:.0f} s, "
          f"val_loss {val:.4f} (perplexity {math.exp(val):.2f}), V {V}")


if __name__ == "__main__":
    main()
