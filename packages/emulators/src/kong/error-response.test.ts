import { describe, expect, it } from 'vitest';
import { kongErrorBody, kongErrorHandlerBody, kongExitBody, kongResponseType } from './error-response.js';

const ID = '0123456789abcdef0123456789abcdef';

describe("Kong's error template", () => {
  it('is pretty-printed JSON with the request id by default', () => {
    expect(kongErrorBody('API rate limit exceeded', ID, {})).toEqual({
      contentType: 'application/json; charset=utf-8',
      body: `{\n  "message":"API rate limit exceeded",\n  "request_id":"${ID}"\n}`,
    });
  });

  it('follows the Accept header: the highest q among the types it knows', () => {
    expect(kongErrorBody('Forbidden', ID, { accept: 'text/plain' }).body).toBe(
      `Forbidden\nrequest_id: ${ID}\n`,
    );
    expect(kongErrorBody('Forbidden', ID, { accept: 'application/xml;q=0.9, text/html' }).contentType).toBe(
      'text/html; charset=utf-8',
    );
    expect(kongErrorBody('Forbidden', ID, { accept: 'image/png' }).contentType).toBe(
      'application/json; charset=utf-8',
    );
    expect(kongErrorBody('a <b>', ID, { accept: 'application/xml' }).body).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>a <b></message>\n  <requestid>${ID}</requestid>\n</error>\n`,
    );
  });

  it('picks the type as get_response_type does: ranges, q above 0, unknown types as JSON', () => {
    expect(kongResponseType('text/*')).toBe('plain');
    expect(kongResponseType('application/*')).toBe('json');
    expect(kongResponseType('*/*')).toBe('json');
    // a type named like an Object.prototype member is just an unknown type
    expect(kongResponseType('constructor/*')).toBe('json');
    expect(kongResponseType('valueOf/*, text/plain;q=0.5')).toBe('json');
    expect(kongResponseType('text/plain;q=0')).toBe('json');
    expect(kongResponseType('text/html;q=0.5, image/png')).toBe('json');
    expect(kongResponseType('text/html;q=0.5, text/plain;q=0.5')).toBe('html');
    expect(kongResponseType('text/plain; charset=utf-8')).toBe('plain');
  });

  it('gives an upstream fault the type of Accept, else of Content-Type, else text/plain', () => {
    expect(kongErrorHandlerBody('x', ID, {}).contentType).toBe('text/plain; charset=utf-8');
    expect(kongErrorHandlerBody('x', ID, { 'content-type': 'application/json' }).contentType).toBe(
      'application/json; charset=utf-8',
    );
    expect(
      kongErrorHandlerBody('x', ID, { accept: 'text/html', 'content-type': 'application/json' }).contentType,
    ).toBe('text/html; charset=utf-8');
  });

  it("renders kong.response.exit's table as compact JSON without a request id", () => {
    expect(kongExitBody({ exp: 'token expired' })).toEqual({
      contentType: 'application/json; charset=utf-8',
      body: '{"exp":"token expired"}',
    });
  });
});
