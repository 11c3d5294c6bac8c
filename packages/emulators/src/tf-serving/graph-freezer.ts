import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  type AttrValue,
  DataType,
  decodeTensor,
  type FunctionDef,
  type GraphDef,
  GraphDefSchema,
  type NodeDef,
  NodeDefSchema,
  type OpDef,
  type SaverDef,
  TensorProtoSchema,
} from '@modelgate/proto';
import { TensorBundle } from './tensor-bundle.js';
import { TfServingError } from './tf-serving-error.js';
import { TFJS_CONVERTER_OPS } from './tfjs-ops.js';

/**
 * Turns a SavedModel's graph into the plain GraphDef tfjs-converter runs, doing what TensorFlow's loader and
 * grappler do before a TF2 SavedModel runs: function calls (StatefulPartitionedCall, PartitionedCall) are
 * inlined from the graph's function library; variables (VarHandleOp, VariableV2) become constants holding their
 * checkpointed values, found by following the SaverDef's restore op (RestoreV2 -> AssignVariableOp) exactly as
 * the loader runs it; ReadVariableOp becomes Identity; only what the signatures' outputs need is kept.
 * Anything else the graph would need is refused with a message that names the export folder and the op.
 */

const CALL_OPS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);
const VARIABLE_OPS = new Set(['VarHandleOp', 'VariableV2', 'Variable']);
const ASSIGN_OPS = new Set(['AssignVariableOp', 'Assign']);
const RESTORE_OPS = new Set(['RestoreV2', 'Restore']);

/** Output argument names of ops with more than one output argument, for `node:arg:index` references. */
const OUTPUT_ARGS: Readonly<Record<string, readonly string[]>> = {
  TopKV2: ['values', 'indices'],
  Unique: ['y', 'idx'],
  UniqueV2: ['y', 'idx'],
  ListDiff: ['out', 'idx'],
  Switch: ['output_false', 'output_true'],
  Merge: ['output', 'value_index'],
  MaxPoolWithArgmax: ['output', 'argmax'],
  FusedBatchNorm: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV2: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV3: [
    'y',
    'batch_mean',
    'batch_variance',
    'reserve_space_1',
    'reserve_space_2',
    'reserve_space_3',
  ],
  NonMaxSuppressionV4: ['selected_indices', 'valid_outputs'],
  NonMaxSuppressionV5: ['selected_indices', 'selected_scores', 'valid_outputs'],
  SparseFillEmptyRows: ['output_indices', 'output_values', 'empty_row_indicator', 'reverse_index_map'],
  SparseReshape: ['output_indices', 'output_shape'],
  StringSplit: ['indices', 'values', 'shape'],
  StringNGrams: ['ngrams', 'ngrams_splits'],
};

function refuse(exportDir: string, reason: string): TfServingError {
  return TfServingError.unimplemented(
    `The SavedModel at ${exportDir} cannot run on the tfjs graph runner: ${reason}`,
  );
}

/** `node:2` -> ['node', 2]; `node` -> ['node', 0]. */
function splitTensorName(tensor: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(tensor);
  return match ? [match[1] as string, Number(match[2])] : [tensor, 0];
}

const isControl = (input: string) => input.startsWith('^');

class FunctionInliner {
  private readonly library: ReadonlyMap<string, FunctionDef>;

  constructor(
    graphDef: GraphDef,
    private readonly exportDir: string,
  ) {
    this.library = new Map((graphDef.library?.function ?? []).map((fn) => [fn.signature?.name ?? '', fn]));
  }

  /** The graph with every call replaced by the function's body (recursively) and an IdentityN of its results. */
  inline(nodes: readonly NodeDef[]): NodeDef[] {
    const out: NodeDef[] = [];
    const work = [...nodes];
    let expanded = 0;
    for (let node = work.shift(); node !== undefined; node = work.shift()) {
      if (!CALL_OPS.has(node.op)) {
        out.push(node);
        continue;
      }
      if (++expanded > 10_000) throw refuse(this.exportDir, 'function calls nest too deeply');
      work.unshift(...this.expand(node));
    }
    return out;
  }

