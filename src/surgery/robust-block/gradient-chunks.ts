/**
 * The RobustBlock's parametric Cayley in frequency chunks, for differentiation: a copy of the model
 * in which Q(f) and its spectral product Q(f) X(f) are computed K frequency rows at a time (each
 * chunk: the rows' Cayley matrices from W and alpha / ||Wf||_F, then their MatMuls with the same
 * rows of the input spectrum), every chunk recorded as a checkpoint segment
 * (src/ir/checkpoints.ts) and its inverse as an inverse region. A differentiating engine then
 * keeps no Q-sized value for the backward pass: each chunk is recomputed when the backward reaches
 * it and freed after. The forward is the same function (the chunks' rows are the full Q's rows,
 * the scale is computed once from the whole kernel), so the file the user saves never changes:
 * engines apply this to their own copy before building gradient graphs.
 *
 * At the paper's position (block input [1024, 32, 42], 512 -> 1024 channels, n = 32) Q is
 * 2 x 1.14 GB and each of the ~20 C x C intermediates of the inverse 2 x 0.57 GB; one frequency row
 * is 1/32 of that.
 */
import { addCheckpoints, type CheckpointSegment } from '../../ir/checkpoints.js';
import { pruneInverseRegions, readInverseRegions, writeInverseRegions, type InverseRegion } from '../../ir/inverse-regions.js';
import type { Model } from '../../ir/model.js';
import type { Value } from '../../ir/value.js';
import { cleanup } from '../../ir/passes/cleanup.js';
import { readBlockEntries } from '../block-metadata.js';
import { Emitter } from '../emit.js';
import { emitCayleyQ, emitSpectrumNorm, type InverseMethod } from './cayley-graph.js';
import { rfftBins } from './dft.js';

/** What the rewrite needs of one parametric Cayley block. */
export interface CayleyBlockSpec {
  prefix: string;
  weight: string;
  alpha: string;
  /** The values holding Q's real and imaginary planes [n, m, cout, cin]. */
  qr: string;
  qi: string;
  cout: number;
  cin: number;
  k: number;
  n: number;
  inverse: InverseMethod;
  iterations: number;
}

export interface ChunkOptions {
  /** Bytes one chunk's Cayley may take, roughly (default 512 MiB): sets the rows per chunk. */
  chunkBytes?: number;
}

export interface ChunkReport {
  prefix: string;
  /** Frequency rows per chunk and the number of chunks; 0 chunks: left whole (small, or why not). */
  rows: number;
  chunks: number;
  note?: string;
}

const DEFAULT_CHUNK_BYTES = 512 * 2 ** 20;

/** The parametric Cayley blocks recorded in the splice metadata. */
export function cayleyBlocks(model: Model): CayleyBlockSpec[] {
  const out: CayleyBlockSpec[] = [];
  for (const e of readBlockEntries(model) ?? []) {
    if (!e.cayley || e.form !== 'parametric' || !Array.isArray(e.fold) || e.fold.length !== 2) continue;
    const o = (e.options ?? {}) as { prefix?: string; inverse?: InverseMethod };
    out.push({
      prefix: o.prefix ?? 'robust_block',
      weight: e.cayley.weight,
      alpha: e.cayley.alpha,
      qr: e.fold[0]!,
      qi: e.fold[1]!,
      cout: e.cayley.cout,
      cin: e.cayley.cin,
      k: e.cayley.k,
      n: e.cayley.n,
      inverse: o.inverse ?? 'schur',
      iterations: typeof e.nsIterations === 'number' ? e.nsIterations : 0,
    });
  }
  return out;
}

/**
 * The inverse a chunk uses: the block's own, except that the exact Schur inverse (about
 * 16 C + 60 C / 16 nodes: 10,000 at C = 512) becomes com.microsoft::Inverse on the 2C x 2C real
 * block form (one node, a kernel of ONNX Runtime's CPU and CUDA providers): the Schur graph
 * copied into every chunk, and again into its recomputation, would make a graph of hundreds of
 * thousands of nodes. Both are exact inverses (they differ by float32 rounding).
 */
function chunkInverse(b: CayleyBlockSpec): InverseMethod {
  return b.inverse === 'schur' ? 'com.microsoft' : b.inverse;
}

/** Approximate bytes of one frequency row of the Cayley computation (its C x C planes, 2C x 2C block forms, and Q). */
function rowBytes(b: CayleyBlockSpec): number {
  const c = Math.min(b.cout, b.cin);
  return 4 * rfftBins(b.n) * (24 * c * c + 4 * b.cout * b.cin);
}

