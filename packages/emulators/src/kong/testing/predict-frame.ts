import { create, toBinary } from '@bufbuild/protobuf';
import { grpcFrame } from '@modelgate/policy';
import { PredictRequestSchema } from '@modelgate/proto';

/** A gRPC-framed PredictRequest that names `model`: the body of one unary Predict call. */
export function predictFrame(model: string): Buffer {
  const message = toBinary(
    PredictRequestSchema,
    create(PredictRequestSchema, { modelSpec: { name: model } }),
  );
  return Buffer.from(grpcFrame(message));
}
