// What a gRPC request to TensorFlow Serving asks for, read exactly as the Lua plugin reads it
// (kong-plugins/kong/plugins/modelgate-model-access/grpc_request.lua and protobuf.lua): the method, the single
// length-prefixed message, and every model_spec with protobuf's merge semantics. Ranges are [from, to).

export type MethodKind = 'single' | 'multi';

export const MODEL_ACCESS_METHODS: Readonly<Record<string, MethodKind>> = {
  '/tensorflow.serving.PredictionService/Predict': 'single',
  '/tensorflow.serving.PredictionService/Classify': 'single',
  '/tensorflow.serving.PredictionService/Regress': 'single',
  '/tensorflow.serving.PredictionService/GetModelMetadata': 'single',
  '/tensorflow.serving.PredictionService/MultiInference': 'multi',
  '/tensorflow.serving.ModelService/GetModelStatus': 'single',
};

export type GrpcReadRefusal = 'malformedFrame' | 'messageCount' | 'compressed' | 'malformedProtobuf';

export interface ModelTarget {
  model: string | undefined;
  /** "latest", the version as a decimal int64, or "label:<label>". */
  version: string;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;
const MAX_VARINT_BYTES = 10;
const MAX_LENGTH = 2147483647;
const MAX_GROUP_DEPTH = 100;
const FRAME_HEADER_BYTES = 5;

/** Kong's test for a gRPC request: the content type starts with application/grpc, case-sensitively. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType?.startsWith('application/grpc') ?? false;
}

/** application/grpc or application/grpc+proto, parameters allowed. */
export function isProtobufContentType(contentType: string): boolean {
  const mediaType = /^\s*([^;\s]+)/.exec(contentType.toLowerCase())?.[1];
  return mediaType === 'application/grpc' || mediaType === 'application/grpc+proto';
}

export function isIdentityEncoding(encoding: string | undefined): boolean {
  return encoding === undefined || encoding.trim().toLowerCase() === 'identity';
}

/** The range of the body's only message, or a refusal. */
export function messageRange(body: Uint8Array): { from: number; to: number } | GrpcReadRefusal {
  let pos = 0;
  let count = 0;
  let first: { from: number; to: number; compressed: boolean } | undefined;
  while (pos < body.length) {
    if (pos + FRAME_HEADER_BYTES > body.length) return 'malformedFrame';
    const flag = body[pos] as number;
    if (flag > 1) return 'malformedFrame';
    const length =
      (body[pos + 1] as number) * 0x1000000 +
      (body[pos + 2] as number) * 0x10000 +
      (body[pos + 3] as number) * 0x100 +
      (body[pos + 4] as number);
    const start = pos + FRAME_HEADER_BYTES;
    const stop = start + length;
    if (stop > body.length) return 'malformedFrame';
    count++;
    if (count === 1) first = { from: start, to: stop, compressed: flag === 1 };
    pos = stop;
  }
  if (count !== 1 || !first) return 'messageCount';
  if (first.compressed) return 'compressed';
  return { from: first.from, to: first.to };
}

/** A varint that must fit in 32 bits: [value, next] or undefined. */
function readVarint32(buf: Uint8Array, pos: number, to: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const at = pos + i;
    if (at >= to) return undefined;
    const b = buf[at] as number;
    value += (b % 128) * scale;
    if (b < 128) return value >= 2 ** 32 ? undefined : [value, at + 1];
    scale *= 128;
  }
  return undefined;
}

function readVarint64(buf: Uint8Array, pos: number, to: number): [bigint, number] | undefined {
  let value = 0n;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const at = pos + i;
    if (at >= to) return undefined;
    const b = buf[at] as number;
    value |= BigInt(b % 128) << BigInt(7 * i);
    if (b < 128) return [BigInt.asUintN(64, value), at + 1];
  }
  return undefined;
}

function readTag(buf: Uint8Array, pos: number, to: number): [number, number, number] | undefined {
  const tag = readVarint32(buf, pos, to);
  if (!tag) return undefined;
  const field = Math.floor(tag[0] / 8);
  if (field === 0) return undefined;
  return [field, tag[0] % 8, tag[1]];
}

function readLen(buf: Uint8Array, pos: number, to: number): [number, number] | undefined {
  const length = readVarint32(buf, pos, to);
  if (!length || length[0] > MAX_LENGTH || length[1] + length[0] > to) return undefined;
  return [length[1], length[1] + length[0]];
}

function skipVarint(buf: Uint8Array, pos: number, to: number): number | undefined {
  for (let at = pos; at < pos + MAX_VARINT_BYTES; at++) {
    if (at >= to) return undefined;
    if ((buf[at] as number) < 128) return at + 1;
  }
  return undefined;
}

