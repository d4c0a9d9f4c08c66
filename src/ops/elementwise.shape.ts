/**
 * Broadcasting elementwise ops (Add, Mul, comparisons, Where, variadic Max/Min/Sum/Mean, ...) and Not,
 * with contents propagated for small constant tensors so shape arithmetic resolves statically.
 */
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { broadcastShapes, dimAdd, dimEq, dimFloorDiv, dimMul, dimSub, formatShape, isStaticShape } from './shape-common/dims.js';
import type { Dim, RuleContext, ShapeRule } from './shape-common/types.js';
import { contents, elemCount, fail, isIntegerType, MAX_TRACKED_ELEMENTS, out, where } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';
import { unary } from './unary.shape.js';

/** Elementwise function on contents; undefined = not decidable for these entries. */
type ContentFn = (args: Dim[], elemType: number | undefined) => Dim | undefined;

const num = (f: (...xs: number[]) => number): ContentFn => (args) => (args.every((a) => typeof a === 'number') ? f(...(args as number[])) : undefined);

/** Symbolic dims are never negative: compare a symbol with a negative number. */
function compare(a: Dim, b: Dim): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (dimEq(a, b)) return 0;
  if (typeof b === 'number' && b < 0) return 1;
  if (typeof a === 'number' && a < 0) return -1;
  return undefined;
}

const cmp = (test: (c: number) => boolean): ContentFn => ([a, b]) => {
  const c = compare(a!, b!);
  return c === undefined ? undefined : test(c) ? 1 : 0;
};

const CONTENT_FNS: Partial<Record<string, ContentFn>> = {
  Add: (xs) => dimAdd(xs[0]!, xs[1]!),
  Sub: (xs) => dimSub(xs[0]!, xs[1]!),
  Mul: (xs) => dimMul(xs[0]!, xs[1]!),
  Div: ([a, b], t) => {
    if (typeof a === 'number' && typeof b === 'number') return isIntegerType(t) ? Math.trunc(a / b) : a / b;
    return isIntegerType(t) ? dimFloorDiv(a!, b!) : undefined;
  },
  Mod: num((a, b) => a - Math.floor(a / b) * b),
  Pow: num((a, b) => a ** b),
  Max: (xs) => xs.reduce<Dim | undefined>((m, x) => (m === undefined ? undefined : maxDim(m, x)), xs[0]),
  Min: (xs) => xs.reduce<Dim | undefined>((m, x) => (m === undefined ? undefined : minDim(m, x)), xs[0]),
  Sum: (xs) => xs.reduce<Dim>((s, x) => dimAdd(s, x), 0),
  Mean: num((...xs) => xs.reduce((s, x) => s + x, 0) / xs.length),
  Equal: cmp((c) => c === 0),
  Less: cmp((c) => c < 0),
  LessOrEqual: cmp((c) => c <= 0),
  Greater: cmp((c) => c > 0),
  GreaterOrEqual: cmp((c) => c >= 0),
  And: num((a, b) => (a && b ? 1 : 0)),
  Or: num((a, b) => (a || b ? 1 : 0)),
  Xor: num((a, b) => (!a !== !b ? 1 : 0)),
  Where: ([c, x, y]) => (typeof c === 'number' ? (c ? x : y) : undefined),
};

function maxDim(a: Dim, b: Dim): Dim | undefined {
  const c = compare(a, b);
  return c === undefined ? undefined : c >= 0 ? a : b;
}

function minDim(a: Dim, b: Dim): Dim | undefined {
  const c = compare(a, b);
  return c === undefined ? undefined : c <= 0 ? a : b;
}

