/**
 * replace-op: change the op of chosen nodes (e.g. Relu -> LeakyRelu[alpha=0.01], or the
 * smooth-activation study's Relu -> ELU / SiLU / GELU in chosen stages).
 *
 * The replaced node keeps its name, inputs and output tensors, so nothing downstream changes a
 * byte. When the target op does not exist at the model's opset it is written as a small expansion
 * whose last node is the original node (same name, same output):
 *   SiLU (no ONNX op)        x * Sigmoid(x)
 *   GELU (an op from 20)     0.5 * x * (1 + Erf(x / sqrt 2)); approximate=tanh:
 *                            0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
 *   HardSwish (from 14)      x * HardSigmoid(x; alpha=1/6, beta=0.5)
 *   Mish (from 18)           x * Tanh(Softplus(x))
 * Helper nodes are named `<node>/<Op>`, constants `<node>/<what>` (shared per element type).
 * Other ops are written as given (any attributes checked against the known ones for ops this
 * pass knows; validation with ONNX Runtime catches the rest).
 */
import { inferShapesStatic } from '../analysis/shapes/infer.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import { makeAttribute } from '../ir/attributes.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { PassResult } from '../ir/passes/pass.js';
import type { Value } from '../ir/value.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { AttributeProto } from '../onnx/proto-types.js';
import { requireSelection } from './select.js';
import { floatScalar } from './util.js';
import { isFiniteFloat32 } from '../util/numbers.js';

export type AttrKind = 'float' | 'int' | 'string' | 'floats' | 'ints';

export interface OpSpec {
  opType: string;
  attributes?: Record<string, number | string | number[]>;
}

export interface ReplaceOpOptions {
  /** Op type of the nodes to replace. */
  op: string;
  /** The new op: `LeakyRelu[alpha=0.01]` or an OpSpec. */
  with: string | OpSpec;
  /** Restrict to a stage or node names (see select.ts). */
  where?: string;
  inputShapes?: Record<string, Dim[]>;
}

interface KnownOp {
  name: string;
  /** First opset of the default domain that has it (Infinity: no such ONNX op). */
  since: number;
  attrs: Record<string, AttrKind>;
  /** Build the expansion before `node`; returns the final op and its inputs. */
  expand?: (ctx: ExpandContext) => { opType: string; inputs: Value[]; attributes?: AttributeProto[] };
  /** The lowest opset the expansion itself needs. */
  expandSince?: number;
}

interface ExpandContext {
  graph: Graph;
  node: Node;
  x: Value;
  attrs: Record<string, number | string | number[]>;
  helper: (opType: string, inputs: Value[], attributes?: Record<string, number>) => Value;
  constant: (what: string, v: number) => Value;
}

const KNOWN: KnownOp[] = [
  { name: 'Relu', since: 1, attrs: {} },
  { name: 'LeakyRelu', since: 1, attrs: { alpha: 'float' } },
  { name: 'Elu', since: 1, attrs: { alpha: 'float' } },
  { name: 'Selu', since: 1, attrs: { alpha: 'float', gamma: 'float' } },
  { name: 'Celu', since: 12, attrs: { alpha: 'float' } },
  { name: 'Sigmoid', since: 1, attrs: {} },
  { name: 'Tanh', since: 1, attrs: {} },
  { name: 'Softplus', since: 1, attrs: {} },
  { name: 'Softsign', since: 1, attrs: {} },
  { name: 'HardSigmoid', since: 1, attrs: { alpha: 'float', beta: 'float' } },
  { name: 'ThresholdedRelu', since: 10, attrs: { alpha: 'float' } },
  {
    name: 'SiLU',
    since: Infinity,
    attrs: {},
    expandSince: 1,
    expand: ({ x, helper }) => ({ opType: 'Mul', inputs: [x, helper('Sigmoid', [x])] }),
  },
  {
    name: 'HardSwish',
    since: 14,
    attrs: {},
    expandSince: 1,
    expand: ({ x, helper }) => ({ opType: 'Mul', inputs: [x, helper('HardSigmoid', [x], { alpha: 1 / 6, beta: 0.5 })] }),
  },
  {
    name: 'Mish',
    since: 18,
    attrs: {},
    expandSince: 1,
    expand: ({ x, helper }) => ({ opType: 'Mul', inputs: [x, helper('Tanh', [helper('Softplus', [x])])] }),
  },
  {
    name: 'Gelu',
    since: 20,
    attrs: { approximate: 'string' },
    expandSince: 9,
    expand: ({ x, helper, constant, attrs }) => {
      const approx = attrs.approximate ?? 'none';
      let inner: Value;
      if (approx === 'tanh') {
        const x3 = helper('Mul', [helper('Mul', [x, x]), x]);
        const s = helper('Add', [x, helper('Mul', [x3, constant('gelu_c', 0.044715)])]);
        inner = helper('Tanh', [helper('Mul', [s, constant('gelu_sqrt_2_over_pi', Math.sqrt(2 / Math.PI))])]);
      } else if (approx === 'none') {
        inner = helper('Erf', [helper('Div', [x, constant('sqrt2', Math.SQRT2)])]);
      } else throw new UserError('bad-attribute', `Gelu approximate='${String(approx)}': use 'none' or 'tanh'`);
      const m = helper('Mul', [x, helper('Add', [inner, constant('one', 1)])]);
      return { opType: 'Mul', inputs: [m, constant('half', 0.5)] };
    },
  },
];

