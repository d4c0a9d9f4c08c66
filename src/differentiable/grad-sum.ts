/**
 * Sums of gradient tensors by name (float32, in place): how parameter gradients of several calls
 * (micro-batches) are added up, by the trainer or by an engine that sums them itself.
 */
import type { HostTensor } from './model.js';

/**
 * Add each tensor of `g` into the one of the same name in `acc`. A name seen first is copied
 * into `acc`, or with `adopt` taken over as it is (for tensors the caller owns, e.g. the results
 * of its own runs).
 */
export function addGrads(acc: Record<string, HostTensor>, g: Record<string, HostTensor>, opts: { adopt?: boolean } = {}): void {
  for (const [k, v] of Object.entries(g)) {
    const have = acc[k];
    if (!have) {
      acc[k] = opts.adopt ? v : { dims: [...v.dims], data: Float32Array.from(v.data as Float32Array) };
      continue;
    }
    const a = have.data as Float32Array;
    const d = v.data as Float32Array;
    for (let i = 0; i < a.length; i++) a[i]! += d[i]!;
  }
}
