/**
 * Helpers the ONNX-graph gradient rules (`<family>.grad.ts`) share: static geometry of windowed
 * ops (conv, pools) and reading attributes. Type-only towards the emitter: no tfjs, no ORT.
 */
import type { Node } from '../ir/node.js';
import type { GradientEmitter } from './types.js';

/** Static spatial dims of a value (from dim 2 on), or undefined when any is not a number. */
export function spatialDims(g: GradientEmitter, value: string): number[] | undefined {
  const d = g.dims(value);
  if (!d || d.length < 3) return undefined;
  const s = d.slice(2);
  return s.every((x) => typeof x === 'number') ? (s as number[]) : undefined;
}

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, per spatial dim (auto_pad resolved). */
  begin: number[];
  end: number[];
  /** Output spatial dims. */
  out: number[];
}

/** The window geometry of a Conv/pool node over input spatial dims `input` (auto_pad resolved; ceil_mode for pools). */
export function windowOf(node: Node, input: readonly number[], kernel: readonly number[]): Window {
  const r = input.length;
  const strides = node.attrInts('strides') ?? new Array<number>(r).fill(1);
  const dilations = node.attrInts('dilations') ?? new Array<number>(r).fill(1);
  const autoPad = node.attrString('auto_pad', 'NOTSET');
  const ceil = node.attrInt('ceil_mode', 0) === 1;
  const pads = node.attrInts('pads') ?? new Array<number>(2 * r).fill(0);
  const begin: number[] = [];
  const end: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const ext = (kernel[i]! - 1) * dilations[i]! + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = Math.ceil(input[i]! / strides[i]!);
      const total = Math.max(0, (o - 1) * strides[i]! + ext - input[i]!);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
      out.push(o);
      continue;
    }
    const b = autoPad === 'VALID' ? 0 : pads[i]!;
    const e = autoPad === 'VALID' ? 0 : pads[i + r]!;
    begin.push(b);
    end.push(e);
    const span = input[i]! + b + e - ext;
    let o = (ceil ? Math.ceil(span / strides[i]!) : Math.floor(span / strides[i]!)) + 1;
    // ONNX: with ceil_mode the last window must start inside the input or the begin padding
    if (ceil && (o - 1) * strides[i]! >= input[i]! + b) o--;
    out.push(o);
  }
  return { kernel: [...kernel], strides, dilations, begin, end, out };
}

/**
 * ConvTranspose pads and output_padding that turn an output-sized gradient back into an
 * input-sized one: the full transposed result has s*(o-1) + ext elements; cropping `begin` in
 * front leaves the input's extent when the end crop is that minus the input (or, when the full
 * result is short, output_padding adds the missing tail).
 */
export function transposeGeometry(w: Window, input: readonly number[]): { pads: number[]; outputPadding: number[] } {
  const r = input.length;
  const endCrop: number[] = [];
  const outputPadding: number[] = [];
  for (let i = 0; i < r; i++) {
    const ext = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
    const total = w.strides[i]! * (w.out[i]! - 1) + ext - w.begin[i]! - input[i]!;
    endCrop.push(Math.max(total, 0));
    outputPadding.push(Math.max(-total, 0));
  }
  return { pads: [...w.begin, ...endCrop], outputPadding };
}

/** 0..n-1 */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Rank of a value from its static dims; fails naming the node when unknown. */
export function rankOf(g: GradientEmitter, value: string): number {
  const d = g.dims(value);
  if (!d) g.fail(`the rank of '${value}' is not known statically`);
  return d!.length;
}
