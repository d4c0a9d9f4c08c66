/**
 * ONNX-graph gradient rules of the conv family (Conv), for src/autodiff/.
 *
 * Conv, y = conv(x, W) + B with groups g (depthwise included), any spatial rank:
 * - dx: ConvTranspose(dy, W) with the forward strides/dilations/group; pads and output_padding
 *   chosen so the result has x's extent (transposeGeometry); for stride-1 convs a plain Conv of dy
 *   with W transposed per group and flipped in space (CONV_INPUT_GRAD);
 *   a ConvTranspose with a constant weight is followed by an identity depthwise conv where x is in
 *   ONNX Runtime's blocked layout (src/ops/grad-layout.ts).
 * - dW (see CONV_WEIGHT_GRAD for which form runs): by unfolding (the kernel taps of x as channels
 *   of a one-hot depthwise Conv, contracted with dy by a batched MatMul), or by a Conv over
 *   batch-transposed tensors: x reshaped to [Cg, g*N, H, W] (batch <- input channel
 *   within the group, channels <- group-major batch) convolved with dy transposed to [M, N, OH, OW]
 *   as the kernel, group g, the forward strides as dilations and dilations as strides, the forward
 *   pads; the result [Cg, M, K'...] (K' >= k) is cropped to k and transposed to [M, Cg, k...].
 * - dB: ReduceSum of dy over the batch and spatial axes.
 * Spatial dims must be static (batch may be symbolic).
 */
import { range, spatialDims, transposeGeometry, windowOf } from './grad-common.js';
import { reblock } from './grad-layout.js';
import type { GradientEmitter, GradientRule, GradientTable } from './types.js';

function convBackward(g: GradientEmitter, dy: readonly (string | null)[], wanted: readonly boolean[]): (string | null)[] {
  const node = g.node;
  const d = dy[0];
  if (!d) return [null, null, null];
  const x = node.inputs[0]!.name;
  const wt = node.inputs[1]!.name;
  const group = node.attrInt('group', 1);
  const wd = g.dims(wt);
  const sp = spatialDims(g, x);
  if (!wd || wd.some((v) => typeof v !== 'number')) g.fail('the weight dims are not known statically');
  if (!sp) g.fail(`the spatial dims of '${x}' are not known statically`);
  const wdims = wd as number[];
  const kernel = node.attrInts('kernel_shape') ?? wdims.slice(2);
  const win = windowOf(node, sp!, kernel);
  const r = sp!.length;
  const out: (string | null)[] = [null, null, null];
  const stride1 = win.strides.every((v) => v === 1);
  const convPads = win.begin.map((b, i) => (win.kernel[i]! - 1) * win.dilations[i]! - b).concat(win.end.map((e, i) => (win.kernel[i]! - 1) * win.dilations[i]! - e));
  const flipped = CONV_INPUT_GRAD.form !== 'conv-transpose';
  if (wanted[0] && flipped && stride1 && convPads.every((p) => p >= 0)) {
    // stride 1: dX is a plain Conv of dy with W transposed per group and flipped in space, which
    // ONNX Runtime runs like the forward (constant-folded and prepacked where W is constant)
    const Mg = wdims[0]! / group;
    const Cg = wdims[1]!;
    let wt2 = wt;
    if (group === 1) wt2 = g.emit('Transpose', [wt], { perm: [1, 0, ...range(2, 2 + r)] })[0]!;
    else {
      const w5 = g.emit('Reshape', [wt, g.constInt64([group, Mg, Cg, ...kernel])])[0]!;
      const t = g.emit('Transpose', [w5], { perm: [0, 2, 1, ...range(3, 3 + r)] })[0]!;
      wt2 = g.emit('Reshape', [t, g.constInt64([group * Cg, Mg, ...kernel])])[0]!;
    }
    if (kernel.some((k) => k > 1)) {
      const kk = kernel.reduce((a, b) => a * b, 1);
      if (g.isConstant(wt)) {
        const axes = range(2, 2 + r);
        wt2 = g.emit('Slice', [wt2, g.constInt64(axes.map(() => -1)), g.constInt64(axes.map(() => -(2 ** 62))), g.constInt64(axes), g.constInt64(axes.map(() => -1))])[0]!;
      } else {
        // a trained weight is flipped at every step: a MatMul by the kk x kk reversal runs far
        // faster in ONNX Runtime than a Slice with negative steps
        const rev = new Array<number>(kk * kk).fill(0);
        for (let t = 0; t < kk; t++) rev[t * kk + (kk - 1 - t)] = 1;
        const flat = g.emit('Reshape', [wt2, g.constInt64([-1, kk])])[0]!;
        const f = g.emit('MatMul', [flat, g.constFloat(rev, [kk, kk])])[0]!;
        wt2 = g.emit('Reshape', [f, g.constInt64([wdims[1]! * group, Mg, ...kernel])])[0]!;
      }
    }
    out[0] = g.emit('Conv', [d, wt2], { dilations: win.dilations, pads: convPads, group, kernel_shape: kernel })[0]!;
  } else if (wanted[0]) {
    const { pads, outputPadding } = transposeGeometry(win, sp!);
    const attrs: Record<string, number[] | number> = { strides: win.strides, dilations: win.dilations, pads, group, kernel_shape: kernel };
    if (outputPadding.some((p) => p !== 0)) attrs.output_padding = outputPadding;
    out[0] = g.emit('ConvTranspose', [d, wt], attrs)[0]!;
    // a constant weight: the backward around it runs blocked, so bring dX back (src/ops/grad-layout.ts)
    if (g.isConstant(wt)) out[0] = reblock(g, out[0], node.inputs[0]!);
  }
  if (wanted[1]) {
    const f = CONV_WEIGHT_GRAD.form === 'auto' ? (wdims[1]! <= FEW_CHANNELS ? 'transposed-conv' : 'unfold') : CONV_WEIGHT_GRAD.form;
    out[1] = f === 'taps' && group === 1 ? weightGradTaps(g, d, x, wdims, sp!, win) : (f === 'unfold' ? weightGradUnfold : weightGrad)(g, d, x, wdims, sp!, win, group);
  }
  if (wanted[2]) out[2] = g.reduceSum(d, [0, ...range(2, 2 + r)], false);
  return out;
}

