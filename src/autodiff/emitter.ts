/**
 * Writes the backward nodes of a gradient graph, and gives each gradient rule its
 * `GradientEmitter` (src/ops/types.ts): fresh names, constants, forward shapes and types, and
 * opset-aware helpers, so rules never look at the opset for ReduceSum/Squeeze/Unsqueeze/Shape.
 */
import { UserError } from '../errors.js';
import { makeAttribute, type AttrValue } from '../ir/attributes.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { AttributeProto, NodeProto, TensorProto } from '../onnx/proto-types.js';
import { tensorToNumbers } from '../onnx/tensor-data.js';
import type { ShapeMap } from '../analysis/shapes/shape-map.js';
import type { GradientEmitter } from '../ops/types.js';

/** Attributes of ONNX ops that are FLOAT(S) even when their value is an integer. */
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'momentum', 'gamma', 'lambd', 'bias', 'min', 'max', 'value_float', 'value_floats', 'ratio', 'spatial_scale', 'extrapolation_value', 'cubic_coeff_a', 'scales', 'scale']);

export class BackwardWriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Dims of values the writer knows besides the forward ones (gradients: dims of their forward value). */
  readonly gradDims = new Map<string, readonly (number | string)[]>();
  private readonly constCache = new Map<string, string>();
  /** Values of the int64 constants this writer made (for the attribute forms of old opsets). */
  private readonly intConstants = new Map<string, number[]>();
  /** Recomputed values (checkpointing) -> the forward values they equal, for shapes, types and constness. */
  private readonly aliases = new Map<string, string>();

  constructor(
    readonly model: Model,
    readonly shapes: ShapeMap,
    readonly opset: number,
    /** Initializers that become graph inputs (the differentiated parameters). */
    readonly params: ReadonlySet<string> = new Set(),
  ) {}

  /** `copy` (a recomputed value) equals the forward value `original`. */
  alias(copy: string, original: string): void {
    this.aliases.set(copy, original);
  }

  private original(value: string): string {
    return this.aliases.get(value) ?? value;
  }

  isConstant(value: string): boolean {
    const v = this.model.graph.lookup(this.original(value));
    if (!v) return false;
    if (v.initializer) return !this.params.has(value) && !v.isGraphInput;
    const p = v.producer();
    return p !== undefined && p.opType === 'Constant' && p.domain === '';
  }

  fresh(base: string): string {
    const g = this.model.graph;
    const name = g.uniqueValueName(base.replace(/[^A-Za-z0-9_./:-]/g, '_'));
    g.names.values.add(name);
    return name;
  }

  emit(opType: string, inputs: readonly (string | null)[], attributes: Record<string, AttrValue> = {}, options: { domain?: string; outputs?: number; floats?: readonly string[]; base?: string } = {}): string[] {
    if (!options.domain) {
      const older = this.olderForm(opType, inputs, attributes);
      if (older) return this.emit(opType, older.inputs, older.attributes, options);
    }
    const g = this.model.graph;
    const nodeName = g.uniqueNodeName(`grad/${options.base ?? opType}`);
    g.names.nodes.add(nodeName);
    const outs = Array.from({ length: options.outputs ?? 1 }, (_, i) => this.fresh(`${nodeName}${i === 0 ? '' : `_${i}`}`));
    const floats = new Set(options.floats ?? []);
    const attrs: AttributeProto[] = Object.entries(attributes).map(([k, v]) => {
      const asFloat = (typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number'))) && (FLOAT_ATTRS.has(k) || floats.has(k));
      return asFloat ? makeAttribute(k, v, Array.isArray(v) ? 'floats' : 'float') : makeAttribute(k, v);
    });
    const proto: NodeProto = { input: inputs.map((x) => x ?? ''), output: outs, name: nodeName, op_type: opType };
    if (options.domain) proto.domain = options.domain;
    if (attrs.length > 0) proto.attribute = attrs;
    this.nodes.push(proto);
    return outs;
  }

  /**
   * Slice before opset 10 and Pad before opset 11 take their bounds as attributes, not inputs:
   * a rule's input form with constant bounds is rewritten to the attribute form here, once for
   * every rule; bounds known only at run time (or Slice steps other than 1) cannot be expressed
   * at that opset, which is a UserError naming the node being differentiated.
   */
  private olderForm(opType: string, inputs: readonly (string | null)[], attributes: Record<string, AttrValue>): { inputs: (string | null)[]; attributes: Record<string, AttrValue> } | undefined {
    const ints = (name: string | null | undefined): number[] | undefined => (name ? (this.intConstants.get(name) ?? this.constantInts(name)) : undefined);
    const refuse = (what: string): never => {
      throw new UserError('gradient-opset', `the gradient of this model needs ${what}, which its opset ${this.opset} cannot express (ONNX moved it to graph inputs later); convert the model to a newer opset first`);
    };
    if (opType === 'Slice' && this.opset < 10 && inputs.length > 1) {
      const [x, st, en, ax, sp] = inputs;
      const starts = ints(st);
      const ends = ints(en);
      const axes = ax ? ints(ax) : undefined;
      const steps = sp ? ints(sp) : undefined;
      if (!starts || !ends || (ax && !axes) || (sp && !steps)) refuse('a Slice with run-time bounds');
      if (steps && steps.some((v) => v !== 1)) refuse('a Slice with steps');
      return { inputs: [x ?? null], attributes: { ...attributes, starts: starts!, ends: ends!, ...(axes ? { axes } : {}) } };
    }
    if (opType === 'Pad' && this.opset < 11 && inputs.length > 1) {
      const [x, pd, value] = inputs;
      const pads = ints(pd);
      if (!pads) refuse('a Pad with run-time pads');
      if (value) refuse('a Pad with a constant-value input');
      return { inputs: [x ?? null], attributes: { ...attributes, [this.opset < 2 ? 'paddings' : 'pads']: pads! } };
    }
    return undefined;
  }

  constFloat(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(1, values, dims);
  }

  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(7, values, dims);
  }

  private constant(type: 1 | 7, values: readonly number[], dims: readonly number[]): string {
    const key = values.length <= 16 ? `${type}|${dims.join(',')}|${values.join(',')}` : undefined;
    const hit = key ? this.constCache.get(key) : undefined;
    if (hit) return hit;
    const name = this.fresh(type === 1 ? 'grad/const_f' : 'grad/const_i');
    const raw = type === 1 ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v)))).buffer);
    this.initializers.push({ name, dims: [...dims], data_type: type, raw_data: raw });
    if (type === 7) this.intConstants.set(name, values.map((v) => Math.trunc(v)));
    if (key) this.constCache.set(key, name);
    return name;
  }

  dims(value: string): readonly (number | string)[] | undefined {
    const known = this.gradDims.get(value);
    if (known) return known;
    const s = this.shapes.get(this.original(value))?.shape;
    return s && s.every((d) => d !== undefined) ? s : undefined;
  }

  elemType(value: string): number | undefined {
    const v = this.original(value);
    return this.shapes.get(v)?.elemType ?? this.model.graph.lookup(v)?.elemType;
  }

  constantInts(value: string): number[] | undefined {
    const v = this.model.graph.lookup(this.original(value));
    if (!v) return undefined;
    if (v.initializer) return v.isGraphInput ? undefined : tensorToNumbers(v.initializer);
    const p = v.producer();
    if (p && p.opType === 'Constant' && p.domain === '') {
      const t = p.attribute('value')?.t;
      if (t) return tensorToNumbers(t);
      const i = p.attrInt('value_int');
      if (i !== undefined) return [i];
      const is = p.attrInts('value_ints');
      if (is) return is;
    }
    return undefined;
  }

  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    const k = keepdims ? 1 : 0;
    if (this.opset >= 13) return this.emit('ReduceSum', [x, this.constInt64(axes)], { keepdims: k })[0]!;
    return this.emit('ReduceSum', [x], { axes: [...axes], keepdims: k })[0]!;
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.emit('Unsqueeze', [x, this.constInt64(axes)])[0]!;
    return this.emit('Unsqueeze', [x], { axes: [...axes] })[0]!;
  }

  squeeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.emit('Squeeze', [x, this.constInt64(axes)])[0]!;
    return this.emit('Squeeze', [x], { axes: [...axes] })[0]!;
  }

  shape(x: string, start?: number, end?: number): string {
    const full = this.emit('Shape', [x])[0]!;
    if (start === undefined && end === undefined) return full;
    const s = start ?? 0;
    const e = end ?? 2 ** 62;
    if (this.opset >= 10) return this.emit('Slice', [full, this.constInt64([s]), this.constInt64([e]), this.constInt64([0])])[0]!;
    return this.emit('Slice', [full], { starts: [s], ends: [e], axes: [0] })[0]!;
  }

  reshapeLike(x: string, like: string): string {
    return this.emit('Reshape', [x, this.shape(like)])[0]!;
  }

  zerosLike(like: string): string {
    const t: TensorProto = { dims: [1], data_type: 1, raw_data: new Uint8Array(4) };
    return this.emit('ConstantOfShape', [this.shape(like)], { value: t })[0]!;
  }

  /** Sum `grad` (dims `gradDims`) over the axes along which `like` was broadcast, then give it like's shape. */
  unbroadcast(grad: string, like: string, gradDims: readonly (number | string)[] | undefined, where: string): string {
    const ld = this.dims(like);
    if (!ld || !gradDims) {
      throw new UserError('autodiff-shape', `${where}: the shapes of '${like}' and of its gradient are not known statically; cannot undo broadcasting`);
    }
    if (ld.length === gradDims.length && ld.every((d, i) => d === gradDims[i])) return grad;
    const lead = gradDims.length - ld.length;
    if (lead < 0) throw new UserError('autodiff-shape', `${where}: the gradient of '${like}' has lower rank than the value`);
    const leading = Array.from({ length: lead }, (_, i) => i);
    let g = this.reduceSum(grad, leading, false);
    const kept: number[] = [];
    ld.forEach((d, i) => {
      const gd = gradDims[lead + i];
      if (d === 1 && gd !== 1) kept.push(i);
    });
    g = this.reduceSum(g, kept, true);
    return g;
  }

  /** The emitter a rule sees for `node`. */
  forNode(node: Node): GradientEmitter {
    const w = this;
    const fail = (message: string): never => {
      throw new UserError('autodiff-rule', `op '${node.opType}' (node '${node.label}'): ${message}`);
    };
    const outDims = (): readonly (number | string)[] | undefined => (node.outputs[0] ? w.dims(node.outputs[0].name) : undefined);
    return {
      node,
      opset: w.opset,
      emit: (op, inputs, attributes, options) => w.emit(op, inputs, attributes, { ...options, base: `${node.label}/${op}` }),
      constFloat: (v, d) => w.constFloat(v, d),
      constInt64: (v, d) => w.constInt64(v, d),
      dims: (v) => w.dims(v),
      elemType: (v) => w.elemType(v),
      constantInts: (v) => w.constantInts(v),
      unbroadcast: (grad, like, gd) => w.unbroadcast(grad, like, gd ?? w.gradDims.get(grad) ?? outDims(), `op '${node.opType}' (node '${node.label}')`),
      fail,
      isConstant: (v) => w.isConstant(v),
      reduceSum: (x, axes, keepdims) => w.reduceSum(x, axes, keepdims),
      unsqueeze: (x, axes) => w.unsqueeze(x, axes),
      squeeze: (x, axes) => w.squeeze(x, axes),
      shape: (x, s, e) => w.shape(x, s, e),
      reshapeLike: (x, like) => w.reshapeLike(x, like),
      zerosLike: (like) => w.zerosLike(like),
    };
  }
}
