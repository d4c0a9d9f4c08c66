/**
 * materialize: turn the spliced blocks' parametric parts into constants for deployment. For each
 * block recorded in the model's metadata, the values computed from initializers only (the Cayley
 * Q(f) matrices, AOL's rescaled kernel) are evaluated once with ONNX Runtime, exactly as the
 * parametric graph computes them, and replace the subgraph that computed them; the kernel W and
 * alpha then no longer feed the graph and are kept in metadata (or dropped with `dropParams`).
 * Re-materialize after every fine-tune of the parametric model.
 */
import { estimateMemory } from '../analysis/memory-estimate.js';
import { UserError } from '../errors.js';
import { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { cleanup } from '../ir/passes/cleanup.js';
import { pruneInverseRegions } from '../ir/inverse-regions.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/proto-types.js';
import { tensorRawBytes, tensorTypedData } from '../onnx/tensor-data.js';
import { RuntimeError, withRunner } from '../runtime/session.js';
import type { RuntimeTensor } from '../runtime/tensor.js';
import { Emitter, float32Tensor } from './emit.js';
import { kernelSpectrumNorm } from './robust-block/cayley.js';
import { rfftBins } from './robust-block/dft.js';
import { emitCayleyQ } from './robust-block/cayley-graph.js';
import { SPLICE_METADATA_KEY } from './splice.js';
import { readBlockEntries, type BlockEntry } from './block-metadata.js';

export interface MaterializeReport {
  schema: 'iqa-surgeon/materialize@1';
  blocks: { prefix: string; folded: string[]; removedNodes: number; keptParams: boolean }[];
}


/** The nodes (in order) that compute `targets` from initializers; refuses if any reads a graph input. */
function constantCone(model: Model, targets: Value[]): Node[] {
  const need = new Set<Node>();
  const stack = [...targets];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v.initializer) continue;
    const p = v.producer();
    if (!p) throw new UserError('not-constant', `'${v.name}' depends on a graph input; it cannot be materialized`);
    if (need.has(p)) continue;
    need.add(p);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return model.graph.nodes.filter((n) => need.has(n));
}

