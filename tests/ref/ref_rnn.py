"""ref_rnn.py — PyTorch references for the recurrent ops (dc_lstm, dc_gru,
dc_simple_rnn): nn.LSTM, nn.GRU (= Keras' reset_after), nn.RNN (tanh, relu),
and a hand-written GRU cell for reset_before, with weights in Keras' layouts
and gate orders. Masks are post-padded sequences: each sample runs on its true
length, and the padded positions take Keras' rule (the last output repeats; 0
before any real step); go_backwards reverses the padded sequence as Keras
does. Outputs, final states and the gradients of
sum(y*sy) + sum(h*sh) [+ sum(c*sc)] for every input. Writes
tests/ref/data/rnn.txt; run by hand: /usr/bin/python3 tests/ref/ref_rnn.py"""
import os

import numpy as np
import torch

from reflib import RefWriter, det_inputs

HERE = os.path.dirname(os.path.abspath(__file__))
D = torch.float64
LSTM, GRU, SIMPLE = 0, 1, 2
TANH, RELU = 1, 3

# kind, B, T, I, U, lengths (None: no mask), go_backwards, h0, activation, reset_before
CASES = [
    (LSTM, 3, 5, 4, 3, None, False, True, TANH, False),
    (LSTM, 4, 6, 3, 5, [6, 3, 1, 0], False, False, TANH, False),
    (LSTM, 4, 6, 3, 5, [6, 3, 1, 0], True, True, TANH, False),
    (LSTM, 2, 4, 3, 4, None, True, False, TANH, False),
    (LSTM, 8, 12, 8, 32, [12, 11, 7, 9, 5, 12, 3, 1], False, True, TANH, False),
    (GRU, 3, 5, 4, 3, None, False, True, TANH, False),
    (GRU, 4, 6, 3, 5, [6, 3, 1, 0], False, True, TANH, False),
    (GRU, 4, 6, 3, 5, [6, 4, 2, 0], True, False, TANH, False),
    (GRU, 6, 10, 8, 32, None, False, False, TANH, False),
    (GRU, 3, 5, 4, 3, None, False, True, TANH, True),
    (GRU, 4, 6, 3, 5, [6, 3, 1, 0], True, True, TANH, True),
    (SIMPLE, 3, 5, 4, 3, None, False, True, TANH, False),
    (SIMPLE, 3, 5, 4, 3, None, True, False, RELU, False),
    (SIMPLE, 4, 6, 3, 5, [6, 3, 1, 0], False, True, RELU, False),
    (SIMPLE, 4, 6, 3, 5, [5, 3, 6, 0], True, True, TANH, False),
]


def t64(a, grad=True):
    return torch.tensor(np.asarray(a), dtype=D, requires_grad=grad)


def gru_keras_to_torch(m, U):
    """Keras z,r,h columns -> torch r,z,n rows (transposed)."""
    return torch.cat([m[..., U:2 * U], m[..., :U], m[..., 2 * U:]], dim=-1)


