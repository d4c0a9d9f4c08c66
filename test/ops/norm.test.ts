/**
 * Mirror kernels of the norm and softmax families against ONNX Runtime on what the Debian node
 * tests do not cover (softmax coercion before opset 13, BatchNormalization at old opsets and in
 * training mode, GroupNormalization at opsets 18 and 21, LRN with an even size, MVN axes),
 * unsupported() reasons, and input gradients vs finite differences.
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { AttributeProto, TensorProto } from '../../src/onnx/proto-types.js';
import { checkInputGradient, flt, int, ints } from '../helpers/op-harness.js';
import { caseBytes, caseProblems as problems, feedsFor, matchesOrt, type OrtCase as Case } from '../helpers/ort-op-compare.js';
import { floatTensor } from '../helpers/proto-build.js';
import { randomFloats } from '../helpers/seeded-random.js';

describe('ops/norm: normalizations and the softmax family', function () {
  before(async () => {
    await loadBackend('cpu');
  });

  const one = (op: string, attrs: AttributeProto[], x: number[], opset = 13, inits: TensorProto[] = [], extra: string[] = [], outputs?: string[]): Case => ({
    op,
    attrs,
    inputs: [['x', x], ...extra.map((n) => [n, [0]] as [string, number[]])],
    inits,
    opset,
    ...(outputs ? { outputs } : {}),
  });
  const positive = (name: string, dims: number[], seed: number) => floatTensor(name, dims, randomFloats(seed, dims.reduce((a, b) => a * b, 1), 0.5, 2));
  const signed = (name: string, dims: number[], seed: number) => floatTensor(name, dims, randomFloats(seed, dims.reduce((a, b) => a * b, 1)));

  it('Softmax / LogSoftmax / Hardmax before opset 13 coerce to 2-D at axis (default 1)', async () => {
    for (const op of ['Softmax', 'LogSoftmax', 'Hardmax']) {
      await matchesOrt(one(op, [], [2, 3, 4], 11));
      await matchesOrt(one(op, [int('axis', 2)], [2, 3, 4, 2], 11));
      await matchesOrt(one(op, [int('axis', 0)], [2, 3], 11));
      await matchesOrt(one(op, [int('axis', 1)], [2, 3, 4], 13));
    }
  });

  it('Hardmax picks the first of tied maxima', async () => {
    const bytes = caseBytes(one('Hardmax', [int('axis', 0)], [4, 2]));
    const m = await Mirror.create(Model.fromBytes(bytes), { backend: 'cpu' });
    const y = await m.forward({ x: { dims: [4, 2], data: Float32Array.from([1, 5, 3, 5, 3, 2, 0, 5]) } });
    expect(Array.from(y.y!.data)).to.deep.equal([0, 1, 1, 0, 0, 0, 0, 0]);
    m.dispose();
  });

  it('BatchNormalization: inference at opsets 7, 9 and 15 (rank 2, 3 and 5)', async () => {
    const bn = (opset: number, dims: number[], attrs: AttributeProto[] = []) => {
      const C = dims[1]!;
      return one('BatchNormalization', [flt('epsilon', 1e-3), ...attrs], dims, opset, [signed('s', [C], 1), signed('b', [C], 2), signed('m', [C], 3), positive('v', [C], 4)], ['s', 'b', 'm', 'v']);
    };
    await matchesOrt(bn(7, [2, 3, 4, 5], [int('spatial', 1)]));
    await matchesOrt(bn(9, [4, 3]));
    await matchesOrt(bn(15, [1, 2, 3, 2, 4]));
  });

  it('BatchNormalization training_mode=1 (opset 15): batch statistics and running updates', async () => {
    const C = 3;
    const dims = [2, C, 2, 2];
    const c = one('BatchNormalization', [int('training_mode', 1), flt('momentum', 0.8)], dims, 15, [signed('s', [C], 1), signed('b', [C], 2), signed('m', [C], 3), positive('v', [C], 4)], ['s', 'b', 'm', 'v'], ['y', 'rm', 'rv']);
    const feeds = feedsFor(c, 5);
    const m = await Mirror.create(Model.fromBytes(caseBytes(c)), { backend: 'cpu' });
    const got = await m.forward(feeds);
    const x = feeds.x!.data as Float32Array;
    const param = (n: string) => m.getParameter(n).data as Float32Array;
    for (let ch = 0; ch < C; ch++) {
      const vals: number[] = [];
      for (let n = 0; n < 2; n++) for (let k = 0; k < 4; k++) vals.push(x[n * 12 + ch * 4 + k]!);
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      const vr = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
      expect(got.rm!.data[ch]).to.be.closeTo(param('m')[ch]! * 0.8 + mean * 0.2, 1e-5);
      expect(got.rv!.data[ch]).to.be.closeTo(param('v')[ch]! * 0.8 + vr * 0.2, 1e-5);
      const y0 = ((vals[0]! - mean) / Math.sqrt(vr + 1e-5)) * param('s')[ch]! + param('b')[ch]!;
      expect(got.y!.data[ch * 4]).to.be.closeTo(y0, 1e-4);
    }
    m.dispose();
  });

  it('refuses the training outputs of BatchNormalization before opset 14', () => {
    const c = one('BatchNormalization', [], [1, 2, 3, 3], 9, [signed('s', [2], 1), signed('b', [2], 2), signed('m', [2], 3), positive('v', [2], 4)], ['s', 'b', 'm', 'v'], ['y', 'mean']);
    expect(problems(c).join()).to.match(/training outputs of BatchNormalization-9/);
  });

  it('InstanceNormalization (3-D), LayerNormalization with Mean and InvStdDev, GroupNormalization (opsets 18 and 21)', async () => {
    await matchesOrt(one('InstanceNormalization', [flt('epsilon', 1e-2)], [2, 3, 3, 4, 2], 13, [signed('s', [3], 1), signed('b', [3], 2)], ['s', 'b']));
    await matchesOrt(one('LayerNormalization', [int('axis', 1)], [2, 3, 4], 17, [signed('s', [3, 4], 1), signed('b', [3, 4], 2)], ['s', 'b'], ['y', 'mean', 'inv']));
    await matchesOrt(one('LayerNormalization', [int('axis', -2), flt('epsilon', 0.1)], [2, 3, 4], 17, [signed('s', [3, 4], 1)], ['s']));
    await matchesOrt(one('GroupNormalization', [int('num_groups', 2)], [2, 4, 3, 3], 18, [signed('s', [2], 1), signed('b', [2], 2)], ['s', 'b']));
    await matchesOrt(one('GroupNormalization', [int('num_groups', 2)], [2, 4, 3, 3], 21, [signed('s', [4], 1), signed('b', [4], 2)], ['s', 'b']));
  });

  it('LRN (odd size vs ONNX Runtime, even size vs the definition), and MeanVarianceNormalization with axes', async () => {
    await matchesOrt(one('LRN', [int('size', 5), flt('alpha', 0.01), flt('beta', 0.6), flt('bias', 1.5)], [2, 6, 3, 3]));
    // size 4: the window is [c - 1, c + 2] (ONNX Runtime refuses even sizes)
    const c = one('LRN', [int('size', 4), flt('alpha', 0.5), flt('beta', 0.75), flt('bias', 1)], [1, 5, 1, 1]);
    const m = await Mirror.create(Model.fromBytes(caseBytes(c)), { backend: 'cpu' });
    const xs = [1, -2, 3, 0.5, -1];
    const y = (await m.forward({ x: { dims: [1, 5, 1, 1], data: Float32Array.from(xs) } })).y!.data;
    xs.forEach((v, ch) => {
      let sq = 0;
      for (let k = ch - 1; k <= ch + 2; k++) if (k >= 0 && k < 5) sq += xs[k]! ** 2;
      expect(y[ch]).to.be.closeTo(v / (1 + (0.5 / 4) * sq) ** 0.75, 1e-6);
    });
    m.dispose();
    await matchesOrt(one('MeanVarianceNormalization', [ints('axes', [1, 2])], [2, 3, 4]));
  });

  it('input gradients match finite differences (LayerNormalization, LogSoftmax at opset 11, InstanceNormalization)', async () => {
    const x: HostTensor = { dims: [2, 3, 4], data: randomFloats(21, 24) };
    await checkInputGradient(caseBytes(one('LayerNormalization', [int('axis', 1)], x.dims, 17, [signed('s', [3, 4], 1)], ['s'])), { x }, 'x', [0, 5, 17]);
    await checkInputGradient(caseBytes(one('LogSoftmax', [int('axis', 1)], x.dims, 11)), { x }, 'x', [0, 11, 23]);
    await checkInputGradient(caseBytes(one('InstanceNormalization', [], x.dims, 13, [signed('s', [3], 1), signed('b', [3], 2)], ['s', 'b'])), { x }, 'x', [1, 6, 22]);
  });
});
