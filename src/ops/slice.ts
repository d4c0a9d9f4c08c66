/**
 * Mirror kernels: the slice family.
 */
import type { KernelTable } from './types.js';

export const SLICE_KERNELS: KernelTable = {};