/** Evaluate values that depend on initializers only, with ONNX Runtime (one small model). */
export async function evaluateConstants(model: Model, targets: Value[]): Promise<Map<Value, TensorProto>> {
  const nodes = constantCone(model, targets);
  const inits = new Map<string, TensorProto>();
  for (const n of nodes) for (const i of n.inputs) if (i?.initializer) inits.set(i.name, { ...i.initializer, name: i.name });
  const proto: ModelProto = {
    ir_version: model.proto.ir_version ?? 8,
    opset_import: model.proto.opset_import ?? [],
    graph: {
      name: 'constants',
      node: nodes.map((n): NodeProto => ({ ...n.proto, input: n.inputs.map((v) => v?.name ?? ''), output: n.outputs.map((v) => v?.name ?? '') })),
      initializer: [...inits.values()].map((t) => ({ ...t, raw_data: tensorRawBytes(t), data_location: undefined, external_data: undefined })),
      output: targets.map((t) => ({ name: t.name })),
    },
  };
  const sub = new Model(proto);
  let out: Record<string, RuntimeTensor>;
  try {
    // a damaged model (bad axes, opsets) fails here: that is bad input, not a bug (found by `npm run fuzz`)
    const memory = { estimate: estimateMemory(sub), what: "the block's constants (materialize)" };
    out = await withRunner(sub, { memory }, (r) => r.run({}));
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e;
    throw new UserError('materialize-failed', `ONNX Runtime cannot compute the block's constants: ${e.detail.split('\n')[0]}`);
  }
  const result = new Map<Value, TensorProto>();
  for (const t of targets) {
    const r = out[t.name]!;
    if (r.elemType !== DataType.FLOAT || !(r.data instanceof Float32Array)) throw new UserError('not-float', `'${t.name}' is ${dataTypeName(r.elemType)}; only float32 values are materialized`);
    const data = r.data;
    result.set(t, { dims: [...r.dims], data_type: DataType.FLOAT, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
  return result;
}

/**
 * Q [u1 - u0, m, cout, cin] for the frequency rows u in [u0, u1), computed by ONNX Runtime with the
 * exact Schur inverse in a scratch model, with alpha / ||Wf||_F from float64 (the com.microsoft
 * Inverse, an LU on the real 2C x 2C block form, took 3 to 5 times longer at C = 512 and 1040).
 */
export async function exactCayleyQRows(
  wData: Float32Array,
  alpha: number,
  shape: { cout: number; cin: number; k: number },
  n: number,
  [u0, u1]: [number, number],
  wfNorm = kernelSpectrumNorm(wData, shape, n),
): Promise<{ qr: Float32Array; qi: Float32Array }> {
  const scratch = new Model({
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: { name: 'cayley_q', output: [] },
  });
  const e = new Emitter(scratch.graph, 'q', 13);
  const wv = e.f32('weight', [shape.cout, shape.cin, shape.k, shape.k], wData);
  const av = e.f32('alpha', [], [alpha]);
  const q = emitCayleyQ(e, wv, av, shape, n, { method: 'schur', iterations: 0 }, { rows: [u0, u1], scale: alpha / wfNorm });
  const values = await evaluateConstants(scratch, [q.qr, q.qi]);
  return { qr: new Float32Array(values.get(q.qr)!.raw_data!.slice().buffer), qi: new Float32Array(values.get(q.qi)!.raw_data!.slice().buffer) };
}

/** Q from the model's current W and alpha (exactCayleyQRows in chunks of frequency rows), whatever inverse the parametric graph uses. */
async function exactCayleyQ(model: Model, c: NonNullable<BlockEntry['cayley']>, [qrValue, qiValue]: [Value, Value]): Promise<Map<Value, TensorProto>> {
  const w = model.graph.lookup(c.weight);
  const a = model.graph.lookup(c.alpha);
  if (!w?.initializer || !a?.initializer) throw new UserError('bad-metadata', `the Cayley parameters '${c.weight}' / '${c.alpha}' are not initializers of the model`);
  const wData = tensorTypedData(w.initializer) as Float32Array;
  const alpha = (tensorTypedData(a.initializer) as Float32Array)[0]!;
  const shape = { cout: c.cout, cin: c.cin, k: c.k };
  const wfNorm = kernelSpectrumNorm(wData, shape, c.n);
  const m = rfftBins(c.n);
  const per = c.cout * c.cin;
  const qr = new Float32Array(c.n * m * per);
  const qi = new Float32Array(c.n * m * per);
  // frequency rows per chunk, so that the chunk's C x C complex matrices (and the
  // intermediates of the same size) stay near CHUNK_BYTES
  const blockBytes = 8 * Math.min(c.cout, c.cin) ** 2 * m * 12;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / blockBytes));
  for (let u0 = 0; u0 < c.n; u0 += rowsPerChunk) {
    const u1 = Math.min(c.n, u0 + rowsPerChunk);
    const chunk = await exactCayleyQRows(wData, alpha, shape, c.n, [u0, u1], wfNorm);
    qr.set(chunk.qr, u0 * m * per);
    qi.set(chunk.qi, u0 * m * per);
  }
  const dims = [c.n, m, c.cout, c.cin];
  return new Map([
    [qrValue, float32Tensor(dims, qr)],
    [qiValue, float32Tensor(dims, qi)],
  ]);
}

/** Memory the chunks of an exact Q computation aim at. */
const CHUNK_BYTES = 1.5 * 1024 ** 3;

export async function materialize(model: Model, opts: { dropParams?: boolean } = {}): Promise<MaterializeReport> {
  const entries = readBlockEntries(model);
  if (!entries) throw new UserError('no-block', `the model has no spliced RobustBlock (no '${SPLICE_METADATA_KEY}' metadata); splice one first`);
  const g = model.graph;
  const report: MaterializeReport = { schema: 'iqa-surgeon/materialize@1', blocks: [] };
  for (const entry of entries) {
    const prefix = entry.options?.prefix ?? 'robust_block';
    if (entry.form === 'materialized' || !entry.fold || entry.fold.length === 0) {
      report.blocks.push({ prefix, folded: [], removedNodes: 0, keptParams: true });
      continue;
    }
    const targets = entry.fold.map((name) => {
      const v = g.lookup(name);
      if (!v) throw new UserError('bad-metadata', `block '${prefix}': value '${name}' recorded in the metadata is not in the graph`);
      return v;
    });
    const values = entry.cayley && targets.length === 2 ? await exactCayleyQ(model, entry.cayley, targets as [Value, Value]) : await evaluateConstants(model, targets);
    const before = g.nodes.length;
    for (const [v, tensor] of values) {
      const c = g.addInitializer(`${v.name.replace(/\//g, '.')}.const`, tensor);
      g.replaceAllUses(v, c);
    }
    const keep: Record<string, { shape: number[]; float32Base64: string }> = {};
    for (const name of entry.parameters ?? []) {
      const v = g.lookup(name);
      if (!v?.initializer) continue;
      keep[name] = { shape: (v.initializer.dims ?? []).map(Number), float32Base64: Buffer.from(tensorRawBytes(v.initializer)).toString('base64') };
    }
    cleanup(model);
    // parameters that the graph still reads (reduce conv, biases) stay initializers; the rest go to metadata
    const gone = Object.fromEntries(Object.entries(keep).filter(([name]) => !g.hasValue(name)));
    entry.form = 'materialized';
    entry.fold = [];
    if (!opts.dropParams && Object.keys(gone).length > 0) entry.materializedParams = gone;
    report.blocks.push({ prefix, folded: targets.map((t) => t.name), removedNodes: before - g.nodes.length, keptParams: !opts.dropParams });
  }
  model.setMetadata(SPLICE_METADATA_KEY, JSON.stringify(entries));
  // the inverses of the materialized blocks went with their subgraphs
  pruneInverseRegions(model);
  return report;
}
