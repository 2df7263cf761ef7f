"""ref_functional.py — a residual conv model (Conv2D, Conv2D, Add skip, global
average pool, Dense) trained 3 SGD steps in PyTorch 1.13 from given weights;
writes ref/data/functional_skip.txt for test_functional.c. Run by hand with
/usr/bin/python3 (Debian's python3-torch)."""
import os
import numpy as np
import torch
import torch.nn.functional as F
from reflib import RefWriter, det_inputs

torch.set_default_dtype(torch.float64)
B, H, W, C, K, CLS, LR, STEPS = 8, 6, 6, 2, 4, 3, 0.1, 3
# deepc's layouts: conv kernels (KH, KW, C, F), dense (in, out), images NHWC
w = {
    "c1/kernel": det_inputs((3, 3, C, K), 1, -0.5, 0.5),
    "c1/bias": det_inputs((K,), 2, -0.1, 0.1),
    "c2/kernel": det_inputs((3, 3, K, K), 3, -0.4, 0.4),
    "c2/bias": det_inputs((K,), 4, -0.1, 0.1),
    "out/kernel": det_inputs((K, CLS), 5, -0.8, 0.8),
    "out/bias": det_inputs((CLS,), 6, -0.1, 0.1),
}
x = det_inputs((B, H, W, C), 7)
y = (np.arange(B) % CLS).astype(np.float32)
out = RefWriter(os.path.join(os.path.dirname(__file__), "data", "functional_skip.txt"))
out.add("x", x)
out.add("y", y)
for k, v in w.items():
    out.add("init/" + k, v)
p = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in w.items()}
xt = torch.tensor(x.astype(np.float64)).permute(0, 3, 1, 2)
yt = torch.tensor(y.astype(np.int64))


def conv(h, name):
    return F.conv2d(h, p[name + "/kernel"].permute(3, 2, 0, 1), p[name + "/bias"], padding=1)


losses = []
for s in range(STEPS):
    c1 = torch.relu(conv(xt, "c1"))
    c2 = conv(c1, "c2")
    g = (c1 + c2).mean(dim=(2, 3))
    logits = g @ p["out/kernel"] + p["out/bias"]
    loss = F.cross_entropy(logits, yt)
    losses.append(loss.item())
    for v in p.values():
        v.grad = None
    loss.backward()
    with torch.no_grad():
        for v in p.values():
            v -= LR * v.grad
out.add("losses", np.array(losses))
for k, v in p.items():
    out.add("final/" + k, v.detach().numpy())
out.close()
