/**
 * Validation of an edited model before it is written: the graph rebuilds from its proto (no
 * dangling reads, every value produced once, no cycles), the node list is in topological order,
 * shape rules accept every node and agree with the declared types and shapes, and ONNX Runtime
 * creates a session from it. A failure is a CheckFailedError (exit status 3) that names the step
 * and, where one is to blame, the node. A failure of the validation machinery itself (ONNX Runtime
 * refusing the model for a size reason, a session over the memory limit) is a UserError (exit 1)
 * that says so: it is not evidence that the model is invalid.
 *
 * Lives above analysis and runtime (it uses both); ir/ imports neither.
 */
import { estimateMemory } from '../analysis/memory-estimate.js';
import { inferShapesStatic } from '../analysis/shapes/infer.js';
import { CheckFailedError, UserError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { cloneProto } from '../onnx/clone.js';
import { dataTypeName } from '../onnx/data-types.js';
import { RuntimeError, withRunner } from '../runtime/session.js';

export interface ValidateOptions {
  /** What produced the model (e.g. `step 2 (replace-op)`), for the message. */
  step?: string;
  /** Create an ONNX Runtime session from the model (default true). */
  runtime?: boolean;
}

export interface ValidationProblem {
  /** The check that failed: 'graph' | 'order' | 'shapes' | 'types' | 'runtime'. */
  check: string;
  /** The node to blame, when there is one (its label). */
  node?: string;
  message: string;
}

/** Static checks only; returns the problems found (empty when the model is valid). */
export function staticProblems(model: Model): ValidationProblem[] {
  model.syncProto();
  // 1. rebuild from the proto: dangling reads, duplicate definitions, cycles
  let rebuilt: Model;
  try {
    rebuilt = new Model(cloneProto(model.proto));
  } catch (e) {
    if (e instanceof UserError) return [{ check: 'graph', message: e.message }];
    throw e;
  }
  const problems: ValidationProblem[] = [];
  // 2. node order
  const order = (g: Graph): void => {
    const seen = new Set<Node>();
    for (const n of g.nodes) {
      for (const v of n.inputs) {
        const p = v?.producer();
        if (v && p && p.graph === g && !seen.has(p)) {
          problems.push({ check: 'order', node: n.label, message: `node '${n.label}' (${n.opType}) reads '${v.name}' before its producer '${p.label}' is listed` });
        }
      }
      seen.add(n);
      n.subgraphs.forEach(order);
    }
  };
  order(rebuilt.graph);
  if (problems.length > 0) return problems;
  // 3. shape rules, and inferred versus declared types and shapes
  let shapes;
  try {
    shapes = inferShapesStatic(rebuilt);
  } catch (e) {
    if (e instanceof UserError) {
      const m = /node '([^']*)'/.exec(e.message);
      return [{ check: 'shapes', ...(m ? { node: m[1]! } : {}), message: e.message }];
    }
    throw e;
  }
  const g = rebuilt.graph;
  for (const v of g.values()) {
    const p = v.producer();
    if (!p || !v.info?.type?.tensor_type) continue;
    const info = shapes.get(v);
    if (!info) continue;
    const declaredType = v.elemType;
    if (declaredType !== undefined && declaredType !== 0 && info.elemType !== undefined && info.elemType !== declaredType) {
      problems.push({
        check: 'types',
        node: p.label,
        message: `'${v.name}' is declared ${dataTypeName(declaredType)} but node '${p.label}' (${p.opType}) produces ${dataTypeName(info.elemType)}`,
      });
      continue;
    }
    const declared = v.declaredShape;
    if (!declared || !info.shape) continue;
    const bad =
      declared.length !== info.shape.length ||
      declared.some((d, i) => typeof d === 'number' && typeof info.shape![i] === 'number' && d !== info.shape![i]);
    if (bad) {
      problems.push({
        check: 'shapes',
        node: p.label,
        message: `'${v.name}' is declared [${declared.map((d) => d ?? '?').join(',')}] but node '${p.label}' (${p.opType}) produces [${info.shape.join(',')}]`,
      });
    }
  }
  return problems;
}

/**
 * ONNX Runtime's verdict: undefined when it creates a session, else its message (first lines).
 * The session is refused first when its static memory estimate is over --max-memory (a UserError).
 */
export async function runtimeProblem(model: Model): Promise<ValidationProblem | undefined> {
  const memory = { estimate: estimateMemory(model), what: 'the validation session' };
  try {
    await withRunner(model, { memory }, async () => undefined);
  } catch (e) {
    if (!(e instanceof RuntimeError)) throw e;
    if (e.machinery) {
      throw new UserError('validation-machinery', `could not check the result with ONNX Runtime (this is not a verdict on the model): ${e.detail}`);
    }
    const message = e.detail;
    // ONNX Runtime names the node as `In Node, ("name", Op, ...` or `Node (name)`
    const m = /In Node, \("([^"]+)"/.exec(message) ?? /\bNode \(([^)\s]+)\)/.exec(message);
    return { check: 'runtime', ...(m ? { node: m[1]! } : {}), message: `ONNX Runtime cannot load the model: ${message}` };
  }
  return undefined;
}

/**
 * Validate a model; throws a CheckFailedError naming the step and the node when a check fails.
 */
export async function validateModel(model: Model, opts: ValidateOptions = {}): Promise<void> {
  const problems = staticProblems(model);
  if (problems.length === 0 && opts.runtime !== false) {
    const p = await runtimeProblem(model);
    if (p) problems.push(p);
  }
  if (problems.length === 0) return;
  const where = opts.step ? `${opts.step}: ` : '';
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  const lines = [`iqa-surgeon: check failed: ${where}the result is not a valid model${first.node ? ` at node '${first.node}'` : ''}: ${first.message}${more}`];
  for (const p of problems.slice(1, 10)) lines.push(`  also: ${p.message}`);
  throw new ValidationError(lines[0]!, lines.join('\n'), problems, opts.step);
}

/** A CheckFailedError carrying the problems found. */
export class ValidationError extends CheckFailedError {
  readonly problems: ValidationProblem[];
  readonly step: string | undefined;
  constructor(message: string, report: string, problems: ValidationProblem[], step: string | undefined) {
    super(message, report);
    this.problems = problems;
    this.step = step;
  }
}
