/**
 * Benchmark input: a full-width ResNet-50 IQA model with random weights (~100 MB), made by
 * widening the project's reduced PyTorch export (fixtures/models/resnet50_iqa.onnx, base width 8)
 * by 8x to torchvision's widths (base 64). The graph, names and layout are PyTorch's; only the
 * initializers change. Generated when the benchmark runs, never committed.
 */
import { Model } from '../ir/model.js';
import type { TensorProto } from '../onnx/proto-types.js';
import { tensorDims } from '../onnx/tensor-data.js';

/** Deterministic pseudo-random float32 weights in [-0.05, 0.05). */
function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 0.1;
  }
  return out;
}

export function widenResnet(fixture: string, factor: number): Model {
  const model = Model.load(fixture);
  const g = model.graph;
  const inputChannels = 3;
  let seed = 1;
  for (const node of g.nodes) {
    if (node.opType !== 'Conv' && node.opType !== 'Gemm') continue;
    for (const [slot, v] of node.inputs.entries()) {
      if (!v?.initializer || slot === 0) continue;
      const t = v.initializer;
      const dims = tensorDims(t);
      let wide: number[];
      if (node.opType === 'Conv') {
        wide = slot === 1 ? [dims[0]! * factor, dims[1] === inputChannels ? dims[1]! : dims[1]! * factor, ...dims.slice(2)] : [dims[0]! * factor];
      } else {
        // torch Linear: weight [out, in] (transB = 1); the score head keeps out = 1
        wide = slot === 1 ? [dims[0]!, dims[1]! * factor] : dims;
      }
      const n = wide.reduce((a, b) => a * b, 1);
      const data = randomFloats(n, seed++);
      const next: TensorProto = { ...t, dims: wide, raw_data: new Uint8Array(data.buffer) };
      v.initializer = next;
    }
  }
  return model;
}
