/**
 * ONNX-graph gradient rules of the constant family, for src/autodiff/: a Constant has no inputs,
 * so nothing flows back through it (it is never on a differentiated path; the entry says so).
 */
import type { GradientTable } from './types.js';

export const CONSTANT_GRADIENTS: GradientTable = { Constant: { backward: () => [] } };
