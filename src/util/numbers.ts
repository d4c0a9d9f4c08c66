/** Checks for numbers taken from users (CLI options, patch files) before they reach a model. */

/** Largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** True when `x` is finite and stays finite when stored as float32 (1e308 does not: it becomes infinity). */
export function isFiniteFloat32(x: number): boolean {
  return Number.isFinite(x) && Number.isFinite(Math.fround(x));
}
