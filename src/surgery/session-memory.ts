/**
 * What an ONNX Runtime session on a spliced file will need (issue 11, defect 8). The trainable
 * (parametric) forms compute their orthogonal kernel inside the graph, and ONNX Runtime's
 * constant folding evaluates that at session creation: on large blocks that is many GB (over 20 GB
 * was measured on the last stage of an Inception-v3). `splice` says the estimate, and above
 * MATERIALIZE_ADVICE_BYTES points to `materialize`, which stores the computed kernel instead.
 */
import { estimateMemory, type MemoryEstimate } from '../analysis/memory-estimate.js';
import type { Dim } from '../analysis/shapes/types.js';
import type { Model } from '../ir/model.js';
import { formatBytes } from '../runtime/memory-limit.js';

/** Above this estimate, `splice` points the user to `materialize`. */
export const MATERIALIZE_ADVICE_BYTES = 8 * 1024 ** 3;

export interface SessionMemory {
  /** Static estimate of a session's peak bytes (initializers + peak activations) at the given input shapes. */
  bytes: number;
  initializerBytes: number;
  peakActivationBytes: number;
  unknownValues: number;
}

export function sessionMemory(model: Model, inputShapes?: Record<string, Dim[]>): SessionMemory {
  const e: MemoryEstimate = estimateMemory(model, inputShapes ? { inputShapes } : {});
  return { bytes: e.bytes, initializerBytes: e.initializerBytes, peakActivationBytes: e.peakActivationBytes, unknownValues: e.unknownValues };
}

/** The one line `splice` prints for a trainable form above the threshold, else undefined. */
export function materializeAdvice(bytes: number, trainable: boolean): string | undefined {
  if (!trainable || !(bytes > MATERIALIZE_ADVICE_BYTES)) return undefined;
  return `an ONNX Runtime session on this trainable form needs about ${formatBytes(bytes)} (over ${formatBytes(MATERIALIZE_ADVICE_BYTES)}): run \`iqa-surgeon materialize\` on it before running it in ONNX Runtime`;
}
