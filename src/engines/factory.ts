/**
 * The one place that constructs a gradient engine: fine-tuning and attacks ask for a
 * `DifferentiableModel` here and never build an engine themselves, so a second engine (ONNX
 * Runtime with gradients) drops in behind the same call.
 *
 * Engines: `tfjs` (the TensorFlow.js mirror, src/mirror/), `ort` (not built yet: asking for it is
 * an error), `auto` (tfjs today). Importing this module does not load TensorFlow.js: the mirror
 * loads its tfjs package only when an engine is built (src/mirror/backend.ts; tested in
 * test/engines/factory.test.ts). The mirror module itself is imported statically: a dynamic
 * import would, under the tests' CommonJS loading of TypeScript, create a second copy of every
 * src module it reaches (a second UserError class, a second backend state). The engine and
 * backend in use are on the result: `engine` and `describe()`.
 */
import type { Dim } from '../analysis/shapes/types.js';
import type { DifferentiableModel } from '../differentiable/model.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { BackendChoice } from '../mirror/backend.js';
import { Mirror, type MirrorOptions } from '../mirror/mirror.js';

export type EngineChoice = 'auto' | 'tfjs' | 'ort';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'tfjs', 'ort'];

export interface EngineOptions {
  model: Model;
  /** Which engine (default `auto`: tfjs today). */
  engine?: EngineChoice;
  /** Trainable parameter selectors (names, globs, `stage:<name>`, `robust-block`, `all`); default: none. */
  trainable?: readonly string[];
  /** Input shapes for `stage:` selectors on models with dynamic inputs. */
  inputShapes?: Record<string, Dim[]>;
  /** The tfjs backend (tfjs engine only; default `auto`). */
  backend?: BackendChoice;
  /** The ONNX Runtime execution provider (ort engine only). */
  ep?: 'cpu' | 'cuda';
}

/** Build the gradient engine for `model` with the trainable selection resolved (a selector matching nothing is an error). */
export async function createEngine(opts: EngineOptions): Promise<DifferentiableModel> {
  const engine = opts.engine ?? 'auto';
  if (!ENGINE_CHOICES.includes(engine)) {
    throw new UserError('engine-choice', `unknown engine '${String(engine)}' (choose ${ENGINE_CHOICES.join(', ')})`);
  }
  if (engine === 'ort') {
    throw new UserError('engine-unavailable', 'the ONNX Runtime gradient engine is not built yet; use the tfjs engine (engine tfjs or auto)');
  }
  // auto and tfjs: the TensorFlow.js mirror
  if (opts.ep !== undefined) {
    throw new UserError('engine-option', `an execution provider ('${opts.ep}') applies to the ONNX Runtime engine; the tfjs engine takes a backend`);
  }
  const mirrorOpts: MirrorOptions = { backend: opts.backend ?? 'auto' };
  if (opts.trainable) mirrorOpts.trainable = opts.trainable;
  if (opts.inputShapes) mirrorOpts.inputShapes = opts.inputShapes;
  return Mirror.create(opts.model, mirrorOpts);
}
