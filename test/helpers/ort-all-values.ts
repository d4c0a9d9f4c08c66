/**
 * Ground truth for shape inference: run a model in ONNX Runtime with every value of the main
 * graph exposed as a graph output, and compare inferred shapes against what it produced.
 * Deliberately independent of src/analysis/shape-probe.ts (it is the oracle the probe is checked against).
 */
import * as ort from 'onnxruntime-node';
import type { Model } from '../../src/ir/model.js';
import { evalDim } from '../../src/analysis/shapes/symbolic.js';
import type { ShapeMap } from '../../src/analysis/shapes/shape-map.js';
import { tensorDims } from '../../src/onnx/tensor-data.js';

export interface ActualValue {
  dims: number[];
  elemType: number;
}

const CODES: Record<string, number> = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13,
};

function feed(elemType: number | undefined, dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 48271) + 11) >>> 0;
    return s / 2 ** 32;
  };
  switch (elemType) {
    case 1:
      return new ort.Tensor('float32', Float32Array.from({ length: n }, rnd), dims);
    case 10:
      return new ort.Tensor('float16', Uint16Array.from({ length: n }, () => 0x3400 + Math.floor(rnd() * 0x7ff)), dims);
    case 7:
      return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case 6:
      return new ort.Tensor('int32', new Int32Array(n), dims);
    case 2:
      return new ort.Tensor('uint8', Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)), dims);
    default:
      throw new Error(`runAllValues: cannot feed element type ${elemType}`);
  }
}

/**
 * Shapes and types of every value of the main graph when the model runs on inputs of the given
 * shapes (graph inputs that are initializers keep their initializer unless named).
 */
export async function runAllValues(model: Model, inputShapes: Record<string, number[]>, seed = 7): Promise<Map<string, ActualValue>> {
  const copy = model.clone();
  const g = copy.graph;
  const actual = new Map<string, ActualValue>();
  for (const v of g.initializers()) actual.set(v.name, { dims: tensorDims(v.initializer!), elemType: v.initializer!.data_type ?? 0 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of g.inputs) {
    if (v.isInitializer && !(v.name in inputShapes)) continue;
    const dims = inputShapes[v.name];
    if (!dims) throw new Error(`runAllValues: no shape for input '${v.name}'`);
    feeds[v.name] = feed(v.elemType, dims, seed++);
    // declare the fed shape (the copy may run at sizes other than the declared ones)
    const tensorType = v.info?.type?.tensor_type;
    if (tensorType) tensorType.shape = { dim: dims.map((d) => ({ dim_value: d })) };
    actual.set(v.name, { dims, elemType: v.elemType ?? 0 });
  }
  const names: string[] = [];
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (!o) continue;
      names.push(o.name);
      if (!g.outputs.includes(o)) g.outputs.push(o);
    }
  }
  const session = await ort.InferenceSession.create(copy.toBytes(), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const res = await session.run(feeds, names);
    for (const name of names) {
      const t = res[name]!;
      actual.set(name, { dims: t.dims.map(Number), elemType: CODES[t.type] ?? -1 });
    }
  } finally {
    await session.release();
  }
  return actual;
}

/**
 * Differences between inferred and actual shapes ('' when none), symbolic dims evaluated with
 * `bindings`. Every actual value must be inferred, with the same type and the same dims.
 */
export function shapeMismatches(inferred: ShapeMap, actual: ReadonlyMap<string, ActualValue>, bindings: Record<string, number> = {}): string[] {
  const problems: string[] = [];
  for (const [name, a] of actual) {
    const info = inferred.get(name);
    if (!info) {
      problems.push(`${name}: not inferred (actual [${a.dims.join(', ')}])`);
      continue;
    }
    if (!info.shape) {
      problems.push(`${name}: rank unknown (actual [${a.dims.join(', ')}])`);
      continue;
    }
    const dims = info.shape.map((d) => evalDim(d, bindings));
    if (dims.length !== a.dims.length || dims.some((d, i) => d !== a.dims[i])) {
      problems.push(`${name}: inferred [${info.shape.join(', ')}] (${info.source}${info.rule ? ` ${info.rule}` : ''}) but actual [${a.dims.join(', ')}]`);
    }
    if (info.elemType !== a.elemType) problems.push(`${name}: inferred element type ${info.elemType} but actual ${a.elemType}`);
  }
  return problems;
}
