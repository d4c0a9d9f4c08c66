/**
 * The ONNX Runtime gradient engine: a `DifferentiableModel` whose gradients come from gradient
 * graphs (src/autodiff/: reverse-mode differentiation emitted as plain ONNX) run by ONNX Runtime
 * on the CPU or CUDA provider, through src/runtime/ only.
 *
 * Sessions: one per request shape (the differentiated inputs and parameters, the loss kind and
 * its outputs, and which parameters are fed), built on first use and reused; batch is a free
 * dimension where the model's batch dim is symbolic (a model with a fixed batch runs that batch
 * only, as its forward does: other batches are a UserError saying so). Only the parameters the engine holds on the host become graph
 * inputs: the trainable ones and any other one given to `setParameter` with new bits. Every other
 * initializer stays a constant ONNX Runtime prepacks, so attacks (input gradients, no trainable
 * parameters) run with every weight constant. `setParameter` replaces the host copy fed on the
 * next run (an optimizer step between runs rebuilds nothing); `writeBack` puts host copies into
 * the IR bit-exactly through `writeParameters`.
 */
import os from 'node:os';
import type { Dim } from '../analysis/shapes/types.js';
import { buildGradientGraph, checkDifferentiable, type GradientGraph, type GradientGraphRequest, type LossSpec } from '../autodiff/index.js';
import type { BuiltinLoss, DifferentiableModel, GradientRequest, GradientResult, HostTensor, MemoryStats } from '../differentiable/model.js';
import { elementCount } from '../differentiable/model.js';
import { notAParameter, parameterNames, selectTrainable } from '../differentiable/parameters.js';
import { writeParameters } from '../differentiable/write-back.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { DataType } from '../onnx/data-types.js';
import { tensorDims, tensorTypedData } from '../onnx/tensor-data.js';
import { openRunner, type ExecutionProvider, type OptimizationLevel, type Runner, type RuntimeTensor } from '../runtime/index.js';
import { hostToRuntime, runtimeToHost } from './host-tensors.js';
import { sessionModel } from './session-model.js';
import { gradientForm, type ChunkReport } from '../differentiable/gradient-form.js';
import { addGrads } from '../differentiable/grad-sum.js';
import { splitWeightStage, type WeightStage } from './weight-stage.js';

export interface OrtEngineOptions {
  /** Trainable parameter selectors (names, globs, `stage:<name>`, `robust-block`, `all`); default: none. */
  trainable?: readonly string[];
  /** Input shapes for `stage:` selectors on models with dynamic inputs. */
  inputShapes?: Record<string, Dim[]>;
  /** Execution provider (default cpu); cuda falls back to the CPU with the runtime's one-line notice. */
  ep?: ExecutionProvider;
  /** Intra-op threads (default: ONNX Runtime's, one per physical core). */
  threads?: number;
  /** ONNX Runtime graph optimisations of the engine's sessions (default `all`, ONNX Runtime's own default). */
  optimization?: OptimizationLevel;
  /** ONNX Runtime profiling of every session the engine opens (files `<prefix>_<date>.json`, written on dispose). */
  profilePrefix?: string;
  /**
   * ONNX Runtime's intra-op threads spin between operators (default off for the engine's sessions:
   * spinning threads hold the cores after a run, slowing whatever runs next on a loaded or small
   * machine, e.g. a forward interleaved with gradient steps; docs/AUTODIFF.md).
   */
  spinning?: boolean;
  /** When a parametric Cayley block is differentiated in recomputed frequency chunks (src/differentiable/gradient-form.ts; default: above 2 GiB whole, 512 MiB chunks). */
  cayleyChunks?: { aboveBytes?: number; chunkBytes?: number };
  /** ONNX Runtime's CPU memory arena (default on); off, each run's buffers go back to the system, so several engines in one process peak at the largest, not the sum. */
  memoryArena?: boolean;
  /**
   * Compute the weight stage (nodes that read fed parameters and no graph input: the RobustBlock's
   * Cayley) once per parameter update and feed its values to every call, and differentiate it
   * once per `sumParamGrads` (default on; src/engines/weight-stage.ts).
   */
  hoistWeights?: boolean;
  /**
   * `sumParamGrads` differentiates the stage once for all calls only when its boundary values
   * (e.g. Q) take at most this many bytes (default: 1/16 of the machine's memory); larger, each
   * call differentiates it as before. Summing holds the values, each call's gradient of them, its
   * copy out of ONNX Runtime and the running sum at once: at the paper's position (Q 2.3 GB) that
   * pushed a batch-32 step in calls of 8 past 20 GB on a 24 GB machine, where the per-call form
   * peaked at 12.9 GB.
   */
  stageSumMaxBytes?: number;
}

