import { Float16Array as Float16ArrayPonyfill } from '@petamoriken/float16';

// Node 24 has a native Float16Array; Node 22 gets the ponyfill (same API, slower).
const Float16 =
  (globalThis as { Float16Array?: typeof Float16ArrayPonyfill }).Float16Array ?? Float16ArrayPonyfill;

/** IEEE half-precision bit patterns (DT_HALF's half_val and tensor_content) to float32 values. */
export function halfBitsToFloat32(bits: Uint16Array): Float32Array {
  const aligned = bits.byteOffset % 2 === 0 ? bits : bits.slice();
  return Float32Array.from(new Float16(aligned.buffer, aligned.byteOffset, aligned.length));
}

/** Numbers to IEEE half-precision bit patterns, rounding to nearest even as TensorFlow does. */
export function float32ToHalfBits(values: ArrayLike<number>): Uint16Array {
  const halves = Float16.from(values as ArrayLike<number>);
  return new Uint16Array(halves.buffer, halves.byteOffset, halves.length);
}

const scratch = new DataView(new ArrayBuffer(4));

/** bfloat16 bit patterns to float32: the pattern is the top half of a float32. */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) words[i] = (bits[i] as number) << 16;
  return out;
}

/** Numbers to bfloat16 bit patterns, rounding to nearest even; NaN stays a quiet NaN. */
export function float32ToBfloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (Number.isNaN(value)) {
      out[i] = 0x7fc0;
      continue;
    }
    scratch.setFloat32(0, value);
    const word = scratch.getUint32(0);
    out[i] = (word + 0x7fff + ((word >>> 16) & 1)) >>> 16;
  }
  return out;
}
