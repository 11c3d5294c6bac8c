import { describe, expect, it } from 'vitest';
import { nginxHost } from './kong-uri.js';

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

  it("is the proxy's server_name, kong, for a request that names no host", () => {
    expect(nginxHost('')).toBe('kong');
  });
});
