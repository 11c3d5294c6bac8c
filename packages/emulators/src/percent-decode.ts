// Percent-decoding of text a client sent, where a sequence that is not UTF-8 (`%E0`) is no error: nginx's
// ngx.unescape_uri decodes it to its byte and Java's URLDecoder to U+FFFD, and either way it names nothing the
// server knows. Kept as sent here, it names nothing either.

/** decodeURIComponent(text), or `text` itself where that throws. */
export function percentDecodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
