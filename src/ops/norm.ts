/**
 * Mirror kernels: the norm family.
 */
import type { KernelTable } from './types.js';

export const NORM_KERNELS: KernelTable = {};
