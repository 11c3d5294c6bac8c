import type { JsonNode } from './rest-json-document.js';

/**
 * RapidJSON's PrettyWriter as TF Serving uses it for REST answers (util/json_tensor.cc): four-space indent,
 * objects always one member per line, arrays one element per line unless the single-line-array option is on
 * (then `[1.0, 2.0]`); the option is read when each element is written, which gives TF Serving's
 * `"predictions": [2.5, 3.0\n    ]` layout. Numbers are written by the caller as raw text.
 */
export class PrettyJsonWriter {
  private out = '';
  private readonly levels: { inArray: boolean; count: number }[] = [];
  singleLineArrays = false;

  /** Stops writing once the text reaches `limit` bytes, as json_tensor.cc's JsonWriterWithLimit does. */
  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  get full(): boolean {
    return Buffer.byteLength(this.out) >= this.limit;
  }

  private indent(): void {
    this.out += '    '.repeat(this.levels.length);
  }

  private prefix(): void {
    const level = this.levels.at(-1);
    if (!level) return;
    if (level.inArray) {
      if (level.count > 0) this.out += this.singleLineArrays ? ', ' : ',';
      if (!this.singleLineArrays) {
        this.out += '\n';
        this.indent();
      }
    } else if (level.count > 0) {
      this.out += level.count % 2 === 0 ? ',\n' : ': ';
      if (level.count % 2 === 0) this.indent();
    } else {
      this.out += '\n';
      this.indent();
    }
    level.count++;
  }

  value(raw: string): this {
    if (this.full) return this;
    this.prefix();
    this.out += raw;
    return this;
  }

  string(text: string): this {
    return this.value(rapidJsonString(text));
  }

  key(name: string): this {
    return this.string(name);
  }

  startObject(): this {
    if (this.full) return this;
    this.prefix();
    this.out += '{';
    this.levels.push({ inArray: false, count: 0 });
    return this;
  }

  endObject(): this {
    if (this.full) return this;
    const level = this.levels.pop();
    if (level && level.count > 0) {
      this.out += '\n';
      this.indent();
    }
    this.out += '}';
    return this;
  }

  startArray(): this {
    if (this.full) return this;
    this.prefix();
    this.out += '[';
    this.levels.push({ inArray: true, count: 0 });
    return this;
  }

  endArray(): this {
    if (this.full) return this;
    const level = this.levels.pop();
    if (level && level.count > 0 && !this.singleLineArrays) {
      this.out += '\n';
      this.indent();
    }
    this.out += ']';
    return this;
  }

  toString(): string {
    return this.out;
  }
}

const HEX = '0123456789ABCDEF';
const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
};

/** A JSON string as RapidJSON writes it: `"` and `\` escaped, control characters as \b.. or \u00XX. */
export function rapidJsonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (code < 0x20) out += SHORT_ESCAPES[code] ?? `\\u00${HEX[code >> 4]}${HEX[code & 15]}`;
    else out += char;
  }
  return `${out}"`;
}

/** C's `%.<precision>g`. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exponentText] = value.toExponential(precision - 1).split('e') as [string, string];
  const exponent = Number(exponentText);
  const trim = (digits: string) => (digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits);
  if (exponent < -4 || exponent >= precision) {
    const sign = exponent < 0 ? '-' : '+';
    return `${trim(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(Math.max(0, precision - 1 - exponent)));
}

/**
 * A float32 or float64 value as TF Serving writes it in REST answers (json_tensor.cc WriteDecimal): six
 * significant digits when they read back to the same value, else 9 (float) or 17 (double); `.0` added to
 * whole numbers; NaN, Infinity and -Infinity as bare tokens.
 */
export function formatDecimal(value: number, kind: 'float' | 'double'): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value < 0 ? '-Infinity' : 'Infinity';
  const narrow = kind === 'float' ? Math.fround : (x: number) => x;
  let text = formatG(value, 6);
  if (narrow(Number(text)) !== value) text = formatG(value, kind === 'float' ? 9 : 17);
  if (!text.includes('.') && !text.includes('e')) text += '.0';
  return text;
}

/** A double as RapidJSON's Writer::Double writes it (Grisu shortest digits, `1.0`, `1e21`, `1.5e-7`). */
export function rapidJsonDouble(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const length = digits.length;
  const k = Number(exponentText) - (length - 1);
  const kk = length + k;
  let body: string;
  if (k >= 0 && kk <= 21) body = `${digits}${'0'.repeat(k)}.0`;
  else if (kk > 0 && kk <= 21) body = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -6 && kk <= 0) body = `0.${'0'.repeat(-kk)}${digits}`;
  else if (length === 1) body = `${digits}e${kk - 1}`;
  else body = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  return `${sign}${body}`;
}

/** Writes a node; false once RapidJSON's writer would have stopped (a NaN or infinity it cannot write). */
function writeNode(writer: PrettyJsonWriter, node: JsonNode): boolean {
  switch (node.kind) {
    case 'null':
      writer.value('null');
      return true;
    case 'bool':
      writer.value(String(node.value));
      return true;
    case 'number':
      if (node.integer !== undefined) writer.value(String(node.integer));
      else if (Number.isFinite(node.value)) writer.value(rapidJsonDouble(node.value));
      else {
        // Without kWriteNanAndInfFlag RapidJSON writes the separator, refuses the number and stops.
        writer.value('');
        return false;
      }
      return true;
    case 'string':
      writer.string(node.text);
      return true;
    case 'array':
      writer.startArray();
      for (const item of node.items) if (!writeNode(writer, item)) return false;
      writer.endArray();
      return true;
    case 'object':
      writer.startObject();
      for (const [key, value] of node.members) {
        writer.key(key);
        if (!writeNode(writer, value)) return false;
      }
      writer.endObject();
      return true;
  }
}

/** A request value echoed in an error message, as json_tensor.cc's JsonValueToDebugString prints it. */
export function jsonDebugString(node: JsonNode): string {
  const writer = new PrettyJsonWriter(256);
  writer.singleLineArrays = true;
  writeNode(writer, node);
  return writer.toString();
}

/** TF Serving's REST error body (json_tensor.cc MakeJsonFromStatus): `{\n    "error": "<message>"\n}`. */
export function restErrorBody(message: string): string {
  return new PrettyJsonWriter().startObject().key('error').string(message).endObject().toString();
}
