/**
 * Splice a RobustBlock into a model on a chosen stage's output edge (or any edge): every reader
 * of the edge reads the block's output instead. The block is built for the [C,H,W] at the edge
 * for the model's (or the given) input size; if the model input is dynamic, `inputShapes` makes
 * it static and is recorded in the file's input shape. Downstream ops that depend on the spatial
 * size (a Flatten into a fixed-size Gemm, ...) are found by re-inferring shapes and running the
 * result, and the splice is refused with the node named.
 */
import { computeStages, findStage } from '../analysis/stages.js';
import { inferShapes } from '../analysis/shapes/infer.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { addInverseRegions } from '../ir/inverse-regions.js';
import { formatBytes, maxMemoryBytes, MAX_MEMORY_FLAG } from '../runtime/memory-limit.js';
import { buildRobustBlock } from './robust-block/build.js';
import { shapeCheckModel } from './splice-check.js';
import { sessionMemory, type SessionMemory } from './session-memory.js';
import { resolveBlockOptions, type RobustBlockOptions } from './robust-block/options.js';

export interface SpliceOptions extends Partial<RobustBlockOptions> {
  /** Stage index or name (see `stages`). */
  stage?: string;
  /** Tensor name of the edge. */
  edge?: string;
  inputShapes?: Record<string, Dim[]>;
  compat?: 'paper-code';
}

export interface SpliceReport {
  schema: 'iqa-surgeon/splice@1';
  edge: string;
  stage: string | null;
  inShape: number[];
  outShape: number[];
  options: RobustBlockOptions;
  nodes: { name: string; opType: string }[];
  parameters: { name: string; shape: number[] }[];
  output: string;
  alpha?: number;
  wfNorm?: number;
  /** Graph inputs whose shape was made static. */
  fixedInputs: Record<string, number[]>;
  /** Static estimate of an ONNX Runtime session on the result (issue 11, defect 8). */
  sessionMemory?: SessionMemory;
  /** Set when the post-splice check skipped ONNX Runtime (the session's estimate is over --max-memory). */
  runtimeCheckSkipped?: string;
}

export const SPLICE_METADATA_KEY = 'iqa-surgeon.robust_block';

function fixInputShapes(model: Model, shapes: Record<string, Dim[]>): Record<string, number[]> {
  const fixed: Record<string, number[]> = {};
  for (const [name, dims] of Object.entries(shapes)) {
    if (!dims.every((d) => typeof d === 'number')) continue;
    const v = model.graph.value(name);
    const tt = v.info?.type?.tensor_type;
    if (!tt) continue;
    const before = v.declaredShape ?? [];
    if (before.length === dims.length && before.every((d, i) => d === dims[i])) continue;
    tt.shape = { dim: (dims as number[]).map((d) => ({ dim_value: d })) };
    fixed[name] = dims as number[];
  }
  return fixed;
}

