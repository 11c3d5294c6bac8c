#!/usr/bin/env bash
# Creates (once) a Python virtual environment with the pinned TensorFlow, outside the clone, and prints the
# path of its python. The fixtures' tests use it to load every generated SavedModel with real TensorFlow; the
# emulator's tests also call it through the real TF Serving Python client (tensorflow-serving-api).
#   bash scripts/setup-tensorflow.sh            # then: export MODELGATE_TF_PYTHON=<printed path>
# The venv lives in ${MODELGATE_CACHE_DIR:-~/.cache/modelgate}/tf-venv-<version>; delete it to rebuild.
set -euo pipefail

TF_VERSION=2.21.0
CACHE_DIR="${MODELGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/modelgate}"
VENV="$CACHE_DIR/tf-venv-$TF_VERSION"
PYTHON="${PYTHON:-python3}"

if ! "$VENV/bin/python" -c "import tensorflow as tf, sys; sys.exit(tf.__version__ != '$TF_VERSION')" 2>/dev/null; then
  echo "setting up tensorflow-cpu==$TF_VERSION in $VENV (about 300 MB download, once)" >&2
  mkdir -p "$CACHE_DIR"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "tensorflow-cpu==$TF_VERSION" >&2
fi
# The real TF Serving Python client, for the emulator's tests that call it as users do. --no-deps: its
# dependencies (grpcio, protobuf) come with tensorflow-cpu, and its `tensorflow` requirement would pull the full
# wheel beside tensorflow-cpu.
if ! "$VENV/bin/python" -c "import tensorflow_serving.apis.prediction_service_pb2_grpc" 2>/dev/null; then
  echo "installing tensorflow-serving-api==$TF_VERSION in $VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "tensorflow-serving-api==$TF_VERSION" >&2
fi
echo "$VENV/bin/python"
