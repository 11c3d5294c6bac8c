#!/usr/bin/env python3
"""Exports SavedModels with Python TensorFlow, the way users make them, for the TF Serving emulator's tests.

    python export_python_saved_models.py OUT_DIR

writes OUT_DIR/<model>/1/ (saved_model.pb, variables/, fingerprint.pb) for each model of the corpus below, and
OUT_DIR/expected.json: for each model, its `serving_default` inputs and outputs (alias, dtype, shape), fixed
inputs (batch 3) and the outputs TensorFlow computes for them after reloading the export with
tf.saved_model.load. Weights and inputs are seeded, so every run writes the same numbers. Values are listed
flat in row-major order; int64 values as decimal strings (exact past 2^53), strings as UTF-8 text.
Prints the models it wrote as one JSON line. Run it with the pinned TensorFlow:
`bash scripts/setup-tensorflow.sh` (repo root) prints its python.

The corpus (what users export; each model names the case it covers):

  tf_module_dense         tf.Module with tf.Variables: softmax(x @ kernel + bias)
  keras_mlp               Keras 3 Sequential, Dense relu + Dense softmax, model.export()
  keras_functional_multi  Keras functional model with two inputs and two outputs
  argmax_classifier       tf.Module answering probabilities and int64 class ids (tf.argmax)
  keras_convnet           Keras Conv2D, BatchNormalization, MaxPooling2D, Flatten, Dense
  keras_embedding         Keras Embedding over int64 ids, pooled, Dense
  float64_math            tf.Module computing in float64 (input, variable and output DT_DOUBLE)
  int64_math              tf.Module computing in int64, with values past 2^53 and a small-valued twin
  string_lookup           tf.Module with a StaticHashTable (string -> int64), which needs the init op
  keras_lstm              Keras LSTM (a While loop in the graph)

and, under "example_models" in expected.json, a model fed serialized tf.Examples the way Estimator exports were
(TF1 SavedModelBuilder, ParseExample): example_classifier, whose `serving_default` is a classify signature
(inputs -> classes, scores) and `regress` a regress signature (inputs -> outputs); expected.json keeps the
examples' features, and the classes, scores and regression values TensorFlow computes for them.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

BATCH = 3


class DenseSoftmax(tf.Module):
    def __init__(self, rng):
        super().__init__()
        self.kernel = tf.Variable(rng.uniform(-1, 1, (4, 3)).astype(np.float32), name="kernel")
        self.bias = tf.Variable(rng.uniform(-0.1, 0.1, (3,)).astype(np.float32), name="bias")

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def __call__(self, x):
        return {"probabilities": tf.nn.softmax(tf.matmul(x, self.kernel) + self.bias)}


class ArgmaxClassifier(DenseSoftmax):
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def __call__(self, x):
        probabilities = tf.nn.softmax(tf.matmul(x, self.kernel) + self.bias)
        return {"probabilities": probabilities, "class_ids": tf.argmax(probabilities, axis=1)}


class Float64Math(tf.Module):
    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(np.float64(1.5), name="scale")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float64, name="x")])
    def __call__(self, x):
        return {"y": x * self.scale + 0.25}


class Int64Math(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="ids")])
    def __call__(self, ids):
        return {"next_ids": ids * 3 + 7}


class StringLookup(tf.Module):
    def __init__(self):
        super().__init__()
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(["cat", "dog", "bird"]), tf.constant([0, 1, 2], dtype=tf.int64)
        )
        self.table = tf.lookup.StaticHashTable(init, default_value=-1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def __call__(self, words):
        ids = self.table.lookup(words)
        return {"ids": ids, "score": tf.cast(ids, tf.float32) * 0.5}


def save_module(module, path):
    tf.saved_model.save(module, path, signatures={"serving_default": module.__call__})


def keras_export(build):
    def export(path):
        import keras

        keras.utils.set_random_seed(11)
        build(keras).export(path, format="tf_saved_model", verbose=False)

    return export


def keras_mlp(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(4,), name="x"),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="probabilities"),
        ]
    )


def keras_functional_multi(keras):
    features = keras.Input(shape=(4,), name="features")
    extra = keras.Input(shape=(2,), name="extra")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(keras.layers.Concatenate()([features, extra]))
    probabilities = keras.layers.Dense(3, activation="softmax", name="probabilities")(hidden)
    score = keras.layers.Dense(1, name="score")(hidden)
    return keras.Model(inputs=[features, extra], outputs=[probabilities, score])


def keras_convnet(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1), name="image"),
            keras.layers.Conv2D(4, 3, activation="relu", padding="same", name="conv"),
            keras.layers.BatchNormalization(name="norm"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, activation="softmax", name="probabilities"),
        ]
    )


def keras_embedding(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(5,), dtype="int64", name="ids"),
            keras.layers.Embedding(20, 4, name="embedding"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(2, name="logits"),
        ]
    )


def keras_lstm(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(5, 3), name="sequence"),
            keras.layers.LSTM(4, name="lstm"),
            keras.layers.Dense(2, name="logits"),
        ]
    )


def export_example_classifier(path, features):
    """A TF1 graph on serialized tf.Examples with classify and regress signatures; returns TF's answers."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        serialized = v1.placeholder(tf.string, [None], name="tf_example")
        parsed = v1.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([4], tf.float32)})
        rng = np.random.default_rng(13)
        kernel = tf.constant(rng.uniform(-1, 1, (4, 3)).astype(np.float32))
        scores = tf.nn.softmax(tf.matmul(parsed["x"], kernel), name="scores")
        classes = tf.tile(tf.constant([[b"cat", b"dog", b"bird"]]), [tf.shape(scores)[0], 1], name="classes")
        value = tf.reduce_sum(parsed["x"], axis=1, keepdims=True, name="value")
        utils = v1.saved_model.signature_def_utils
        signatures = {
            "serving_default": utils.classification_signature_def(serialized, classes, scores),
            "regress": utils.regression_signature_def(serialized, value),
        }
        with v1.Session(graph=graph) as session:
            builder = v1.saved_model.Builder(path)
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
            builder.save()
            examples = [
                tf.train.Example(
                    features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=row))})
                ).SerializeToString()
                for row in features
            ]
            got_classes, got_scores, got_value = session.run([classes, scores, value], {serialized: examples})
    return {
        "features": [list(map(float, row)) for row in features],
        "classes": [[c.decode() for c in row] for row in got_classes.tolist()],
        "scores": got_scores.tolist(),
        "regression": got_value.ravel().tolist(),
    }


