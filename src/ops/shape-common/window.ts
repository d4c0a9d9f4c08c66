/**
 * Output size of a sliding window (Conv and the pools): kernel, strides, dilations, explicit pads
 * or auto_pad, and the pools' ceil_mode.
 */
import type { Node } from '../../ir/node.js';
import { dimAdd, dimCeilDiv, dimFloorDiv, dimSub } from './dims.js';
import type { Dim } from './types.js';
import { fail } from './util.js';

export interface WindowAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin_1..begin_n, end_1..end_n] */
  pads: number[];
  autoPad: string;
  ceilMode: boolean;
}

/** Read the window attributes of a node with `n` spatial dims (kernel given by the caller). */
export function windowAttrs(node: Node, kernel: number[], opts: { dilations?: boolean; ceilMode?: boolean } = {}): WindowAttrs {
  const n = kernel.length;
  const strides = node.attrInts('strides') ?? new Array<number>(n).fill(1);
  const dilations = (opts.dilations === false ? undefined : node.attrInts('dilations')) ?? new Array<number>(n).fill(1);
  const pads = node.attrInts('pads') ?? new Array<number>(2 * n).fill(0);
  if (strides.length !== n || dilations.length !== n || pads.length !== 2 * n) {
    fail(node, `strides/dilations/pads lengths (${strides.length}/${dilations.length}/${pads.length}) do not match ${n} spatial dims`);
  }
  if (strides.some((s) => s <= 0)) fail(node, `strides must be positive, got [${strides.join(', ')}]`);
  return {
    kernel,
    strides,
    dilations,
    pads,
    autoPad: node.attrString('auto_pad', 'NOTSET'),
    ceilMode: opts.ceilMode === true && node.attrInt('ceil_mode', 0) === 1,
  };
}

/** Output size along spatial axis i for input size `size`. */
export function windowOut(node: Node, size: Dim, w: WindowAttrs, i: number): Dim {
  const s = w.strides[i]!;
  const dk = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
  switch (w.autoPad) {
    case 'SAME_UPPER':
    case 'SAME_LOWER':
      return dimCeilDiv(size, s);
    case 'VALID':
      return checkPositive(node, dimAdd(dimFloorDiv(dimSub(size, dk), s), 1), size, i);
    case 'NOTSET':
    case '': {
      const pb = w.pads[i]!;
      const pe = w.pads[i + w.kernel.length]!;
      const span = dimSub(dimAdd(size, pb + pe), dk);
      if (!w.ceilMode) return checkPositive(node, dimAdd(dimFloorDiv(span, s), 1), size, i);
      let o = dimAdd(dimCeilDiv(span, s), 1);
      // the last window must start inside the input or its left padding (PyTorch and ONNX Runtime)
      if (typeof o === 'number' && typeof size === 'number' && (o - 1) * s >= size + pb) o -= 1;
      return checkPositive(node, o, size, i);
    }
    default:
      return fail(node, `unknown auto_pad '${w.autoPad}'`);
  }
}

function checkPositive(node: Node, o: Dim, size: Dim, i: number): Dim {
  if (typeof o === 'number' && o <= 0) fail(node, `input size ${String(size)} on spatial axis ${i} is smaller than the window`);
  return o;
}
