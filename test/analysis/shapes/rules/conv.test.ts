/**
 * Conv / ConvTranspose rules: exact output sizes for strides, pads, dilations, groups, auto_pad,
 * output_padding and output_shape, each also checked against ONNX Runtime; inconsistent weights
 * are reported as GraphErrors.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { GraphError } from '../../../../src/errors.js';
import { FLOAT, buildModel, checkAgainstOrt, expectRuled, floatTensor, op, tensorInfo } from '../rule-harness.js';

const weights = (name: string, dims: number[]) => floatTensor(name, dims, new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(0.1));

describe('shape rules: Conv', () => {
  it('stride 2, pads and dilations give the exact output size', async () => {
    // dilated kernel 5: H = floor((11 + 2 - 5) / 2) + 1 = 5, W = floor((13 + 2 - 5) / 2) + 1 = 6
    const map = await checkAgainstOrt(
      {
        nodes: [op('Conv', ['x', 'w'], ['y'], { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [2, 2] })],
        inputs: [tensorInfo('x', FLOAT, [1, 2, 11, 13])],
        initializers: [weights('w', [4, 2, 3, 3])],
      },
      { x: [1, 2, 11, 13] },
    );
    expectRuled(map, 'y', [1, 4, 5, 6], 'Conv');
  });

  it('asymmetric pads, SAME_UPPER, VALID, groups and bias', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('Conv', ['x', 'w'], ['a'], { pads: [0, 1, 2, 0] }),
          op('Conv', ['x', 'w'], ['b'], { auto_pad: 'SAME_UPPER', strides: [2, 3] }),
          op('Conv', ['x', 'w'], ['c'], { auto_pad: 'VALID', strides: [2, 2] }),
          op('Conv', ['x', 'wg', 'bias'], ['d'], { group: 2, kernel_shape: [1, 3] }),
        ],
        inputs: [tensorInfo('x', FLOAT, [1, 4, 11, 13])],
        initializers: [weights('w', [3, 4, 3, 3]), weights('wg', [6, 2, 1, 3]), weights('bias', [6])],
        outputs: ['a', 'b', 'c', 'd'],
      },
      { x: [1, 4, 11, 13] },
    );
    expectRuled(map, 'a', [1, 3, 11, 12]);
    expectRuled(map, 'b', [1, 3, 6, 5]);
    expectRuled(map, 'c', [1, 3, 5, 6]);
    expectRuled(map, 'd', [1, 6, 11, 11]);
  });

  it('1-D and 3-D convolutions', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [op('Conv', ['x1', 'w1'], ['y1'], { strides: [3] }), op('Conv', ['x3', 'w3'], ['y3'], { pads: [1, 1, 1, 1, 1, 1], strides: [1, 2, 2] })],
        inputs: [tensorInfo('x1', FLOAT, [2, 3, 20]), tensorInfo('x3', FLOAT, [1, 1, 4, 6, 7])],
        initializers: [weights('w1', [5, 3, 4]), weights('w3', [2, 1, 3, 3, 3])],
        outputs: ['y1', 'y3'],
      },
      { x1: [2, 3, 20], x3: [1, 1, 4, 6, 7] },
    );
    expectRuled(map, 'y1', [2, 5, 6]);
    expectRuled(map, 'y3', [1, 2, 4, 3, 4]);
  });

  it('keeps a symbolic batch and writes symbolic spatial sizes as expressions', async () => {
    const c = {
      nodes: [op('Conv', ['x', 'w'], ['y'], { strides: [2, 2], pads: [1, 1, 1, 1] })],
      inputs: [tensorInfo('x', FLOAT, ['N', 3, 'H', 32])],
      initializers: [weights('w', [8, 3, 3, 3])],
    };
    const map = await checkAgainstOrt(c, { x: [3, 3, 9, 32] }, { N: 3, H: 9 });
    expectRuled(map, 'y', ['N', 8, '((H-1)//2)+1', 16]);
  });

  it('reports a channel mismatch between input and weight', () => {
    const m = buildModel({
      nodes: [op('Conv', ['x', 'w'], ['y'])],
      inputs: [tensorInfo('x', FLOAT, [1, 4, 8, 8])],
      initializers: [weights('w', [8, 3, 3, 3])],
    });
    expect(() => inferShapesStatic(m)).to.throw(GraphError, /4 channels but weight \[8, 3, 3, 3\]/);
  });
});

describe('shape rules: ConvTranspose', () => {
  it('strides, pads, output_padding, output_shape, SAME_UPPER and groups', async () => {
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('ConvTranspose', ['x', 'w'], ['a'], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }),
          op('ConvTranspose', ['x', 'w'], ['b'], { strides: [2, 2], output_shape: [11, 12] }),
          op('ConvTranspose', ['x', 'w'], ['c'], { strides: [2, 3], auto_pad: 'SAME_UPPER' }),
          op('ConvTranspose', ['x', 'wg'], ['d'], { group: 2, dilations: [2, 1] }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 2, 5, 6])],
        initializers: [weights('w', [2, 3, 3, 3]), weights('wg', [2, 2, 3, 3])],
        outputs: ['a', 'b', 'c', 'd'],
      },
      { x: [2, 2, 5, 6] },
      { N: 2 },
    );
    expectRuled(map, 'a', ['N', 3, 10, 12], 'ConvTranspose');
    expectRuled(map, 'b', ['N', 3, 11, 12]);
    expectRuled(map, 'c', ['N', 3, 10, 18]);
    expectRuled(map, 'd', ['N', 4, 9, 8]);
  });
});
