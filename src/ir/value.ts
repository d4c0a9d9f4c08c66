/**
 * A tensor edge of the graph: produced by at most one node (or a graph input, or an initializer),
 * consumed by any number of node inputs (possibly inside subgraphs) and graph outputs.
 */
import type { TensorProto, TypeProto, ValueInfoProto } from '../onnx/proto-types.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';

export interface Use {
  node: Node;
  /** Input slot of `node`. */
  index: number;
}

export class Value {
  /** @internal use `graph.renameValue` */
  _name: string;
  /** The scope that defines this value. */
  readonly graph: Graph;
  /** The value_info / input / output entry describing it, when the file had one. */
  info: ValueInfoProto | undefined;
  /** Constant data when this value is an initializer. */
  initializer: TensorProto | undefined;
  /** @internal maintained by Node and Graph */
  _producer: Node | undefined;
  /** @internal maintained by Node */
  readonly _uses: Use[] = [];

  constructor(graph: Graph, name: string) {
    this.graph = graph;
    this._name = name;
  }

  get name(): string {
    return this._name;
  }

  producer(): Node | undefined {
    return this._producer;
  }

  /** Node inputs reading this value (graph outputs are not uses; see `isGraphOutput`). */
  uses(): readonly Use[] {
    return this._uses;
  }

  get isInitializer(): boolean {
    return this.initializer !== undefined;
  }

  get isGraphInput(): boolean {
    return this.graph.inputs.includes(this);
  }

  get isGraphOutput(): boolean {
    return this.graph.outputs.includes(this);
  }

  /** Declared type: from value_info/input/output, or derived from the initializer. */
  get type(): TypeProto | undefined {
    if (this.info?.type) return this.info.type;
    if (this.initializer) {
      return {
        tensor_type: {
          elem_type: this.initializer.data_type ?? 0,
          shape: { dim: (this.initializer.dims ?? []).map((d) => ({ dim_value: d })) },
        },
      };
    }
    return undefined;
  }

  /** Element type code (TensorProto.DataType), when known. */
  get elemType(): number | undefined {
    return this.type?.tensor_type?.elem_type;
  }

  /** Declared shape: numbers for fixed dims, strings for symbolic ones, undefined where unknown. */
  get declaredShape(): (number | string | undefined)[] | undefined {
    const shape = this.type?.tensor_type?.shape;
    if (!shape) return undefined;
    return (shape.dim ?? []).map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param !== undefined && d.dim_param !== '' ? d.dim_param : undefined));
  }

  toString(): string {
    return `Value(${this._name})`;
  }
}
