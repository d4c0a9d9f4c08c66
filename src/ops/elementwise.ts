/**
 * Mirror kernels: the elementwise family.
 */
import type { KernelTable } from './types.js';

export const ELEMENTWISE_KERNELS: KernelTable = {};
