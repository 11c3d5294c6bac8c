import { signatureOf } from '@modelgate/fixtures';
import { DEFAULT_POLICY, type ServingSignature } from '@modelgate/policy';
import { readStackDescription, type StackDescription } from '@modelgate/stack';

// What a run is pointed at: a stack (from its description: the model server, the gateway, the issuer and the
// clients), or a bare TF Serving (`--target grpc://HOST:PORT` or `http://HOST:PORT`): no gateway, no tokens,
// and model signatures from the default policy's fixture models.

export interface LoadTarget {
  kind: 'stack' | 'bare';
  /** Where it came from, for the report (no secrets). */
  source: string;
  modelServer: { grpc: string | null; rest: string | null; metrics: string | null };
  gateway: { grpc: string; http: string; metrics: string | null } | null;
  /** The same gateway with no plugins and with jwt alone, where the stack runs them. */
  gatewayVariants: { noAuth: { grpc: string; http: string }; jwt: { grpc: string; http: string } } | null;
  description: StackDescription | null;
  signature(model: string): ServingSignature;
}

/** A flag value or file that does not name a usable target. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

export function stackTarget(description: StackDescription, source: string): LoadTarget {
  return {
    kind: 'stack',
    source,
    modelServer: {
      grpc: description.modelServer.grpc,
      rest: description.modelServer.rest,
      metrics: description.modelServer.metrics,
    },
    gateway: {
      grpc: description.gateway.grpc,
      http: description.gateway.http,
      metrics: description.gateway.status ? new URL('/metrics', description.gateway.status).href : null,
    },
    gatewayVariants: description.gateway.variants,
    description,
    signature(model) {
      const found = description.models.find((candidate) => candidate.name === model);
      if (!found) {
        throw new TargetError(
          `the stack serves no model ${model} (it has: ${description.models.map((m) => m.name).join(', ')})`,
        );
      }
      return found.signature as ServingSignature;
    },
  };
}

export async function stackFileTarget(file: string): Promise<LoadTarget> {
  return stackTarget(await readStackDescription(file), `stack file ${file}`);
}

/** `grpc://HOST:PORT` or `http://HOST:PORT[/path]`: a TF Serving with nothing in front. */
export function bareTarget(address: string): LoadTarget {
  const match = /^(grpc|https?):\/\/([^/]+)(\/.*)?$/.exec(address);
  if (!match) {
    throw new TargetError(`--target ${address}: expected grpc://HOST:PORT or http://HOST:PORT`);
  }
  const [, scheme, hostPort] = match as unknown as [string, string, string];
  return {
    kind: 'bare',
    source: `target ${address}`,
    modelServer: {
      grpc: scheme === 'grpc' ? hostPort : null,
      rest: scheme === 'grpc' ? null : `${scheme}://${hostPort}`,
      metrics: null,
    },
    gateway: null,
    gatewayVariants: null,
    description: null,
    signature(model) {
      try {
        return signatureOf(DEFAULT_POLICY, model);
      } catch {
        throw new TargetError(
          `--target knows only the default policy's models (${DEFAULT_POLICY.models.map((m) => m.name).join(', ')}); for ${model}, use --stack FILE`,
        );
      }
    },
  };
}
