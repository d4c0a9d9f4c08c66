/**
 * The ONNX Runtime runner of the equivalence harness: concrete input shapes for the graph inputs
 * (declared dims, symbolic dims from `inputShapes` or 1), seeded random inputs for every input
 * type ONNX Runtime takes, and a run that returns chosen values as float64 tensors. Sessions run
 * on the CPU provider with graph optimizations disabled, so what is compared is the graph as
 * written (and intermediate values exposed as outputs cannot change the arithmetic).
 */
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { checkElementCount } from '../onnx/model-io.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import { tensorDims, tensorTypedData } from '../onnx/tensor-data.js';
import { estimateMemory } from '../analysis/memory-estimate.js';
import { RuntimeError, withRunner } from '../runtime/session.js';
import type { RuntimeTensor } from '../runtime/tensor.js';
import { halfToNumber, numericData } from './tensor-values.js';

export interface InputSpec {
  name: string;
  /** Element type in A (and in B, when B declares another float type: float32 vs float16). */
  elemType: number;
  elemTypeB?: number;
  dims: number[];
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16]);

export interface Feed {
  /** ONNX data type code. */
  elemType: number;
  dims: number[];
  data: Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
}

export interface RunValue {
  elemType: number;
  dims: number[];
  /** Contents as float64 (null for string tensors). */
  data: Float64Array | null;
}

/** mulberry32: small, fast, and the same sequence everywhere. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** float -> float16 bits (round to nearest even), for float16 inputs. */
function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) return sign; // the inputs are in [0, 1): subnormals are not needed
  if (exp >= 31) return sign | 0x7c00;
  const round = mant & 0x1fff;
  mant >>>= 13;
  let h = sign | (exp << 10) | mant;
  if (round > 0x1000 || (round === 0x1000 && (mant & 1))) h++;
  return h;
}

/**
 * The inputs both models are fed: the non-initializer graph inputs of `a` (which `b` must also
 * have, with the same element types), with dims taken from `given`, else a fixed dim of either
 * model, else 1.
 */
export function inputSpecs(a: Model, b: Model | undefined, given: Record<string, Dim[]> = {}): InputSpec[] {
  const ia = a.graph.inputs.filter((v) => !v.isInitializer);
  const specs: InputSpec[] = [];
  for (const name of Object.keys(given)) {
    if (!ia.some((v) => v.name === name)) throw new UserError('usage', `--input-shape names '${name}', which is not a graph input (inputs: ${ia.map((v) => v.name).join(', ')})`);
  }
  if (b) {
    const ib = b.graph.inputs.filter((v) => !v.isInitializer);
    const namesA = ia.map((v) => v.name).sort().join(', ');
    const namesB = ib.map((v) => v.name).sort().join(', ');
    if (namesA !== namesB) throw new UserError('equiv-inputs-differ', `the models take different inputs: A takes ${namesA || 'none'}, B takes ${namesB || 'none'}; they cannot be fed the same inputs`);
  }
  for (const v of ia) {
    const w = b?.graph.lookup(v.name);
    const elemType = v.elemType;
    if (elemType === undefined || !(elemType in FEEDERS)) {
      throw new UserError('equiv-input-type', `graph input '${v.name}' has type ${dataTypeName(elemType)}, which the equivalence runner cannot feed`);
    }
    let elemTypeB: number | undefined;
    if (w && w.elemType !== elemType) {
      if (!FLOAT_TYPES.has(elemType) || w.elemType === undefined || !FLOAT_TYPES.has(w.elemType)) {
        throw new UserError('equiv-inputs-differ', `graph input '${v.name}' is ${dataTypeName(elemType)} in A but ${dataTypeName(w.elemType)} in B`);
      }
      elemTypeB = w.elemType; // float32 vs float16 (or float64): the same values, in each model's type
    }
    const da = v.declaredShape;
    const db = w?.declaredShape;
    const g = given[v.name];
    const rank = g?.length ?? da?.length ?? db?.length;
    if (rank === undefined) throw new UserError('equiv-needs-input-shape', `graph input '${v.name}' has no declared shape: give one with --input-shape ${v.name}=N,C,H,W`);
    if (!g && da && db && da.length !== db.length) throw new UserError('equiv-inputs-differ', `graph input '${v.name}' has rank ${da.length} in A but ${db.length} in B`);
    const dims: number[] = [];
    for (let i = 0; i < rank; i++) {
      const gi = g?.[i];
      const pick = [gi, da?.[i], db?.[i]].find((d) => typeof d === 'number');
      dims.push(typeof pick === 'number' ? pick : 1);
    }
    dims.forEach((d, i) => {
      if (!(Number.isSafeInteger(d) && d >= 0 && d <= 2 ** 31 - 1)) {
        throw new UserError('equiv-input-shape', `graph input '${v.name}' declares dim ${d} at axis ${i}, which cannot be fed: give its shape with --input-shape ${v.name}=...`);
      }
    });
    specs.push({ name: v.name, elemType, ...(elemTypeB !== undefined ? { elemTypeB } : {}), dims });
  }
  return specs;
}

