/**
 * Symbolic dims: canonical forms (equal expressions are equal strings), simplification of exact
 * and partly exact divisions, evaluation for given symbol values, unknown dims.
 */
import { expect } from 'chai';
import { broadcastShapes, dimAdd, dimCeilDiv, dimEq, dimFloorDiv, dimMul, dimProduct, dimSub, isCompleteShape } from '../../../src/analysis/shapes/dims.js';
import { evalDim, symbolForParam } from '../../../src/analysis/shapes/symbolic.js';
import { GraphError } from '../../../src/errors.js';

describe('symbolic dims', () => {
  it('products and sums have one canonical text', () => {
    expect(dimMul('batch', 64)).to.equal('64*batch');
    expect(dimMul(64, 'batch')).to.equal('64*batch');
    expect(dimProduct(['H', 'batch', 2, 'W'])).to.equal('2*H*W*batch');
    expect(dimEq(dimMul('W', 'H'), dimMul('H', 'W'))).to.equal(true);
    expect(dimAdd(dimMul(2, 'H'), 1)).to.equal('2*H+1');
    expect(dimSub('H', 'H')).to.equal(0);
    expect(dimSub(dimAdd('N', 3), 4)).to.equal('N-1');
  });

  it('divisions simplify where exact and stay opaque where not', () => {
    expect(dimFloorDiv('64*batch', 'batch')).to.equal(64);
    expect(dimFloorDiv('64*batch', 16)).to.equal('4*batch');
    expect(dimFloorDiv(dimAdd(dimMul(2, 'H'), 1), 2)).to.equal('H');
    expect(dimFloorDiv(dimSub('H', 1), 2)).to.equal('((H-1)//2)');
    expect(dimAdd(dimFloorDiv(dimSub('H', 1), 2), 1)).to.equal('((H-1)//2)+1');
    expect(dimCeilDiv('H', 2)).to.equal('((H+1)//2)');
    expect(dimEq(dimFloorDiv('((H-1)//2)', 1), '((H-1)//2)')).to.equal(true);
  });

  it('evaluates expressions for given symbols', () => {
    expect(evalDim('((H-1)//2)+1', { H: 9 })).to.equal(5);
    expect(evalDim('((H+1)//2)', { H: 9 })).to.equal(5);
    expect(evalDim('2*H*W*batch', { H: 3, W: 4, batch: 2 })).to.equal(48);
    expect(evalDim('N-1', { N: 4 })).to.equal(3);
    expect(evalDim(7, {})).to.equal(7);
    expect(evalDim('batch', {})).to.equal(undefined);
    expect(evalDim('?3', { '?3': 1 })).to.equal(1);
    expect(evalDim('2*?3', {})).to.equal(undefined);
  });

  it('names that are not identifiers are braced and still evaluate', () => {
    const s = symbolForParam('batch size');
    expect(s).to.equal('{batch size}');
    expect(dimMul(s, 2)).to.equal('2*{batch size}');
    expect(evalDim(dimMul(s, 2), { 'batch size': 3 })).to.equal(6);
    expect(symbolForParam('N')).to.equal('N');
  });

  it('unknown dims make a shape incomplete; broadcasting rules', () => {
    expect(isCompleteShape(['batch', 3])).to.equal(true);
    expect(isCompleteShape(['?1', 3])).to.equal(false);
    expect(isCompleteShape(['2*?1', 3])).to.equal(false);
    let k = 0;
    const fresh = (): string => `?${++k}`;
    expect(broadcastShapes([['N', 1, 3], [4, 1]], fresh, 'x')).to.deep.equal(['N', 4, 3]);
    expect(broadcastShapes([['N'], [5]], fresh, 'x')).to.deep.equal([5]);
    expect(broadcastShapes([['N'], ['M']], fresh, 'x')).to.deep.equal(['?1']);
    expect(() => broadcastShapes([[2], [3]], fresh, 'node x')).to.throw(GraphError, /node x: cannot broadcast/);
  });
});
