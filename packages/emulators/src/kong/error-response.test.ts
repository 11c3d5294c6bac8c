import { describe, expect, it } from 'vitest';
import { kongErrorBody, kongExitBody } from './error-response.js';

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
    expect(kongErrorBody('a <b>', ID, { accept: 'application/xml' }).body).toContain(
      '<message>a &#60;b&#62;</message>',
    );
  });

  it("renders kong.response.exit's table as compact JSON without a request id", () => {
    expect(kongExitBody({ exp: 'token expired' })).toEqual({
      contentType: 'application/json; charset=utf-8',
      body: '{"exp":"token expired"}',
    });
  });
});