const FEEDERS: Record<number, (n: number, r: () => number) => Feed['data']> = {
  [DataType.FLOAT]: (n, r) => Float32Array.from({ length: n }, r),
  [DataType.DOUBLE]: (n, r) => Float64Array.from({ length: n }, r),
  [DataType.FLOAT16]: (n, r) => Uint16Array.from({ length: n }, () => toHalf(r())),
  [DataType.INT8]: (n, r) => Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128),
  [DataType.UINT8]: (n, r) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256)),
  [DataType.INT16]: (n, r) => Int16Array.from({ length: n }, () => Math.floor(r() * 256)),
  [DataType.UINT16]: (n, r) => Uint16Array.from({ length: n }, () => Math.floor(r() * 256)),
  [DataType.INT32]: (n, r) => Int32Array.from({ length: n }, () => Math.floor(r() * 256)),
  [DataType.UINT32]: (n, r) => Uint32Array.from({ length: n }, () => Math.floor(r() * 256)),
  [DataType.INT64]: (n) => new BigInt64Array(n),
  [DataType.UINT64]: (n) => new BigUint64Array(n),
  [DataType.BOOL]: (n, r) => Uint8Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1)),
};

/**
 * Seeded inputs: floats uniform in [0, 1) (images scaled to [0, 1]), 8- to 32-bit integers and
 * booleans uniform over small ranges, 64-bit integers 0 (they are usually indices or shapes).
 * Each input gets its own stream (seed + its position), so adding an input does not change the others.
 */
export function seededFeeds(specs: readonly InputSpec[], seed: number, side: 'a' | 'b' = 'a'): Record<string, Feed> {
  const out: Record<string, Feed> = {};
  specs.forEach((s, i) => {
    const n = s.dims.reduce((x, y) => x * y, 1);
    checkElementCount(n, `input '${s.name}' [${s.dims.join(',')}]`);
    const rnd = seededRandom((seed + i * 0x9e3779b1) >>> 0);
    const type = side === 'b' && s.elemTypeB !== undefined ? s.elemTypeB : s.elemType;
    if (s.elemTypeB === undefined) {
      out[s.name] = { elemType: type, dims: s.dims, data: FEEDERS[type]!(n, rnd) };
      return;
    }
    // the models take different float types: the same values, rounded to the narrower type, in each model's type
    const half = s.elemType === DataType.FLOAT16 || s.elemTypeB === DataType.FLOAT16;
    const values = Float64Array.from({ length: n }, () => {
      const x = rnd();
      return half ? halfToNumber(toHalf(x)) : Math.fround(x);
    });
    const data = type === DataType.FLOAT16 ? Uint16Array.from(values, toHalf) : type === DataType.DOUBLE ? values : Float32Array.from(values);
    out[s.name] = { elemType: type, dims: s.dims, data };
  });
  return out;
}

/**
 * Run `model` in ONNX Runtime on `feeds`; returns the graph outputs and the named extra values of
 * the main graph (exposed as outputs of a copy; the model itself is not modified).
 */
export async function runModel(model: Model, feeds: Record<string, Feed>, extra: readonly string[] = []): Promise<Map<string, RunValue>> {
  // no extra values: the model runs as it is (from its file when it is one, external data beside it)
  const copy = extra.length > 0 ? model.clone() : model;
  const g = copy.graph;
  for (const name of extra) {
    const v = g.lookup(name);
    if (!v || v.graph !== g) throw new UserError('no-such-value', `no value named '${name}' in the main graph`);
    if (!v.isInitializer && !g.outputs.includes(v)) g.outputs.push(v);
  }
  const wanted = [...new Set([...g.outputs.map((v) => v.name), ...extra])].filter((n) => !g.value(n).isInitializer);
  const tensors: Record<string, RuntimeTensor> = {};
  for (const [name, f] of Object.entries(feeds)) tensors[name] = { elemType: f.elemType, dims: f.dims, data: f.data };
  const inputShapes = Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, f.dims]));
  const memory = { estimate: estimateMemory(copy, { inputShapes }), what: describe(model) };
  let res: Record<string, RuntimeTensor>;
  try {
    res = await withRunner(copy, { memory }, (r) => r.run(tensors, wanted));
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e;
    if (e.phase === 'load') throw new UserError('equiv-session', `ONNX Runtime cannot load ${describe(model)}: ${e.detail.split('\n')[0]}`);
    throw new UserError('equiv-run', `ONNX Runtime cannot run ${describe(model)} on the inputs (${Object.entries(feeds).map(([k, f]) => `${k} [${f.dims.join(',')}]`).join(', ')}): ${e.detail}`);
  }
  const out = new Map<string, RunValue>();
  // outputs that are constants (an initializer listed as a graph output) are not run: read them
  for (const v of g.outputs) {
    const t = v.initializer;
    if (!t) continue;
    const elemType = t.data_type ?? 0;
    out.set(v.name, { elemType, dims: tensorDims(t), data: elemType === DataType.STRING ? null : numericData(tensorTypedData(t), elemType) });
  }
  for (const name of wanted) {
    const t = res[name];
    if (!t) continue;
    out.set(name, { elemType: t.elemType, dims: t.dims, data: Array.isArray(t.data) ? null : numericData(t.data, t.elemType) });
  }
  return out;
}

function describe(m: Model): string {
  return m.path ? `'${m.path}'` : 'the model';
}

