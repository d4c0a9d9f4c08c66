/**
 * fold: constant folding. A node is constant when every input is a constant (an initializer that
 * is not a graph input, or the output of another constant node); `Shape` and `Size` nodes are
 * constant when static shape inference knows their input's shape exactly (PyTorch exports'
 * `Shape -> Gather -> Unsqueeze -> Concat -> Reshape` chains, once the input size is fixed).
 * The constant tensors read by the rest of the graph are computed in one ONNX Runtime run of the
 * constant part and become initializers with the same names; the folded nodes are removed.
 * Readers keep reading the same names, so their bytes do not change.
 *
 * Not folded: nodes of other domains, nodes with subgraphs, random ops, QuantizeLinear /
 * DequantizeLinear (folding them would de-quantize the weights), sequence and optional ops, lone
 * Constant nodes (already constants), string tensors, and results larger than `maxBytes`.
 */
import { estimateMemory } from '../analysis/memory-estimate.js';
import { inferShapesStatic } from '../analysis/shapes/infer.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { PassResult } from '../ir/passes/pass.js';
import type { Value } from '../ir/value.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { GraphProto, ModelProto, TensorProto } from '../onnx/proto-types.js';
import { encodeModel } from '../onnx/model-io.js';
import { RuntimeError, withRunner } from '../runtime/session.js';
import type { RuntimeTensor } from '../runtime/tensor.js';
import { showShape } from './util.js';

export interface FoldOptions {
  /** Largest folded tensor, in bytes (default 64 MiB); bigger results stay computed. */
  maxBytes?: number;
  inputShapes?: Record<string, Dim[]>;
}

const NOT_FOLDED = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
]);

/** ORT output types fold stores as constants (not strings, not bfloat16). */
const UNFOLDABLE_TYPES: ReadonlySet<number> = new Set([DataType.STRING, DataType.BFLOAT16]);

function int64Tensor(values: number[], scalar: boolean): TensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { dims: scalar ? [] : [values.length], data_type: DataType.INT64, raw_data: new Uint8Array(data.buffer) };
}

