/**
 * Mirror kernels: the unary family.
 */
import { DataType } from '../onnx/data-types.js';
import type { KernelTable } from './types.js';

export const UNARY_KERNELS: KernelTable = {
  Relu: { types: [DataType.FLOAT], forward: (ctx, [x]) => [ctx.tf.relu(x!)] },
};
