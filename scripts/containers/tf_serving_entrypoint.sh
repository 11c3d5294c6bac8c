#!/bin/bash
# As tensorflow/serving's tools/docker/Dockerfile writes it, with `exec` so that the server is PID 1 and
# receives the stop signal (the real script keeps bash as PID 1, and `docker stop` kills after its grace period).
exec tensorflow_model_server --port=8500 --rest_api_port=8501 \
  --model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} \
  "$@"
