/**
 * Mirror kernels: the shape family.
 */
import type { KernelTable } from './types.js';

export const SHAPE_KERNELS: KernelTable = {};