def uniform(seed, shape, dtype=np.float32):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


# name -> (exporter, inputs by the signature's alias)
CORPUS = {
    "tf_module_dense": (lambda p: save_module(DenseSoftmax(np.random.default_rng(7)), p), {"x": uniform(3, (BATCH, 4))}),
    "keras_mlp": (keras_export(keras_mlp), {"x": uniform(3, (BATCH, 4))}),
    "keras_functional_multi": (
        keras_export(keras_functional_multi),
        {"features": uniform(4, (BATCH, 4)), "extra": uniform(5, (BATCH, 2))},
    ),
    "argmax_classifier": (
        lambda p: save_module(ArgmaxClassifier(np.random.default_rng(7)), p),
        {"x": uniform(6, (BATCH, 4))},
    ),
    "keras_convnet": (keras_export(keras_convnet), {"image": uniform(8, (BATCH, 8, 8, 1))}),
    "keras_embedding": (
        keras_export(keras_embedding),
        {"ids": np.random.default_rng(9).integers(0, 20, (BATCH, 5)).astype(np.int64)},
    ),
    "float64_math": (lambda p: save_module(Float64Math(), p), {"x": uniform(10, (BATCH, 3), np.float64)}),
    "int64_math": (
        lambda p: save_module(Int64Math(), p),
        {"ids": np.array([1_000_000_000_000_000_001, -5, 2**53 + 1], dtype=np.int64)},
    ),
    "string_lookup": (lambda p: save_module(StringLookup(), p), {"words": np.array([b"dog", b"fish", b"cat"])}),
    "keras_lstm": (keras_export(keras_lstm), {"sequence": uniform(12, (BATCH, 5, 3))}),
}

DTYPES = {tf.float32: "float32", tf.float64: "float64", tf.int32: "int32", tf.int64: "int64", tf.string: "string"}


def described(value, dtype):
    """A tensor as expected.json holds it: dtype, shape, flat values (int64 as strings, strings as text)."""
    array = np.asarray(value)
    flat = array.ravel().tolist()
    if dtype == "int64":
        flat = [str(v) for v in flat]
    elif dtype == "string":
        flat = [v.decode("utf-8") for v in flat]
    return {"dtype": dtype, "shape": list(array.shape), "values": flat}


def run_reloaded(path, inputs):
    """The serving_default signature of the reloaded export; its input and output dtypes by alias."""
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures["serving_default"]
    _, input_specs = signature.structured_input_signature
    if set(inputs) != set(input_specs):
        raise SystemExit(f"{path}: signature inputs {sorted(input_specs)}, fed {sorted(inputs)}")
    feeds = {alias: tf.constant(value, dtype=input_specs[alias].dtype) for alias, value in inputs.items()}
    outputs = {alias: tensor.numpy() for alias, tensor in signature(**feeds).items()}
    input_dtypes = {alias: DTYPES[spec.dtype] for alias, spec in input_specs.items()}
    output_dtypes = {alias: DTYPES[spec.dtype] for alias, spec in signature.structured_outputs.items()}
    return input_dtypes, outputs, output_dtypes


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    expected = {"tensorflow": tf.__version__, "models": {}}
    for name, (export, inputs) in CORPUS.items():
        path = os.path.join(out, name, "1")
        export(path)
        input_dtypes, outputs, output_dtypes = run_reloaded(path, inputs)
        expected["models"][name] = {
            "inputs": {alias: described(v, input_dtypes[alias]) for alias, v in inputs.items()},
            "outputs": {alias: described(v, output_dtypes[alias]) for alias, v in outputs.items()},
        }
    features = uniform(14, (BATCH, 4))
    expected["example_models"] = {
        "example_classifier": export_example_classifier(os.path.join(out, "example_classifier", "1"), features)
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
    print(json.dumps({"ok": True, "models": sorted(CORPUS), "tensorflow": tf.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