function weightGrad(g: GradientEmitter, d: string, x: string, wdims: number[], sp: number[], win: ReturnType<typeof windowOf>, group: number): string {
  const r = sp.length;
  const Cg = wdims[1]!;
  const perm = [1, 0, ...range(2, 2 + r)];
  let xs: string;
  if (group === 1) xs = g.emit('Transpose', [x], { perm })[0]!;
  else {
    const x5 = g.emit('Reshape', [x, g.constInt64([-1, group, Cg, ...sp])])[0]!;
    const t = g.emit('Transpose', [x5], { perm: [2, 1, 0, ...range(3, 3 + r)] })[0]!;
    xs = g.emit('Reshape', [t, g.constInt64([Cg, -1, ...sp])])[0]!;
  }
  const dyt = g.emit('Transpose', [d], { perm })[0]!;
  const full = g.emit('Conv', [xs, dyt], { strides: win.dilations, dilations: win.strides, pads: [...win.begin, ...win.end], group })[0]!;
  // K' = floor((H + pads - (O-1)*s - 1) / d) + 1 >= k: crop to k
  const kp = sp.map((h, i) => Math.floor((h + win.begin[i]! + win.end[i]! - (win.out[i]! - 1) * win.strides[i]! - 1) / win.dilations[i]!) + 1);
  let cropped = full;
  if (kp.some((k, i) => k !== win.kernel[i])) {
    cropped = g.emit('Slice', [full, g.constInt64(new Array<number>(r).fill(0)), g.constInt64(win.kernel), g.constInt64(range(2, 2 + r))])[0]!;
  }
  return g.emit('Transpose', [cropped], { perm })[0]!;
}

