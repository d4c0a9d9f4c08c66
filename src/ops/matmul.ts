/**
 * Mirror kernels: the matmul family.
 */
import type { KernelTable } from './types.js';

export const MATMUL_KERNELS: KernelTable = {};
