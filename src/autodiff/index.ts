/** Reverse-mode differentiation of ONNX graphs into ONNX graphs that ONNX Runtime runs (issue 15). */
export { buildGradientGraph, MEMORY_POLICY } from './build.js';
export { checkDifferentiable } from './check.js';
export { chooseOpset, MEANING_CHANGES, PREFERRED_OPSET } from './opset.js';
export type { GradientGraph, GradientGraphRequest, LossSpec } from './types.js';
