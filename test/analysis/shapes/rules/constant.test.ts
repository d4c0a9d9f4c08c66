/**
 * Constant, ConstantOfShape, Shape (start/end from opset 15), Size, Range: shapes, types and the
 * contents they carry for later shape arithmetic.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { makeAttribute } from '../../../../src/ir/attributes.js';
import { FLOAT, INT64, buildModel, checkAgainstOrt, expectRuled, int64Tensor, op, tensorInfo } from '../rule-harness.js';

describe('shape rules: constants and shape ops', () => {
  it('Constant (tensor and value_ints), ConstantOfShape, Shape with start/end, Size, Range', async () => {
    const c = {
      opset: 15,
      nodes: [
        op('Constant', [], ['k'], { value: int64Tensor('', [3], [2, 3, 1]) }),
        op('Constant', [], ['ki'], { value_ints: [4, 5] }),
        op('ConstantOfShape', ['k'], ['zeros'], { value: { ...int64Tensor('', [1], [7]) } }),
        op('ConstantOfShape', ['ki'], ['fz']),
        op('Shape', ['x'], ['tail'], { start: 1 }),
        op('Shape', ['x'], ['mid'], { start: -2, end: -1 }),
        op('Size', ['x'], ['n']),
        op('Range', ['r0', 'r1', 'r2'], ['rng']),
      ],
      inputs: [tensorInfo('x', FLOAT, ['B', 3, 8])],
      initializers: [int64Tensor('r0', [], [1]), int64Tensor('r1', [], [10]), int64Tensor('r2', [], [3])],
      outputs: ['k', 'ki', 'zeros', 'fz', 'tail', 'mid', 'n', 'rng'],
    };
    const map = await checkAgainstOrt(c, { x: [2, 3, 8] }, { B: 2 });
    expectRuled(map, 'k', [3], 'Constant');
    expect(map.get('k')!.value).to.deep.equal([2, 3, 1]);
    expectRuled(map, 'ki', [2], 'Constant');
    expectRuled(map, 'zeros', [2, 3, 1], 'ConstantOfShape');
    expect(map.get('zeros')!.elemType).to.equal(INT64);
    expect(map.get('zeros')!.value).to.deep.equal([7, 7, 7, 7, 7, 7]);
    expect(map.get('fz')!.elemType).to.equal(FLOAT);
    expectRuled(map, 'tail', [2], 'Shape');
    expect(map.get('tail')!.value).to.deep.equal([3, 8]);
    expect(map.get('mid')!.value).to.deep.equal([3]);
    expectRuled(map, 'n', [], 'Size');
    expect(map.get('n')!.symbolicValue).to.deep.equal(['24*B']);
    expectRuled(map, 'rng', [3], 'Range');
    expect(map.get('rng')!.value).to.deep.equal([1, 4, 7]);
  });

  it('Constant with value_float and a float tensor', () => {
    const m = buildModel({
      nodes: [op('Constant', [], ['f'], { value_float: makeAttribute('', 0.5, 'float') }), op('Identity', ['f'], ['g'])],
      inputs: [],
    });
    const map = inferShapesStatic(m);
    expectRuled(map, 'g', [], 'Identity');
    expect(map.get('g')!.value).to.deep.equal([0.5]);
  });
});
