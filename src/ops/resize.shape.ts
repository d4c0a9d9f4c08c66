/**
 * Shape rules of the resize family: Resize (scales or sizes inputs; opset 10 has scales only; 18
 * adds axes and keep_aspect_ratio_policy), the older Upsample (scales as attribute before opset
 * 9), and GridSample.
 */
import type { Node } from '../ir/node.js';
import { dimMul, formatShape } from './shape-common/dims.js';
import type { Dim, RuleContext, ShapeInfo, ShapeRule } from './shape-common/types.js';
import { elemCount, fail, has, normAxis, numbers, out } from './shape-common/util.js';
import type { ShapeRuleTable } from './types.js';

/** floor(dim * scale) as ONNX Runtime computes it (float32 product). */
function scaled(d: Dim, scale: number, ctx: RuleContext): Dim {
  if (typeof d === 'number') return Math.floor(Math.fround(Math.fround(scale) * d));
  if (scale === 1) return d;
  return Number.isInteger(scale) && scale > 0 ? dimMul(d, scale) : ctx.fresh();
}

/** Whether an optional input is given and non-empty (exporters pass empty tensors for "unused"). */
function given(node: Node, i: number, info: ShapeInfo | undefined): boolean {
  if (!has(node, i)) return false;
  const n = info?.shape ? elemCount(info.shape) : undefined;
  return n !== 0;
}

const resize: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const elemType = inputs[0]?.elemType;
  const scalesSlot = ctx.opset < 11 ? 1 : 2;
  const axes = (ctx.opset >= 18 ? node.attrInts('axes') : undefined)?.map((a) => normAxis(node, a, x.length)) ?? x.map((_, i) => i);
  const unknown = (): ShapeInfo[] => [out(x.map((d, i) => (axes.includes(i) ? ctx.fresh() : d)), elemType)];
  const shape = [...x];
  if (ctx.opset >= 11 && given(node, 3, inputs[3])) {
    const sizes = numbers(inputs[3]);
    if (!sizes) return unknown();
    if (sizes.length !== axes.length) fail(node, `${sizes.length} sizes for ${axes.length} axes of ${formatShape(x)}`);
    const policy = ctx.opset >= 18 ? node.attrString('keep_aspect_ratio_policy', 'stretch') : 'stretch';
    if (policy === 'stretch') {
      axes.forEach((a, i) => (shape[a] = sizes[i]!));
      return [out(shape, elemType)];
    }
    const dims = axes.map((a) => x[a]!);
    if (!dims.every((d): d is number => typeof d === 'number')) return unknown();
    const ratios = sizes.map((s, i) => s / dims[i]!);
    const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
    axes.forEach((a, i) => (shape[a] = Math.round(scale * dims[i]!)));
    return [out(shape, elemType)];
  }
  if (!given(node, scalesSlot, inputs[scalesSlot])) return fail(node, 'neither scales nor sizes is given');
  const scales = numbers(inputs[scalesSlot]);
  if (!scales) return unknown();
  if (scales.length !== axes.length) fail(node, `${scales.length} scales for ${axes.length} axes of ${formatShape(x)}`);
  axes.forEach((a, i) => (shape[a] = scaled(x[a]!, scales[i]!, ctx)));
  return [out(shape, elemType)];
};

const upsample: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  if (!x) return undefined;
  const scales = ctx.opset < 9 ? node.attrFloats('scales') : numbers(inputs[1]);
  if (!scales) return ctx.opset < 9 ? fail(node, 'scales is required') : [out(x.map(() => ctx.fresh()), inputs[0]?.elemType)];
  if (scales.length !== x.length) fail(node, `${scales.length} scales for input ${formatShape(x)}`);
  return [out(x.map((d, i) => scaled(d, scales[i]!, ctx)), inputs[0]?.elemType)];
};

/**
 * GridSample: X [N, C, D1, ..., Dr] sampled at grid [N, D1_out, ..., Dr_out, r] gives
 * [N, C, D1_out, ..., Dr_out] (opset 16: 4-D only, r = 2; opset 20: any r >= 1).
 */
const gridSample: ShapeRule = (node, inputs, ctx) => {
  const x = inputs[0]?.shape;
  const g = inputs[1]?.shape;
  if (!x && !g) return undefined;
  const rank = x?.length ?? g!.length;
  if (rank < 3 || (ctx.opset < 20 && rank !== 4)) fail(node, `X ${formatShape(x ?? g)} must be ${ctx.opset < 20 ? '4-D [N, C, H, W]' : '[N, C, D1, ...]'} at opset ${ctx.opset}`);
  if (g) {
    if (g.length !== rank) fail(node, `grid ${formatShape(g)} must have rank ${rank} (that of X ${formatShape(x)})`);
    const last = g[rank - 1]!;
    if (typeof last === 'number' && last !== rank - 2) fail(node, `the last dim of grid ${formatShape(g)} must be ${rank - 2}`);
  }
  let n: Dim = x?.[0] ?? g![0]!;
  if (x && g) {
    const [a, b] = [x[0]!, g[0]!];
    if (typeof a === 'number' && typeof b === 'number' && a !== b) fail(node, `batch of X ${formatShape(x)} and grid ${formatShape(g)} differ`);
    if (typeof a !== 'number' && typeof b === 'number') n = b;
  }
  const spatial = g ? g.slice(1, rank - 1) : Array.from({ length: rank - 2 }, () => ctx.fresh());
  return [out([n, x?.[1] ?? ctx.fresh(), ...spatial], inputs[0]?.elemType)];
};

export const RESIZE_SHAPE_RULES: ShapeRuleTable = {
  GridSample: gridSample,
  Resize: resize,
  Upsample: upsample,
};