/** Approximate bytes of the block's Cayley computed whole (every frequency row at once). */
export function cayleyWholeBytes(b: CayleyBlockSpec): number {
  return rowBytes(b) * b.n;
}

/** The MatMul reading `q` as its first input (its only reader), or undefined. */
function spectralProduct(model: Model, name: string): { node: ReturnType<Value['uses']>[number]['node']; x: Value } | undefined {
  const q = model.graph.lookup(name);
  const uses = q?.uses() ?? [];
  if (!q || uses.length !== 1 || q.isGraphOutput) return undefined;
  const { node, index } = uses[0]!;
  if (node.opType !== 'MatMul' || node.domain || index !== 0 || !node.inputs[1]) return undefined;
  return { node, x: node.inputs[1] };
}

/**
 * Rewrite `model` (in place: call it on a copy) so each block's Cayley runs in frequency chunks
 * recorded as checkpoint segments. Blocks small enough for one chunk, or whose Q is not read the
 * way the block writes it, are left whole (said in the report).
 */
export function chunkCayleyForGradients(model: Model, blocks: readonly CayleyBlockSpec[], opts: ChunkOptions = {}): ChunkReport[] {
  const g = model.graph;
  const opset = model.opsetVersion('') ?? 13;
  const budget = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const reports: ChunkReport[] = [];
  const segments: CheckpointSegment[] = [];
  let regions: InverseRegion[] | undefined;
  for (const b of blocks) {
    const rows = Math.max(1, Math.floor(budget / rowBytes(b)));
    const w = g.lookup(b.weight);
    const alpha = g.lookup(b.alpha);
    const pr = spectralProduct(model, b.qr);
    const pi = spectralProduct(model, b.qi);
    const whole = (note: string): void => void reports.push({ prefix: b.prefix, rows: b.n, chunks: 0, note });
    if (rows >= b.n) {
      whole('one chunk holds every frequency row');
      continue;
    }
    if (!w || !alpha) {
      whole(`its parameters '${b.weight}' / '${b.alpha}' are not in the graph`);
      continue;
    }
    if (!pr || !pi || pr.x !== pi.x) {
      whole('its Q planes are not read by the spectral MatMuls the block writes');
      continue;
    }
    const shape = { cout: b.cout, cin: b.cin, k: b.k };
    const base = new Emitter(g, `${b.prefix}/grad_chunks`, opset);
    const scale = base.op('Div', [alpha, emitSpectrumNorm(base, w, b.k, b.n)], 'Div_scale');
    const partsR: Value[] = [];
    const partsI: Value[] = [];
    regions ??= readInverseRegions(model);
    for (let u0 = 0, c = 0; u0 < b.n; u0 += rows, c++) {
      const u1 = Math.min(b.n, u0 + rows);
      const e = new Emitter(g, `${b.prefix}/grad_chunk${c}`, opset);
      const q = emitCayleyQ(e, w, alpha, shape, b.n, { method: chunkInverse(b), iterations: b.iterations }, { rows: [u0, u1], scale });
      const x =
        opset >= 10
          ? e.op('Slice', [pr.x, e.i64('x.starts', [1], [u0]), e.i64('x.ends', [1], [u1]), e.i64('x.axes', [1], [0])], 'Slice_x')
          : e.op('Slice', [pr.x], 'Slice_x', { starts: [u0], ends: [u1], axes: [0] });
      const yr = e.op('MatMul', [q.qr, x], 'MatMul_qr');
      const yi = e.op('MatMul', [q.qi, x], 'MatMul_qi');
      partsR.push(yr);
      partsI.push(yi);
      regions.push(q.region);
      segments.push({ inputs: [w.name, alpha.name, scale.name, pr.x.name], outputs: [yr.name, yi.name] });
    }
    const catR = base.op('Concat', partsR, 'Concat_qr_x', { axis: 0 });
    const catI = base.op('Concat', partsI, 'Concat_qi_x', { axis: 0 });
    g.replaceAllUses(pr.node.outputs[0]!, catR);
    g.replaceAllUses(pi.node.outputs[0]!, catI);
    reports.push({ prefix: b.prefix, rows, chunks: partsR.length });
  }
  if (segments.length === 0) return reports;
  if (blocks.some((b) => chunkInverse(b) === 'com.microsoft') && model.opsetVersion('com.microsoft') === undefined) (model.proto.opset_import ??= []).push({ domain: 'com.microsoft', version: 1 });
  g.toposort();
  cleanup(model);
  writeInverseRegions(model, regions ?? []);
  pruneInverseRegions(model);
  addCheckpoints(model, segments);
  return reports;
}
