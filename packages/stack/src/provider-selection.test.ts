import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseProvider,
  engineAnswers,
  engineEndpoint,
  engineHasNvidiaRuntime,
} from './provider-selection.js';

let dir: string;
let engine: Server;
let socketPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-engine-'));
  socketPath = join(dir, 'docker.sock');
  // What a Docker engine answers on GET /_ping: 200 "OK".
  engine = createServer((request, response) => {
    if (request.url === '/info') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          Runtimes: { runc: { path: 'runc' }, nvidia: { path: 'nvidia-container-runtime' } },
        }),
      );
      return;
    }
    response.writeHead(request.url === '/_ping' ? 200 : 404, { 'content-type': 'text/plain' });
    response.end(request.url === '/_ping' ? 'OK' : 'page not found');
  });
  await new Promise<void>((resolve) => engine.listen(socketPath, resolve));
});

afterAll(async () => {
  await new Promise((resolve) => engine.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('provider selection', () => {
  it('reads DOCKER_HOST as the engine does: unix sockets, tcp, else the default socket', () => {
    expect(engineEndpoint({})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(engineEndpoint({ DOCKER_HOST: 'unix:///run/user/1000/podman/podman.sock' })).toEqual({
      socketPath: '/run/user/1000/podman/podman.sock',
    });
    expect(engineEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2376' })).toEqual({ host: '10.0.0.5', port: 2376 });
  });

  it('sees an engine that answers /_ping, and none where nothing listens', async () => {
    expect(await engineAnswers({ socketPath })).toBe(true);
    expect(await engineAnswers({ socketPath: join(dir, 'nothing.sock') })).toBe(false);
  });

  it("reads the engine's nvidia runtime from GET /info", async () => {
    expect(await engineHasNvidiaRuntime({ socketPath })).toBe(true);
    expect(await engineHasNvidiaRuntime({ socketPath: join(dir, 'nothing.sock') })).toBe(false);
  });

  it('picks containers where an engine answers, the emulators where none does, and what was asked for', () => {
    expect(chooseProvider(undefined, true, { socketPath })).toEqual({
      provider: 'containers',
      reason: `a container engine answers at ${socketPath}`,
    });
    expect(chooseProvider(undefined, false, { socketPath })).toMatchObject({ provider: 'emulators' });
    expect(chooseProvider('emulators', true, { socketPath })).toEqual({
      provider: 'emulators',
      reason: '--provider emulators',
    });
  });
});
