/**
 * NCHWc probe (`npm run bench -- --only nchwc`; a record, never in a default run): would trained
 * convs gain from ONNX Runtime's blocked-layout (`com.microsoft.nchwc`) Conv fed with a weight
 * reordered in the graph? Per ResNet-50 conv geometry at 498x664, one conv each way, interleaved,
 * medians: the plain Conv with its weight a graph input (how a trained conv runs now), the same
 * with a constant weight (ONNX Runtime's own NCHWc rewrite), and ReorderInput -> nchwc Conv
 * (weight: graph input -> Reshape/Transpose/Reshape to the OIHWBiBo or OIHWBo filter layout) ->
 * ReorderOutput, checked against the plain output. Then the whole forward of the full-width
 * ResNet-50 with constant weights against every weight a graph input. The block size is read from
 * ONNX Runtime: the channel count ReorderInput gives 4 channels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Model } from '../ir/model.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto-types.js';
import { openRunner, type Runner, type RuntimeTensor } from '../runtime/index.js';
import { sessionModel } from '../engines/session-model.js';
import { parameterNames } from '../differentiable/parameters.js';
import { DataType } from '../onnx/data-types.js';
import { tensorDims, tensorTypedData } from '../onnx/tensor-data.js';
import { interleavedMedians } from './measure.js';
import { makeModel, seeded } from './ortgrad-bench.js';

export interface NchwcConvRow {
  name: string;
  plainInputMs: number;
  plainConstMs: number;
  nchwcInputMs: number;
  maxDiff: number;
}

export interface NchwcProbe {
  blockSize: number;
  convs: NchwcConvRow[];
  forward: { constMs: number; inputsMs: number; h: number; w: number };
}

/** [name, N, C, O, H, W, k, stride] at 498x664. */
const GEOMETRIES: [string, number, number, number, number, number, number, number][] = [
  ['layer1 3x3 128->128 (widened)', 1, 128, 128, 125, 166, 3, 1],
  ['layer1 1x1 64->256', 1, 64, 256, 125, 166, 1, 1],
  ['layer1 1x1 256->64', 1, 256, 64, 125, 166, 1, 1],
  ['3x3 stride 2 128->128', 1, 128, 128, 125, 166, 3, 2],
  ['layer3 3x3 512->512', 1, 512, 512, 32, 42, 3, 1],
  ['layer3 1x1 1024->256', 1, 1024, 256, 32, 42, 1, 1],
  ['layer1 3x3 64->64', 1, 64, 64, 125, 166, 3, 1],
];

