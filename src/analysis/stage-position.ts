/**
 * Named splice positions inside a stage (`splice --stage features1.block5 --before conv3`,
 * `--after base.13`), resolved on a stage map computed with `allEdges`.
 */
import { UserError } from '../errors.js';
import { findStage, type StageConv, type StageCut, type StageInfo, type StageMap } from './stages.js';

/** A named position inside a stage: before one of its convs, or after a module or conv. */
export interface StagePosition {
  /** `conv<k>` (k-th path conv of the stage), a conv's node name, or a module (`features1.28`, `layer3.2`): the input of its first conv. */
  before?: string;
  /** `conv<k>`, a conv's node name, or a module (`base.13`, `layer3.2`): the last tensor it produces that every path passes through. */
  after?: string;
}

export interface ResolvedPosition {
  edge: string;
  stage: StageInfo;
  /** E.g. `before conv3 (/features1/features1.28/Conv)`. */
  description: string;
}

const moduleParts = (label: string): string[] => (label.startsWith('/') ? label.split('/').filter(Boolean).slice(0, -1) : []);

/**
 * Resolve `--stage S --before X` / `--after X` (S optional when X names a module or node) to an edge.
 * `map` must come from computeStages with `allEdges`.
 */
export function resolvePosition(map: StageMap, stageKey: string | undefined, pos: StagePosition): ResolvedPosition {
  if ((pos.before === undefined) === (pos.after === undefined)) throw new UserError('usage', 'give one of --before or --after');
  const key = (pos.before ?? pos.after)!;
  const where = pos.before !== undefined ? 'before' : 'after';
  const stages = stageKey !== undefined ? [findStage(map, stageKey)] : map.stages;
  const convK = /^conv(\d+)$/.exec(key);
  if (convK && stageKey === undefined) throw new UserError('usage', `--${where} ${key} counts convs inside a stage: give --stage too`);
  const matches = (c: StageConv): boolean => (convK ? c.index === Number(convK[1]) : c.node === key || moduleParts(c.node).includes(key));
  const found: { stage: StageInfo; conv: StageConv }[] = [];
  for (const s of stages) {
    if (!s.pathConvs) throw new Error('resolvePosition needs a stage map computed with allEdges');
    for (const c of s.pathConvs) if (matches(c)) found.push({ stage: s, conv: c });
  }
  const listConvs = (s: StageInfo): string => s.pathConvs!.map((c) => `conv${c.index} ${c.node}`).join(', ');
  if (where === 'before') {
    if (found.length === 0) {
      const hint = stageKey !== undefined ? `; convs of stage ${stages[0]!.name}: ${listConvs(stages[0]!)}` : '; see `stages --all-edges`';
      throw new UserError('no-such-position', `no conv '${key}'${stageKey !== undefined ? ` in stage ${stages[0]!.name}` : ''}${hint}`);
    }
    const { stage, conv } = found[0]!;
    return { edge: conv.input, stage, description: `before ${convK ? `conv${conv.index} ` : ''}${conv.node}` };
  }
  // after: a conv's output (conv<k> or its node name), else the last cut a module produces
  if (convK || (found.length === 1 && found[0]!.conv.node === key)) {
    if (found.length === 0) throw new UserError('no-such-position', `no conv '${key}' in stage ${stages[0]!.name}; convs: ${listConvs(stages[0]!)}`);
    const { stage, conv } = found[0]!;
    return { edge: conv.output, stage, description: `after ${convK ? `conv${conv.index} ` : ''}${conv.node}` };
  }
  let best: { stage: StageInfo; cut: StageCut } | undefined;
  for (const s of stages) for (const c of s.cuts!) if (c.producer === key || moduleParts(c.producer).includes(key)) best = { stage: s, cut: c };
  if (!best) {
    throw new UserError('no-such-position', `no tensor that every path passes through is produced by '${key}'${stageKey !== undefined ? ` in stage ${stages[0]!.name}` : ''}; see \`stages --all-edges\` for each stage's cut tensors and convs`);
  }
  return { edge: best.cut.edge, stage: best.stage, description: `after ${key} (${best.cut.producer})` };
}