function skipValue(buf: Uint8Array, pos: number, to: number, field: number, wire: number, depth: number) {
  switch (wire) {
    case WIRE_VARINT:
      return skipVarint(buf, pos, to);
    case WIRE_FIXED64:
      return pos + 8 <= to ? pos + 8 : undefined;
    case WIRE_LEN:
      return readLen(buf, pos, to)?.[1];
    case WIRE_FIXED32:
      return pos + 4 <= to ? pos + 4 : undefined;
    case WIRE_START_GROUP: {
      if (depth >= MAX_GROUP_DEPTH) return undefined;
      let at: number | undefined = pos;
      while (true) {
        const tag = readTag(buf, at, to);
        if (!tag) return undefined;
        const [innerField, innerWire, next] = tag;
        if (innerWire === WIRE_END_GROUP) return innerField === field ? next : undefined;
        at = skipValue(buf, next, to, innerField, innerWire, depth + 1);
        if (at === undefined) return undefined;
      }
    }
    default:
      return undefined;
  }
}

interface FieldReader<State> {
  wire: number;
  read(buf: Uint8Array, pos: number, to: number, state: State): number | undefined;
}

type MessageReader<State> = Readonly<Record<number, FieldReader<State>>>;

function readMessage<State>(
  buf: Uint8Array,
  pos: number,
  to: number,
  fields: MessageReader<State>,
  state: State,
) {
  let at: number | undefined = pos;
  while (at < to) {
    const tag = readTag(buf, at, to);
    if (!tag) return false;
    const [field, wire, next] = tag;
    const known = fields[field];
    if (known) {
      if (wire !== known.wire) return false;
      at = known.read(buf, next, to, state);
    } else {
      at = skipValue(buf, next, to, field, wire, 0);
    }
    if (at === undefined) return false;
  }
  return true;
}

function lenField<State>(
  visit: (buf: Uint8Array, from: number, to: number, state: State) => boolean,
): FieldReader<State> {
  return {
    wire: WIRE_LEN,
    read(buf, pos, to, state) {
      const range = readLen(buf, pos, to);
      if (!range || !visit(buf, range[0], range[1], state)) return undefined;
      return range[1];
    },
  };
}

interface SpecState {
  name?: string;
  versionKind?: 'version' | 'label';
  version?: bigint;
  label?: string;
}

const text = (buf: Uint8Array, from: number, to: number) =>
  Buffer.from(buf.subarray(from, to)).toString('utf8');

const INT64_VALUE: MessageReader<SpecState> = {
  1: {
    wire: WIRE_VARINT,
    read(buf, pos, to, spec) {
      const value = readVarint64(buf, pos, to);
      if (!value) return undefined;
      spec.version = value[0];
      return value[1];
    },
  },
};

const MODEL_SPEC: MessageReader<SpecState> = {
  1: lenField((buf, from, to, spec) => {
    spec.name = text(buf, from, to);
    return true;
  }),
  2: lenField((buf, from, to, spec) => {
    if (spec.versionKind !== 'version') {
      spec.versionKind = 'version';
      spec.version = 0n;
    }
    return readMessage(buf, from, to, INT64_VALUE, spec);
  }),
  3: lenField(() => true),
  4: lenField((buf, from, to, spec) => {
    spec.versionKind = 'label';
    spec.label = text(buf, from, to);
    return true;
  }),
};

const MODEL_SPEC_HOLDER: MessageReader<SpecState> = {
  1: lenField((buf, from, to, spec) => readMessage(buf, from, to, MODEL_SPEC, spec)),
};

const MULTI_INFERENCE_REQUEST: MessageReader<SpecState[]> = {
  1: lenField((buf, from, to, specs) => {
    const spec: SpecState = {};
    if (!readMessage(buf, from, to, MODEL_SPEC_HOLDER, spec)) return false;
    specs.push(spec);
    return true;
  }),
};

function requestedVersion(spec: SpecState): string {
  if (spec.versionKind === 'version') return BigInt.asIntN(64, spec.version ?? 0n).toString();
  if (spec.versionKind === 'label') return `label:${spec.label}`;
  return 'latest';
}

/** The models a request message asks for, or 'malformedProtobuf'. */
export function grpcTargets(
  buf: Uint8Array,
  from: number,
  to: number,
  kind: MethodKind,
): ModelTarget[] | 'malformedProtobuf' {
  const specs: SpecState[] = [];
  let ok: boolean;
  if (kind === 'multi') {
    ok = readMessage(buf, from, to, MULTI_INFERENCE_REQUEST, specs);
  } else {
    const spec: SpecState = {};
    specs.push(spec);
    ok = readMessage(buf, from, to, MODEL_SPEC_HOLDER, spec);
  }
  if (!ok) return 'malformedProtobuf';
  return specs.map((spec) => ({ model: spec.name, version: requestedVersion(spec) }));
}