export async function fold(model: Model, opts: FoldOptions = {}): Promise<PassResult> {
  const g = model.graph;
  g.toposort();
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const shapes = inferShapesStatic(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {});
  const constant = new Set<Value>(g.initializers().filter((v) => !v.isGraphInput));
  const folded = new Set<Node>(); // evaluated by ONNX Runtime
  const known = new Map<Value, TensorProto>(); // Shape/Size results known statically
  let dynamicShapes = 0;
  for (const n of g.nodes) {
    if (n.domain !== '' || n.subgraphs.length > 0 || NOT_FOLDED.has(n.opType) || /Sequence|Optional/.test(n.opType)) continue;
    if ((n.opType === 'Shape' || n.opType === 'Size') && n.outputs[0]) {
      const info = shapes.get(n.outputs[0]);
      if (info?.value && info.source === 'rule') {
        known.set(n.outputs[0], int64Tensor(info.value, n.opType === 'Size'));
        constant.add(n.outputs[0]);
        folded.add(n);
      } else dynamicShapes++;
      continue;
    }
    const ins = n.inputs.filter((v): v is Value => v !== null);
    if (!ins.every((v) => constant.has(v))) continue;
    if (n.outputs.some((o) => o && o.elemType === DataType.STRING)) continue;
    folded.add(n);
    for (const o of n.outputs) if (o) constant.add(o);
  }
  // constant values the rest of the graph reads
  const targets: Value[] = [];
  for (const n of g.nodes) {
    if (!folded.has(n)) continue;
    for (const o of n.outputs) {
      if (!o) continue;
      const readOutside = o.uses().some((u) => !folded.has(u.node) || u.node.graph !== g) || o.isGraphOutput;
      if (!readOutside) continue;
      if (n.opType === 'Constant' && !known.has(o)) continue; // already a constant
      targets.push(o);
    }
  }
  const changes: string[] = [];
  if (targets.length === 0) {
    changes.push('nothing to fold');
    if (dynamicShapes > 0) changes.push(`note: ${dynamicShapes} Shape/Size node${dynamicShapes === 1 ? ' reads a tensor' : 's read tensors'} whose shape is not static; fix the input size with set-shape first`);
    return { model, modified: false, changes };
  }

  // the part ONNX Runtime must evaluate: ancestors of the targets among the folded nodes
  const needed = new Set<Node>();
  const stack = targets.filter((v) => !known.has(v));
  while (stack.length > 0) {
    const v = stack.pop()!;
    const p = v.producer();
    if (!p || !folded.has(p) || needed.has(p) || known.has(v)) continue;
    needed.add(p);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  const results = new Map<Value, TensorProto>();
  for (const [v, t] of known) if (targets.includes(v)) results.set(v, t);
  const evalTargets = targets.filter((v) => !known.has(v));
  if (evalTargets.length > 0) {
    model.syncProto();
    const nodes = g.nodes.filter((n) => needed.has(n));
    const readInits = new Set<string>();
    const synthetic: TensorProto[] = [];
    for (const n of nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        if (i.isInitializer) readInits.add(i.name);
        const k = known.get(i);
        if (k && !synthetic.some((t) => t.name === i.name)) synthetic.push({ ...k, name: i.name });
      }
    }
    const graph: GraphProto = {
      name: 'fold',
      node: nodes.map((n) => n.proto),
      initializer: [...g.initializers().filter((v) => readInits.has(v.name)).map((v) => v.initializer!), ...synthetic],
      output: evalTargets.map((v) => ({ name: v.name })),
    };
    const proto: ModelProto = { ir_version: model.proto.ir_version ?? 8, opset_import: model.proto.opset_import ?? [], graph };
    const sub = encodeModel(proto);
    let out: Record<string, RuntimeTensor>;
    try {
      // the constant part reads no graph input: its memory is what its own nodes allocate
      const memory = { estimate: estimateMemory(Model.fromBytes(sub)), what: 'the constant part of the graph (fold)' };
      out = await withRunner(sub, { memory }, (r) => r.run({}));
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      throw new UserError('fold-failed', `ONNX Runtime could not evaluate the constant part of the graph: ${e.detail.split('\n')[0]}`);
    }
    for (const v of evalTargets) {
      const t = out[v.name];
      const code = t && t.elemType !== 0 && !UNFOLDABLE_TYPES.has(t.elemType) ? t.elemType : undefined;
      if (!t || code === undefined || Array.isArray(t.data)) continue;
      const view = t.data;
      const raw = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
      if (raw.length > maxBytes) {
        changes.push(`kept '${v.name}' computed: folding it would store ${raw.length} bytes (limit ${maxBytes})`);
        continue;
      }
      results.set(v, { dims: t.dims, data_type: code, raw_data: raw });
    }
  }

  // replace the targets by initializers, remove what is dead, give the initializers the names
  const renames: [Value, string][] = [];
  for (const v of targets) {
    const t = results.get(v);
    if (!t) continue;
    const init = g.addInitializer(`${v.name}__folded`, t);
    g.replaceAllUses(v, init);
    renames.push([init, v.name]);
    changes.push(`'${v.name}' is now a constant: ${dataTypeName(t.data_type)} ${showShape((t.dims ?? []).map(Number))}`);
  }
  // folded nodes the targets came from (only these may be removed)
  const involved = new Set<Node>();
  const up = [...renames.map(([, name]) => g.nodes.find((n) => n.outputs.some((o) => o?.name === name))).filter((n): n is Node => n !== undefined)];
  while (up.length > 0) {
    const n = up.pop()!;
    if (!folded.has(n) || involved.has(n)) continue;
    involved.add(n);
    for (const i of n.inputs) {
      const p = i?.producer();
      if (p) up.push(p);
    }
  }
  let removed = 0;
  for (let again = true; again; ) {
    again = false;
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const n = g.nodes[i]!;
      if (!involved.has(n)) continue;
      if (n.outputs.some((o) => o && (o.uses().length > 0 || o.isGraphOutput))) continue;
      const ins = n.inputs.filter((v): v is Value => v !== null);
      g.removeNode(n);
      removed++;
      again = true;
      for (const v of ins) {
        if (v.isInitializer && !v.isGraphInput && v.uses().length === 0 && !v.isGraphOutput) g.forget(v);
      }
    }
  }
  for (const [init, name] of renames) if (!g.hasValue(name)) g.renameValue(init, name);
  changes.unshift(`folded ${removed} node${removed === 1 ? '' : 's'} into ${renames.length} constant${renames.length === 1 ? '' : 's'}${known.size > 0 ? ` (${known.size} Shape/Size node${known.size === 1 ? '' : 's'} resolved from static shapes)` : ''}`);
  if (dynamicShapes > 0) changes.push(`note: ${dynamicShapes} Shape/Size node${dynamicShapes === 1 ? ' reads a tensor' : 's read tensors'} whose shape is not static; fix the input size with set-shape first`);
  return { model, modified: renames.length > 0, changes };
}
