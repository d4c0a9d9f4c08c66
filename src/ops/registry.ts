/**
 * The op registry: per ONNX op, one OpDefinition (shape rule, tfjs forward kernel, ONNX-graph
 * gradient rule), assembled from the op families. A family `f` is up to three files side by side:
 * `src/ops/f.ts` (its kernels), `src/ops/f.shape.ts` (its shape rules) and `src/ops/f.grad.ts`
 * (its gradient rules, for src/autodiff/), under the same family
 * name, so everything the toolkit knows about one op is found in one family. This is the only
 * place that lists the families. Helpers the shape rules share (dims, symbolic dims, the rule
 * types) are in `src/ops/shape-common/`.
 *
 * Importing this module loads neither TensorFlow.js nor ONNX Runtime (checked by test/architecture/layering.test.ts).
 */
import type { ShapeRule } from './shape-common/types.js';
import { CONSTANT_GRADIENTS } from './constant.grad.js';
import { CONSTANT_KERNELS } from './constant.js';
import { CONSTANT_SHAPE_RULES } from './constant.shape.js';
import { CONV_GRADIENTS } from './conv.grad.js';
import { CONV_KERNELS } from './conv.js';
import { CONV_SHAPE_RULES } from './conv.shape.js';
import { ELEMENTWISE_GRADIENTS } from './elementwise.grad.js';
import { ELEMENTWISE_KERNELS } from './elementwise.js';
import { ELEMENTWISE_SHAPE_RULES } from './elementwise.shape.js';
import { MATMUL_GRADIENTS } from './matmul.grad.js';
import { MATMUL_KERNELS } from './matmul.js';
import { MATMUL_SHAPE_RULES } from './matmul.shape.js';
import { MICROSOFT_KERNELS } from './microsoft.js';
import { MICROSOFT_SHAPE_RULES } from './microsoft.shape.js';
import { NORM_GRADIENTS } from './norm.grad.js';
import { NORM_KERNELS } from './norm.js';
import { NORM_SHAPE_RULES } from './norm.shape.js';
import { POOL_GRADIENTS } from './pool.grad.js';
import { POOL_KERNELS } from './pool.js';
import { POOL_SHAPE_RULES } from './pool.shape.js';
import { REDUCE_GRADIENTS } from './reduce.grad.js';
import { REDUCE_KERNELS } from './reduce.js';
import { REDUCE_SHAPE_RULES } from './reduce.shape.js';
import { RESIZE_KERNELS } from './resize.js';
import { RESIZE_SHAPE_RULES } from './resize.shape.js';
import { SHAPE_GRADIENTS } from './shape.grad.js';
import { SHAPE_KERNELS } from './shape.js';
import { SHAPE_SHAPE_RULES } from './shape.shape.js';
import { SLICE_GRADIENTS } from './slice.grad.js';
import { SLICE_KERNELS } from './slice.js';
import { SLICE_SHAPE_RULES } from './slice.shape.js';
import { SPECTRAL_KERNELS } from './spectral.js';
import { SPECTRAL_SHAPE_RULES } from './spectral.shape.js';
import type { GradientRule, GradientTable, KernelTable, OpDefinition, OpKernel, ShapeRuleTable } from './types.js';
import { UNARY_GRADIENTS } from './unary.grad.js';
import { UNARY_KERNELS } from './unary.js';
import { UNARY_SHAPE_RULES } from './unary.shape.js';
// rules beyond each family's core set, in a second file per family (merged into its table below)
import { CONV_MORE_GRADIENTS } from './conv-more.grad.js';
import { EINSUM_GRADIENTS } from './einsum.grad.js';
import { GRIDSAMPLE_GRADIENTS } from './gridsample.grad.js';
import { LRN_GRADIENTS } from './lrn.grad.js';
import { SLICE_SCATTER_GRADIENTS } from './slice-scatter.grad.js';
import { ELEMENTWISE_MORE_GRADIENTS } from './elementwise-more.grad.js';
import { MICROSOFT_GRADIENTS } from './microsoft.grad.js';
import { NORM_MORE_GRADIENTS } from './norm-more.grad.js';
import { POOL_MORE_GRADIENTS } from './pool-more.grad.js';
import { REDUCE_MORE_GRADIENTS } from './reduce-more.grad.js';
import { RESIZE_GRADIENTS } from './resize.grad.js';
import { SHAPE_MORE_GRADIENTS } from './shape-more.grad.js';
import { SLICE_MORE_GRADIENTS } from './slice-more.grad.js';
import { SPECTRAL_GRADIENTS } from './spectral.grad.js';
import { UNARY_MORE_GRADIENTS } from './unary-more.grad.js';

