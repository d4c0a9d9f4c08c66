/**
 * ONNX-graph gradient rules of the norm family (BatchNormalization in its inference form), for
 * src/autodiff/.
 *
 * y = scale * (x - mean) * inv + B, inv = 1 / sqrt(var + eps), per channel (axis 1):
 * dx = dy * scale * inv; dscale = sum(dy * (x - mean) * inv); dB = sum(dy);
 * dmean = -sum(dy) * scale * inv; dvar = -0.5 * sum(dy * (x - mean)) * scale * inv^3
 * (sums over every axis but 1). training_mode 1 (batch statistics) is refused.
 */
import { range } from './grad-common.js';
import type { GradientRule, GradientTable } from './types.js';

const batchNorm: GradientRule = {
  unsupported: (node) => (node.attrInt('training_mode', 0) !== 0 ? 'training_mode 1 (batch statistics) is not handled; export the model in eval mode' : node.outputs.length > 1 && node.outputs.slice(1).some((o) => o !== null) ? 'the running statistics outputs are not handled' : undefined),
  backward: (g, dy, wanted) => {
    const d = dy[0];
    if (!d) return [null, null, null, null, null];
    const n = g.node;
    const [x, scale, , mean, variance] = n.inputs.map((v) => v!.name) as [string, string, string, string, string];
    const xd = g.dims(x);
    if (!xd) g.fail(`the rank of '${x}' is not known statically`);
    const rank = xd!.length;
    const eps = n.attrFloat('epsilon', 1e-5);
    const perChannel = (v: string): string => g.unsqueeze(v, [0, ...range(2, rank)]);
    const axes = [0, ...range(2, rank)];
    const inv = g.emit('Reciprocal', [g.emit('Sqrt', [g.emit('Add', [variance, g.constFloat([eps], [])])[0]!])[0]!])[0]!;
    const out: (string | null)[] = [null, null, null, null, null];
    const scaleInv = g.emit('Mul', [scale, inv])[0]!;
    if (wanted[0]) out[0] = g.emit('Mul', [d, perChannel(scaleInv)])[0]!;
    const centred = wanted[1] || wanted[4] ? g.emit('Sub', [x, perChannel(mean)])[0]! : '';
    const sumDyC = wanted[1] || wanted[4] ? g.reduceSum(g.emit('Mul', [d, centred])[0]!, axes, false) : '';
    const sumDy = wanted[2] || wanted[3] ? g.reduceSum(d, axes, false) : '';
    if (wanted[1]) out[1] = g.emit('Mul', [sumDyC, inv])[0]!;
    if (wanted[2]) out[2] = sumDy;
    if (wanted[3]) out[3] = g.emit('Neg', [g.emit('Mul', [sumDy, scaleInv])[0]!])[0]!;
    if (wanted[4]) {
      const inv3 = g.emit('Mul', [inv, g.emit('Mul', [inv, inv])[0]!])[0]!;
      out[4] = g.emit('Mul', [g.emit('Mul', [sumDyC, g.emit('Mul', [scale, inv3])[0]!])[0]!, g.constFloat([-0.5], [])])[0]!;
    }
    return out;
  },
};

export const NORM_GRADIENTS: GradientTable = { BatchNormalization: batchNorm };
