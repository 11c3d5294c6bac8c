import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientSecretOf,
  parseStackDescription,
  readStackDescription,
  STACK_DESCRIPTION_JSON_SCHEMA_FILE,
  type StackDescription,
  StackDescriptionError,
  stackDescriptionJsonSchema,
  writeStackDescription,
} from './stack-description.js';

const SECRET = 'a-client-secret-value';

const sample: StackDescription = {
  stackVersion: 1,
  provider: 'emulators',
  startedAt: '2026-12-03T07:00:00.000Z',
  gateway: {
    http: 'http://127.0.0.1:8000',
    grpc: '127.0.0.1:9080',
    admin: 'http://127.0.0.1:8001',
    status: null,
    maxBodyBytes: 67108864,
    variants: null,
    upstream: { host: '127.0.0.1', restPort: 8501, grpcPort: 8500 },
  },
  issuer: {
    issuer: 'http://localhost:8080/realms/modelgate',
    audience: 'modelgate-gateway',
    clientClaim: 'azp',
    maxTokenLifetimeSeconds: 360,
    tokenUrl: 'http://127.0.0.1:8080/realms/modelgate/protocol/openid-connect/token',
    jwksUrl: 'http://127.0.0.1:8080/realms/modelgate/protocol/openid-connect/certs',
    admin: null,
  },
  modelServer: { grpc: 'tf-serving:8500', rest: 'http://127.0.0.1:8501', metrics: null },
  clients: [
    { id: 'ops-console', secret: SECRET, models: ['half_plus_two'], limits: { second: 200 } },
    { id: 'batch-job', secret: null, models: [], limits: { minute: 10 } },
  ],
  models: [
    {
      name: 'half_plus_two',
      versions: [1],
      servedVersions: [1],
      signature: {
        key: 'serving_default',
        methodName: 'tensorflow/serving/predict',
        inputs: [{ alias: 'x', tensorName: 'x:0', dtype: 'DT_FLOAT', shape: [-1] }],
        outputs: [{ alias: 'y', tensorName: 'y:0', dtype: 'DT_FLOAT', shape: [-1] }],
      },
      golden: true,
      fixture: 'half_plus_two',
    },
  ],
  auditLog: { kind: 'file', path: '/tmp/audit.log' },
  gpu: { enabled: false, name: null },
};

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-stack-description-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the stack description file', () => {
  it('round-trips through write and read, written with mode 0600', async () => {
    const file = join(dir, 'stack.json');
    await writeStackDescription(file, sample);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readStackDescription(file)).toEqual(sample);
  });

  it('is described by the shipped JSON Schema, which a validator nobody here wrote accepts it with', async () => {
    const shipped = JSON.parse(await readFile(STACK_DESCRIPTION_JSON_SCHEMA_FILE, 'utf8'));
    expect(shipped).toEqual(stackDescriptionJsonSchema());
    const validate = new Ajv2020({ strict: false }).compile(shipped);
    expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...sample, gateway: { ...sample.gateway, grpc: 'no port' } })).toBe(false);
  });

  it('refuses another stackVersion by name, and lists bad fields without echoing a secret', () => {
    expect(() => parseStackDescription({ ...sample, stackVersion: 2 }, 'old.json')).toThrow(
      'old.json: not a modelgate stack description\n  stackVersion: version 2 is not known here (this reader knows 1)',
    );
    const bad = {
      ...sample,
      clients: [{ id: 'x', secret: 7, models: [], limits: {} }],
      gateway: { ...sample.gateway, http: 'ftp://x' },
    };
    let error: unknown;
    try {
      parseStackDescription(bad, 'bad.json');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StackDescriptionError);
    expect((error as StackDescriptionError).issues.map((issue) => issue.path)).toEqual([
      'gateway.http',
      'clients.0.secret',
    ]);
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('takes a secret missing from the file from MODELGATE_CLIENT_SECRET_<ID>, and says which variable when absent', () => {
    const [withSecret, without] = sample.clients as [
      StackDescription['clients'][0],
      StackDescription['clients'][0],
    ];
    expect(clientSecretOf(withSecret, {})).toBe(SECRET);
    expect(clientSecretOf(without, { MODELGATE_CLIENT_SECRET_BATCH_JOB: 's3' })).toBe('s3');
    expect(() => clientSecretOf(without, {})).toThrow(
      'no secret for client batch-job: the stack description has none and MODELGATE_CLIENT_SECRET_BATCH_JOB is not set',
    );
  });
});
