import { percentDecodeOrKeep } from '../percent-decode.js';
import type { Client, Realm } from './realm-store.js';

/** How a request's client credentials (client_secret_basic or client_secret_post) came out. */
export type ClientAuthentication =
  | { ok: true; client: Client }
  | { ok: false; reason: 'no-client' | 'unknown-client' | 'wrong-secret' };

function basicCredentials(authorization: string | undefined): { id: string; secret: string } | undefined {
  if (!authorization?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 2.3.1: both halves are form-urlencoded; a half that is not UTF-8 names no client (401
  // invalid_client, as Keycloak answers)
  const decode = (text: string) => percentDecodeOrKeep(text.replace(/\+/g, ' '));
  return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
}

/** Public clients authenticate by their id alone; confidential ones need their secret. */
export function authenticateClient(
  realm: Realm,
  form: URLSearchParams,
  authorization: string | undefined,
): ClientAuthentication {
  // ClientIdAndSecretAuthenticator: the Basic header first, then the form's client_id and client_secret,
  // each replacing the header's where given
  const basic = basicCredentials(authorization);
  const clientId = form.get('client_id') ?? basic?.id;
  if (!clientId) return { ok: false, reason: 'no-client' };
  const client = realm.clients.get(clientId);
  if (!client?.enabled) return { ok: false, reason: 'unknown-client' };
  if (client.publicClient) return { ok: true, client };
  const secret = form.get('client_secret') ?? basic?.secret;
  if (secret === undefined || secret !== client.secret) return { ok: false, reason: 'wrong-secret' };
  return { ok: true, client };
}
