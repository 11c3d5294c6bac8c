#!/usr/bin/env python3
"""Exports SavedModels with Python TensorFlow, the way users make them, for the TF Serving emulator's tests.

    python export_python_saved_models.py OUT_DIR

writes OUT_DIR/<model>/1/ (saved_model.pb, variables/, fingerprint.pb) for:

  tf_module_dense  a tf.Module: softmax(x @ kernel + bias), kernel and bias tf.Variables, exported with
                   tf.saved_model.save and a `serving_default` signature x float32 [-1, 4] -> probabilities [-1, 3]
  keras_mlp        a Keras 3 Sequential (Dense 8 relu, Dense 3 softmax) exported with model.export(), whose
                   `serving_default` takes `x` float32 [-1, 4]

and OUT_DIR/expected.json: for each model, its signature's input and output aliases, fixed inputs (batch 3)
and the outputs TensorFlow computes for them after reloading the export with tf.saved_model.load. Weights and
inputs are seeded, so every run writes the same numbers. Prints the models it wrote as one JSON line.
Run it with the pinned TensorFlow: `bash scripts/setup-tensorflow.sh` (repo root) prints its python.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class DenseSoftmax(tf.Module):
    def __init__(self, rng):
        super().__init__()
        self.kernel = tf.Variable(rng.uniform(-1, 1, (4, 3)).astype(np.float32), name="kernel")
        self.bias = tf.Variable(rng.uniform(-0.1, 0.1, (3,)).astype(np.float32), name="bias")

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def __call__(self, x):
        return {"probabilities": tf.nn.softmax(tf.matmul(x, self.kernel) + self.bias)}


def export_tf_module(path):
    module = DenseSoftmax(np.random.default_rng(7))
    tf.saved_model.save(module, path, signatures={"serving_default": module.__call__})


def export_keras(path):
    import keras

    keras.utils.set_random_seed(11)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,), name="x"),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="probabilities"),
        ]
    )
    model.export(path, format="tf_saved_model", verbose=False)


def run_reloaded(path, inputs):
    """The serving_default signature of the reloaded export, on named float32 inputs."""
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures["serving_default"]
    _, input_specs = signature.structured_input_signature
    feeds = {alias: tf.constant(value, dtype=tf.float32) for alias, value in inputs.items()}
    if set(feeds) != set(input_specs):
        raise SystemExit(f"{path}: signature inputs {sorted(input_specs)}, fed {sorted(feeds)}")
    return {alias: tensor.numpy() for alias, tensor in signature(**feeds).items()}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    exporters = {"tf_module_dense": export_tf_module, "keras_mlp": export_keras}
    inputs = {"x": np.random.default_rng(3).uniform(-1, 1, (3, 4)).astype(np.float32)}
    expected = {"tensorflow": tf.__version__, "models": {}}
    for name, export in exporters.items():
        path = os.path.join(out, name, "1")
        export(path)
        outputs = run_reloaded(path, inputs)
        expected["models"][name] = {
            "inputs": {alias: {"shape": list(v.shape), "values": v.ravel().tolist()} for alias, v in inputs.items()},
            "outputs": {alias: {"shape": list(v.shape), "values": v.ravel().tolist()} for alias, v in outputs.items()},
        }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
    print(json.dumps({"ok": True, "models": sorted(exporters), "tensorflow": tf.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
