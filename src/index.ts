/** Public library API of iqa-surgeon. */
export * from './errors.js';
export { Model } from './ir/model.js';
export { Graph, NameRegistry, type NodeSpec } from './ir/graph.js';
export { Node } from './ir/node.js';
export { Value, type Use } from './ir/value.js';
export { makeAttribute } from './ir/attributes.js';
export { decode, encode, encodeTo, LAYOUT } from './onnx/codec.js';
export {
  loadModelFile,
  saveModelFile,
  decodeModel,
  encodeModel,
  forEachTensor,
  setLimits,
  currentLimits,
  DEFAULT_LIMITS,
  checkElementCount,
  type Limits,
  type LoadOptions,
  type SaveOptions,
  type SaveReport,
} from './onnx/model-io.js';
export * from './onnx/proto-types.js';
export { DataType, dataTypeName } from './onnx/data-types.js';
export { tensorDims, tensorRawBytes, tensorTypedData, tensorToNumbers } from './onnx/tensor-data.js';
export { inspectModel, type InspectReport } from './analysis/inspect.js';
export { computeStages, findStage, type StageMap, type StageInfo } from './analysis/stages.js';
export { inferShapes, inferShapesStatic, ShapeMap } from './analysis/shapes/infer.js';
export type { Dim, ShapeInfo, ShapeSource } from './analysis/shapes/types.js';
export * from './rewrite/index.js';
export { validateModel, staticProblems, ValidationError } from './validation/validate.js';
export { openRunner, withRunner, sessionSource, RuntimeError, setMaxMemoryBytes, maxMemoryBytes, type Runner, type RunnerOptions, type RuntimeTensor, type SessionSource, type MemoryEstimate } from './runtime/index.js';
export { estimateMemory } from './analysis/memory-estimate.js';
export { cleanup as cleanupPass } from './ir/passes/cleanup.js';
export type { PassResult } from './ir/passes/pass.js';
export { spliceRobustBlock, SPLICE_METADATA_KEY, type SpliceOptions, type SpliceReport } from './surgery/splice.js';
export { materialize, type MaterializeReport } from './surgery/materialize.js';
export { resolveBlockOptions, type RobustBlockOptions } from './surgery/robust-block/options.js';
export * from './equiv/index.js';
export type { DifferentiableModel, HostTensor, BuiltinLoss, GradientRequest, GradientResult, MemoryStats } from './differentiable/model.js';
export { selectTrainable, parameterNames, blockParameters } from './differentiable/parameters.js';
export { writeParameters } from './differentiable/write-back.js';
export { createEngine, ENGINE_CHOICES, type EngineChoice, type EngineOptions } from './engines/factory.js';
export { Mirror, type MirrorOptions } from './mirror/mirror.js';
export { loadBackend, currentBackend, BACKEND_CHOICES, type BackendChoice, type LoadedBackend } from './mirror/backend.js';
export { supportProblems, assertSupported, type SupportProblem } from './mirror/support.js';
export { runConformance, runConformanceCase, summarize as summarizeConformance, type ConformanceCase } from './mirror/conformance.js';
export { opDefinition, mirrorKernel, mirrorOps } from './ops/registry.js';
export type { OpDefinition, OpKernel, KernelContext, KernelTable, GradientEmitter, GradientRule, GradientTable } from './ops/types.js';
export { buildGradientGraph, checkDifferentiable, type GradientGraph, type GradientGraphRequest, type LossSpec } from './autodiff/index.js';
