"""ort_ref.py — batch-1 inference latency of an ONNX file (deepc's export of the
bench's CNN) in onnxruntime's CPU provider, with THREADS intra-op threads.
Prints onnxruntime,NET,THREADS,median_us,min_us
usage: ort_ref.py MODEL.onnx NET THREADS [RUNS]"""
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    path, net, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = {inp.name: np.random.default_rng(1).random((1, 28, 28, 1), dtype=np.float32)}
    times = []
    for i in range(-(runs // 10 + 10), runs):
        t0 = time.perf_counter()
        sess.run(None, x)
        t1 = time.perf_counter()
        if i >= 0:
            times.append((t1 - t0) * 1e6)
    times.sort()
    print(f"onnxruntime,{net},{threads},{times[len(times) // 2]:.1f},{times[0]:.1f}")


if __name__ == "__main__":
    main()
