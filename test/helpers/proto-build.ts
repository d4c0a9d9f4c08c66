/**
 * Tiny builders for plain ONNX proto objects (the shapes of src/onnx/proto-types.ts), so tests can
 * make the models they need in TypeScript and encode them with the project's codec.
 */
import { encode } from '../../src/onnx/codec.js';
import type {
  AttributeProto,
  GraphProto,
  ModelProto,
  NodeProto,
  StringStringEntryProto,
  TensorProto,
  ValueInfoProto,
} from '../../src/onnx/proto-types.js';

export const FLOAT = 1;

/** A float32 tensor with raw_data (little-endian). */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  const f = Float32Array.from(values as ArrayLike<number>);
  return { name, dims: [...dims], data_type: FLOAT, raw_data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

/** An int64 tensor with raw_data. */
export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const a = BigInt64Array.from(values.map(BigInt));
  return { name, dims: [...dims], data_type: 7, raw_data: new Uint8Array(a.buffer) };
}

/** ValueInfoProto of a tensor: dims are numbers (fixed) or strings (symbolic). */
export function tensorInfo(name: string, elemType: number, dims: (number | string)[], extra: Partial<ValueInfoProto> = {}): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
    ...extra,
  };
}

export function node(opType: string, inputs: string[], outputs: string[], name?: string, extra: Partial<NodeProto> = {}): NodeProto {
  const n: NodeProto = { input: inputs, output: outputs, op_type: opType };
  if (name !== undefined) n.name = name;
  return { ...n, ...extra };
}

export function intAttr(name: string, i: number): AttributeProto {
  return { name, i, type: 2 };
}

export function graphAttr(name: string, g: GraphProto): AttributeProto {
  return { name, g, type: 5 };
}

export function props(entries: Record<string, string>): StringStringEntryProto[] {
  return Object.entries(entries).map(([key, value]) => ({ key, value }));
}

export interface ModelSpec {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
  valueInfo?: ValueInfoProto[];
  graphName?: string;
  irVersion?: number;
  opset?: number;
  extraOpsets?: { domain: string; version: number }[];
}

export function model(spec: ModelSpec): ModelProto {
  const graph: GraphProto = {
    node: spec.nodes,
    name: spec.graphName ?? 'test_graph',
    input: spec.inputs,
    output: spec.outputs,
  };
  if (spec.initializers?.length) graph.initializer = spec.initializers;
  if (spec.valueInfo?.length) graph.value_info = spec.valueInfo;
  return {
    ir_version: spec.irVersion ?? 8,
    producer_name: 'iqa-surgeon-tests',
    opset_import: [{ domain: '', version: spec.opset ?? 13 }, ...(spec.extraOpsets ?? [])],
    graph,
  };
}

export function modelBytes(spec: ModelSpec | ModelProto): Uint8Array {
  const m = 'nodes' in spec ? model(spec as ModelSpec) : (spec as ModelProto);
  return encode(m, 'ModelProto');
}

/**
 * A small float model: x[1,4] -> Mul(w) -> Relu -> Add(b) -> y[1,4], with value_info for the
 * intermediate values. Four-element initializers (16 bytes) are inline by default; `big` makes
 * them 1024 elements wide so they pass the default external-data threshold.
 */
export function smallMlp(opts: { big?: boolean } = {}): ModelProto {
  const n = opts.big ? 1024 : 4;
  const w = Array.from({ length: n }, (_, i) => 0.5 + i / n);
  const b = Array.from({ length: n }, (_, i) => (i % 7) - 3);
  return model({
    nodes: [node('Mul', ['x', 'w'], ['xw'], 'mul'), node('Relu', ['xw'], ['r'], 'relu'), node('Add', ['r', 'b'], ['y'], 'add')],
    inputs: [tensorInfo('x', FLOAT, [1, n])],
    outputs: [tensorInfo('y', FLOAT, [1, n])],
    initializers: [floatTensor('w', [n], w), floatTensor('b', [n], b)],
    valueInfo: [tensorInfo('xw', FLOAT, [1, n]), tensorInfo('r', FLOAT, [1, n])],
  });
}
