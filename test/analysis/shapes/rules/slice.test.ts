/**
 * Slice (attributes before opset 10, inputs after; negative steps; open ends on symbolic dims),
 * Split (attribute before 13, input after), Concat, Pad (attribute before 11), TopK, Gather.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { GraphError } from '../../../../src/errors.js';
import { FLOAT, buildModel, checkAgainstOrt, expectRuled, int64Tensor, op, tensorInfo } from '../rule-harness.js';

const INT64_MAX = 2n ** 63n - 1n;

function bigInt64(name: string, values: bigint[]) {
  const a = BigInt64Array.from(values);
  return { name, dims: [values.length], data_type: 7, raw_data: new Uint8Array(a.buffer) };
}

describe('shape rules: Slice, Split, Concat, Pad, TopK, Gather', () => {
  it('Slice with attributes (opset 9)', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 9,
        nodes: [op('Slice', ['x'], ['y'], { starts: [1, -3], ends: [1000, -1], axes: [0, 2] })],
        inputs: [tensorInfo('x', FLOAT, [5, 4, 7])],
      },
      { x: [5, 4, 7] },
    );
    expectRuled(map, 'y', [4, 4, 2], 'Slice');
  });

  it('Slice with inputs (opset 13): steps, negative steps, INT64_MAX ends on a symbolic dim', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('Slice', ['x', 's1', 'e1', 'a1', 'st1'], ['a']),
          op('Slice', ['x', 's2', 'e2', 'a2'], ['b']),
          op('Slice', ['x', 's3', 'e3', 'a3', 'st3'], ['c']),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 10, 7])],
        initializers: [
          int64Tensor('s1', [2], [1, 0]),
          int64Tensor('e1', [2], [9, 7]),
          int64Tensor('a1', [2], [1, -1]),
          int64Tensor('st1', [2], [3, 2]),
          int64Tensor('s2', [1], [1]),
          bigInt64('e2', [INT64_MAX]),
          int64Tensor('a2', [1], [0]),
          int64Tensor('s3', [1], [-1]),
          bigInt64('e3', [-INT64_MAX]),
          int64Tensor('a3', [1], [1]),
          int64Tensor('st3', [1], [-2]),
        ],
        outputs: ['a', 'b', 'c'],
      },
      { x: [4, 10, 7] },
      { N: 4 },
    );
    expectRuled(map, 'a', ['N', 3, 4]);
    expectRuled(map, 'b', ['N-1', 10, 7]);
    expectRuled(map, 'c', ['N', 5, 7]);
  });

  for (const opset of [11, 13]) {
    it(`Split with sizes as ${opset < 13 ? 'attribute' : 'input'} and equal splits (opset ${opset})`, async () => {
      const map = await checkAgainstOrt(
        {
          opset,
          nodes: [
            opset < 13 ? op('Split', ['x'], ['p', 'q'], { axis: 1, split: [2, 4] }) : op('Split', ['x', 'sizes'], ['p', 'q'], { axis: 1 }),
            op('Split', ['x'], ['r', 's', 't'], { axis: -1 }),
          ],
          inputs: [tensorInfo('x', FLOAT, ['N', 6, 9])],
          initializers: opset < 13 ? [] : [int64Tensor('sizes', [2], [2, 4])],
          outputs: ['p', 'q', 'r', 's', 't'],
        },
        { x: [2, 6, 9] },
        { N: 2 },
      );
      expectRuled(map, 'p', ['N', 2, 9], 'Split');
      expectRuled(map, 'q', ['N', 4, 9]);
      for (const k of ['r', 's', 't']) expectRuled(map, k, ['N', 6, 3]);
    });
  }

  it('Concat adds along the axis and checks the other dims', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [op('Concat', ['x', 'y', 'x'], ['c'], { axis: -2 })],
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 4]), tensorInfo('y', FLOAT, ['N', 5, 4])],
      },
      { x: [2, 3, 4], y: [2, 5, 4] },
      { N: 2 },
    );
    expectRuled(map, 'c', ['N', 11, 4], 'Concat');
    const bad = buildModel({ nodes: [op('Concat', ['x', 'y'], ['c'], { axis: 0 })], inputs: [tensorInfo('x', FLOAT, [1, 3]), tensorInfo('y', FLOAT, [1, 4])] });
    expect(() => inferShapesStatic(bad)).to.throw(GraphError, /disagree off the concat axis/);
  });

  for (const opset of [2, 11]) {
    it(`Pad with pads as ${opset < 11 ? 'attribute' : 'input'} (opset ${opset})`, async () => {
      const pads = [0, 1, 2, 0, 3, 1];
      const map = await checkAgainstOrt(
        {
          opset,
          nodes: [opset < 11 ? op('Pad', ['x'], ['y'], { pads, mode: 'reflect' }) : op('Pad', ['x', 'pads'], ['y'], { mode: 'edge' })],
          inputs: [tensorInfo('x', FLOAT, [2, 4, 5])],
          initializers: opset < 11 ? [] : [int64Tensor('pads', [6], pads)],
        },
        { x: [2, 4, 5] },
      );
      expectRuled(map, 'y', [2, 8, 8], 'Pad');
    });
  }

  it('TopK and Gather (with scalar and 2-D indices)', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('TopK', ['x', 'k'], ['v', 'i'], { axis: 1 }),
          op('Gather', ['x', 'i0'], ['g0'], { axis: 1 }),
          op('Gather', ['x', 'i2'], ['g2'], { axis: 2 }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 6, 5])],
        initializers: [int64Tensor('k', [1], [3]), int64Tensor('i0', [], [2]), int64Tensor('i2', [2, 3], [0, 1, 2, 3, 4, -1])],
        outputs: ['v', 'i', 'g0', 'g2'],
      },
      { x: [2, 6, 5] },
      { N: 2 },
    );
    expectRuled(map, 'v', ['N', 3, 5], 'TopK');
    expectRuled(map, 'i', ['N', 3, 5], 'TopK');
    expectRuled(map, 'g0', ['N', 5], 'Gather');
    expectRuled(map, 'g2', ['N', 6, 2, 3], 'Gather');
  });
});
