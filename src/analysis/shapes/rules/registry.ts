/**
 * The shape rules by op type (default ONNX domain only).
 */
import type { ShapeRule } from '../types.js';
import { CONSTANT_RULES } from './constant.js';
import { CONV_RULES } from './conv.js';
import { ELEMENTWISE_RULES } from './elementwise.js';
import { GATHER_RULES } from './gather.js';
import { MATMUL_RULES } from './matmul.js';
import { NORM_RULES } from './norm.js';
import { POOL_RULES } from './pool.js';
import { REDUCE_RULES } from './reduce.js';
import { RESHAPE_RULES } from './reshape.js';
import { RESIZE_RULES } from './resize.js';
import { SLICE_RULES } from './slice.js';
import { sameShapeOnly, UNARY_RULES } from './unary.js';

const FAMILIES: Record<string, ShapeRule>[] = [
  CONV_RULES,
  POOL_RULES,
  MATMUL_RULES,
  ELEMENTWISE_RULES,
  UNARY_RULES,
  NORM_RULES,
  REDUCE_RULES,
  RESHAPE_RULES,
  SLICE_RULES,
  GATHER_RULES,
  CONSTANT_RULES,
  RESIZE_RULES,
];

function build(): Map<string, ShapeRule> {
  const m = new Map<string, ShapeRule>();
  for (const family of FAMILIES) {
    for (const [op, rule] of Object.entries(family)) {
      if (m.has(op)) throw new Error(`internal: two shape rules for ${op}`);
      m.set(op, rule);
    }
  }
  return m;
}

/** Op type -> rule. */
export const SHAPE_RULES: ReadonlyMap<string, ShapeRule> = build();

/** Rules for ops of other domains that the toolkit itself emits (keyed `domain::op`). */
const OTHER_DOMAIN_RULES: ReadonlyMap<string, ShapeRule> = new Map([
  // com.microsoft Inverse: batched square matrices in, same shape out (the RobustBlock's --inverse com.microsoft)
  ['com.microsoft::Inverse', sameShapeOnly],
]);

/** The rule for an op of the given domain ('' or 'ai.onnx' = default), if any. */
export function shapeRule(opType: string, domain = ''): ShapeRule | undefined {
  return domain === '' || domain === 'ai.onnx' ? SHAPE_RULES.get(opType) : OTHER_DOMAIN_RULES.get(`${domain}::${opType}`);
}
