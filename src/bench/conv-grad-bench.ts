/**
 * Conv2DBackpropFilter benchmark (`npm run bench -- --only convgrad`): on ResNet-like layers, the
 * tfjs cpu backend's forward conv2d, its stock Conv2DBackpropFilter and the toolkit's fast one
 * (src/mirror/kernels/conv2d-backprop-filter.ts), in one process on the same data.
 *
 * The stock kernel runs at a few MFLOP/s, so at the layers' full batch-8 sizes it alone would take
 * minutes per layer. It is therefore timed (once, with the forward conv and the fast kernel beside
 * it on the same tensors) on a batch-1 crop of each layer: same kernel, channels and stride, a
 * smaller map. The full sizes time the forward conv and the fast kernel only. Every timing is of
 * the kernel through `engine.runKernel` including `dataSync`, median of `reps` runs after a
 * warm-up (the stock kernel: one run). The fast result is checked against the stock one:
 * max |fast - stock| / max |stock|.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  fastConvGradKernelsRegistered,
  registerFastConvGradKernels,
  restoreStockConvGradKernels,
} from '../mirror/kernels/conv2d-backprop-filter.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

export interface ConvGradLayer {
  name: string;
  /** NHWC at full size */
  x: [number, number, number, number];
  /** HWIO */
  filter: [number, number, number, number];
  strides: number;
  pad: Pad;
  /** Spatial size (H = W) and batch of the crop on which the stock kernel is timed. */
  stockCrop: { batch: number; size: number };
}

export const CONV_GRAD_LAYERS: ConvGradLayer[] = [
  { name: 'layer1 3x3 64->64', x: [8, 56, 56, 64], filter: [3, 3, 64, 64], strides: 1, pad: 'same', stockCrop: { batch: 1, size: 28 } },
  { name: 'layer2 3x3 128->128', x: [8, 28, 28, 128], filter: [3, 3, 128, 128], strides: 1, pad: 'same', stockCrop: { batch: 1, size: 14 } },
  {
    name: 'stem 7x7 s2 3->64',
    x: [4, 224, 224, 3],
    filter: [7, 7, 3, 64],
    strides: 2,
    pad: [[0, 0], [3, 3], [3, 3], [0, 0]],
    stockCrop: { batch: 1, size: 112 },
  },
  { name: 'layer3 1x1 256->1024', x: [8, 14, 14, 256], filter: [1, 1, 256, 1024], strides: 1, pad: 'valid', stockCrop: { batch: 1, size: 7 } },
];

export interface ConvGradTiming {
  x: number[];
  /** Multiply-adds x 2 of the conv (the backprop-filter does the same number). */
  gflop: number;
  forwardMs: number;
  fastMs: number;
  /** fast / forward: the filter gradient's cost in forward-conv units. */
  fastOverForward: number;
  stockMs?: number;
  /** stock / fast */
  speedup?: number;
  /** max |fast - stock| / max |stock| */
  relErr?: number;
}

export interface ConvGradBenchRow {
  layer: string;
  filter: number[];
  strides: number;
  pad: Pad;
  /** batch-1 crop: forward, stock and fast */
  crop: ConvGradTiming;
  /** full size: forward and fast */
  full: ConvGradTiming;
}

export interface ConvGradBenchResult {
  backend: string;
  method: string;
  rows: ConvGradBenchRow[];
  /** Smallest and geometric-mean stock / fast over the layers. */
  minSpeedup: number;
  geomeanSpeedup: number;
}

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function timeIt(fn: () => Float32Array, reps: number, warmup: boolean): { ms: number; out: Float32Array } {
  let out = warmup ? fn() : new Float32Array(0);
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    out = fn();
    ms.push(performance.now() - t0);
  }
  return { ms: median(ms), out };
}

function relErr(ref: Float32Array, got: Float32Array): number {
  if (ref.length !== got.length) return Infinity;
  let maxRef = 0;
  let maxErr = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    maxErr = Math.max(maxErr, Math.abs(got[i]! - ref[i]!));
  }
  return maxRef === 0 ? (maxErr === 0 ? 0 : Infinity) : maxErr / maxRef;
}

