import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRestDocument, plainValue as plain } from './rest-json-document.js';
import { jsonDebugString, rapidJsonDouble } from './rest-json-writer.js';

const utf8 = new TextEncoder();
const parse = (text: string) => parseRestDocument(utf8.encode(text));

describe("TF Serving's JSON reader (RapidJSON with NaN and Inf)", () => {
  it('reads what JSON.parse reads', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(plain(parse(text))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('reads the bare tokens NaN, Inf, Infinity, -Inf and -Infinity', () => {
    expect(plain(parse('[NaN, Inf, Infinity, -Inf, -Infinity, -NaN]'))).toEqual([
      Number.NaN,
      Infinity,
      Infinity,
      -Infinity,
      -Infinity,
      Number.NaN,
    ]);
  });

  it('keeps whether a number was an integer, and 64-bit integers exactly', () => {
    expect(parse('1')).toEqual({ kind: 'number', value: 1, integer: 1n });
    expect(parse('1.0')).toEqual({ kind: 'number', value: 1, integer: undefined });
    expect(parse('1e2')).toEqual({ kind: 'number', value: 100, integer: undefined });
    expect(parse('9223372036854775807')).toMatchObject({ integer: 9223372036854775807n });
    expect(parse('18446744073709551615')).toMatchObject({ integer: 18446744073709551615n });
    expect(parse('18446744073709551616')).toMatchObject({ integer: undefined });
  });

  it('stops at the end of the root value, as kParseStopWhenDoneFlag does', () => {
    expect(plain(parse('{"a": 1} trailing'))).toEqual({ a: 1 });
  });

  it('keeps the raw bytes of strings', () => {
    const node = parseRestDocument(Uint8Array.of(0x22, 0xff, 0x41, 0x22));
    expect(node).toMatchObject({ kind: 'string', bytes: Uint8Array.of(0xff, 0x41) });
  });

  it.each([
    ['', 'JSON Parse error: The document is empty'],
    ['   ', 'JSON Parse error: The document is empty. at offset: 3'],
    ['instances = [1, 2]', 'JSON Parse error: Invalid value. at offset: 0'],
    ['{"a" 1}', 'JSON Parse error: Missing a colon after a name of object member. at offset: 5'],
    ['{a: 1}', 'JSON Parse error: Missing a name for object member. at offset: 1'],
    ['{"a": 1 "b": 2}', "JSON Parse error: Missing a comma or '}' after an object member. at offset: 8"],
    ['[1 2]', "JSON Parse error: Missing a comma or ']' after an array element. at offset: 3"],
    ['[1,]', 'JSON Parse error: Invalid value. at offset: 3'],
    ['"abc', 'JSON Parse error: Missing a closing quotation mark in string. at offset: 4'],
    ['"a\\x"', 'JSON Parse error: Invalid escape character in string. at offset: 2'],
    ['"\\u12G4"', 'JSON Parse error: Incorrect hex digit after \\u escape in string. at offset: 1'],
    ['1.', 'JSON Parse error: Miss fraction part in number. at offset: 2'],
    ['1e', 'JSON Parse error: Miss exponent in number. at offset: 2'],
    ['1e400', 'JSON Parse error: Number too big to be stored in double. at offset: 0'],
    ['nul', 'JSON Parse error: Invalid value. at offset: 3'],
    ['Nan', 'JSON Parse error: Invalid value. at offset: 2'],
    ['// comment\n{}', 'JSON Parse error: Invalid value. at offset: 0'],
  ])('refuses %j with %s', (text, message) => {
    expect(() => parse(text)).toThrow(expect.objectContaining({ grpcCode: 3, message }));
  });
});

describe('values echoed in error messages', () => {
  it('prints arrays on one line and objects one member per line, as RapidJSON PrettyWriter does', () => {
    expect(jsonDebugString(parse('[[1, 2.5], "x", true, null]'))).toBe('[[1, 2.5], "x", true, null]');
    expect(jsonDebugString(parse('{"a": [1], "b": {"c": 1.0}}'))).toBe(
      '{\n    "a": [1],\n    "b": {\n        "c": 1.0\n    }\n}',
    );
  });

  it('stops after 256 bytes', () => {
    const text = jsonDebugString(parse(`[${'123456789,'.repeat(100)}0]`));
    expect(text.length).toBeLessThan(300);
    expect(text.startsWith('[123456789, 123456789')).toBe(true);
    expect(text.endsWith(']')).toBe(false);
  });

  it('writes doubles as RapidJSON does: shortest digits, .0 on whole numbers, exponents without +', () => {
    expect([1, 0.5, 123, 1e20, 1e21, 1.5e-7, 0.001, -2.25, 1e-7].map(rapidJsonDouble)).toEqual([
      '1.0',
      '0.5',
      '123.0',
      '100000000000000000000.0',
      '1e21',
      '1.5e-7',
      '0.001',
      '-2.25',
      '1e-7',
    ]);
  });
});
