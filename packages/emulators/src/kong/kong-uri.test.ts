import { describe, expect, it } from 'vitest';
import { KONG_SERVER_NAME, nginxHost } from './kong-uri.js';

// nginx's $host, which Kong sends upstream as X-Forwarded-Host and file-log builds request.url of.

describe('nginxHost', () => {
  it.each([
    ['127.0.0.1:8000', '127.0.0.1'],
    ['GW.Example.:8000', 'gw.example'],
    ['gw.example.', 'gw.example'],
    ['Gateway', 'gateway'],
    ['[::1]:8000', '[::1]'],
    ['[::1]', '[::1]'],
    ['host:', 'host'],
  ])('reads %s as %s', (host, expected) => {
    expect(nginxHost(host)).toBe(expected);
  });

  it('is the server name for a request that names no host', () => {
    expect(nginxHost('')).toBe(KONG_SERVER_NAME);
    expect(KONG_SERVER_NAME).toBe('kong');
  });
});
