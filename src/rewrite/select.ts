/**
 * Choosing nodes: by op type, restricted to a conv stage (the nodes on the trunk between the
 * stage's input edge and its splice edge) or to node names matching a glob.
 *
 * `where` forms: `stage:<name|index>`; `name:<glob>`; a bare value is a glob when it holds `*`,
 * `?` or `/`, a stage when the model has a stage of that name (or index), else an exact node name.
 */
import { computeStages, findStage, type StageInfo } from '../analysis/stages.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { globToRegExp } from './util.js';

export interface SelectOptions {
  /** Op type of the nodes to pick (default domain). */
  op: string;
  where?: string;
  /** For stage selection on models with dynamic inputs. */
  inputShapes?: Record<string, Dim[]>;
}

export interface Selection {
  nodes: Node[];
  /** How `where` was understood, for messages. */
  description: string;
}

/** The nodes of a stage: on a path from its input edge to its splice edge (the edge's producer included). */
export function stageNodes(model: Model, stage: StageInfo): Set<Node> {
  const g = model.graph;
  const start = g.value(stage.inputEdge);
  const end = g.value(stage.edge);
  const forward = new Set<Node>();
  const stack = [start];
  const seenV = new Set([start]);
  while (stack.length > 0) {
    const v = stack.pop()!;
    for (const u of v.uses()) {
      if (u.node.graph !== g || forward.has(u.node)) continue;
      forward.add(u.node);
      for (const o of u.node.outputs) if (o && !seenV.has(o)) (seenV.add(o), stack.push(o));
    }
  }
  const members = new Set<Node>();
  const back = [end];
  const seenB = new Set([end]);
  while (back.length > 0) {
    const v = back.pop()!;
    const p = v.producer();
    if (!p || !forward.has(p) || members.has(p)) continue;
    members.add(p);
    for (const i of p.inputs) if (i && !seenB.has(i)) (seenB.add(i), back.push(i));
  }
  return members;
}

export async function selectNodes(model: Model, opts: SelectOptions): Promise<Selection> {
  const g = model.graph;
  const ofType = g.nodes.filter((n) => n.opType === opts.op && n.domain === '');
  if (!opts.where) return { nodes: ofType, description: 'everywhere' };
  let where = opts.where.trim();
  let kind: 'stage' | 'name' | 'auto' = 'auto';
  if (where.startsWith('stage:')) {
    kind = 'stage';
    where = where.slice(6);
  } else if (where.startsWith('name:')) {
    kind = 'name';
    where = where.slice(5);
  } else if (/[*?/]/.test(where)) kind = 'name';
  if (kind !== 'name') {
    let stage: StageInfo | undefined;
    try {
      const map = await computeStages(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {});
      stage = kind === 'stage' ? findStage(map, where) : (/^\d+$/.test(where) ? map.stages[Number(where)] : map.stages.find((s) => s.name === where));
    } catch (e) {
      if (kind === 'stage') throw e;
    }
    if (stage) {
      const members = stageNodes(model, stage);
      return { nodes: ofType.filter((n) => members.has(n)), description: `stage ${stage.index} '${stage.name}' (${stage.inputEdge} -> ${stage.edge})` };
    }
  }
  const re = globToRegExp(where);
  return { nodes: ofType.filter((n) => re.test(n.name)), description: `nodes named like '${where}'` };
}

/** Selection that must not be empty. */
export async function requireSelection(model: Model, opts: SelectOptions): Promise<Selection> {
  const s = await selectNodes(model, opts);
  if (s.nodes.length === 0) {
    const total = model.graph.nodes.filter((n) => n.opType === opts.op).length;
    throw new UserError('no-match', `no ${opts.op} node matches (${s.description}; the model has ${total} ${opts.op} node${total === 1 ? '' : 's'})`);
  }
  return s;
}
