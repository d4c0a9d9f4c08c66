/**
 * Reshape-family rules, and the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains PyTorch
 * emits for `x.view(x.size(0), -1)`, resolved statically with a symbolic batch (opset 11 with
 * attribute axes, opset 13 with axes as inputs).
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { GraphError } from '../../../../src/errors.js';
import { FLOAT, INT64, buildModel, checkAgainstOrt, expectRuled, int64Tensor, op, tensorInfo } from '../rule-harness.js';

function viewChain(opset: number) {
  const axes = opset >= 13;
  return {
    opset,
    nodes: [
      op('Shape', ['x'], ['s']),
      op('Gather', ['s', 'zero'], ['b'], { axis: 0 }),
      axes ? op('Unsqueeze', ['b', 'ax0'], ['bu']) : op('Unsqueeze', ['b'], ['bu'], { axes: [0] }),
      op('Concat', ['bu', 'minus1'], ['target'], { axis: 0 }),
      op('Reshape', ['x', 'target'], ['y']),
    ],
    inputs: [tensorInfo('x', FLOAT, ['batch', 8, 2, 2])],
    initializers: [
      { ...int64Tensor('zero', [], [0]) },
      int64Tensor('minus1', [1], [-1]),
      ...(axes ? [int64Tensor('ax0', [1], [0])] : []),
    ],
    outputs: ['y', 'target'],
  };
}

describe('shape rules: Reshape and friends', () => {
  for (const opset of [11, 13]) {
    it(`resolves PyTorch's view(batch, -1) chain statically (opset ${opset})`, async () => {
      const map = await checkAgainstOrt(viewChain(opset), { x: [3, 8, 2, 2] }, { batch: 3 });
      expectRuled(map, 's', [4], 'Shape');
      expect(map.get('s')!.symbolicValue).to.deep.equal(['batch', 8, 2, 2]);
      expect(map.get('b')!.symbolicValue).to.deep.equal(['batch']);
      expect(map.get('target')!.symbolicValue).to.deep.equal(['batch', -1]);
      expectRuled(map, 'y', ['batch', 32], 'Reshape');
    });
  }

  it('Reshape with 0 (copy), -1 (infer), allowzero, and a shape computed by arithmetic', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 14,
        nodes: [
          op('Reshape', ['x', 't1'], ['a']),
          op('Shape', ['x'], ['s']),
          op('Mul', ['s', 'two'], ['s2']),
          op('Div', ['s2', 'four'], ['half']),
          op('Slice', ['half', 'st', 'en'], ['hw']),
          op('Concat', ['hw', 'big'], ['t2'], { axis: 0 }),
          op('Reshape', ['x', 't2'], ['b']),
          op('Reshape', ['e', 't3'], ['c'], { allowzero: 1 }),
        ],
        inputs: [tensorInfo('x', FLOAT, [2, 6, 4, 4]), tensorInfo('e', FLOAT, [0, 3])],
        initializers: [
          int64Tensor('t1', [3], [0, -1, 8]),
          int64Tensor('two', [], [2]),
          int64Tensor('four', [1], [4]),
          int64Tensor('st', [1], [0]),
          int64Tensor('en', [1], [2]),
          int64Tensor('big', [1], [-1]),
          int64Tensor('t3', [2], [3, 0]),
        ],
        outputs: ['a', 'b', 'c', 'half'],
      },
      { x: [2, 6, 4, 4], e: [0, 3] },
    );
    expectRuled(map, 'a', [2, 12, 8]);
    expect(map.get('half')!.value).to.deep.equal([1, 3, 2, 2]);
    expectRuled(map, 'b', [1, 3, 64]);
    expectRuled(map, 'c', [3, 0]);
  });

  it('Flatten, Transpose, Expand, Tile, DepthToSpace, SpaceToDepth', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('Flatten', ['x'], ['f0'], { axis: 0 }),
          op('Flatten', ['x'], ['f1']),
          op('Flatten', ['x'], ['f3'], { axis: -1 }),
          op('Transpose', ['x'], ['t'], { perm: [0, 2, 3, 1] }),
          op('Transpose', ['x'], ['tr']),
          op('Expand', ['x', 'es'], ['ex']),
          op('Tile', ['x', 'reps'], ['ti']),
          op('DepthToSpace', ['x'], ['d2s'], { blocksize: 2 }),
          op('SpaceToDepth', ['x'], ['s2d'], { blocksize: 2 }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 8, 4, 6])],
        initializers: [int64Tensor('es', [5], [3, 1, 1, 1, 1]), int64Tensor('reps', [4], [1, 2, 1, 3])],
        outputs: ['f0', 'f1', 'f3', 't', 'tr', 'ex', 'ti', 'd2s', 's2d'],
      },
      { x: [2, 8, 4, 6] },
      { N: 2 },
    );
    expectRuled(map, 'f0', [1, '192*N'], 'Flatten');
    expectRuled(map, 'f1', ['N', 192]);
    expectRuled(map, 'f3', ['32*N', 6]);
    expectRuled(map, 't', ['N', 4, 6, 8], 'Transpose');
    expectRuled(map, 'tr', [6, 4, 8, 'N']);
    expectRuled(map, 'ex', [3, 'N', 8, 4, 6], 'Expand');
    expectRuled(map, 'ti', ['N', 16, 4, 18], 'Tile');
    expectRuled(map, 'd2s', ['N', 2, 8, 12]);
    expectRuled(map, 's2d', ['N', 32, 2, 3]);
  });

  for (const opset of [11, 13]) {
    it(`Squeeze/Unsqueeze with axes as ${opset < 13 ? 'attribute' : 'input'} (opset ${opset})`, async () => {
      const asInput = opset >= 13;
      const map = await checkAgainstOrt(
        {
          opset,
          nodes: [
            asInput ? op('Squeeze', ['x', 'sq'], ['s']) : op('Squeeze', ['x'], ['s'], { axes: [1, -1] }),
            op('Squeeze', ['x'], ['sall']),
            asInput ? op('Unsqueeze', ['s', 'uq'], ['u']) : op('Unsqueeze', ['s'], ['u'], { axes: [0, -1] }),
          ],
          inputs: [tensorInfo('x', FLOAT, [3, 1, 5, 1])],
          initializers: asInput ? [int64Tensor('sq', [2], [1, -1]), int64Tensor('uq', [2], [0, -1])] : [],
          outputs: ['s', 'sall', 'u'],
        },
        { x: [3, 1, 5, 1] },
      );
      expectRuled(map, 's', [3, 5], 'Squeeze');
      expectRuled(map, 'sall', [3, 5], 'Squeeze');
      expectRuled(map, 'u', [1, 3, 5, 1], 'Unsqueeze');
    });
  }

  it('an impossible Reshape is a GraphError', () => {
    const m = buildModel({
      nodes: [op('Reshape', ['x', 't'], ['y'])],
      inputs: [tensorInfo('x', FLOAT, [2, 3])],
      initializers: [int64Tensor('t', [2], [4, -1])],
    });
    expect(() => inferShapesStatic(m)).to.throw(GraphError, /cannot reshape \[2, 3\]/);
  });

  it('a Reshape whose target is a graph input is left open (rank only)', () => {
    const m = buildModel({
      nodes: [op('Reshape', ['x', 't'], ['y'])],
      inputs: [tensorInfo('x', FLOAT, [2, 3]), tensorInfo('t', INT64, [2])],
    });
    const info = inferShapesStatic(m).get('y')!;
    expect(info.shape).to.have.length(2);
    expect(info.shape!.every((d) => typeof d === 'string' && d.includes('?'))).to.equal(true);
  });
});