const NCHWC = 'com.microsoft.nchwc';
/** ONNX Runtime's default session options: every graph optimisation (its NCHWc rewrite included). */
const ALL = { optimization: 'all' } as const;
const info = (name: string, dims: number[]): ValueInfoProto => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } });
const ints = (name: string, v: number[]) => ({ name, ints: v, type: 7 });
function int64(name: string, v: number[]): TensorProto {
  return { name, dims: [v.length], data_type: DataType.INT64, raw_data: new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer) };
}
function float(name: string, dims: number[], v: Float32Array): TensorProto {
  return { name, dims, data_type: DataType.FLOAT, raw_data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
}
function model(nodes: NodeProto[], inputs: ValueInfoProto[], output: ValueInfoProto, initializers: TensorProto[]): Model {
  const proto: ModelProto = {
    ir_version: 8,
    producer_name: 'iqa-surgeon-bench',
    opset_import: [{ domain: '', version: 17 }, { domain: NCHWC, version: 1 }],
    graph: { name: 'probe', node: nodes, input: inputs, output: [output], initializer: initializers },
  };
  return new Model(proto);
}

/** The NCHWc block size of this build and CPU (what ReorderInput pads 4 channels to). */
async function blockSize(): Promise<number> {
  const r = await openRunner(model([{ op_type: 'ReorderInput', domain: NCHWC, input: ['x'], output: ['y'] }], [info('x', [1, 4, 1, 1])], { name: 'y', type: { tensor_type: { elem_type: DataType.FLOAT } } }, []));
  try {
    const y = await r.run({ x: { elemType: DataType.FLOAT, dims: [1, 4, 1, 1], data: new Float32Array(4) } });
    return y.y!.dims[1]!;
  } finally {
    await r.dispose();
  }
}

async function convRow(g: (typeof GEOMETRIES)[number], block: number, reps: number): Promise<NchwcConvRow> {
  const [name, n, c, o, h, w, k, s] = g;
  const p = (k - 1) / 2;
  const attrs = [ints('pads', [p, p, p, p]), ints('strides', [s, s]), ints('kernel_shape', [k, k])];
  const xDims = [n, c, h, w];
  const wDims = [o, c, k, k];
  const out = info('y', [n, o, Math.floor((h + 2 * p - k) / s) + 1, Math.floor((w + 2 * p - k) / s) + 1]);
  const x = seeded(n * c * h * w, 1);
  const wt = Float32Array.from(seeded(o * c * k * k, 2), (v) => v * 0.1);
  const conv: NodeProto = { op_type: 'Conv', input: ['x', 'w'], output: ['y'], attribute: attrs };
  const blocked = c >= block;
  // OIHWBiBo: [O/B, Bo, I/B, Bi, kh, kw] -> [O/B, I/B, kh, kw, Bi, Bo]; OIHWBo: [O/B, Bo, I, kh, kw] -> [O/B, I, kh, kw, Bo]
  const reorder: NodeProto[] = [
    { op_type: 'Reshape', input: ['w', 'split'], output: ['ws'] },
    { op_type: 'Transpose', input: ['ws'], output: ['wt'], attribute: [ints('perm', blocked ? [0, 2, 4, 5, 3, 1] : [0, 2, 3, 4, 1])] },
    { op_type: 'Reshape', input: ['wt', 'back'], output: ['wr'] },
  ];
  const consts = [int64('split', blocked ? [o / block, block, c / block, block, k, k] : [o / block, block, c, k, k]), int64('back', wDims)];
  const nchwc: NodeProto[] = [
    ...reorder,
    ...(blocked ? [{ op_type: 'ReorderInput', domain: NCHWC, input: ['x'], output: ['xb'] }] : []),
    { op_type: 'Conv', domain: NCHWC, input: [blocked ? 'xb' : 'x', 'wr'], output: ['yb'], attribute: attrs },
    { op_type: 'ReorderOutput', domain: NCHWC, input: ['yb'], output: ['y'], attribute: [{ name: 'channels', i: o, type: 2 }] },
  ];
  const runners: Record<string, Runner> = {
    plainInput: await openRunner(model([conv], [info('x', xDims), info('w', wDims)], out, []), ALL),
    plainConst: await openRunner(model([conv], [info('x', xDims)], out, [float('w', wDims, wt)]), ALL),
    nchwcInput: await openRunner(model(nchwc, [info('x', xDims), info('w', wDims)], out, consts), ALL),
  };
  try {
    const xf: RuntimeTensor = { elemType: DataType.FLOAT, dims: xDims, data: x };
    const wf: RuntimeTensor = { elemType: DataType.FLOAT, dims: wDims, data: wt };
    const feeds: Record<string, Record<string, RuntimeTensor>> = { plainInput: { x: xf, w: wf }, plainConst: { x: xf }, nchwcInput: { x: xf, w: wf } };
    const ref = (await runners.plainInput!.run(feeds.plainInput!)).y!.data as Float32Array;
    const got = (await runners.nchwcInput!.run(feeds.nchwcInput!)).y!.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
    await runners.plainConst!.run(feeds.plainConst!);
    const run = (key: string) => () => runners[key]!.run(feeds[key]!);
    const m = await interleavedMedians(reps, { plainInput: run('plainInput'), plainConst: run('plainConst'), nchwcInput: run('nchwcInput') }, { warmup: 0 });
    return { name, plainInputMs: m.plainInput, plainConstMs: m.plainConst, nchwcInputMs: m.nchwcInput, maxDiff };
  } finally {
    for (const r of Object.values(runners)) await r.dispose();
  }
}

/** The full-width ResNet-50's forward at h x w: constant weights against every weight a graph input. */
async function forwards(repoRoot: string, h: number, w: number, reps: number): Promise<NchwcProbe['forward']> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-nchwc-'));
  const file = path.join(dir, 'r50.onnx');
  makeModel(repoRoot, 8, h, w, file);
  const m = Model.load(file);
  const names = parameterNames(m);
  const feed: Record<string, RuntimeTensor> = { input: { elemType: DataType.FLOAT, dims: [1, 3, h, w], data: seeded(3 * h * w, 1) } };
  const fed: Record<string, RuntimeTensor> = { ...feed };
  for (const n of names) {
    const t = m.graph.lookup(n)!.initializer!;
    fed[n] = { elemType: DataType.FLOAT, dims: tensorDims(t), data: Float32Array.from(tensorTypedData(t) as ArrayLike<number>) };
  }
  const constant = await openRunner(file, ALL);
  const inputs = await openRunner(sessionModel(m, names), ALL);
  try {
    const m = await interleavedMedians(reps, { constant: () => constant.run(feed), inputs: () => inputs.run(fed) }, { warmup: 2 });
    return { constMs: m.constant, inputsMs: m.inputs, h, w };
  } finally {
    await constant.dispose();
    await inputs.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runNchwcProbe(repoRoot: string, log: (s: string) => void, opts: { reps?: number } = {}): Promise<NchwcProbe> {
  const reps = opts.reps ?? 10;
  const block = await blockSize();
  log(`  NCHWc block size ${block}`);
  const convs: NchwcConvRow[] = [];
  for (const g of GEOMETRIES) {
    const row = await convRow(g, block, reps);
    convs.push(row);
    log(`  ${row.name}: plain Conv, weight an input ${row.plainInputMs.toFixed(1)} ms; constant weight ${row.plainConstMs.toFixed(1)} ms; nchwc Conv, weight an input reordered in the graph ${row.nchwcInputMs.toFixed(1)} ms (max |diff| ${row.maxDiff.toExponential(1)})`);
  }
  const forward = await forwards(repoRoot, 498, 664, Math.max(4, Math.round(reps / 2)));
  log(`  full-width ResNet-50 forward at 498x664: constant weights ${forward.constMs.toFixed(0)} ms, every weight a graph input ${forward.inputsMs.toFixed(0)} ms (${(forward.inputsMs / forward.constMs).toFixed(2)}x)`);
  return { blockSize: block, convs, forward };
}