export async function spliceRobustBlock(model: Model, opts: SpliceOptions): Promise<SpliceReport> {
  if ((opts.stage === undefined) === (opts.edge === undefined)) throw new UserError('usage', 'give exactly one of --stage or --edge');
  const o = resolveBlockOptions(opts);
  const graph = model.graph;
  const opset = model.opsetVersion('') ?? 1;
  if (opset < 9) throw new UserError('opset-too-old', `the model imports opset ${opset}; the RobustBlock needs opset 9 or later`);

  let edgeName: string;
  let stageName: string | null = null;
  if (opts.stage !== undefined) {
    const map = await computeStages(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {});
    const st = findStage(map, opts.stage);
    edgeName = st.edge;
    stageName = st.name;
  } else edgeName = opts.edge!;
  const edge = graph.lookup(edgeName);
  if (!edge) throw new UserError('no-such-value', `no tensor named '${edgeName}' in the model`);
  if (edge.isInitializer) throw new UserError('bad-edge', `'${edgeName}' is a constant (initializer), not an activation edge`);

  const shapes = await inferShapes(model, opts.inputShapes ? { inputShapes: opts.inputShapes } : {});
  const shape = shapes.get(edge)?.shape;
  if (!shape || shape.length !== 4) {
    throw new UserError('bad-edge', `edge '${edgeName}' has shape ${shape ? `[${shape.join(',')}]` : 'unknown'}; the RobustBlock needs an [N,C,H,W] tensor`);
  }
  const [, c, h, w] = shape;
  if (typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
    throw new UserError(
      'dynamic-size',
      `the size at edge '${edgeName}' is [${shape.slice(1).join(',')}], not fixed: give --input-shape N,C,H,W so the block can be built for one input size`,
    );
  }
  const fixedInputs = opts.inputShapes ? fixInputShapes(model, opts.inputShapes) : {};
  if (o.orth === 'cayley' && o.form === 'parametric' && o.inverse === 'com.microsoft' && model.opsetVersion('com.microsoft') === undefined) {
    (model.proto.opset_import ??= []).push({ domain: 'com.microsoft', version: 1 });
  }

  let built: ReturnType<typeof buildRobustBlock> | undefined;
  graph.insertOnEdge(edge, (x) => {
    built = buildRobustBlock(graph, x, { c, h, w }, o, opset);
    return built.output;
  });
  const b = built!;
  graph.toposort();

  // What a session on the result needs; the post-check below runs ONNX Runtime only under --max-memory.
  const memory = sessionMemory(model, opts.inputShapes);
  const limit = maxMemoryBytes();
  // Downstream ops that depend on the spatial size fail here (static rules or an ORT run); a
  // trainable Cayley block is replaced by a same-shape stand-in for the run (splice-check.ts).
  const changesSize = b.outShape[1] !== h || b.outShape[2] !== w;
  const check = changesSize && b.shapeStandIn ? shapeCheckModel(model, b.shapeStandIn, opset, o.prefix) : model;
  const checkBytes = check === model ? memory.bytes : sessionMemory(check, opts.inputShapes).bytes;
  const skipped = checkBytes > limit ? `its static memory estimate of ${formatBytes(checkBytes)} is over the limit of ${formatBytes(limit)} (${MAX_MEMORY_FLAG})` : undefined;
  if (changesSize) {
    try {
      await inferShapes(check, { ...(opts.inputShapes ? { inputShapes: opts.inputShapes } : {}), ...(skipped ? { probe: false } : {}) });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new UserError(
        'splice-size-dependent',
        `the block changes [${c},${h},${w}] at '${edgeName}' to [${b.outShape.join(',')}], and a downstream op depends on the spatial size: ${msg}`,
      );
    }
  }

  const report: SpliceReport = {
    schema: 'iqa-surgeon/splice@1',
    edge: edgeName,
    stage: stageName,
    inShape: [c, h, w],
    outShape: b.outShape,
    options: o,
    nodes: b.nodes.map((n) => ({ name: n.name, opType: n.opType })),
    parameters: b.initializers.map((v) => ({ name: v.name, shape: (v.initializer!.dims ?? []).map(Number) })),
    output: b.output.name,
    fixedInputs,
  };
  if (b.alpha !== undefined) report.alpha = b.alpha;
  if (b.wfNorm !== undefined) report.wfNorm = b.wfNorm;
  report.sessionMemory = memory;
  if (skipped && (b.outShape[1] !== h || b.outShape[2] !== w)) report.runtimeCheckSkipped = `skipped the ONNX Runtime check of the result: ${skipped}`;
  const prev = model.metadata().get(SPLICE_METADATA_KEY);
  const entry: Record<string, unknown> = { edge: edgeName, stage: stageName, inShape: report.inShape, outShape: report.outShape, options: o };
  entry.form = o.orth === 'aol' ? 'parametric' : o.form;
  entry.fold = b.foldable.map((v) => v.name);
  entry.parameters = b.initializers.filter((v) => /\.(weight|bias|alpha)$/.test(v.name)).map((v) => v.name);
  if (b.parametric) {
    entry.nsIterations = b.parametric.iterations;
    entry.cayley = { cout: c, cin: b.cmid, k: o.orthKernel, n: b.n, weight: b.parametric.weight.name, alpha: b.parametric.alpha.name };
  }
  if (b.params) {
    entry.cayleyParams = {
      alpha: b.params.alpha,
      wfNorm: b.wfNorm,
      weightShape: b.params.shape,
      weightFloat32Base64: Buffer.from(b.params.weight.buffer, b.params.weight.byteOffset, b.params.weight.byteLength).toString('base64'),
    };
  }
  model.setMetadata(SPLICE_METADATA_KEY, JSON.stringify(prev ? [...(JSON.parse(prev) as unknown[]), entry] : [entry]));
  if (b.inverseRegion) addInverseRegions(model, [b.inverseRegion]);
  return report;
}
