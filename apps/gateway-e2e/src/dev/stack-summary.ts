import type { StackDescription } from '@modelgate/stack';

// What `pnpm dev` prints once the stack is ready: where everything answers, who may call what, a fresh token per
// client, and commands to copy. Client secrets are not printed (they are in the endpoints file, mode 0600).

export interface MintedToken {
  client: string;
  token: string | null;
  /** Why there is none (the issuer refused, no secret). */
  error?: string;
  expiresIn?: number;
}

export function stackSummary(
  description: StackDescription,
  tokens: MintedToken[],
  options: { stackFile: string; readyMs: number; providerReason: string },
): string {
  const { gateway, issuer, modelServer, auditLog } = description;
  const lines: string[] = [];
  lines.push(
    `modelgate stack ready in ${(options.readyMs / 1000).toFixed(1)} s (${description.provider}: ${options.providerReason})`,
    '',
    'Endpoints',
    `  gateway REST    ${gateway.http}`,
    `  gateway gRPC    ${gateway.grpc}`,
    `  gateway admin   ${gateway.admin ?? '-'}    status ${gateway.status ?? '-'}`,
    `  issuer          ${issuer.issuer}`,
    `  token endpoint  ${issuer.tokenUrl}`,
    `  TF Serving      gRPC ${modelServer.grpc}    REST ${modelServer.rest}`,
    `  metrics         ${modelServer.metrics ?? '-'}`,
    `  audit log       ${auditLog.kind === 'file' ? auditLog.path : auditLog.kind}`,
    `  stack file      ${options.stackFile} (mode 0600: it holds the client secrets)`,
    '',
    'Clients and the models each may call',
  );
  for (const client of description.clients) {
    lines.push(`  ${client.id.padEnd(16)} ${client.models.join(', ') || '(none)'}`);
  }
  lines.push('', 'Tokens, minted now');
  for (const token of tokens) {
    lines.push(
      token.token
        ? `  ${token.client.padEnd(16)} (valid ${token.expiresIn ?? '?'} s) ${token.token}`
        : `  ${token.client.padEnd(16)} no token: ${token.error}`,
    );
  }
  const example = examplePair(description, tokens);
  if (example) {
    const model = description.models.find((candidate) => candidate.name === example.model);
    const input = model?.signature.inputs[0];
    lines.push(
      '',
      `Try it (${example.client} calling ${example.model})`,
      `  REST:  curl -s -X POST ${gateway.http}/v1/models/${example.model}:predict \\`,
      `           -H 'Authorization: Bearer ${example.token}' \\`,
      `           -d '${restExampleBody(input?.shape ?? null)}'`,
      `  gRPC:  pnpm modelgate predict --stack ${options.stackFile} --client ${example.client} --model ${example.model}`,
    );
  }
  lines.push('', 'Requests, as the gateway logs them (Ctrl-C stops the stack):');
  lines.push(
    `  ${'time'.padEnd(12)}  ${'consumer'.padEnd(16)} ${'model'.padEnd(14)} ${'version'.padEnd(8)} code latency     route`,
  );
  return `${lines.join('\n')}\n`;
}

/** A client with a token and a model it may call; the one allowed most models first. */
function examplePair(description: StackDescription, tokens: MintedToken[]) {
  const withToken = description.clients
    .filter((client) => client.models.length > 0 && tokens.find((t) => t.client === client.id)?.token)
    .sort((a, b) => b.models.length - a.models.length);
  const client = withToken[0];
  if (!client) return undefined;
  const preferred = client.models.includes('half_plus_two') ? 'half_plus_two' : (client.models[0] as string);
  return {
    client: client.id,
    model: preferred,
    token: tokens.find((t) => t.client === client.id)?.token as string,
  };
}

/** A REST body of the right rank for a float input: one instance of zeros. */
function restExampleBody(shape: number[] | null): string {
  const dims = (shape ?? [-1]).slice(1).map((dim) => (dim > 0 ? dim : 1));
  let instance: unknown = 1.0;
  for (const dim of [...dims].reverse()) instance = Array.from({ length: dim }, () => instance);
  return JSON.stringify({ instances: [instance] });
}
