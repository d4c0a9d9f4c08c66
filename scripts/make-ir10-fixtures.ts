/**
 * Generate the IR 10 fixture models under fixtures/ir10/ (fields onnx-proto's IR 8 schema and
 * Debian's onnx 1.12 do not know), deterministically:
 *
 *     npx tsx scripts/make-ir10-fixtures.ts
 *
 * - `metadata_overload.onnx`: node `metadata_props` (NodeProto 9) and `overload` (NodeProto 8)
 *   calling a model-local function with an overload (FunctionProto 13), graph (16), value_info (4),
 *   tensor (16) and function (14) `metadata_props`, and unknown future fields (numbers 99/100 in
 *   ModelProto, 99 in a NodeProto, 77 in a TensorProto, 50 in a ValueInfoProto) kept where they
 *   were written, not at the end.
 * - `lowbit_tensors.onnx`: raw_data initializers of the float8 types (data_type 17..20) and of
 *   uint4/int4 (21/22), read by Cast and DequantizeLinear (opset 21) so ONNX Runtime can check
 *   the values: every float8 tensor holds [1, 2, -1, 1.5]; int4 holds [1, -2, 3, -4, 7] and
 *   uint4 [1, 2, 3, 4, 15] (two per byte, low nibble first).
 *
 * Messages are plain objects encoded with the project's codec; an unknown field is placed with a
 * raw entry in the message's wire layout (the codec's own mechanism for fields it does not know).
 * The test (test/onnx/ir10-fixtures.test.ts) regenerates the bytes in memory and checks that the
 * committed files are current.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encode, LAYOUT, type LayoutEntry } from '../src/onnx/codec.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/onnx/proto-types.js';

const FLOAT = 1;

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Wire bytes of one unknown length-delimited field. */
export function unknownBytesField(field: number, text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length), ...payload]);
}

/** Wire bytes of one unknown varint field. */
export function unknownVarintField(field: number, value: number): Uint8Array {
  return Uint8Array.from([...varint(field << 3), ...varint(value)]);
}

/** The unknown fields the fixtures carry, by where they sit (the test looks for these bytes). */
export const UNKNOWN = {
  modelBytes: unknownBytesField(99, 'future ModelProto field'),
  modelVarint: unknownVarintField(100, 20260101),
  node: unknownBytesField(99, 'future NodeProto field'),
  tensor: unknownBytesField(77, 'future TensorProto field'),
  valueInfo: unknownBytesField(50, 'future ValueInfoProto field'),
};

const single = (f: number): LayoutEntry => ({ f, n: 1, packed: false });

function info(name: string, dims: number[], extra: Partial<ValueInfoProto> = {}): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } },
    ...extra,
  };
}

function f32(name: string, dims: number[], values: number[], extra: Partial<TensorProto> = {}): TensorProto {
  const a = Float32Array.from(values);
  return { dims, data_type: FLOAT, name, raw_data: new Uint8Array(a.buffer), ...extra };
}

export function metadataOverloadModel(): ModelProto {
  // Identity node: inputs, then the unknown field, then every other field in number order
  const identity: NodeProto = {
    input: ['x'],
    output: ['t0'],
    name: 'n0_identity',
    op_type: 'Identity',
    metadata_props: [
      { key: 'source', value: 'exporter' },
      { key: 'pass', value: 'none' },
    ],
  };
  identity[LAYOUT] = [single(1), { raw: UNKNOWN.node }];

  const scaleTensor = f32('scale', [4], [0.5, 1, 2, 4], { metadata_props: [{ key: 'quant', value: 'none' }] });
  scaleTensor[LAYOUT] = [single(1), single(2), { raw: UNKNOWN.tensor }];

  const t0Info = info('t0', [1, 4], { metadata_props: [{ key: 'stage', value: 'stem' }] });
  t0Info[LAYOUT] = [single(1), { raw: UNKNOWN.valueInfo }];

  const model: ModelProto = {
    ir_version: 10,
    producer_name: 'iqa-surgeon make-ir10-fixtures',
    producer_version: '1',
    graph: {
      node: [
        identity,
        {
          input: ['t0', 'scale'],
          output: ['t1'],
          name: 'n1_scale',
          op_type: 'ScaleBy',
          domain: 'local',
          overload: 'v2',
          metadata_props: [{ key: 'role', value: 'overloaded call' }],
        },
        { input: ['t1'], output: ['y'], name: 'n2_relu', op_type: 'Relu', doc_string: 'plain node' },
      ],
      name: 'ir10_metadata',
      initializer: [scaleTensor],
      input: [info('x', [1, 4])],
      output: [info('y', [1, 4], { metadata_props: [{ key: 'unit', value: 'score' }] })],
      value_info: [t0Info, info('t1', [1, 4])],
      metadata_props: [{ key: 'graph.note', value: 'graph-level metadata (GraphProto 16)' }],
    },
    opset_import: [
      { domain: '', version: 21 },
      { domain: 'local', version: 1 },
    ],
    metadata_props: [{ key: 'iqa-surgeon.fixture', value: 'ir10/metadata_overload' }],
    functions: [
      {
        name: 'ScaleBy',
        input: ['a', 's'],
        output: ['o'],
        node: [{ input: ['a', 's'], output: ['o'], name: 'f_mul', op_type: 'Mul', metadata_props: [{ key: 'in', value: 'function' }] }],
        opset_import: [{ domain: '', version: 21 }],
        domain: 'local',
        overload: 'v2',
        value_info: [info('o', [1, 4])],
        metadata_props: [{ key: 'function.note', value: 'overload v2' }],
      },
    ],
  };
  // ir_version, the two unknown fields, then everything else in number order
  model[LAYOUT] = [single(1), { raw: UNKNOWN.modelBytes }, { raw: UNKNOWN.modelVarint }];
  return model;
}