  private expand(call: NodeDef): NodeDef[] {
    const f = call.attr.f?.value;
    const name = f?.case === 'func' ? f.value.name : '';
    const fn = this.library.get(name);
    if (!fn?.signature)
      throw refuse(this.exportDir, `${call.op} ${call.name} calls unknown function "${name}"`);
    const args = call.input.filter((input) => !isControl(input));
    const argNames = fn.signature.inputArg.map((arg) => arg.name);
    if (args.length !== argNames.length) {
      throw refuse(
        this.exportDir,
        `${call.name} passes ${args.length} inputs to ${name}, which takes ${argNames.length}`,
      );
    }
    const argTensors = new Map(argNames.map((arg, i) => [arg, args[i] as string]));
    const prefix = `${call.name}/`;
    const opOf = new Map(fn.nodeDef.map((node) => [node.name, node.op]));
    const resolve = (reference: string): string => {
      const passed = argTensors.get(reference);
      if (passed !== undefined) return passed;
      const [node, outArg, index] = reference.split(':');
      const outputs = OUTPUT_ARGS[opOf.get(node as string) ?? ''];
      const position = outputs ? Math.max(outputs.indexOf(outArg as string), 0) : 0;
      return `${prefix}${node}:${position + Number(index ?? 0)}`;
    };
    const body = fn.nodeDef.map((node) =>
      create(NodeDefSchema, {
        name: `${prefix}${node.name}`,
        op: node.op,
        attr: node.attr,
        input: node.input.filter((input) => !isControl(input)).map(resolve),
      }),
    );
    const results = create(NodeDefSchema, {
      name: call.name,
      op: 'IdentityN',
      input: fn.signature.outputArg.map((arg) => resolve(fn.ret[arg.name] ?? '')),
    });
    return [...body, results];
  }
}

/** Follows Identity nodes back to the tensor they pass on. */
function throughIdentities(tensor: string, byName: ReadonlyMap<string, NodeDef>): string {
  let current = tensor;
  for (let hops = 0; hops < 1000; hops++) {
    const [name] = splitTensorName(current);
    const node = byName.get(name);
    if (node?.op !== 'Identity' || node.input[0] === undefined) return current;
    current = node.input[0];
  }
  return current;
}

function stringList(node: NodeDef | undefined): string[] {
  const value = node?.attr.value?.value;
  if (value?.case !== 'tensor') return [];
  const decoder = new TextDecoder();
  return value.value.stringVal.map((bytes) => decoder.decode(bytes));
}

/** Variable node -> checkpoint key, read off the restore graph's RestoreV2 -> Assign pairs. */
function restoredVariables(nodes: readonly NodeDef[]): Map<string, string> {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const keys = new Map<string, string>();
  for (const node of nodes) {
    if (!ASSIGN_OPS.has(node.op) || node.input.length < 2) continue;
    const [variable] = splitTensorName(throughIdentities(node.input[0] as string, byName));
    const [restore, index] = splitTensorName(throughIdentities(node.input[1] as string, byName));
    const restoreNode = byName.get(restore);
    if (!restoreNode || !RESTORE_OPS.has(restoreNode.op)) continue;
    const [namesNode] = splitTensorName(throughIdentities(restoreNode.input[1] ?? '', byName));
    const key = stringList(byName.get(namesNode))[index];
    if (key !== undefined) keys.set(variable, key);
  }
  return keys;
}

/** The nodes the fetched tensors depend on, in graph order. */
function prune(nodes: readonly NodeDef[], fetches: readonly string[]): NodeDef[] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const needed = new Set<string>();
  const stack = fetches.map((tensor) => splitTensorName(tensor)[0]);
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    if (needed.has(name)) continue;
    needed.add(name);
    for (const input of byName.get(name)?.input ?? []) {
      if (!isControl(input)) stack.push(splitTensorName(input)[0]);
    }
  }
  return nodes.filter((node) => needed.has(node.name));
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

