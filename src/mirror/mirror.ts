/**
 * The TensorFlow.js mirror of an ONNX graph: the graph's nodes run in file order (ONNX requires a
 * topological order) through the op registry's tfjs kernels, with ONNX (NCHW) semantics.
 * Float32 initializers are parameters held as tfjs tensors keyed by their ONNX names; the
 * trainable ones are differentiated; `writeBack` puts trained values into the IR bit-exactly.
 *
 * Support is checked when the mirror is created: an op without a kernel is reported with its node
 * name before any computation starts.
 */
import type { Dim } from '../analysis/shapes/types.js';
import type { BuiltinLoss, DifferentiableModel, GradientRequest, GradientResult, HostTensor, MemoryStats } from '../differentiable/model.js';
import { elementCount } from '../differentiable/model.js';
import { notAParameter, parameterNames, selectTrainable } from '../differentiable/parameters.js';
import { writeParameters } from '../differentiable/write-back.js';
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { DataType } from '../onnx/data-types.js';
import { mirrorKernel } from '../ops/registry.js';
import type { KernelContext, Tensor, TF } from '../ops/types.js';
import type { Variable } from '@tensorflow/tfjs-core';
import { loadBackend, type BackendChoice, type LoadedBackend } from './backend.js';
import { hostToTensor, protoToTensor, tensorToHost } from './host.js';
import { assertSupported, nodeOpset } from './support.js';

export interface MirrorOptions {
  backend?: BackendChoice;
  /** Trainable parameter selectors (names, globs, `stage:<name>`, `all`); default: none. */
  trainable?: readonly string[];
  /** Input shapes for `stage:` selectors on models with dynamic inputs. */
  inputShapes?: Record<string, Dim[]>;
}

interface Step {
  node: Node;
  ctx: KernelContext;
  forward: NonNullable<ReturnType<typeof mirrorKernel>>['forward'];
  inputs: (string | null)[];
  outputs: (string | null)[];
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 300);
}

/** tfjs variable names are global: each mirror's get their own prefix. */
let mirrorSerial = 0;

export class Mirror implements DifferentiableModel {
  readonly kind = 'tfjs';
  readonly backend: LoadedBackend;
  readonly tf: TF;
  readonly model: Model;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly steps: Step[];
  /** Parameters (float32 initializers) by ONNX name, as tf.Variables (trainable ones marked so). */
  private readonly params = new Map<string, Variable>();
  /** Other constants (integer/bool initializers). */
  private readonly constants = new Map<string, Tensor>();
  private trainable: string[];
  /** For each value name, the index of the last step that reads it (values read by nothing later are freed). */
  private readonly lastUse = new Map<string, number>();
  private disposed = false;

  private constructor(model: Model, backend: LoadedBackend, trainable: string[]) {
    this.model = model;
    this.backend = backend;
    this.tf = backend.tf;
    this.trainable = trainable;
    mirrorSerial++;
    const g = model.graph;
    const inits = new Set(g.initializers().map((v) => v.name));
    this.inputNames = g.inputs.filter((v) => !inits.has(v.name)).map((v) => v.name);
    this.outputNames = g.outputs.map((v) => v.name);
    this.steps = g.nodes.map((node) => this.makeStep(node));
    this.steps.forEach((s, i) => s.inputs.forEach((n) => n && this.lastUse.set(n, i)));
    for (const v of g.initializers()) {
      const t = v.initializer!;
      const where = `initializer '${v.name}'`;
      if (t.data_type === DataType.FLOAT) {
        const init = protoToTensor(this.tf, t, where);
        this.params.set(v.name, this.tf.variable(init, trainable.includes(v.name), `mirror${mirrorSerial}/${v.name}`));
        init.dispose();
      }
      else this.constants.set(v.name, protoToTensor(this.tf, t, where));
    }
  }

  /** Build the mirror of `model` (support is checked first; nothing is computed for an unsupported graph). */
  static async create(model: Model, opts: MirrorOptions = {}): Promise<Mirror> {
    assertSupported(model);
    const trainable = opts.trainable?.length ? await selectTrainable(model, opts.trainable, opts.inputShapes) : [];
    const backend = await loadBackend(opts.backend ?? 'auto');
    return new Mirror(model, backend, trainable);
  }

