import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';

// The one contract between a running stack and everything that uses it (the e2e suite, the load generator,
// scripts): where the gateway, the issuer and the model server answer, the clients with their credentials, the
// models, and where the audit log can be read. Every provider produces it; `pnpm dev --write-endpoints FILE`
// writes it (mode 0600: it holds client secrets) and `--stack FILE` reads it. Versioned: a reader refuses a
// stackVersion it does not know.

export const STACK_VERSION = 1;

const httpUrl = z.url({ protocol: /^https?$/ });
/** `host:port`, as gRPC clients take an address. */
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/, 'must be host:port');

const tensor = z
  .object({
    alias: z.string(),
    tensorName: z.string(),
    dtype: z.string(),
    shape: z.array(z.number().int()).nullable(),
  })
  .strict();

export const STACK_DESCRIPTION_SCHEMA = z
  .object({
    $schema: z.string().optional(),
    stackVersion: z.literal(STACK_VERSION),
    provider: z.enum(['emulators', 'containers', 'remote']),
    /** When the stack was ready (ISO 8601). */
    startedAt: z.iso.datetime().optional(),
    gateway: z
      .object({
        /** Kong's HTTP proxy: REST predictions go to `${http}/v1/models/...`. */
        http: httpUrl,
        /** Kong's HTTP/2 cleartext listener for gRPC. */
        grpc: hostPort,
        /** Kong's Admin API, where reachable (POST /config for key rotation). */
        admin: httpUrl.nullable(),
        /** Kong's status API (/status/ready, /metrics). */
        status: httpUrl.nullable(),
        /** Bodies larger than this are refused with 413 (request-size-limiting). */
        maxBodyBytes: z.number().int().positive(),
        /**
         * The same gateway with fewer plugins, to the same model server, where the stack runs them (for measuring
         * what the plugins cost): `noAuth` with none, `jwt` with the jwt plugin alone.
         */
        variants: z
          .object({
            noAuth: z.object({ http: httpUrl, grpc: hostPort }).strict(),
            jwt: z.object({ http: httpUrl, grpc: hostPort }).strict(),
          })
          .strict()
          .nullable()
          .default(null),
        /** Where the gateway reaches the model server (its config's upstream), where known: for key rotation. */
        upstream: z
          .object({ host: z.string().min(1), restPort: z.number().int(), grpcPort: z.number().int() })
          .strict()
          .nullable()
          .default(null),
      })
      .strict(),
    issuer: z
      .object({
        /** The exact `iss` of the tokens. */
        issuer: z.string().min(1),
        /** The `aud` the gateway requires. */
        audience: z.string().min(1),
        /** The claim naming the client (Kong's jwt key_claim_name). */
        clientClaim: z.string().min(1),
        /** The longest token lifetime the gateway accepts (its maximum_expiration), in seconds. */
        maxTokenLifetimeSeconds: z.number().int().positive(),
        /** Where clients mint tokens (client credentials). */
        tokenUrl: httpUrl,
        jwksUrl: httpUrl,
        /** Keycloak's admin API base and bootstrap admin, where the stack runs one (key rotation). */
        admin: z
          .object({ url: httpUrl, username: z.string(), password: z.string() })
          .strict()
          .nullable()
          .default(null),
      })
      .strict(),
    modelServer: z
      .object({
        grpc: hostPort,
        rest: httpUrl,
        /** TF Serving's Prometheus page, where monitoring is on. */
        metrics: httpUrl.nullable(),
      })
      .strict(),
    clients: z.array(
      z
        .object({
          id: z.string().min(1),
          /** null when it comes from elsewhere (MODELGATE_CLIENT_SECRET_<ID>, for a remote stack). */
          secret: z.string().min(1).nullable(),
          models: z.array(z.string()),
          /** The gateway's rate limits for this client: requests per window. */
          limits: z
            .object({
              second: z.number().int().positive().optional(),
              minute: z.number().int().positive().optional(),
              hour: z.number().int().positive().optional(),
              day: z.number().int().positive().optional(),
            })
            .strict(),
        })
        .strict(),
    ),
    models: z.array(
      z
        .object({
          name: z.string().min(1),
          versions: z.array(z.number().int().nonnegative()),
          /** The versions TF Serving serves under the model's version policy, highest first. */
          servedVersions: z.array(z.number().int().nonnegative()),
          signature: z
            .object({
              key: z.string(),
              methodName: z.string(),
              inputs: z.array(tensor),
              outputs: z.array(tensor),
            })
            .strict(),
          /** A fixture model with golden outputs (@modelgate/fixtures); false for a team's own model. */
          golden: z.boolean(),
          /** The fixture graph it serves (its golden outputs come from it), or null for a team's own model. */
          fixture: z.string().nullable(),
        })
        .strict(),
    ),
    auditLog: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('file'), path: z.string().startsWith('/') }).strict(),
      z.object({ kind: z.literal('container'), container: z.string(), path: z.string() }).strict(),
      z.object({ kind: z.literal('none') }).strict(),
    ]),
    gpu: z
      .object({ enabled: z.boolean(), name: z.string().nullable() })
      .strict()
      .default({ enabled: false, name: null }),
  })
  .strict();

