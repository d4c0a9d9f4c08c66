/**
 * Directional central finite differences for gradient checks against whole models (the mirror's
 * gradient tests, test/mirror/gradients.test.ts, and the engine contract suite,
 * test/differentiable/engine-contract.ts), and the small smooth CNN they run on.
 *
 * For a random direction d: rel = |g.d - (f(x+hd) - f(x-hd)) / 2h| / |g.d|, the best over a few
 * steps h (relative to ||x||): float32 f means h must be large enough that rounding does not swamp
 * the difference and small enough that it crosses no kink (on smooth models the window is wide).
 * Directions nearly orthogonal to the gradient (|g.d| below a third of its typical size
 * ||g|| ||d|| / sqrt(n)) are redrawn: there the relative error measures nothing.
 */
import { Model } from '../../src/ir/model.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { floatTensor, int64Tensor, model as buildModel, node, tensorInfo, FLOAT } from './proto-build.js';

/** The relative error a correct float32 gradient stays under on the smooth models (a 5% error is caught). */
export const MAX_REL = 1e-2;
/** Steps (times ||x|| / ||d||) for ReLU networks: a kink crossing is wrong for every larger step, rounding for every smaller one. */
export const RELU_STEPS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5];
/** Steps for smooth models. */
export const SMOOTH_STEPS = [3e-2, 1e-2, 3e-3];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** n standard normal float32 values (Box-Muller over a seeded LCG). */
export function gaussian(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()));
}

export function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export interface Check {
  what: string;
  gd: number;
  fd: number;
  rel: number;
}

/** A direction from `draw`, redrawn (up to 20 times) while it is nearly orthogonal to `grad`. */
export function direction(grad: ArrayLike<number>, draw: () => Float32Array): Float32Array {
  let d = draw();
  const typical = (norm(grad) * norm(d)) / Math.sqrt(d.length);
  for (let tries = 0; Math.abs(dot(grad, d)) < typical / 3 && tries < 20; tries++) d = draw();
  return d;
}

/** g.d against central differences of `f` at `value` along `d`, the best of `steps`. */
export async function checkDirection(what: string, f: (x: Float32Array) => Promise<number>, value: Float32Array, grad: ArrayLike<number>, d: Float32Array, steps: readonly number[] = SMOOTH_STEPS): Promise<Check> {
  const gd = dot(grad, d);
  let best: Check | undefined;
  for (const step of steps) {
    const h = (step * Math.max(norm(value), 1e-3)) / norm(d);
    const plus = Float32Array.from(value, (v, i) => v + h * d[i]!);
    const minus = Float32Array.from(value, (v, i) => v - h * d[i]!);
    const fd = ((await f(plus)) - (await f(minus))) / (2 * h);
    const c = { what: `${what} (step ${step})`, gd, fd, rel: Math.abs(gd - fd) / Math.abs(gd) };
    if (!best || c.rel < best.rel) best = c;
  }
  return best!;
}

export function report(checks: Check[]): string {
  return checks.map((c) => `${c.what}: g.d ${c.gd.toExponential(4)} fd ${c.fd.toExponential(4)} rel ${c.rel.toExponential(2)}`).join('\n');
}

const ints = (name: string, v: number[]): AttributeProto => ({ name, ints: v, type: 7 });

/**
 * A small smooth IQA-like CNN: conv-tanh-avgpool-conv-softplus-conv-sigmoid-GAP-gemm,
 * [N,3,24,24] -> [N,1]; parameters c1.w, c1.b, c2.w, c2.b, c3.w, c3.b, fc.w, fc.b. With
 * `reshapeHead`, the Flatten before the head is a Reshape by an int64 initializer `head.shape`
 * (an initializer that is not a parameter).
 */
export function smoothCnn(seed: number, opts: { reshapeHead?: boolean } = {}): Model {
  let k = seed;
  const w = (name: string, dims: number[], scale: number) => floatTensor(name, dims, Array.from(gaussian(dims.reduce((a, b) => a * b, 1), k++), (v) => v * scale));
  const head = opts.reshapeHead ? node('Reshape', ['g', 'head.shape'], ['f'], 'flat') : node('Flatten', ['g'], ['f'], 'flat');
  const proto = buildModel({
    inputs: [tensorInfo('image', FLOAT, ['N', 3, 24, 24])],
    outputs: [tensorInfo('score', FLOAT, ['N', 1])],
    initializers: [
      w('c1.w', [8, 3, 3, 3], 0.3), w('c1.b', [8], 0.1), w('c2.w', [16, 8, 3, 3], 0.15), w('c2.b', [16], 0.1), w('c3.w', [16, 16, 3, 3], 0.1), w('c3.b', [16], 0.1), w('fc.w', [1, 16], 0.5), w('fc.b', [1], 0.1),
      ...(opts.reshapeHead ? [int64Tensor('head.shape', [2], [0, -1])] : []),
    ],
    nodes: [
      node('Conv', ['image', 'c1.w', 'c1.b'], ['a1'], 'c1', { attribute: [ints('pads', [1, 1, 1, 1])] }),
      node('Tanh', ['a1'], ['t1'], 't1'),
      node('AveragePool', ['t1'], ['p1'], 'p1', { attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] }),
      node('Conv', ['p1', 'c2.w', 'c2.b'], ['a2'], 'c2', { attribute: [ints('pads', [1, 1, 1, 1])] }),
      node('Softplus', ['a2'], ['s2'], 's2'),
      node('Conv', ['s2', 'c3.w', 'c3.b'], ['a3'], 'c3', { attribute: [ints('pads', [1, 1, 1, 1])] }),
      node('Sigmoid', ['a3'], ['s3'], 's3'),
      node('GlobalAveragePool', ['s3'], ['g'], 'gap'),
      head,
      node('Gemm', ['f', 'fc.w', 'fc.b'], ['score'], 'fc', { attribute: [{ name: 'transB', i: 1, type: 2 }] }),
    ],
  });
  return new Model(proto);
}
