// kong/tools/uri.lua at 3.9.3: how Kong normalizes a request path before routing (normalize, with
// merge_slashes as the router calls it) and escapes the upstream URI (escape). Paths are byte strings here, one
// char per byte (latin1), as nginx sees them.

/** RFC 3986's reserved characters: their percent-escapes are kept (upper-cased); every other byte's is decoded. */
const RESERVED = new Set(Array.from("!*'();:@&=+$,/?%#[]", (char) => char.charCodeAt(0)));

/** Bytes escape() leaves as they are (case-insensitive, as the "joi" regex flags make it). */
const UNESCAPED = /[^!#$&'()*+,/:;=?@[\]A-Za-z\d\-_.~%]/g;

const DOT = 0x2e;
const SLASH = 0x2f;

function decodeUnreserved(uri: string): string {
  return uri.replace(/%([\dA-Fa-f]{2})/g, (triplet, hex: string) => {
    const byte = Number.parseInt(hex, 16);
    return RESERVED.has(byte) ? triplet.toUpperCase() : String.fromCharCode(byte);
  });
}

/**
 * uri.normalize(uri, true): percent-escapes of non-reserved bytes decoded, then RFC 3986's remove_dot_segments
 * with `//` merged as it is met (so `/a//../b` is `/b`, and `//foo/x` is `/foo/x`).
 */
export function normalizeKongPath(input: string): string {
  if (input === '' || input === '/') return input;
  let uri = input.includes('%') ? decodeUnreserved(input) : input;
  if (!uri.includes('.') && !uri.includes('//')) return uri;
  const output: string[] = [];
  while (uri.length > 0) {
    const first = uri.charCodeAt(0);
    const second = uri.charCodeAt(1);
    const third = uri.charCodeAt(2);
    const fourth = uri.charCodeAt(3);
    if (uri === '/.') uri = '/';
    else if (uri === '/..') {
      uri = '/';
      output.pop();
    } else if (uri === '.' || uri === '..') uri = '';
    else if (first === DOT && second === DOT && third === SLASH) uri = uri.slice(3);
    else if (first === DOT && second === SLASH) uri = uri.slice(2);
    else if (first === SLASH && second === DOT && third === SLASH) uri = uri.slice(2);
    else if (first === SLASH && second === DOT && third === DOT && fourth === SLASH) {
      uri = uri.slice(3);
      output.pop();
    } else if (first === SLASH && second === SLASH) uri = uri.slice(1);
    else {
      const next = uri.indexOf('/', 1);
      output.push(next === -1 ? uri : uri.slice(0, next));
      uri = next === -1 ? '' : uri.slice(next);
    }
  }
  return output.join('');
}

/** uri.escape: every byte outside the reserved and unreserved sets (and %) as an upper-case percent-escape. */
export function escapeKongUri(uri: string): string {
  return uri.replace(
    UNESCAPED,
    (char) => `%${(char.charCodeAt(0) & 0xff).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

/** The request target split as nginx splits it: the path (before the first `?` after the first byte) and args. */
export function splitRequestTarget(target: string): { path: string; args: string | undefined } {
  const question = target.indexOf('?', 1);
  if (question === -1) return { path: target, args: undefined };
  return { path: target.slice(0, question), args: target.slice(question + 1) };
}

/** The proxy server's server_name in Kong's nginx template: $host where a request names no host. */
export const KONG_SERVER_NAME = 'kong';

/**
 * nginx's $host for the Host header (or HTTP/2's :authority): lower-cased, without its port or a trailing dot
 * (ngx_http_validate_host), or the server_name when there is none (an HTTP/1.0 request). Kong sends it
 * upstream as X-Forwarded-Host and file-log builds `request.url` of it.
 */
export function nginxHost(host: string): string {
  const port = host.startsWith('[') ? host.indexOf(':', host.indexOf(']')) : host.indexOf(':');
  let name = port < 0 ? host : host.slice(0, port);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === '' ? KONG_SERVER_NAME : name.toLowerCase();
}