export type StackDescription = z.output<typeof STACK_DESCRIPTION_SCHEMA>;
export type StackDescriptionInput = z.input<typeof STACK_DESCRIPTION_SCHEMA>;
export type StackClient = StackDescription['clients'][number];
export type StackModel = StackDescription['models'][number];

/** A stack description that does not parse, naming the file and every bad field. */
export class StackDescriptionError extends Error {
  override readonly name = 'StackDescriptionError';

  constructor(
    readonly source: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `${source}: not a modelgate stack description\n${issues.map((issue) => `  ${issue.path || '(root)'}: ${issue.message}`).join('\n')}`,
    );
  }
}

/** Validates a stack description; never echoes a client secret. */
export function parseStackDescription(input: unknown, source = 'stack description'): StackDescription {
  const version = (input as { stackVersion?: unknown } | null)?.stackVersion;
  if (typeof version === 'number' && version !== STACK_VERSION) {
    throw new StackDescriptionError(source, [
      {
        path: 'stackVersion',
        message: `version ${version} is not known here (this reader knows ${STACK_VERSION})`,
      },
    ]);
  }
  const result = STACK_DESCRIPTION_SCHEMA.safeParse(input);
  if (!result.success) {
    throw new StackDescriptionError(
      source,
      result.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
  return result.data;
}

/** Reads a stack description file (as `pnpm dev --write-endpoints` wrote it). */
export async function readStackDescription(file: string): Promise<StackDescription> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new StackDescriptionError(file, [
      { path: '', message: `cannot read it: ${(error as Error).message}` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StackDescriptionError(file, [{ path: '', message: `not JSON: ${(error as Error).message}` }]);
  }
  return parseStackDescription(json, file);
}

/** Writes a stack description with mode 0600 (it holds client secrets). */
export async function writeStackDescription(file: string, description: StackDescription): Promise<void> {
  const checked = parseStackDescription(description, file);
  await writeFile(file, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o600 });
}

/** The JSON Schema of the file (draft 2020-12), shipped as schema/stack-description.schema.json. */
export function stackDescriptionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(STACK_DESCRIPTION_SCHEMA, { io: 'input', target: 'draft-2020-12' });
  return {
    $schema: schema.$schema,
    $id: 'https://modelgate.invalid/schema/stack-description.schema.json',
    title: 'modelgate stack description',
    description:
      'Where a running modelgate stack answers, its clients and models: what the e2e suite and the load generator take.',
    ...schema,
  };
}

export const STACK_DESCRIPTION_JSON_SCHEMA_FILE = new URL(
  '../schema/stack-description.schema.json',
  import.meta.url,
);

/** A client's secret: the description's, or MODELGATE_CLIENT_SECRET_<ID> (upper case, - as _) from env. */
export function clientSecretOf(client: StackClient, env: NodeJS.ProcessEnv = process.env): string {
  if (client.secret) return client.secret;
  const variable = `MODELGATE_CLIENT_SECRET_${client.id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const secret = env[variable];
  if (!secret) {
    throw new Error(
      `no secret for client ${client.id}: the stack description has none and ${variable} is not set`,
    );
  }
  return secret;
}