/**
 * tfjs weights hold int32, not int64: an int64 constant is narrowed when every value fits (Keras's Embedding
 * compares int64 ids with int64 constants such as its input dim), and the graph is refused otherwise, so that
 * no value is ever changed.
 */
function narrowedInt64(exportDir: string, node: NodeDef, bytes: Uint8Array): Uint8Array {
  const wide = new BigInt64Array(bytes.slice().buffer);
  const index = wide.findIndex((value) => value < INT32_MIN || value > INT32_MAX);
  if (index >= 0) {
    throw refuse(
      exportDir,
      `${node.op} ${node.name} holds the int64 value ${wide[index]}, which tfjs (int32 at most) cannot hold`,
    );
  }
  return new Uint8Array(Int32Array.from(wide, (value) => Number(value)).buffer);
}

function tfjsConstant(
  exportDir: string,
  node: NodeDef,
  dtype: DataType,
  shape: number[],
  bytes: Uint8Array,
): NodeDef {
  let outDtype = dtype;
  let content = bytes;
  if (dtype === DataType.DT_DOUBLE) throw doubleRefusal(exportDir, node);
  if (dtype === DataType.DT_INT64) {
    content = narrowedInt64(exportDir, node, bytes);
    outDtype = DataType.DT_INT32;
  }
  const tensor = create(TensorProtoSchema, {
    dtype: outDtype,
    tensorShape: { dim: shape.map((size) => ({ size: BigInt(size) })) },
    tensorContent: content,
  });
  return create(NodeDefSchema, {
    name: node.name,
    op: 'Const',
    attr: {
      dtype: { value: { case: 'type', value: outDtype } },
      value: { value: { case: 'tensor', value: tensor } },
    },
  });
}

/** tfjs computes float64 in float32: a graph that computes in double would answer other values. */
function doubleRefusal(exportDir: string, node: NodeDef): TfServingError {
  return refuse(
    exportDir,
    `op ${node.op} (node ${node.name}) computes in DT_DOUBLE, which tfjs would compute in float32`,
  );
}

function usesDouble(node: NodeDef): boolean {
  return Object.values(node.attr).some(
    (attr) =>
      (attr.value.case === 'type' && attr.value.value === DataType.DT_DOUBLE) ||
      (attr.value.case === 'list' && attr.value.value.type.includes(DataType.DT_DOUBLE)),
  );
}

/** Ops whose bodies are functions: tfjs-converter runs them from a function library this runner does not convert. */
const FUNCTIONAL_CONTROL_FLOW = new Set([
  'While',
  'StatelessWhile',
  'If',
  'StatelessIf',
  'Case',
  'StatelessCase',
]);
/** Tables are filled by the SavedModel's init op, which this runner does not run. */
const TABLE_OPS = new Set(['HashTable', 'HashTableV2', 'MutableHashTable', 'MutableHashTableV2']);

/**
 * A Const as tfjs can hold it: int64 narrowed to int32 when every value fits (else refused), double refused.
 * Non-numeric and other dtypes go through unchanged.
 */
function tfjsConst(exportDir: string, node: NodeDef): NodeDef {
  const value = node.attr.value?.value;
  if (value?.case !== 'tensor') return node;
  const tensor = value.value;
  if (tensor.dtype === DataType.DT_DOUBLE) throw doubleRefusal(exportDir, node);
  if (tensor.dtype !== DataType.DT_INT64) return node;
  const decoded = decodeTensor(tensor, { name: node.name });
  const values = decoded.values as BigInt64Array;
  return tfjsConstant(
    exportDir,
    node,
    DataType.DT_INT64,
    decoded.shape,
    new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  );
}

/**
 * SavedModels are written with default-valued attrs stripped (Conv2D's `dilations`, MaxPool's `data_format`);
 * TensorFlow's loader puts them back from the MetaGraphDef's stripped_op_list, and so does this.
 */
