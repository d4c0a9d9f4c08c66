/**
 * Pool rules: MaxPool/AveragePool with pads, strides, dilations and ceil_mode (including the case
 * where the last window would start in the padding), MaxPool's Indices, and the global pools.
 */
import { FLOAT, checkAgainstOrt, expectRuled, op, tensorInfo } from '../rule-harness.js';

describe('shape rules: pools', () => {
  it('MaxPool and AveragePool: pads, strides, dilations, ceil_mode, Indices', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('MaxPool', ['x'], ['a', 'ai'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
          // ceil: ceil((5 + 2 - 2) / 2) + 1 = 4, but the 4th window would start in the padding -> 3
          op('MaxPool', ['x5'], ['b'], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }),
          op('MaxPool', ['x'], ['c'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, dilations: [2, 1] }),
          op('AveragePool', ['x'], ['d'], { kernel_shape: [3, 2], strides: [2, 2], ceil_mode: 1 }),
          op('AveragePool', ['x'], ['e'], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }),
          op('AveragePool', ['x'], ['f'], { kernel_shape: [2, 2], auto_pad: 'VALID' }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['batch', 3, 11, 8]), tensorInfo('x5', FLOAT, [1, 1, 5, 5])],
        outputs: ['a', 'ai', 'b', 'c', 'd', 'e', 'f'],
      },
      { x: [2, 3, 11, 8], x5: [1, 1, 5, 5] },
      { batch: 2 },
    );
    expectRuled(map, 'a', ['batch', 3, 6, 4], 'MaxPool');
    expectRuled(map, 'ai', ['batch', 3, 6, 4], 'MaxPool');
    expectRuled(map, 'b', [1, 1, 3, 3], 'MaxPool');
    expectRuled(map, 'c', ['batch', 3, 5, 4], 'MaxPool');
    expectRuled(map, 'd', ['batch', 3, 5, 4], 'AveragePool');
    expectRuled(map, 'e', ['batch', 3, 6, 4], 'AveragePool');
    expectRuled(map, 'f', ['batch', 3, 10, 7], 'AveragePool');
  });

  it('global pools keep batch and channels', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [op('GlobalAveragePool', ['x'], ['a']), op('GlobalMaxPool', ['x'], ['b'])],
        inputs: [tensorInfo('x', FLOAT, ['N', 5, 'H', 'W'])],
        outputs: ['a', 'b'],
      },
      { x: [2, 5, 7, 3] },
      { N: 2, H: 7, W: 3 },
    );
    expectRuled(map, 'a', ['N', 5, 1, 1], 'GlobalAveragePool');
    expectRuled(map, 'b', ['N', 5, 1, 1], 'GlobalMaxPool');
  });
});
