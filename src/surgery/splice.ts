/**
 * Splice a RobustBlock into a model on a chosen stage's output edge (or any edge), or one block
 * on each of several edges at once (`spliceRobustBlocks`, each block with its own prefix, seed,
 * parameters and metadata entry): every reader of an edge reads its block's output instead. A
 * block is built for the [C,H,W] at its edge for the model's (or the given) input size; if the
 * model input is dynamic, `inputShapes` makes it static and is recorded in the file's input shape.
 * Downstream ops that depend on the spatial size (a Flatten into a fixed-size Gemm, a join of two
 * branches, ...) are found by re-inferring shapes and running the result, and the splice is
 * refused with the node (and, for a join, the sibling branch's edge) named. Ops whose input domain
 * the replaced features respected (a Sqrt of ReLU features, ...) are found by a sign analysis, and
 * the splice is refused unless `postActivation` says what to do (issue 12, item 4).
 */
import { domainChecks, valueSigns } from '../analysis/sign-domain.js';
import { computeStages, findStage, type StageMap } from '../analysis/stages.js';
import { resolvePosition } from '../analysis/stage-position.js';
import { inferShapes, type ShapeMap } from '../analysis/shapes/infer.js';
import type { Dim } from '../analysis/shapes/types.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { addInverseRegions } from '../ir/inverse-regions.js';
import type { Value } from '../ir/value.js';
import { formatBytes, maxMemoryBytes, MAX_MEMORY_FLAG } from '../runtime/memory-limit.js';
import { buildRobustBlock } from './robust-block/build.js';
import { shapeCheckModel } from './splice-check.js';
import { sessionMemory, type SessionMemory } from './session-memory.js';
import { resolveBlockOptions, type RobustBlockOptions } from './robust-block/options.js';
import { findBrokenJoin, namedNode, type ResizedBlock } from './splice-joins.js';

export interface SpliceOptions extends Partial<RobustBlockOptions> {
  /** Stage index or name (see `stages`). */
  stage?: string;
  /** Tensor name of the edge. */
  edge?: string;
  /** A position inside a stage (with `stage`, or alone for a module name): see resolvePosition. */
  before?: string;
  after?: string;
  inputShapes?: Record<string, Dim[]>;
  compat?: 'paper-code';
  /**
   * After the block: `relu` appends a Relu (restoring the sign domain of replaced ReLU features);
   * `none` accepts a signed output where later ops needed a sign (Sqrt, Log, ...). Without it,
   * such a splice is refused, naming the op.
   */
  postActivation?: 'relu' | 'none';
}

/** One place to splice a block (`spliceRobustBlocks`): a stage or an edge, with its own prefix and seed if given. */
export interface SpliceSite {
  stage?: string;
  edge?: string;
  /** A position inside the stage (or, alone, a module name): `conv<k>`, a conv node or a module (see resolvePosition). */
  before?: string;
  after?: string;
  /** Default: the options' prefix (default `robust_block`) with `_<k>` (k = 1, 2, ...) when there are several sites. */
  prefix?: string;
  /** Default: the options' seed (default 0) plus the site's index. */
  seed?: number;
}