/**
 * dW by unfolding: patches = Conv(x, one-hot kernel [C*kk, 1, k...], group C) -> [N, C*kk, O...]
 * (each channel's kk window taps), then a batched contraction with dy over the output positions
 * and the batch: dW[g, m, c*kk] = sum_n,l dy[n, g, m, l] patches[n, g, c*kk, l] (MatMul over l,
 * then a MatMul by ones over n; or n folded into the contraction where output positions are
 * fewer than output channels), which is W's own layout. A 1x1 conv with stride 1 and no pads
 * uses x itself.
 */
function weightGradUnfold(g: GradientEmitter, d: string, x: string, wdims: number[], _sp: number[], win: ReturnType<typeof windowOf>, group: number): string {
  const M = wdims[0]!;
  const Cg = wdims[1]!;
  const C = Cg * group;
  const kk = win.kernel.reduce((a, b) => a * b, 1);
  const trivial = kk === 1 && win.strides.every((v) => v === 1) && [...win.begin, ...win.end].every((v) => v === 0);
  let patches = x;
  if (!trivial) {
    const eye: number[] = new Array<number>(C * kk * kk).fill(0);
    for (let c = 0; c < C; c++) for (let t = 0; t < kk; t++) eye[(c * kk + t) * kk + t] = 1;
    const e = g.constFloat(eye, [C * kk, 1, ...win.kernel]);
    patches = g.emit('Conv', [x, e], { strides: win.strides, dilations: win.dilations, pads: [...win.begin, ...win.end], group: C, kernel_shape: win.kernel })[0]!;
  }
  const L = win.out.reduce((a, b) => a * b, 1);
  // dW[g] = sum_n dy[n, g] @ patches[n, g]^T is already W's layout [Mg, Cg*kk] (patch channel
  // c*kk + t): no transpose of the result (ONNX Runtime fuses the patches' transpose into the MatMul)
  const Mg = M / group;
  const p4 = g.emit('Reshape', [patches, g.constInt64([-1, group, Cg * kk, L])])[0]!;
  const d4 = g.emit('Reshape', [d, g.constInt64([-1, group, Mg, L])])[0]!;
  let gw: string;
  if (L >= Mg) {
    const pT = g.emit('Transpose', [p4], { perm: [0, 1, 3, 2] })[0]!;
    const prod = g.emit('MatMul', [d4, pT])[0]!;
    // the sum over the batch as a MatMul by ones [1, N]: ONNX Runtime's ReduceSum over a leading
    // axis (size 1 at batch 1) runs several times slower than a copy on weight-sized tensors
    gw = g.emit('MatMul', [onesRow(g, d), g.emit('Reshape', [prod, g.constInt64([0, -1])])[0]!])[0]!;
  } else {
    // few output positions (deep layers): fold the batch into the contraction instead of summing
    // N products of the weight's size (the transposes only move the batch axis: copies at batch 1)
    const dF = g.emit('Reshape', [g.emit('Transpose', [d4], { perm: [1, 2, 0, 3] })[0]!, g.constInt64([group, Mg, -1])])[0]!;
    const pF = g.emit('Reshape', [g.emit('Transpose', [p4], { perm: [1, 2, 0, 3] })[0]!, g.constInt64([group, Cg * kk, -1])])[0]!;
    gw = g.emit('MatMul', [dF, g.emit('Transpose', [pF], { perm: [0, 2, 1] })[0]!])[0]!;
  }
  return g.emit('Reshape', [gw, g.constInt64([M, Cg, ...win.kernel])])[0]!;
}

/** Ones [1, N] for the batch N of `v` (a constant where N is static). */
function onesRow(g: GradientEmitter, v: string): string {
  const n = g.dims(v)?.[0];
  if (typeof n === 'number') return g.constFloat(new Array<number>(n).fill(1), [1, n]);
  const shape = g.emit('Concat', [g.constInt64([1]), g.shape(v, 0, 1)], { axis: 0 })[0]!;
  return g.emit('Expand', [g.constFloat([1], [1, 1]), shape])[0]!;
}