/** Apply `fn` over broadcast contents of small static-shaped inputs. */
function broadcastContents(
  shapes: number[][],
  data: Dim[][],
  outShape: number[],
  fn: ContentFn,
  elemType: number | undefined,
  ctx: RuleContext,
): Dim[] | undefined {
  const n = elemCount(outShape)!;
  if (n > MAX_TRACKED_ELEMENTS) return undefined;
  const rank = outShape.length;
  const res: Dim[] = new Array<Dim>(n);
  const idx = new Array<number>(rank).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let r = flat;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k] = r % outShape[k]!;
      r = Math.floor(r / outShape[k]!);
    }
    const args = shapes.map((s, j) => {
      let off = 0;
      for (let k = 0; k < s.length; k++) off = off * s[k]! + (s[k] === 1 ? 0 : idx[k + rank - s.length]!);
      return data[j]![off]!;
    });
    const symbolic = args.some((a) => typeof a === 'string');
    // symbolic dims only combine with integers (a float scale times 'batch' is not a dim)
    let v = symbolic && args.some((a) => typeof a === 'number' && !Number.isInteger(a)) ? undefined : fn(args, elemType);
    if (typeof v === 'number' && elemType === DataType.FLOAT) v = Math.fround(v);
    res[flat] = v ?? ctx.fresh();
  }
  return res;
}

function elementwise(kind: { output?: 'bool' | 'input1' }): ShapeRule {
  return (node, inputs, ctx) => {
    const present = inputs.filter((_, i) => node.input(i) !== null);
    if (present.some((i) => !i?.shape)) return undefined;
    const elemType = kind.output === 'bool' ? DataType.BOOL : kind.output === 'input1' ? inputs[1]?.elemType : inputs[0]?.elemType;
    const shapes = present.map((i) => i!.shape!);
    const shape = legacyBroadcast(node, shapes, ctx) ?? broadcastShapes(shapes, () => ctx.fresh(), where(node));
    const data = present.map(contents);
    const fn = CONTENT_FNS[node.opType];
    let values: Dim[] | undefined;
    if (fn && data.every((d) => d !== undefined) && shapes.every(isStaticShape) && isStaticShape(shape)) {
      const typeForMath = kind.output === 'bool' || node.opType === 'Where' ? inputs[1]?.elemType : elemType;
      values = broadcastContents(shapes as number[][], data as Dim[][], shape, fn, typeForMath, ctx);
    }
    return [out(shape, elemType, values)];
  };
}

/** Before opset 7, binary ops broadcast B onto A only when `broadcast=1`: the result is A's shape. */
function legacyBroadcast(node: Node, shapes: Dim[][], ctx: RuleContext): Dim[] | undefined {
  if (ctx.opset >= 7 || shapes.length !== 2 || !LEGACY.has(node.opType)) return undefined;
  return [...shapes[0]!];
}

const LEGACY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less']);

/** PRelu: the output is X's shape (slope broadcasts onto X; before opset 7, per channel). */
const prelu: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  const slope = inputs[1]?.shape;
  if (!x) return undefined;
  if (slope && ctx.opset >= 7) {
    const b = broadcastShapes([x, slope], () => ctx.fresh(), where(node));
    if (b.length !== x.length || b.some((d, i) => typeof d === 'number' && typeof x[i] === 'number' && d !== x[i])) {
      fail(node, `slope ${formatShape(slope)} does not broadcast onto X ${formatShape(x)}`);
    }
  }
  return [out([...x], inputs[0]?.elemType)];
};

const plain = elementwise({});
const bool = elementwise({ output: 'bool' });

export const ELEMENTWISE_SHAPE_RULES: ShapeRuleTable = {
  Add: plain,
  Sub: plain,
  Mul: plain,
  Div: plain,
  Pow: plain,
  Mod: plain,
  BitShift: plain,
  BitwiseAnd: plain,
  BitwiseOr: plain,
  BitwiseXor: plain,
  PRelu: prelu,
  Max: plain,
  Min: plain,
  Sum: plain,
  Mean: plain,
  And: bool,
  Or: bool,
  Xor: bool,
  Equal: bool,
  Less: bool,
  LessOrEqual: bool,
  Greater: bool,
  GreaterOrEqual: bool,
  Where: elementwise({ output: 'input1' }),
  Not: unary((x) => (x ? 0 : 1)),
};
