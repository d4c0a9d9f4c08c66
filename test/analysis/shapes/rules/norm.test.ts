/**
 * BatchNormalization (inference and training outputs) and LayerNormalization (Mean, InvStdDev).
 */
import { FLOAT, checkAgainstOrt, expectRuled, floatTensor, op, tensorInfo } from '../rule-harness.js';

const ones = (name: string, n: number) => floatTensor(name, [n], new Array<number>(n).fill(1));
const zeros = (name: string, n: number) => floatTensor(name, [n], new Array<number>(n).fill(0));

describe('shape rules: normalizations', () => {
  it('BatchNormalization and InstanceNormalization keep X; LayerNormalization statistics keep dims before axis', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 17,
        nodes: [
          op('BatchNormalization', ['x', 'g', 'b', 'm', 'v'], ['bn']),
          op('InstanceNormalization', ['bn', 'g', 'b'], ['in']),
          op('LayerNormalization', ['in', 'lg', 'lb'], ['ln', 'mean', 'istd'], { axis: -2 }),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 4, 5])],
        initializers: [ones('g', 3), zeros('b', 3), zeros('m', 3), ones('v', 3), floatTensor('lg', [4, 5], new Array<number>(20).fill(1)), floatTensor('lb', [4, 5], new Array<number>(20).fill(0))],
        outputs: ['ln', 'mean', 'istd'],
      },
      { x: [2, 3, 4, 5] },
      { N: 2 },
    );
    expectRuled(map, 'bn', ['N', 3, 4, 5], 'BatchNormalization');
    expectRuled(map, 'in', ['N', 3, 4, 5], 'InstanceNormalization');
    expectRuled(map, 'ln', ['N', 3, 4, 5], 'LayerNormalization');
    expectRuled(map, 'mean', ['N', 3, 1, 1], 'LayerNormalization');
    expectRuled(map, 'istd', ['N', 3, 1, 1], 'LayerNormalization');
  });

  it('BatchNormalization in training mode (opset 15) gives per-channel running statistics', async () => {
    const map = await checkAgainstOrt(
      {
        opset: 15,
        nodes: [op('BatchNormalization', ['x', 'g', 'b', 'm', 'v'], ['y', 'rm', 'rv'], { training_mode: 1 })],
        inputs: [tensorInfo('x', FLOAT, [2, 3, 4])],
        initializers: [ones('g', 3), zeros('b', 3), zeros('m', 3), ones('v', 3)],
      },
      { x: [2, 3, 4] },
    );
    expectRuled(map, 'y', [2, 3, 4]);
    expectRuled(map, 'rm', [3]);
    expectRuled(map, 'rv', [3]);
  });
});
