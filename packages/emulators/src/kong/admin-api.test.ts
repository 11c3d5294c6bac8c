import type { GatewayConfig } from '@modelgate/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from './kong-clock.js';
import { KongEmulator } from './kong-emulator.js';
import { localGatewayConfig } from './testing/local-gateway.js';
import { mintToken } from './testing/tokens.js';
import { startEchoUpstream, type TestUpstream } from './testing/upstreams.js';

// The Admin and Status APIs of a DB-less Kong (products.md 1a, 1h).

const clock = new ManualClock(1_800_000_000_000);
let rest: TestUpstream;
let generated: GatewayConfig;
let kong: KongEmulator;

beforeAll(async () => {
  rest = await startEchoUpstream();
  generated = localGatewayConfig({ restPort: rest.port, grpcPort: 1 });
  kong = await KongEmulator.start({
    config: generated,
    plugins: ['bundled', 'modelgate-model-access'],
    clock,
  });
});

afterAll(async () => {
  await kong?.stop();
  await rest?.close();
});

const admin = (path: string, init?: RequestInit) => fetch(`${kong.adminUrl()}${path}`, init);

describe('the status API', () => {
  it('answers /status with the configuration hash and no database section', async () => {
    for (const base of [kong.statusUrl(), kong.adminUrl()]) {
      const body = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['configuration_hash', 'memory', 'server']);
      expect(body.configuration_hash).toBe(kong.configurationHash);
      expect(body.configuration_hash).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('answers /status/ready with 200 ready', async () => {
    const response = await fetch(`${kong.statusUrl()}/status/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'ready' });
  });

  it('answers 503 on /status/ready while the configuration is empty', async () => {
    const empty = await KongEmulator.start({ config: { _format_version: '3.0' } });
    try {
      const response = await fetch(`${empty.statusUrl()}/status/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        message: 'no configuration available (empty configuration present)',
      });
    } finally {
      await empty.stop();
    }
  });

  it('serves nothing but the status endpoints on the status listener', async () => {
    expect((await fetch(`${kong.statusUrl()}/consumers`)).status).toBe(404);
  });
});

