import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { codeName, httpStatusOf, TfServingError, truncateForGrpc } from './tf-serving-error.js';

describe('status codes', () => {
  it.each([
    [status.OK, 200],
    [status.INVALID_ARGUMENT, 400],
    [status.FAILED_PRECONDITION, 400],
    [status.OUT_OF_RANGE, 400],
    [status.NOT_FOUND, 404],
    [status.ALREADY_EXISTS, 409],
    [status.ABORTED, 409],
    [status.PERMISSION_DENIED, 403],
    [status.RESOURCE_EXHAUSTED, 429],
    [status.UNAUTHENTICATED, 401],
    [status.UNIMPLEMENTED, 501],
    [status.UNAVAILABLE, 503],
    [status.DEADLINE_EXCEEDED, 504],
    [status.CANCELLED, 499],
    [status.UNKNOWN, 500],
    [status.INTERNAL, 500],
    [status.DATA_LOSS, 500],
  ])('maps gRPC code %i to HTTP %i, as model_servers/http_server.cc does', (code, http) => {
    expect(httpStatusOf(code)).toBe(http);
  });

  it('names codes as TensorFlow prints them', () => {
    expect([status.OK, status.NOT_FOUND, status.INVALID_ARGUMENT].map(codeName)).toEqual([
      'OK',
      'NOT_FOUND',
      'INVALID_ARGUMENT',
    ]);
    expect(TfServingError.notFound('x').toStatusString()).toBe('NOT_FOUND: x');
  });

  it('truncates gRPC messages past 1024 characters with ...TRUNCATED, and only those', () => {
    expect(truncateForGrpc('a'.repeat(1024))).toBe('a'.repeat(1024));
    expect(truncateForGrpc('a'.repeat(1025))).toBe(`${'a'.repeat(1024)}...TRUNCATED`);
    const grpc = TfServingError.invalidArgument('b'.repeat(3000)).toGrpcError();
    expect({ code: grpc.code, length: grpc.details.length }).toEqual({
      code: status.INVALID_ARGUMENT,
      length: 1024 + 12,
    });
  });
});
