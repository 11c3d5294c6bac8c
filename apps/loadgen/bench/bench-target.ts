import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, toBinary } from '@bufbuild/protobuf';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { PredictResponseSchema } from '@modelgate/proto';

// The bench's target, in its own process: gRPC Predict and REST :predict answered at once with fixed bytes,
// so that the load generators, not the target, are what is measured; `GET /cpu` says how much CPU it used,
// so the bench can show it was not the bottleneck. Prints its ports as one JSON line.

const answer = Buffer.from(toBinary(PredictResponseSchema, create(PredictResponseSchema, {})));
const grpcServer = new Server();
grpcServer.register(
  '/tensorflow.serving.PredictionService/Predict',
  (call: { request: Buffer }, callback: (error: { code: number } | null, value?: Buffer) => void) => {
    if (call.request.length === 0) callback({ code: status.INVALID_ARGUMENT });
    else callback(null, answer);
  },
  (value: Buffer) => value,
  (bytes: Buffer) => bytes,
  'unary',
);
const grpcPort = await new Promise<number>((resolve, reject) => {
  grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
    error ? reject(error) : resolve(port),
  );
});
const body = '{"predictions": [2.5]}';
const http = createServer((request, response) => {
  if (request.url === '/cpu') {
    const cpu = process.cpuUsage();
    response.end(JSON.stringify({ cpuMicros: cpu.user + cpu.system, at: performance.now() }));
    return;
  }
  request.resume();
  request.once('end', () => response.end(body));
});
http.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ grpcPort, httpPort: (http.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => {
  grpcServer.forceShutdown();
  http.closeAllConnections();
  http.close(() => process.exit(0));
});
