import type { KongRequestSizeLimitingConfig } from '@modelgate/policy';
import type { KongPluginHandler } from '../kong-plugin.js';
import { firstHeader, type KongRequestContext, kongExitError } from '../kong-request.js';

// The request-size-limiting plugin (kong/plugins/request-size-limiting/handler.lua at 3.9.3, priority 951):
// the Content-Length when it is a number, else the body read; 413 over the limit (417 with Expect:
// 100-continue), 411 when a Content-Length is required and missing.

export const SIZE_LIMIT_MESSAGE = 'Request size limit exceeded';
export const CONTENT_LENGTH_REQUIRED_MESSAGE = 'A valid Content-Length header is required';

const UNIT_BYTES: Readonly<Record<KongRequestSizeLimitingConfig['size_unit'], number>> = {
  megabytes: 1024 * 1024,
  kilobytes: 1024,
  bytes: 1,
};

function tooLarge(context: KongRequestContext) {
  const expect = firstHeader(context.request.headers, 'expect');
  return kongExitError(expect?.trim().toLowerCase() === '100-continue' ? 417 : 413, SIZE_LIMIT_MESSAGE);
}

function declaredLength(context: KongRequestContext): number {
  const declared = firstHeader(context.request.headers, 'content-length');
  return declared === undefined || declared.trim() === '' ? Number.NaN : Number(declared);
}

export function requestSizeLimitingPlugin(): KongPluginHandler<KongRequestSizeLimitingConfig> {
  return {
    name: 'request-size-limiting',
    priority: 951,
    // the body is read only when no Content-Length gives its size, and only one byte past the limit
    bodyLimit: (context, config) =>
      Number.isNaN(declaredLength(context)) && !config.require_content_length
        ? config.allowed_payload_size * UNIT_BYTES[config.size_unit]
        : undefined,
    access(context, config) {
      const allowed = config.allowed_payload_size * UNIT_BYTES[config.size_unit];
      const length = declaredLength(context);
      if (!Number.isNaN(length)) return length > allowed ? tooLarge(context) : undefined;
      if (config.require_content_length) return kongExitError(411, CONTENT_LENGTH_REQUIRED_MESSAGE);
      return context.request.body.length > allowed ? tooLarge(context) : undefined;
    },
  };
}
