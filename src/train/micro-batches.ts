/**
 * Micro-batches: a batch's engine calls in slices of at most `size` images, with the parameter
 * gradients of the slices summed. Exact where the gradient is linear in the cotangents and images
 * do not interact in the forward (inference-mode BatchNormalization): the sum of the slices'
 * vector-Jacobian products is the whole batch's. Memory is then that of one slice.
 */
import { addGrads } from '../differentiable/grad-sum.js';
import type { DifferentiableModel, GradientRequest, HostTensor } from '../differentiable/model.js';

/** [first image, count] of each slice of `n` images in slices of at most `size`. */
export function microSlices(n: number, size: number): [number, number][] {
  if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`micro-batch size must be a positive integer (got ${size})`);
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(size, n - s)]);
  return out;
}

/** What one slice feeds the engine: its inputs and the cotangents of its outputs. */
export interface SliceCall {
  feeds: Record<string, HostTensor>;
  cotangents: Record<string, HostTensor>;
}

/**
 * Parameter gradients of a batch of `n` images, summed over slices of at most `size` images
 * (`slice(start, count)` builds each call). One slice returns the engine's result as it is; more
 * slices sum into copies (slice order, float32), or go to the engine's own `sumParamGrads` where
 * it has one (the ort engine then differentiates a weight stage once for all slices).
 */
export async function summedParamGrads(engine: DifferentiableModel, n: number, size: number, slice: (start: number, count: number) => SliceCall, wrt: GradientRequest): Promise<Record<string, HostTensor>> {
  const slices = microSlices(n, size);
  if (slices.length > 1 && engine.sumParamGrads) return engine.sumParamGrads(slices.length, (i) => slice(...slices[i]!), wrt);
  const sum: Record<string, HostTensor> = {};
  for (const [s, c] of slices) {
    const call = slice(s, c);
    const g = (await engine.gradients(call.feeds, call.cotangents, wrt)).paramGrads;
    if (slices.length === 1) return g;
    addGrads(sum, g);
  }
  return sum;
}
