/**
 * Gradient forms that keep a conv net's backward pass in ONNX Runtime's blocked (NCHWc) layout.
 *
 * ONNX Runtime's CPU provider runs a Conv whose weight is a constant in a channel-blocked layout
 * (NCHWc) and keeps Relu, Add/Sum (fused into the conv), Mul and BatchNormalization in that layout
 * when every input is blocked; any other op gets its inputs reordered back to NCHW and its output
 * reordered forward again. In the backward pass of a conv net with constant weights (the gradient
 * an attack needs), the textbook rules break the layout at every ReLU (Greater + Where), at
 * GlobalAveragePool (Expand + Div) and after every strided conv's ConvTranspose, so the residual
 * stream of the backward runs in NCHW between reorders. Measured on a ResNet-50 at 498x664
 * (docs/AUTODIFF.md), the forms below leave 11 of its 141 reorders.
 *
 * The forms are exact except where noted, run on every provider, and are emitted only where
 * `blockedLayout` says the forward value is blocked; elsewhere the rules keep the textbook forms.
 */
import type { Value } from '../ir/value.js';
import type { GradientEmitter } from './types.js';

/** Channel counts that ONNX Runtime blocks on every CPU (its block is 8 with AVX2, 16 with AVX-512). */
const BLOCK = 16;

/** Whether the rules use the blocked forms (on by default; off gives the textbook forms, for measurements and tests). */
export const BLOCKED_LAYOUT = { enabled: true };

// per Value: buildGradientGraph differentiates a fresh clone, so one request's constants decide
const memo = new WeakMap<Value, boolean>();

function channels(g: GradientEmitter, v: Value): number | undefined {
  const d = g.dims(v.name);
  return d && d.length === 4 && typeof d[1] === 'number' && d[1] % BLOCK === 0 && typeof d[2] === 'number' && typeof d[3] === 'number' ? d[1] : undefined;
}

function constConv(g: GradientEmitter, n: NonNullable<ReturnType<Value['producer']>>, c: number): boolean {
  const w = n.inputs[1];
  const b = n.inputs[2];
  if (!w || !g.isConstant(w.name) || (b && !g.isConstant(b.name))) return false;
  const group = n.attrInt('group', 1);
  return group === 1 || group === c;
}

/**
 * Whether ONNX Runtime's CPU provider computes forward value `v` in its blocked layout: a 4-D
 * float value with static spatial dims and channels a multiple of 16, made by a Conv with a
 * constant weight (and bias), or by Relu, Sigmoid, Tanh, BatchNormalization, Add, Sum, Mul or a
 * single-output pool of blocked values.
 */
export function blockedLayout(g: GradientEmitter, v: Value): boolean {
  const hit = memo.get(v);
  if (hit !== undefined) return hit;
  const c = channels(g, v);
  const n = v.producer();
  let r = false;
  if (c !== undefined && n && n.domain === '') {
    const ins = n.inputs.filter((x): x is Value => x !== null);
    const single = n.outputs.filter((o) => o !== null).length === 1;
    switch (n.opType) {
      case 'Conv':
        r = constConv(g, n, c);
        break;
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'BatchNormalization':
      case 'MaxPool':
      case 'AveragePool':
        // a MaxPool that also outputs Indices (for its own backward) has no blocked kernel
        r = single && !!ins[0] && blockedLayout(g, ins[0]);
        break;
      case 'Add':
      case 'Sum':
      case 'Mul':
        r = ins.length >= 1 && ins.every((x) => blockedLayout(g, x));
        break;
    }
  }
  memo.set(v, r);
  return r;
}

/** Channels of a blocked forward value (see blockedLayout), else undefined. */
export function blockedChannels(g: GradientEmitter, v: Value): number | undefined {
  return BLOCKED_LAYOUT.enabled && blockedLayout(g, v) ? channels(g, v) : undefined;
}

/** A depthwise 1x1 Conv of `x` ([N,C,H,W]) by the per-channel constant `w`: the blocked-layout form of x * w. */
export function channelScale(g: GradientEmitter, x: string, c: number, w: number): string {
  return g.emit('Conv', [x, g.constFloat(new Array<number>(c).fill(w), [c, 1, 1, 1])], { group: c, kernel_shape: [1, 1] })[0]!;
}

/**
 * The ReLU mask [y > 0] of a blocked y as Clip(y * 2^126, 0, 1): a depthwise conv (blocked) with a
 * fused Clip. Exact for y = 0 and every normal float; a subnormal y in (0, 2^-126) gives a partial
 * mask y * 2^126 instead of 1, and a NaN y a NaN mask (Where's mask gives 0).
 */
export function reluMask(g: GradientEmitter, y: Value, c: number): string {
  const scaled = channelScale(g, y.name, c, 2 ** 126);
  if (g.opset >= 11) return g.emit('Clip', [scaled, g.constFloat([0], []), g.constFloat([1], [])])[0]!;
  return g.emit('Clip', [scaled], { min: 0, max: 1 }, { floats: ['min', 'max'] })[0]!;
}

/** A gradient made by a non-blocked op (ConvTranspose), brought to the blocked layout by an identity depthwise conv when its forward value `like` is blocked. */
export function reblock(g: GradientEmitter, grad: string, like: Value): string {
  const c = blockedChannels(g, like);
  return c === undefined ? grad : channelScale(g, grad, c, 1);
}
