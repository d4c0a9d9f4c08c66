/**
 * Mirror kernels of the matmul family beyond the ONNX node tests: Einsum (the Debian tests are
 * float64, which the mirror does not take) against ONNX Runtime on float32 and int32, its
 * refusals and errors, and gradients vs finite differences.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { checkInputGradient, fails, FLOAT, op, run, seq, str } from '../helpers/op-harness.js';
import { caseBytes, caseProblems, matchesOrt, type OrtCase } from '../helpers/ort-op-compare.js';
import { randomFloats } from '../helpers/seeded-random.js';

const einsum = (eq: string, ...shapes: number[][]): OrtCase => ({ op: 'Einsum', attrs: [str('equation', eq)], inputs: shapes.map((d, k) => [`x${k}`, d] as [string, number[]]), opset: 12 });
const einsumInt = (eq: string, ...shapes: number[][]): OrtCase => ({ ...einsum(eq), inputs: shapes.map((d, k) => [`x${k}`, d, 6] as [string, number[], number]) });

describe('ops/matmul: Einsum', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  it('matmul-like, batched, transposes, sums, inner and outer products against ONNX Runtime', async () => {
    await matchesOrt(einsum('ij,jk->ik', [3, 4], [4, 5]));
    await matchesOrt(einsum('bij, bjk -> bik', [2, 3, 4], [2, 4, 5]));
    await matchesOrt(einsum('bhqd,bhkd->bhqk', [2, 3, 4, 5], [2, 3, 6, 5]));
    await matchesOrt(einsum('ij,jk', [3, 4], [4, 2]));
    await matchesOrt(einsum('i,i', [5], [5]));
    await matchesOrt(einsum('ij->ji', [3, 4]));
    await matchesOrt(einsum('ij->i', [3, 4]));
    await matchesOrt(einsum('ijk->', [2, 3, 4]));
    await matchesOrt(einsum('ij,kl->ijkl', [2, 3], [4, 2]));
    await matchesOrt(einsum('ij,ij->ij', [3, 4], [3, 4]));
    await matchesOrt(einsum('ijk,jl,lk->il', [2, 3, 4], [3, 5], [5, 4]));
    await matchesOrt(einsum('bn,anm,bm->ba', [2, 3], [4, 3, 5], [2, 5]));
  });

  it('diagonals, traces and the ellipsis', async () => {
    await matchesOrt(einsum('...ii->...i', [2, 3, 3]));
    await matchesOrt(einsum('ii', [4, 4]));
    await matchesOrt(einsum('ii->i', [4, 4]));
    await matchesOrt(einsum('iij->j', [3, 3, 2]));
    await matchesOrt(einsum('...ij,...jk->...ik', [2, 3, 4], [2, 4, 5]));
    await matchesOrt(einsum('...j,j->...', [2, 3, 4], [4]));
    await matchesOrt(einsum('b...,b...->b...', [2, 3, 4], [2, 3, 4]));
    await matchesOrt(einsum('...ij,jk->...ik', [2, 1, 3, 4], [4, 2]));
    await matchesOrt(einsum('...ij,...jk->...ik', [2, 1, 3, 4], [1, 5, 4, 2]));
  });

  it('int32 operands stay exact', async () => {
    await matchesOrt(einsumInt('ij,jk->ik', [3, 4], [4, 5]));
    await matchesOrt(einsumInt('ii->i', [3, 3]));
  });

  it('refusals and errors', async () => {
    const x = (name: string, dims: number[]) => ({ name, type: FLOAT, dims, data: seq(dims.reduce((p, q) => p * q, 1)) });
    const runEq = (eq: string, ...shapes: number[][]) => run({ opset: 12, nodes: [op('Einsum', shapes.map((_, k) => `x${k}`), [str('equation', eq)])], inputs: shapes.map((d, k) => x(`x${k}`, d)) });
    expect(await fails(runEq('b...,b...->b', [2, 3], [2, 3]))).to.match(/output has no '\.\.\.'/);
    expect(await fails(runEq('ij,jk->ik', [2, 3], [4, 2]))).to.match(/label 'j' has sizes 3 and 4/);
    expect(await fails(runEq('ij->ji', [2, 3, 4]))).to.match(/does not match operand 0/);
    expect(await fails(runEq('i,i->k', [2], [2]))).to.match(/output label 'k'/);
    expect(caseProblems({ ...einsum('ij->ji', [2, 2]), opset: 11 }).join()).to.match(/starts at opset 12/);
    expect(caseProblems({ ...einsum('', [2, 2]) }).join()).to.match(/without an equation/);
  });

  it('gradients in both operands (and through a diagonal) match finite differences', async () => {
    const a: HostTensor = { dims: [2, 3, 4], data: randomFloats(3, 24) };
    const b: HostTensor = { dims: [2, 4, 2], data: randomFloats(4, 16) };
    const mm = caseBytes(einsum('bij,bjk->bik', a.dims, b.dims));
    await checkInputGradient(mm, { x0: a, x1: b }, 'x0', [0, 5, 23]);
    await checkInputGradient(mm, { x0: a, x1: b }, 'x1', [1, 8, 15]);
    const d: HostTensor = { dims: [2, 3, 3], data: randomFloats(5, 18) };
    await checkInputGradient(caseBytes(einsum('...ii->...i', d.dims)), { x0: d }, 'x0', [0, 1, 4, 17]);
  });
});
