/**
 * The one place that constructs a gradient engine: fine-tuning and attacks ask for a
 * `DifferentiableModel` here and never build an engine themselves.
 *
 * Engines: `ort` (ONNX Runtime running gradient graphs, src/engines/ort-engine.ts; `ep` chooses
 * its execution provider, CUDA falling back to the CPU with the runtime's one-line notice), `tfjs`
 * (the TensorFlow.js mirror, src/mirror/), `auto` (the default: ort where the model is
 * differentiable by the gradient rules, else tfjs, with the reason as a one-line runtime notice
 * that the CLI prints). Asking for `ort` on a model with an op that has no gradient rule is a
 * UserError naming the op and its node, before anything runs. Importing this module does not load
 * TensorFlow.js: the mirror loads its tfjs package only when an engine is built
 * (src/mirror/backend.ts; tested in test/engines/factory.test.ts). The mirror module itself is
 * imported statically: a dynamic import would, under the tests' CommonJS loading of TypeScript,
 * create a second copy of every src module it reaches (a second UserError class, a second backend
 * state). The engine and provider or backend in use are on the result: `engine` and `describe()`.
 */
import type { Dim } from '../analysis/shapes/types.js';
import type { DifferentiableModel } from '../differentiable/model.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { BackendChoice } from '../mirror/backend.js';
import { Mirror, type MirrorOptions } from '../mirror/mirror.js';
import { checkDifferentiable } from '../autodiff/index.js';
import { selectTrainable } from '../differentiable/parameters.js';
import { notice, type OptimizationLevel } from '../runtime/index.js';
import { fullRequest, OrtEngine, type OrtEngineOptions } from './ort-engine.js';

export type EngineChoice = 'auto' | 'tfjs' | 'ort';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'tfjs', 'ort'];

export interface EngineOptions {
  model: Model;
  /** Which engine (default `auto`: ort where the model is differentiable by the gradient rules, else tfjs). */
  engine?: EngineChoice;
  /** Trainable parameter selectors (names, globs, `stage:<name>`, `robust-block`, `all`); default: none. */
  trainable?: readonly string[];
  /** Input shapes for `stage:` selectors on models with dynamic inputs. */
  inputShapes?: Record<string, Dim[]>;
  /** The tfjs backend (tfjs engine only; default `auto`). */
  backend?: BackendChoice;
  /** The ONNX Runtime execution provider (ort engine only; default cpu). */
  ep?: 'cpu' | 'cuda';
  /** Intra-op threads of the ort engine (default: ONNX Runtime's). */
  threads?: number;
  /** Graph optimisations of the ort engine's sessions (default `all`). */
  optimization?: OptimizationLevel;
  /** Whether the ort engine's intra-op threads spin between operators (default off; on for a loop of gradient steps with nothing else running, e.g. `attack`). */
  spinning?: boolean;
  /** The ort engine's `stageSumMaxBytes`: the largest weight stage it differentiates once for all micro-batches (default 1/16 of memory). */
  stageSumMaxBytes?: number;
}

/**
 * Which engine `auto` picks for `model` with the trainable `selectors`: ort, or tfjs with the
 * reason (the gradient rules' one-line UserError naming the op and node).
 */
export async function autoChoice(model: Model, selectors: readonly string[] = [], inputShapes?: Record<string, Dim[]>): Promise<{ engine: 'ort' | 'tfjs'; reason?: string }> {
  const trainable = selectors.length ? await selectTrainable(model, selectors, inputShapes) : [];
  try {
    checkDifferentiable(model, fullRequest(model, trainable));
    return { engine: 'ort' };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { engine: 'tfjs', reason: e.message };
  }
}

/** Build the gradient engine for `model` with the trainable selection resolved (a selector matching nothing is an error). */
export async function createEngine(opts: EngineOptions): Promise<DifferentiableModel> {
  const engine = opts.engine ?? 'auto';
  if (!ENGINE_CHOICES.includes(engine)) {
    throw new UserError('engine-choice', `unknown engine '${String(engine)}' (choose ${ENGINE_CHOICES.join(', ')})`);
  }
  let useOrt = engine === 'ort';
  if (engine === 'auto') {
    const choice = await autoChoice(opts.model, opts.trainable ?? [], opts.inputShapes);
    useOrt = choice.engine === 'ort';
    if (!useOrt) notice({ kind: 'fallback', line: `engine auto: the TensorFlow.js mirror computes the gradients, since the ONNX Runtime engine cannot differentiate this model: ${choice.reason}` });
  }
  if (useOrt) {
    const o: OrtEngineOptions = {};
    if (opts.trainable) o.trainable = opts.trainable;
    if (opts.inputShapes) o.inputShapes = opts.inputShapes;
    if (opts.ep) o.ep = opts.ep;
    if (opts.threads !== undefined) o.threads = opts.threads;
    if (opts.optimization) o.optimization = opts.optimization;
    if (opts.spinning !== undefined) o.spinning = opts.spinning;
    if (opts.stageSumMaxBytes !== undefined) o.stageSumMaxBytes = opts.stageSumMaxBytes;
    return OrtEngine.create(opts.model, o);
  }
  // tfjs, or auto on a model the gradient rules cannot differentiate: the TensorFlow.js mirror
  if (opts.ep !== undefined && engine === 'tfjs') {
    throw new UserError('engine-option', `an execution provider ('${opts.ep}') applies to the ONNX Runtime engine; the tfjs engine takes a backend`);
  }
  const mirrorOpts: MirrorOptions = { backend: opts.backend ?? 'auto' };
  if (opts.trainable) mirrorOpts.trainable = opts.trainable;
  if (opts.inputShapes) mirrorOpts.inputShapes = opts.inputShapes;
  return Mirror.create(opts.model, mirrorOpts);
}
