"""ref_tensorboard.py — reads the event files deepc wrote (tests/ref/data/tb_sample,
made by tests/ref/make_tb_sample.c) with TensorBoard's own event reader and
TensorFlow's record reader (which checks every CRC), finds every value listed in
expected.txt, and writes the verdict plus the bytes of one scalar record built
with TensorBoard's protobufs and CRC code to tests/ref/data/tensorboard.txt
(test_tensorboard.c compares deepc's encoder with them). Run by hand:
/work/venv-tf/bin/python tests/ref/ref_tensorboard.py"""
import glob
import os
import struct
import sys

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import masked_crc32c

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "data", "tb_sample")


def load(run):
    acc = event_accumulator.EventAccumulator(
        os.path.join(SAMPLE, run), size_guidance={k: 0 for k in
                                                   ("scalars", "histograms", "images", "tensors")})
    acc.Reload()
    return acc


def read_records(run):
    """Every event of the run through TensorFlow's reader (CRCs verified)."""
    (path,) = glob.glob(os.path.join(SAMPLE, run, "events.out.tfevents.*"))
    return [event_pb2.Event.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def check(cond, what, failures):
    if not cond:
        failures.append(what)


def main():
    failures, checked = [], 0
    runs = {}
    expected = [l.split() for l in open(os.path.join(SAMPLE, "expected.txt"))]
    seen, counts = {}, {}
    for f in expected:
        kind, run, tag = f[0], f[1], f[2]
        if run not in runs:
            runs[run] = load(run)
            events = read_records(run)
            check(events[0].file_version == "brain.Event:2", run + ": first event's file_version", failures)
            checked += 1
        acc = runs[run]
        if kind == "scalar":
            step, want = int(f[3]), np.float32(float(f[4]))
            got = [e for e in acc.Scalars(tag) if e.step == step]
            check(len(got) == 1 and np.float32(got[0].value) == want,
                  f"{run} {tag} step {step}: {got} != {want}", failures)
            seen.setdefault((run, "scalars"), set()).add(tag)
            counts[(run, tag)] = counts.get((run, tag), 0) + 1
        elif kind == "histo":
            step = int(f[3])
            lo, hi, n, s, sq = map(float, f[4:9])
            got = [e for e in acc.Histograms(tag) if e.step == step]
            ok = len(got) == 1
            if ok:
                hv = got[0].histogram_value
                ok = (hv.min == lo and hv.max == hi and hv.num == n and abs(hv.sum - s) <= 1e-9 * max(1, abs(s))
                      and abs(hv.sum_squares - sq) <= 1e-9 * max(1, sq) and sum(hv.bucket) == n
                      and len(hv.bucket) == len(hv.bucket_limit) and hv.bucket_limit[-1] == hi
                      and list(hv.bucket_limit) == sorted(hv.bucket_limit))
            check(ok, f"{run} {tag} step {step}: histogram {got}", failures)
            seen.setdefault((run, "histograms"), set()).add(tag)
        elif kind == "histo_steps":
            steps = sorted(e.step for e in acc.Histograms(tag))
            check(steps == [int(x) for x in f[3:]], f"{run} {tag}: histogram steps {steps}", failures)
        elif kind == "image":
            step, h, w, c, size = map(int, f[3:8])
            got = [e for e in acc.Images(tag) if e.step == step]
            ok = len(got) == 1 and got[0].height == h and got[0].width == w and len(got[0].encoded_image_string) == size
            if ok:
                img = tf.io.decode_png(got[0].encoded_image_string).numpy()
                ok = img.shape == (h, w, c)
                if ok:  # the sample's pattern: channel c of pixel i is ((i + 5c) % 16) / 15
                    i = np.arange(h * w).reshape(h, w, 1)
                    want = np.round(((i + 5 * np.arange(c)) % 16) / 15 * 255)
                    ok = np.abs(img.astype(float) - want).max() <= 1
            check(ok, f"{run} {tag} step {step}: image", failures)
            seen.setdefault((run, "images"), set()).add(tag)
        else:
            failures.append("unknown line " + " ".join(f))
        checked += 1
    # nothing written that expected.txt does not list
    for run, acc in runs.items():
        tags = acc.Tags()
        for kind in ("scalars", "histograms", "images"):
            extra = set(tags[kind]) - seen.get((run, kind), set())
            check(not extra, f"{run}: unexpected {kind} {sorted(extra)}", failures)
    for (run, tag), n in counts.items():
        got = len(runs[run].Scalars(tag))
        check(got == n, f"{run} {tag}: {got} events, expected {n}", failures)

    # one scalar record, as TensorBoard's own writer would frame it
    ev = event_pb2.Event(wall_time=1.5, step=3, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="loss", simple_value=0.25)]))
    data = ev.SerializeToString()
    head = struct.pack("<Q", len(data))
    record = head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data))

    out = os.path.join(HERE, "data", "tensorboard.txt")
    with open(out, "w") as f:
        f.write("# ref_tensorboard.py: tensorboard's event reader on tests/ref/data/tb_sample\n")
        f.write(f"checked {checked}\nfailures {len(failures)}\n")
        for x in failures:
            f.write("failure " + x + "\n")
        f.write("scalar_record_wall1.5_step3_loss_0.25 " + record.hex() + "\n")
    print(f"checked {checked}, {len(failures)} failures -> {out}")
    for x in failures:
        print("  " + x)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
