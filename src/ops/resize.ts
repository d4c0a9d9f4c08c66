/**
 * Mirror kernels: the resize family.
 */
import type { KernelTable } from './types.js';

export const RESIZE_KERNELS: KernelTable = {};
