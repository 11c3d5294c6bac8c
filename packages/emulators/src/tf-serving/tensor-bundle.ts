import { open, readFile } from 'node:fs/promises';
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, type WireType } from '@bufbuild/protobuf/wire';
import { DataType, decodeShape, TensorShapeProtoSchema } from '@modelgate/proto';
import { fileSystemError } from './text-proto-file.js';
import { TfServingError } from './tf-serving-error.js';

/**
 * Reads a TensorFlow checkpoint (tensor bundle: `variables/variables.index` and its data shards), enough to
 * restore the variables of a SavedModel: the index is a LevelDB-format table (footer, index block, data blocks
 * with prefix-compressed keys) whose values are BundleEntryProtos pointing into the data shards
 * (tensorflow/core/util/tensor_bundle). Uncompressed blocks and unsliced numeric tensors only.
 */

/** A checkpointed tensor's raw little-endian bytes, as TensorFlow wrote them. */
export interface BundleTensor {
  dtype: DataType;
  shape: number[];
  bytes: Uint8Array;
}

interface BundleEntry {
  dtype: DataType;
  shape: number[];
  shardId: number;
  offset: number;
  size: number;
  sliced: boolean;
}

const FOOTER_LENGTH = 48;
const TABLE_MAGIC = 0xdb4775248b80fb57n;
const BLOCK_TRAILER_LENGTH = 5;

function corrupt(file: string, what: string): TfServingError {
  return TfServingError.invalidArgument(`Checkpoint index ${file} is not a readable tensor bundle: ${what}`);
}

interface BlockHandle {
  offset: number;
  size: number;
}

function readHandle(reader: BinaryReader): BlockHandle {
  return { offset: Number(reader.uint64()), size: Number(reader.uint64()) };
}

/** The block's bytes without its trailer; refuses compressed blocks (TensorFlow writes bundles uncompressed). */
function block(table: Uint8Array, handle: BlockHandle, file: string): Uint8Array {
  const end = handle.offset + handle.size;
  if (end + BLOCK_TRAILER_LENGTH > table.byteLength) throw corrupt(file, 'block past the end of the file');
  if (table[end] !== 0)
    throw corrupt(file, `compressed block (type ${table[end]}); only uncompressed is read`);
  return table.subarray(handle.offset, end);
}

/** The key/value entries of one block, keys restored from their shared prefixes. */
function blockEntries(data: Uint8Array, file: string): [string, Uint8Array][] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const restarts = view.getUint32(data.byteLength - 4, true);
  const limit = data.byteLength - 4 * (restarts + 1);
  if (limit < 0) throw corrupt(file, 'bad restart array');
  const reader = new BinaryReader(data.subarray(0, limit));
  const entries: [string, Uint8Array][] = [];
  let key = new Uint8Array(0);
  const latin1 = new TextDecoder('latin1');
  while (reader.pos < limit) {
    const shared = reader.uint32();
    const unshared = reader.uint32();
    const valueLength = reader.uint32();
    const delta = data.subarray(reader.pos, reader.pos + unshared);
    reader.pos += unshared;
    const value = data.subarray(reader.pos, reader.pos + valueLength);
    reader.pos += valueLength;
    const next = new Uint8Array(shared + unshared);
    next.set(key.subarray(0, shared));
    next.set(delta, shared);
    key = next;
    entries.push([latin1.decode(key), value]);
  }
  return entries;
}

function decodeEntry(bytes: Uint8Array): BundleEntry {
  const reader = new BinaryReader(bytes);
  const entry: BundleEntry = {
    dtype: DataType.DT_INVALID,
    shape: [],
    shardId: 0,
    offset: 0,
    size: 0,
    sliced: false,
  };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        entry.dtype = reader.int32();
        break;
      case 2:
        entry.shape = decodeShape(fromBinary(TensorShapeProtoSchema, reader.bytes()));
        break;
      case 3:
        entry.shardId = reader.int32();
        break;
      case 4:
        entry.offset = Number(reader.int64());
        break;
      case 5:
        entry.size = Number(reader.int64());
        break;
      case 7:
        entry.sliced = true;
        reader.skip(wireType);
        break;
      default:
        reader.skip(wireType as WireType);
    }
  }
  return entry;
}

function decodeShardCount(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes);
  let shards = 1;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) shards = reader.int32();
    else reader.skip(wireType);
  }
  return shards;
}

/** A checkpoint's entries by key, read from `<prefix>.index`. */
export class TensorBundle {
  private constructor(
    private readonly prefix: string,
    private readonly entries: ReadonlyMap<string, BundleEntry>,
    private readonly shards: number,
  ) {}

  static async open(prefix: string): Promise<TensorBundle> {
    const file = `${prefix}.index`;
    let table: Uint8Array;
    try {
      table = await readFile(file);
    } catch (error) {
      throw fileSystemError(file, error);
    }
    if (table.byteLength < FOOTER_LENGTH) throw corrupt(file, 'shorter than a table footer');
    const footer = table.subarray(table.byteLength - FOOTER_LENGTH);
    const magic = new DataView(footer.buffer, footer.byteOffset + 40, 8).getBigUint64(0, true);
    if (magic !== TABLE_MAGIC) throw corrupt(file, 'bad table magic number');
    const footerReader = new BinaryReader(footer);
    readHandle(footerReader); // metaindex: unused by tensor bundles
    const indexHandle = readHandle(footerReader);
    const entries = new Map<string, BundleEntry>();
    let shards = 1;
    for (const [, handleBytes] of blockEntries(block(table, indexHandle, file), file)) {
      const handle = readHandle(new BinaryReader(handleBytes));
      for (const [key, value] of blockEntries(block(table, handle, file), file)) {
        if (key === '') shards = decodeShardCount(value);
        else entries.set(key, decodeEntry(value));
      }
    }
    return new TensorBundle(prefix, entries, shards);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The tensor stored under `key`; refuses missing keys, sliced (partitioned) variables and strings. */
  async read(key: string): Promise<BundleTensor> {
    const entry = this.entries.get(key);
    if (!entry) throw TfServingError.notFound(`Key ${key} not found in checkpoint ${this.prefix}`);
    if (entry.sliced) {
      throw TfServingError.unimplemented(
        `Checkpoint ${this.prefix} holds ${key} as slices; not supported here`,
      );
    }
    if (entry.dtype === DataType.DT_STRING) {
      throw TfServingError.unimplemented(
        `Checkpoint ${this.prefix} holds ${key} as strings; not supported here`,
      );
    }
    const shard = `${this.prefix}.data-${String(entry.shardId).padStart(5, '0')}-of-${String(this.shards).padStart(5, '0')}`;
    const bytes = new Uint8Array(entry.size);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(shard, 'r');
    } catch (error) {
      throw fileSystemError(shard, error);
    }
    try {
      const { bytesRead } = await handle.read(bytes, 0, entry.size, entry.offset);
      if (bytesRead !== entry.size) {
        throw TfServingError.invalidArgument(`Checkpoint shard ${shard} is truncated at ${key}`);
      }
    } finally {
      await handle.close();
    }
    return { dtype: entry.dtype, shape: entry.shape, bytes };
  }
}
