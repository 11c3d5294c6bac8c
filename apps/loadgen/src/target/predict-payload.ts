import { create } from '@bufbuild/protobuf';
import { signatureInputs } from '@modelgate/fixtures';
import type { ServingSignature } from '@modelgate/policy';
import { encodePredictRequestBinary, encodeRestPredictRequest, PredictRequestSchema } from '@modelgate/proto';

// A Predict request for a model and batch size, serialized once per run: the gRPC PredictRequest bytes
// (tensor_content or repeated fields) and the REST body (row or columnar). Values are seeded, so every run
// (and the k6 scripts) sends the same bytes.

export type GrpcTensorForm = 'content' | 'repeated';
export type RestBodyFormat = 'row' | 'columnar';

export interface PredictPayload {
  model: string;
  batchSize: number;
  grpc: Uint8Array;
  rest: Uint8Array;
  restPath: string;
}

export function predictPayload(
  model: string,
  signature: ServingSignature,
  batchSize: number,
  options: { tensorForm: GrpcTensorForm; restFormat: RestBodyFormat },
): PredictPayload {
  const inputs = signatureInputs(signature, batchSize, `modelgate/loadgen/${model}`);
  return {
    model,
    batchSize,
    grpc: encodePredictRequestBinary({
      request: create(PredictRequestSchema, { modelSpec: { name: model, signatureName: signature.key } }),
      inputs,
      tensorOptions: { form: options.tensorForm },
    }),
    rest: new TextEncoder().encode(encodeRestPredictRequest(inputs, { format: options.restFormat })),
    restPath: `/v1/models/${encodeURIComponent(model)}:predict`,
  };
}