export interface SpliceReport {
  schema: 'iqa-surgeon/splice@1';
  edge: string;
  stage: string | null;
  /** The named position inside the stage (`before conv3 /features1/features1.28/Conv`), when --before/--after chose it. */
  position?: string;
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
  /** What follows the block (`relu`, or `none` when the risk was accepted); absent when nothing was asked. */
  postActivation?: 'relu' | 'none';
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

/** Splice one block on `opts.stage` or `opts.edge`. */
export async function spliceRobustBlock(model: Model, opts: SpliceOptions): Promise<SpliceReport> {
  const site: SpliceSite = {};
  for (const k of ['stage', 'edge', 'before', 'after'] as const) if (opts[k] !== undefined) site[k] = opts[k];
  checkSite(site);
  return (await spliceRobustBlocks(model, [site], opts))[0]!;
}

/** A site is an edge, or a stage, optionally with a position inside it (or a position alone, a module name). */
function checkSite(s: SpliceSite): void {
  const positional = s.before !== undefined || s.after !== undefined;
  if (s.edge !== undefined ? s.stage !== undefined || positional : s.stage === undefined && !positional) {
    throw new UserError('usage', 'give exactly one of --stage (optionally with --before/--after) or --edge');
  }
}

const formatDims = (d: readonly (Dim | undefined)[]): string => `[${d.join(',')}]`;

/**
 * Splice one block on each site, in one edit (the size and domain checks see all blocks at once,
 * so two branches of a join can be spliced together). `opts.stage` / `opts.edge` are ignored.
 */
export async function spliceRobustBlocks(model: Model, sites: readonly SpliceSite[], opts: SpliceOptions = {}): Promise<SpliceReport[]> {
  if (sites.length === 0) throw new UserError('usage', 'give at least one --stage or --edge');
  for (const s of sites) checkSite(s);
  if (opts.postActivation !== undefined && !['relu', 'none'].includes(opts.postActivation)) throw new UserError('usage', `post-activation '${String(opts.postActivation)}' must be relu or none`);
  const { stage: _stage, edge: _edge, before: _before, after: _after, postActivation, ...blockOpts } = opts;
  const base = resolveBlockOptions(blockOpts);
  const graph = model.graph;
  const opset = model.opsetVersion('') ?? 1;
  if (opset < 9) throw new UserError('opset-too-old', `the model imports opset ${opset}; the RobustBlock needs opset 9 or later`);
  const shapeOpts = opts.inputShapes ? { inputShapes: opts.inputShapes } : {};

  // resolve every site before editing anything
  let map: StageMap | undefined;
  let fullMap: StageMap | undefined;
  const shapes = await inferShapes(model, shapeOpts);
  const resolved: { edge: Value; stage: string | null; position?: string; c: number; h: number; w: number; o: RobustBlockOptions }[] = [];
  for (const [k, site] of sites.entries()) {
    let edgeName: string;
    let stageName: string | null = null;
    let position: string | undefined;
    if (site.before !== undefined || site.after !== undefined) {
      fullMap ??= await computeStages(model, { ...shapeOpts, allEdges: true });
      const p = resolvePosition(fullMap, site.stage, { ...(site.before !== undefined ? { before: site.before } : {}), ...(site.after !== undefined ? { after: site.after } : {}) });
      edgeName = p.edge;
      stageName = p.stage.name;
      position = p.description;
    } else if (site.stage !== undefined) {
      map ??= await computeStages(model, shapeOpts);
      const st = findStage(map, site.stage);
      edgeName = st.edge;
      stageName = st.name;
    } else edgeName = site.edge!;
    const edge = graph.lookup(edgeName);
    if (!edge) throw new UserError('no-such-value', `no tensor named '${edgeName}' in the model`);
    if (edge.isInitializer) throw new UserError('bad-edge', `'${edgeName}' is a constant (initializer), not an activation edge`);
    if (resolved.some((r) => r.edge === edge)) throw new UserError('usage', `edge '${edgeName}' is given twice: splice each edge once`);
    const shape = shapes.get(edge)?.shape;
    if (!shape || shape.length !== 4) {
      throw new UserError('bad-edge', `edge '${edgeName}' has shape ${shape ? formatDims(shape) : 'unknown'}; the RobustBlock needs an [N,C,H,W] tensor`);
    }
    const [, c, h, w] = shape;
    if (typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
      throw new UserError(
        'dynamic-size',
        `the size at edge '${edgeName}' is ${formatDims(shape.slice(1))}, not fixed: give --input-shape N,C,H,W so the block can be built for one input size`,
      );
    }
    const several = sites.length > 1;
    const prefix = site.prefix ?? (several ? `${base.prefix}_${k + 1}` : base.prefix);
    const seed = site.seed ?? (several ? base.seed + k : base.seed);
    if (resolved.some((r) => r.o.prefix === prefix)) throw new UserError('usage', `two blocks would share the name prefix '${prefix}': give each its own`);
    const o = resolveBlockOptions({ ...blockOpts, prefix, seed });
    resolved.push({ edge, stage: stageName, ...(position !== undefined ? { position } : {}), c, h, w, o });
  }
  const fixedInputs = opts.inputShapes ? fixInputShapes(model, opts.inputShapes) : {};
  if (resolved.some(({ o }) => o.orth === 'cayley' && o.form === 'parametric' && o.inverse === 'com.microsoft') && model.opsetVersion('com.microsoft') === undefined) {
    (model.proto.opset_import ??= []).push({ domain: 'com.microsoft', version: 1 });
  }
  // the input domains the original features respected (before any edit)
  const heldBefore = new Set(
    domainChecks(model)
      .filter((d) => d.held)
      .map((d) => d.node),
  );
  const edgeSigns = valueSigns(model);

  // What a session on the result needs; the post-check below runs ONNX Runtime only under --max-memory.
  // The ORT run checks a copy in which each trainable Cayley block is a same-shape stand-in
  // (splice-check.ts): the shapes are the same, without computing Q at full cost.
  const checkModel = (): Model =>
    blocks.reduce((m, blk, i) => (blk?.built.shapeStandIn ? shapeCheckModel(m, blk.built.shapeStandIn, opset, resolved[i]!.o.prefix) : m), model);
  const memory = (): { estimate: SessionMemory; skipped: string | undefined } => {
    const estimate = sessionMemory(model, opts.inputShapes);
    const check = checkModel();
    const checkBytes = check === model ? estimate.bytes : sessionMemory(check, opts.inputShapes).bytes;
    const limit = maxMemoryBytes();
    return { estimate, skipped: checkBytes > limit ? `its static memory estimate of ${formatBytes(checkBytes)} is over the limit of ${formatBytes(limit)} (${MAX_MEMORY_FLAG})` : undefined };
  };
  const blocks: { built: ReturnType<typeof buildRobustBlock>; output: Value }[] = [];
  const resized: ResizedBlock[] = [];
  // Downstream ops that depend on the spatial size fail here (static rules or an ORT run), named.
  const reinfer = async (probe: boolean): Promise<ShapeMap> => {
    graph.toposort();
    try {
      return await inferShapes(probe ? checkModel() : model, { ...shapeOpts, ...(probe ? {} : { probe: false }) });
    } catch (e) {
      throw sizeError(e, graph, resized, shapes, resolved, blocks, map);
    }
  };
  // in graph order, so that a block after a resizing one is built for the size it will see
  const position = new Map(graph.nodes.map((n, i) => [n, i]));
  const order = [...resolved.keys()].sort((i, j) => (position.get(resolved[i]!.edge.producer()!) ?? -1) - (position.get(resolved[j]!.edge.producer()!) ?? -1));
  for (const i of order) {
    const r = resolved[i]!;
    if (resized.length > 0 && reaches(graph, resized.map((x) => x.output), r.edge)) {
      // static rules first: the probe would run the blocks already spliced (at full cost in their trainable form)
      const ruled = await reinfer(false);
      const now = (ruled.isComplete(r.edge) ? ruled : await reinfer(!memory().skipped)).get(r.edge)?.shape ?? [];
      const chw = now.slice(1);
      if (chw.length !== 3 || !chw.every((d) => typeof d === 'number')) {
        throw new UserError('dynamic-size', `the size at edge '${r.edge.name}' after the block(s) upstream of it is ${formatDims(chw)}, not known: splice it in a separate command`);
      }
      [r.c, r.h, r.w] = chw as [number, number, number];
    }
    let built: ReturnType<typeof buildRobustBlock> | undefined;
    const output = graph.insertOnEdge(r.edge, (x) => {
      built = buildRobustBlock(graph, x, { c: r.c, h: r.h, w: r.w }, r.o, opset);
      if (postActivation !== 'relu') return built.output;
      const relu = graph.addNode({ opType: 'Relu', inputs: [built.output], name: `${r.o.prefix}/post_relu`, outputs: [`${r.o.prefix}/post_relu_out`] });
      return relu.output(0)!;
    });
    blocks[i] = { built: built!, output };
    if (built!.outShape[1] !== r.h || built!.outShape[2] !== r.w) {
      const before = shapes.get(r.edge)!.shape!;
      resized.push({ output, edge: r.edge, size: [before[2] as number, before[3] as number] });
    }
  }
  graph.toposort();
  const { estimate, skipped } = memory();
  if (resized.length > 0) await reinfer(!skipped);

  // ops whose input domain the replaced features respected
  if (postActivation === undefined) {
    const broken = domainChecks(model).filter((d) => !d.held && heldBefore.has(d.node));
    if (broken.length > 0) {
      const d = broken[0]!;
      const signed = resolved.filter((r) => edgeSigns.get(r.edge) !== 'any').map((r) => `'${r.edge.name}'`);
      throw new UserError(
        'splice-domain',
        `node '${d.node.name || d.node.opType}' (${d.node.opType}) needs input ${d.input} ${d.needs}, which held with the original features${signed.length > 0 ? ` at ${signed.join(', ')} (never negative)` : ''} but not with the block's signed output${broken.length > 1 ? ` (${broken.length - 1} more such node${broken.length > 2 ? 's' : ''})` : ''}: give --post-activation relu (a Relu after the block restores their sign) or --post-activation none (accept NaN/Inf outputs)`,
      );
    }
  }

  const prev = model.metadata().get(SPLICE_METADATA_KEY);
  const entries: Record<string, unknown>[] = [];
  const reports = blocks.map(({ built: b, output }, i): SpliceReport => {
    const { edge, stage, position, c, h, w, o } = resolved[i]!;
    const report: SpliceReport = {
      schema: 'iqa-surgeon/splice@1',
      edge: edge.name,
      stage,
      ...(position !== undefined ? { position } : {}),
      inShape: [c, h, w],
      outShape: b.outShape,
      options: o,
      nodes: [...b.nodes, ...(output !== b.output ? [output.producer()!] : [])].map((n) => ({ name: n.name, opType: n.opType })),
      parameters: b.initializers.map((v) => ({ name: v.name, shape: (v.initializer!.dims ?? []).map(Number) })),
      output: output.name,
      fixedInputs,
    };
    if (b.alpha !== undefined) report.alpha = b.alpha;
    if (b.wfNorm !== undefined) report.wfNorm = b.wfNorm;
    if (postActivation) report.postActivation = postActivation;
    report.sessionMemory = estimate;
    if (skipped && (b.outShape[1] !== h || b.outShape[2] !== w)) report.runtimeCheckSkipped = `skipped the ONNX Runtime check of the result: ${skipped}`;
    const entry: Record<string, unknown> = { edge: edge.name, stage, inShape: report.inShape, outShape: report.outShape, options: o };
    entry.form = o.orth === 'aol' ? 'parametric' : o.form;
    entry.postActivation = postActivation ?? null;
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
    entries.push(entry);
    return report;
  });
  model.setMetadata(SPLICE_METADATA_KEY, JSON.stringify(prev ? [...(JSON.parse(prev) as unknown[]), ...entries] : entries));
  const regions = blocks.flatMap(({ built }) => (built.inverseRegion ? [built.inverseRegion] : []));
  if (regions.length > 0) addInverseRegions(model, regions);
  return reports;
}

/** Whether `target` is computed from any of `from`. */
function reaches(graph: Model['graph'], from: readonly Value[], target: Value): boolean {
  const seen = new Set<Value>(from);
  for (const n of graph.nodes) if (n.inputs.some((v) => v && seen.has(v))) for (const o of n.outputs) if (o) seen.add(o);
  return seen.has(target);
}

/** The one-line error of a splice that a downstream op's spatial size (or a join of branches) does not allow. */
function sizeError(
  e: unknown,
  graph: Model['graph'],
  resized: readonly ResizedBlock[],
  shapes: ShapeMap,
  resolved: readonly { edge: Value; c: number; h: number; w: number }[],
  blocks: readonly ({ built: { outShape: number[] } } | undefined)[],
  map: StageMap | undefined,
): Error {
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
  // ONNX Runtime's messages run long: the node, the ways out and the start of the reason are what matter
  const msg = (first.length > 120 ? `${first.slice(0, 120)}...` : first).replace(/'/g, '"');
  const join = findBrokenJoin(graph, resized, shapes, namedNode(graph, first));
  const block = join?.block ?? resized[resized.length - 1]!;
  const i = resolved.findIndex((x) => x.edge === block.edge);
  const r = resolved[i]!;
  const change = `the block changes [${r.c},${r.h},${r.w}] at '${r.edge.name}' to [${blocks[i]!.built.outShape.join(',')}]`;
  if (join) {
    const sib = join.siblingEdge ? ` (--edge '${join.siblingEdge.name}'${stageOf(map, join.siblingEdge.name)})` : ` (the branch of '${join.sibling.name}')`;
    return new UserError(
      'splice-breaks-join',
      `${change}, but join node '${join.node.name || join.node.opType}' (${join.node.opType}) also reads '${join.sibling.name}' from another branch that keeps its size: splice the sibling branch too${sib} in the same command, or keep the size with --restore-size (${msg})`,
    );
  }
  return new UserError('splice-size-dependent', `${change}, and a downstream op depends on the spatial size (keep the size with --restore-size): ${msg}`);
}

/** `, stage <name>` when the value is a stage's edge in the map. */
function stageOf(map: StageMap | undefined, edge: string): string {
  const st = map?.stages.find((s) => s.edge === edge);
  return st ? `, stage ${st.name}` : '';
}
