/**
 * The budget check every additive attack's images pass before they are scored: pixel values in
 * [0,1] and an L-infinity distance to the clean image of at most eps (+1e-6). A violation is an
 * error, never a number in a report.
 */
import { UserError } from '../errors.js';

export const BUDGET_TOLERANCE = 1e-6;

export class BudgetError extends UserError {
  constructor(message: string) {
    super('budget', message);
  }
}

/** Largest |attacked - clean| over all values. */
export function linfDistance(clean: Float32Array, attacked: Float32Array): number {
  if (clean.length !== attacked.length) throw new RangeError(`L-inf distance: ${clean.length} clean values but ${attacked.length} attacked`);
  let m = 0;
  for (let i = 0; i < clean.length; i++) m = Math.max(m, Math.abs(attacked[i]! - clean[i]!));
  return m;
}

/** Throws BudgetError naming the first offending value; returns the L-inf distance. eps on [0,1]. */
export function checkBudget(clean: Float32Array, attacked: Float32Array, eps: number, what = 'attacked images'): number {
  for (let i = 0; i < attacked.length; i++) {
    const v = attacked[i]!;
    if (!(v >= 0 && v <= 1)) throw new BudgetError(`${what}: value ${i} is ${v}, outside the pixel range [0,1]`);
  }
  const d = linfDistance(clean, attacked);
  if (d > eps + BUDGET_TOLERANCE) throw new BudgetError(`${what}: L-inf distance ${(d * 255).toFixed(4)}/255 exceeds the budget eps ${(eps * 255).toFixed(4)}/255`);
  return d;
}
