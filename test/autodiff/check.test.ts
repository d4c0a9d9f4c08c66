/**
 * The pre-flight check catches what a rule finds only while emitting its nodes, and Concat along
 * a symbolic axis (the RobustBlock stacks real and imaginary planes along the batch) is
 * differentiated with run-time offsets where the opset allows it.
 */
import { expect } from 'chai';
import { checkDifferentiable } from '../../src/autodiff/index.js';
import { UserError } from '../../src/errors.js';
import { expectGradientsMatch, expectWrongGradientFails, randn, smallCase } from './harness.js';

const concatCase = (opset: number) =>
  smallCase(
    [
      { op_type: 'Concat', input: ['x', 'y'], output: ['c'], attribute: [{ name: 'axis', i: 0, type: 2 }] },
      { op_type: 'Softmax', input: ['c'], output: ['z'], attribute: [{ name: 'axis', i: 1, type: 2 }] },
    ],
    [
      { name: 'x', dims: ['batch', 5], feedDims: [2, 5], data: randn(10, 1) },
      { name: 'y', dims: ['batch', 5], feedDims: [3, 5], data: randn(15, 2) },
    ],
    ['z'],
    { opset, seed: 3 },
  );

describe('autodiff: the pre-flight check and Concat along a symbolic axis', function () {
  this.timeout(300000);

  it('at opset 9 (no run-time Slice bounds), Concat along a symbolic axis is refused by the check, naming the node', () => {
    const c = concatCase(9);
    expect(() => checkDifferentiable(c.model, { loss: { kind: 'cotangents', outputs: ['z'] }, inputs: ['x', 'y'] })).to.throw(UserError, /Concat.*not known statically/);
  });

  it('at opset 13, the offsets are computed at run time: gradients agree with finite differences, a wrong one fails', async () => {
    const c = concatCase(13);
    checkDifferentiable(c.model, { loss: { kind: 'cotangents', outputs: ['z'] }, inputs: ['x', 'y'] });
    const r = await expectGradientsMatch(c);
    await expectWrongGradientFails(c, {}, r);
  });
});
