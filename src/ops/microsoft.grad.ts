/**
 * ONNX gradient rules of the com.microsoft family: Inverse. For C = B^-1 (batched over the last
 * two axes), dB = -C^T dC C^T (MatMuls and a Transpose of the last two axes; the forward's C is
 * reused, nothing is inverted again).
 */
import { inputName, neg, one, outputName, rankOf } from './grad-helpers.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

/** -C^T dC C^T for C = B^-1, batched over the last two axes of a rank-`rank` value. */
export function inverseBackward(g: GradientEmitter, c: string, dc: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  const ct = one(g, 'Transpose', [c], { perm });
  return neg(g, one(g, 'MatMul', [one(g, 'MatMul', [ct, dc]), ct]));
}

const inverse: GradientRule = {
  backward: (g, dy, wanted) => {
    if (!wanted[0] || !dy[0]) return [null];
    const c = outputName(g, 0);
    return [inverseBackward(g, c, dy[0], rankOf(g, inputName(g, 0)))];
  },
};

export const MICROSOFT_GRADIENTS: GradientTable = {
  'com.microsoft::Inverse': inverse,
};
