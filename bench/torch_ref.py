"""torch_ref.py — the PyTorch side of `make bench` (1.13 from Debian or 2.x from
PyPI; no numpy needed): one epoch of the Fashion-MNIST MLP (784-128-10, batch
32, Adam) or CNN (conv24-pool-conv36-pool-128-10 with 'same' padding, as
models/fashion_cnn.ini; batch 64, Adam), with the same thread count; prints one
CSV line: net,threads,seconds_per_epoch,peak_rss_mb,final_loss
With --infer: batch-1 inference latency (eval mode, softmax included, as
dc_model_predict): torch,net,threads,median_us,min_us"""
import argparse
import gzip
import resource
import time

import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()[offset:]), dtype=torch.uint8)


def load_train():
    x = load_idx(f"{DATA}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y = load_idx(f"{DATA}/train-labels-idx1-ubyte.gz", 8)
    return x.float().div_(255.0), y.long()


def make_net(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 24, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(24, 36, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(36 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def infer_latency(a):
    """Median and minimum microseconds of one image through the net."""
    net = make_net(a.net).eval()
    x = torch.rand(1, 1, 28, 28)
    times = []
    with torch.inference_mode():
        for i in range(-(a.runs // 10 + 10), a.runs):
            t0 = time.perf_counter()
            torch.softmax(net(x), dim=1)
            t1 = time.perf_counter()
            if i >= 0:
                times.append((t1 - t0) * 1e6)
    times.sort()
    print(f"torch,{a.net},{a.threads},{times[len(times) // 2]:.1f},{times[0]:.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    ap.add_argument("--infer", action="store_true", help="batch-1 inference latency instead")
    ap.add_argument("--runs", type=int, default=1000, help="timed calls with --infer")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.infer:
        return infer_latency(a)
    x, y = load_train()
    if a.limit:
        x, y = x[: a.limit], y[: a.limit]
    if a.net == "cnn":
        x = x.unsqueeze(1)  # NCHW
    batch = 32 if a.net == "mlp" else 64
    net = make_net(a.net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    perm = torch.randperm(x.shape[0])
    start = time.perf_counter()
    loss = None
    for i in range(0, x.shape[0], batch):
        idx = perm[i : i + batch]
        opt.zero_grad()
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
    secs = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{a.net},{a.threads},{secs:.3f},{rss_mb:.1f},{loss.item():.4f}")


if __name__ == "__main__":
    main()
