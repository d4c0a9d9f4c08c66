/**
 * Mirror kernels: the microsoft family.
 */
import type { KernelTable } from './types.js';

export const MICROSOFT_KERNELS: KernelTable = {};
