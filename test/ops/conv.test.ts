/**
 * Mirror kernels of the conv and matmul families against ONNX Runtime on configurations the
 * Debian node tests do not cover (groups, depthwise multipliers, strides with dilations, 1-D and
 * 3-D, ConvTranspose groups / dilations / output_shape, numpy MatMul broadcasting, Gemm bias
 * broadcasting, int32), their unsupported() reasons, and weight gradients vs finite differences.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { checkParamGradient, flt, int, ints, str, withAttrs } from '../helpers/op-harness.js';
import { caseProblems as problems, matchesOrt, type OrtCase as Case } from '../helpers/ort-op-compare.js';
import { floatTensor, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

describe('ops/conv: Conv and ConvTranspose', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  const conv = (attrs: AttributeProto[], x: number[], w: number[], bias = true, op = 'Conv'): Case => ({
    op,
    attrs,
    inputs: [['x', x], ['w', w], ...(bias ? [['b', [op === 'Conv' ? w[0]! : w[1]! * (attrs.find((a) => a.name === 'group')?.i as number ?? 1)]] as [string, number[]]] : [])],
  });

  it('general groups, depthwise with a channel multiplier, and strides with dilations', async () => {
    await matchesOrt(conv([int('group', 2), ints('pads', [1, 0, 2, 1])], [2, 4, 7, 6], [6, 2, 3, 3]));
    await matchesOrt(conv([int('group', 3), ints('strides', [2, 1])], [1, 3, 8, 7], [6, 1, 3, 2]));
    await matchesOrt(conv([ints('strides', [2, 2]), ints('dilations', [2, 3]), ints('pads', [1, 2, 1, 2])], [1, 2, 11, 12], [3, 2, 3, 3], false));
    await matchesOrt(conv([int('group', 2), ints('strides', [2, 3]), ints('dilations', [2, 2])], [1, 4, 12, 13], [4, 2, 2, 3]));
  });

  it('auto_pad SAME_UPPER / SAME_LOWER / VALID with strides (and VALID with dilations)', async () => {
    for (const ap of ['SAME_UPPER', 'SAME_LOWER', 'VALID']) {
      await matchesOrt(conv([str('auto_pad', ap), ints('strides', [2, 3])], [1, 2, 9, 10], [2, 2, 4, 3]));
    }
    // ONNX Runtime refuses SAME with dilations; VALID takes them
    await matchesOrt(conv([str('auto_pad', 'VALID'), ints('strides', [2, 3]), ints('dilations', [1, 2])], [1, 2, 9, 10], [2, 2, 4, 3]));
  });

  it('1-D and 3-D convolutions (3-D with groups and strides with dilations)', async () => {
    await matchesOrt(conv([ints('strides', [2]), ints('pads', [2, 1]), ints('dilations', [2])], [2, 3, 17], [4, 3, 3]));
    await matchesOrt(conv([int('group', 2), ints('strides', [1, 2, 2]), ints('pads', [1, 1, 0, 0, 1, 1])], [1, 4, 5, 6, 7], [4, 2, 3, 3, 2]));
    await matchesOrt(conv([ints('strides', [2, 2, 2]), ints('dilations', [2, 1, 2])], [1, 2, 7, 6, 7], [2, 2, 2, 2, 2], false));
  });

  it('ConvTranspose: groups, dilations with strides, output_padding, pads, output_shape, 1-D and 3-D', async () => {
    const ct = (attrs: AttributeProto[], x: number[], w: number[], bias = true) => conv(attrs, x, w, bias, 'ConvTranspose');
    await matchesOrt(ct([int('group', 2), ints('strides', [2, 2])], [1, 4, 4, 5], [4, 3, 3, 3]));
    await matchesOrt(ct([ints('strides', [2, 3]), ints('dilations', [2, 2]), ints('pads', [1, 0, 2, 1]), ints('output_padding', [1, 2])], [2, 2, 4, 4], [2, 3, 3, 2]));
    await matchesOrt(ct([ints('strides', [2, 2]), ints('output_shape', [9, 10])], [1, 2, 4, 4], [2, 2, 3, 3]));
    await matchesOrt(ct([str('auto_pad', 'SAME_LOWER'), ints('strides', [2, 2])], [1, 2, 3, 4], [2, 1, 3, 3], false));
    await matchesOrt(ct([ints('strides', [3]), ints('pads', [1, 2])], [1, 2, 6], [2, 3, 4]));
    await matchesOrt(ct([int('group', 2), ints('strides', [2, 1, 2]), ints('pads', [1, 0, 0, 0, 1, 1]), ints('dilations', [1, 2, 1])], [1, 4, 3, 4, 3], [4, 1, 2, 2, 3]));
  });

  it('refuses unknown auto_pad values and more than 3 spatial axes before running', () => {
    expect(problems(conv([str('auto_pad', 'SAME')], [1, 1, 4, 4], [1, 1, 3, 3])).join()).to.match(/auto_pad 'SAME'/);
    expect(problems(conv([], [1, 1, 3, 3, 3, 3], [1, 1, 2, 2, 2, 2])).join()).to.match(/4 spatial axes/);
  });

  it('weight gradients match finite differences (depthwise, grouped, transposed)', async () => {
    const x: HostTensor = { dims: [1, 4, 6, 6], data: randomFloats(3, 144) };
    const mk = (op: string, w: number[], attrs: AttributeProto[]) =>
      modelBytes({
        nodes: [withAttrs(node(op, ['x', 'w'], ['y'], 'n'), attrs)],
        inputs: [tensorInfo('x', 1, x.dims)],
        outputs: [{ name: 'y' }],
        initializers: [floatTensor('w', w, randomFloats(5, w.reduce((a, b) => a * b, 1)))],
      });
    // a nonlinear loss would be better, but mean() of a conv is linear in w: finite differences are exact up to rounding
    await checkParamGradient(mk('Conv', [8, 1, 3, 3], [int('group', 4), ints('strides', [2, 2]), ints('dilations', [1, 1])]), { x }, 'w', [0, 13, 71]);
    await checkParamGradient(mk('Conv', [4, 2, 3, 3], [int('group', 2), ints('strides', [2, 2]), ints('dilations', [2, 2])]), { x }, 'w', [0, 5, 30]);
    await checkParamGradient(mk('ConvTranspose', [4, 2, 3, 3], [int('group', 2), ints('strides', [2, 2]), ints('pads', [1, 1, 0, 0])]), { x }, 'w', [1, 17, 40]);
  });

  it('weight gradients with dilations at stride 1 (tfjs conv gradients refuse dilations > 1: the kernel is zero-stuffed) and with asymmetric pads', async () => {
    const x: HostTensor = { dims: [2, 4, 7, 8], data: randomFloats(13, 448) };
    const mk = (w: number[], attrs: AttributeProto[], xDims = x.dims) =>
      modelBytes({
        nodes: [withAttrs(node('Conv', ['x', 'w'], ['y'], 'n'), attrs)],
        inputs: [tensorInfo('x', 1, xDims)],
        outputs: [{ name: 'y' }],
        initializers: [floatTensor('w', w, randomFloats(17, w.reduce((a, b) => a * b, 1)))],
      });
    await checkParamGradient(mk([5, 4, 3, 3], [ints('dilations', [2, 2]), ints('pads', [2, 1, 1, 2])]), { x }, 'w', [0, 40, 179]);
    await checkParamGradient(mk([4, 1, 3, 3], [int('group', 4), ints('dilations', [2, 1]), ints('pads', [1, 1, 1, 1])]), { x }, 'w', [0, 13, 35]);
    await checkParamGradient(mk([4, 2, 2, 3], [int('group', 2), ints('dilations', [1, 2]), ints('pads', [0, 2, 1, 0])]), { x }, 'w', [2, 23, 47]);
    const x1: HostTensor = { dims: [2, 4, 11], data: randomFloats(19, 88) };
    await checkParamGradient(mk([3, 4, 3], [ints('dilations', [3]), ints('pads', [2, 1])], x1.dims), { x: x1 }, 'w', [0, 17, 35]);
    // and the same configurations forward, against ONNX Runtime
    await matchesOrt(conv([ints('dilations', [2, 2]), ints('pads', [2, 1, 1, 2])], [2, 4, 7, 8], [5, 4, 3, 3]));
    await matchesOrt(conv([int('group', 4), ints('dilations', [2, 1]), ints('pads', [1, 1, 1, 1])], [2, 4, 7, 8], [4, 1, 3, 3]));
    await matchesOrt(conv([int('group', 2), ints('dilations', [1, 2]), ints('pads', [0, 2, 1, 0])], [2, 4, 7, 8], [4, 2, 2, 3]));
  });
});

describe('ops/matmul: MatMul and Gemm', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  it('MatMul follows numpy: 1-D operands and batch broadcasting', async () => {
    const mm = (a: number[], b: number[], t?: number): Case => ({ op: 'MatMul', attrs: [], inputs: [t ? ['a', a, t] : ['a', a], t ? ['b', b, t] : ['b', b]] });
    await matchesOrt(mm([4], [4, 3]));
    await matchesOrt(mm([2, 3, 4], [4]));
    await matchesOrt(mm([5], [5]));
    await matchesOrt(mm([2, 1, 3, 4], [3, 4, 5]));
    await matchesOrt(mm([3, 4], [2, 4, 2]));
    await matchesOrt(mm([2, 3, 4], [4, 6]));
    await matchesOrt(mm([2, 1, 3, 4], [1, 5, 4, 2], 6), 7, { atol: 0, rtol: 0 }); // int32, exact
  });

  it('Gemm: transposes, alpha/beta, C broadcast from [N], [M,1] and a scalar, no C', async () => {
    const gm = (attrs: AttributeProto[], a: number[], b: number[], c?: number[]): Case => ({ op: 'Gemm', attrs, inputs: [['a', a], ['b', b], ...(c ? [['c', c] as [string, number[]]] : [])] });
    await matchesOrt(gm([int('transA', 1), flt('alpha', 0.5), flt('beta', 2)], [4, 3], [4, 5], [5]));
    await matchesOrt(gm([int('transB', 1)], [3, 4], [5, 4], [3, 1]));
    await matchesOrt(gm([flt('beta', -1)], [3, 4], [4, 5], []));
    await matchesOrt(gm([], [3, 4], [4, 5]));
  });
});
