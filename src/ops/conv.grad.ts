/**
 * ONNX-graph gradient rules of the conv family (Conv), for src/autodiff/.
 *
 * Conv, y = conv(x, W) + B with groups g (depthwise included), any spatial rank:
 * - dx: ConvTranspose(dy, W) with the forward strides/dilations/group; pads and output_padding
 *   chosen so the result has x's extent (transposeGeometry).
 * - dW: a Conv over batch-transposed tensors: x reshaped to [Cg, g*N, H, W] (batch <- input channel
 *   within the group, channels <- group-major batch) convolved with dy transposed to [M, N, OH, OW]
 *   as the kernel, group g, the forward strides as dilations and dilations as strides, the forward
 *   pads; the result [Cg, M, K'...] (K' >= k) is cropped to k and transposed to [M, Cg, k...].
 * - dB: ReduceSum of dy over the batch and spatial axes.
 * Spatial dims must be static (batch may be symbolic).
 */
import { range, spatialDims, transposeGeometry, windowOf } from './grad-common.js';
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
  if (wanted[0]) {
    const { pads, outputPadding } = transposeGeometry(win, sp!);
    const attrs: Record<string, number[] | number> = { strides: win.strides, dilations: win.dilations, pads, group, kernel_shape: kernel };
    if (outputPadding.some((p) => p !== 0)) attrs.output_padding = outputPadding;
    out[0] = g.emit('ConvTranspose', [d, wt], attrs)[0]!;
  }
  if (wanted[1]) out[1] = weightGrad(g, d, x, wdims, sp!, win, group);
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

const CONV: GradientRule = { backward: convBackward };

export const CONV_GRADIENTS: GradientTable = { Conv: CONV };
