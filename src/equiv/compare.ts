/**
 * The equivalence check: structural (graph isomorphism, `structural.ts`) or numeric (both models
 * run by ONNX Runtime on the same seeded inputs, every graph output compared, `numeric.ts`, and
 * optionally every common intermediate value, `per-layer.ts`). With one model, the numeric check
 * runs it twice in two sessions and compares the runs (a determinism check). An output with NaN or
 * Inf values fails the check, even when both runs give the same NaN.
 */
import type { Dim } from '../analysis/shapes/types.js';
import { UsageError } from '../errors.js';
import { Model } from '../ir/model.js';
import { dataTypeName } from '../onnx/data-types.js';
import { compareTensors, DEFAULT_TOLERANCES, type TensorComparison } from './numeric.js';
import { comparePerLayer } from './per-layer.js';
import type { EquivReport } from './report.js';
import { inputSpecs, runModel, seededFeeds, type RunValue } from './runner.js';
import { compareStructure, fmt } from './structural.js';
import type { BackendChoice } from '../mirror/backend.js';
import { runMirror } from './mirror-runner.js';
import { assertSupported } from '../mirror/support.js';
import { imageFeeds } from './image-inputs.js';

export interface EquivOptions {
  /** Absolute tolerance (numeric; default 1e-4). In structural mode, the tolerance on weights (default 0: byte-equal). */
  atol?: number;
  /** Relative tolerance (numeric; default 1e-3). */
  rtol?: number;
  /** Compare structure instead of running the models. */
  structural?: boolean;
  /** Also compare every intermediate value with the same name in both models. */
  perLayer?: boolean;
  /** Seed of the random inputs (default 0). */
  seed?: number;
  /** Real images instead of random inputs: a folder or dataset spec (`folder:`, `csv:`, `koniq:`). */
  images?: string;
  /** At most this many images (default 8; a fixed batch dim decides otherwise). */
  maxImages?: number;
  /** Dims for graph inputs (symbolic dims default to 1). */
  inputShapes?: Record<string, Dim[]>;
  /**
   * Compare ONNX Runtime with the TensorFlow.js mirror of the same model (only one model may be
   * given); `true` picks the backend automatically.
   */
  mirror?: boolean | BackendChoice;
  /** How the report names the models (default: the file paths). */
  names?: { a?: string; b?: string };
}

export type ModelRef = string | Model;

function load(ref: ModelRef): Model {
  return typeof ref === 'string' ? Model.load(ref) : ref;
}

function nameOf(ref: ModelRef, m: Model, fallback: string): string {
  return typeof ref === 'string' ? ref : (m.path ?? fallback);
}

function checkTolerance(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new UsageError(`${name} ${v} must be a finite number >= 0`);
}

const asTensor = (v: RunValue | undefined): { dims: number[]; data: Float64Array } | undefined => (v && v.data ? { dims: v.dims, data: v.data } : undefined);

function nonFinite(v: RunValue | undefined): number {
  let k = 0;
  if (v?.data) for (const x of v.data) if (!Number.isFinite(x)) k++;
  return k;
}

/**
 * A model output with NaN or Inf values is a failure even where both sides agree on it (a NaN score
 * is never a result): the comparison fails with the count named.
 */
function failNonFinite(c: TensorComparison, a: RunValue | undefined, b: RunValue | undefined): TensorComparison {
  if (c.problem) return c;
  const [na, nb] = [nonFinite(a), nonFinite(b)];
  if (na === 0 && nb === 0) return c;
  const side = na > 0 && nb > 0 ? `${na} NaN/Inf values in A and ${nb} in B` : na > 0 ? `${na} NaN/Inf values in A` : `${nb} NaN/Inf values in B`;
  return { ...c, pass: false, failing: Math.max(c.failing, na, nb), problem: `has ${side} of ${c.elements} (a NaN or Inf output is a failure, not a number)` };
}

