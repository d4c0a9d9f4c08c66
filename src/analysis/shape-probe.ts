/**
 * The shape probe: runs ONNX Runtime once on a copy of the model whose graph outputs include the
 * values asked about, with inputs of a given concrete shape, and reports the actual shapes (and
 * the contents of small numeric results, so later rules can use them).
 *
 * Symbolic input dims need a value: they come from `inputShapes` or default to 1, and the
 * result's notes say which were substituted.
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import { checkElementCount, currentLimits, DEFAULT_LIMITS } from '../onnx/model-io.js';
import { RuntimeError, withRunner } from '../runtime/session.js';
import type { RuntimeTensor } from '../runtime/tensor.js';
import { estimateMemory } from './memory-estimate.js';

/**
 * The probe allocates its inputs and ONNX Runtime then allocates every intermediate, so it stays
 * under 2^28 elements per input (1 GiB of float32) unless --max-tensor-elements was raised above
 * its default, in which case the raised value applies.
 */
function probeElementCap(): number {
  const limit = currentLimits().maxTensorElements;
  return limit > DEFAULT_LIMITS.maxTensorElements ? limit : Math.min(limit, 2 ** 28);
}
import type { Dim } from './shapes/types.js';

export interface ProbeOptions {
  /** Shapes for graph inputs (symbolic entries are set to 1). Default: the declared shapes. */
  inputShapes?: Record<string, Dim[]>;
}

export interface ProbedValue {
  elemType: number;
  shape: number[];
  /** Contents of small numeric tensors. */
  value?: number[];
}

export interface ProbeResult {
  values: Map<string, ProbedValue>;
  /** The concrete input shapes the model ran with. */
  inputShapes: Record<string, number[]>;
  notes: string[];
}

/** Types whose small tensors report their contents. */
const VALUE_TYPES: ReadonlySet<number> = new Set([DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.BOOL, DataType.FLOAT, DataType.DOUBLE]);

/** Tensors up to this many elements report their contents. */
const MAX_VALUE_ELEMENTS = 1024;


/** ONNX Runtime's name of a tensor type, and the typed array it takes. */
const FEED_TYPES: Record<number, { ort: string; make: (n: number, rnd: () => number) => unknown }> = {
  [DataType.FLOAT]: { ort: 'float32', make: (n, r) => Float32Array.from({ length: n }, r) },
  [DataType.DOUBLE]: { ort: 'float64', make: (n, r) => Float64Array.from({ length: n }, r) },
  // float16 bits of values in [0.5, 1)
  [DataType.FLOAT16]: { ort: 'float16', make: (n, r) => Uint16Array.from({ length: n }, () => 0x3800 + Math.floor(r() * 0x3ff)) },
  [DataType.INT8]: { ort: 'int8', make: (n) => new Int8Array(n) },
  [DataType.UINT8]: { ort: 'uint8', make: (n) => new Uint8Array(n) },
  [DataType.INT16]: { ort: 'int16', make: (n) => new Int16Array(n) },
  [DataType.UINT16]: { ort: 'uint16', make: (n) => new Uint16Array(n) },
  [DataType.INT32]: { ort: 'int32', make: (n) => new Int32Array(n) },
  [DataType.UINT32]: { ort: 'uint32', make: (n) => new Uint32Array(n) },
  [DataType.INT64]: { ort: 'int64', make: (n) => new BigInt64Array(n) },
  [DataType.UINT64]: { ort: 'uint64', make: (n) => new BigUint64Array(n) },
  [DataType.BOOL]: { ort: 'bool', make: (n) => new Uint8Array(n) },
};

/** A small deterministic generator (inputs in [0, 1): no data-dependent surprises from NaNs). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Concrete shapes for the graph inputs the model must be fed. */
export function concreteInputShapes(model: Model, given: Record<string, Dim[]> = {}): { shapes: Record<string, number[]>; notes: string[] } {
  const shapes: Record<string, number[]> = {};
  const notes: string[] = [];
  for (const v of model.graph.inputs) {
    if (v.isInitializer && !(v.name in given)) continue;
    const dims = given[v.name] ?? v.declaredShape;
    if (!dims) {
      throw new UserError('probe-needs-input-shape', `graph input '${v.name}' has no declared shape: give one in inputShapes (e.g. { '${v.name}': [1, 3, 224, 224] })`);
    }
    shapes[v.name] = dims.map((d, i) => {
      if (typeof d === 'number') return d;
      notes.push(`probe: dim ${i} of input '${v.name}' (${d ?? 'unnamed'}) set to 1; pass inputShapes to choose`);
      return 1;
    });
  }
  return { shapes, notes };
}

/** Run the model once and report the shapes of the named values of the main graph. */
export async function probeValues(model: Model, names: readonly string[], opts: ProbeOptions = {}): Promise<ProbeResult> {
  const { shapes, notes } = concreteInputShapes(model, opts.inputShapes);
  const copy = model.clone();
  const g = copy.graph;
  const wanted: string[] = [];
  for (const name of names) {
    const v = g.lookup(name);
    if (!v || v.graph !== g) throw new UserError('no-such-value', `cannot probe '${name}': no such value in the main graph`);
    if (v.isGraphInput || v.isInitializer) continue;
    if (!g.outputs.includes(v)) g.outputs.push(v);
    wanted.push(name);
  }
  // the copy declares the concrete input shapes (ONNX Runtime checks inputs against them)
  for (const [name, dims] of Object.entries(shapes)) {
    const tensorType = g.value(name).info?.type?.tensor_type;
    if (tensorType) tensorType.shape = { dim: dims.map((d) => ({ dim_value: d })) };
  }
  const feeds: Record<string, RuntimeTensor> = {};
  const rnd = lcg(12345);
  for (const [name, dims] of Object.entries(shapes)) {
    const t = g.value(name).elemType;
    const kind = t === undefined ? undefined : FEED_TYPES[t];
    if (!kind) throw new UserError('probe-unsupported-input', `cannot probe: graph input '${name}' has type ${dataTypeName(t)}, which the probe cannot feed`);
    const n = dims.reduce((a, b) => a * b, 1);
    checkElementCount(n, `the probe's input '${name}' [${dims.join(',')}]`, probeElementCap());
    feeds[name] = { elemType: t!, dims, data: kind.make(n, rnd) as RuntimeTensor['data'] };
  }
  let results: Record<string, RuntimeTensor>;
  const memory = { estimate: estimateMemory(copy, { inputShapes: shapes }), what: 'the shape probe' };
  try {
    results = await withRunner(copy, { memory }, (r) => r.run(feeds, wanted));
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e;
    throw new UserError('probe-failed', `ONNX Runtime could not run the model to probe shapes: ${e.detail}`);
  }
  const values = new Map<string, ProbedValue>();
  for (const name of wanted) {
    const t = results[name];
    if (!t) continue;
    const info: ProbedValue = { elemType: t.elemType, shape: t.dims };
    if (t.data.length <= MAX_VALUE_ELEMENTS && VALUE_TYPES.has(t.elemType)) {
      info.value = Array.from(t.data as ArrayLike<number | bigint>, (x) => Number(x));
    }
    values.set(name, info);
  }
  return { values, inputShapes: shapes, notes };
}
