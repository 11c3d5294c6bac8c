import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { addUnaryService, createPromiseClient, GrpcError, PredictionService } from '@modelgate/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from './kong-clock.js';
import { KongEmulator } from './kong-emulator.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { mintToken } from './testing/tokens.js';

// A grpc-js client through the emulator to a grpc-js server (@modelgate/proto's typed client and service):
// messages and status pass (kong-emulator.test.ts checks trailers on the wire); refusals reach the client as Kong sends them.

const clock = new ManualClock(1_800_000_000_000);
let server: Server;
let kong: KongEmulator;

beforeAll(async () => {
  server = new Server();
  addUnaryService(server, PredictionService, {
    predict: (request) => ({ modelSpec: { name: request.modelSpec?.name ?? '', signatureName: 'served' } }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  kong = await KongEmulator.start({
    config: localGatewayConfig({ restPort: 1, grpcPort: port }),
    plugins: ['bundled', 'modelgate-model-access'],
    clock,
  });
});

afterAll(async () => {
  await kong?.stop();
  server?.forceShutdown();
});

const client = async (clientId: string) =>
  createPromiseClient(PredictionService, kong.grpcAddress(), {
    bearerToken: await mintToken(clientId, { issuedAt: Math.floor(clock.now() / 1000) }),
    defaultTimeoutMs: 5000,
  });

describe('gRPC through the emulator with grpc-js', () => {
  it('passes an admitted Predict to the upstream and its answer back', async () => {
    const predictions = await client('ops-console');
    try {
      const answer = await predictions.predict({ modelSpec: { name: 'classifier' } });
      expect(answer.modelSpec?.name).toBe('classifier');
      expect(answer.modelSpec?.signatureName).toBe('served');
    } finally {
      predictions.close();
    }
  });

  it('refuses a forbidden model: the client sees PERMISSION_DENIED with the plugin message', async () => {
    const predictions = await client('classifier-app');
    try {
      const refused = await predictions
        .predict({ modelSpec: { name: 'convnet' } })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GrpcError);
      expect((refused as GrpcError).code).toBe(status.PERMISSION_DENIED);
      expect((refused as GrpcError).message).toContain('You cannot consume this model');
    } finally {
      predictions.close();
    }
  });

  it('refuses a bad token: the client sees UNAUTHENTICATED', async () => {
    const predictions = createPromiseClient(PredictionService, kong.grpcAddress(), {
      bearerToken: 'not.a-token.at-all',
      defaultTimeoutMs: 5000,
    });
    try {
      const refused = await predictions
        .predict({ modelSpec: { name: 'classifier' } })
        .catch((error: unknown) => error);
      expect((refused as GrpcError).code).toBe(status.UNAUTHENTICATED);
      expect((refused as GrpcError).message).toContain('Bad token; invalid JSON');
    } finally {
      predictions.close();
    }
  });
});
