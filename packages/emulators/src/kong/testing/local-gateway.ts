import { DEFAULT_POLICY, DEFAULT_SECRETS, type GatewayConfig, kongConfig } from '@modelgate/policy';

/** The default policy's generated Kong config, its upstreams on loopback ports (1: nothing listens). */
export function localGatewayConfig(ports: { restPort: number; grpcPort: number }): GatewayConfig {
  return kongConfig(DEFAULT_POLICY, DEFAULT_SECRETS, { host: '127.0.0.1', ...ports });
}
