/**
 * Mirror kernel of DFT (opsets 17 and 20) against ONNX Runtime on what the Debian node tests do
 * not cover (real input, dft_length padding and truncation, onesided, inverse of complex input,
 * axis as an input at opset 20, negative axes), its refusals, and gradients vs finite differences.
 */
import { expect } from 'chai';
import { loadBackend } from '../../src/mirror/backend.js';
import type { AttributeProto } from '../../src/onnx/proto-types.js';
import { checkGradient, FLOAT, int, INT64, op, requireGradients } from '../helpers/op-harness.js';
import { caseProblems, matchesOrt, type OrtCase } from '../helpers/ort-op-compare.js';
import { int64Tensor } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

/** A DFT node on x of `dims`, with optional constant dft_length and (opset 20) axis inputs. */
function dft(opset: number, dims: number[], attrs: AttributeProto[], len?: number, axis?: number): OrtCase {
  const inits = [...(len !== undefined ? [int64Tensor('len', [], [len])] : []), ...(axis !== undefined ? [int64Tensor('axis', [], [axis])] : [])];
  const inputs: OrtCase['inputs'] = [['x', dims], len !== undefined ? ['len', []] : '', ...(axis !== undefined ? [['axis', []] as [string, number[]]] : [])];
  while (inputs[inputs.length - 1] === '') inputs.pop();
  return { op: 'DFT', attrs, inputs, inits, opset };
}

describe('ops/spectral: DFT', function () {
  before(async () => {
    await loadBackend('cpu');
  });
  const tol = { atol: 1e-4, rtol: 1e-4 };

  it('opset 17: real and complex input, axis attribute, dft_length, onesided, inverse', async () => {
    await matchesOrt(dft(17, [2, 8, 1], []), 1, tol);
    await matchesOrt(dft(17, [2, 7, 2], []), 2, tol);
    await matchesOrt(dft(17, [2, 5, 6, 1], [int('axis', 2)]), 3, tol);
    await matchesOrt(dft(17, [2, 5, 6, 2], [int('axis', -3)]), 4, tol);
    await matchesOrt(dft(17, [3, 6, 1], [int('onesided', 1)]), 5, tol);
    await matchesOrt(dft(17, [3, 7, 1], [int('onesided', 1)]), 6, tol);
    await matchesOrt(dft(17, [2, 6, 2], [int('inverse', 1)]), 7, tol);
    await matchesOrt(dft(17, [2, 6, 1], [], 9), 8, tol);
    await matchesOrt(dft(17, [2, 6, 2], [int('inverse', 1)], 4), 9, tol);
  });

  it('opset 20: axis is an input (default -2)', async () => {
    await matchesOrt(dft(20, [2, 5, 6, 2], []), 11, tol);
    await matchesOrt(dft(20, [2, 5, 6, 2], [], undefined, 1), 12, tol);
    await matchesOrt(dft(20, [2, 5, 6, 1], [int('onesided', 1)], 8, -3), 13, tol);
  });

  it('refuses inverse with onesided before running', () => {
    expect(caseProblems(dft(17, [1, 4, 2], [int('inverse', 1), int('onesided', 1)])).join()).to.match(/both inverse and onesided/);
    expect(caseProblems(dft(16, [1, 4, 2], [])).join()).to.match(/starts at opset 17/);
  });

  it('gradients (real, complex, inverse) match finite differences', async function () {
    requireGradients(this);
    const x = (dims: number[], seed: number) => ({ name: 'x', type: FLOAT, dims, data: Array.from(randomFloats(seed, dims.reduce((p, q) => p * q, 1))) });
    // loss sum(w * y) with varied weights (a plain mean would only see the zero frequency)
    await checkGradient({ opset: 17, nodes: [op('DFT', ['x'], [int('onesided', 1)])], inputs: [x([2, 6, 1], 21)] }, 'x');
    await checkGradient({ opset: 17, nodes: [op('DFT', ['x'], [int('axis', 2)])], inputs: [x([2, 3, 5, 2], 22)] }, 'x');
    const len = { name: 'len', type: INT64, dims: [], data: [7] };
    await checkGradient({ opset: 17, nodes: [op('DFT', ['x', 'len'], [int('inverse', 1)])], inputs: [x([2, 5, 2], 23), len] }, 'x');
  });
});
