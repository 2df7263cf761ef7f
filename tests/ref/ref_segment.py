"""ref_segment.py — PyTorch 1.13 references for the per-pixel losses (run by hand:
/usr/bin/python3 tests/ref/ref_segment.py). Logits (2,3,4,5) are 24 pixels of 5
classes: class-weighted crossentropy (CrossEntropyLoss(weight=w)) and the soft
Dice loss of dc_dice_loss, from logits and from probabilities, with the
gradients of each; written to tests/ref/data/segment.txt."""
import os
import numpy as np
import torch
from reflib import RefWriter, det_inputs

torch.set_default_dtype(torch.float64)
here = os.path.dirname(os.path.abspath(__file__))
w = RefWriter(os.path.join(here, "data", "segment.txt"))

C = 5
logits = torch.tensor(det_inputs((2, 3, 4, C), 7, -3, 3), dtype=torch.float64, requires_grad=True)
labels = torch.tensor((det_inputs((2, 3, 4), 8, 0, C) // 1).astype(np.int64))
weights = torch.tensor([0.2, 1.0, 2.5, 0.7, 1.3], dtype=torch.float64)
w.add("logits", logits.detach().numpy())
w.add("labels", labels.double().numpy())
w.add("weights", weights.numpy())

rows, lab = logits.reshape(-1, C), labels.reshape(-1)
loss = torch.nn.functional.cross_entropy(rows, lab, weight=weights)
loss.backward()
w.add("wce_loss", loss.detach().reshape(1).numpy())
w.add("wce_grad", logits.grad.numpy())


def dice(p, lab, smooth=1.0):
    onehot = torch.nn.functional.one_hot(lab, C).double()
    inter = (p * onehot).sum(0)
    denom = p.sum(0) + onehot.sum(0)
    return 1 - ((2 * inter + smooth) / (denom + smooth)).mean()


logits.grad = None
loss = dice(torch.softmax(logits.reshape(-1, C), -1), lab)
loss.backward()
w.add("dice_loss", loss.detach().reshape(1).numpy())
w.add("dice_grad", logits.grad.numpy())

probs = torch.softmax(logits.detach(), -1).requires_grad_(True)
loss = dice(probs.reshape(-1, C), lab)
loss.backward()
w.add("probs", probs.detach().numpy())
w.add("dice_probs_loss", loss.detach().reshape(1).numpy())
w.add("dice_probs_grad", probs.grad.numpy())
w.close()
