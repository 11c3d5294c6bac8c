"""Generate TensorProto test vectors with real TensorFlow.

Rerun from the repo root, in a venv holding tensorflow-cpu==2.21.0:

    python3 -m venv /root/.cache/modelgate/tf-venv-2.21.0
    /root/.cache/modelgate/tf-venv-2.21.0/bin/pip install tensorflow-cpu==2.21.0
    . /root/.cache/modelgate/tf-venv-2.21.0/bin/activate
    python packages/proto/scripts/make_tensor_protos.py

It writes ../testdata/tensorflow-tensor-protos.json (relative to this file). Output is deterministic:
fixed inputs, stable case order, sorted keys.

Each case holds TF's own serialization (protoHex) and TF's own reading of it (tf.make_ndarray), so the
TypeScript codec can be checked against both directions. "field" names the TensorProto field TF's code
path filled; for empty tensors that field has no entries, so nothing but dtype and shape is on the wire.
Case names: "content" = make_tensor_proto of a full [2,3] ndarray (TF still picks *_val for bool, string
and uint16), "repeated" = a hand-built proto with all values in the dtype's *_val field.
"""

import base64
import json
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiet C++ logs; no effect on protos
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import tensor_pb2, types_pb2  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "testdata" / "tensorflow-tensor-protos.json"
UTF8 = "h\u00e9llo \u20ac \U0001f600".encode()  # 2-, 3- and 4-byte UTF-8 sequences
F16_TINY = 2.0**-24  # smallest float16 subnormal
BF16_TINY = 2.0**-133  # smallest bfloat16 subnormal
BF16_MAX = 3.3895313892515355e38  # 0x7f7f

# dtype -> (TF dtype, TF's repeated field, [2,3] values, scalar value, broadcast value).
# Float sets cover NaN, +/-inf, -0.0, subnormals and extremes; ints cover min/max and int64 beyond 2**53.
SPECS = {
    "float32": (tf.float32, "float_val",
                [math.nan, math.inf, -math.inf, -0.0, 1e-45, 1e-30], -1.5, 3.4028234663852886e38),
    "float64": (tf.float64, "double_val",
                [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1e-30], 0.1, 1.7976931348623157e308),
    "int8": (tf.int8, "int_val", [-128, 127, -1, 0, 1, 42], -128, 127),
    "int16": (tf.int16, "int_val", [-32768, 32767, -1, 0, 1, 1000], -32768, 32767),
    "int32": (tf.int32, "int_val", [-2**31, 2**31 - 1, -1, 0, 1, 123456789], -2**31, 2**31 - 1),
    "int64": (tf.int64, "int64_val",
              [-2**63, 2**63 - 1, 2**62 + 1, -(2**53 + 1), 2**53 + 1, -1], -2**63, 2**62 + 1),
    "uint8": (tf.uint8, "int_val", [0, 1, 127, 128, 254, 255], 255, 200),
    "uint16": (tf.uint16, "int_val", [0, 1, 32767, 32768, 65534, 65535], 65535, 40000),
    "uint32": (tf.uint32, "uint32_val", [0, 1, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1], 2**32 - 1, 2**31),
    "uint64": (tf.uint64, "uint64_val",
               [0, 1, 2**53 + 1, 2**63, 2**63 + 1, 2**64 - 1], 2**64 - 1, 2**63 + 1),
    "bool": (tf.bool, "bool_val", [True, False, False, True, True, False], True, True),
    "string": (tf.string, "string_val",
               [b"", b"ascii", UTF8, b"\x00\xff\x00bin\xff", b"a", b"zz"], UTF8, b"\x00\xffx"),
    "float16": (tf.float16, "half_val",
                [1.0, -2.5, 65504.0, -0.0, F16_TINY, math.inf], math.nan, -math.inf),
    "bfloat16": (tf.bfloat16, "half_val",
                 [1.0, -2.5, BF16_MAX, -0.0, BF16_TINY, math.inf], math.nan, -math.inf),
}
HALF_TYPES = (tf.float16, tf.bfloat16)


def np_array(values, dt, shape):
    # Object arrays keep byte strings intact (a fixed-width "S" array would strip trailing NULs).
    np_dt = object if dt == tf.string else dt.as_numpy_dtype
    return np.array(values, dtype=np_dt).reshape(shape)


