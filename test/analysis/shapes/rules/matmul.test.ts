/**
 * MatMul (1-D operands, broadcast batch dims) and Gemm (transA/transB) rules.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { GraphError } from '../../../../src/errors.js';
import { FLOAT, buildModel, checkAgainstOrt, expectRuled, float, floatTensor, op, tensorInfo } from '../rule-harness.js';

const filled = (name: string, dims: number[]) => floatTensor(name, dims, new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(0.5));

describe('shape rules: MatMul and Gemm', () => {
  it('MatMul: batch broadcasting and 1-D operands', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('MatMul', ['a', 'b'], ['ab']),
          op('MatMul', ['a', 'vec'], ['av']),
          op('MatMul', ['vec4', 'b2'], ['vb']),
        ],
        inputs: [tensorInfo('a', FLOAT, ['N', 1, 3, 4]), tensorInfo('b', FLOAT, [5, 4, 6])],
        initializers: [filled('vec', [4]), filled('vec4', [4]), filled('b2', [4, 2])],
        outputs: ['ab', 'av', 'vb'],
      },
      { a: [2, 1, 3, 4], b: [5, 4, 6] },
      { N: 2 },
    );
    expectRuled(map, 'ab', ['N', 5, 3, 6], 'MatMul');
    expectRuled(map, 'av', ['N', 1, 3]);
    expectRuled(map, 'vb', [2]);
  });

  it('Gemm with transA/transB and a broadcast bias', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [op('Gemm', ['x', 'w', 'bias'], ['y'], { transB: 1 }), op('Gemm', ['xt', 'w2'], ['z'], { transA: 1, alpha: float(2) })],
        inputs: [tensorInfo('x', FLOAT, ['batch', 8]), tensorInfo('xt', FLOAT, [8, 3])],
        initializers: [filled('w', [5, 8]), filled('bias', [5]), filled('w2', [8, 2])],
        outputs: ['y', 'z'],
      },
      { x: [4, 8], xt: [8, 3] },
      { batch: 4 },
    );
    expectRuled(map, 'y', ['batch', 5], 'Gemm');
    expectRuled(map, 'z', [3, 2], 'Gemm');
  });

  it('mismatched inner dims are a GraphError', () => {
    const m = buildModel({ nodes: [op('Gemm', ['x', 'w'], ['y'])], inputs: [tensorInfo('x', FLOAT, [2, 8])], initializers: [filled('w', [7, 3])] });
    expect(() => inferShapesStatic(m)).to.throw(GraphError, /inner dims differ/);
  });
});
