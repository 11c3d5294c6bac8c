#!/usr/bin/env python3
"""Exports SavedModels the way teams make them, as TF Serving base paths, for the policy's path-model tests.

    python export_policy_models.py OUT_DIR

writes, each as a TF Serving base path with a numeric version folder:

  OUT_DIR/keras_scorer/1/   Keras 3 functional model with two inputs (features float32 [-1, 4], ids int64 [-1, 2]
                            through an Embedding) and two outputs (score float32 [-1, 1], logits float32 [-1, 3]),
                            exported with model.export()
  OUT_DIR/counter/1/, 2/    a tf.Module with a tf.Variable (scale), saved with tf.saved_model.save; signature
                            serving_default: x float32 [-1, 3] -> scaled float32 [-1, 3], label int64 [-1]
                            (tf.argmax); version 2 has another scale

and OUT_DIR/signatures.json: each model's serving_default signature as TensorFlow reads it back
(tf.saved_model.load): input and output aliases with dtype names (DT_FLOAT, ...) and shapes (-1 unknown), so a
test can hold modelgate's own saved_model.pb reader to TensorFlow's. Seeded: every run writes the same weights.
Run it with the pinned TensorFlow: `bash scripts/setup-tensorflow.sh` (repo root) prints its python.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import types_pb2  # noqa: E402


def export_keras(path):
    import keras

    keras.utils.set_random_seed(5)
    features = keras.Input(shape=(4,), name="features", dtype="float32")
    ids = keras.Input(shape=(2,), name="ids", dtype="int64")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(8, 3)(ids))
    hidden = keras.layers.Dense(6, activation="relu")(keras.layers.Concatenate()([features, embedded]))
    score = keras.layers.Dense(1, name="score")(hidden)
    logits = keras.layers.Dense(3, name="logits")(hidden)
    model = keras.Model(inputs={"features": features, "ids": ids}, outputs={"score": score, "logits": logits})
    model.export(path, format="tf_saved_model", verbose=False)


class Counter(tf.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = tf.Variable(np.float32(scale), name="scale")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def __call__(self, x):
        scaled = x * self.scale
        return {"scaled": scaled, "label": tf.argmax(scaled, axis=1)}


def export_module(path, scale):
    module = Counter(scale)
    tf.saved_model.save(module, path, signatures={"serving_default": module.__call__})


def describe(spec):
    shape = None if spec.shape.rank is None else [-1 if dim is None else int(dim) for dim in spec.shape]
    return {"dtype": types_pb2.DataType.Name(spec.dtype.as_datatype_enum), "shape": shape}


def signature_of(path):
    function = tf.saved_model.load(path).signatures["serving_default"]
    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    return {
        "inputs": {alias: describe(spec) for alias, spec in sorted(inputs.items())},
        "outputs": {alias: describe(tensor) for alias, tensor in sorted(outputs.items())},
    }


def main():
    out = sys.argv[1]
    export_keras(os.path.join(out, "keras_scorer", "1"))
    export_module(os.path.join(out, "counter", "1"), 2.0)
    export_module(os.path.join(out, "counter", "2"), -3.0)
    signatures = {
        "keras_scorer": signature_of(os.path.join(out, "keras_scorer", "1")),
        "counter": signature_of(os.path.join(out, "counter", "2")),
    }
    with open(os.path.join(out, "signatures.json"), "w") as file:
        json.dump(signatures, file, indent=2, sort_keys=True)
    print(json.dumps({"exported": sorted(signatures)}))


if __name__ == "__main__":
    main()
