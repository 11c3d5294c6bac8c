import { create } from '@bufbuild/protobuf';
import { Int64ValueSchema } from '@bufbuild/protobuf/wkt';
import { signatureInputs } from '@modelgate/fixtures';
import {
  createPromiseClient,
  DataType,
  decodeTensor,
  encodeTensor,
  GrpcError,
  PredictionService,
} from '@modelgate/proto';
import { clientSecretOf, readStackDescription, TokenPool } from '@modelgate/stack';

// `modelgate predict`: one prediction through the gateway over gRPC, the token minted from the stack's issuer,
// the inputs generated from the model's signature (seeded, the batch size asked). grpcurl is not a given; this is.

export interface PredictOptions {
  stack: string;
  model: string;
  client?: string;
  version?: number;
  batch: number;
  /** Send to the model server directly, not through the gateway (no token). */
  direct: boolean;
}

function preview(values: ArrayLike<unknown>, limit = 8): string {
  const shown = Array.from({ length: Math.min(values.length, limit) }, (_, i) => values[i]);
  const text = shown
    .map((value) => (typeof value === 'number' ? Number(value.toPrecision(6)) : String(value)))
    .join(', ');
  return values.length > limit ? `[${text}, ... ${values.length - limit} more]` : `[${text}]`;
}

export async function runPredict(options: PredictOptions, out: (text: string) => void): Promise<number> {
  const description = await readStackDescription(options.stack);
  const model = description.models.find((candidate) => candidate.name === options.model);
  if (!model) {
    throw new Error(
      `the stack serves no model ${options.model} (it has: ${description.models.map((m) => m.name).join(', ')})`,
    );
  }
  const client =
    description.clients.find((candidate) => candidate.id === options.client) ??
    (options.client === undefined
      ? description.clients.find((candidate) => candidate.models.includes(model.name))
      : undefined);
  if (!options.direct && !client) {
    throw new Error(
      options.client
        ? `the stack has no client ${options.client}`
        : `no client of the stack may call ${model.name}`,
    );
  }
  const inputs = signatureInputs(model.signature, options.batch, `modelgate/predict/${model.name}`);
  const request = {
    modelSpec: {
      name: model.name,
      versionChoice:
        options.version === undefined
          ? { case: undefined }
          : { case: 'version' as const, value: create(Int64ValueSchema, { value: BigInt(options.version) }) },
    },
    inputs: Object.fromEntries(
      Object.entries(inputs).map(([alias, tensor]) => [alias, encodeTensor(tensor)]),
    ),
  };
  const address = options.direct ? description.modelServer.grpc : description.gateway.grpc;
  let token: string | undefined;
  if (!options.direct && client) {
    const pool = new TokenPool({
      tokenEndpoint: description.issuer.tokenUrl,
      clients: [{ clientId: client.id, clientSecret: clientSecretOf(client) }],
    });
    token = await pool.token(client.id);
  }
  const grpc = createPromiseClient(PredictionService, address, token ? { bearerToken: token } : {});
  const started = performance.now();
  try {
    const response = await grpc.predict(request, { timeoutMs: 30_000 });
    const elapsed = performance.now() - started;
    out(
      `${model.name} v${response.modelSpec?.versionChoice.case === 'version' ? response.modelSpec.versionChoice.value.value : '?'} via ${options.direct ? 'TF Serving directly' : `the gateway as ${client?.id}`} (${address}), batch ${options.batch}, ${elapsed.toFixed(1)} ms\n`,
    );
    for (const [alias, proto] of Object.entries(response.outputs).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const tensor = decodeTensor(proto);
      out(
        `  ${alias}  ${DataType[tensor.dtype]} [${tensor.shape.join(', ')}]  ${preview(tensor.values as ArrayLike<unknown>)}\n`,
      );
    }
    return 0;
  } catch (error) {
    if (!(error instanceof GrpcError)) throw error;
    out(`refused: gRPC status ${error.code} ${error.details}\n`);
    return 3;
  } finally {
    grpc.close();
  }
}
