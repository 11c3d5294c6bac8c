import { parseRestDocument, plainValue } from './rest-json-document.js';

const utf8 = new TextEncoder();

/**
 * Parses TF Serving's JSON into plain values: RapidJSON as TF Serving configures it (strict JSON plus bare
 * NaN, Inf, Infinity, -Inf, -Infinity; stops after the root value), through the same reader as the tensors.
 * Numbers become doubles; read tensors with `decodeRestPredictRequest`/`Response` to keep 64-bit integers.
 */
export function parseRestJson(text: string): unknown {
  return plainValue(parseRestDocument(utf8.encode(text)));
}

/** A JSON number as TF Serving writes it: non-finite values as the bare tokens NaN, Infinity, -Infinity. */
export function formatRestNumber(value: number | bigint): string {
  // String() already yields exactly "NaN", "Infinity" and "-Infinity", but drops the sign of -0.
  return Object.is(value, -0) ? '-0' : String(value);
}

/** Serializes like JSON.stringify, but writes non-finite numbers and bigints as bare JSON tokens. */
export function stringifyRestJson(value: unknown): string {
  let hasRawTokens = false;
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint' || (typeof item === 'number' && !Number.isFinite(item))) {
      hasRawTokens = true;
      return `${RAW_MARKER}${String(item)}`;
    }
    return item;
  });
  return hasRawTokens ? text.replace(RAW_PATTERN, '$1') : text;
}

const RAW_MARKER = '\u0000modelgate:raw:';
const RAW_PATTERN = /"\\u0000modelgate:raw:([^"]*)"/g;
