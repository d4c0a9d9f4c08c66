/**
 * What a gradient request differentiates: the request checked against the model, the opset of
 * the gradient graph, shapes, the path from the differentiated values to the loss, and every node
 * on it that cannot be differentiated (shared by `checkDifferentiable` and `buildGradientGraph`,
 * so the check runs before anything is built or run).
 */
import { inferShapesStatic } from '../analysis/shapes/infer.js';
import type { ShapeMap } from '../analysis/shapes/shape-map.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { opDefinition } from '../ops/registry.js';
import type { GradientRule } from '../ops/types.js';
import { lossOutputs } from './loss.js';
import { chooseOpset, type OpsetChoice } from './opset.js';
import { collapseInverseRegions, InverseRegionNode, readInverseRegions } from './inverse-regions.js';
import { checkWrt, differentiablePath, elemTypeOf, isOtherFloat, type DiffPath } from './path.js';
import type { GradientGraphRequest } from './types.js';

export interface GradientPlan {
  opset: OpsetChoice;
  shapes: ShapeMap;
  path: DiffPath;
  inputs: string[];
  params: string[];
  lossOutputs: string[];
  rules: Map<Node, GradientRule>;
  /** Inverse regions ignored (and why), malformed metadata. */
  warnings: string[];
  /** How many inverse regions are differentiated as one Inverse op. */
  inverseRegions: number;
  /** Those regions, as the nodes that stand for them on the path. */
  regionNodes: InverseRegionNode[];
}

/** The nodes of the path that cannot be differentiated, one phrase each. */
function problems(model: Model, plan: Omit<GradientPlan, 'rules'>, rules: Map<Node, GradientRule>): string[] {
  const out: string[] = [];
  for (const n of plan.path.nodes) {
    const op = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    const rule = n instanceof InverseRegionNode ? n.rule : opDefinition(n.opType, n.domain).gradient;
    if (!rule) {
      out.push(`no gradient rule for op '${op}' (node '${n.label}')`);
      continue;
    }
    const why = rule.unsupported?.(n, plan.opset.version);
    if (why) {
      out.push(`the gradient rule of op '${op}' cannot differentiate node '${n.label}': ${why}`);
      continue;
    }
    const other = n.outputs.find((o) => o && plan.path.live.has(o.name) && isOtherFloat(elemTypeOf(model, plan.shapes, o.name)));
    if (other) {
      out.push(`op '${op}' (node '${n.label}') computes '${other.name}' in a float type other than float32; only float32 is differentiated`);
      continue;
    }
    rules.set(n, rule);
  }
  return out;
}

/** Plan the request on `model` (not modified); throws one UserError listing every node that cannot be differentiated. */
export function planGradient(model: Model, req: GradientGraphRequest): GradientPlan {
  const opset = chooseOpset(model);
  const shapes = inferShapesStatic(model, req.inputShapes ? { inputShapes: req.inputShapes } : {});
  const inputs = [...(req.inputs ?? [])];
  const params = [...(req.params ?? [])];
  checkWrt(model, shapes, inputs, params);
  const outs = lossOutputs(req.loss);
  for (const o of outs) if (!model.graph.lookup(o)) throw new UserError('no-such-value', `no value named '${o}' in the main graph (the loss reads it)`);
  // inverse regions (the RobustBlock's Newton-Schulz inverse): one node each, with the Inverse rule
  const fromMeta = req.inverseRegions ? { regions: [...req.inverseRegions], warnings: [] } : readInverseRegions(model);
  const collapsed = collapseInverseRegions(model, differentiablePath(model, shapes, [...inputs, ...params], outs), fromMeta.regions);
  const path = collapsed.path;
  const base = { opset, shapes, path, inputs, params, lossOutputs: outs, warnings: [...fromMeta.warnings, ...collapsed.warnings], inverseRegions: collapsed.regions.length, regionNodes: collapsed.regions };
  const rules = new Map<Node, GradientRule>();
  const found = problems(model, base, rules);
  if (found.length > 0) {
    const more = found.length > 3 ? ` (and ${found.length - 3} more)` : '';
    throw new UserError('no-gradient-rule', `cannot differentiate: ${found.slice(0, 3).join('; ')}${more}`);
  }
  return { ...base, rules };
}