  get engine(): string {
    return `tfjs mirror on ${this.backend.choice}`;
  }

  describe(): string {
    return `${this.engine}: ${this.backend.description}`;
  }

  /** tfjs' live tensors and bytes (process-wide: every mirror and tfjs user in the process). */
  memoryStats(): MemoryStats {
    const m = this.tf.memory();
    return { tensors: m.numTensors, bytes: m.numBytes };
  }

  private makeStep(node: Node): Step {
    const tf = this.tf;
    const opset = nodeOpset(this.model, node);
    const kernel = mirrorKernel(node.opType, node.domain)!;
    const fail = (message: string): never => {
      throw new UserError('mirror-op', `node '${node.label}' (${node.opType}): ${message}`);
    };
    const ctx: KernelContext = {
      tf,
      node,
      opset,
      ints: (t) => (t ? Array.from(t.dataSync() as ArrayLike<number>, (v) => Math.trunc(Number(v))) : undefined),
      floats: (t) => (t ? Array.from(t.dataSync() as ArrayLike<number>, Number) : undefined),
      fail,
    };
    return { node, ctx, forward: kernel.forward, inputs: node.inputs.map((v) => v?.name ?? null), outputs: node.outputs.map((v) => v?.name ?? null) };
  }

  parameterNames(): string[] {
    return parameterNames(this.model);
  }

  trainableNames(): string[] {
    return [...this.trainable];
  }

  /** Change which parameters train. */
  async setTrainable(selectors: readonly string[], inputShapes?: Record<string, Dim[]>): Promise<void> {
    this.trainable = selectors.length ? await selectTrainable(this.model, selectors, inputShapes) : [];
    for (const [name, v] of this.params) v.trainable = this.trainable.includes(name);
  }

  getParameter(name: string): HostTensor {
    const t = this.params.get(name);
    if (!t) throw notAParameter(this.model, name);
    return tensorToHost(t);
  }

  setParameter(name: string, value: HostTensor): void {
    const old = this.params.get(name);
    if (!old) throw notAParameter(this.model, name);
    if (value.dims.length !== old.shape.length || value.dims.some((d, i) => d !== old.shape[i])) {
      throw new UserError('mirror-shape', `parameter '${name}' has dims [${old.shape.join(',')}], not [${value.dims.join(',')}]`);
    }
    if (!(value.data instanceof Float32Array)) throw new UserError('mirror-dtype', `parameter '${name}' is float32`);
    this.tf.tidy(() => old.assign(this.tf.tensor(value.data, value.dims, 'float32')));
  }

  /** Parameters as tf.Variables (for training loops that stay in tfjs, e.g. tf.train optimizers). */
  parameterTensor(name: string): Variable {
    const t = this.params.get(name);
    if (!t) throw notAParameter(this.model, name);
    return t;
  }

  /** Assign a tfjs tensor of the same shape to a parameter (the caller keeps ownership of `t`). */
  assignParameter(name: string, t: Tensor): void {
    const old = this.params.get(name);
    if (!old) throw notAParameter(this.model, name);
    if (t.shape.length !== old.shape.length || t.shape.some((d, i) => d !== old.shape[i]) || t.dtype !== 'float32') {
      throw new UserError('mirror-shape', `parameter '${name}' is float32 [${old.shape.join(',')}], not ${t.dtype} [${t.shape.join(',')}]`);
    }
    if (t !== old) old.assign(t);
  }

