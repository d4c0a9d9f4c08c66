/**
 * Per-layer comparison: every intermediate value that has the same name in both models (and is
 * computed by a node in both main graphs) is exposed as an output, both models run once on the
 * same inputs, and the values are compared in model A's topological order. Model B may instead be
 * run by another runner (the TensorFlow.js mirror of A: `runB`). The first node whose
 * output is outside tolerance is where the models diverge; when all of that node's computed
 * inputs agree, the node itself is the cause (a changed weight or attribute), not an upstream one.
 */
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { compareTensors, type TensorComparison, type Tolerances } from './numeric.js';
import { runModel, type Feed, type RunValue } from './runner.js';

export interface LayerValue {
  node: string;
  opType: string;
  output: string;
  pass: boolean;
  problem?: string;
  maxAbs: number;
  maxRel: number;
  failing: number;
  elements: number;
}

export interface Divergence extends LayerValue {
  /** Position of the node in A's topological order (0-based). */
  index: number;
  /** Every compared input of the node is within tolerance: the node itself introduces the difference. */
  inputsAgree: boolean;
  comparison: TensorComparison;
}

export interface PerLayerResult {
  /** Values compared (same name in both models, computed by a node in both). */
  compared: number;
  failing: number;
  /** Names computed in only one of the models (counts; not compared). */
  onlyInA: number;
  onlyInB: number;
  firstDivergence: Divergence | null;
  values: LayerValue[];
}

function topological(model: Model): Node[] {
  return model.clone().graph.toposort().nodes;
}

const asTensor = (v: RunValue | undefined): { dims: number[]; data: Float64Array } | undefined => (v && v.data ? { dims: v.dims, data: v.data } : undefined);

/** Compare every common intermediate value of `a` and `b` on `feeds`. `b` may be `a` itself (a determinism check). */
export async function comparePerLayer(
  a: Model,
  b: Model,
  feeds: Record<string, Feed>,
  tol: Tolerances,
  feedsB: Record<string, Feed> = feeds,
  runB: (names: readonly string[]) => Promise<Map<string, RunValue>> = (names) => runModel(b, feedsB, names),
): Promise<PerLayerResult> {
  const order = topological(a);
  const gb = b.graph;
  const computedInB = new Set<string>();
  for (const n of gb.nodes) for (const o of n.outputs) if (o) computedInB.add(o.name);
  const names: { node: Node; output: string }[] = [];
  const computedInA = new Set<string>();
  for (const n of order) {
    for (const o of n.outputs) {
      if (!o) continue;
      computedInA.add(o.name);
      if (computedInB.has(o.name)) names.push({ node: n, output: o.name });
    }
  }
  const list = names.map((x) => x.output);
  const ra = await runModel(a, feeds, list);
  const rb = await runB(list);
  const values: LayerValue[] = [];
  const verdict = new Map<string, boolean>();
  let first: Divergence | null = null;
  names.forEach(({ node, output }) => {
    const c = compareTensors(output, asTensor(ra.get(output)), asTensor(rb.get(output)), tol);
    verdict.set(output, c.pass);
    const lv: LayerValue = {
      node: node.label,
      opType: node.opType,
      output,
      pass: c.pass,
      ...(c.problem ? { problem: c.problem } : {}),
      maxAbs: c.maxAbs,
      maxRel: c.maxRel,
      failing: c.failing,
      elements: c.elements,
    };
    values.push(lv);
    if (!c.pass && !first) {
      const inputsAgree = node.inputs.every((v) => !v || verdict.get(v.name) !== false);
      first = { ...lv, index: order.indexOf(node), inputsAgree, comparison: c };
    }
  });
  return {
    compared: values.length,
    failing: values.filter((v) => !v.pass).length,
    onlyInA: [...computedInA].filter((n) => !computedInB.has(n)).length,
    onlyInB: [...computedInB].filter((n) => !computedInA.has(n)).length,
    firstDivergence: first,
    values,
  };
}
