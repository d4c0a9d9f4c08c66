/**
 * Broadcasting elementwise rules (shapes, output types, symbolic dims, errors) and the constant
 * arithmetic on small integer tensors that shape computations rely on.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { GraphError } from '../../../../src/errors.js';
import { FLOAT, INT64, buildModel, checkAgainstOrt, expectRuled, floatTensor, int64Tensor, op, tensorInfo } from '../rule-harness.js';

const BOOL = 9;

describe('shape rules: broadcasting elementwise ops', () => {
  it('numpy broadcasting with numbers and symbols; comparison and Where output types', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('Add', ['x', 'v'], ['a']),
          op('Mul', ['col', 'row'], ['m']),
          op('Greater', ['x', 'v'], ['gt']),
          op('Where', ['gt', 'x', 'zero'], ['w']),
          op('Max', ['x', 'v', 'zero'], ['mx']),
          op('Pow', ['x', 'two'], ['p']),
          op('PRelu', ['x', 'slope'], ['pr']),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 1]), tensorInfo('col', FLOAT, ['N', 1]), tensorInfo('row', FLOAT, [1, 'C'])],
        initializers: [floatTensor('v', [4], [1, 2, 3, 4]), floatTensor('zero', [], [0]), floatTensor('two', [], [2]), floatTensor('slope', [3, 1], [0.1, 0.2, 0.3])],
        outputs: ['a', 'm', 'gt', 'w', 'mx', 'p', 'pr'],
      },
      { x: [2, 3, 1], col: [2, 1], row: [1, 5] },
      { N: 2, C: 5 },
    );
    expectRuled(map, 'a', ['N', 3, 4], 'Add');
    expectRuled(map, 'm', ['N', 'C'], 'Mul');
    expectRuled(map, 'gt', ['N', 3, 4], 'Greater');
    expect(map.get('gt')!.elemType).to.equal(BOOL);
    expectRuled(map, 'w', ['N', 3, 4], 'Where');
    expect(map.get('w')!.elemType).to.equal(FLOAT);
    expectRuled(map, 'mx', ['N', 3, 4], 'Max');
    expectRuled(map, 'p', ['N', 3, 1], 'Pow');
    expectRuled(map, 'pr', ['N', 3, 1], 'PRelu');
  });

  it('before opset 7, B broadcasts onto A (result: A shape)', () => {
    const m = buildModel({
      opset: 6,
      nodes: [op('Add', ['x', 'b'], ['y'], { broadcast: 1, axis: 1 })],
      inputs: [tensorInfo('x', FLOAT, [2, 3, 4])],
      initializers: [floatTensor('b', [3], [1, 2, 3])],
    });
    expectRuled(inferShapesStatic(m), 'y', [2, 3, 4], 'Add');
  });

  it('incompatible dims are a GraphError naming the node', () => {
    const m = buildModel({ nodes: [op('Add', ['x', 'y'], ['z'])], inputs: [tensorInfo('x', FLOAT, [2, 3]), tensorInfo('y', FLOAT, [4])] });
    expect(() => inferShapesStatic(m)).to.throw(GraphError, /node 'add_z' \(Add\): cannot broadcast \[2, 3\] with \[4\]/);
  });

  it('integer arithmetic on constant contents (Div truncates, symbols stay symbolic)', () => {
    const m = buildModel({
      nodes: [
        op('Shape', ['x'], ['s']),
        op('Mul', ['s', 'k'], ['sk']),
        op('Div', ['sk', 'three'], ['d']),
        op('Sub', ['d', 'one'], ['e']),
        op('Equal', ['s', 'neg'], ['eq']),
        op('Where', ['eq', 'one', 's'], ['w']),
      ],
      inputs: [tensorInfo('x', FLOAT, ['batch', 7, 8])],
      initializers: [int64Tensor('k', [3], [3, 1, 2]), int64Tensor('three', [], [3]), int64Tensor('one', [], [1]), int64Tensor('neg', [], [-1])],
      outputs: ['e', 'w'],
    });
    const map = inferShapesStatic(m);
    expect(map.get('sk')!.symbolicValue).to.deep.equal(['3*batch', 7, 16]);
    expect(map.get('d')!.symbolicValue).to.deep.equal(['batch', 2, 5]);
    expect(map.get('e')!.symbolicValue).to.deep.equal(['batch-1', 1, 4]);
    expect(map.get('eq')!.value).to.deep.equal([0, 0, 0]);
    expect(map.get('w')!.symbolicValue).to.deep.equal(['batch', 7, 8]);
    expect(map.get('w')!.elemType).to.equal(INT64);
  });
});