describe('the admin API', () => {
  it('lists the entities of the configuration and reads one by name', async () => {
    const list = (await (await admin('/consumers')).json()) as { data: { username: string }[]; next: null };
    expect(list.data.map((consumer) => consumer.username)).toEqual([
      'ops-console',
      'classifier-app',
      'no-access',
      'modelgate-cli',
    ]);
    expect(list.next).toBeNull();
    const one = (await (await admin('/consumers/classifier-app')).json()) as { id: string };
    expect(one.id).toBe(kong.configuration.consumers[1]?.id);
    expect((await admin('/routes/rest-classifier')).status).toBe(200);
    expect((await admin('/routes/nothing')).status).toBe(404);
  });

  it('answers 404 Not found for a path named like an Object.prototype member, or an entity key not UTF-8, as for any unknown path', async () => {
    for (const path of ['/constructor', '/toString', '/__proto__', '/constructor/x', '/consumers/%E0']) {
      const response = await admin(path);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ message: 'Not found' });
    }
  });

  it.each([
    ['POST', '/consumers', "cannot create 'consumers' entities when not using a database"],
    [
      'PATCH',
      '/services/tf-serving-rest',
      "cannot update 'services' entities by 'name' when not using a database",
    ],
    [
      'PUT',
      '/routes/rest-classifier',
      "cannot create or update 'routes' entities by 'name' when not using a database",
    ],
    [
      'DELETE',
      '/consumers/ops-console',
      "cannot remove 'consumers' entities by 'username' when not using a database",
    ],
  ])('answers %s %s with 405 operation unsupported', async (method, path, message) => {
    const response = await admin(path, { method, body: method === 'DELETE' ? undefined : '{}' });
    expect(response.status).toBe(405);
    expect(await response.json()).toEqual({ code: 12, name: 'operation unsupported', message });
  });

  it('names a write by id without "by", and answers DELETE of a missing entity with 204', async () => {
    const service = kong.configuration.services[0];
    const byId = await admin(`/services/${service?.id}`, { method: 'PATCH', body: '{}' });
    expect(await byId.json()).toEqual({
      code: 12,
      name: 'operation unsupported',
      message: "cannot update 'services' entities when not using a database",
    });
    const removed = await admin(`/plugins/${kong.configuration.plugins[0]?.id}`, { method: 'DELETE' });
    expect(((await removed.json()) as { message: string }).message).toBe(
      "cannot remove 'plugins' entities when not using a database",
    );
    const missing = await admin('/services/no-such-service', { method: 'DELETE' });
    expect(missing.status).toBe(204);
    expect(await missing.text()).toBe('');
  });

  it("answers POST /config with 201 and the new configuration's entities by type and id", async () => {
    const response = await admin('/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(generated),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, Record<string, { id: string }>>;
    const service = kong.configuration.services[0] as { id: string };
    expect(body.services?.[service.id]).toEqual(JSON.parse(JSON.stringify(service)));
    expect(Object.keys(body.consumers ?? {}).sort()).toEqual(
      kong.configuration.consumers.map((consumer) => consumer.id).sort(),
    );
    expect(body).not.toHaveProperty('_format_version');
  });

  it("refuses a config that does not parse with code 14 and Kong's fields, and a missing one", async () => {
    const scalar = await admin('/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ config: '"bobby tables"' }),
    });
    expect(scalar.status).toBe(400);
    expect(await scalar.json()).toEqual({
      code: 14,
      name: 'invalid declarative configuration',
      message:
        'declarative config is invalid: {error="failed parsing declarative configuration: expected an object"}',
      fields: { error: 'failed parsing declarative configuration: expected an object' },
    });
    const empty = await admin('/config', { method: 'POST' });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toEqual({ message: 'expected a declarative configuration' });
  });

  it('accepts a YAML body, as Kong does', async () => {
    const response = await admin('/config', {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: '_format_version: "3.0"\nconsumers:\n  - username: bobby\n',
    });
    expect(response.status).toBe(201);
  });

  it('refuses a POST /config body over nginx_admin_client_max_body_size (10m) with 413', async () => {
    const hash = kong.configurationHash;
    const answer = await admin('/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...generated, _comment: 'x'.repeat(10 * 1024 * 1024) }),
    });
    expect(answer.status).toBe(413);
    expect(kong.configurationHash).toBe(hash);
  });

  it("refuses a bad POST /config with Kong's 400 body and keeps the running configuration", async () => {
    const before = kong.configurationHash;
    const response = await admin('/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ _format_version: '3.0', services: [{ name: 's' }] }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: 14,
      name: 'invalid declarative configuration',
      message: 'declarative config is invalid: {services={{host="required field missing"}}}',
      fields: { services: [{ host: 'required field missing' }] },
    });
    expect(kong.configurationHash).toBe(before);
  });

  it('replaces the whole configuration with POST /config, while a request in flight finishes on the old one', async () => {
    const token = await mintToken('ops-console', { issuedAt: Math.floor(clock.now() / 1000) });
    const slow = await startSlowUpstream();
    try {
      kong.replaceConfig(localGatewayConfig({ restPort: slow.port, grpcPort: 1 }));
      const inFlight = fetch(`${kong.proxyUrl()}/v1/models/classifier`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await slow.reached;
      const withoutConsumers = { ...generated, consumers: [] };
      const swap = await admin('/config', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(withoutConsumers),
      });
      expect(swap.status).toBe(201);
      slow.release();
      expect((await inFlight).status).toBe(200);
      const after = await fetch(`${kong.proxyUrl()}/v1/models/classifier`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(after.status).toBe(401);
      expect(await after.text()).toBe(`{"message":"No credentials found for given 'azp'"}`);
    } finally {
      kong.replaceConfig(generated);
      await slow.close();
    }
  });
});

/** A REST upstream that holds its first request until released. */
async function startSlowUpstream() {
  const { createServer } = await import('node:http');
  let reach: () => void = () => {};
  let release: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = createServer((request, response) => {
    request.resume();
    reach();
    void released.then(() => response.end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    reached,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
