/**
 * The loss head of a gradient graph: the scalar loss and the gradient it sends into each forward
 * output it reads (the seeds of the backward pass).
 *
 * mse: mean((y - t)^2), seed 2 (y - t) / n; l1: mean(|y - t|), seed sign(y - t) / n; mean: mean(y),
 * seed 1/n broadcast to y's shape; cotangents: sum over outputs of sum(ct * y), seed ct. n is the
 * element count at run time (Size), so the batch stays free. The l1 seed is 0 where y = t, as in
 * tfjs' Abs gradient.
 */
import { UserError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { ValueInfoProto } from '../onnx/proto-types.js';
import type { BackwardWriter } from './emitter.js';
import type { LossSpec } from './types.js';

export interface LossHead {
  loss: string;
  /** Forward value -> its seed gradient. */
  seeds: Map<string, string>;
  /** New graph inputs (target or cotangents). */
  inputs: ValueInfoProto[];
  target?: string;
  cotangents: Record<string, string>;
}

/** The forward values the loss reads. */
export function lossOutputs(loss: LossSpec): string[] {
  return loss.kind === 'cotangents' ? [...loss.outputs] : [loss.output];
}

function infoLike(model: Model, w: BackwardWriter, name: string, like: string): ValueInfoProto {
  const dims = w.dims(like) ?? model.graph.lookup(like)?.declaredShape;
  return {
    name,
    type: {
      tensor_type: {
        elem_type: 1,
        ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' && !d.includes('?') ? { dim_param: d } : {})) } } : {}),
      },
    },
  };
}

export function buildLossHead(model: Model, w: BackwardWriter, loss: LossSpec): LossHead {
  const outs = lossOutputs(loss);
  if (outs.length === 0) throw new UserError('autodiff-request', 'the loss reads no output');
  for (const o of outs) {
    if (!model.graph.lookup(o)) throw new UserError('no-such-value', `no value named '${o}' in the main graph (the loss reads it)`);
    const t = w.elemType(o);
    if (t !== undefined && t !== 1) throw new UserError('autodiff-dtype', `the loss reads '${o}', which is not float32`);
  }
  if (new Set(outs).size !== outs.length) throw new UserError('autodiff-request', 'the loss names an output twice');
  const head: LossHead = { loss: '', seeds: new Map(), inputs: [], cotangents: {} };
  const count = (y: string): string => w.emit('Cast', [w.emit('Size', [y], {}, { base: 'loss/Size' })[0]!], { to: 1 }, { base: 'loss/Cast' })[0]!;
  const meanAll = (x: string): string => w.emit('ReduceMean', [x], { keepdims: 0 }, { base: 'loss/ReduceMean' })[0]!;
  const sumAll = (x: string): string => w.emit('ReduceSum', [x], { keepdims: 0 }, { base: 'loss/ReduceSum' })[0]!;
  if (loss.kind === 'cotangents') {
    const parts: string[] = [];
    for (const y of outs) {
      const ct = w.fresh(`${y}_cotangent`);
      head.inputs.push(infoLike(model, w, ct, y));
      head.cotangents[y] = ct;
      head.seeds.set(y, ct);
      parts.push(sumAll(w.emit('Mul', [ct, y], {}, { base: 'loss/Mul' })[0]!));
    }
    head.loss = parts.length === 1 ? parts[0]! : w.emit('Sum', parts, {}, { base: 'loss/Sum' })[0]!;
    return head;
  }
  const y = outs[0]!;
  if (loss.kind === 'mean') {
    head.loss = meanAll(y);
    const inv = w.emit('Div', [w.constFloat([1], []), count(y)], {}, { base: 'loss/Div' })[0]!;
    head.seeds.set(y, w.emit('Expand', [inv, w.shape(y)], {}, { base: 'loss/Expand' })[0]!);
    return head;
  }
  const target = w.fresh('lossTarget');
  head.inputs.push(infoLike(model, w, target, y));
  head.target = target;
  const d = w.emit('Sub', [y, target], {}, { base: 'loss/Sub' })[0]!;
  if (loss.kind === 'mse') {
    head.loss = meanAll(w.emit('Mul', [d, d], {}, { base: 'loss/Mul' })[0]!);
    const scale = w.emit('Div', [w.constFloat([2], []), count(y)], {}, { base: 'loss/Div' })[0]!;
    head.seeds.set(y, w.emit('Mul', [d, scale], {}, { base: 'loss/Mul' })[0]!);
  } else {
    head.loss = meanAll(w.emit('Abs', [d], {}, { base: 'loss/Abs' })[0]!);
    const scale = w.emit('Div', [w.constFloat([1], []), count(y)], {}, { base: 'loss/Div' })[0]!;
    head.seeds.set(y, w.emit('Mul', [w.emit('Sign', [d], {}, { base: 'loss/Sign' })[0]!, scale], {}, { base: 'loss/Mul' })[0]!);
  }
  return head;
}
