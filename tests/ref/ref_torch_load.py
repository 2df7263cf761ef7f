"""ref_torch_load.py — loads deepc model files into equivalent PyTorch nn.Modules by the
mapping of docs/pytorch.md and writes their outputs on the committed inputs
(tests/ref/data/torch/NAME.torch.bin); tests/test_torch.c checks deepc's against them.

Run: DC_TORCH_REGEN=1 build/test_runner torch_regenerate   (the model files and inputs)
     /usr/bin/python3 tests/ref/ref_torch_load.py           (PyTorch 1.13)
"""
import json
import os
import struct

import numpy as np
import torch
from torch import nn

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "torch")
BATCH = 3


def read_safetensors(path):
    """A deepc model file: 8-byte header length, JSON header, raw little-endian F32 data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        tensors[name] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy())
    return tensors, header.get("__metadata__", {})


def dense(w, prefix):
    """Dense kernel (in, units) is Linear's weight (units, in) transposed."""
    lin = nn.Linear(w[prefix + "/kernel"].shape[0], w[prefix + "/kernel"].shape[1])
    lin.load_state_dict({"weight": w[prefix + "/kernel"].T, "bias": w[prefix + "/bias"]})
    return lin


class Cnn(nn.Module):
    """deepc's trained.safetensors: Conv2D(4, 3, same, relu) BatchNormalization
    MaxPooling2D Flatten Dropout Dense(3), on NHWC input."""

    def __init__(self, w):
        super().__init__()
        k = w["conv2d/kernel"]  # (KH, KW, C, F) -> Conv2d's (F, C, KH, KW)
        self.conv = nn.Conv2d(k.shape[2], k.shape[3], k.shape[0], padding=k.shape[0] // 2)
        self.conv.load_state_dict({"weight": k.permute(3, 2, 0, 1), "bias": w["conv2d/bias"]})
        p = "batch_normalization/"
        self.bn = nn.BatchNorm2d(k.shape[3], eps=1e-3, momentum=0.01)  # Keras 0.99 = 1 - 0.01
        self.bn.load_state_dict({"weight": w[p + "gamma"], "bias": w[p + "beta"],
                                 "running_mean": w[p + "moving_mean"],
                                 "running_var": w[p + "moving_variance"],
                                 "num_batches_tracked": torch.tensor(0)})
        self.pool = nn.MaxPool2d(2)
        self.fc = dense(w, "dense")

    def forward(self, x):  # x (N, H, W, C)
        y = self.pool(self.bn(torch.relu(self.conv(x.permute(0, 3, 1, 2)))))
        # deepc flattens NHWC: back to channels last before flattening
        return self.fc(y.permute(0, 2, 3, 1).flatten(1))


def gru_gates(t, units):
    """Keras/deepc gate blocks z, r, h along the last axis -> PyTorch's r, z, n."""
    z, r, h = t[..., :units], t[..., units:2 * units], t[..., 2 * units:]
    return torch.cat([r, z, h], dim=-1)


class Rnn(nn.Module):
    """deepc's rnn.safetensors: Embedding LSTM(return_sequences) GRU Dense."""

    def __init__(self, w):
        super().__init__()
        e = w["embedding/embeddings"]
        self.emb = nn.Embedding(e.shape[0], e.shape[1])
        self.emb.load_state_dict({"weight": e})
        k, rk, b = w["lstm/kernel"], w["lstm/recurrent_kernel"], w["lstm/bias"]
        u = rk.shape[0]
        self.lstm = nn.LSTM(k.shape[0], u, batch_first=True)
        # gates i, f, c, o in both: only the transposes; deepc has one bias
        self.lstm.load_state_dict({"weight_ih_l0": k.T, "weight_hh_l0": rk.T,
                                   "bias_ih_l0": b, "bias_hh_l0": torch.zeros_like(b)})
        k, rk, b = w["gru/kernel"], w["gru/recurrent_kernel"], w["gru/bias"]
        u = rk.shape[0]
        self.gru = nn.GRU(k.shape[0], u, batch_first=True)
        # reset_after (Keras 3's default) is PyTorch's GRU; bias (2, 3U) = [input; recurrent]
        self.gru.load_state_dict({"weight_ih_l0": gru_gates(k, u).T,
                                  "weight_hh_l0": gru_gates(rk, u).T,
                                  "bias_ih_l0": gru_gates(b[0], u), "bias_hh_l0": gru_gates(b[1], u)})
        self.fc = dense(w, "dense")

    def forward(self, ids):  # ids (N, T) as floats holding whole numbers
        y, _ = self.lstm(self.emb(ids.long()))
        y, _ = self.gru(y)
        return self.fc(y[:, -1])


def run(name, cls):
    w, _ = read_safetensors(os.path.join(HERE, name + ".safetensors"))
    m = cls(w).eval()
    x = np.fromfile(os.path.join(HERE, name + ".input.bin"), dtype="<f4")
    shape = {"cnn": (BATCH, 6, 6, 1), "rnn": (BATCH, 7)}[name]
    with torch.no_grad():
        y = m(torch.from_numpy(x.reshape(shape)))
    y.numpy().astype("<f4").tofile(os.path.join(HERE, name + ".torch.bin"))
    print(f"{name}: {list(shape)} -> {list(y.shape)}")


def main():
    run("cnn", Cnn)
    run("rnn", Rnn)
    print("torch", torch.__version__)


if __name__ == "__main__":
    main()
