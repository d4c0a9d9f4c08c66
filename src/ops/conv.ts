/**
 * Mirror kernels: the conv family.
 */
import type { KernelTable } from './types.js';

export const CONV_KERNELS: KernelTable = {};