/** One op family's tables (keys: `Op` for the default domain, `domain::Op` otherwise). */
export interface OpFamily {
  readonly kernels?: KernelTable;
  readonly shapes?: ShapeRuleTable;
  readonly gradients?: GradientTable;
}

const FAMILIES: Readonly<Record<string, OpFamily>> = {
  constant: { kernels: CONSTANT_KERNELS, shapes: CONSTANT_SHAPE_RULES, gradients: CONSTANT_GRADIENTS },
  conv: { kernels: CONV_KERNELS, shapes: CONV_SHAPE_RULES, gradients: CONV_GRADIENTS },
  elementwise: { kernels: ELEMENTWISE_KERNELS, shapes: ELEMENTWISE_SHAPE_RULES, gradients: ELEMENTWISE_GRADIENTS },
  matmul: { kernels: MATMUL_KERNELS, shapes: MATMUL_SHAPE_RULES, gradients: MATMUL_GRADIENTS },
  microsoft: { kernels: MICROSOFT_KERNELS, shapes: MICROSOFT_SHAPE_RULES },
  norm: { kernels: NORM_KERNELS, shapes: NORM_SHAPE_RULES, gradients: NORM_GRADIENTS },
  pool: { kernels: POOL_KERNELS, shapes: POOL_SHAPE_RULES, gradients: POOL_GRADIENTS },
  reduce: { kernels: REDUCE_KERNELS, shapes: REDUCE_SHAPE_RULES, gradients: REDUCE_GRADIENTS },
  resize: { kernels: RESIZE_KERNELS, shapes: RESIZE_SHAPE_RULES },
  shape: { kernels: SHAPE_KERNELS, shapes: SHAPE_SHAPE_RULES, gradients: SHAPE_GRADIENTS },
  slice: { kernels: SLICE_KERNELS, shapes: SLICE_SHAPE_RULES, gradients: SLICE_GRADIENTS },
  spectral: { kernels: SPECTRAL_KERNELS, shapes: SPECTRAL_SHAPE_RULES },
  unary: { kernels: UNARY_KERNELS, shapes: UNARY_SHAPE_RULES, gradients: UNARY_GRADIENTS },
};

/** Registry key: `Op` for the default domain, `domain::Op` otherwise. */
export function opKey(opType: string, domain = ''): string {
  return domain === '' || domain === 'ai.onnx' ? opType : `${domain}::${opType}`;
}

/** One registered op: its definition and the family that defines it. */
export interface RegistryEntry {
  readonly key: string;
  readonly family: string;
  readonly definition: OpDefinition;
}

/**
 * The entries of the given families, by key. An op belongs to one family: a key found in two
 * families (in any of their tables) is an internal error.
 */
export function buildRegistry(families: Readonly<Record<string, OpFamily>>): ReadonlyMap<string, RegistryEntry> {
  const owner = new Map<string, string>();
  for (const [family, f] of Object.entries(families)) {
    for (const table of [f.kernels, f.shapes, f.gradients]) {
      for (const key of Object.keys(table ?? {})) {
        const other = owner.get(key);
        if (other !== undefined && other !== family) throw new Error(`internal: op ${key} is in two families (${other}, ${family})`);
        owner.set(key, family);
      }
    }
  }
  const m = new Map<string, RegistryEntry>();
  for (const [key, family] of owner) {
    const f = families[family]!;
    const [domain, opType] = key.includes('::') ? (key.split('::') as [string, string]) : ['', key];
    const definition: OpDefinition = { opType, domain, shape: f.shapes?.[key], kernel: f.kernels?.[key], gradient: f.gradients?.[key] };
    m.set(key, { key, family, definition });
  }
  return m;
}