/** The request every engine call could make: all float inputs and the trainable parameters (checked before anything runs). */
export function fullRequest(model: Model, trainable: readonly string[]): GradientGraphRequest {
  const inits = new Set(model.graph.initializers().map((v) => v.name));
  const inputs = model.graph.inputs.filter((v) => !inits.has(v.name) && (v.elemType === undefined || v.elemType === DataType.FLOAT)).map((v) => v.name);
  const output = model.graph.outputs[0]?.name;
  if (output === undefined) throw new UserError('engine-model', 'the model has no graph outputs to differentiate');
  return { loss: { kind: 'mean', output }, inputs, params: [...trainable] };
}

interface GradSession {
  runner: Runner;
  graph: GradientGraph;
  /** Declared dims of the loss target input (for reshaping a target given with other dims). */
  targetDims?: readonly (number | string | undefined)[];
}

function isBuiltin(loss: BuiltinLoss | Record<string, HostTensor>): loss is BuiltinLoss {
  return typeof (loss as BuiltinLoss).kind === 'string';
}

/** `target` shaped like the target input `declared` (one free dim is solved from the element count). */
function fitTarget(target: HostTensor, declared: readonly (number | string | undefined)[] | undefined, what: string): HostTensor {
  if (!declared) return target;
  const n = elementCount(target.dims);
  const known = declared.filter((d): d is number => typeof d === 'number');
  const free = declared.length - known.length;
  const prod = known.reduce((a, b) => a * b, 1);
  if (free === 0) {
    if (prod !== n) throw new UserError('engine-shape', `the ${what} target has ${n} values, the output ${prod}`);
    return { dims: known, data: target.data };
  }
  if (free === 1 && prod > 0 && n % prod === 0) return { dims: declared.map((d) => (typeof d === 'number' ? d : n / prod)), data: target.data };
  if (target.dims.length === declared.length) return target;
  throw new UserError('engine-shape', `the ${what} target has dims [${target.dims.join(',')}], which do not fit the output [${declared.map((d) => d ?? '?').join(',')}]`);
}

/** Bytes of a weight stage's boundary values (float32). */
function stageBytes(stage: WeightStage): number {
  return stage.boundary.reduce((s, b) => s + 4 * b.dims.reduce((a, d) => a * d, 1), 0);
}

export class OrtEngine implements DifferentiableModel {
  readonly kind = 'ort';
  readonly model: Model;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly trainable: string[];
  private readonly params: ReadonlySet<string>;
  /** Host copies of the parameters the engine feeds (trainable, or set to new bits). */
  private readonly host = new Map<string, Float32Array>();
  private readonly inputTypes = new Map<string, number | undefined>();
  /** Declared dims of the graph inputs (numbers are fixed; a fixed batch runs that batch only). */
  private readonly inputDims = new Map<string, readonly (number | string | undefined)[] | undefined>();
  private readonly sessions = new Map<string, Promise<Runner | GradSession>>();
  private readonly opts: OrtEngineOptions;
  private provider: ExecutionProvider;
  private fallback = '';
  private disposed = false;
  /** The form gradient graphs are built from (large Cayley blocks chunked; see gradientForm), made on first use. */
  private differentiated: Model | undefined;
  private chunked: ChunkReport[] = [];
  /** The weight stage per set of fed parameters (null: none). */
  private readonly stages = new Map<string, WeightStage | null>();
  /** Bumped whenever a fed parameter changes: the stage's values are recomputed for the next call. */
  private version = 0;
  private stageValues: { key: string; version: number; values: Record<string, RuntimeTensor>; bytes: number } | undefined;
  /** How many times the weight stage's forward ran (it runs once per parameter update). */
  stageRuns = 0;

