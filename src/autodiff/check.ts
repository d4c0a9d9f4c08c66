/** The pre-flight check: no session is created and nothing runs. */
import type { Model } from '../ir/model.js';
import { buildGradientGraph } from './build.js';
import type { GradientGraphRequest } from './types.js';

/**
 * Every node on the differentiated path whose op has no gradient rule (or whose rule refuses it),
 * as one UserError naming op and node; call before anything runs. The gradient graph is built and
 * dropped (milliseconds against a session's seconds): planning finds the ops without rules, and
 * emitting finds what a rule can only tell while it writes its nodes (a size it needs statically).
 */
export function checkDifferentiable(model: Model, req: GradientGraphRequest): void {
  buildGradientGraph(model, req);
}
