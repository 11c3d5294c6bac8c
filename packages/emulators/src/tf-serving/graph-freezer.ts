import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  DataType,
  type FunctionDef,
  type GraphDef,
  GraphDefSchema,
  type NodeDef,
  NodeDefSchema,
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

/** tfjs weights hold float32 and int32: narrow float64 and int64 constants (tfjs computes in those anyway). */
function tfjsConstant(node: NodeDef, dtype: DataType, shape: number[], bytes: Uint8Array): NodeDef {
  let outDtype = dtype;
  let content = bytes;
  if (dtype === DataType.DT_DOUBLE) {
    const wide = new Float64Array(bytes.slice().buffer);
    content = new Uint8Array(Float32Array.from(wide).buffer);
    outDtype = DataType.DT_FLOAT;
  } else if (dtype === DataType.DT_INT64) {
    const wide = new BigInt64Array(bytes.slice().buffer);
    content = new Uint8Array(Int32Array.from(wide, (value) => Number(value)).buffer);
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

export interface FreezeOptions {
  exportDir: string;
  saverDef: SaverDef | undefined;
  /** Tensor names (`y:0`) the signatures fetch. */
  fetches: readonly string[];
}

/** The plain, variable-free GraphDef for the fetches; refuses what tfjs-converter cannot run. */
export async function freezeGraph(graphDef: GraphDef, options: FreezeOptions): Promise<GraphDef> {
  const { exportDir, fetches } = options;
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
      nodes.push(tfjsConstant(node, tensor.dtype, tensor.shape, tensor.bytes));
      continue;
    }
    const op = node.op === 'ReadVariableOp' ? 'Identity' : node.op;
    if (!TFJS_CONVERTER_OPS.has(op)) {
      throw refuse(exportDir, `op ${op} (node ${node.name}) is not supported by tfjs-converter 4.22`);
    }
    nodes.push(
      create(NodeDefSchema, {
        name: node.name,
        op,
        device: node.device,
        attr: node.attr,
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
