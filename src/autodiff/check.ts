/** The pre-flight check: nothing is built and no session is created. */
import type { Model } from '../ir/model.js';
import { planGradient } from './plan.js';
import type { GradientGraphRequest } from './types.js';

/** Every node on the differentiated path whose op has no gradient rule (or whose rule refuses it), as one UserError naming op and node; call before anything runs. */
export function checkDifferentiable(model: Model, req: GradientGraphRequest): void {
  planGradient(model, req);
}
