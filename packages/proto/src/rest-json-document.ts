import { TensorCodecError } from './tensor-codec-error.js';

/**
 * TF Serving reads REST bodies with RapidJSON (util/json_tensor.cc ParseJson: iterative, NaN/Inf allowed, stop
 * when the root value is done). This parser accepts and refuses what that configuration does, reports
 * RapidJSON's error messages and byte offsets, and keeps what the tensor filling needs and JSON.parse loses:
 * whether a number was written as an integer (RapidJSON's IsInt/IsInt64/IsUint/IsUint64), exact 64-bit
 * integers, and strings as their raw bytes.
 */

export type JsonNode =
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'number'; value: number; integer: bigint | undefined }
  | { kind: 'string'; bytes: Uint8Array; text: string }
  | { kind: 'array'; items: JsonNode[] }
  | { kind: 'object'; members: [key: string, value: JsonNode][] };

/** RapidJSON's GetParseError_En texts. */
const MESSAGES = {
  empty: 'The document is empty.',
  invalidValue: 'Invalid value.',
  missName: 'Missing a name for object member.',
  missColon: 'Missing a colon after a name of object member.',
  missCommaOrCurly: "Missing a comma or '}' after an object member.",
  missCommaOrSquare: "Missing a comma or ']' after an array element.",
  badHex: 'Incorrect hex digit after \\u escape in string.',
  badSurrogate: 'The surrogate pair in string is invalid.',
  badEscape: 'Invalid escape character in string.',
  missQuote: 'Missing a closing quotation mark in string.',
  badEncoding: 'Invalid encoding in string.',
  tooBig: 'Number too big to be stored in double.',
  missFraction: 'Miss fraction part in number.',
  missExponent: 'Miss exponent in number.',
} as const;

class ParseError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(reason);
  }
}

const utf8 = new TextDecoder('utf-8');
const ESCAPES: Readonly<Record<number, number>> = {
  34: 0x22,
  92: 0x5c,
  47: 0x2f,
  98: 0x08,
  102: 0x0c,
  110: 0x0a,
  114: 0x0d,
  116: 0x09,
};

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

class Parser {
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  private peek(): number | undefined {
    return this.bytes[this.pos];
  }

  private consume(c: number): boolean {
    if (this.bytes[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  private skipWhitespace(): void {
    for (let c = this.peek(); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = this.peek())
      this.pos++;
  }

  parseDocument(): JsonNode {
    this.skipWhitespace();
    if (this.pos >= this.bytes.length) throw new ParseError(MESSAGES.empty, this.pos);
    return this.parseValue();
  }

  private parseValue(): JsonNode {
    switch (this.peek()) {
      case 0x6e:
        return this.parseLiteral('null', { kind: 'null' });
      case 0x74:
        return this.parseLiteral('true', { kind: 'bool', value: true });
      case 0x66:
        return this.parseLiteral('false', { kind: 'bool', value: false });
      case 0x22: {
        const bytes = this.parseString();
        return { kind: 'string', bytes, text: utf8.decode(bytes) };
      }
      case 0x7b:
        return this.parseObject();
      case 0x5b:
        return this.parseArray();
      default:
        return this.parseNumber();
    }
  }

  private parseLiteral(word: string, node: JsonNode): JsonNode {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      if (!this.consume(word.charCodeAt(i))) throw new ParseError(MESSAGES.invalidValue, this.pos);
    }
    return node;
  }

  private parseObject(): JsonNode {
    this.pos++;
    const members: [string, JsonNode][] = [];
    this.skipWhitespace();
    if (this.consume(0x7d)) return { kind: 'object', members };
    for (;;) {
      if (this.peek() !== 0x22) throw new ParseError(MESSAGES.missName, this.pos);
      const key = utf8.decode(this.parseString());
      this.skipWhitespace();
      if (!this.consume(0x3a)) throw new ParseError(MESSAGES.missColon, this.pos);
      this.skipWhitespace();
      members.push([key, this.parseValue()]);
      this.skipWhitespace();
      if (this.consume(0x2c)) {
        this.skipWhitespace();
        continue;
      }
      if (this.consume(0x7d)) return { kind: 'object', members };
      throw new ParseError(MESSAGES.missCommaOrCurly, this.pos);
    }
  }

  private parseArray(): JsonNode {
    this.pos++;
    const items: JsonNode[] = [];
    this.skipWhitespace();
    if (this.consume(0x5d)) return { kind: 'array', items };
    for (;;) {
      items.push(this.parseValue());
      this.skipWhitespace();
      if (this.consume(0x2c)) {
        this.skipWhitespace();
        continue;
      }
      if (this.consume(0x5d)) return { kind: 'array', items };
      throw new ParseError(MESSAGES.missCommaOrSquare, this.pos);
    }
  }

  private hex4(escapeOffset: number): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.bytes[this.pos++];
      const digit = c === undefined ? Number.NaN : Number.parseInt(String.fromCharCode(c), 16);
      if (Number.isNaN(digit)) throw new ParseError(MESSAGES.badHex, escapeOffset);
      value = value * 16 + digit;
    }
    return value;
  }

