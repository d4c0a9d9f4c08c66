/**
 * Reductions: axes as attribute (ReduceMean before opset 18, ReduceSum before 13) or as input,
 * keepdims, noop_with_empty_axes; ArgMax.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { FLOAT, INT64, buildModel, checkAgainstOrt, expectRuled, int64Tensor, op, tensorInfo } from '../rule-harness.js';

describe('shape rules: reductions', () => {
  it('opset 13: ReduceMean axes as attribute, ReduceSum axes as input', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 13,
        nodes: [
          op('ReduceMean', ['x'], ['m'], { axes: [2, 3] }),
          op('ReduceMean', ['x'], ['m0'], { axes: [-1], keepdims: 0 }),
          op('ReduceSum', ['x', 'ax'], ['s'], { keepdims: 0 }),
          op('ReduceSum', ['x'], ['sall']),
          op('ReduceMax', ['x'], ['mx'], { axes: [1] }),
          op('ArgMax', ['x'], ['am'], { axis: 1, keepdims: 0 }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 4, 5])],
        initializers: [int64Tensor('ax', [1], [1])],
        outputs: ['m', 'm0', 's', 'sall', 'mx', 'am'],
      },
      { x: [2, 3, 4, 5] },
      { N: 2 },
    );
    expectRuled(map, 'm', ['N', 3, 1, 1], 'ReduceMean');
    expectRuled(map, 'm0', ['N', 3, 4], 'ReduceMean');
    expectRuled(map, 's', ['N', 4, 5], 'ReduceSum');
    expectRuled(map, 'sall', [1, 1, 1, 1], 'ReduceSum');
    expectRuled(map, 'mx', ['N', 1, 4, 5], 'ReduceMax');
    expectRuled(map, 'am', ['N', 4, 5], 'ArgMax');
    expect(map.get('am')!.elemType).to.equal(INT64);
  });

  it('opset 18: ReduceMean axes as input, noop_with_empty_axes', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 18,
        nodes: [op('ReduceMean', ['x', 'ax'], ['m']), op('ReduceMean', ['x'], ['noop'], { noop_with_empty_axes: 1 }), op('ReduceMean', ['x'], ['all'], { keepdims: 0 })],
        inputs: [tensorInfo('x', FLOAT, [2, 3, 4])],
        initializers: [int64Tensor('ax', [2], [0, -1])],
        outputs: ['m', 'noop', 'all'],
      },
      { x: [2, 3, 4] },
    );
    expectRuled(map, 'm', [1, 3, 1], 'ReduceMean');
    expectRuled(map, 'noop', [2, 3, 4], 'ReduceMean');
    expectRuled(map, 'all', [], 'ReduceMean');
  });

  it('ReduceProd of a shape folds its contents (numel)', () => {
    const m = buildModel({
      opset: 13,
      nodes: [op('Shape', ['x'], ['s']), op('ReduceProd', ['s'], ['n'], { keepdims: 0 })],
      inputs: [tensorInfo('x', FLOAT, ['N', 3, 4])],
    });
    expect(inferShapesStatic(m).get('n')!.symbolicValue).to.deep.equal(['12*N']);
  });
});