/**
 * dW by channels-last taps (group 1): x transposed to [N, H, W, C] and padded once; each kernel tap
 * is one strided Slice [N, O..., C]; their Concat along the channels is the im2col matrix
 * [N, L, kk*C]; dW = ReduceSum_n(dy [N, M, L] @ patches) reshaped [M, k..., C] and transposed to
 * [M, C, k...]. Only copies besides the one batched GEMM.
 */
function weightGradTaps(g: GradientEmitter, d: string, x: string, wdims: number[], sp: number[], win: ReturnType<typeof windowOf>): string {
  const r = sp.length;
  const M = wdims[0]!;
  const C = wdims[1]!;
  let xl = g.emit('Transpose', [x], { perm: [0, ...range(2, 2 + r), 1] })[0]!;
  const pads = [0, ...win.begin, 0, 0, ...win.end, 0];
  if (pads.some((v) => v !== 0)) xl = g.opset >= 11 ? g.emit('Pad', [xl, g.constInt64(pads)])[0]! : g.emit('Pad', [xl], { pads })[0]!;
  const taps: number[][] = [[]];
  for (const k of win.kernel) {
    const next: number[][] = [];
    for (const t of taps) for (let i = 0; i < k; i++) next.push([...t, i]);
    taps.splice(0, taps.length, ...next);
  }
  const axes = g.constInt64(range(1, 1 + r));
  const steps = g.constInt64(win.strides);
  const identity = taps.length === 1 && win.strides.every((v) => v === 1) && pads.every((v) => v === 0);
  const pieces = identity
    ? [xl]
    : taps.map((t) => {
        const starts = t.map((i, a) => i * win.dilations[a]!);
        const ends = starts.map((s0, a) => s0 + (win.out[a]! - 1) * win.strides[a]! + 1);
        return g.emit('Slice', [xl, g.constInt64(starts), g.constInt64(ends), axes, steps])[0]!;
      });
  const cat = pieces.length === 1 ? pieces[0]! : g.emit('Concat', pieces, { axis: r + 1 })[0]!;
  const L = win.out.reduce((a, b) => a * b, 1);
  const kk = taps.length;
  const p3 = g.emit('Reshape', [cat, g.constInt64([-1, L, kk * C])])[0]!;
  const d3 = g.emit('Reshape', [d, g.constInt64([-1, M, L])])[0]!;
  const gw = g.reduceSum(g.emit('MatMul', [d3, p3])[0]!, [0], false);
  const w4 = g.emit('Reshape', [gw, g.constInt64([M, ...win.kernel, C])])[0]!;
  return g.emit('Transpose', [w4], { perm: [0, r + 1, ...range(1, 1 + r)] })[0]!;
}

/**
 * How dX is computed for stride-1 convs: 'conv', a Conv with the flipped weight; 'conv-transpose',
 * ConvTranspose as for strided ones; 'auto' (measured, docs/AUTODIFF.md), the same as 'conv': with
 * a constant weight ONNX Runtime folds the flip once and runs the Conv like the forward; with a
 * trained weight the per-step transpose and flip (a MatMul by the tap reversal) cost less than
 * ConvTranspose's col2im (a ResNet-50's all-weight step 9% faster at 498x664, 4.5% at 224x224).
 */
export const CONV_INPUT_GRAD: { form: 'auto' | 'conv' | 'conv-transpose' } = { form: 'auto' };

/**
 * Which dW formulation the rule emits. 'auto' (measured on ONNX Runtime CPU, docs/AUTODIFF.md):
 * the transposed conv where a group has few input channels (its big-kernel conv then runs over
 * few batch items: the 7x7 stem on RGB), else unfolding (1.5-3x faster on 3x3 and 1x1 layers).
 * The other forms stay selectable for the measurement (src/bench).
 */
export const CONV_WEIGHT_GRAD: { form: 'auto' | 'transposed-conv' | 'unfold' | 'taps' } = { form: 'auto' };

/** Input channels per group up to which 'auto' takes the transposed conv. */
const FEW_CHANNELS = 16;

const CONV: GradientRule = { backward: convBackward };

export const CONV_GRADIENTS: GradientTable = { Conv: CONV };
