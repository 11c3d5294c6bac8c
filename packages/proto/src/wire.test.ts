// Wire bytes worked out by hand from the protobuf encoding rules (tag = field << 3 | wire type), so that a
// wrong field number or type in proto/ shows up here rather than against a real TF Serving.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Int64ValueSchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import {
  DataType,
  GetModelStatusResponseSchema,
  ModelSpecSchema,
  ModelVersionStatus_State,
  PredictRequestSchema,
  SavedModelSchema,
  TensorProtoSchema,
} from './index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replaceAll(' ', ''), 'hex'));

describe('ModelSpec', () => {
  it('puts name in field 1, the Int64Value version in 2 and signature_name in 3', () => {
    const spec = create(ModelSpecSchema, {
      name: 'm',
      versionChoice: { case: 'version', value: create(Int64ValueSchema, { value: 3n }) },
      signatureName: 's',
    });
    // 0a 01 'm' | 12 02 (08 03) | 1a 01 's'
    expect(hex(toBinary(ModelSpecSchema, spec))).toBe('0a016d120208031a0173');
  });

  it('puts version_label in field 4', () => {
    const spec = create(ModelSpecSchema, {
      name: 'm',
      versionChoice: { case: 'versionLabel', value: 'stable' },
    });
    expect(hex(toBinary(ModelSpecSchema, spec))).toBe(`0a016d2206${Buffer.from('stable').toString('hex')}`);
  });

  it('reads fields in any order, the last version choice winning', () => {
    const spec = fromBinary(ModelSpecSchema, bytes('1a0173 2206737461626c65 0a016d 12020807'));
    expect(spec.name).toBe('m');
    expect(spec.signatureName).toBe('s');
    expect(spec.versionChoice.case).toBe('version');
    expect(spec.versionChoice.value).toMatchObject({ value: 7n });
  });
});

describe('TensorProto', () => {
  it('encodes dtype 1, shape in field 2 and float_val packed in field 5', () => {
    const tensor = create(TensorProtoSchema, {
      dtype: DataType.DT_FLOAT,
      tensorShape: { dim: [{ size: 2n }] },
      floatVal: [1, 2],
    });
    // 08 01 | 12 04 (12 02 (08 02)) | 2a 08 (0000803f 00000040)
    expect(hex(toBinary(TensorProtoSchema, tensor))).toBe('0801120412020802' + '2a080000803f00000040');
  });

  it('accepts float_val unpacked (wire type 5, one tag per value)', () => {
    const tensor = fromBinary(TensorProtoSchema, bytes('0801 2d0000803f 2d00000040'));
    expect(tensor.floatVal).toEqual([1, 2]);
  });

  it('encodes int64_val in field 10 as packed varints, negatives in ten bytes', () => {
    const tensor = create(TensorProtoSchema, { dtype: DataType.DT_INT64, int64Val: [-1n, 300n] });
    // 08 09 | 52 0c (ffffffffffffffffff01 ac02)
    expect(hex(toBinary(TensorProtoSchema, tensor))).toBe('0809520cffffffffffffffffff01ac02');
  });

  it('carries raw bytes in tensor_content (4), strings in string_val (8), bools in bool_val (11)', () => {
    const tensor = create(TensorProtoSchema, {
      dtype: DataType.DT_STRING,
      tensorContent: new Uint8Array([1, 2]),
      stringVal: [new Uint8Array([0x61])],
      boolVal: [true],
    });
    expect(hex(toBinary(TensorProtoSchema, tensor))).toBe('0807' + '22020102' + '420161' + '5a0101');
  });

  it('places half_val (13), uint32_val (16) and uint64_val (17) at their numbers', () => {
    const tensor = create(TensorProtoSchema, { halfVal: [0x3c00], uint32Val: [5], uint64Val: [6n] });
    // 6a 02 (80 78) | 82 01 01 05 | 8a 01 01 06
    expect(hex(toBinary(TensorProtoSchema, tensor))).toBe('6a028078' + '82010105' + '8a010106');
  });
});

describe('PredictRequest', () => {
  it('puts model_spec in 1 and the inputs map in 2 as {key=1, value=2} entries', () => {
    const request = create(PredictRequestSchema, {
      modelSpec: { name: 'm' },
      inputs: { x: create(TensorProtoSchema, { dtype: DataType.DT_FLOAT }) },
      outputFilter: ['y'],
    });
    // 0a 03 (0a 01 'm') | 12 07 (0a 01 'x' 12 02 (08 01)) | 1a 01 'y'
    expect(hex(toBinary(PredictRequestSchema, request))).toBe(
      '0a030a016d' + '12070a0178120208 01'.replaceAll(' ', '') + '1a0179',
    );
  });
});

describe('GetModelStatusResponse', () => {
  it('reads version 1, state 2 and the StatusProto in 3', () => {
    // 0a 0a (08 01 | 10 1e | 1a 04 (08 05 12 00)) -> version 1, AVAILABLE (30), NOT_FOUND (5)
    const response = fromBinary(GetModelStatusResponseSchema, bytes('0a0a 0801 101e 1a04 0805 1200'));
    const [status] = response.modelVersionStatus;
    expect(status?.version).toBe(1n);
    expect(status?.state).toBe(ModelVersionStatus_State.AVAILABLE);
    expect(status?.status?.errorCode).toBe(5);
  });
});

describe('SavedModel', () => {
  it('writes saved_model_schema_version in 1 and the serve tag in meta_graphs(2).meta_info_def(1).tags(4)', () => {
    const model = create(SavedModelSchema, {
      savedModelSchemaVersion: 1n,
      metaGraphs: [{ metaInfoDef: { tags: ['serve'] } }],
    });
    // 08 01 | 12 09 (0a 07 (22 05 'serve'))
    expect(hex(toBinary(SavedModelSchema, model))).toBe(
      '0801' + '12090a072205' + Buffer.from('serve').toString('hex'),
    );
  });
});
