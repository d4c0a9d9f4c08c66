/**
 * Resize (scales or sizes inputs; opset 10 has scales only; 18 adds axes and
 * keep_aspect_ratio_policy) and the older Upsample (scales as attribute before opset 9).
 */
import type { Node } from '../../../ir/node.js';
import { dimMul, formatShape } from '../dims.js';
import type { Dim, RuleContext, ShapeInfo, ShapeRule } from '../types.js';
import { elemCount, fail, has, normAxis, numbers, out } from './util.js';

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

export const RESIZE_RULES: Record<string, ShapeRule> = {
  Resize: resize,
  Upsample: upsample,
};