  private constructor(model: Model, trainable: string[], opts: OrtEngineOptions) {
    this.model = model;
    this.trainable = trainable;
    this.opts = opts;
    this.provider = opts.ep === 'cuda' ? 'cuda' : 'cpu';
    const g = model.graph;
    const inits = new Set(g.initializers().map((v) => v.name));
    const inputs = g.inputs.filter((v) => !inits.has(v.name));
    this.inputNames = inputs.map((v) => v.name);
    for (const v of inputs) {
      this.inputTypes.set(v.name, v.elemType);
      this.inputDims.set(v.name, v.declaredShape);
    }
    this.outputNames = g.outputs.map((v) => v.name);
    this.params = new Set(parameterNames(model));
    for (const p of trainable) this.host.set(p, this.initialValue(p).slice());
  }

  /**
   * Build the engine for `model`: the trainable selection is resolved and the model is checked
   * for differentiability (an op without a gradient rule is named with its node) before any
   * session is created. With the cuda provider the forward session opens at once, so the
   * provider in use (or the CPU fallback) is known.
   */
  static async create(model: Model, opts: OrtEngineOptions = {}): Promise<OrtEngine> {
    if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 1024)) throw new UserError('engine-option', `threads must be an integer in [1, 1024] (got ${opts.threads})`);
    const trainable = opts.trainable?.length ? await selectTrainable(model, opts.trainable, opts.inputShapes) : [];
    checkDifferentiable(model, fullRequest(model, trainable));
    const engine = new OrtEngine(model, trainable, opts);
    if (opts.ep === 'cuda') await engine.forwardRunner([]);
    return engine;
  }

  get engine(): string {
    return `ort on ${this.provider}`;
  }

  describe(): string {
    const threads = this.opts.threads !== undefined ? `${this.opts.threads} intra-op threads` : `ONNX Runtime's default intra-op threads (${os.availableParallelism()} cores)`;
    return `${this.engine}: ONNX Runtime with gradient graphs (reverse mode as ONNX, src/autodiff), ${this.provider} execution provider${this.fallback}, ${threads}, graph optimisation ${this.opts.optimization ?? 'all'}; ${this.host.size} parameter(s) fed as inputs, every other weight constant${this.chunkNote}${this.stageNote}`;
  }

  /** What gradientForm did, once gradients were asked for. */
  private get chunkNote(): string {
    const c = this.chunked.filter((r) => r.chunks > 0);
    return c.length ? `; RobustBlock Cayley differentiated in recomputed frequency chunks (${c.map((r) => `${r.prefix}: ${r.chunks} chunks of ${r.rows} row(s)`).join(', ')})` : '';
  }

  private get stageSumLimit(): number {
    return this.opts.stageSumMaxBytes ?? os.totalmem() / 16;
  }

  /** The weight stage in use, once a call has split it. */
  private get stageNote(): string {
    const s = this.stages.get(JSON.stringify(this.fed()));
    return s ? `; a weight stage of ${s.nodes} node(s) (parameters only) computed once per parameter update, not per call` : '';
  }

  /** The engine's host copies of fed parameters and of the weight stage's values (their count and bytes); sessions are ONNX Runtime's. */
  memoryStats(): MemoryStats {
    let bytes = 0;
    for (const a of this.host.values()) bytes += a.byteLength;
    const c = this.stageValues;
    return { tensors: this.host.size + (c ? Object.keys(c.values).length : 0), bytes: bytes + (c?.bytes ?? 0) };
  }

  /** How many sessions the engine holds (one per request shape). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  parameterNames(): string[] {
    return parameterNames(this.model);
  }

  trainableNames(): string[] {
    return [...this.trainable];
  }

  private initialValue(name: string): Float32Array {
    const init = this.model.graph.lookup(name)?.initializer;
    if (!init || !this.params.has(name)) throw notAParameter(this.model, name);
    const data = tensorTypedData(init);
    return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  }

  private value(name: string): Float32Array {
    return this.host.get(name) ?? this.initialValue(name);
  }

  private dimsOf(name: string): number[] {
    return tensorDims(this.model.graph.lookup(name)!.initializer!);
  }

  getParameter(name: string): HostTensor {
    if (!this.params.has(name)) throw notAParameter(this.model, name);
    return { dims: this.dimsOf(name), data: this.value(name).slice() };
  }

  setParameter(name: string, value: HostTensor): void {
    if (!this.params.has(name)) throw notAParameter(this.model, name);
    const dims = this.dimsOf(name);
    if (value.dims.length !== dims.length || value.dims.some((d, i) => d !== dims[i])) throw new UserError('engine-shape', `parameter '${name}' has dims [${dims.join(',')}], not [${value.dims.join(',')}]`);
    if (!(value.data instanceof Float32Array)) throw new UserError('engine-dtype', `parameter '${name}' is float32`);
    if (!this.trainable.includes(name) && !this.host.has(name)) {
      // a parameter that does not train stays a constant of the sessions while its bits are unchanged
      const init = this.initialValue(name);
      if (Buffer.from(init.buffer, init.byteOffset, init.byteLength).equals(Buffer.from(value.data.buffer, value.data.byteOffset, value.data.byteLength))) return;
    }
    this.host.set(name, value.data.slice());
    this.version++;
  }

  writeBack(names: readonly string[] = this.trainable): string[] {
    const values = new Map<string, Float32Array>();
    for (const name of names) {
      if (!this.params.has(name)) throw notAParameter(this.model, name);
      values.set(name, this.value(name));
    }
    return writeParameters(this.model, values);
  }

  private checkOpen(): void {
    if (this.disposed) throw new UserError('engine-disposed', 'the ONNX Runtime engine was disposed');
  }

  /** Names of the parameters fed as graph inputs (sorted), less `except`. */
  private fed(except: ReadonlySet<string> = new Set()): string[] {
    return [...this.host.keys()].filter((n) => !except.has(n)).sort();
  }

  private async open(model: Model): Promise<Runner> {
    const runner = await openRunner(model, {
      provider: this.opts.ep ?? 'cpu',
      optimization: this.opts.optimization ?? 'all',
      ...(this.opts.threads !== undefined ? { intraOpThreads: this.opts.threads } : {}),
      ...(this.opts.profilePrefix !== undefined ? { profilePrefix: this.opts.profilePrefix } : {}),
      spinning: this.opts.spinning ?? false,
      ...(this.opts.memoryArena !== undefined ? { memoryArena: this.opts.memoryArena } : {}),
    });
    this.provider = runner.provider;
    if (runner.notices.length) this.fallback = ` (${runner.notices[0]})`;
    return runner;
  }

  private cached<T extends Runner | GradSession>(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.sessions.get(key) as Promise<T> | undefined;
    if (!p) {
      p = make();
      this.sessions.set(key, p);
      // a failed build is not cached (the next call reports it again)
      p.catch(() => this.sessions.delete(key));
    }
    return p;
  }

  private forwardRunner(extra: readonly string[]): Promise<Runner> {
    const fed = this.fed();
    const key = JSON.stringify(['forward', fed, extra]);
    return this.cached(key, () => this.open(fed.length || extra.length ? sessionModel(this.model, fed, extra) : this.model));
  }

  private inputFeeds(feeds: Record<string, HostTensor>): Record<string, RuntimeTensor> {
    const out: Record<string, RuntimeTensor> = {};
    for (const name of Object.keys(feeds)) {
      if (!this.inputTypes.has(name)) throw new UserError('engine-unknown-input', `'${name}' is not a graph input (inputs: ${this.inputNames.join(', ')})`);
    }
    for (const name of this.inputNames) {
      const h = feeds[name];
      if (!h) throw new UserError('engine-missing-input', `no value given for graph input '${name}'`);
      const declared = this.inputDims.get(name);
      if (declared && (declared.length !== h.dims.length || declared.some((d, i) => typeof d === 'number' && d !== h.dims[i]))) {
        const batch = declared.length === h.dims.length && typeof declared[0] === 'number' && declared[0] !== h.dims[0] ? ` (the model fixes the batch at ${declared[0]}: export it with a dynamic batch to feed others)` : '';
        throw new UserError('engine-shape', `input '${name}' is declared [${declared.map((d) => d ?? '?').join(',')}], given [${h.dims.join(',')}]${batch}`);
      }
      out[name] = hostToRuntime(h, this.inputTypes.get(name), `input '${name}'`);
    }
    return out;
  }

  private paramFeed(name: string): RuntimeTensor {
    return { elemType: DataType.FLOAT, dims: this.dimsOf(name), data: this.value(name) };
  }

  declaredDims(output: string): readonly (number | string | undefined)[] | undefined {
    return this.model.graph.lookup(output)?.declaredShape;
  }

  async forward(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    this.checkOpen();
    const wanted = outputs?.length ? [...outputs] : [...this.outputNames];
    for (const w of wanted) if (!this.model.graph.lookup(w)) throw new UserError('no-such-value', `no value named '${w}' in the main graph`);
    const extra = [...new Set(wanted.filter((w) => !this.outputNames.includes(w)))].sort();
    const runFeeds = this.inputFeeds(feeds);
    const stage = this.stage();
    let runner: Runner;
    if (stage && extra.every((w) => stage.data.graph.lookup(w)?.producer())) {
      const key = JSON.stringify(['forward-data', this.fed(), extra]);
      runner = await this.cached(key, () => this.open(sessionModel(stage.data, stage.dataParams, extra)));
      for (const p of stage.dataParams) runFeeds[p] = this.paramFeed(p);
      Object.assign(runFeeds, await this.stageOutputs(stage));
    } else {
      runner = await this.forwardRunner(extra);
      for (const p of this.fed()) runFeeds[p] = this.paramFeed(p);
    }
    const res = await runner.run(runFeeds, wanted.filter((w, i) => wanted.indexOf(w) === i));
    const out: Record<string, HostTensor> = {};
    for (const w of wanted) out[w] = runtimeToHost(res[w]!, `value '${w}'`);
    return out;
  }

  /** The form gradient graphs and the weight stage are built from (large Cayley blocks chunked; see gradientForm). */
  private differentiatedModel(): Model {
    if (!this.differentiated) {
      const c = this.opts.cayleyChunks;
      const form = gradientForm(this.model, { ...(c?.aboveBytes !== undefined ? { chunkAboveBytes: c.aboveBytes } : {}), ...(c?.chunkBytes !== undefined ? { chunkBytes: c.chunkBytes } : {}) });
      this.differentiated = form.model;
      this.chunked = form.chunked;
    }
    return this.differentiated;
  }

  /** The weight stage for the parameters fed now, when hoisting is on and the model has one. */
  private stage(): WeightStage | undefined {
    if (this.opts.hoistWeights === false) return undefined;
    const fed = this.fed();
    if (fed.length === 0) return undefined;
    const key = JSON.stringify(fed);
    if (!this.stages.has(key)) this.stages.set(key, splitWeightStage(this.differentiatedModel(), fed) ?? null);
    return this.stages.get(key) ?? undefined;
  }

  /** The stage's boundary values for the current parameters: computed on the first call after an update, then reused. */
  private async stageOutputs(stage: WeightStage): Promise<Record<string, RuntimeTensor>> {
    const key = JSON.stringify(this.fed());
    const c = this.stageValues;
    if (c && c.key === key && c.version === this.version) return c.values;
    const version = this.version;
    this.stageValues = undefined;
    const runner = await this.cached(JSON.stringify(['stage-forward', key]), () => this.open(sessionModel(stage.weight, stage.weightParams)));
    const feeds: Record<string, RuntimeTensor> = {};
    for (const p of stage.weightParams) feeds[p] = this.paramFeed(p);
    const res = await runner.run(feeds, stage.boundary.map((b) => b.name));
    this.stageRuns++;
    const values: Record<string, RuntimeTensor> = {};
    for (const b of stage.boundary) values[b.name] = res[b.name]!;
    if (version === this.version) this.stageValues = { key, version, values, bytes: stageBytes(stage) };
    return values;
  }

  private gradSession(base: Model, req: GradientGraphRequest, fed: string[], tag: string): Promise<GradSession> {
    const key = JSON.stringify(['gradients', tag, req.loss, [...(req.inputs ?? [])].sort(), [...(req.params ?? [])].sort(), fed, req.outputs ?? null]);
    return this.cached(key, async () => {
      const graph = buildGradientGraph(fed.length ? sessionModel(base, fed) : base, req);
      const runner = await this.open(graph.model);
      const s: GradSession = { runner, graph };
      if (graph.feeds.target !== undefined) {
        const dims = graph.model.graph.lookup(graph.feeds.target)?.declaredShape;
        if (dims) s.targetDims = dims;
      }
      return s;
    });
  }

  /**
   * With a weight stage, a call that differentiates none of the stage's parameters (input
   * gradients, parameters outside the stage) runs the data model on the stage's cached values; one
   * that does runs the whole model, which computes the stage once as the split would, plus once
   * more for its backward pass.
   */
  async gradients(feeds: Record<string, HostTensor>, loss: BuiltinLoss | Record<string, HostTensor>, wrt: GradientRequest = {}): Promise<GradientResult> {
    const call = this.prepare(feeds, loss, wrt);
    const stage = this.stage();
    return (await this.gradCall(call, stage && call.stageWrt(stage).length === 0 ? stage : undefined)).result;
  }

  /**
   * Parameter gradients summed over `count` calls (call i: its feeds and its outputs' cotangents),
   * as the sum of `gradients` over the calls. With a weight stage whose parameters are requested
   * (and whose values fit `stageSumMaxBytes`), the calls run the data model on the stage's cached
   * values, their gradients with respect to those values are summed, and the stage is
   * differentiated once for all of them.
   */
  async sumParamGrads(count: number, call: (i: number) => { feeds: Record<string, HostTensor>; cotangents: Record<string, HostTensor> }, wrt: GradientRequest = {}): Promise<Record<string, HostTensor>> {
    const sum: Record<string, HostTensor> = {};
    const stage = this.stage();
    const summable = stage !== undefined && count > 1 && stageBytes(stage) <= this.stageSumLimit;
    let boundary: Record<string, HostTensor> | undefined;
    let stageWrt: string[] = [];
    for (let i = 0; i < count; i++) {
      const c = call(i);
      const prepared = this.prepare(c.feeds, c.cotangents, { ...wrt, inputs: [] });
      // the data model on the cached stage values where no stage parameter is asked for, or where they are summed
      const onData = stage && (prepared.stageWrt(stage).length === 0 || summable);
      const r = await this.gradCall(prepared, onData ? stage : undefined);
      addGrads(sum, r.result.paramGrads, { adopt: true });
      if (r.boundaryGrads) {
        boundary ??= {};
        addGrads(boundary, r.boundaryGrads, { adopt: true });
        stageWrt = prepared.stageWrt(stage!);
      }
    }
    if (stage && boundary) {
      // an optimizer step follows: the cached values would only add their size to the stage's backward
      this.stageValues = undefined;
      addGrads(sum, await this.stageGradients(stage, boundary, stageWrt), { adopt: true });
    }
    return sum;
  }

  /** A call checked and turned into runtime feeds, before anything runs. */
  private prepare(feeds: Record<string, HostTensor>, loss: BuiltinLoss | Record<string, HostTensor>, wrt: GradientRequest) {
    this.checkOpen();
    const inputNames = [...new Set(wrt.inputs ?? [])];
    const paramNames = [...new Set(wrt.params ?? this.trainable)];
    for (const n of inputNames) if (!this.inputTypes.has(n)) throw new UserError('engine-unknown-input', `'${n}' is not a graph input (inputs: ${this.inputNames.join(', ')})`);
    for (const n of paramNames) if (!this.params.has(n)) throw notAParameter(this.model, n);
    const runFeeds = this.inputFeeds(feeds);
    for (const n of inputNames) if (runFeeds[n]!.elemType !== DataType.FLOAT) throw new UserError('engine-dtype', `input '${n}' is not float32; it has no gradient`);
    let spec: LossSpec;
    if (isBuiltin(loss)) {
      const output = loss.output ?? this.outputNames[0]!;
      if (!this.outputNames.includes(output)) throw new UserError('no-such-value', `'${output}' is not a graph output`);
      spec = loss.kind === 'mean' ? { kind: 'mean', output } : { kind: loss.kind, output };
    } else {
      const outs = Object.keys(loss);
      if (outs.length === 0) throw new UserError('engine-loss', 'no cotangents given: name at least one graph output');
      for (const o of outs) if (!this.outputNames.includes(o)) throw new UserError('no-such-value', `'${o}' is not a graph output`);
      spec = { kind: 'cotangents', outputs: outs.sort() };
    }
    /** The requested parameters only the stage reads (their gradients come through it). */
    const stageWrt = (stage: WeightStage): string[] => paramNames.filter((p) => stage.weightParams.includes(p));
    return { loss, spec, inputNames, paramNames, runFeeds, stageWrt };
  }

  /**
   * One run of a gradient graph: of the whole model, or with a stage, of its data model with the
   * stage's values fed (and, when a requested parameter feeds the stage, their gradients returned).
   */
  private async gradCall(call: ReturnType<OrtEngine['prepare']>, stage?: WeightStage): Promise<{ result: GradientResult; boundaryGrads?: Record<string, HostTensor> }> {
    const { loss, spec, inputNames, paramNames, runFeeds } = call;
    const stageWrt = stage ? call.stageWrt(stage) : [];
    const boundaryWrt = stageWrt.length ? stage!.boundary.map((b) => b.name) : [];
    // a parameter both sides read gets both gradients; one only the stage reads, the stage's
    const dataWrt = stage ? paramNames.filter((p) => !stage.weightParams.includes(p) || stage.dataParams.includes(p)) : paramNames;
    let s: GradSession;
    let fed: string[];
    if (stage) {
      fed = stage.dataParams.filter((p) => !dataWrt.includes(p));
      s = await this.gradSession(stage.data, { loss: spec, inputs: [...inputNames, ...boundaryWrt], params: dataWrt }, fed, 'data');
      Object.assign(runFeeds, await this.stageOutputs(stage));
    } else {
      // the whole model computes the stage itself: cached values above the summing limit would
      // only add their size to this run's peak (the next update replaces them anyway)
      if ((this.stageValues?.bytes ?? 0) > this.stageSumLimit) this.stageValues = undefined;
      fed = this.fed(new Set(paramNames));
      s = await this.gradSession(this.differentiatedModel(), { loss: spec, inputs: inputNames, params: paramNames }, fed, 'whole');
    }
    const g = s.graph;
    for (const p of fed) runFeeds[p] = this.paramFeed(p);
    for (const p of dataWrt) runFeeds[g.feeds.params[p]!] = this.paramFeed(p);
    if (isBuiltin(loss)) {
      if (loss.kind !== 'mean') {
        if (!loss.target) throw new UserError('engine-loss', `the ${loss.kind} loss needs a target`);
        runFeeds[g.feeds.target!] = hostToRuntime(fitTarget(loss.target, s.targetDims, loss.kind), DataType.FLOAT, `the ${loss.kind} target`);
      }
    } else {
      for (const [o, c] of Object.entries(loss)) runFeeds[g.feeds.cotangents[o]!] = hostToRuntime(c, DataType.FLOAT, `the cotangent of '${o}'`);
    }
    const wantInputs = [...inputNames, ...boundaryWrt];
    const fetch = [g.fetch.loss, ...Object.values(g.fetch.outputs), ...wantInputs.map((n) => g.fetch.inputGrads[n]!), ...dataWrt.map((n) => g.fetch.paramGrads[n]!)];
    const res = await s.runner.run(runFeeds, [...new Set(fetch)]);
    const result: GradientResult = { loss: Number((res[g.fetch.loss]!.data as Float32Array)[0]), outputs: {}, inputGrads: {}, paramGrads: {} };
    for (const [o, name] of Object.entries(g.fetch.outputs)) result.outputs[o] = runtimeToHost(res[name]!, `output '${o}'`);
    if (isBuiltin(loss) && loss.kind !== 'mean' && spec.kind !== 'cotangents') {
      const y = result.outputs[spec.output];
      if (y && elementCount(y.dims) !== elementCount(loss.target.dims)) throw new UserError('engine-shape', `the ${loss.kind} target has ${elementCount(loss.target.dims)} values, the output ${elementCount(y.dims)}`);
    }
    if (!isBuiltin(loss)) {
      for (const [o, c] of Object.entries(loss)) {
        const y = result.outputs[o];
        if (y && (c.dims.length !== y.dims.length || c.dims.some((d, i) => d !== y.dims[i]))) throw new UserError('engine-shape', `the cotangent of '${o}' has dims [${c.dims.join(',')}], the output [${y.dims.join(',')}]`);
      }
    }
    for (const n of inputNames) result.inputGrads[n] = runtimeToHost(res[g.fetch.inputGrads[n]!]!, `gradient of input '${n}'`);
    for (const n of dataWrt) result.paramGrads[n] = runtimeToHost(res[g.fetch.paramGrads[n]!]!, `gradient of parameter '${n}'`);
    if (!boundaryWrt.length) return { result };
    const boundaryGrads: Record<string, HostTensor> = {};
    for (const n of boundaryWrt) boundaryGrads[n] = runtimeToHost(res[g.fetch.inputGrads[n]!]!, `gradient of '${n}'`);
    return { result, boundaryGrads };
  }

  /** The gradients of the parameters `wrt` through the stage, given the gradients of its values. */
  private async stageGradients(stage: WeightStage, boundaryGrads: Record<string, HostTensor>, wrt: string[]): Promise<Record<string, HostTensor>> {
    const fed = stage.weightParams.filter((p) => !wrt.includes(p));
    const outputs = stage.boundary.map((b) => b.name).sort();
    // no forward outputs: each chunk's Q is freed after the loss reads it
    const s = await this.gradSession(stage.weight, { loss: { kind: 'cotangents', outputs }, params: wrt, outputs: [] }, fed, 'stage');
    const g = s.graph;
    const feeds: Record<string, RuntimeTensor> = {};
    for (const p of fed) feeds[p] = this.paramFeed(p);
    for (const p of wrt) feeds[g.feeds.params[p]!] = this.paramFeed(p);
    for (const o of outputs) feeds[g.feeds.cotangents[o]!] = hostToRuntime(boundaryGrads[o]!, DataType.FLOAT, `the gradient of '${o}'`);
    const res = await s.runner.run(feeds, wrt.map((p) => g.fetch.paramGrads[p]!));
    const out: Record<string, HostTensor> = {};
    for (const p of wrt) out[p] = runtimeToHost(res[g.fetch.paramGrads[p]!]!, `gradient of parameter '${p}'`);
    return out;
  }

  /** Stop ONNX Runtime's profiling in every session (engines built with `profilePrefix`). */
  async endProfiling(): Promise<void> {
    for (const p of this.sessions.values()) {
      const s = await p;
      ('runner' in s ? s.runner : s).endProfiling();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    this.host.clear();
    this.stageValues = undefined;
    for (const p of pending) {
      p.then((s) => ('runner' in s ? s.runner : s).dispose()).catch(() => {});
    }
  }
}