const BY_LOWER = new Map<string, KnownOp>(KNOWN.map((k) => [k.name.toLowerCase(), k]));
BY_LOWER.set('swish', BY_LOWER.get('silu')!);

/** Parse `Op`, `Op[a=1,b=0.5]` or `Op[approximate=tanh]` into an OpSpec (names of known ops normalised). */
export function parseOpSpec(text: string): OpSpec {
  const m = /^\s*([A-Za-z_][\w.:]*)\s*(?:\[(.*)\])?\s*$/.exec(text);
  if (!m) throw new UserError('usage', `'${text}' is not an op spec; write it like LeakyRelu or LeakyRelu[alpha=0.01]`);
  const known = BY_LOWER.get(m[1]!.toLowerCase());
  const spec: OpSpec = { opType: known?.name ?? m[1]! };
  if (m[2] !== undefined && m[2].trim() !== '') {
    const attributes: Record<string, number | string | number[]> = {};
    for (const part of m[2].split(/,(?![^(]*\))/)) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UserError('usage', `'${text}': attribute '${part.trim()}' must be name=value`);
      const name = part.slice(0, eq).trim();
      const raw = part.slice(eq + 1).trim();
      attributes[name] = /^\(.*\)$/.test(raw)
        ? raw.slice(1, -1).split(',').map((s) => Number(s.trim()))
        : /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)
          ? Number(raw)
          : raw;
    }
    spec.attributes = attributes;
  }
  return spec;
}

function buildAttributes(spec: OpSpec, known: KnownOp | undefined): AttributeProto[] {
  const out: AttributeProto[] = [];
  for (const [name, value] of Object.entries(spec.attributes ?? {})) {
    const kind = known?.attrs[name];
    if (known && !kind) {
      const allowed = Object.keys(known.attrs);
      throw new UserError('bad-attribute', `${known.name} has no attribute '${name}'${allowed.length ? ` (it has ${allowed.join(', ')})` : ' (it takes none)'}`);
    }
    if (kind === 'string' && typeof value !== 'string') throw new UserError('bad-attribute', `${spec.opType} attribute '${name}' is a string`);
    if ((kind === 'float' || kind === 'int') && typeof value !== 'number') throw new UserError('bad-attribute', `${spec.opType} attribute '${name}' must be a number, got '${String(value)}'`);
    if (typeof value === 'number' && Number.isNaN(value)) throw new UserError('bad-attribute', `${spec.opType} attribute '${name}' is not a number`);
    for (const x of typeof value === 'number' ? [value] : Array.isArray(value) ? value : []) {
      if (typeof x !== 'number') continue;
      if (kind === 'int' ? !Number.isSafeInteger(x) : !isFiniteFloat32(x)) {
        throw new UserError('bad-attribute', `${spec.opType} attribute '${name}' = ${x} is not ${kind === 'int' ? 'an integer' : 'a finite float32 number'}`);
      }
    }
    out.push(makeAttribute(name, value, kind === 'string' ? undefined : kind));
  }
  return out;
}

