/**
 * A small helper for adding nodes and constant initializers to a graph under one name prefix,
 * with float32 constants from float64 arrays.
 */
import type { AttrValue } from '../ir/attributes.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { DataType } from '../onnx/data-types.js';
import type { TensorProto } from '../onnx/proto-types.js';

export function float32Tensor(dims: number[], data: ArrayLike<number>): TensorProto {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  const n = dims.reduce((a, b) => a * b, 1);
  if (f.length !== n) throw new Error(`internal: tensor data has ${f.length} values for dims [${dims}]`);
  return { dims: [...dims], data_type: DataType.FLOAT, raw_data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

export function int64Tensor(dims: number[], data: number[]): TensorProto {
  const b = new BigInt64Array(data.map((v) => BigInt(v)));
  return { dims: [...dims], data_type: DataType.INT64, raw_data: new Uint8Array(b.buffer) };
}

export class Emitter {
  readonly nodes: Node[] = [];
  readonly initializers: Value[] = [];
  constructor(
    readonly graph: Graph,
    readonly prefix: string,
    readonly opset: number,
  ) {}

  init(name: string, tensor: TensorProto): Value {
    const v = this.graph.addInitializer(`${this.prefix}.${name}`, tensor);
    this.initializers.push(v);
    return v;
  }

  f32(name: string, dims: number[], data: ArrayLike<number>): Value {
    return this.init(name, float32Tensor(dims, data));
  }

  i64(name: string, dims: number[], data: number[]): Value {
    return this.init(name, int64Tensor(dims, data));
  }

  op(opType: string, inputs: (Value | null)[], name: string, attributes: Record<string, AttrValue> = {}): Value {
    const node = this.graph.addNode({ opType, inputs, name: `${this.prefix}/${name}`, outputs: [`${this.prefix}/${name}_out`], attributes });
    this.nodes.push(node);
    return node.outputs[0]!;
  }

  /** A node of another domain (the model must import it; see `ensureOpset`). */
  opDomain(opType: string, domain: string, inputs: (Value | null)[], name: string, attributes: Record<string, AttrValue> = {}): Value {
    const node = this.graph.addNode({ opType, domain, inputs, name: `${this.prefix}/${name}`, outputs: [`${this.prefix}/${name}_out`], attributes });
    this.nodes.push(node);
    return node.outputs[0]!;
  }

  /** ReduceSumSquare over `axes` (attribute before opset 18, input after). */
  reduceSumSquare(x: Value, axes: number[], keepdims: boolean, name: string): Value {
    if (this.opset >= 18) return this.op('ReduceSumSquare', [x, this.i64(`${name}.axes`, [axes.length], axes)], name, { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceSumSquare', [x], name, { axes, keepdims: keepdims ? 1 : 0 });
  }

  /** ReduceSum over `axes` (attribute before opset 13, input after). */
  reduceSum(x: Value, axes: number[], keepdims: boolean, name: string): Value {
    if (this.opset >= 13) return this.op('ReduceSum', [x, this.i64(`${name}.axes`, [axes.length], axes)], name, { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceSum', [x], name, { axes, keepdims: keepdims ? 1 : 0 });
  }
}
