/**
 * The one interface that fine-tuning and attacks use to differentiate a model, whatever engine
 * computes it: the TensorFlow.js mirror (`src/mirror/`) implements it now; an ONNX Runtime
 * gradient engine can implement the same contract later.
 *
 * Everything crossing the interface is a host tensor (plain typed arrays, NCHW as in the ONNX
 * file), so callers never depend on the engine's tensor type. Gradients are vector-Jacobian
 * products: the caller gives dL/d(output) for the outputs its loss reads (`cotangents`), or a loss
 * from the built-in set, and gets dL/d(input) and dL/d(parameter) back.
 */

/** A dense tensor in host memory: float32 for float data, int32 for integer data, uint8 for bool. */
export interface HostTensor {
  dims: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** Losses every engine provides (computed on one named output, averaged over its elements). */
export type BuiltinLoss =
  /** mean((y - target)^2) */
  | { kind: 'mse'; output?: string; target: HostTensor }
  /** mean(|y - target|) */
  | { kind: 'l1'; output?: string; target: HostTensor }
  /** mean(y) (attacks ascend or descend the predicted score itself) */
  | { kind: 'mean'; output?: string };

export interface GradientRequest {
  /** Graph inputs to differentiate with respect to (default: none). */
  inputs?: readonly string[];
  /** Parameters (float32 initializer names, trainable or not) to differentiate with respect to (default: the trainable set). */
  params?: readonly string[];
}

export interface GradientResult {
  /** The loss value (for a built-in loss), or sum(cotangent * output) for explicit cotangents. */
  loss: number;
  /** The outputs of the forward pass that produced the gradients. */
  outputs: Record<string, HostTensor>;
  inputGrads: Record<string, HostTensor>;
  paramGrads: Record<string, HostTensor>;
}

/** Live engine memory (tensors the engine holds, and their bytes), for leak checks. */
export interface MemoryStats {
  tensors: number;
  bytes: number;
}

export interface DifferentiableModel {
  /** Which engine computes it, in words (e.g. "tfjs mirror on cpu"). */
  readonly engine: string;
  /**
   * 'ort': forward outputs are ONNX Runtime running the model's own nodes (in a gradient graph
   * they are the forward part, unchanged), so they are the file's scores; 'tfjs': the mirror's.
   */
  readonly kind: 'ort' | 'tfjs';
  /** One line for users: the engine, its backend, and why faster backends were not used. */
  describe(): string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The dims a graph output is declared with (a string is a symbolic dim, undefined an unknown one); undefined when the model declares no shape. */
  declaredDims(output: string): readonly (number | string | undefined)[] | undefined;
  /** Forward pass; returns the graph outputs (or the named values). */
  forward(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>>;
  /** Loss and gradients: `loss` is a built-in loss or explicit cotangents per output. */
  gradients(feeds: Record<string, HostTensor>, loss: BuiltinLoss | Record<string, HostTensor>, wrt?: GradientRequest): Promise<GradientResult>;
  /** Names of all parameters (float initializers) and of the trainable ones. */
  parameterNames(): string[];
  trainableNames(): string[];
  /** Read / write a parameter by its ONNX initializer name (dims must match). */
  getParameter(name: string): HostTensor;
  setParameter(name: string, value: HostTensor): void;
  /**
   * Write parameters (default: the trainable ones) into the model's IR, bit-exact (engines do it
   * through `writeParameters`, src/differentiable/write-back.ts); returns the names whose bits
   * changed (the others keep their bytes).
   */
  writeBack(names?: readonly string[]): string[];
  /**
   * Parameter gradients summed over `count` calls (call i: its feeds and the cotangents of its
   * outputs), equal to the sum of `gradients` over the calls; optional: an engine that can share
   * work between the calls (one backward pass through a weight-only stage) implements it.
   */
  sumParamGrads?(count: number, call: (i: number) => { feeds: Record<string, HostTensor>; cotangents: Record<string, HostTensor> }, wrt?: GradientRequest): Promise<Record<string, HostTensor>>;
  /** Live engine memory; the contract tests check it stays flat across repeated calls. */
  memoryStats?(): MemoryStats;
  /** Release engine memory. */
  dispose(): void;
}

/** Element count of dims (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
