/**
 * materialize: turn the spliced blocks' parametric parts into constants for deployment. For each
 * block recorded in the model's metadata, the values computed from initializers only (the Cayley
 * Q(f) matrices, AOL's rescaled kernel) are evaluated once with ONNX Runtime, exactly as the
 * parametric graph computes them, and replace the subgraph that computed them; the kernel W and
 * alpha then no longer feed the graph and are kept in metadata (or dropped with `dropParams`).
 * Re-materialize after every fine-tune of the parametric model.
 */
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.js';
import { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { cleanup } from '../ir/passes/cleanup.js';
import { DataType } from '../onnx/data-types.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/proto-types.js';
import { tensorRawBytes } from '../onnx/tensor-data.js';
import { Emitter } from './emit.js';
import { emitCayleyQ } from './robust-block/cayley-graph.js';
import { SPLICE_METADATA_KEY } from './splice.js';

export interface MaterializeReport {
  schema: 'iqa-surgeon/materialize@1';
  blocks: { prefix: string; folded: string[]; removedNodes: number; keptParams: boolean }[];
}

interface BlockEntry {
  cayley?: { cout: number; cin: number; k: number; n: number; weight: string; alpha: string };
  form?: string;
  fold?: string[];
  parameters?: string[];
  options?: { prefix?: string };
  materializedParams?: Record<string, { shape: number[]; float32Base64: string }>;
  [k: string]: unknown;
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
  const session = await ort.InferenceSession.create(sub.toBytes());
  const out = await session.run({});
  const result = new Map<Value, TensorProto>();
  for (const t of targets) {
    const r = out[t.name]!;
    if (r.type !== 'float32') throw new UserError('not-float', `'${t.name}' is ${r.type}; only float32 values are materialized`);
    const data = r.data as Float32Array;
    result.set(t, { dims: [...r.dims], data_type: DataType.FLOAT, raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
  return result;
}

/**
 * Q from the model's current W and alpha, computed by ONNX Runtime with an exact inverse
 * (com.microsoft Inverse) in a scratch model, whatever inverse the parametric graph uses.
 */
async function exactCayleyQ(model: Model, c: NonNullable<BlockEntry['cayley']>, [qrValue, qiValue]: [Value, Value]): Promise<Map<Value, TensorProto>> {
  const w = model.graph.lookup(c.weight);
  const a = model.graph.lookup(c.alpha);
  if (!w?.initializer || !a?.initializer) throw new UserError('bad-metadata', `the Cayley parameters '${c.weight}' / '${c.alpha}' are not initializers of the model`);
  const scratch = new Model({
    ir_version: 8,
    opset_import: [
      { domain: '', version: 13 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: 'cayley_q', output: [] },
  });
  const e = new Emitter(scratch.graph, 'q', 13);
  const wv = e.init('weight', { ...w.initializer, raw_data: tensorRawBytes(w.initializer), data_location: undefined, external_data: undefined });
  const av = e.init('alpha', { ...a.initializer, raw_data: tensorRawBytes(a.initializer), data_location: undefined, external_data: undefined });
  const { qr, qi } = emitCayleyQ(e, wv, av, { cout: c.cout, cin: c.cin, k: c.k }, c.n, { method: 'com.microsoft', iterations: 0 });
  const values = await evaluateConstants(scratch, [qr, qi]);
  return new Map([
    [qrValue, values.get(qr)!],
    [qiValue, values.get(qi)!],
  ]);
}

export async function materialize(model: Model, opts: { dropParams?: boolean } = {}): Promise<MaterializeReport> {
  const raw = model.metadata().get(SPLICE_METADATA_KEY);
  if (!raw) throw new UserError('no-block', `the model has no spliced RobustBlock (no '${SPLICE_METADATA_KEY}' metadata); splice one first`);
  let entries: BlockEntry[];
  try {
    entries = JSON.parse(raw) as BlockEntry[];
  } catch {
    throw new UserError('bad-metadata', `metadata '${SPLICE_METADATA_KEY}' is not valid JSON`);
  }
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
  return report;
}
