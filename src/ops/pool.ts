/**
 * Mirror kernels: the pool family.
 */
import type { KernelTable } from './types.js';

export const POOL_KERNELS: KernelTable = {};
