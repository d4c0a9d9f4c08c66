/**
 * An operator application. Its inputs and outputs are linked Values; everything else (name,
 * op type, domain, attributes, doc string, metadata) lives in its NodeProto, which is written back
 * unchanged unless an edit touches it.
 */
import type { AttributeProto, NodeProto } from '../onnx/proto-types.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, attrStrings } from './attributes.js';
import type { Graph } from './graph.js';
import type { Value } from './value.js';

export class Node {
  readonly proto: NodeProto;
  readonly graph: Graph;
  /** Input slots; null marks an omitted optional input (an empty name in the file). */
  private _inputs: (Value | null)[] = [];
  private _outputs: (Value | null)[] = [];
  /** Subgraphs held by attributes (If branches, Loop/Scan bodies). */
  readonly subgraphs: Graph[] = [];

  constructor(graph: Graph, proto: NodeProto) {
    this.graph = graph;
    this.proto = proto;
  }

  get name(): string {
    return this.proto.name ?? '';
  }

  get opType(): string {
    return this.proto.op_type ?? '';
  }

  /** '' for the default ONNX domain ('ai.onnx' is normalised to ''). */
  get domain(): string {
    const d = this.proto.domain ?? '';
    return d === 'ai.onnx' ? '' : d;
  }

  /** A label for messages: the node name, or op type and first output when unnamed. */
  get label(): string {
    if (this.name) return this.name;
    const out = this._outputs.find((o) => o !== null);
    return `${this.opType}${out ? `->${out.name}` : ''}`;
  }

  get inputs(): readonly (Value | null)[] {
    return this._inputs;
  }

  get outputs(): readonly (Value | null)[] {
    return this._outputs;
  }

  input(i: number): Value | null {
    return this._inputs[i] ?? null;
  }

  output(i: number): Value | null {
    return this._outputs[i] ?? null;
  }

  /** Set input slot i (null to omit), keeping both sides' links in sync. */
  setInput(i: number, v: Value | null): void {
    const old = this._inputs[i];
    if (old === v) return;
    if (old) {
      const k = old._uses.findIndex((u) => u.node === this && u.index === i);
      if (k >= 0) old._uses.splice(k, 1);
    }
    while (this._inputs.length <= i) this._inputs.push(null);
    this._inputs[i] = v;
    if (v) v._uses.push({ node: this, index: i });
  }

  /** @internal used by Graph while building and editing */
  _setInputs(values: (Value | null)[]): void {
    for (let i = 0; i < this._inputs.length; i++) this.setInput(i, null);
    this._inputs = [];
    values.forEach((v, i) => this.setInput(i, v));
    while (this._inputs.length < values.length) this._inputs.push(null);
  }

  /** @internal */
  _setOutputs(values: (Value | null)[]): void {
    for (const o of this._outputs) if (o && o._producer === this) o._producer = undefined;
    this._outputs = [...values];
    for (const o of values) if (o) o._producer = this;
  }

  /**
   * Forget this node's links without editing the values' use lists, for a batch removal whose
   * caller filters those lists once (Graph.removeNodes). @internal
   */
  _unlinkForBatch(): void {
    this._inputs = [];
    for (const o of this._outputs) if (o && o._producer === this) o._producer = undefined;
  }

  /** Detach from all values (used when removing the node). @internal */
  _detach(): void {
    for (let i = 0; i < this._inputs.length; i++) this.setInput(i, null);
    for (const o of this._outputs) if (o && o._producer === this) o._producer = undefined;
  }

  attribute(name: string): AttributeProto | undefined {
    return this.proto.attribute?.find((a) => a.name === name);
  }

  attrInt(name: string, dflt: number): number;
  attrInt(name: string): number | undefined;
  attrInt(name: string, dflt?: number): number | undefined {
    return attrInt(this.attribute(name)) ?? dflt;
  }

  attrInts(name: string, dflt: number[]): number[];
  attrInts(name: string): number[] | undefined;
  attrInts(name: string, dflt?: number[]): number[] | undefined {
    return attrInts(this.attribute(name)) ?? dflt;
  }

  attrFloat(name: string, dflt: number): number;
  attrFloat(name: string): number | undefined;
  attrFloat(name: string, dflt?: number): number | undefined {
    return attrFloat(this.attribute(name)) ?? dflt;
  }

  attrFloats(name: string): number[] | undefined {
    return attrFloats(this.attribute(name));
  }

  attrString(name: string, dflt: string): string;
  attrString(name: string): string | undefined;
  attrString(name: string, dflt?: string): string | undefined {
    return attrString(this.attribute(name)) ?? dflt;
  }

  attrStrings(name: string): string[] | undefined {
    return attrStrings(this.attribute(name));
  }

  /** Add or replace an attribute (a changed attribute changes only this node's bytes). */
  setAttribute(attr: AttributeProto): void {
    const list = (this.proto.attribute ??= []);
    const i = list.findIndex((a) => a.name === attr.name);
    if (i >= 0) list[i] = attr;
    else list.push(attr);
  }

  toString(): string {
    return `Node(${this.opType} '${this.name}')`;
  }
}
