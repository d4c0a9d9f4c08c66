/**
 * Mirror kernels: the constant family.
 */
import type { KernelTable } from './types.js';

export const CONSTANT_KERNELS: KernelTable = {};
