#!/usr/bin/env python3
"""Calls a TF Serving (real or emulated) with the real Python client, tensorflow-serving-api, as users do.

    python tf_serving_python_client.py GRPC_ADDRESS REST_URL REQUEST_JSON

REQUEST_JSON: {"predict": {"model": m, "inputs": {alias: {"dtype": "float32"|"int64", "values": nested list}}},
               "classify": {"model": m, "features": [[float, ...], ...]}}
Prints one JSON line: Predict's outputs (tf.make_ndarray of each TensorProto, as lists), the GetModelStatus
states, the metadata's serving_default input names, Classify's labels and scores, the same Predict over REST,
and the gRPC status code names of a Predict on an unknown model and of Classify on a predict signature.
"""

import json
import os
import sys
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import (  # noqa: E402
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


def main():
    address, rest, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    channel = grpc.insecure_channel(address)
    predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    out = {}

    predict = spec["predict"]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = predict["model"]
    for alias, tensor in predict["inputs"].items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(np.array(tensor["values"], dtype=tensor["dtype"])))
    response = predictions.Predict(request, timeout=30)
    out["predict"] = {alias: tf.make_ndarray(proto).tolist() for alias, proto in response.outputs.items()}
    out["predict_version"] = response.model_spec.version.value

    status = models.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(model_spec={"name": predict["model"]}))
    out["status"] = [[s.version, s.state] for s in status.model_version_status]

    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": predict["model"]})
    metadata_request.metadata_field.append("signature_def")
    metadata = predictions.GetModelMetadata(metadata_request)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signatures)
    out["metadata_inputs"] = sorted(signatures.signature_def["serving_default"].inputs.keys())

    classify = spec["classify"]
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = classify["model"]
    for row in classify["features"]:
        example = request.input.example_list.examples.add()
        example.features.feature["x"].float_list.value.extend(row)
    result = predictions.Classify(request, timeout=30).result
    out["classify"] = [[[c.label, c.score] for c in item.classes] for item in result.classifications]

    body = json.dumps({"inputs": {alias: t["values"] for alias, t in predict["inputs"].items()}}).encode()
    with urllib.request.urlopen(f"{rest}/v1/models/{predict['model']}:predict", body, timeout=30) as answer:
        out["rest_predict"] = json.loads(answer.read())["outputs"]

    def code_of(call):
        try:
            call()
            return "OK"
        except grpc.RpcError as error:
            return error.code().name

    unknown = predict_pb2.PredictRequest()
    unknown.model_spec.name = "no_such_model"
    out["unknown_model"] = code_of(lambda: predictions.Predict(unknown, timeout=30))
    wrong = classification_pb2.ClassificationRequest()
    wrong.CopyFrom(request)
    wrong.model_spec.name = predict["model"]
    out["classify_on_predict_signature"] = code_of(lambda: predictions.Classify(wrong, timeout=30))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
