/**
 * Sign domains of a graph's values, and the input domains of ops that need them (issue 12, item
 * 4): a forward pass of a small abstract interpretation in which every value is `pos` (> 0),
 * `nonneg` (>= 0) or `any`. Graph inputs are `any`; constants are read; ReLU-like ops, squares,
 * norms and layout ops carry or create a sign, everything else gives `any` (sound: never claims a
 * sign a value may not have, ignoring NaN).
 *
 * The domain checks say, per node, which inputs must keep a sign for the op to stay finite: Sqrt
 * (>= 0), Log (> 0), Pow with a non-integer exponent (>= 0, > 0 if the exponent can be
 * negative), and a Div or Reciprocal whose divisor could cross zero (it must keep one sign, e.g.
 * an L1 norm of ReLU features plus an epsilon). `splice` compares them before and after inserting a
 * block: a check that held before and no longer holds is a node the block's signed output can
 * drive to NaN or Inf.
 */
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { tensorToNumbers } from '../onnx/tensor-data.js';

export type Sign = 'pos' | 'nonneg' | 'any';

const rank = { pos: 2, nonneg: 1, any: 0 } as const;
/** The weaker of two signs (what a value that may be either is). */
const meet = (a: Sign, b: Sign): Sign => (rank[a] <= rank[b] ? a : b);
const meetAll = (s: Sign[]): Sign => s.reduce(meet, 'pos' as Sign);
const atLeastNonneg = (s: Sign): boolean => s !== 'any';

/** Largest constant read whole (bigger ones are weights: their sign does not matter to the checks). */
const MAX_CONSTANT_ELEMENTS = 1 << 16;

function signOfNumbers(xs: readonly number[]): Sign {
  let s: Sign = 'pos';
  for (const x of xs) {
    if (!(x >= 0)) return 'any';
    if (x === 0) s = 'nonneg';
  }
  return s;
}

