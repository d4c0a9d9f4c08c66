/**
 * Mirror kernels: the reduce family.
 */
import type { KernelTable } from './types.js';

export const REDUCE_KERNELS: KernelTable = {};
