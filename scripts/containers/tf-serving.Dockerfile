# tensorflow/serving's contract with the TF Serving emulator as the server: /usr/bin/tf_serving_entrypoint.sh
# runs `tensorflow_model_server` with MODEL_NAME and MODEL_BASE_PATH (default /models/model), gRPC 8500 and REST
# 8501, and appends the container's command; models run on tfjs-node over TensorFlow 2.21's libtensorflow.
FROM @BASE@
COPY node/bin/node /usr/local/bin/node
COPY emulators /opt/modelgate/emulators
COPY tfjs-node /opt/modelgate/tfjs-node
COPY tf_serving_entrypoint.sh /usr/bin/tf_serving_entrypoint.sh
RUN printf '#!/bin/sh\nexec /usr/local/bin/node /opt/modelgate/emulators/dist/tf-serving/cli.js "$@"\n' \
      > /usr/bin/tensorflow_model_server \
 && chmod 755 /usr/bin/tensorflow_model_server /usr/bin/tf_serving_entrypoint.sh \
 && mkdir -p /models
ENV MODEL_BASE_PATH=/models MODEL_NAME=model \
    MODELGATE_TFJS_NODE_DIR=/opt/modelgate/tfjs-node MODELGATE_TFJS_BACKEND=tensorflow
EXPOSE 8500 8501
ENTRYPOINT ["/usr/bin/tf_serving_entrypoint.sh"]
