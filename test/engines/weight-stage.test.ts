/**
 * The weight stage (src/engines/weight-stage.ts) and the ort engine's use of it: the split of a
 * RobustBlock's parametric Cayley (nodes that read parameters only) with its metadata, and an
 * engine that computes the stage once per parameter update giving the same forward, input and
 * parameter gradients as one running the model whole, summed slices included. A parameter that
 * both sides read gets both contributions (checked against the analytic gradient, which fails
 * when either is dropped).
 */
import { expect } from 'chai';
import type { HostTensor } from '../../src/differentiable/model.js';
import { gradientForm } from '../../src/differentiable/gradient-form.js';
import { OrtEngine } from '../../src/engines/ort-engine.js';
import { splitWeightStage } from '../../src/engines/weight-stage.js';
import { readCheckpoints } from '../../src/ir/checkpoints.js';
import { readInverseRegions } from '../../src/ir/inverse-regions.js';
import { Model } from '../../src/ir/model.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { relL2 } from '../autodiff/harness.js';
import { gaussian } from '../helpers/finite-diff.js';
import { FLOAT, floatTensor, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';

const P = 'robust_block';
const X = [4, 3, 96, 128];

async function spliced(inverse: 'schur' | 'newton-schulz'): Promise<Model> {
  const m = Model.load('graphs/linearity_r18w16.onnx');
  await spliceRobustBlock(m, { stage: 'layer3', inverse });
  return m;
}

const images = (n: number, seed: number): HostTensor => {
  const dims = [n, ...X.slice(1)];
  return { dims, data: Float32Array.from(gaussian(dims.reduce((a, b) => a * b, 1), seed), (v) => 0.8 * v) };
};

describe('engines: the weight stage', function () {
  this.timeout(900_000);

  it('splits the Cayley of a spliced RobustBlock: Q planes as the boundary, the inverse region with the stage, chunk segments restricted to it', async () => {
    const m = await spliced('schur');
    const fed = [`${P}.orth.weight`, `${P}.orth.alpha`, `${P}.orth.bias`, `${P}.reduce.weight`, `${P}.reduce.bias`];
    const s = splitWeightStage(m, fed)!;
    expect(s).to.not.equal(undefined);
    expect(s.weightParams).to.deep.equal([`${P}.orth.alpha`, `${P}.orth.weight`]);
    expect(s.dataParams).to.deep.equal([`${P}.orth.bias`, `${P}.reduce.bias`, `${P}.reduce.weight`]);
    expect(s.boundary.map((b) => b.name).sort()).to.deep.equal([`${P}/orth/cayley/Concat_qi_out`, `${P}/orth/cayley/Concat_qr_out`]);
    for (const b of s.boundary) expect(b.dims).to.deep.equal([6, 4, 64, 32]);
    expect(s.weight.graph.inputs).to.have.length(0);
    expect(s.weight.graph.outputs.map((v) => v.name).sort()).to.deep.equal(s.boundary.map((b) => b.name).sort());
    expect(readInverseRegions(s.weight)).to.have.length(1);
    expect(readInverseRegions(s.data)).to.have.length(0);
    expect(s.data.graph.nodes.length + s.nodes).to.equal(m.graph.nodes.length);
    for (const b of s.boundary) expect(s.data.graph.lookup(b.name)!.isGraphInput).to.equal(true);
    // the chunked form: each frequency chunk's segment now ends at its Q rows, in the stage only
    const chunked = gradientForm(m, { chunkAboveBytes: 0, chunkBytes: 1 }).model;
    const c = splitWeightStage(chunked, fed)!;
    const segs = readCheckpoints(c.weight);
    expect(segs).to.have.length(6);
    expect(readCheckpoints(c.data)).to.have.length(0);
    const boundary = new Set(c.boundary.map((b) => b.name));
    for (const seg of segs) for (const o of seg.outputs) expect(boundary.has(o), o).to.equal(true);
    expect(c.boundary).to.have.length(12);
  });

  it('no stage where every parameter is read by nodes that also read images, or where nothing is fed', () => {
    const m = Model.load('graphs/linearity_r18w16.onnx');
    const all = m.graph.initializers().map((v) => v.name);
    expect(splitWeightStage(m, all)).to.equal(undefined);
    expect(splitWeightStage(m, [])).to.equal(undefined);
  });

  for (const inverse of ['schur', 'newton-schulz'] as const) {
    it(`${inverse}: an engine with the stage hoisted gives the whole model's forward and gradients, computes the stage once per update, and sums slices through one stage backward`, async () => {
      const m = await spliced(inverse);
      const hoisted = await OrtEngine.create(m, { trainable: ['robust-block'] });
      const whole = await OrtEngine.create(m, { trainable: ['robust-block'], hoistWeights: false });
      try {
        const x = images(4, 3);
        const fa = await hoisted.forward({ input: x });
        const fb = await whole.forward({ input: x });
        expect(relL2(fa.score!.data, fb.score!.data)).to.be.at.most(1e-6);
        expect(hoisted.describe()).to.match(/a weight stage of \d+ node\(s\)/);
        expect(whole.describe()).to.not.match(/weight stage/);
        const ct = { score: { dims: [4, 1], data: Float32Array.of(0.7, -1.3, 0.2, 1.1) } };
        const ga = await hoisted.gradients({ input: x }, ct, { inputs: ['input'] });
        const gb = await whole.gradients({ input: x }, ct, { inputs: ['input'] });
        expect(relL2(ga.inputGrads.input!.data, gb.inputGrads.input!.data), 'input').to.be.at.most(1e-5);
        const names = hoisted.trainableNames();
        expect(Object.keys(ga.paramGrads).sort()).to.deep.equal([...names].sort());
        for (const p of names) expect(relL2(ga.paramGrads[p]!.data, gb.paramGrads[p]!.data), p).to.be.at.most(1e-5);
        // input gradients and parameters outside the stage: the data model on the cached stage values
        const gi = await hoisted.gradients({ input: x }, ct, { inputs: ['input'], params: [`${P}.reduce.weight`] });
        expect(relL2(gi.inputGrads.input!.data, gb.inputGrads.input!.data), 'input, data model').to.be.at.most(1e-5);
        expect(relL2(gi.paramGrads[`${P}.reduce.weight`]!.data, gb.paramGrads[`${P}.reduce.weight`]!.data), 'reduce.weight, data model').to.be.at.most(1e-5);
        expect(hoisted.stageRuns, 'one stage forward for the forward and the gradient calls').to.equal(1);
        const slice = (i: number): { feeds: Record<string, HostTensor>; cotangents: Record<string, HostTensor> } => {
          const per = x.data.length / 2;
          return { feeds: { input: { dims: [2, ...X.slice(1)], data: x.data.subarray(i * per, (i + 1) * per) } }, cotangents: { score: { dims: [2, 1], data: ct.score.data.subarray(2 * i, 2 * i + 2) } } };
        };
        const summed = await hoisted.sumParamGrads(2, slice);
        for (const p of names) expect(relL2(summed[p]!.data, gb.paramGrads[p]!.data), `summed ${p}`).to.be.at.most(1e-5);
        expect(hoisted.stageRuns, 'the sum ran on the cached values').to.equal(1);
        // the sum dropped them (an optimizer step follows): the next call computes them again
        expect(hoisted.memoryStats().tensors).to.equal(names.length);
        const outside = await hoisted.sumParamGrads(2, slice, { params: [`${P}.reduce.weight`] });
        expect(Object.keys(outside)).to.deep.equal([`${P}.reduce.weight`]);
        expect(relL2(outside[`${P}.reduce.weight`]!.data, gb.paramGrads[`${P}.reduce.weight`]!.data), 'summed, outside the stage').to.be.at.most(1e-5);
        const half = await hoisted.sumParamGrads(1, slice);
        expect(relL2(half[`${P}.orth.weight`]!.data, gb.paramGrads[`${P}.orth.weight`]!.data), 'one slice of two').to.be.greaterThan(1e-2);
        expect(hoisted.stageRuns).to.equal(2);
        // an update is seen by the next call: the stage runs again and both engines still agree
        const w = hoisted.getParameter(`${P}.orth.weight`);
        // not a rescaling: Q reads W through W / ||W||
        (w.data as Float32Array).forEach((v, i, a) => (a[i] = v + 0.05 * Math.sin(i)));
        hoisted.setParameter(`${P}.orth.weight`, w);
        whole.setParameter(`${P}.orth.weight`, w);
        const fa2 = await hoisted.forward({ input: x });
        const fb2 = await whole.forward({ input: x });
        expect(hoisted.stageRuns).to.equal(3);
        expect(relL2(fa2.score!.data, fa.score!.data), 'the update changed the scores').to.be.greaterThan(1e-4);
        expect(relL2(fa2.score!.data, fb2.score!.data)).to.be.at.most(1e-6);
        expect(hoisted.memoryStats().tensors).to.equal(names.length + 2);
      } finally {
        hoisted.dispose();
        whole.dispose();
      }
    });
  }

  it('a parameter read by the stage and by the data nodes gets both gradients (analytic check; dropping either fails); a stage over stageSumMaxBytes is differentiated per call', async () => {
    // y = x * w + exp(w): Exp(w) is the stage, Mul reads w directly
    const w0 = [0.3, -0.5, 0.8];
    const bytes = modelBytes({
      nodes: [node('Exp', ['w'], ['e'], 'exp'), node('Mul', ['x', 'w'], ['m'], 'mul'), node('Add', ['m', 'e'], ['y'], 'add')],
      inputs: [tensorInfo('x', FLOAT, ['n', 3])],
      outputs: [tensorInfo('y', FLOAT, ['n', 3])],
      initializers: [floatTensor('w', [3], w0)],
      opset: 17,
    });
    const m = Model.fromBytes(bytes);
    const s = splitWeightStage(m, ['w'])!;
    expect(s.weightParams).to.deep.equal(['w']);
    expect(s.dataParams).to.deep.equal(['w']);
    const x = Float32Array.of(1, 2, 3, -1, 0.5, 2);
    const ct = Float32Array.of(0.5, -1, 2, 1, 1, -0.5);
    const direct = [0, 1, 2].map((j) => ct[j]! * x[j]! + ct[3 + j]! * x[3 + j]!);
    const staged = [0, 1, 2].map((j) => (ct[j]! + ct[3 + j]!) * Math.exp(w0[j]!));
    const want = direct.map((d, j) => d + staged[j]!);
    const engine = await OrtEngine.create(m, { trainable: ['w'] });
    try {
      const g = await engine.gradients({ x: { dims: [2, 3], data: x } }, { y: { dims: [2, 3], data: ct } });
      expect(relL2(g.paramGrads.w!.data, want)).to.be.at.most(1e-6);
      expect(relL2(direct, want), 'the direct part alone').to.be.greaterThan(1e-2);
      expect(relL2(staged, want), 'the staged part alone').to.be.greaterThan(1e-2);
      const summed = await engine.sumParamGrads(2, (i) => ({ feeds: { x: { dims: [1, 3], data: x.subarray(3 * i, 3 * i + 3) } }, cotangents: { y: { dims: [1, 3], data: ct.subarray(3 * i, 3 * i + 3) } } }));
      expect(relL2(summed.w!.data, want)).to.be.at.most(1e-6);
      expect(engine.stageRuns).to.equal(1);
      // whole-model gradient session for `gradients`; stage forward, data and stage gradients for the sum
      expect(engine.sessionCount).to.equal(4);
    } finally {
      engine.dispose();
    }
    // a stage larger than stageSumMaxBytes: every call differentiates it (one whole-model session), same sum
    const small = await OrtEngine.create(m, { trainable: ['w'], stageSumMaxBytes: 8 });
    try {
      const summed = await small.sumParamGrads(2, (i) => ({ feeds: { x: { dims: [1, 3], data: x.subarray(3 * i, 3 * i + 3) } }, cotangents: { y: { dims: [1, 3], data: ct.subarray(3 * i, 3 * i + 3) } } }));
      expect(relL2(summed.w!.data, want)).to.be.at.most(1e-6);
      expect(small.sessionCount).to.equal(1);
      expect(small.stageRuns).to.equal(0);
      // its cached values serve forwards, and are dropped before a whole-model gradient run
      await small.forward({ x: { dims: [2, 3], data: x } });
      expect(small.stageRuns).to.equal(1);
      expect(small.memoryStats().tensors).to.equal(2);
      await small.gradients({ x: { dims: [2, 3], data: x } }, { y: { dims: [2, 3], data: ct } });
      expect(small.memoryStats().tensors).to.equal(1);
    } finally {
      small.dispose();
    }
  });
});
