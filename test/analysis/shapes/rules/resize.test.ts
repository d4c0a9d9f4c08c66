/**
 * Resize (opset 10 scales; opset 11/13 roi, scales, sizes, empty placeholders) and Upsample
 * (scales as attribute at opset 7, as input at opset 9).
 */
import { FLOAT, checkAgainstOrt, expectRuled, floatTensor, floats, int64Tensor, op, tensorInfo } from '../rule-harness.js';

describe('shape rules: Resize and Upsample', () => {
  it('opset 10: Resize(X, scales)', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 10,
        nodes: [op('Resize', ['x', 'sc'], ['y'], { mode: 'nearest' })],
        inputs: [tensorInfo('x', FLOAT, [1, 2, 5, 7])],
        initializers: [floatTensor('sc', [4], [1, 1, 2, 1.5])],
      },
      { x: [1, 2, 5, 7] },
    );
    expectRuled(map, 'y', [1, 2, 10, 10], 'Resize');
  });

  it('opset 13: scales with an omitted roi, sizes with an empty scales placeholder, symbolic batch', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 13,
        nodes: [
          op('Resize', ['x', '', 'sc'], ['a'], { mode: 'linear' }),
          op('Resize', ['x', 'roi', 'empty', 'sizes'], ['b'], { mode: 'nearest' }),
          op('Resize', ['x', '', 'down'], ['c'], { mode: 'nearest' }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 6, 9])],
        initializers: [
          floatTensor('sc', [4], [1, 1, 2, 2]),
          floatTensor('roi', [0], []),
          floatTensor('empty', [0], []),
          int64Tensor('sizes', [4], [2, 3, 4, 5]),
          floatTensor('down', [4], [1, 1, 0.6, 0.34]),
        ],
        outputs: ['a', 'b', 'c'],
      },
      { x: [2, 3, 6, 9] },
      { N: 2 },
    );
    expectRuled(map, 'a', ['N', 3, 12, 18], 'Resize');
    expectRuled(map, 'b', [2, 3, 4, 5], 'Resize');
    expectRuled(map, 'c', ['N', 3, 3, 3], 'Resize');
  });

  it('Upsample: attribute scales (opset 7) and input scales (opset 9)', async () => {
    const a = await checkAgainstOrt(
      { opset: 7, nodes: [op('Upsample', ['x'], ['y'], { scales: floats([1, 1, 2, 3]) })], inputs: [tensorInfo('x', FLOAT, [1, 1, 3, 4])] },
      { x: [1, 1, 3, 4] },
    );
    expectRuled(a, 'y', [1, 1, 6, 12], 'Upsample');
    const b = await checkAgainstOrt(
      { opset: 9, nodes: [op('Upsample', ['x', 'sc'], ['y'])], inputs: [tensorInfo('x', FLOAT, [1, 1, 3, 4])], initializers: [floatTensor('sc', [4], [1, 1, 2, 2])] },
      { x: [1, 1, 3, 4] },
    );
    expectRuled(b, 'y', [1, 1, 6, 8], 'Upsample');
  });
});