/** data_type -> the four bytes that encode [1, 2, -1, 1.5] in that float8 format. */
export const FLOAT8_ONE_TWO_MINUS_ONE_ONE_HALF: Record<number, number[]> = {
  17: [0x38, 0x40, 0xb8, 0x3c], // float8e4m3fn (bias 7)
  18: [0x40, 0x48, 0xc0, 0x44], // float8e4m3fnuz (bias 8)
  19: [0x3c, 0x40, 0xbc, 0x3e], // float8e5m2 (bias 15)
  20: [0x40, 0x44, 0xc0, 0x42], // float8e5m2fnuz (bias 16)
};
export const INT4_VALUES = [1, -2, 3, -4, 7];
export const UINT4_VALUES = [1, 2, 3, 4, 15];

/** Two 4-bit values per byte, low nibble first (ONNX's packing). */
export function pack4(values: number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  values.forEach((v, i) => {
    out[i >> 1]! |= (v & 0x0f) << ((i & 1) * 4);
  });
  return out;
}

export function lowbitModel(): ModelProto {
  const initializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const outputs: ValueInfoProto[] = [];
  for (const [code, bytes] of Object.entries(FLOAT8_ONE_TWO_MINUS_ONE_ONE_HALF)) {
    const name = `f8_${code}`;
    const t: TensorProto = { dims: [4], data_type: Number(code), name, raw_data: Uint8Array.from(bytes) };
    if (code === '17') t.metadata_props = [{ key: 'format', value: 'e4m3fn' }];
    initializers.push(t);
    nodes.push({ input: [name], output: [`cast_${code}`], name: `cast_${code}`, op_type: 'Cast', attribute: [{ name: 'to', i: FLOAT, type: 2 }] });
    nodes.push({ input: [`cast_${code}`, 'x'], output: [`y_${code}`], name: `add_${code}`, op_type: 'Add' });
    outputs.push(info(`y_${code}`, [4]));
  }
  initializers.push({ dims: [5], data_type: 22, name: 'w_int4', raw_data: pack4(INT4_VALUES) });
  initializers.push({ dims: [5], data_type: 21, name: 'w_uint4', raw_data: pack4(UINT4_VALUES) });
  initializers.push(f32('one', [], [1]));
  nodes.push({ input: ['w_int4', 'one'], output: ['y_22'], name: 'dq_int4', op_type: 'DequantizeLinear' });
  nodes.push({ input: ['w_uint4', 'one'], output: ['y_21'], name: 'dq_uint4', op_type: 'DequantizeLinear' });
  outputs.push(info('y_22', [5]), info('y_21', [5]));
  return {
    ir_version: 10,
    producer_name: 'iqa-surgeon make-ir10-fixtures',
    producer_version: '1',
    graph: {
      node: nodes,
      name: 'ir10_lowbit',
      initializer: initializers,
      input: [info('x', [4])],
      output: outputs,
      value_info: [info('cast_17', [4], { metadata_props: [{ key: 'dtype', value: 'float8e4m3fn decoded' }] })],
    },
    opset_import: [{ domain: '', version: 21 }],
  };
}

/** File name -> bytes of every fixture. */
export function buildIr10Fixtures(): Map<string, Uint8Array> {
  return new Map([
    ['metadata_overload.onnx', encode(metadataOverloadModel(), 'ModelProto')],
    ['lowbit_tensors.onnx', encode(lowbitModel(), 'ModelProto')],
  ]);
}

export const IR10_FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/ir10');

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  mkdirSync(IR10_FIXTURE_DIR, { recursive: true });
  for (const [name, bytes] of buildIr10Fixtures()) {
    writeFileSync(path.join(IR10_FIXTURE_DIR, name), bytes);
    console.log(`wrote fixtures/ir10/${name} (${bytes.length} bytes)`);
  }
}
