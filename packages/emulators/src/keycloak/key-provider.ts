import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  randomUUID,
  X509Certificate,
} from 'node:crypto';
import { refusals } from './keycloak-error.js';

export const KEY_PROVIDER_TYPE = 'org.keycloak.keys.KeyProvider';
/** The secret value Keycloak's admin API shows instead of a private key. */
export const SECRET_MASK = '**********';
/** The config properties the real `rsa` provider keeps (it drops others, e.g. `keyUse`). */
const RSA_CONFIG_KEYS = ['privateKey', 'certificate', 'active', 'priority', 'enabled', 'algorithm'];
const GENERATED_PROVIDERS = new Set(['hmac-generated', 'aes-generated', 'rsa-generated']);

/** A component as the admin API shows it (config values are arrays of strings). */
export interface ComponentRepresentation {
  id: string;
  name: string;
  providerId: string;
  providerType: string;
  parentId: string;
  config: Record<string, string[]>;
}

export interface RsaKeyMaterial {
  /** As the real server derives it: base64url SHA-256 of the public key's X.509 SubjectPublicKeyInfo DER. */
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** DER, for `x5c`, `x5t` and `x5t#S256`. */
  certificate: Buffer;
}

/** A key provider component of a realm, with its key material when it has one. */
export interface KeyProvider {
  component: ComponentRepresentation;
  rsa?: RsaKeyMaterial;
  /** hmac-generated: the secret refresh tokens are signed with. */
  hmac?: { kid: string; secret: Uint8Array };
}

export function rsaKeyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
}

function first(config: Record<string, string[]>, key: string): string | undefined {
  return config[key]?.[0];
}

export function providerEnabled(provider: KeyProvider): boolean {
  return first(provider.component.config, 'enabled') !== 'false';
}

export function providerActive(provider: KeyProvider): boolean {
  return providerEnabled(provider) && first(provider.component.config, 'active') !== 'false';
}

export function providerPriority(provider: KeyProvider): number {
  return Number(first(provider.component.config, 'priority') ?? '0');
}

function rsaMaterial(config: Record<string, string[]>, generated: boolean): RsaKeyMaterial {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: Buffer.from(first(config, 'privateKey') ?? '', 'base64'),
      format: 'der',
      type: 'pkcs8',
    });
  } catch {
    // the real server answers with this body whatever the decoding failure was
    throw refusals.undecodablePrivateKey();
  }
  const publicKey = createPublicKey(privateKey);
  const certificateText = first(config, 'certificate');
  if (certificateText === undefined && generated) {
    return { kid: rsaKeyId(publicKey), privateKey, publicKey, certificate: Buffer.alloc(0) };
  }
  let certificate: Buffer;
  try {
    certificate = Buffer.from(new X509Certificate(Buffer.from(certificateText ?? '', 'base64')).raw);
  } catch {
    throw refusals.undecodableCertificate();
  }
  return { kid: rsaKeyId(publicKey), privateKey, publicKey, certificate };
}

/**
 * Builds a provider from a component (import or admin API). `rsa` needs its `privateKey` (PKCS#8, base64) and
 * `certificate`; `hmac-generated` gets a fresh secret; `aes-generated` is kept as a component only.
 */
export function keyProvider(
  input: { id?: string; name: string; providerId: string; config?: Record<string, string[]> },
  parentId: string,
): KeyProvider {
  const config = input.config ?? {};
  const id = input.id ?? randomUUID();
  if (input.providerId === 'rsa') {
    const rsa = rsaMaterial(config, false);
    const kept = Object.fromEntries(
      RSA_CONFIG_KEYS.filter((key) => key in config).map((key) => [key, config[key] as string[]]),
    );
    return {
      component: {
        id,
        name: input.name,
        providerId: 'rsa',
        providerType: KEY_PROVIDER_TYPE,
        parentId,
        config: kept,
      },
      rsa,
    };
  }
  if (!GENERATED_PROVIDERS.has(input.providerId)) throw refusals.noSuchProvider();
  const component = {
    id,
    name: input.name,
    providerId: input.providerId,
    providerType: KEY_PROVIDER_TYPE,
    parentId,
    config,
  };
  if (input.providerId === 'hmac-generated') {
    return { component, hmac: { kid: randomUUID(), secret: randomBytes(64) } };
  }
  return { component };
}

/** The realm's own RSA key where the import brings none (the master realm): `rsa-generated`. */
export function generatedRsaProvider(privateKey: KeyObject, parentId: string): KeyProvider {
  const publicKey = createPublicKey(privateKey);
  return {
    component: {
      id: randomUUID(),
      name: 'rsa-generated',
      providerId: 'rsa-generated',
      providerType: KEY_PROVIDER_TYPE,
      parentId,
      config: { priority: ['100'] },
    },
    rsa: { kid: rsaKeyId(publicKey), privateKey, publicKey, certificate: Buffer.alloc(0) },
  };
}

/** The component as the admin API shows it: private keys masked. */
export function componentView(provider: KeyProvider): ComponentRepresentation {
  const { config } = provider.component;
  if (!('privateKey' in config)) return provider.component;
  return { ...provider.component, config: { ...config, privateKey: [SECRET_MASK] } };
}