  private feedTensors(feeds: Record<string, HostTensor>): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    for (const name of this.inputNames) {
      const h = feeds[name];
      if (!h) throw new UserError('mirror-missing-input', `no value given for graph input '${name}'`);
      m.set(name, hostToTensor(this.tf, h, `input '${name}'`));
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) throw new UserError('mirror-unknown-input', `'${name}' is not a graph input (inputs: ${this.inputNames.join(', ')})`);
    }
    return m;
  }

  /**
   * Run the graph on tfjs tensors. `overrides` replace parameters (the tensors differentiated
   * against); `keep` lists values to return besides the graph outputs; with `free`, intermediate
   * values are disposed after their last use (not under a gradient tape).
   */
  evaluate(inputs: ReadonlyMap<string, Tensor>, opts: { overrides?: ReadonlyMap<string, Tensor>; keep?: readonly string[]; free?: boolean } = {}): Map<string, Tensor> {
    if (this.disposed) throw new UserError('mirror-disposed', 'the mirror was disposed');
    const env = new Map<string, Tensor>();
    /** Computed tensors and how many env names hold each (a kernel may return one tensor twice). */
    const holders = new Map<Tensor, number>();
    const keep = new Set([...this.outputNames, ...(opts.keep ?? [])]);
    const external = new Set<Tensor>([...this.params.values(), ...this.constants.values(), ...inputs.values(), ...(opts.overrides?.values() ?? [])]);
    const lookup = (name: string): Tensor => {
      const t = env.get(name) ?? opts.overrides?.get(name) ?? inputs.get(name) ?? this.params.get(name) ?? this.constants.get(name);
      if (!t) throw new UserError('mirror-missing-value', `value '${name}' is read before it is computed`);
      return t;
    };
    /** Drop a name; dispose its tensor when no other name holds it (never a parameter, constant or input). */
    const release = (name: string): void => {
      const t = env.get(name);
      if (!t) return;
      env.delete(name);
      const n = holders.get(t);
      if (n === undefined) return;
      if (n > 1) holders.set(t, n - 1);
      else (holders.delete(t), t.dispose());
    };
    this.steps.forEach((step, i) => {
      const args = step.inputs.map((n) => (n === null || n === '' ? null : lookup(n)));
      let outs: (Tensor | null)[];
      try {
        outs = step.forward(step.ctx, args);
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new UserError('mirror-op', `node '${step.node.label}' (${step.node.opType}) failed in the mirror: ${firstLine(e)}`);
      }
      step.outputs.forEach((name, k) => {
        if (!name) return;
        const t = outs[k];
        if (!t) {
          if (keep.has(name) || this.lastUse.has(name)) throw new UserError('mirror-op', `node '${step.node.label}' (${step.node.opType}) did not compute its output ${k} '${name}'`);
          return;
        }
        env.set(name, t);
        // a kernel may pass a parameter, constant or input through unchanged: never dispose those
        if (!external.has(t)) holders.set(t, (holders.get(t) ?? 0) + 1);
      });
      if (!opts.free) return;
      // inputs read for the last time, and outputs nobody reads
      for (const n of step.inputs) if (n && this.lastUse.get(n) === i && !keep.has(n)) release(n);
      for (const name of step.outputs) if (name && !keep.has(name) && !this.lastUse.has(name)) release(name);
    });
    const result = new Map<string, Tensor>();
    for (const name of keep) {
      const t = env.get(name) ?? opts.overrides?.get(name) ?? inputs.get(name) ?? this.params.get(name) ?? this.constants.get(name);
      if (t) result.set(name, t);
    }
    return result;
  }

  declaredDims(output: string): readonly (number | string | undefined)[] | undefined {
    return this.model.graph.lookup(output)?.declaredShape;
  }

  async forward(feeds: Record<string, HostTensor>, outputs?: readonly string[]): Promise<Record<string, HostTensor>> {
    const tf = this.tf;
    const wanted = outputs?.length ? [...outputs] : [...this.outputNames];
    for (const w of wanted) if (!this.model.graph.lookup(w)) throw new UserError('no-such-value', `no value named '${w}' in the main graph`);
    const res: Record<string, HostTensor> = {};
    tf.tidy(() => {
      const inputs = this.feedTensors(feeds);
      const env = this.evaluate(inputs, { keep: wanted, free: true });
      for (const w of wanted) {
        const t = env.get(w);
        if (!t) throw new UserError('no-such-value', `value '${w}' was not computed`);
        res[w] = tensorToHost(t);
      }
    });
    return res;
  }

  async gradients(feeds: Record<string, HostTensor>, loss: BuiltinLoss | Record<string, HostTensor>, wrt: GradientRequest = {}): Promise<GradientResult> {
    const tf = this.tf;
    const inputNames = [...(wrt.inputs ?? [])];
    const paramNames = [...(wrt.params ?? this.trainable)];
    for (const n of inputNames) if (!this.inputNames.includes(n)) throw new UserError('mirror-unknown-input', `'${n}' is not a graph input`);
    for (const n of paramNames) if (!this.params.has(n)) throw notAParameter(this.model, n);
    const builtin = typeof (loss as BuiltinLoss).kind === 'string' ? (loss as BuiltinLoss) : undefined;
    const cotangents = builtin ? undefined : (loss as Record<string, HostTensor>);
    const lossOutputs = builtin ? [builtin.output ?? this.outputNames[0]!] : Object.keys(cotangents!);
    for (const o of lossOutputs) if (!this.outputNames.includes(o)) throw new UserError('no-such-value', `'${o}' is not a graph output`);
    const result: GradientResult = { loss: 0, outputs: {}, inputGrads: {}, paramGrads: {} };
    tf.tidy(() => {
      const inputs = this.feedTensors(feeds);
      for (const n of inputNames) {
        if (inputs.get(n)!.dtype !== 'float32') throw new UserError('mirror-dtype', `input '${n}' is not float32; it has no gradient`);
      }
      const xs = [...inputNames.map((n) => inputs.get(n)!), ...paramNames.map((n) => this.params.get(n)!)];
      const f = (...args: Tensor[]): Tensor => {
        const ins = new Map(inputs);
        inputNames.forEach((n, i) => ins.set(n, args[i]!));
        const overrides = new Map(paramNames.map((n, i) => [n, args[inputNames.length + i]!] as const));
        const env = this.evaluate(ins, { overrides });
        // read the outputs now: valueAndGrads disposes everything f made except the loss
        for (const o of this.outputNames) {
          const t = env.get(o);
          if (t) result.outputs[o] = tensorToHost(t);
        }
        if (builtin) return this.builtinLoss(builtin, env.get(lossOutputs[0]!)!);
        let total: Tensor = tf.scalar(0);
        for (const o of lossOutputs) {
          const y = env.get(o)!;
          const c = cotangents![o]!;
          if (c.dims.length !== y.shape.length || c.dims.some((d, i) => d !== y.shape[i])) {
            throw new UserError('mirror-shape', `the cotangent of '${o}' has dims [${c.dims.join(',')}], the output [${y.shape.join(',')}]`);
          }
          total = tf.add(total, tf.sum(tf.mul(y, hostToTensor(tf, c, `cotangent of '${o}'`))));
        }
        return total;
      };
      if (xs.length === 0) {
        result.loss = f().dataSync()[0]!;
      } else {
        const { value, grads } = tf.valueAndGrads(f)(xs);
        result.loss = value.dataSync()[0]!;
        inputNames.forEach((n, i) => (result.inputGrads[n] = tensorToHost(grads[i]!)));
        paramNames.forEach((n, i) => (result.paramGrads[n] = tensorToHost(grads[inputNames.length + i]!)));
      }
    });
    return result;
  }

  private builtinLoss(loss: BuiltinLoss, y: Tensor): Tensor {
    const tf = this.tf;
    if (loss.kind === 'mean') return tf.mean(y);
    const target = loss.target;
    if (elementCount(target.dims) !== y.size) throw new UserError('mirror-shape', `the ${loss.kind} target has ${elementCount(target.dims)} values, the output ${y.size}`);
    const t = tf.reshape(hostToTensor(tf, target, `${loss.kind} target`), y.shape);
    const d = tf.sub(y, t);
    return loss.kind === 'mse' ? tf.mean(tf.square(d)) : tf.mean(tf.abs(d));
  }

  /**
   * Write parameters (default: the trainable ones) back into the model's IR as float32
   * initializers, bit-exact, through the engine-neutral `writeParameters`: a parameter whose
   * values did not change keeps its original bytes. Returns the names written.
   */
  writeBack(names: readonly string[] = this.trainable): string[] {
    const values = new Map<string, Float32Array>();
    for (const name of names) {
      const t = this.params.get(name);
      if (!t) throw notAParameter(this.model, name);
      values.set(name, t.dataSync() as Float32Array);
    }
    return writeParameters(this.model, values);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.params.values()) t.dispose();
    for (const t of this.constants.values()) t.dispose();
    this.params.clear();
    this.constants.clear();
  }
}
