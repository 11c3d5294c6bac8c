import type { IncomingHttpHeaders } from 'node:http';

// Kong's error template (kong/tools/http.lua, 3.5+): the body of kong.response.error, chosen by the Accept
// header (JSON by default), always with the request id.

export interface RenderedBody {
  contentType: string;
  body: string;
}

const TEMPLATES: ReadonlyArray<{
  mediaType: string;
  render: (message: string, requestId: string) => string;
}> = [
  {
    mediaType: 'application/json',
    render: (message, requestId) =>
      `{\n  "message":${JSON.stringify(message)},\n  "request_id":${JSON.stringify(requestId)}\n}`,
  },
  {
    mediaType: 'text/html',
    render: (message, requestId) =>
      `<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>${escapeMarkup(message)}.</p>\n    <p>request_id: ${requestId}</p>\n  </body>\n</html>\n`,
  },
  {
    mediaType: 'application/xml',
    render: (message, requestId) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>${escapeMarkup(message)}</message>\n  <requestid>${requestId}</requestid>\n</error>`,
  },
  { mediaType: 'text/plain', render: (message, requestId) => `${message}\nrequest_id: ${requestId}\n` },
];

function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The media type of the template the Accept header asks for (the highest q wins; JSON when none fits). */
function negotiate(accept: string | undefined): (typeof TEMPLATES)[number] {
  const json = TEMPLATES[0] as (typeof TEMPLATES)[number];
  if (!accept) return json;
  let best = json;
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().split(';');
    const q = Number(params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean) ?? 1);
    const template = TEMPLATES.find((candidate) => candidate.mediaType === range.trim().toLowerCase());
    if (template && q > bestQ) {
      best = template;
      bestQ = q;
    }
  }
  return best;
}

/** The body of kong.response.error(status, message). */
export function kongErrorBody(
  message: string,
  requestId: string,
  headers: IncomingHttpHeaders,
): RenderedBody {
  const template = negotiate(headers.accept);
  return { contentType: `${template.mediaType}; charset=utf-8`, body: template.render(message, requestId) };
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