function tensorSign(t: TensorProto): Sign {
  const n = (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  if (n > MAX_CONSTANT_ELEMENTS) return 'any';
  try {
    return signOfNumbers(tensorToNumbers(t));
  } catch {
    return 'any';
  }
}

/** The numbers of a constant input (initializer or Constant node), or undefined. */
export function constantNumbers(v: Value | null | undefined): number[] | undefined {
  if (!v) return undefined;
  try {
    if (v.initializer) return (v.initializer.dims ?? []).reduce((a: number, d) => a * Number(d), 1) <= MAX_CONSTANT_ELEMENTS ? tensorToNumbers(v.initializer) : undefined;
    const p = v.producer();
    if (p?.opType !== 'Constant') return undefined;
    const t = p.attribute('value')?.t;
    if (t) return tensorToNumbers(t);
    const f = p.attrFloat('value_float');
    if (f !== undefined) return [f];
    const fs = p.attrFloats('value_floats');
    if (fs) return fs;
    const i = p.attrInt('value_int');
    if (i !== undefined) return [i];
    return p.attrInts('value_ints');
  } catch {
    return undefined;
  }
}

const PASS_FIRST = new Set([
  'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Expand', 'Tile', 'Split',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'DepthToSpace',
  'SpaceToDepth', 'Dropout', 'Ceil', 'Sqrt', 'Reciprocal',
]);
const NONNEG = new Set(['Relu', 'Abs', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'Shape', 'Size', 'Not', 'Equal', 'Less', 'Greater', 'And', 'Or']);
const POS = new Set(['Sigmoid', 'Exp', 'Softmax', 'Softplus']);
const LINEAR = new Set(['Conv', 'MatMul', 'Gemm', 'ConvTranspose', 'Einsum']);

function nodeSigns(node: Node, sign: (v: Value | null) => Sign): Sign[] {
  const op = node.opType;
  const s0 = sign(node.input(0));
  const all = node.inputs.filter((v): v is Value => v !== null).map(sign);
  const one = (s: Sign): Sign[] => node.outputs.map(() => s);
  if (node.domain !== '' && node.domain !== 'ai.onnx') return one('any');
  if (op === 'Constant') {
    const xs = constantNumbers(node.output(0));
    return one(xs ? signOfNumbers(xs) : 'any');
  }
  if (POS.has(op)) return one('pos');
  if (NONNEG.has(op)) return one(op === 'Abs' || op === 'Relu' ? (s0 === 'pos' ? 'pos' : 'nonneg') : 'nonneg');
  if (PASS_FIRST.has(op)) return one(s0);
  // a positive value can round or cast to 0
  if (op === 'Floor' || op === 'Round' || op === 'Cast') return one(s0 === 'any' ? 'any' : 'nonneg');
  if (op === 'Log') return one('any');
  if (op === 'Resize' || op === 'Upsample') return one(node.attrString('mode', 'nearest') === 'cubic' ? 'any' : s0);
  if (op === 'Pad') {
    const mode = node.attrString('mode', 'constant');
    if (mode !== 'constant') return one(s0);
    const padValue = node.input(2) ? constantNumbers(node.input(2)) : [node.attrFloat('value', 0)!];
    return one(padValue ? meet(s0, signOfNumbers(padValue)) : 'any');
  }
  if (op === 'Concat' || op === 'Min') return one(meetAll(all));
  if (op === 'Where') return one(meet(sign(node.input(1)), sign(node.input(2))));
  if (op === 'Max') return one(all.includes('pos') ? 'pos' : all.includes('nonneg') ? 'nonneg' : 'any');
  if (op === 'Add' || op === 'Sum' || op === 'Mean') {
    const m = meetAll(all);
    return one(m === 'nonneg' && all.includes('pos') ? 'pos' : m);
  }
  if (op === 'Mul') {
    const [a, b] = [node.input(0), node.input(1)];
    if (a && a === b) return one(sign(a) === 'pos' ? 'pos' : 'nonneg');
    return one(meetAll(all));
  }
  if (op === 'Div') {
    const [a, b] = [sign(node.input(0)), sign(node.input(1))];
    return one(a === 'pos' && b === 'pos' ? 'pos' : atLeastNonneg(a) && atLeastNonneg(b) ? 'nonneg' : 'any');
  }
  if (op === 'Pow') {
    const e = constantNumbers(node.input(1));
    if (e && e.every((x) => Number.isInteger(x) && x % 2 === 0)) return one(s0 === 'pos' ? 'pos' : 'nonneg');
    return one(atLeastNonneg(s0) ? s0 : 'any');
  }
  if (op === 'Clip') {
    const lo = node.input(1) ? constantNumbers(node.input(1))?.[0] : node.attrFloat('min');
    const hi = node.input(2) ? constantNumbers(node.input(2))?.[0] : node.attrFloat('max');
    if (lo !== undefined && lo > 0) return one('pos');
    if (lo !== undefined && lo >= 0) return one('nonneg');
    return one(atLeastNonneg(s0) && (hi === undefined || hi > 0) ? s0 : 'any');
  }
  if (LINEAR.has(op)) return one(all.every(atLeastNonneg) ? 'nonneg' : 'any');
  return one('any');
}

/** The sign of every value reachable in the main graph (nodes in the graph's order, which is topological). */
export function valueSigns(model: Model): Map<Value, Sign> {
  const signs = new Map<Value, Sign>();
  const sign = (v: Value | null): Sign => {
    if (!v) return 'any';
    const known = signs.get(v);
    if (known) return known;
    if (v.initializer) {
      const s = tensorSign(v.initializer);
      signs.set(v, s);
      return s;
    }
    return 'any';
  };
  for (const node of model.graph.nodes) {
    const out = nodeSigns(node, sign);
    node.outputs.forEach((o, i) => {
      if (o) signs.set(o, out[i] ?? 'any');
    });
  }
  return signs;
}

export interface DomainCheck {
  node: Node;
  /** Input index whose sign matters. */
  input: number;
  /** What the op needs of it, in words (`>= 0`, `> 0`, `one sign`). */
  needs: string;
  /** Whether the sign analysis proves it. */
  held: boolean;
}

/** The input-domain checks of every Sqrt, Log, fractional Pow, Div and Reciprocal, with whether each is proved. */
export function domainChecks(model: Model, signs: Map<Value, Sign> = valueSigns(model)): DomainCheck[] {
  const sign = (v: Value | null): Sign => (v ? (signs.get(v) ?? (v.initializer ? tensorSign(v.initializer) : 'any')) : 'any');
  const out: DomainCheck[] = [];
  for (const node of model.graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    const op = node.opType;
    if (op === 'Sqrt') out.push({ node, input: 0, needs: '>= 0', held: atLeastNonneg(sign(node.input(0))) });
    else if (op === 'Log') out.push({ node, input: 0, needs: '> 0', held: sign(node.input(0)) === 'pos' });
    else if (op === 'Pow') {
      const e = constantNumbers(node.input(1));
      if (!e || e.every(Number.isInteger)) continue;
      const needsPos = e.some((x) => x < 0);
      const s = sign(node.input(0));
      out.push({ node, input: 0, needs: needsPos ? '> 0' : '>= 0', held: needsPos ? s === 'pos' : atLeastNonneg(s) });
    } else if (op === 'Div' || op === 'Reciprocal') {
      const i = op === 'Div' ? 1 : 0;
      out.push({ node, input: i, needs: 'one sign (a divisor that cannot cross zero)', held: atLeastNonneg(sign(node.input(i))) });
    }
  }
  return out;
}