/**
 * What breaks the registry's parity: an op with a kernel and no shape rule, or with a gradient
 * rule and no kernel. One line per problem, sorted.
 */
export function registryProblems(registry: ReadonlyMap<string, RegistryEntry>): string[] {
  const problems: string[] = [];
  for (const { key, family, definition: d } of registry.values()) {
    if (d.kernel && !d.shape) problems.push(`${key} (${family}): a kernel and no shape rule`);
    if (d.gradient && !d.kernel) problems.push(`${key} (${family}): a gradient rule and no kernel`);
  }
  return problems.sort();
}

/**
 * More gradient rules per family (`<family>-more.grad.ts`, families with no core rules, and
 * single-op files such as `lrn.grad.ts`), merged into the family's `gradients`.
 */
const MORE_GRADIENTS: Readonly<Record<string, GradientTable | readonly GradientTable[]>> = {
  conv: CONV_MORE_GRADIENTS,
  elementwise: ELEMENTWISE_MORE_GRADIENTS,
  matmul: EINSUM_GRADIENTS,
  microsoft: MICROSOFT_GRADIENTS,
  norm: [NORM_MORE_GRADIENTS, LRN_GRADIENTS],
  pool: POOL_MORE_GRADIENTS,
  reduce: REDUCE_MORE_GRADIENTS,
  resize: [RESIZE_GRADIENTS, GRIDSAMPLE_GRADIENTS],
  shape: SHAPE_MORE_GRADIENTS,
  slice: [SLICE_MORE_GRADIENTS, SLICE_SCATTER_GRADIENTS],
  spectral: SPECTRAL_GRADIENTS,
  unary: UNARY_MORE_GRADIENTS,
};

/** The families with their more gradient rules merged in (a key in both tables is an internal error). */
function withMoreGradients(families: Readonly<Record<string, OpFamily>>): Record<string, OpFamily> {
  return Object.fromEntries(
    Object.entries(families).map(([name, f]) => {
      const entry = MORE_GRADIENTS[name];
      if (!entry) return [name, f];
      let gradients: Record<string, GradientRule> = { ...f.gradients };
      for (const more of Array.isArray(entry) ? (entry as readonly GradientTable[]) : [entry as GradientTable]) {
        for (const key of Object.keys(more)) if (gradients[key]) throw new Error(`internal: gradient rule of ${key} defined twice in family ${name}`);
        gradients = { ...gradients, ...more };
      }
      return [name, { ...f, gradients }];
    }),
  );
}

const REGISTRY = buildRegistry(withMoreGradients(FAMILIES));

function entry(opType: string, domain = ''): RegistryEntry | undefined {
  return REGISTRY.get(opKey(opType, domain));
}

/** Every registered op, sorted by key. */
export function registeredOps(): RegistryEntry[] {
  return [...REGISTRY.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** Everything the toolkit knows about an op (shape rule, kernel and gradient may each be missing). */
export function opDefinition(opType: string, domain = ''): OpDefinition {
  const d = domain === 'ai.onnx' ? '' : domain;
  return entry(opType, d)?.definition ?? { opType, domain: d, shape: undefined, kernel: undefined, gradient: undefined };
}

/** Registry key -> shape rule, for every op that has one. */
export const SHAPE_RULES: ReadonlyMap<string, ShapeRule> = new Map(registeredOps().flatMap((e) => (e.definition.shape ? [[e.key, e.definition.shape] as const] : [])));

/** The shape rule of an op of the given domain ('' or 'ai.onnx' = default), if any. */
export function shapeRule(opType: string, domain = ''): ShapeRule | undefined {
  return entry(opType, domain)?.definition.shape;
}

/** The mirror kernel of an op, if any. */
export function mirrorKernel(opType: string, domain = ''): OpKernel | undefined {
  return entry(opType, domain)?.definition.kernel;
}

/** Every op with a mirror kernel, as registry keys, sorted; with its family. */
export function mirrorOps(): { key: string; family: string; types: readonly number[] }[] {
  return registeredOps().flatMap((e) => (e.definition.kernel ? [{ key: e.key, family: e.family, types: e.definition.kernel.types }] : []));
}
