/**
 * Micro-batches (src/train/micro-batches.ts): the slices cover a batch exactly, and the parameter
 * gradients of a batch summed over slices equal one whole-batch call on the ONNX Runtime engine
 * (default graph, every parameter trained); leaving a slice out is told apart.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import { microSlices, summedParamGrads } from '../../src/train/micro-batches.js';
import { gaussian } from '../helpers/finite-diff.js';

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d / n);
}

describe('train/micro-batches', function () {
  this.timeout(900_000);

  it('slices cover the batch in order, the last one shorter; a size under 1 is refused', () => {
    expect(microSlices(10, 3)).to.deep.equal([[0, 3], [3, 3], [6, 3], [9, 1]]);
    expect(microSlices(4, 8)).to.deep.equal([[0, 4]]);
    expect(microSlices(1, 1)).to.deep.equal([[0, 1]]);
    for (const bad of [0, -1, 1.5, NaN]) expect(() => microSlices(4, bad)).to.throw(RangeError);
  });

  it('a batch of 5 in slices of 2 sums to the whole batch\'s gradients (relative L2 <= 1e-4, measured 1.4e-6); a slice left out fails', async () => {
    const engine = await createEngine({ model: Model.load('graphs/linearity_r18w16.onnx'), engine: 'ort', trainable: ['all'] });
    try {
      const n = 5;
      const per = 3 * 96 * 128;
      const x = Float32Array.from(gaussian(n * per, 21), (v) => 0.8 * v);
      const ct = Float32Array.of(0.7, -1.3, 0.2, 1.1, -0.4);
      const call = (s: number, c: number): { feeds: Record<string, HostTensor>; cotangents: Record<string, HostTensor> } => ({
        feeds: { input: { dims: [c, 3, 96, 128], data: x.subarray(s * per, (s + c) * per) } },
        cotangents: { score: { dims: [c, 1], data: ct.subarray(s, s + c) } },
      });
      const whole = await summedParamGrads(engine, n, n, call, {});
      const sliced = await summedParamGrads(engine, n, 2, call, {});
      const partial = await summedParamGrads(engine, 4, 2, call, {});
      const names = engine.trainableNames();
      expect(Object.keys(sliced).sort()).to.deep.equal([...names].sort());
      const worst = Math.max(...names.map((k) => relL2(sliced[k]!.data, whole[k]!.data)));
      expect(worst, 'sliced vs whole').to.be.at.most(1e-4);
      for (const k of names) expect(sliced[k]!.dims).to.deep.equal(whole[k]!.dims);
      const missing = Math.max(...names.map((k) => relL2(partial[k]!.data, whole[k]!.data)));
      expect(missing, 'the last image left out').to.be.greaterThan(1e-2);
    } finally {
      engine.dispose();
    }
  });
});
