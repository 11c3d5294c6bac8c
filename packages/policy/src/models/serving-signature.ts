import { DataType, type SignatureDef, type TensorInfo } from '@modelgate/proto';

// A model's serving signature as clients see it: the aliases they send and receive, with dtypes and shapes.
// Read from a SavedModel's MetaGraphDef for the team's own models; the stack description, payload generators
// and the contract suite take it from here.

/** One input or output of a signature. */
export interface TensorDescription {
  /** The key clients use in requests and responses, e.g. `x`. */
  alias: string;
  /** The graph tensor it maps to, e.g. `serving_default_x:0`; empty for composite tensors. */
  tensorName: string;
  /** TensorFlow's dtype name, e.g. `DT_FLOAT`. */
  dtype: string;
  /** Dimensions, -1 where unknown (the batch dimension, usually); null when the rank itself is unknown. */
  shape: number[] | null;
}

export interface ServingSignature {
  /** The signature key, e.g. `serving_default`. */
  key: string;
  /** e.g. `tensorflow/serving/predict`. */
  methodName: string;
  inputs: TensorDescription[];
  outputs: TensorDescription[];
}

export const SERVING_DEFAULT = 'serving_default';

function describeTensor(alias: string, info: TensorInfo): TensorDescription {
  const shape = info.tensorShape;
  return {
    alias,
    tensorName: info.encoding.case === 'name' ? info.encoding.value : '',
    dtype: DataType[info.dtype] ?? `DT_${info.dtype}`,
    shape: !shape || shape.unknownRank ? null : shape.dim.map((dim) => Number(dim.size)),
  };
}

const byAlias = (a: TensorDescription, b: TensorDescription) =>
  a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0;

/** The signature as clients see it, inputs and outputs sorted by alias (TF Serving's metadata order). */
export function servingSignature(key: string, def: SignatureDef): ServingSignature {
  return {
    key,
    methodName: def.methodName,
    inputs: Object.entries(def.inputs)
      .map(([alias, info]) => describeTensor(alias, info))
      .sort(byAlias),
    outputs: Object.entries(def.outputs)
      .map(([alias, info]) => describeTensor(alias, info))
      .sort(byAlias),
  };
}
