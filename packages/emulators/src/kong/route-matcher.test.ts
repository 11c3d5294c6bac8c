import { validateKongConfig } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import { escapeKongUri, normalizeKongPath } from './kong-uri.js';
import { RouteMatcher } from './route-matcher.js';
import { defaultKongConfig } from './testing/request-context.js';

const generated = defaultKongConfig();

function routes(input: object[]) {
  return validateKongConfig({ _format_version: '3.0', services: [{ name: 's', host: 'up', routes: input }] })
    .routes;
}

const request = (path: string, extra: Partial<Parameters<RouteMatcher['match']>[0]> = {}) => ({
  method: 'GET',
  path,
  host: 'kong:8000',
  headers: {},
  ...extra,
});

describe('route matching', () => {
  const matcher = new RouteMatcher(generated.routes);
  const name = (path: string, extra = {}) => matcher.match(request(path, extra))?.route.name ?? null;

  it('matches the anchored per-model regexes of the generated config', () => {
    expect(name('/v1/models/classifier')).toBe('rest-classifier');
    expect(name('/v1/models/classifier/versions/2:predict', { method: 'POST' })).toBe('rest-classifier');
    expect(name('/v1/models/classifier/labels/stable/metadata')).toBe('rest-classifier');
    expect(name('/v1/models/classifierx:predict')).toBeNull();
    expect(name('/v1/models/classifier:explain')).toBeNull();
    expect(name('/v1/models/classifier', { method: 'DELETE' })).toBeNull();
  });

  it('matches routes whatever the protocol (the runloop refuses a mismatch after routing)', () => {
    expect(name('/tensorflow.serving.PredictionService/Predict', { method: 'POST' })).toBe('grpc-tf-serving');
    expect(
      name('/tensorflow.serving.PredictionService/Predict', {
        method: 'POST',
        headers: { 'content-type': 'application/grpc' },
      }),
    ).toBe('grpc-tf-serving');
  });

  it('prefers the higher regex_priority, then regex over prefix, then the longer prefix', () => {
    const table = new RouteMatcher(
      routes([
        { name: 'prefix-short', paths: ['/v1'] },
        { name: 'prefix-long', paths: ['/v1/models'] },
        { name: 'regex-low', paths: ['~/v1/models/[a-z]+$'] },
        { name: 'regex-high', paths: ['~/v1/models/a[a-z]*$'], regex_priority: 5 },
      ]),
    );
    expect(table.match(request('/v1/models/abc'))?.route.name).toBe('regex-high');
    expect(table.match(request('/v1/models/xyz'))?.route.name).toBe('regex-low');
    expect(table.match(request('/v1/models/1'))?.route.name).toBe('prefix-long');
    expect(table.match(request('/v1/other'))?.route.name).toBe('prefix-short');
  });

  it('splits a route by prefix length, so its longer prefix outranks another route of middle length', () => {
    const table = new RouteMatcher(
      routes([
        { name: 'two-prefixes', paths: ['/a', '/a/b/c/d'] },
        { name: 'middle', paths: ['/a/b'] },
      ]),
    );
    expect(table.match(request('/a/b/c/d/e'))?.route.name).toBe('two-prefixes');
    expect(table.match(request('/a/b/x'))?.route.name).toBe('middle');
    expect(table.match(request('/a/x'))?.route.name).toBe('two-prefixes');
  });

  it('ranks routes with more match fields (hosts, headers) first, and matches hosts and headers', () => {
    const table = new RouteMatcher(
      routes([
        { name: 'path-only', paths: ['/'] },
        { name: 'with-host', paths: ['/'], hosts: ['api.example.com'] },
        { name: 'with-wildcard', paths: ['/'], hosts: ['*.example.org'] },
        { name: 'with-header', paths: ['/'], headers: { 'x-tenant': ['blue'] } },
      ]),
    );
    expect(table.match(request('/x', { host: 'api.example.com:8000' }))?.route.name).toBe('with-host');
    expect(table.match(request('/x', { host: 'a.example.org' }))?.route.name).toBe('with-wildcard');
    expect(table.match(request('/x', { headers: { 'x-tenant': 'Blue' } }))?.route.name).toBe('with-header');
    const regexHeader = new RouteMatcher(
      routes([{ name: 'r', paths: ['/'], headers: { 'x-v': ['~*^V[0-9]$'] } }]),
    );
    expect(regexHeader.match(request('/x', { headers: { 'x-v': 'v2' } }))?.route.name).toBe('r');
    expect(table.match(request('/x'))?.route.name).toBe('path-only');
  });

  it('normalizes paths as Kong does before matching', () => {
    expect(normalizeKongPath('/v1/models/%63lassifier')).toBe('/v1/models/classifier');
    expect(normalizeKongPath('/v1/x/../models//a/./b')).toBe('/v1/models/a/b');
    expect(normalizeKongPath('/v1/a%2fb')).toBe('/v1/a%2Fb');
  });

  it('follows kong/tools/uri.lua: empty segments merged as met, every non-reserved byte decoded', () => {
    expect(normalizeKongPath('//foo/v1/models/classifier')).toBe('/foo/v1/models/classifier');
    expect(normalizeKongPath('/a//../b')).toBe('/b');
    expect(normalizeKongPath('/v1/models//../classifier')).toBe('/v1/classifier');
    expect(normalizeKongPath('/a/%2e%2E/b')).toBe('/b');
    expect(normalizeKongPath('/a%20b/%C3%A9/%3a')).toBe('/a b/\u00c3\u00a9/%3A');
    expect(normalizeKongPath('/a/b/..')).toBe('/a/');
    expect(normalizeKongPath('/../../x')).toBe('/x');
    expect(normalizeKongPath('/a/./b/.')).toBe('/a/b/');
  });

  it('escapes the upstream URI as uri.escape does', () => {
    expect(escapeKongUri('/a b/\u00c3\u00a9/%3A:x')).toBe('/a%20b/%C3%A9/%3A:x');
  });
});
