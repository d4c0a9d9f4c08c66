/**
 * Same-shape ops: activations, Softmax, Dropout (and its mask type by opset), Cast, Identity,
 * Quantize/Dequantize types.
 */
import { expect } from 'chai';
import { inferShapesStatic } from '../../../../src/analysis/shapes/infer.js';
import { FLOAT, INT64, buildModel, checkAgainstOrt, expectRuled, float, floatTensor, op, tensorInfo } from '../rule-harness.js';

const BOOL = 9;
const UINT8 = 2;

describe('shape rules: same-shape ops', () => {
  it('activations, Softmax, Dropout, Cast, Identity, Q/DQ keep the shape and get the right types', async () => {
    const zp = { name: 'zp', dims: [], data_type: UINT8, raw_data: new Uint8Array([128]) };
    const map = await checkAgainstOrt(
      {
        nodes: [
          op('Relu', ['x'], ['r']),
          op('LeakyRelu', ['r'], ['lr'], { alpha: float(0.1) }),
          op('Clip', ['lr', 'lo', 'hi'], ['cl']),
          op('Sigmoid', ['cl'], ['sg']),
          op('Tanh', ['sg'], ['th']),
          op('Softmax', ['th'], ['sm'], { axis: 1 }),
          op('Dropout', ['sm'], ['dr', 'mask']),
          op('Identity', ['dr'], ['id']),
          op('Cast', ['id'], ['ci'], { to: INT64 }),
          op('QuantizeLinear', ['id', 'scale', 'zp'], ['q']),
          op('DequantizeLinear', ['q', 'scale', 'zp'], ['dq']),
        ],
        inputs: [tensorInfo('x', FLOAT, ['N', 4, 3])],
        initializers: [floatTensor('lo', [], [-1]), floatTensor('hi', [], [1]), floatTensor('scale', [], [0.01]), zp],
        outputs: ['mask', 'ci', 'dq'],
      },
      { x: [2, 4, 3] },
      { N: 2 },
    );
    for (const [name, rule] of [['r', 'Relu'], ['lr', 'LeakyRelu'], ['cl', 'Clip'], ['sg', 'Sigmoid'], ['th', 'Tanh'], ['sm', 'Softmax'], ['dr', 'Dropout'], ['id', 'Identity']]) {
      expectRuled(map, name!, ['N', 4, 3], rule);
    }
    expect(map.get('mask')!.elemType).to.equal(BOOL);
    expect(map.get('ci')!.elemType).to.equal(INT64);
    expect(map.get('q')!.elemType).to.equal(UINT8);
    expect(map.get('dq')!.elemType).to.equal(FLOAT);
  });

  it('Dropout before opset 10 types its mask like the input', () => {
    const m = buildModel({ opset: 9, nodes: [op('Dropout', ['x'], ['y', 'mask'])], inputs: [tensorInfo('x', FLOAT, [2, 3])] });
    expect(inferShapesStatic(m).get('mask')!.elemType).to.equal(FLOAT);
  });
});
