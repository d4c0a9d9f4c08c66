/**
 * buildGradientGraph: one ONNX graph computing the loss, the forward outputs and the gradients.
 *
 * On a clone of the model (the input is never modified): the nodes on the path from the
 * differentiated values to the loss are walked in reverse topological order, each op's gradient
 * rule (src/ops/<family>.grad.ts) emits its vector-Jacobian product, and gradients reaching a value
 * along several edges are summed (one Sum node). Only the requested parameters become graph inputs
 * (removed from the initializers); every other initializer stays constant so ONNX Runtime can
 * prepack weights. Graph inputs keep their declared (symbolic) dims, so the batch stays free.
 */
import { UserError } from '../errors.js';
import { Model } from '../ir/model.js';
import type { NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto-types.js';
import { Recomputation, readSegments } from './checkpoints.js';
import { BackwardWriter } from './emitter.js';
import { buildLossHead } from './loss.js';
import { planGradient } from './plan.js';
import type { GradientGraph, GradientGraphRequest } from './types.js';

export const MEMORY_POLICY =
  'forward values the backward pass reads are kept until their last use in the backward pass; ONNX Runtime frees every other activation after its last use; MaxPool also outputs its argmax Indices for the backward';
const RECOMPUTE_POLICY = (n: number): string =>
  `${MEMORY_POLICY}; the internal values of ${n} checkpoint segment(s) are not kept but recomputed from the segment's inputs when the backward pass reaches the segment, one segment at a time`;

function floatInfo(name: string, dims: readonly (number | string | undefined)[] | undefined): ValueInfoProto {
  const shape = dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' && !d.includes('?') ? { dim_param: d } : {})) } } : {};
  return { name, type: { tensor_type: { elem_type: 1, ...shape } } };
}

/**
 * Shapes of the summed gradients the backward nodes produce (each has its primal's shape), as
 * value_info: ONNX Runtime's own shape inference loses the dims after the loss head's Expand, and
 * without them its NCHWc layout pass cannot prove that the backward's elementwise products
 * (ReLU masks) have equal shapes, so it reorders every one back to NCHW.
 */
function gradientInfos(w: BackwardWriter, produced: ReadonlySet<string>, forwardNames: ReadonlySet<string>, rename: ReadonlyMap<string, string>): ValueInfoProto[] {
  const out: ValueInfoProto[] = [];
  for (const [name, dims] of w.gradDims) {
    if (!produced.has(name) || forwardNames.has(name) || rename.has(name)) continue;
    if (!dims.every((d) => typeof d === 'number' || !d.includes('?'))) continue;
    out.push(floatInfo(name, dims));
  }
  return out;
}

export function buildGradientGraph(model: Model, req: GradientGraphRequest): GradientGraph {
  const clone = model.clone();
  clone.graph.toposort();
  const plan = planGradient(clone, req);
  const graph = clone.graph;
  const w = new BackwardWriter(clone, plan.shapes, plan.opset.version, new Set(plan.params));

  // forward outputs the rules need that the forward nodes do not compute yet (MaxPool's Indices)
  for (const [node, rule] of plan.rules) {
    for (const slot of rule.extraOutputs?.(node, plan.opset.version) ?? []) {
      if (node.outputs[slot]) continue;
      const outs = [...node.outputs];
      while (outs.length <= slot) outs.push(null);
      outs[slot] = graph.addValue(`${node.outputs[0]?.name ?? node.label}_grad_aux${slot}`);
      node._setOutputs(outs);
    }
  }

  const fromMeta = req.checkpoints ? { segments: [...req.checkpoints], warnings: [] } : readSegments(clone);
  const recompute = new Recomputation(clone, w, plan.path, plan.regionNodes, fromMeta.segments);
  const head = buildLossHead(clone, w, req.loss);
  const contributions = new Map<string, string[]>();
  const add = (value: string, grad: string): void => {
    const list = contributions.get(value);
    if (list) list.push(grad);
    else contributions.set(value, [grad]);
    if (!w.gradDims.has(grad)) {
      const d = w.dims(value);
      if (d) w.gradDims.set(grad, d);
    }
  };
  const total = (value: string): string | null => {
    const list = contributions.get(value);
    if (!list || list.length === 0) return null;
    if (list.length === 1) return list[0]!;
    const s = w.emit('Sum', list, {}, { base: `sum/${value}` })[0]!;
    const d = w.dims(value);
    if (d) w.gradDims.set(s, d);
    contributions.set(value, [s]);
    return s;
  };
  for (const [y, seed] of head.seeds) add(y, seed);

  for (let i = plan.path.nodes.length - 1; i >= 0; i--) {
    const node = plan.path.nodes[i]!;
    const rule = plan.rules.get(node)!;
    const dy = node.outputs.map((o) => (o && plan.path.live.has(o.name) ? total(o.name) : null));
    if (dy.every((d) => d === null)) continue;
    const nd = new Set(rule.nonDifferentiable ?? []);
    const wanted = node.inputs.map((v, j) => v !== null && plan.path.live.has(v.name) && !nd.has(j));
    const grads = rule.backward(w.forNode(recompute.view(node, dy.find((d) => d !== null) ?? null)), dy, wanted);
    wanted.forEach((want, j) => {
      const g = grads[j];
      if (want && g) add(node.inputs[j]!.name, g);
    });
  }

  // graph outputs: loss, forward outputs, gradients. A value a backward node produces takes the
  // output name itself (renamed everywhere); a forward value, a graph input, or a value already
  // named gets an Identity.
  const forwardNames = new Set<string>([...graph.values()].map((v) => v.name));
  const produced = new Set(w.nodes.flatMap((n) => n.output ?? []));
  const rename = new Map<string, string>();
  const outputName = (value: string, base: string): { name: string; identity: boolean } => {
    if (produced.has(value) && !forwardNames.has(value) && !rename.has(value)) {
      const name = w.fresh(base);
      rename.set(value, name);
      return { name, identity: false };
    }
    return { name: w.fresh(base), identity: true };
  };
  const finals: { value: string; name: string; identity: boolean }[] = [];
  const lossOut = outputName(head.loss, 'loss');
  finals.push({ value: head.loss, ...lossOut });
  const inputGrads: Record<string, string> = {};
  const paramGrads: Record<string, string> = {};
  for (const [names, into] of [[plan.inputs, inputGrads], [plan.params, paramGrads]] as const) {
    for (const name of names) {
      let g = total(name);
      if (!g) {
        // not connected to the loss: a zero gradient
        const d = w.dims(name);
        g = d && d.every((x) => typeof x === 'number') ? w.constFloat(new Array<number>((d as number[]).reduce((a, b) => a * b, 1)).fill(0), d as number[]) : w.zerosLike(name);
      }
      const o = outputName(g, `${name}_grad`);
      finals.push({ value: g, ...o });
      into[name] = o.name;
    }
  }
  for (const n of w.nodes) {
    n.input = (n.input ?? []).map((x) => rename.get(x) ?? x);
    n.output = (n.output ?? []).map((x) => rename.get(x) ?? x);
  }
  for (const f of finals) if (f.identity) w.nodes.push({ input: [f.value], output: [f.name], name: w.fresh(`grad/out/${f.name}`), op_type: 'Identity' });
  recompute.prune(w.nodes, new Set(finals.map((f) => f.name)));

  // assemble
  const proto = clone.syncProto();
  const g = proto.graph!;
  const wantedOutputs = [...(req.outputs ?? graph.outputs.map((v) => v.name))];
  for (const o of wantedOutputs) if (!graph.lookup(o)) throw new UserError('no-such-value', `no value named '${o}' in the main graph (asked for as an output)`);
  const outputs: Record<string, string> = Object.fromEntries(wantedOutputs.map((o) => [o, o]));
  const needed = new Set<string>(wantedOutputs);
  for (const n of w.nodes) for (const x of n.input ?? []) if (x) needed.add(x);
  const keep: NodeProto[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (recompute.copies.has(n) || !n.outputs.some((o) => o && needed.has(o.name))) continue;
    keep.push(n.proto);
    for (const v of n.inputs) if (v) needed.add(v.name);
    for (const sg of n.subgraphs) for (const sn of sg.allNodes()) for (const v of sn.inputs) if (v) needed.add(v.name);
  }
  keep.reverse();
  const params = new Set(plan.params);
  const initializers: TensorProto[] = [];
  const paramInputs: ValueInfoProto[] = [];
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    if (params.has(name)) paramInputs.push(floatInfo(name, (t.dims ?? []).map(Number)));
    else if (needed.has(name)) initializers.push(t);
  }
  const outInfo = (name: string): ValueInfoProto => (g.output ?? []).find((o) => o.name === name) ?? (g.value_info ?? []).find((o) => o.name === name) ?? { name };
  const out: ModelProtoGraph = {
    ...g,
    node: [...keep, ...w.nodes],
    initializer: [...initializers, ...w.initializers],
    input: [...(g.input ?? []).filter((i) => !params.has(i.name ?? '') && !(g.initializer ?? []).some((t) => t.name === i.name)), ...paramInputs, ...head.inputs],
    output: [
      floatInfo(lossOut.name, []),
      ...wantedOutputs.map(outInfo),
      ...plan.inputs.map((n) => floatInfo(inputGrads[n]!, w.dims(n))),
      ...plan.params.map((n) => floatInfo(paramGrads[n]!, w.dims(n))),
    ],
    value_info: [...(g.value_info ?? []).filter((v) => graph.lookup(v.name ?? '') && !wantedOutputs.includes(v.name ?? '')), ...gradientInfos(w, produced, forwardNames, rename)],
  };
  const opsets = (proto.opset_import ?? []).map((o) => ((o.domain ?? '') === '' || o.domain === 'ai.onnx' ? { ...o, version: plan.opset.version } : o));
  const result = new Model({ ...proto, ir_version: plan.opset.irVersion, opset_import: opsets, graph: out });
  return {
    model: result,
    feeds: { params: Object.fromEntries(plan.params.map((p) => [p, p])), ...(head.target ? { target: head.target } : {}), cotangents: head.cotangents },
    fetch: { loss: lossOut.name, outputs, inputGrads, paramGrads },
    memory: recompute.used > 0 ? RECOMPUTE_POLICY(recompute.used) : MEMORY_POLICY,
    opset: { version: plan.opset.version, ...(plan.opset.note ? { note: plan.opset.note } : {}) },
    inverseRegions: { used: plan.inverseRegions, warnings: plan.warnings },
    checkpoints: { used: recompute.used, warnings: [...fromMeta.warnings, ...recompute.warnings] },
  };
}

type ModelProtoGraph = NonNullable<Model['proto']['graph']>;
