/**
 * Gradient checkpointing (src/autodiff/checkpoints.ts) and the chunked Cayley form gradient
 * engines differentiate (src/surgery/robust-block/gradient-chunks.ts, src/differentiable/gradient-form.ts):
 * recomputed segments give the gradients of the whole form, the backward reads none of a
 * segment's internal forward values, bad segments are ignored with a warning, and a 5% wrong
 * gradient fails the finite-difference check.
 */
import { expect } from 'chai';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import { gradientForm } from '../../src/differentiable/gradient-form.js';
import { OrtEngine } from '../../src/engines/ort-engine.js';
import { CHECKPOINTS_KEY } from '../../src/ir/checkpoints.js';
import { Model } from '../../src/ir/model.js';
import { readInverseRegions } from '../../src/ir/inverse-regions.js';
import { cayleyBlocks } from '../../src/surgery/robust-block/gradient-chunks.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { report } from '../helpers/finite-diff.js';
import { expectWrongGradientFails, finiteDifferenceChecks, MAX_REL, randn, relL2, RELU_STEPS, runGradientGraph, smallCase, type GradCase } from './harness.js';

const X_DIMS = [2, 3, 96, 128];
const P = 'robust_block';
const PARAMS = [`${P}.orth.weight`, `${P}.orth.alpha`, `${P}.orth.bias`, `${P}.reduce.weight`];

async function spliced(inverse: 'schur' | 'newton-schulz' = 'schur'): Promise<Model> {
  const m = Model.load('graphs/linearity_r18w16.onnx');
  await spliceRobustBlock(m, { stage: 'layer3', inverse });
  return m;
}

function kase(m: Model): GradCase {
  return { model: m, feeds: { input: { elemType: 1, dims: X_DIMS, data: randn(X_DIMS.reduce((a, b) => a * b, 1), 5, 0.5) } }, inputs: ['input'], params: PARAMS, loss: { kind: 'mean', output: 'score' } };
}

/** Every chunk of the block small: a few frequency rows each. */
const forceChunks = { chunkAboveBytes: 0, chunkBytes: 1 };

describe('autodiff: checkpoint segments (recomputation)', function () {
  this.timeout(600000);

  it('a segment on a small chain: same gradients as keeping its values, recompute nodes in the graph, forward internals unread by the backward', async () => {
    const c = smallCase(
      [
        { op_type: 'Tanh', input: ['x'], output: ['a'] },
        { op_type: 'Mul', input: ['a', 'w'], output: ['b'] },
        { op_type: 'Exp', input: ['b'], output: ['c'] },
        { op_type: 'Sin', input: ['c'], output: ['y'] },
      ],
      [
        { name: 'x', dims: [3, 4], data: randn(12, 1, 0.7) },
        { name: 'w', dims: [3, 4], data: randn(12, 2, 0.5), init: true },
      ],
      ['y'],
      { inputs: ['x'], params: ['w'] },
    );
    const plain = await runGradientGraph(c);
    const model = c.model.clone();
    model.setMetadata(CHECKPOINTS_KEY, JSON.stringify([{ inputs: ['a'], outputs: ['c'] }]));
    const ck = await runGradientGraph({ ...c, model });
    expect(ck.graph.checkpoints).to.deep.equal({ used: 1, warnings: [] });
    expect(ck.graph.memory).to.match(/recomputed/);
    expect(relL2(ck.inputGrads.x!, plain.inputGrads.x!)).to.be.at.most(1e-6);
    expect(relL2(ck.paramGrads.w!, plain.paramGrads.w!)).to.be.at.most(1e-6);
    const nodes = ck.graph.model.graph.nodes;
    expect(nodes.filter((n) => n.name.startsWith('recompute/')).map((n) => n.opType)).to.deep.equal(['Mul', 'Exp']);
    // the copies read the differentiated inputs through the gate on the gradient that reached the
    // segment (a runtime cannot run them early, nor merge them with the forward nodes)
    const mulCopy = nodes.find((n) => n.name.startsWith('recompute/') && n.opType === 'Mul')!;
    expect(mulCopy.inputs.map((v) => v!.producer()?.opType)).to.deep.equal(['Where', 'Where']);
    // b is the segment's internal value: only the forward's Exp reads it, no backward node
    const readersOfB = nodes.filter((n) => n.inputs.some((v) => v?.name === 'b'));
    expect(readersOfB.map((n) => n.opType)).to.deep.equal(['Exp']);
    const { checks } = await finiteDifferenceChecks({ ...c, model });
    for (const ch of checks) expect(ch.rel, report(checks)).to.be.at.most(MAX_REL);
  });

  it('segments that cannot be recomputed are ignored with a warning, never a wrong gradient', async () => {
    const c = smallCase(
      [
        { op_type: 'Tanh', input: ['x'], output: ['a'] },
        { op_type: 'Exp', input: ['a'], output: ['b'] },
        { op_type: 'Mul', input: ['b', 'a'], output: ['y'] },
      ],
      [{ name: 'x', dims: [5], data: randn(5, 3, 0.7) }],
      ['y'],
      { inputs: ['x'] },
    );
    const plain = await runGradientGraph(c);
    for (const [meta, why] of [
      // 'a' is computed inside the segment and read by the Mul outside it
      [JSON.stringify([{ inputs: ['x'], outputs: ['b'] }]), /read by node/],
      [JSON.stringify([{ inputs: ['x'], outputs: ['nope'] }]), /not a computed value/],
      ['{not json', /not valid JSON/],
      [JSON.stringify([{ outputs: 3 }]), /must be a JSON list/],
    ] as const) {
      const model = c.model.clone();
      model.setMetadata(CHECKPOINTS_KEY, meta);
      const r = await runGradientGraph({ ...c, model });
      expect(r.graph.checkpoints?.used).to.equal(0);
      expect(r.graph.checkpoints?.warnings.join(' ')).to.match(why);
      expect(relL2(r.inputGrads.x!, plain.inputGrads.x!)).to.be.at.most(1e-6);
    }
  });
});