  /** The string's bytes, escapes resolved; invalid UTF-8 is kept as is, as RapidJSON keeps it. */
  private parseString(): Uint8Array {
    this.pos++;
    const out: number[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === 0) throw new ParseError(MESSAGES.missQuote, this.pos);
      if (c === 0x22) {
        this.pos++;
        return Uint8Array.from(out);
      }
      if (c < 0x20) throw new ParseError(MESSAGES.badEncoding, this.pos);
      if (c !== 0x5c) {
        out.push(c);
        this.pos++;
        continue;
      }
      const escapeOffset = this.pos;
      this.pos++;
      const e = this.peek();
      this.pos++;
      if (e !== undefined && ESCAPES[e] !== undefined) {
        out.push(ESCAPES[e] as number);
        continue;
      }
      if (e !== 0x75) throw new ParseError(MESSAGES.badEscape, escapeOffset);
      let code = this.hex4(escapeOffset);
      if (code >= 0xd800 && code <= 0xdbff) {
        if (!(this.consume(0x5c) && this.consume(0x75)))
          throw new ParseError(MESSAGES.badSurrogate, escapeOffset);
        const low = this.hex4(escapeOffset);
        if (low < 0xdc00 || low > 0xdfff) throw new ParseError(MESSAGES.badSurrogate, escapeOffset);
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      }
      out.push(...new TextEncoder().encode(String.fromCodePoint(code)));
    }
  }

  private parseNumber(): JsonNode {
    const start = this.pos;
    const minus = this.consume(0x2d);
    const c = this.peek();
    if (c === 0x4e || c === 0x49) return this.parseNonFinite(minus);
    if (c === 0x30) this.pos++;
    else if (isDigit(c) && c !== 0x30) while (isDigit(this.peek())) this.pos++;
    else throw new ParseError(MESSAGES.invalidValue, this.pos);
    let integer = true;
    if (this.consume(0x2e)) {
      integer = false;
      if (!isDigit(this.peek())) throw new ParseError(MESSAGES.missFraction, this.pos);
      while (isDigit(this.peek())) this.pos++;
    }
    if (this.peek() === 0x65 || this.peek() === 0x45) {
      integer = false;
      this.pos++;
      if (!this.consume(0x2b)) this.consume(0x2d);
      if (!isDigit(this.peek())) throw new ParseError(MESSAGES.missExponent, this.pos);
      while (isDigit(this.peek())) this.pos++;
    }
    const text = new TextDecoder('latin1').decode(this.bytes.subarray(start, this.pos));
    const value = Number(text);
    if (!Number.isFinite(value)) throw new ParseError(MESSAGES.tooBig, start);
    const big = integer ? BigInt(text) : undefined;
    // Integers past 64 bits become doubles in RapidJSON.
    const fits = big !== undefined && big >= -(2n ** 63n) && big < 2n ** 64n;
    return { kind: 'number', value, integer: fits ? big : undefined };
  }

  /** NaN, Inf, Infinity (RapidJSON's kParseNanAndInfFlag), after an optional minus. */
  private parseNonFinite(minus: boolean): JsonNode {
    if (this.consume(0x4e)) {
      if (this.consume(0x61) && this.consume(0x4e))
        return { kind: 'number', value: Number.NaN, integer: undefined };
      throw new ParseError(MESSAGES.invalidValue, this.pos);
    }
    this.pos++;
    if (!(this.consume(0x6e) && this.consume(0x66))) throw new ParseError(MESSAGES.invalidValue, this.pos);
    if (this.peek() === 0x69) {
      for (const ch of 'inity') {
        if (!this.consume(ch.charCodeAt(0))) throw new ParseError(MESSAGES.invalidValue, this.pos);
      }
    }
    return { kind: 'number', value: minus ? -Infinity : Infinity, integer: undefined };
  }
}

/** Parses a REST body; refusals are TensorCodecErrors (INVALID_ARGUMENT) with TF Serving's `JSON Parse error: ...` messages. */
export function parseRestDocument(body: Uint8Array): JsonNode {
  if (body.length === 0) throw new TensorCodecError('BAD_JSON', 'JSON Parse error: The document is empty');
  try {
    return new Parser(body).parseDocument();
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    throw new TensorCodecError('BAD_JSON', `JSON Parse error: ${error.reason} at offset: ${error.offset}`);
  }
}

/** The node as plain JS values: numbers as doubles, a repeated key keeps its last value (as JSON.parse). */
export function plainValue(node: JsonNode): unknown {
  switch (node.kind) {
    case 'null':
      return null;
    case 'bool':
      return node.value;
    case 'number':
      return node.value;
    case 'string':
      return node.text;
    case 'array':
      return node.items.map(plainValue);
    case 'object':
      return Object.fromEntries(node.members.map(([key, value]) => [key, plainValue(value)]));
  }
}

/** The member's value (the first, when a key repeats, as RapidJSON's FindMember finds it). */
export function member(node: JsonNode, key: string): JsonNode | undefined {
  if (node.kind !== 'object') return undefined;
  return node.members.find(([name]) => name === key)?.[1];
}

/** RapidJSON's type names, as json_tensor.cc prints them in type errors. */
export function jsonTypeName(node: JsonNode): string {
  switch (node.kind) {
    case 'null':
      return 'Null';
    case 'bool':
      return node.value ? 'True' : 'False';
    case 'number':
      return 'Number';
    case 'string':
      return 'String';
    case 'array':
      return 'Array';
    case 'object':
      return 'Object';
  }
}

/** `{"b64": "<string>"}` and nothing else: TF Serving's form for binary strings. */
export function isBase64Object(node: JsonNode): boolean {
  return (
    node.kind === 'object' &&
    node.members.length === 1 &&
    node.members[0]?.[0] === 'b64' &&
    node.members[0][1].kind === 'string'
  );
}
