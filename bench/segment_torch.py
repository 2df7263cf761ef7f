"""segment_torch.py — the PyTorch side of bench/segment.sh: one training epoch of
models/fashion_unet.ini's U-Net in NCHW (PyTorch's preferred layout) on deepc's own
fashion-canvas data (the .npy files of build/bench/canvases), batch 32, Adam,
per-pixel crossentropy. Prints one CSV line:
net,threads,seconds_per_epoch,peak_rss_mb,final_loss
usage: segment_torch.py DATA_DIR [--threads N] [--limit N]"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn


class UNet(nn.Module):
    """fashion_unet.ini: 3x3 relu Conv2D + BatchNormalization blocks (8, 32, two of 64,
    two of 128, two of 256 at the 4x4 bottom), Conv2DTranspose 2x2/2 up, concatenated skips."""

    def __init__(self, classes=11):
        super().__init__()

        def conv(c_in, c_out):
            # Keras' BatchNormalization: momentum 0.99 (PyTorch's 0.01), epsilon 1e-3
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),
                                 nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01))

        self.d1, self.d2 = conv(1, 8), conv(8, 32)
        self.d3 = nn.Sequential(conv(32, 64), conv(64, 64))
        self.d4 = nn.Sequential(conv(64, 128), conv(128, 128))
        self.bottom = nn.Sequential(conv(128, 256), conv(256, 256))
        self.up4, self.c4 = nn.ConvTranspose2d(256, 64, 2, stride=2), conv(64 + 128, 96)
        self.up3, self.c3 = nn.ConvTranspose2d(96, 32, 2, stride=2), conv(32 + 64, 48)
        self.up2, self.c2 = nn.ConvTranspose2d(48, 16, 2, stride=2), conv(16 + 32, 24)
        self.up1, self.c1 = nn.ConvTranspose2d(24, 8, 2, stride=2), conv(8 + 8, 16)
        self.classes = nn.Conv2d(16, classes, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        n1 = self.d1(x)
        n2 = self.d2(self.pool(n1))
        n3 = self.d3(self.pool(n2))
        n4 = self.d4(self.pool(n3))
        b = self.bottom(self.pool(n4))
        u = self.c4(torch.cat([self.up4(b), n4], 1))
        u = self.c3(torch.cat([self.up3(u), n3], 1))
        u = self.c2(torch.cat([self.up2(u), n2], 1))
        u = self.c1(torch.cat([self.up1(u), n1], 1))
        return self.classes(u)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N canvases only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.from_numpy(np.load(os.path.join(a.data, "train_x.npy"))).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.load(os.path.join(a.data, "train_y.npy")))
    if a.limit:
        x, y = x[: a.limit], y[: a.limit]
    x, y = x.float().div_(255.0).contiguous(), y.long()
    net = UNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    perm = torch.randperm(x.shape[0])
    batch = 32
    start, cpu = time.perf_counter(), time.process_time()
    loss = None
    for i in range(0, x.shape[0], batch):
        idx = perm[i : i + batch]
        opt.zero_grad()
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    # CPU seconds of all threads: on a loaded machine they move less than the wall time
    print(f"cpu_seconds {cpu:.3f}", file=sys.stderr)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"unet,{a.threads},{secs:.3f},{rss_mb:.1f},{loss.item():.4f}")


if __name__ == "__main__":
    main()