describe('autodiff: the RobustBlock Cayley in recomputed frequency chunks', function () {
  this.timeout(600000);

  it('gradientForm leaves small blocks whole and the user model untouched', async () => {
    const m = await spliced();
    const before = m.graph.nodes.length;
    const form = gradientForm(m);
    expect(form.model).to.equal(m);
    expect(form.chunked).to.deep.equal([]);
    expect(cayleyBlocks(m)).to.have.length(1);
    const forced = gradientForm(m, forceChunks);
    expect(forced.model).to.not.equal(m);
    expect(m.graph.nodes.length).to.equal(before);
    expect(forced.chunked[0]!.chunks).to.be.greaterThan(1);
  });

  for (const inverse of ['schur', 'newton-schulz'] as const) {
    it(`${inverse}: chunked gradients equal the whole block's, and finite differences of ORT; a 5% wrong gradient fails`, async () => {
      const m = await spliced(inverse);
      const whole = await runGradientGraph(kase(m));
      const { model, chunked } = gradientForm(m, forceChunks);
      const n = chunked[0]!.chunks;
      expect(n).to.be.greaterThan(1);
      expect(readInverseRegions(model)).to.have.length(n);
      const c = kase(model);
      const r = await runGradientGraph(c);
      expect(r.graph.checkpoints).to.deep.equal({ used: n, warnings: [] });
      expect(r.graph.inverseRegions?.used).to.equal(n);
      expect(Math.abs(r.loss - whole.loss)).to.be.at.most(1e-5 * Math.abs(whole.loss) + 1e-7);
      expect(relL2(r.inputGrads.input!, whole.inputGrads.input!), 'input').to.be.at.most(1e-4);
      for (const p of PARAMS) expect(relL2(r.paramGrads[p]!, whole.paramGrads[p]!), p).to.be.at.most(1e-4);
      // no backward node reads a chunk's internal forward value (only the recomputed copies)
      const forwardChunk = new Set(model.graph.nodes.filter((x) => x.name.includes('/grad_chunk') && !x.name.includes('/grad_chunks')).flatMap((x) => x.outputs.map((o) => o?.name)));
      const segmentEdges = new Set(JSON.parse(model.metadata().get(CHECKPOINTS_KEY)!).flatMap((s: { outputs: string[] }) => s.outputs));
      const leaks = r.graph.model.graph.nodes.filter((x) => x.name.startsWith('grad/') && x.inputs.some((v) => v && forwardChunk.has(v.name) && !segmentEdges.has(v.name)));
      expect(leaks.map((x) => x.name)).to.deep.equal([]);
      const { checks } = await finiteDifferenceChecks({ ...c, inputs: [] }, { steps: RELU_STEPS }, r);
      for (const ch of checks) expect(ch.rel, report(checks)).to.be.at.most(MAX_REL);
      if (inverse === 'schur') await expectWrongGradientFails({ ...c, inputs: [] }, { steps: RELU_STEPS });
    });
  }

  it('the ort engine differentiates the chunked form when asked (gradients as the whole form, the user model untouched)', async () => {
    const m = await spliced();
    const before = m.graph.nodes.length;
    const feeds = { input: { dims: X_DIMS, data: kase(m).feeds.input!.data as Float32Array } };
    const grads = async (chunks: boolean): Promise<Record<string, Float32Array>> => {
      const e = await OrtEngine.create(m, { trainable: PARAMS, ...(chunks ? { cayleyChunks: { aboveBytes: 0, chunkBytes: 1 } } : {}) });
      try {
        const r = await e.gradients(feeds, { kind: 'mean', output: 'score' }, { inputs: ['input'] });
        if (chunks) expect(e.describe()).to.match(/recomputed frequency chunks \(robust_block: \d+ chunks of 1 row/);
        else expect(e.describe()).to.not.match(/frequency chunks/);
        return { input: r.inputGrads.input!.data as Float32Array, ...Object.fromEntries(PARAMS.map((p) => [p, r.paramGrads[p]!.data as Float32Array])) };
      } finally {
        e.dispose();
      }
    };
    const whole = await grads(false);
    const chunked = await grads(true);
    for (const k of Object.keys(whole)) expect(relL2(chunked[k]!, whole[k]!), k).to.be.at.most(1e-4);
    expect(m.graph.nodes.length).to.equal(before);
  });

  it('buildGradientGraph takes segments from the request over the metadata', async () => {
    const m = await spliced();
    const { model, chunked } = gradientForm(m, forceChunks);
    const g = buildGradientGraph(model, { loss: { kind: 'mean', output: 'score' }, inputs: ['input'], params: PARAMS, checkpoints: [] });
    expect(g.checkpoints?.used).to.equal(0);
    const h = buildGradientGraph(model, { loss: { kind: 'mean', output: 'score' }, inputs: ['input'], params: PARAMS });
    expect(h.checkpoints?.used).to.equal(chunked[0]!.chunks);
    expect(h.model.graph.nodes.length).to.be.greaterThan(g.model.graph.nodes.length);
  });
});
