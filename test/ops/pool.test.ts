/**
 * Mirror kernels of the pool family against ONNX Runtime on configurations the Debian node tests
 * do not cover (dilations with strides, ceil_mode with pads, count_include_pad with ceil_mode,
 * Indices with storage_order, 1-D and 3-D, LpPool), unsupported() reasons, and input gradients
 * vs finite differences.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { checkInputGradient, int, ints, str } from '../helpers/op-harness.js';
import { caseBytes, caseProblems as problems, matchesOrt, type OrtCase as Case } from '../helpers/ort-op-compare.js';
import { randomFloats } from '../helpers/seeded-random.js';

describe('ops/pool: MaxPool, AveragePool, LpPool and the global pools', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  const pool = (op: string, attrs: AttributeProto[], x: number[], opset = 13, outputs?: string[]): Case => ({ op, attrs, inputs: [['x', x]], opset, ...(outputs ? { outputs } : {}) });

  it('MaxPool: dilations with strides and pads, ceil_mode, auto_pad, 1-D and 3-D', async () => {
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 2]), ints('strides', [2, 3]), ints('dilations', [2, 2]), ints('pads', [1, 0, 2, 1])], [2, 3, 11, 12], 12));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), int('ceil_mode', 1), ints('pads', [1, 1, 1, 1])], [1, 2, 8, 9]));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 2]), ints('strides', [2, 2]), str('auto_pad', 'SAME_LOWER')], [1, 2, 7, 6]));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3]), ints('strides', [2]), ints('pads', [1, 1])], [2, 3, 10]));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [2, 3, 2]), ints('strides', [2, 1, 2]), ints('dilations', [1, 2, 1])], [1, 2, 5, 7, 6], 12));
  });

  it('MaxPool Indices: row-major and storage_order=1, with pads and dilations', async () => {
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], [2, 3, 7, 6], 12, ['y', 'i']));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('storage_order', 1)], [1, 2, 6, 5], 12, ['y', 'i']));
    await matchesOrt(pool('MaxPool', [ints('kernel_shape', [2, 2]), ints('dilations', [2, 2]), ints('pads', [1, 0, 0, 1])], [1, 2, 6, 6], 12, ['y', 'i']));
  });

  it('AveragePool: count_include_pad 0/1 with pads and ceil_mode, SAME pads, 1-D and 3-D', async () => {
    for (const cip of [0, 1]) {
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 2, 0, 1]), int('count_include_pad', cip)], [1, 2, 7, 8]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3, 2]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('ceil_mode', 1), int('count_include_pad', cip)], [1, 2, 8, 7]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), str('auto_pad', 'SAME_UPPER'), int('count_include_pad', cip)], [1, 2, 6, 7]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [3]), ints('pads', [2, 1]), int('count_include_pad', cip)], [2, 2, 9]));
      await matchesOrt(pool('AveragePool', [ints('kernel_shape', [2, 2, 3]), ints('strides', [1, 2, 2]), ints('pads', [1, 0, 1, 0, 1, 1]), int('count_include_pad', cip)], [1, 2, 4, 6, 7]));
    }
  });

  it('AveragePool with dilations (opset 19)', async () => {
    await matchesOrt(pool('AveragePool', [ints('kernel_shape', [2, 2]), ints('dilations', [2, 2]), ints('strides', [1, 1])], [1, 2, 6, 7], 19));
  });

  it('LpPool and GlobalLpPool (p = 1, 2, 3); GlobalMaxPool on 1-D and 3-D', async () => {
    for (const p of [1, 2, 3]) {
      await matchesOrt(pool('LpPool', [ints('kernel_shape', [2, 3]), ints('strides', [2, 1]), ints('pads', [1, 1, 0, 1]), int('p', p)], [1, 2, 6, 7], 18));
      await matchesOrt(pool('GlobalLpPool', [int('p', p)], [2, 3, 4, 5]));
    }
    await matchesOrt(pool('GlobalMaxPool', [], [2, 3, 7]));
    await matchesOrt(pool('GlobalAveragePool', [], [2, 3, 3, 4, 5]));
  });

  it('refuses bad auto_pad and storage_order values before running', () => {
    expect(problems(pool('MaxPool', [ints('kernel_shape', [2, 2]), str('auto_pad', 'same')], [1, 1, 4, 4])).join()).to.match(/auto_pad 'same'/);
    expect(problems(pool('MaxPool', [ints('kernel_shape', [2, 2]), int('storage_order', 2)], [1, 1, 4, 4], 12)).join()).to.match(/storage_order 2/);
  });

  it('input gradients match finite differences (MaxPool native and dilated, AveragePool excluding pads, LpPool)', async () => {
    const x: HostTensor = { dims: [1, 2, 6, 6], data: randomFloats(11, 72) };
    const mk = (c: Case) => caseBytes({ ...c, inputs: [['x', x.dims]] });
    await checkInputGradient(mk(pool('MaxPool', [ints('kernel_shape', [2, 2]), ints('dilations', [2, 2]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], x.dims, 12)), { x }, 'x', [0, 7, 20, 50], 1e-3);
    await checkInputGradient(mk(pool('MaxPool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])], x.dims, 12)), { x }, 'x', [0, 14, 35], 1e-3);
    await checkInputGradient(mk(pool('AveragePool', [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), int('ceil_mode', 1)], x.dims)), { x }, 'x', [0, 5, 35, 71]);
    await checkInputGradient(mk(pool('LpPool', [ints('kernel_shape', [2, 2]), int('p', 3)], x.dims, 18)), { x }, 'x', [0, 9, 44]);
  });
});
