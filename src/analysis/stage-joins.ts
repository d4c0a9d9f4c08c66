/**
 * Join points of a stage map: where data of different stages (or branches) meets. See
 * computeStages (stages.ts), which knows each cut tensor's group.
 */
import type { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';
import type { StageInfo, StageJoin } from './stages.js';

/**
 * Joins: nodes whose data inputs descend from different stages' outputs (bilinear pooling of two
 * branches, a concat of multi-scale features, heads combined), and Resize nodes whose output size
 * comes from another stage's tensor. Origins change only at cut points, so paths inside a stage
 * (residual blocks, Inception towers) are never joins.
 */
export function findJoins(
  graph: Graph,
  reach: Set<Value>,
  groupOfCut: Map<Value, number>,
  stageForGroup: (gi: number) => number | undefined,
  stages: StageInfo[],
): StageJoin[] {
  const key = (s: Set<number>): string => [...s].sort((a, b) => a - b).join(',');
  // origin: the stages a value's data comes from; a shape computation's values take the origin of
  // the tensor whose shape they read (so a Resize to another stage's size is seen).
  const origin = new Map<Value, Set<number>>();
  const originOf = (v: Value | undefined): Set<number> => (v ? origin.get(v) ?? new Set() : new Set());
  const joins: StageJoin[] = [];
  for (const n of graph.nodes) {
    const outs = n.outputs.filter((o): o is Value => !!o);
    if (outs.length === 0) continue;
    const ins = n.inputs.filter((v): v is Value => !!v);
    const dataIns = ins.filter((v) => reach.has(v));
    if (dataIns.length === 1 && n.opType !== 'Resize' && n.opType !== 'Upsample') {
      // one data input: nothing meets here; the outputs share its origin
      for (const o of outs) {
        const g = groupOfCut.get(o);
        const s = g === undefined ? undefined : stageForGroup(g);
        origin.set(o, g === undefined ? originOf(dataIns[0]) : new Set(s === undefined ? [] : [s]));
      }
      continue;
    }
    // a data value's origin comes from its data inputs (a Reshape's target shape is not data)
    const union = new Set<number>();
    for (const i of dataIns.length > 0 ? dataIns : ins) for (const s of originOf(i)) union.add(s);
    const involved = new Set(union);
    const dataOrigins = dataIns.map((v) => originOf(v)).filter((s) => s.size > 0);
    let kind: string | undefined;
    if ((n.opType === 'Resize' || n.opType === 'Upsample') && dataIns[0] === n.inputs[0]) {
      const own = originOf(n.inputs[0]);
      const sizeFrom = new Set<number>();
      for (const v of n.inputs.slice(1)) if (v) for (const s of originOf(v)) if (!own.has(s)) sizeFrom.add(s);
      if (sizeFrom.size > 0 && own.size > 0) {
        kind = 'resize-to-sibling';
        for (const x of sizeFrom) involved.add(x);
      }
    } else if (dataOrigins.length >= 2) {
      const distinct = new Set(dataOrigins.map(key));
      const dataUnion = key(new Set(dataOrigins.flatMap((s) => [...s])));
      if (distinct.size >= 2 && !distinct.has(dataUnion)) kind = ({ Concat: 'concat', Add: 'add', Sum: 'add', Mul: 'mul', MatMul: 'matmul', Gemm: 'matmul', Einsum: 'matmul' } as Record<string, string>)[n.opType] ?? n.opType;
    }
    if (kind) {
      const st = [...involved].sort((a, b) => a - b);
      joins.push({ node: n.label, op: n.opType, kind, stages: st.map((s) => stages[s]!.name), branches: [...new Set(st.map((s) => stages[s]!.branch))] });
    }
    for (const o of outs) {
      const g = groupOfCut.get(o);
      const s = g === undefined ? undefined : stageForGroup(g);
      origin.set(o, g === undefined ? union : new Set(s === undefined ? [] : [s]));
    }
  }
  return joins;
}
