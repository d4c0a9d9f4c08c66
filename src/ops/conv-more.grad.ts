/**
 * ONNX gradient rule of ConvTranspose (conv family; Conv is in conv.grad.ts), for explicit pads,
 * any group, any spatial rank:
 * - dX = Conv(dy, W) with ConvTranspose's strides, pads, dilations and group (the adjoint map);
 * - dW[ci, co, k] = sum over n, p of x[n, ci, p] G[n, co, s p + d k], G = dy zero-padded back to the
 *   uncropped output: a Conv of G with the channel axes swapped (batch as channels) by x as the
 *   kernel, dilated by the stride and strided by the dilation, cut to the kernel size; with groups,
 *   x and G are split equally per group along their channel axes and the groups'
 *   weight gradients [C_in / group, C_out / group, k] concatenated along axis 0;
 * - dB = ReduceSum of dy over the batch and spatial axes.
 * auto_pad other than NOTSET and output_shape are refused before anything runs.
 */
import { inputName, one, rankOf, reduceSum } from './grad-helpers.js';
import type { GradientRule, GradientTable } from './types.js';

const convTranspose: GradientRule = {
  unsupported: (node) => {
    const ap = node.attrString('auto_pad', 'NOTSET');
    if (ap !== 'NOTSET') return `the gradient of ConvTranspose with auto_pad ${ap}`;
    if (node.attribute('output_shape')) return 'the gradient of ConvTranspose with output_shape';
    return undefined;
  },
  backward: (g, dy, wanted) => {
    const out: (string | null)[] = g.node.inputs.map(() => null);
    const d = dy[0];
    if (!d) return out;
    const node = g.node;
    const x = inputName(g, 0);
    const w = inputName(g, 1);
    const r = rankOf(g, x);
    const sp = r - 2;
    const strides = node.attrInts('strides') ?? new Array<number>(sp).fill(1);
    const dil = node.attrInts('dilations') ?? new Array<number>(sp).fill(1);
    const pads = node.attrInts('pads') ?? new Array<number>(2 * sp).fill(0);
    const group = node.attrInt('group', 1)!;
    const wd = g.dims(w) ?? g.fail('the kernel shape must be static');
    if (wd.slice(2).some((v) => typeof v !== 'number')) g.fail('the kernel shape must be static');
    const kernel = wd.slice(2) as number[];
    if (wanted[0]) out[0] = one(g, 'Conv', [d, w], { strides: [...strides], pads: [...pads], dilations: [...dil], group, kernel_shape: kernel });
    if (wanted[1]) {
      const swap = [1, 0, ...Array.from({ length: sp }, (_, i) => i + 2)];
      // G: dy zero-padded by the crop (pads) back to the uncropped output
      const padded = pads.some((p) => p !== 0) ? one(g, 'Pad', [d, g.constInt64([0, 0, ...pads.slice(0, sp), 0, 0, ...pads.slice(sp)])], { mode: 'constant' }) : d;
      const groupGrad = (gy: string, xs: string): string => {
        const a = one(g, 'Transpose', [gy], { perm: swap });
        const k = one(g, 'Transpose', [xs], { perm: swap });
        const full = one(g, 'Conv', [a, k], { dilations: [...strides], strides: [...dil] });
        const cut = one(g, 'Slice', [full, g.constInt64(kernel.map(() => 0)), g.constInt64(kernel), g.constInt64(kernel.map((_, i) => i + 2))]);
        return one(g, 'Transpose', [cut], { perm: swap });
      };
      if (group === 1) out[1] = groupGrad(padded, x);
      else {
        // equal splits along the channel axes (Split without sizes, in every opset's form)
        const parts = (v: string): string[] => g.emit('Split', [v], { axis: 1, ...(g.opset >= 18 ? { num_outputs: group } : {}) }, { outputs: group });
        const ys = parts(padded);
        const xs = parts(x);
        out[1] = one(g, 'Concat', ys.map((gy, i) => groupGrad(gy, xs[i]!)), { axis: 0 });
      }
    }
    if (node.inputs[2] && wanted[2]) out[2] = reduceSum(g, d, [0, ...Array.from({ length: sp }, (_, i) => i + 2)], false);
    return out;
  },
};

export const CONV_MORE_GRADIENTS: GradientTable = { ConvTranspose: convTranspose };
