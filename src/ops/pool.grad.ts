/**
 * ONNX-graph gradient rules of the pool family, for src/autodiff/.
 *
 * - MaxPool (any spatial rank, overlapping windows, dilations, ceil_mode): the forward node also
 *   outputs its argmax Indices (flat over N*C*H*W*...); dx is ScatterElements of dy into zeros at
 *   those indices with reduction 'add' (opset 16), so overlapping windows that pick the same element
 *   add up. Below opset 16 (a model whose opset cannot be raised) only non-overlapping windows are
 *   differentiated (plain ScatterElements: every index is written once). storage_order 1 is refused.
 * - AveragePool: dy divided by each window's divisor (count_include_pad 1: the window clipped to the
 *   padded input; 0: to the input, computed statically as ONNX Runtime does), then ConvTranspose
 *   with a ones kernel over [N*C, 1, ...] (pads and output_padding give back x's extent).
 * - GlobalAveragePool: dy expanded to x's shape over the spatial size (the division a depthwise
 *   conv where x is in ONNX Runtime's blocked layout, src/ops/grad-layout.ts).
 * - GlobalMaxPool: dy where x equals the max (ties all receive it, as the mirror's tfjs gradient).
 */
import type { Node } from '../ir/node.js';
import { range, spatialDims, transposeGeometry, windowOf } from './grad-common.js';
import { blockedChannels, channelScale } from './grad-layout.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

function nonOverlapping(node: Node): boolean {
  const k = node.attrInts('kernel_shape') ?? [];
  const s = node.attrInts('strides') ?? k.map(() => 1);
  const d = node.attrInts('dilations') ?? k.map(() => 1);
  return k.every((ki, i) => (ki - 1) * d[i]! + 1 <= s[i]! && d[i] === 1);
}

const maxPool: GradientRule = {
  unsupported: (node, opset) => {
    if (node.attrInt('storage_order', 0) !== 0) return 'storage_order 1 (column-major Indices) is not handled';
    if (opset < 11) return `the gradient needs ScatterElements (opset 11); the gradient graph's opset is ${opset}`;
    if (opset < 16 && !nonOverlapping(node)) return `overlapping windows need ScatterElements with reduction 'add' (opset 16), and this model's opset ${opset} cannot be raised without changing a forward node`;
    return undefined;
  },
  extraOutputs: () => [1],
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const x = g.node.inputs[0]!.name;
    const idx = g.node.outputs[1]!.name;
    const flat = g.constInt64([-1]);
    const zeros = g.emit('Reshape', [g.zerosLike(x), flat])[0]!;
    const attrs: Record<string, number | string> = { axis: 0 };
    if (g.opset >= 16) attrs.reduction = 'add';
    const scattered = g.emit('ScatterElements', [zeros, g.emit('Reshape', [idx, flat])[0]!, g.emit('Reshape', [d, flat])[0]!], attrs)[0]!;
    return [g.reshapeLike(scattered, x)];
  },
};

/** Per-axis window sizes over the output positions, as ONNX Runtime divides. */
function divisors(size: number, out: number, k: number, s: number, pb: number, pe: number, includePad: boolean): number[] {
  return range(0, out).map((o) => {
    let start = o * s - pb;
    let end = Math.min(start + k, size + pe);
    const padded = end - start;
    start = Math.max(start, 0);
    end = Math.min(end, size);
    return includePad ? padded : end - start;
  });
}

const averagePool: GradientRule = {
  unsupported: (node) => ((node.attrInts('dilations') ?? []).some((d) => d !== 1) ? 'dilations other than 1 are not handled' : undefined),
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const node = g.node;
    const x = node.inputs[0]!.name;
    const sp = spatialDims(g, x);
    if (!sp) g.fail(`the spatial dims of '${x}' are not known statically`);
    const kernel = node.attrInts('kernel_shape') ?? g.fail('no kernel_shape');
    const w = windowOf(node, sp!, kernel);
    const includePad = node.attrInt('count_include_pad', 0) === 1;
    const r = sp!.length;
    // divisor table [O1, O2, ...] (separable), broadcast over N and C
    const per = sp!.map((h, i) => divisors(h, w.out[i]!, kernel[i]!, w.strides[i]!, w.begin[i]!, w.end[i]!, includePad));
    const table: number[] = [];
    const walk = (axis: number, acc: number): void => {
      if (axis === r) {
        table.push(1 / acc);
        return;
      }
      for (const v of per[axis]!) walk(axis + 1, acc * v);
    };
    walk(0, 1);
    const scaled = g.emit('Mul', [d, g.constFloat(table, w.out)])[0]!;
    const flat = g.emit('Reshape', [scaled, g.constInt64([-1, 1, ...w.out])])[0]!;
    const ones = g.constFloat(new Array<number>(kernel.reduce((a, b) => a * b, 1)).fill(1), [1, 1, ...kernel]);
    const { pads, outputPadding } = transposeGeometry(w, sp!);
    const attrs: Record<string, number[]> = { strides: w.strides, pads, kernel_shape: kernel };
    if (outputPadding.some((p) => p !== 0)) attrs.output_padding = outputPadding;
    const full = g.emit('ConvTranspose', [flat, ones], attrs)[0]!;
    return [g.reshapeLike(full, x)];
  },
};

function spatialSize(g: GradientEmitter, x: string): string {
  const sp = spatialDims(g, x);
  if (sp) return g.constFloat([sp.reduce((a, b) => a * b, 1)], []);
  // run time: Size(x) / (N*C)
  const size = g.emit('Cast', [g.emit('Size', [x])[0]!], { to: 1 })[0]!;
  const nc = g.emit('Cast', [g.emit('ReduceProd', [g.shape(x, 0, 2)], { keepdims: 0 })[0]!], { to: 1 })[0]!;
  return g.emit('Div', [size, nc])[0]!;
}

const globalAveragePool: GradientRule = {
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const xv = g.node.inputs[0]!;
    const x = xv.name;
    const e = g.emit('Expand', [d, g.shape(x)])[0]!;
    // x blocked (src/ops/grad-layout.ts): the division as a depthwise conv, so the backward starts blocked
    const c = blockedChannels(g, xv);
    if (c !== undefined) {
      const sp = spatialDims(g, x)!;
      return [channelScale(g, e, c, 1 / (sp[0]! * sp[1]!))];
    }
    return [g.emit('Div', [e, spatialSize(g, x)])[0]!];
  },
};

const globalMaxPool: GradientRule = {
  backward: (g, dy) => {
    const d = dy[0];
    if (!d) return [null];
    const x = g.node.inputs[0]!.name;
    const y = g.node.outputs[0]!.name;
    const mask = g.emit('Equal', [x, y])[0]!;
    return [g.emit('Where', [mask, g.emit('Expand', [d, g.shape(x)])[0]!, g.constFloat([0], [])])[0]!];
  },
};

export const POOL_GRADIENTS: GradientTable = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  GlobalMaxPool: globalMaxPool,
};
