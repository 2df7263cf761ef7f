# ref_text.py — Keras TextVectorization outputs for tests/test_text.c: the
# learned vocabulary (ties included) and int / multi_hot / count / tf_idf
# outputs for several configurations. Run by hand with TensorFlow:
#   /work/venv-tf/bin/python tests/ref/ref_text.py > tests/ref/data/text_keras.json
import json
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras

TRAIN = [
    "The cat sat on the mat.",
    "the dog ate my homework!",
    "A cat, a dog; a bird?",
    "Zebra zebra ZEBRA apple banana cherry",
    "don't stop -- believing",
    "tabs\tand\nnewlines   and  spaces",
    "caf\u00e9 na\u00efve \u00c9cole",
    "",
    "vt\x0bff\x0ccr\rnb\u00a0sp em\u2003sp \u00c0\u00df\u0130 \U0001F600x",
]
TEST = [
    "The zebra ate the apple",
    "unknown words only here",
    "cat cat cat dog",
    "",
    "caf\u00e9 \u00c9COLE!",
]
CONFIGS = [
    dict(name="int_default"),
    dict(name="int_len6", output_sequence_length=6),
    dict(name="int_max8", max_tokens=8),
    dict(name="int_none", standardize=None),
    dict(name="int_lower", standardize="lower"),
    dict(name="int_strip", standardize="strip_punctuation"),
    dict(name="char_none", standardize=None, split="character"),
    dict(name="char_default_len10", split="character", output_sequence_length=10, max_tokens=12),
    dict(name="multi_hot", output_mode="multi_hot"),
    dict(name="multi_hot_max6", output_mode="multi_hot", max_tokens=6),
    dict(name="count", output_mode="count", max_tokens=10),
    dict(name="tf_idf", output_mode="tf_idf"),
    dict(name="tf_idf_max7", output_mode="tf_idf", max_tokens=7),
    dict(name="tf_idf_pad", output_mode="tf_idf", max_tokens=40, pad_to_max_tokens=True),
    dict(name="int_bigrams", ngrams=2),
    dict(name="multi_hot_trigrams", output_mode="multi_hot", ngrams=3, max_tokens=15),
    dict(name="char_bigrams_len12", split="character", ngrams=2, output_sequence_length=12),
    dict(name="tf_idf_bigrams", output_mode="tf_idf", ngrams=2),
]

out = {"train": TRAIN, "test": TEST, "configs": []}
for cfg in CONFIGS:
    kw = {k: v for k, v in cfg.items() if k != "name"}
    layer = keras.layers.TextVectorization(**kw)
    layer.adapt(TRAIN)
    res = layer(np.array(TEST))
    if hasattr(res, "to_list"):
        rows = [[float(v) for v in r] for r in res.to_list()]
    else:
        rows = np.asarray(res).astype(float).tolist()
    entry = dict(cfg)
    entry["vocabulary"] = [t if isinstance(t, str) else t.decode("utf-8")
                           for t in layer.get_vocabulary()]
    entry["outputs"] = rows
    if cfg.get("output_mode") == "tf_idf":
        entry["idf_weights"] = np.asarray(layer._lookup_layer.idf_weights).astype(float).tolist()
    out["configs"].append(entry)
print(json.dumps(out, ensure_ascii=True, indent=1))