def encode(arr, dt):
    """JSON form of a flattened array (half/bfloat16 as bit patterns, 64-bit ints as strings)."""
    flat = np.asarray(arr).reshape(-1)
    if dt in HALF_TYPES:
        return [int(b) for b in flat.view(np.uint16)]  # the bit patterns half_val carries
    if dt in (tf.float32, tf.float64):
        return [("NaN" if math.isnan(x) else "Infinity" if x > 0 else "-Infinity")
                if not math.isfinite(x) else x for x in map(float, flat)]
    if dt in (tf.int64, tf.uint64):
        return [str(int(x)) for x in flat]  # exact beyond 2**53
    if dt == tf.bool:
        return [bool(x) for x in flat]
    if dt == tf.string:
        return [base64.b64encode(bytes(x)).decode("ascii") for x in flat]
    return [int(x) for x in flat]


def make_case(name, proto, expected, field):
    dt = tf.dtypes.as_dtype(proto.dtype)
    got = tf.make_ndarray(proto)
    shape = [d.size for d in proto.tensor_shape.dim]
    values = encode(got, dt)
    # Compare JSON text so NaN matches NaN and -0.0 differs from 0.0.
    want = encode(np.asarray(expected).astype(got.dtype) if dt != tf.string else expected, dt)
    assert list(got.shape) == shape, (name, got.shape, shape)
    assert json.dumps(values) == json.dumps(want), (name, values, want)
    # The field we name must be the only value field TF set (or none, for empty tensors).
    set_fields = [f.name for f, _ in proto.ListFields() if f.name not in ("dtype", "tensor_shape")]
    assert set_fields in ([field], []), (name, set_fields, field)
    assert bool(set_fields) == bool(values), (name, set_fields)
    return {
        "name": name,
        "dtype": types_pb2.DataType.Name(proto.dtype),
        "dtypeEnum": int(proto.dtype),
        "shape": shape,
        "field": field,
        "values": values,
        "protoHex": proto.SerializeToString().hex(),
    }


def used_field(proto, fallback):
    fields = [f.name for f, _ in proto.ListFields() if f.name not in ("dtype", "tensor_shape")]
    return fields[0] if fields else fallback


def cases_for(key, content_fields):
    dt, val_field, vals, scalar, bcast = SPECS[key]
    full = np_array(vals, dt, [2, 3])
    out = []

    p = tf.make_tensor_proto(full, dt)
    content_fields[key] = used_field(p, "?")
    out.append(make_case(f"{key}_2x3_content", p, full, content_fields[key]))

    p = tf.make_tensor_proto(scalar, dt)
    out.append(make_case(f"{key}_scalar", p, np_array([scalar], dt, []), used_field(p, val_field)))

    # One stored value; readers repeat the last value to fill the shape.
    p = tf.make_tensor_proto(bcast, dt, shape=[2, 2])
    out.append(make_case(f"{key}_2x2_broadcast", p, np_array([bcast] * 4, dt, [2, 2]),
                         used_field(p, val_field)))

    # Size 0 skips tensor_content and appends nothing to *_val, so the field is TF's *_val path.
    for shape in ([0], [2, 0]):
        p = tf.make_tensor_proto(np_array([], dt, shape), dt)
        label = "x".join(map(str, shape))
        out.append(make_case(f"{key}_{label}_empty", p, np_array([], dt, shape), val_field))

    p = tensor_pb2.TensorProto(dtype=dt.as_datatype_enum,
                               tensor_shape=tf.TensorShape([2, 3]).as_proto())
    if dt in HALF_TYPES:
        stored = [int(b) for b in full.reshape(-1).view(np.uint16)]
    elif dt == tf.string:
        stored = list(vals)
    else:
        stored = [v.item() for v in full.reshape(-1)]
    getattr(p, val_field).extend(stored)
    out.append(make_case(f"{key}_2x3_repeated", p, full, val_field))
    return out


def main():
    content_fields = {}
    cases = [c for key in SPECS for c in cases_for(key, content_fields)]

    r3 = np.arange(6, dtype=np.float32).reshape(2, 1, 3) - 2.5
    p = tf.make_tensor_proto(r3, tf.float32)
    cases.append(make_case("float32_2x1x3_content", p, r3, used_field(p, "?")))
    # Rank-0 string with the bytes a UTF-8 decoder would choke on.
    raw = b"\x00\xff\xfe raw"
    p = tf.make_tensor_proto(raw, tf.string)
    cases.append(make_case("string_scalar_binary", p, np_array([raw], tf.string, []), used_field(p, "?")))

    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"

    doc = {
        "generator": "packages/proto/scripts/make_tensor_protos.py",
        "tensorflow": tf.__version__,
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")
    for key, field in content_fields.items():
        print(f"  {key:9s} 2x3 make_tensor_proto -> {field}")


if __name__ == "__main__":
    main()