export function describeSpec(spec: OpSpec): string {
  const a = Object.entries(spec.attributes ?? {});
  return a.length === 0 ? spec.opType : `${spec.opType}[${a.map(([k, v]) => `${k}=${Array.isArray(v) ? `(${v.join(',')})` : v}`).join(',')}]`;
}

const FLOATS: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16]);

export async function replaceOp(model: Model, opts: ReplaceOpOptions): Promise<PassResult> {
  const spec = typeof opts.with === 'string' ? parseOpSpec(opts.with) : opts.with;
  const known = BY_LOWER.get(spec.opType.toLowerCase());
  if (known) spec.opType = known.name;
  const attrs = buildAttributes(spec, known);
  const opset = model.opsetVersion('') ?? 1;
  const useExpansion = known !== undefined && opset < known.since;
  if (useExpansion && !known.expand) {
    throw new UserError('opset-too-old', `${known.name} needs opset ${known.since}; the model imports opset ${opset} and this toolkit has no expansion for it`);
  }
  if (useExpansion && opset < (known.expandSince ?? 1)) {
    throw new UserError('opset-too-old', `${known.name}'s expansion needs opset ${known.expandSince}; the model imports opset ${opset}`);
  }
  const sel = await requireSelection(model, { op: opts.op, ...(opts.where ? { where: opts.where } : {}), ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}) });
  const g = model.graph;
  const changes: string[] = [];
  const shapes = useExpansion ? inferShapesStatic(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {}) : undefined;
  const constants = new Map<string, Value>();
  const target = describeSpec(spec);
  for (const node of sel.nodes) {
    const label = node.label;
    if (!useExpansion) {
      node.proto.op_type = spec.opType;
      if (attrs.length > 0) node.proto.attribute = attrs.map((a) => ({ ...a }));
      else delete node.proto.attribute;
      changes.push(`node '${label}': ${opts.op} -> ${target}`);
      continue;
    }
    const x = node.inputs[0];
    const y = node.outputs[0];
    if (!x || !y || node.inputs.filter((v) => v).length !== 1 || node.outputs.filter((v) => v).length !== 1) {
      throw new UserError('not-unary', `node '${node.label}' (${node.opType}) is not a one-input, one-output node; ${known!.name} is written as an expansion that needs one`);
    }
    const elem = shapes!.get(x)?.elemType ?? x.elemType;
    if (elem === undefined || !FLOATS.has(elem)) {
      throw new UserError('unsupported-type', `node '${node.label}': ${known!.name} expansion needs a float input, '${x.name}' is ${dataTypeName(elem)}`);
    }
    const base = node.name || y.name;
    const added: string[] = [];
    const ctx: ExpandContext = {
      graph: g,
      node,
      x,
      attrs: spec.attributes ?? {},
      helper: (opType, inputs, attributes) => {
        const a = Object.entries(attributes ?? {}).map(([k, v]) => makeAttribute(k, v, 'float'));
        const n = g.addNode({ opType, inputs, name: `${base}/${opType}`, before: node, ...(a.length ? { attributes: a } : {}) });
        added.push(n.name);
        return n.outputs[0]!;
      },
      constant: (what, v) => {
        const key = `${what}:${elem}`;
        let c = constants.get(key);
        if (!c) {
          c = g.addInitializer(`iqa_surgeon/${what}_${dataTypeName(elem)}`, floatScalar(v, elem));
          constants.set(key, c);
        }
        return c;
      },
    };
    const fin = known!.expand!(ctx);
    node.proto.op_type = fin.opType;
    if (fin.attributes?.length) node.proto.attribute = fin.attributes;
    else delete node.proto.attribute;
    node._setInputs([...fin.inputs]);
    changes.push(`node '${label}': ${opts.op} -> ${target} as an expansion (no ${known!.name} op at opset ${opset}): ${[...added, `${node.label} (${fin.opType})`].join(', ')}`);
  }
  if (sel.description !== 'everywhere') changes.unshift(`selected ${sel.nodes.length} ${opts.op} node${sel.nodes.length === 1 ? '' : 's'} in ${sel.description}`);
  g.toposort();
  return { model, modified: changes.length > 0, changes };
}