/** Compare two models (or one model with itself run twice); never throws for "not equivalent". */
export async function compareModels(aRef: ModelRef, bRef?: ModelRef, opts: EquivOptions = {}): Promise<EquivReport> {
  checkTolerance('atol', opts.atol);
  checkTolerance('rtol', opts.rtol);
  if (opts.seed !== undefined && !(Number.isSafeInteger(opts.seed) && opts.seed >= 0)) throw new UsageError(`the input seed ${opts.seed} must be a non-negative integer`);
  const a = load(aRef);
  if (opts.mirror) {
    if (bRef !== undefined) throw new UsageError('--mirror compares one model in ONNX Runtime with its TensorFlow.js mirror: give one model, not two');
    if (opts.structural) throw new UsageError('--mirror runs the model; it cannot be combined with --structural');
    // an op the mirror cannot run is reported before anything runs
    assertSupported(a);
  }
  const mirrorBackend: BackendChoice | undefined = opts.mirror ? (opts.mirror === true ? 'auto' : opts.mirror) : undefined;
  const determinism = bRef === undefined && !mirrorBackend;
  const b = bRef === undefined ? a : load(bRef);
  const aName = opts.names?.a ?? nameOf(aRef, a, '(model A)');
  const bName = mirrorBackend ? `${aName} (TensorFlow.js mirror)` : determinism ? `${aName} (second run)` : (opts.names?.b ?? nameOf(bRef!, b, '(model B)'));

  if (opts.structural) {
    if (determinism) throw new UsageError('a structural comparison needs two models (with one model, equiv runs it twice and compares the runs: leave out --structural)');
    if (opts.perLayer) throw new UsageError('--per-layer compares values computed by running the models; it cannot be combined with --structural');
    const weightAtol = opts.atol ?? 0;
    const st = compareStructure(a, b, { weightAtol });
    return {
      schema: 'iqa-surgeon/equiv@1',
      a: aName,
      b: bName,
      mode: 'structural',
      determinism: false,
      equivalent: st.equal,
      tolerances: { atol: weightAtol, rtol: 0 },
      runtime: null,
      inputs: null,
      structural: st,
      outputs: [],
      perLayer: null,
      summary: st.equal ? `EQUIVALENT: structurally equal (${st.nodes[0]} nodes)` : `NOT EQUIVALENT: ${st.difference!.message}`,
    };
  }

  const tol = { atol: opts.atol ?? DEFAULT_TOLERANCES.atol, rtol: opts.rtol ?? DEFAULT_TOLERANCES.rtol };
  const seed = opts.seed ?? 0;
  if (opts.images !== undefined && opts.seed !== undefined) throw new UsageError('give either a seed or images as inputs, not both');
  const specs = inputSpecs(a, determinism || mirrorBackend ? undefined : b, opts.inputShapes);
  const imgs = opts.images !== undefined ? await imageFeeds(a, opts.images, { ...(opts.maxImages !== undefined ? { maxImages: opts.maxImages } : {}), ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}) }) : undefined;
  if (imgs && specs[0]?.elemTypeB !== undefined) throw new UsageError('real images are fed as float32; the models take different float types: use a seed');
  const feeds = imgs ? imgs.feeds : seededFeeds(specs, seed, 'a');
  const feedsB = imgs ? imgs.feeds : seededFeeds(specs, seed, 'b');
  if (imgs) specs[0]!.dims = imgs.dims;
  const outNames = a.graph.outputs.map((v) => v.name);
  if (!determinism) {
    const namesB = b.graph.outputs.map((v) => v.name);
    const missing = outNames.filter((n) => !namesB.includes(n));
    if (missing.length === outNames.length && outNames.length > 0) {
      throw new UsageError(`the models have no output name in common (A: ${outNames.join(', ')}; B: ${namesB.join(', ')}); outputs are paired by name`);
    }
  }
  const ra = await runModel(a, feeds);
  let mirrorEngine: string | undefined;
  const runB = async (extra: readonly string[]): Promise<Map<string, RunValue>> => {
    if (!mirrorBackend) return runModel(b, feedsB, extra);
    const r = await runMirror(a, feeds, extra, mirrorBackend);
    mirrorEngine = r.engine;
    return r.values;
  };
  const rb = await runB([]);
  const outputs: TensorComparison[] = outNames.map((n) => failNonFinite(compareTensors(n, asTensor(ra.get(n)), asTensor(rb.get(n)), tol), ra.get(n), rb.get(n)));
  const perLayer = opts.perLayer ? await comparePerLayer(a, b, feeds, tol, mirrorBackend ? feeds : feedsB, runB) : null;
  const failed = outputs.filter((c) => !c.pass);
  const equivalent = failed.length === 0 && (!perLayer || perLayer.failing === 0);
  let summary: string;
  if (equivalent) {
    const worst = Math.max(0, ...outputs.map((c) => c.maxAbs));
    summary = `EQUIVALENT: ${outputs.length} output${outputs.length === 1 ? '' : 's'} within tolerance (max abs error ${fmt(worst)})${perLayer ? `, and ${perLayer.compared} intermediate values` : ''}`;
  } else if (failed.length > 0) {
    const c = failed[0]!;
    summary = `NOT EQUIVALENT: ${failed.length} of ${outputs.length} outputs outside tolerance; output '${c.name}' ${c.problem ?? `max abs ${fmt(c.maxAbs)}, max rel ${fmt(c.maxRel)}`}`;
  } else {
    summary = `NOT EQUIVALENT: outputs within tolerance but ${perLayer!.failing} intermediate values are not`;
  }
  if (perLayer?.firstDivergence) summary += `; first diverging node '${perLayer.firstDivergence.node}' (${perLayer.firstDivergence.opType})`;
  return {
    schema: 'iqa-surgeon/equiv@1',
    a: aName,
    b: bName,
    mode: 'numeric',
    determinism,
    equivalent,
    tolerances: tol,
    runtime: mirrorEngine ? `A: ONNX Runtime (CPU, graph optimizations disabled); B: ${mirrorEngine}` : 'ONNX Runtime (CPU, graph optimizations disabled)',
    inputs: { seed: imgs ? null : seed, ...(imgs ? { images: { source: imgs.source, files: imgs.files, size: imgs.preprocess.size } } : {}), tensors: specs.map((s) => ({ name: s.name, elemType: dataTypeName(s.elemType), ...(s.elemTypeB !== undefined ? { elemTypeB: dataTypeName(s.elemTypeB) } : {}), shape: s.dims })) },
    structural: null,
    outputs,
    perLayer,
    summary,
  };
}
