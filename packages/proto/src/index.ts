// Wire types: every message, enum and service generated from proto/ (see buf.gen.yaml).

export { DEFAULT_CHANNEL_OPTIONS, MAX_MESSAGE_BYTES } from './channel-options.js';
export { dataTypeString } from './data-type-names.js';
export {
  bfloat16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToHalfBits,
  halfBitsToFloat32,
} from './float16.js';
export * from './gen/tensorflow/core/example/example_pb.js';
export * from './gen/tensorflow/core/example/feature_pb.js';
export * from './gen/tensorflow/core/framework/attr_value_pb.js';
export * from './gen/tensorflow/core/framework/full_type_pb.js';
export * from './gen/tensorflow/core/framework/function_pb.js';
export * from './gen/tensorflow/core/framework/graph_debug_info_pb.js';
export * from './gen/tensorflow/core/framework/graph_pb.js';
export * from './gen/tensorflow/core/framework/node_def_pb.js';
export * from './gen/tensorflow/core/framework/op_def_pb.js';
export * from './gen/tensorflow/core/framework/resource_handle_pb.js';
export * from './gen/tensorflow/core/framework/tensor_pb.js';
export * from './gen/tensorflow/core/framework/tensor_shape_pb.js';
export * from './gen/tensorflow/core/framework/types_pb.js';
export * from './gen/tensorflow/core/framework/variable_pb.js';
export * from './gen/tensorflow/core/framework/versions_pb.js';
export * from './gen/tensorflow/core/protobuf/error_codes_pb.js';
export * from './gen/tensorflow/core/protobuf/meta_graph_pb.js';
export * from './gen/tensorflow/core/protobuf/saved_model_pb.js';
export * from './gen/tensorflow/core/protobuf/saved_object_graph_pb.js';
export * from './gen/tensorflow/core/protobuf/saver_pb.js';
export * from './gen/tensorflow/core/protobuf/struct_pb.js';
export * from './gen/tensorflow/core/protobuf/trackable_object_graph_pb.js';
export * from './gen/tensorflow_serving/apis/classification_pb.js';
export * from './gen/tensorflow_serving/apis/get_model_metadata_pb.js';
export * from './gen/tensorflow_serving/apis/get_model_status_pb.js';
export * from './gen/tensorflow_serving/apis/inference_pb.js';
export * from './gen/tensorflow_serving/apis/input_pb.js';
export * from './gen/tensorflow_serving/apis/logging_pb.js';
export * from './gen/tensorflow_serving/apis/model_management_pb.js';
export * from './gen/tensorflow_serving/apis/model_pb.js';
export * from './gen/tensorflow_serving/apis/model_service_pb.js';
export * from './gen/tensorflow_serving/apis/predict_pb.js';
export * from './gen/tensorflow_serving/apis/prediction_log_pb.js';
export * from './gen/tensorflow_serving/apis/prediction_service_pb.js';
export * from './gen/tensorflow_serving/apis/regression_pb.js';
export * from './gen/tensorflow_serving/apis/status_pb.js';
export * from './gen/tensorflow_serving/config/file_system_storage_path_source_pb.js';
export * from './gen/tensorflow_serving/config/log_collector_config_pb.js';
export * from './gen/tensorflow_serving/config/logging_config_pb.js';
export * from './gen/tensorflow_serving/config/model_server_config_pb.js';
export * from './gen/tensorflow_serving/config/monitoring_config_pb.js';
export * from './gen/tensorflow_serving/servables/tensorflow/session_bundle_config_pb.js';
export {
  type CallOptions,
  type ClientOptions,
  createPromiseClient,
  methodPath,
  type PromiseClient,
} from './grpc-client.js';
export { GrpcError, type GrpcErrorOptions, grpcStatusName, toGrpcError } from './grpc-error.js';
export { addUnaryService, serviceDefinition, type UnaryHandler, type UnaryHandlers } from './grpc-service.js';
export {
  type ClassifyRegressJsonRequest,
  type InputDtypes,
  type PredictFormat,
  type PredictJsonRequest,
  type PredictJsonResponse,
  readClassifyRegressJson,
  readPredictJson,
  readPredictResponseJson,
  writeClassificationJson,
  writePredictJson,
  writeRegressionJson,
} from './json-tensor.js';
export {
  decodeRestError,
  decodeRestPredictRequest,
  decodeRestPredictResponse,
  type EncodeRestPredictRequestOptions,
  encodeRestError,
  encodeRestPredictRequest,
  encodeRestPredictResponse,
  type JsonTensorValue,
  type RestFormat,
  type RestPredictRequest,
  type RestPredictResponse,
  type RestSignature,
} from './rest-codec.js';
export { formatRestNumber, parseRestJson, stringifyRestJson } from './rest-json.js';
export {
  isBase64Object,
  type JsonNode,
  jsonTypeName,
  member,
  parseRestDocument,
} from './rest-json-document.js';
export {
  formatDecimal,
  formatG,
  jsonDebugString,
  PrettyJsonWriter,
  restErrorBody,
} from './rest-json-writer.js';
export {
  type DataTypeInfo,
  dataTypeInfo,
  elementCount,
  isSupportedDataType,
  type SupportedDataType,
  type Tensor,
  type TensorValues,
  type TensorValuesByType,
} from './tensor.js';
export {
  DEFAULT_MAX_TENSOR_ELEMENTS,
  type DecodeTensorOptions,
  decodeShape,
  decodeTensor,
  type EncodeTensorOptions,
  encodeTensor,
} from './tensor-codec.js';
export { TensorCodecError, type TensorCodecErrorCode } from './tensor-codec-error.js';
export {
  encodePredictRequestBinary,
  encodeTensorBinary,
  type PredictRequestBinaryInit,
} from './tensor-wire.js';
export {
  TFJS_WEIGHTS_PATH,
  type TfjsGraphModel,
  TfjsGraphModelError,
  tfjsGraphModel,
} from './tfjs-graph-model.js';
