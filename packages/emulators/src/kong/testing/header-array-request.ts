import { request as httpRequest } from 'node:http';

// A GET whose headers go out exactly as listed (name, value, ...): names in their case, a repeated name as
// separate lines, which fetch and an object of headers cannot send. Host is added first.

export function getWithHeaderArray(
  url: string,
  headers: readonly string[],
): Promise<{ status: number; rawHeaders: string[] }> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(url, { headers: ['Host', new URL(url).host, ...headers] });
    call.on('response', (response) => {
      response.resume();
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, rawHeaders: response.rawHeaders }),
      );
    });
    call.on('error', reject);
    call.end();
  });
}
