/**
 * The gradient-graph contract (issue 15): what `buildGradientGraph` is asked for and what it
 * returns. Engines feed and fetch the graph by the names given here.
 */
import type { Model } from '../ir/model.js';

export type LossSpec =
  /** Target fed as graph input (see `feeds.target`); mean over the output's elements. */
  | { kind: 'mse' | 'l1'; output: string }
  /** mean(y) */
  | { kind: 'mean'; output: string }
  /** One graph input per output (same dims as the output); loss = sum(ct * y). */
  | { kind: 'cotangents'; outputs: string[] };

export interface GradientGraphRequest {
  loss: LossSpec;
  /** Graph inputs to differentiate (attacks). */
  inputs?: readonly string[];
  /** Float initializers to differentiate (fine-tuning); ONLY these become graph inputs of the gradient graph, every other initializer stays constant. */
  params?: readonly string[];
  /** Forward outputs to return too (default: every graph output). */
  outputs?: readonly string[];
  /** Inverse regions (B -> C = B^-1) to differentiate as one op (compatible extension); default: the model metadata `iqa-surgeon.inverse-regions`. */
  inverseRegions?: readonly { input: string; output: string; inputImag?: string; outputImag?: string }[];
  /**
   * Shapes of graph inputs for shape inference where the model declares symbolic dims (e.g.
   * dynamic height/width): rules bake static dims (Conv geometry, pool divisors) from them, so the
   * graph is valid for those dims; the graph inputs keep their declared dims (compatible extension).
   */
  inputShapes?: Record<string, (number | string)[]>;
  /** Checkpoint segments whose internal values are recomputed in the backward pass instead of kept (compatible extension); default: the model metadata `iqa-surgeon.checkpoints`. */
  checkpoints?: readonly { inputs: string[]; outputs: string[] }[];
}

export interface GradientGraph {
  /** The gradient model (never saved by the toolkit; given to src/runtime as bytes or a temp file). */
  model: Model;
  /** Graph-input names to feed besides the forward inputs: params (same names as the initializers), the loss target, cotangents. */
  feeds: { params: Record<string, string>; target?: string; cotangents: Record<string, string> };
  /** Graph-output names: the loss (scalar float), forward outputs, gradients. */
  fetch: { loss: string; outputs: Record<string, string>; inputGrads: Record<string, string>; paramGrads: Record<string, string> };
  /** Peak-memory policy used, in words. */
  memory: string;
  /** Opset of the default domain the gradient graph imports, and why it is not max(model's, 16) when it is not (compatible extension). */
  opset?: { version: number; note?: string };
  /** Inverse regions differentiated as one Inverse op, and warnings (regions ignored, malformed metadata) (compatible extension). */
  inverseRegions?: { used: number; warnings: string[] };
  /** Checkpoint segments recomputed in the backward pass, and warnings (segments ignored, malformed metadata) (compatible extension). */
  checkpoints?: { used: number; warnings: string[] };
}
