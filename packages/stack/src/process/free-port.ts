import { createServer } from 'node:net';

/**
 * A TCP port free on `host` right now: the kernel picks one for a listener that is closed at once. Another
 * process could take it before ours binds it; a start that then fails says which port.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
