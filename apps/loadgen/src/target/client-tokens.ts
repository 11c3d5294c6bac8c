import { clientSecretOf, TokenPool } from '@modelgate/stack';
import { mintTokenChoice, TokenSource } from '../tokens/token-supply.js';
import type { LoadTarget } from './load-target.js';
import { TargetError } from './load-target.js';

/**
 * The tokens for the gateway arms: `distinct` tokens of the client (default: the first allowed the model),
 * minted now and again after half the longest lifetime the gateway accepts.
 */
export async function clientTokens(
  target: LoadTarget,
  model: string,
  options: { client: string | undefined; distinct: number; badShare: number },
): Promise<TokenSource | null> {
  const description = target.description;
  if (!description) return null;
  const client = options.client
    ? description.clients.find((candidate) => candidate.id === options.client)
    : description.clients.find((candidate) => candidate.models.includes(model));
  if (!client) {
    throw new TargetError(
      options.client
        ? `the stack has no client ${options.client}`
        : `no client of the stack may call ${model}`,
    );
  }
  const pool = new TokenPool({
    tokenEndpoint: description.issuer.tokenUrl,
    clients: [{ clientId: client.id, clientSecret: clientSecretOf(client) }],
  });
  const source = new TokenSource(
    () => mintTokenChoice(pool, client.id, { distinct: options.distinct, badShare: options.badShare }),
    (description.issuer.maxTokenLifetimeSeconds * 1000) / 2,
  );
  await source.choice();
  return source;
}
