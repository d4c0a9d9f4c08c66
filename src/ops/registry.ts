/**
 * The op registry: per ONNX op, its shape rule and its tfjs forward kernel, assembled from one
 * table per op family. This is the only place that lists the families.
 */
import { shapeRule } from '../analysis/shapes/rules/registry.js';
import { CONSTANT_KERNELS } from './constant.js';
import { CONV_KERNELS } from './conv.js';
import { ELEMENTWISE_KERNELS } from './elementwise.js';
import { MATMUL_KERNELS } from './matmul.js';
import { MICROSOFT_KERNELS } from './microsoft.js';
import { NORM_KERNELS } from './norm.js';
import { POOL_KERNELS } from './pool.js';
import { REDUCE_KERNELS } from './reduce.js';
import { RESIZE_KERNELS } from './resize.js';
import { SHAPE_KERNELS } from './shape.js';
import { SLICE_KERNELS } from './slice.js';
import { SPECTRAL_KERNELS } from './spectral.js';
import type { KernelTable, OpDefinition, OpKernel } from './types.js';
import { UNARY_KERNELS } from './unary.js';

const FAMILIES: Readonly<Record<string, KernelTable>> = {
  constant: CONSTANT_KERNELS,
  conv: CONV_KERNELS,
  elementwise: ELEMENTWISE_KERNELS,
  matmul: MATMUL_KERNELS,
  microsoft: MICROSOFT_KERNELS,
  norm: NORM_KERNELS,
  pool: POOL_KERNELS,
  reduce: REDUCE_KERNELS,
  resize: RESIZE_KERNELS,
  shape: SHAPE_KERNELS,
  slice: SLICE_KERNELS,
  spectral: SPECTRAL_KERNELS,
  unary: UNARY_KERNELS,
};

/** Registry key: `Op` for the default domain, `domain::Op` otherwise. */
export function opKey(opType: string, domain = ''): string {
  return domain === '' || domain === 'ai.onnx' ? opType : `${domain}::${opType}`;
}

function build(): Map<string, { kernel: OpKernel; family: string }> {
  const m = new Map<string, { kernel: OpKernel; family: string }>();
  for (const [family, table] of Object.entries(FAMILIES)) {
    for (const [key, kernel] of Object.entries(table)) {
      if (m.has(key)) throw new Error(`internal: two kernels for ${key} (${m.get(key)!.family}, ${family})`);
      m.set(key, { kernel, family });
    }
  }
  return m;
}

const KERNELS = build();

/** Everything the toolkit knows about an op (shape rule and/or kernel may be missing). */
export function opDefinition(opType: string, domain = ''): OpDefinition {
  const d = domain === 'ai.onnx' ? '' : domain;
  return { opType, domain: d, shape: shapeRule(opType, d), kernel: KERNELS.get(opKey(opType, d))?.kernel, gradient: undefined };
}

/** The mirror kernel of an op, if any. */
export function mirrorKernel(opType: string, domain = ''): OpKernel | undefined {
  return KERNELS.get(opKey(opType, domain))?.kernel;
}

/** Every op with a mirror kernel, as registry keys, sorted; with its family. */
export function mirrorOps(): { key: string; family: string; types: readonly number[] }[] {
  return [...KERNELS.entries()].map(([key, v]) => ({ key, family: v.family, types: v.kernel.types })).sort((a, b) => a.key.localeCompare(b.key));
}
