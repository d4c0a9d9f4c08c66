/**
 * Analysis of graphs: shape inference (static rules, with an ONNX Runtime probe for the rest).
 */
export type { Dim, RuleContext, ShapeInfo, ShapeRule, ShapeSource } from './shapes/types.js';
export { inferShapes, inferShapesStatic, ShapeMap, type InferOptions, type StaticInferOptions } from './shapes/infer.js';
export { SHAPE_RULES, shapeRule } from '../ops/registry.js';
export { evalDim } from './shapes/symbolic.js';
export { formatShape, isCompleteShape, isUnknownDim } from './shapes/dims.js';
export { probeValues, type ProbeOptions, type ProbeResult, type ProbedValue } from './shape-probe.js';
