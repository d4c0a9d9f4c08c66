/** The ONNX Runtime layer: the only code that imports onnxruntime-node (lazily). */
export { openRunner, withRunner, sessionSource, sessionCount, ortMessage, RuntimeError, BUFFER_LIMIT_BYTES, type Runner, type RunnerOptions, type RunnerValueInfo, type SessionSource, type ExecutionProvider, type OptimizationLevel } from './session.js';
export { ortTypeName, tensorBytes, type RuntimeTensor, type TensorData } from './tensor.js';
export { checkMemoryEstimate, describeEstimate, formatBytes, maxMemoryBytes, setMaxMemoryBytes, defaultMaxMemoryBytes, MAX_MEMORY_FLAG, type MemoryEstimate } from './memory-limit.js';
export { setNoticeSink, notice, noticeLines, type Notice, type NoticeSink } from './notices.js';
