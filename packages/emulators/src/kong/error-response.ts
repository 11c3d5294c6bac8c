import type { IncomingHttpHeaders } from 'node:http';
import { ownValue } from '../own-value.js';

// Kong's error template (kong/tools/http.lua at 3.9.3): the body of kong.response.error and of the error
// handler (kong/error_handlers.lua), in the type get_response_type picks from the Accept header, always with the
// request id. The message goes into the template as it is (string.format's %s: no escaping).

export interface RenderedBody {
  contentType: string;
  body: string;
}

type TemplateType = 'json' | 'html' | 'xml' | 'plain';

const TEMPLATES: Readonly<
  Record<TemplateType, { contentType: string; render: (message: string, requestId: string) => string }>
> = {
  json: {
    contentType: 'application/json; charset=utf-8',
    render: (message, requestId) => `{\n  "message":"${message}",\n  "request_id":"${requestId}"\n}`,
  },
  html: {
    contentType: 'text/html; charset=utf-8',
    render: (message, requestId) =>
      `<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>${message}.</p>\n    <p>request_id: ${requestId}</p>\n  </body>\n</html>\n`,
  },
  xml: {
    contentType: 'application/xml; charset=utf-8',
    render: (message, requestId) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>${message}</message>\n  <requestid>${requestId}</requestid>\n</error>\n`,
  },
  plain: {
    contentType: 'text/plain; charset=utf-8',
    render: (message, requestId) => `${message}\nrequest_id: ${requestId}\n`,
  },
};

/** http.lua's MIME_TYPES: a full type, or a `type/*` range by its top-level type; anything else is JSON. */
const MEDIA_TYPES: Readonly<Record<string, TemplateType>> = {
  'text/html': 'html',
  'application/json': 'json',
  'text/plain': 'plain',
  'application/xml': 'xml',
  application: 'json',
  text: 'plain',
};

/** get_mime_type(media_type) with its default: the template for one media range. */
function templateOf(mediaRange: string): TemplateType {
  const [type = '', subtype] = (mediaRange.trim().split(';')[0] ?? '').split('/');
  if (subtype === undefined) return 'json';
  return mediaType(subtype === '*' ? (type === '*' ? '' : type) : `${type}/${subtype}`);
}

/** MIME_TYPES[key], or JSON (own keys only: `constructor/*` is no media type). */
function mediaType(key: string): TemplateType {
  return ownValue(MEDIA_TYPES, key) ?? 'json';
}

/** One Accept entry as get_response_type's regex reads it (anchored at the start): media range, then q. */
const ACCEPT_ENTRY =
  /^((?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*)\/(?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*))(?:\s*;\s*q=(1(?:\.0{0,3}|)|0(?:\.\d{0,3}|))|\s*;\s*[a-z0-9][a-z0-9\-!#$&^_+.]+(?:=[^;]*|))*/i;

/** get_response_type: the entry with the highest q (above 0; the first of equals) picks the type; else JSON. */
export function kongResponseType(accept: string | undefined): TemplateType {
  let type: TemplateType = 'json';
  if (accept === undefined) return type;
  let best = 0;
  for (const entry of accept.split(',')) {
    const found = ACCEPT_ENTRY.exec(entry.trim());
    if (!found) continue;
    const q = found[2] === undefined ? 1 : Number(found[2]);
    if (q > best) {
      best = q;
      type = templateOf(found[1] as string);
    }
  }
  return type;
}

function renderError(type: TemplateType, message: string, requestId: string): RenderedBody {
  const template = TEMPLATES[type];
  return { contentType: template.contentType, body: template.render(message, requestId) };
}

/** The body of kong.response.error(status, message): the type the Accept header asks for. */
export function kongErrorBody(
  message: string,
  requestId: string,
  headers: IncomingHttpHeaders,
): RenderedBody {
  return renderError(kongResponseType(headers.accept), message, requestId);
}

/** kong_defaults.lua's error_default_type. */
export const ERROR_DEFAULT_TYPE = 'text/plain';

/**
 * The body the error handler (kong/error_handlers.lua) gives an upstream fault: the type follows Accept, else
 * the request's Content-Type, else error_default_type.
 */
export function kongErrorHandlerBody(
  message: string,
  requestId: string,
  headers: IncomingHttpHeaders,
): RenderedBody {
  const asked = headers.accept ?? headers['content-type'] ?? ERROR_DEFAULT_TYPE;
  return renderError(kongResponseType(asked), message, requestId);
}

/** The body of kong.response.exit(status, table): compact JSON, no request id (jwt's refusals). */
export function kongExitBody(table: Readonly<Record<string, string>>): RenderedBody {
  return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(table) };
}

/** kong.response.error's default messages (kong/pdk/response.lua), for a status given without one. */
export const DEFAULT_ERROR_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Request size limit exceeded',
  429: 'API rate limit exceeded',
  500: 'An unexpected error occurred',
  502: 'An invalid response was received from the upstream server',
  503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out',
};
