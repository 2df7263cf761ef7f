"""ref_segment_keras.py — Keras 3 references for the per-pixel metrics (run by hand:
/work/venv-tf/bin/python tests/ref/ref_segment_keras.py). Scores (3,2,3,5) against
labels (3,2,3), in two batches (2 then 1 samples) as dc_model_evaluate reads
them: MeanIoU(5, sparse_y_pred=False), whose class 4 never occurs, and pixel
accuracy; written to tests/ref/data/segment_keras.txt."""
import os
import numpy as np
import keras
from reflib import RefWriter, det_inputs

here = os.path.dirname(os.path.abspath(__file__))
w = RefWriter(os.path.join(here, "data", "segment_keras.txt"))
scores = det_inputs((3, 2, 3, 5), 11, -2, 2)
scores[..., 4] -= 10.0
labels = (det_inputs((3, 2, 3), 12, 0, 4) // 1).astype(np.float32)
iou = keras.metrics.MeanIoU(num_classes=5, sparse_y_pred=False)
acc = keras.metrics.SparseCategoricalAccuracy()
for lo, hi in [(0, 2), (2, 3)]:
    iou.update_state(labels[lo:hi], scores[lo:hi])
    acc.update_state(labels[lo:hi], scores[lo:hi])
w.add("scores", scores)
w.add("labels", labels)
w.add("mean_io_u", np.array([float(iou.result())]))
w.add("accuracy", np.array([float(acc.result())]))
w.close()
print(iou.name, float(iou.result()), float(acc.result()))