function withDefaultAttrs(node: NodeDef, opDef: OpDef | undefined): Record<string, AttrValue> {
  if (!opDef) return node.attr;
  let attr = node.attr;
  for (const def of opDef.attr) {
    if (def.defaultValue === undefined || def.name in attr) continue;
    if (attr === node.attr) attr = { ...node.attr };
    attr[def.name] = def.defaultValue;
  }
  return attr;
}

/**
 * TensorFlow's session feeds a Placeholder whatever shape comes (the real server checks no input shape before
 * running); tfjs-converter refuses a feed whose shape differs from the Placeholder's `shape` attr. Without the
 * attr, tfjs runs the graph and its kernels answer as TensorFlow's would (an element-wise model takes any shape).
 */
function feedableAttrs(op: string, attr: Record<string, AttrValue>): Record<string, AttrValue> {
  if (op !== 'Placeholder' || !('shape' in attr)) return attr;
  const { shape: _shape, ...rest } = attr;
  return rest;
}

export interface FreezeOptions {
  exportDir: string;
  saverDef: SaverDef | undefined;
  /** The MetaGraphDef's stripped_op_list: the OpDefs whose attr defaults the export left out. */
  opDefs?: readonly OpDef[];
  /** Tensor names (`y:0`) the signatures fetch. */
  fetches: readonly string[];
}

/** The plain, variable-free GraphDef for the fetches; refuses what tfjs-converter cannot run. */
export async function freezeGraph(graphDef: GraphDef, options: FreezeOptions): Promise<GraphDef> {
  const { exportDir, fetches } = options;
  const opDefs = new Map((options.opDefs ?? []).map((def) => [def.name, def]));
  const flat = new FunctionInliner(graphDef, exportDir).inline(graphDef.node);
  const variables = restoredVariables(flat);
  const kept = prune(flat, fetches);
  const needsCheckpoint = kept.some((node) => VARIABLE_OPS.has(node.op));
  const bundle = needsCheckpoint ? await openCheckpoint(exportDir, options.saverDef) : undefined;
  const nodes: NodeDef[] = [];
  for (const node of kept) {
    if (VARIABLE_OPS.has(node.op)) {
      const key = variables.get(node.name);
      if (key === undefined || !bundle) {
        throw refuse(exportDir, `variable ${node.name} is not restored by the SavedModel's restore op`);
      }
      const tensor = await bundle.read(key);
      nodes.push(tfjsConstant(exportDir, node, tensor.dtype, tensor.shape, tensor.bytes));
      continue;
    }
    const op = node.op === 'ReadVariableOp' ? 'Identity' : node.op;
    if (!TFJS_CONVERTER_OPS.has(op)) {
      throw refuse(exportDir, `op ${op} (node ${node.name}) is not supported by tfjs-converter 4.22`);
    }
    if (FUNCTIONAL_CONTROL_FLOW.has(op)) {
      throw refuse(
        exportDir,
        `op ${op} (node ${node.name}) runs function bodies, which this runner does not convert`,
      );
    }
    if (TABLE_OPS.has(op)) {
      throw refuse(
        exportDir,
        `op ${op} (node ${node.name}) is filled by the SavedModel's init op, which this runner does not run`,
      );
    }
    if (op === 'Const') {
      nodes.push(tfjsConst(exportDir, node));
      continue;
    }
    if (usesDouble(node)) throw doubleRefusal(exportDir, node);
    nodes.push(
      create(NodeDefSchema, {
        name: node.name,
        op,
        device: node.device,
        attr: feedableAttrs(op, withDefaultAttrs(node, opDefs.get(node.op))),
        input: node.input.filter((input) => !isControl(input)),
      }),
    );
  }
  return create(GraphDefSchema, { node: nodes, versions: graphDef.versions });
}

async function openCheckpoint(exportDir: string, saverDef: SaverDef | undefined): Promise<TensorBundle> {
  if (!saverDef) throw refuse(exportDir, 'the graph has variables but no SaverDef to restore them');
  return TensorBundle.open(join(exportDir, 'variables', 'variables'));
}