function timeLayer(layer: ConvGradLayer, xShape: [number, number, number, number], withStock: boolean, reps: number): ConvGradTiming {
  const x = tf.tensor4d(seeded(xShape.reduce((a, b) => a * b, 1), 1), xShape);
  const f = tf.tensor4d(seeded(layer.filter.reduce((a, b) => a * b, 1), 2), layer.filter);
  const run = (t: tf.Tensor): Float32Array => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  };
  const forward = (): Float32Array => run(tf.conv2d(x, f, layer.strides, layer.pad));
  const y = tf.conv2d(x, f, layer.strides, layer.pad);
  const dy = tf.tensor4d(seeded(y.size, 3), y.shape as [number, number, number, number]);
  y.dispose();
  const attrs: tf.NamedAttrMap = { strides: layer.strides, pad: layer.pad, dataFormat: 'NHWC', filterShape: layer.filter };
  const backprop = (): Float32Array => run(tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs) as tf.Tensor);
  const [, OH, OW] = dy.shape;
  const [KH, KW, Ci, Co] = layer.filter;
  const gflop = (2 * xShape[0] * OH! * OW! * KH * KW * Ci * Co) / 1e9;
  try {
    const fw = timeIt(forward, reps, true);
    registerFastConvGradKernels();
    const fast = timeIt(backprop, reps, true);
    const t: ConvGradTiming = { x: xShape, gflop, forwardMs: fw.ms, fastMs: fast.ms, fastOverForward: fast.ms / fw.ms };
    if (withStock) {
      restoreStockConvGradKernels();
      const stock = timeIt(backprop, 1, false);
      registerFastConvGradKernels();
      t.stockMs = stock.ms;
      t.speedup = stock.ms / fast.ms;
      t.relErr = relErr(stock.out, fast.out);
    }
    return t;
  } finally {
    tf.dispose([x, f, dy]);
  }
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

export function formatConvGradTable(r: ConvGradBenchResult): string {
  const lines: string[] = [];
  lines.push('layer                  | input (crop)      | GFLOP | forward   | stock      | fast     | stock/fast | fast/fwd | rel err');
  for (const row of r.rows) {
    const c = row.crop;
    lines.push(
      `${row.layer.padEnd(22)} | ${c.x.join('x').padEnd(17)} | ${c.gflop.toFixed(3).padStart(5)} | ${fmt(c.forwardMs).padStart(9)} | ${fmt(c.stockMs!).padStart(10)} | ${fmt(c.fastMs).padStart(8)} | ${c.speedup!.toFixed(0).padStart(9)}x | ${c.fastOverForward.toFixed(2).padStart(7)}x | ${c.relErr!.toExponential(1)}`,
    );
  }
  lines.push('');
  lines.push('layer                  | input (full)      | GFLOP | forward   | fast     | fast/fwd | fast GFLOP/s');
  for (const row of r.rows) {
    const f = row.full;
    lines.push(
      `${row.layer.padEnd(22)} | ${f.x.join('x').padEnd(17)} | ${f.gflop.toFixed(3).padStart(5)} | ${fmt(f.forwardMs).padStart(9)} | ${fmt(f.fastMs).padStart(8)} | ${f.fastOverForward.toFixed(2).padStart(7)}x | ${(f.gflop / (f.fastMs / 1000)).toFixed(2)}`,
    );
  }
  lines.push('');
  lines.push(`stock/fast: min ${r.minSpeedup.toFixed(0)}x, geometric mean ${r.geomeanSpeedup.toFixed(0)}x (goal >= 10x)`);
  return lines.join('\n');
}

export async function benchConvGrad(opts: { layers?: ConvGradLayer[]; reps?: number; log?: (s: string) => void } = {}): Promise<ConvGradBenchResult> {
  const layers = opts.layers ?? CONV_GRAD_LAYERS;
  const reps = opts.reps ?? 3;
  const log = opts.log ?? (() => {});
  if (tf.getBackend() !== 'cpu') {
    const ok = await tf.setBackend('cpu');
    if (!ok) throw new Error('the tfjs cpu backend did not initialise');
  }
  await tf.ready();
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  const wasFast = fastConvGradKernelsRegistered();
  registerFastConvGradKernels(); // keeps the stock kernel for restoreStockConvGradKernels
  const rows: ConvGradBenchRow[] = [];
  try {
    for (const layer of layers) {
      const { batch, size } = layer.stockCrop;
      log(`  ${layer.name}: crop ${batch}x${size}x${size}x${layer.x[3]} (forward, stock, fast)`);
      const crop = timeLayer(layer, [batch, size, size, layer.x[3]], true, Math.max(reps, 5));
      log(`  ${layer.name}: full ${layer.x.join('x')} (forward, fast)`);
      const full = timeLayer(layer, layer.x, false, reps);
      rows.push({ layer: layer.name, filter: layer.filter, strides: layer.strides, pad: layer.pad, crop, full });
    }
  } finally {
    if (!wasFast) restoreStockConvGradKernels();
  }
  const speedups = rows.map((r) => r.crop.speedup!);
  return {
    backend: `tfjs-core ${tf.version_core} cpu backend`,
    method:
      'engine.runKernel + dataSync, median of reps after a warm-up (stock: one run, on a batch-1 crop of the layer); ' +
      'relErr = max|fast - stock| / max|stock|',
    rows,
    minSpeedup: Math.min(...speedups),
    geomeanSpeedup: Math.exp(speedups.reduce((s, v) => s + Math.log(v), 0) / speedups.length),
  };
}
