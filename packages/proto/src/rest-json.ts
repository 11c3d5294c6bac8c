import { TensorCodecError } from './tensor-codec-error.js';

// TF Serving's JSON is RapidJSON with NaN/Inf parsing and writing enabled: outside strings it reads the bare
// tokens NaN, Inf and Infinity (with an optional minus) and writes NaN, Infinity and -Infinity. Everything
// else is strict JSON, so the text is handed to JSON.parse once the non-finite tokens are rewritten:
// ±Infinity as ±1e999 (which JSON.parse reads as ±Infinity), NaN as a marker string replaced after parsing.
// A JSON5 parser would accept these tokens too, but also comments, single quotes and trailing commas, which
// TF Serving refuses.

const NAN_MARKER = '\u0000modelgate:NaN';
const NON_FINITE_TOKENS: readonly [token: string, replacement: string][] = [
  ['-Infinity', '-1e999'],
  ['-Inf', '-1e999'],
  ['Infinity', '1e999'],
  ['Inf', '1e999'],
  ['NaN', JSON.stringify(NAN_MARKER)],
  ['-NaN', JSON.stringify(NAN_MARKER)],
];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isTokenStart(code: number): boolean {
  return code === 0x4e /* N */ || code === 0x49 /* I */ || code === 0x2d /* - */;
}

function isIdentifierChar(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
}

/** Rewrites non-finite tokens outside strings; returns undefined when there were none. */
function rewriteNonFinite(text: string): { text: string; hasNaN: boolean } | undefined {
  const parts: string[] = [];
  let copiedUpTo = 0;
  let inString = false;
  let hasNaN = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
      continue;
    }
    if (code === QUOTE) {
      inString = true;
      continue;
    }
    if (!isTokenStart(code)) continue;
    const match = NON_FINITE_TOKENS.find(
      ([token]) => text.startsWith(token, i) && !isIdentifierChar(text.charCodeAt(i + token.length)),
    );
    if (!match) continue;
    const [token, replacement] = match;
    parts.push(text.slice(copiedUpTo, i), replacement);
    hasNaN ||= token.endsWith('NaN');
    i += token.length - 1;
    copiedUpTo = i + 1;
  }
  if (parts.length === 0) return undefined;
  parts.push(text.slice(copiedUpTo));
  return { text: parts.join(''), hasNaN };
}

function restoreNaN(value: unknown): unknown {
  if (value === NAN_MARKER) return Number.NaN;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restoreNaN(value[i]);
    return value;
  }
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = restoreNaN(record[key]);
  }
  return value;
}

/** Parses TF Serving's JSON: strict JSON plus bare NaN, Inf, Infinity, -Inf and -Infinity. */
export function parseRestJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (strictError) {
    const rewritten = rewriteNonFinite(text);
    if (!rewritten) throw badJson(strictError);
    try {
      const value: unknown = JSON.parse(rewritten.text);
      return rewritten.hasNaN ? restoreNaN(value) : value;
    } catch (error) {
      throw badJson(error);
    }
  }
}

function badJson(error: unknown): TensorCodecError {
  const reason = error instanceof Error ? error.message : String(error);
  return new TensorCodecError('BAD_JSON', `not valid JSON: ${reason}`);
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
