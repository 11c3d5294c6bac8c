import { request } from 'node:http';

// Which provider a command runs: the one asked for, else containers where a Docker-compatible engine answers,
// else the emulators. DOCKER_HOST is honoured (unix:// and tcp://); the default is /var/run/docker.sock.

export type ProviderName = 'containers' | 'emulators' | 'remote';

export interface EngineEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** Where the engine's API is, from DOCKER_HOST or the default socket. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): EngineEndpoint {
  const dockerHost = env.DOCKER_HOST;
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375) };
}

/** True when GET /_ping on the engine answers 200 OK within the timeout. */
export function engineAnswers(endpoint: EngineEndpoint, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const call = request({ ...endpoint, path: '/_ping', method: 'GET', timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    call.on('timeout', () => call.destroy());
    call.on('error', () => resolve(false));
    call.end();
  });
}

/** True when the engine's GET /info lists an `nvidia` runtime (the NVIDIA container toolkit). */
export function engineHasNvidiaRuntime(endpoint: EngineEndpoint, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const call = request({ ...endpoint, path: '/info', method: 'GET', timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        try {
          const info = JSON.parse(body) as { Runtimes?: Record<string, unknown> };
          resolve(Object.hasOwn(info.Runtimes ?? {}, 'nvidia'));
        } catch {
          resolve(false);
        }
      });
    });
    call.on('timeout', () => call.destroy());
    call.on('error', () => resolve(false));
    call.end();
  });
}

export interface ProviderChoice {
  provider: ProviderName;
  /** Why, for the user. */
  reason: string;
}

/** The provider to run: `requested` when given, else by whether an engine answers. */
export function chooseProvider(
  requested: ProviderName | undefined,
  engineAvailable: boolean,
  endpoint: EngineEndpoint,
): ProviderChoice {
  const where = endpoint.socketPath ?? `${endpoint.host}:${endpoint.port}`;
  if (requested) return { provider: requested, reason: `--provider ${requested}` };
  return engineAvailable
    ? { provider: 'containers', reason: `a container engine answers at ${where}` }
    : { provider: 'emulators', reason: `no container engine answers at ${where}: local emulators` };
}
