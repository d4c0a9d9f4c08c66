/**
 * Before any computation: can the mirror run every node of this graph? Each problem names the
 * node, its op and why (no kernel, an opset outside the kernel's range, an attribute value the
 * kernel does not implement, a subgraph, an element type the mirror cannot hold).
 */
import { UnsupportedOpError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { dataTypeName } from '../onnx/data-types.js';
import { mirrorKernel } from '../ops/registry.js';
import { MIRROR_DTYPES } from './host.js';

export interface SupportProblem {
  node: string;
  opType: string;
  domain: string;
  reason: string;
}

/** Opset of `domain` ('' = default) in the model (1 for a domain the model does not import). */
export function nodeOpset(model: Model, node: Node): number {
  return model.opsetVersion(node.domain) ?? (node.domain === 'com.microsoft' ? 1 : (model.opsetVersion('') ?? 1));
}

/** Why the mirror cannot run this node, or undefined when it can. */
export function nodeProblem(model: Model, node: Node): string | undefined {
  const kernel = mirrorKernel(node.opType, node.domain);
  const op = node.domain ? `${node.domain}::${node.opType}` : node.opType;
  if (!kernel) return `the mirror has no kernel for ${op}`;
  const opset = nodeOpset(model, node);
  if (kernel.sinceVersion !== undefined && opset < kernel.sinceVersion) return `the mirror's ${op} starts at opset ${kernel.sinceVersion} (model: ${opset})`;
  if (kernel.untilVersion !== undefined && opset > kernel.untilVersion) return `the mirror's ${op} stops at opset ${kernel.untilVersion} (model: ${opset})`;
  if (node.subgraphs.length > 0) return `${op} holds a subgraph, which the mirror does not run`;
  const maxOut = kernel.outputs ?? 1;
  const usedOuts = node.outputs.map((o, i) => (o && (o.uses().length > 0 || o.isGraphOutput) ? i : -1)).filter((i) => i >= maxOut);
  if (usedOuts.length > 0) return `output ${usedOuts[0]} of ${op} is not computed by the mirror`;
  for (const v of node.inputs) {
    const t = v?.elemType;
    if (v && t !== undefined && t !== 0 && !MIRROR_DTYPES.has(t)) return `input '${v.name}' has element type ${dataTypeName(t)}, which the mirror cannot hold`;
  }
  return kernel.unsupported?.(node, opset);
}

/** Every node the mirror cannot run. */
export function supportProblems(model: Model): SupportProblem[] {
  const out: SupportProblem[] = [];
  for (const node of model.graph.nodes) {
    const reason = nodeProblem(model, node);
    if (reason) out.push({ node: node.label, opType: node.opType, domain: node.domain, reason });
  }
  return out;
}

/** Throw an UnsupportedOpError for the first node the mirror cannot run (counting the others). */
export function assertSupported(model: Model): void {
  const problems = supportProblems(model);
  if (problems.length === 0) return;
  const p = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more node${problems.length > 2 ? 's' : ''}: ${[...new Set(problems.slice(1).map((q) => q.opType))].join(', ')})` : '';
  throw new UnsupportedOpError(p.domain ? `${p.domain}::${p.opType}` : p.opType, p.node, `${p.reason}${more}`);
}