def gru_before_run(x, k, rk, b, h):
    """Keras GRU with reset_after=False over x (T, I) from h (U,): outputs (T, U)."""
    U = rk.shape[0]
    outs = []
    for t in range(x.shape[0]):
        xz = x[t] @ k + (b if b is not None else 0)
        rz = h @ rk[:, :2 * U]
        z = torch.sigmoid(xz[:U] + rz[:U])
        r = torch.sigmoid(xz[U:2 * U] + rz[U:])
        hh = torch.tanh(xz[2 * U:] + (r * h) @ rk[:, 2 * U:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return torch.stack(outs) if outs else x.new_zeros((0, U)), h


def run_sample(kind, act, reset_before, x, k, rk, b, h, c, U):
    """One sample's real steps x (L, I) -> outputs (L, U), h, c."""
    if x.shape[0] == 0:
        return x.new_zeros((0, U)), h, c
    if kind == LSTM:
        m = torch.nn.LSTM(x.shape[1], U, batch_first=True).double()
        params = {"weight_ih_l0": k.t(), "weight_hh_l0": rk.t(), "bias_ih_l0": b,
                  "bias_hh_l0": torch.zeros_like(b)}
        y, (hn, cn) = torch.func.functional_call(m, params, (x[None], (h[None, None], c[None, None]))) \
            if hasattr(torch, "func") else call_module(m, params, x, (h[None, None], c[None, None]))
        return y[0], hn[0, 0], cn[0, 0]
    if kind == GRU and reset_before:
        y, hn = gru_before_run(x, k, rk, b, h)
        return y, hn, None
    if kind == GRU:
        m = torch.nn.GRU(x.shape[1], U, batch_first=True).double()
        params = {"weight_ih_l0": gru_keras_to_torch(k, U).t(),
                  "weight_hh_l0": gru_keras_to_torch(rk, U).t(),
                  "bias_ih_l0": gru_keras_to_torch(b[0], U), "bias_hh_l0": gru_keras_to_torch(b[1], U)}
    else:
        m = torch.nn.RNN(x.shape[1], U, batch_first=True,
                         nonlinearity="tanh" if act == TANH else "relu").double()
        params = {"weight_ih_l0": k.t(), "weight_hh_l0": rk.t(), "bias_ih_l0": b,
                  "bias_hh_l0": torch.zeros_like(b)}
    y, hn = call_module(m, params, x, h[None, None])
    return y[0], hn[0, 0], None


def call_module(m, params, x, state):
    """m(x, state) with m's parameters replaced by differentiable tensors."""
    for name, v in params.items():
        delattr(m, name)
        setattr(m, name, v)
    if hasattr(m, "_flat_weights"):
        m._flat_weights = [getattr(m, n) for n in m._flat_weights_names]
    return m(x[None], state)


def keras_sequence(kind, act, reset_before, x, k, rk, b, h0, c0, L, backwards, U):
    """Keras' outputs (T, U) and final states for one post-padded sample of length L."""
    T = x.shape[0]
    if not backwards:
        y, h, c = run_sample(kind, act, reset_before, x[:L], k, rk, b, h0, c0, U)
        last = y[L - 1] if L > 0 else x.new_zeros(U)
        pad = [last] * (T - L)
        return torch.cat([y, torch.stack(pad)]) if pad else y, h, c
    # reversed: the padding comes first (outputs 0, state kept), then x[L-1] .. x[0]
    y, h, c = run_sample(kind, act, reset_before, torch.flip(x[:L], [0]), k, rk, b, h0, c0, U)
    pad = [x.new_zeros(U)] * (T - L)
    return torch.cat([torch.stack(pad), y]) if pad else y, h, c


def main():
    torch.manual_seed(0)
    w = RefWriter(os.path.join(HERE, "data", "rnn.txt"))
    w.add("ncases", [len(CASES)])
    for ci, (kind, B, T, I, U, lens, back, has_h0, act, rb) in enumerate(CASES):
        G = {LSTM: 4, GRU: 3, SIMPLE: 1}[kind] * U
        p = f"c{ci}_"
        s = 10 * ci
        x = det_inputs((B, T, I), s + 1)
        k = det_inputs((I, G), s + 2, -0.6, 0.6)
        rk = det_inputs((U, G), s + 3, -0.6, 0.6)
        bshape = (2, G) if kind == GRU and not rb else (G,)
        b = det_inputs(bshape, s + 4, -0.5, 0.5)
        h0 = det_inputs((B, U), s + 5, -0.5, 0.5)
        c0 = det_inputs((B, U), s + 6, -0.5, 0.5)
        sy = det_inputs((B, T, U), s + 7)
        sh = det_inputs((B, U), s + 8)
        sc = det_inputs((B, U), s + 9)
        L = lens if lens is not None else [T] * B
        mask = np.array([[1.0 if t < L[i] else 0.0 for t in range(T)] for i in range(B)])
        w.add(p + "meta", [kind, B, T, I, U, lens is not None, back, has_h0, act, rb])
        for name, v in (("x", x), ("kernel", k), ("recurrent_kernel", rk), ("bias", b), ("h0", h0),
                        ("c0", c0), ("sy", sy), ("sh", sh), ("sc", sc), ("mask", mask)):
            w.add(p + name, v)
        tx, tk, trk, tb = t64(x), t64(k), t64(rk), t64(b)
        th0 = t64(h0) if has_h0 else t64(np.zeros((B, U)), False)
        tc0 = t64(c0) if has_h0 else t64(np.zeros((B, U)), False)
        ys, hs, cs = [], [], []
        for i in range(B):
            y, h, c = keras_sequence(kind, act, rb, tx[i], tk, trk, tb, th0[i], tc0[i], L[i],
                                     back, U)
            ys.append(y)
            hs.append(h)
            cs.append(c)
        Y, H = torch.stack(ys), torch.stack(hs)
        loss = (Y * t64(sy, False)).sum() + (H * t64(sh, False)).sum()
        if kind == LSTM:
            C = torch.stack(cs)
            loss = loss + (C * t64(sc, False)).sum()
            w.add(p + "c", C.detach().numpy())
        loss.backward()
        w.add(p + "y", Y.detach().numpy())
        w.add(p + "h", H.detach().numpy())
        for name, v in (("dx", tx), ("dkernel", tk), ("drecurrent_kernel", trk), ("dbias", tb)):
            w.add(p + name, v.grad.numpy())
        if has_h0:
            w.add(p + "dh0", th0.grad.numpy())
            if kind == LSTM:
                w.add(p + "dc0", tc0.grad.numpy())
    w.close()


if __name__ == "__main__":
    main()
