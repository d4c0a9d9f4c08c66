/**
 * Shape rules of the microsoft family (ops of the com.microsoft domain the toolkit itself emits,
 * keyed `domain::Op` as in the kernel table): Inverse takes batched square matrices and gives the
 * same shape (the RobustBlock's `--inverse com.microsoft`).
 */
import type { ShapeRuleTable } from './types.js';
import { sameShapeOnly } from './unary.shape.js';

export const MICROSOFT_SHAPE_RULES: ShapeRuleTable = {
  'com.microsoft::Inverse': sameShapeOnly,
};
