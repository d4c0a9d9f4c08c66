/**
 * Gradients of models with a spliced RobustBlock, in every form (parametric Newton-Schulz with its
 * inverse region, com.microsoft Inverse, materialized, AOL, the max-pool variant, restore-size):
 * the gradient graph run in ONNX Runtime against the TensorFlow.js mirror (relative L2 <= 1e-3)
 * and against central finite differences of ONNX Runtime's forward (<= 1e-2), for the input and
 * the block's parameters (W, alpha, bias, reduce conv). Also the inverse-region handling: the
 * Newton-Schulz iteration replaced by the inverse's rule (same gradients as differentiating
 * through it), and an invalid region ignored with a warning.
 */
import { expect } from 'chai';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import { INVERSE_REGIONS_KEY } from '../../src/autodiff/inverse-regions.js';
import type { HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import type { AttributeProto, NodeProto } from '../../src/onnx/proto-types.js';
import { openRunner } from '../../src/runtime/index.js';
import { spliceRobustBlock, type SpliceOptions } from '../../src/surgery/splice.js';
import { finiteDifferenceChecks, randn, relL2, RELU_STEPS, runGradientGraph, type GradCase, MAX_REL } from './harness.js';
import { report } from '../helpers/finite-diff.js';

const FILE = 'graphs/linearity_r18w16.onnx';
const P = 'robust_block';
const X_DIMS = [2, 3, 96, 128];

/** The value names of B and C = B^-1 of a Newton-Schulz block: the block matrix and the last iterate. */
export function newtonSchulzRegion(model: Model, prefix = P): { input: string; output: string } {
  const nodes = model.graph.nodes;
  const b = nodes.find((n) => n.name === `${prefix}/orth/cayley/Concat_block`)!;
  const iters = nodes.filter((n) => n.name.startsWith(`${prefix}/orth/cayley/ns/MatMul_x_`));
  const last = iters.sort((p, q) => Number(p.name.split('_').pop()) - Number(q.name.split('_').pop())).pop()!;
  return { input: b.outputs[0]!.name, output: last.outputs[0]!.name };
}

let lastEdge = '';

async function spliced(opts: Partial<SpliceOptions>, regions = false): Promise<Model> {
  const m = Model.load(FILE);
  lastEdge = (await spliceRobustBlock(m, { stage: 'layer3', ...opts })).edge;
  // splice records the block's inverse region itself; without `regions` the test drops it
  if (!regions) m.setMetadata(INVERSE_REGIONS_KEY, '[]');
  return m;
}

/**
 * The model from the block's input edge on (the edge becomes the graph input, fed with its value
 * on the test image): finite differences along the image cross the ReLU and MaxPool kinks of the
 * ResNet stem and layers 1-3 at every step size that float32 rounding allows, so the input
 * gradient is checked by finite differences at the block's input (and against the mirror at the
 * image).
 */
async function fromEdge(m: Model, edge: string): Promise<GradCase> {
  const probe = m.clone();
  probe.graph.outputs = [...probe.graph.outputs, probe.graph.lookup(edge)!];
  const runner = await openRunner(probe);
  const relu = (await runner.run({ input: { elemType: 1, dims: X_DIMS, data: input() } }, [edge]))[edge]!;
  await runner.dispose();
  // the edge is a ReLU output: its exact zeros tie inside the max-pool variant's windows (no
  // derivative there), so the fed point is moved off them by a small positive jitter
  const jitter = randn(relu.data.length, 23, 0.05);
  const act = { ...relu, data: Float32Array.from(relu.data as Float32Array, (v, i) => v + Math.abs(jitter[i]!)) };
  const proto = m.clone().proto;
  const g = proto.graph!;
  const needed = new Set((g.output ?? []).map((o) => o.name!));
  const kept = [];
  for (const n of [...(g.node ?? [])].reverse()) {
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    kept.push(n);
    for (const i of n.input ?? []) if (i && i !== edge) needed.add(i);
  }
  g.node = kept.reverse();
  g.input = [{ name: edge, type: { tensor_type: { elem_type: 1, shape: { dim: act.dims.map((d) => ({ dim_value: d })) } } } }];
  g.initializer = (g.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  return { model: new Model(proto), feeds: { [edge]: act }, inputs: [edge], params: [], loss: { kind: 'mean', output: 'score' } };
}

function paramsOf(m: Model): string[] {
  return [`${P}.orth.weight`, `${P}.orth.alpha`, `${P}.orth.bias`, `${P}.reduce.weight`].filter((n) => m.graph.lookup(n)?.isInitializer);
}

const input = (): Float32Array => randn(X_DIMS.reduce((a, b) => a * b, 1), 17, 0.5);

function gradCase(m: Model, params: string[]): GradCase {
  return { model: m, feeds: { input: { elemType: 1, dims: X_DIMS, data: input() } }, inputs: ['input'], params, loss: { kind: 'mean', output: 'score' } };
}

/** The mirror's gradients of mean(score) for the input and params. */
async function mirrorGradients(m: Model, params: string[]): Promise<Record<string, Float32Array>> {
  const engine = await createEngine({ model: m, engine: 'tfjs', trainable: params });
  try {
    const feeds: Record<string, HostTensor> = { input: { dims: X_DIMS, data: input() } };
    const r = await engine.gradients(feeds, { kind: 'mean', output: 'score' }, { inputs: ['input'], params });
    const out: Record<string, Float32Array> = { input: r.inputGrads.input!.data as Float32Array };
    for (const p of params) out[p] = r.paramGrads[p]!.data as Float32Array;
    return out;
  } finally {
    engine.dispose();
  }
}

const FORMS: { what: string; opts: Partial<SpliceOptions>; regions?: boolean }[] = [
  { what: 'parametric exact Schur inverse (the default) with its complex inverse region', opts: {}, regions: true },
  { what: 'parametric Newton-Schulz with its inverse region', opts: { inverse: 'newton-schulz' }, regions: true },
  { what: 'parametric com.microsoft Inverse', opts: { inverse: 'com.microsoft' } },
  { what: 'materialized', opts: { form: 'materialized' } },
  { what: 'AOL', opts: { orth: 'aol' } },
  { what: 'max-pool variant (paper code: max pool, 3x3 unpadded reduce conv, alpha 1)', opts: { compat: 'paper-code' }, regions: true },
  { what: 'restore-size', opts: { restoreSize: true }, regions: true },
];

describe('autodiff on RobustBlock forms (linearity_r18w16, block at layer3)', function () {
  this.timeout(600000);

  for (const f of FORMS) {
    it(`${f.what}: input and parameter gradients equal the mirror's and finite differences of ORT`, async () => {
      const m = await spliced(f.opts, f.regions);
      const params = paramsOf(m);
      expect(params.length).to.be.at.least(f.opts.form === 'materialized' ? 2 : 3);
      const kase = gradCase(m, params);
      const r = await runGradientGraph(kase);
      if (f.regions) expect(r.graph.inverseRegions, JSON.stringify(r.graph.inverseRegions)).to.deep.include({ used: 1 });
      const mirror = await mirrorGradients(m, params);
      expect(relL2(r.inputGrads.input!, mirror.input!), 'input vs mirror').to.be.at.most(1e-3);
      for (const p of params) expect(relL2(r.paramGrads[p]!, mirror[p]!), `${p} vs mirror`).to.be.at.most(1e-3);
      const { checks } = await finiteDifferenceChecks({ ...kase, inputs: [] }, { steps: RELU_STEPS }, r);
      const atEdge = await finiteDifferenceChecks(await fromEdge(m, lastEdge), { steps: RELU_STEPS });
      const all = [...checks, ...atEdge.checks];
      for (const ch of all) expect(ch.rel, report(all)).to.be.at.most(MAX_REL);
    });
  }

  it('the inverse region replaces differentiating through Newton-Schulz: same gradients, a smaller backward, and a 5% wrong gradient fails', async () => {
    const m = await spliced({ inverse: 'newton-schulz' }, true);
    const params = paramsOf(m);
    const withRegion = await runGradientGraph(gradCase(m, params));
    expect(withRegion.graph.inverseRegions?.used).to.equal(1);
    // the same model differentiated through the iteration (regions passed explicitly: none)
    const noRegion = buildGradientGraph(m, { loss: { kind: 'mean', output: 'score' }, inputs: ['input'], params, inverseRegions: [] });
    expect(noRegion.inverseRegions?.used).to.equal(0);
    expect(withRegion.graph.model.graph.nodes.length).to.be.lessThan(noRegion.model.graph.nodes.length);
    const m2 = m.clone();
    m2.setMetadata(INVERSE_REGIONS_KEY, '[]');
    const plain = await runGradientGraph(gradCase(m2, params));
    expect(plain.graph.inverseRegions?.used).to.equal(0);
    for (const p of params) expect(relL2(withRegion.paramGrads[p]!, plain.paramGrads[p]!), p).to.be.at.most(1e-3);
    expect(relL2(withRegion.inputGrads.input!, plain.inputGrads.input!)).to.be.at.most(1e-3);
    const { checks } = await finiteDifferenceChecks(gradCase(m, params), { steps: RELU_STEPS, scale: 1.05 }, withRegion);
    expect(Math.max(...checks.map((c) => c.rel)), report(checks)).to.be.greaterThan(MAX_REL);
  });

  it('a complex region on real and imaginary planes (dB = -C^H dC C^H): same gradients as differentiating through, and FD of ORT', async () => {
    // B = (xr + 3I) + i xi; C = B^-1 through the real block form and com.microsoft Inverse; y = Cr * a + Ci * b (or Cr only)
    const n = 3;
    const eye = Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 3 : 0));
    const t = (name: string, dims: number[], data: ArrayLike<number>) => ({ name, dims, data_type: 1, raw_data: new Uint8Array(Float32Array.from(data).buffer) });
    const i64 = (name: string, data: number[]) => ({ name, dims: [data.length], data_type: 7, raw_data: new Uint8Array(BigInt64Array.from(data.map(BigInt)).buffer) });
    const node = (op: string, input: string[], output: string[], attribute: AttributeProto[] = [], domain?: string): NodeProto => ({ op_type: op, input, output, name: output[0], attribute, ...(domain ? { domain } : {}) });
    for (const both of [true, false]) {
      const nodes = [
        node('Add', ['xr', 'eye'], ['br']),
        node('Identity', ['xi'], ['bi']),
        node('Neg', ['bi'], ['nbi']),
        node('Concat', ['br', 'nbi'], ['top'], [{ name: 'axis', i: -1, type: 2 }]),
        node('Concat', ['bi', 'br'], ['bot'], [{ name: 'axis', i: -1, type: 2 }]),
        node('Concat', ['top', 'bot'], ['blk'], [{ name: 'axis', i: -2, type: 2 }]),
        node('Inverse', ['blk'], ['inv'], [], 'com.microsoft'),
        node('Slice', ['inv', 's0', 's1', 'ax'], ['cr']),
        node('Slice', ['inv', 's10', 's01', 'ax'], ['ci']),
        node('Mul', ['cr', 'a'], ['yr']),
        node('Mul', ['ci', 'b'], ['yi']),
        node(both ? 'Add' : 'Identity', both ? ['yr', 'yi'] : ['yr'], ['y']),
      ];
      const proto = {
        ir_version: 8,
        opset_import: [{ domain: '', version: 13 }, { domain: 'com.microsoft', version: 1 }],
        graph: {
          name: 'complex-inverse',
          node: nodes,
          input: ['xr', 'xi'].map((x) => ({ name: x, type: { tensor_type: { elem_type: 1, shape: { dim: [2, n, n].map((d) => ({ dim_value: d })) } } } })),
          output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
          initializer: [t('eye', [n, n], eye), t('a', [n, n], randn(n * n, 5)), t('b', [n, n], randn(n * n, 6)), i64('s0', [0, 0]), i64('s1', [n, n]), i64('s10', [n, 0]), i64('s01', [2 * n, n]), i64('ax', [-2, -1])],
        },
      };
      const m = new Model(proto);
      const region = { input: 'br', inputImag: 'bi', output: 'cr', outputImag: 'ci' };
      m.setMetadata(INVERSE_REGIONS_KEY, JSON.stringify([region]));
      const kase: GradCase = { model: m, feeds: { xr: { elemType: 1, dims: [2, n, n], data: randn(2 * n * n, 1, 0.5) }, xi: { elemType: 1, dims: [2, n, n], data: randn(2 * n * n, 2, 0.5) } }, inputs: ['xr', 'xi'] };
      const r = await runGradientGraph(kase);
      expect(r.graph.inverseRegions, JSON.stringify(r.graph.inverseRegions)).to.deep.include({ used: 1 });
      const m2 = m.clone();
      m2.setMetadata(INVERSE_REGIONS_KEY, '[]');
      const through = await runGradientGraph({ ...kase, model: m2 });
      expect(through.graph.inverseRegions?.used).to.equal(0);
      for (const x of ['xr', 'xi']) expect(relL2(r.inputGrads[x]!, through.inputGrads[x]!), x).to.be.at.most(1e-4);
      const { checks } = await finiteDifferenceChecks(kase, {}, r);
      for (const ch of checks) expect(ch.rel, report(checks)).to.be.at.most(MAX_REL);
      const wrong = await finiteDifferenceChecks(kase, { scale: 1.05 }, r);
      expect(Math.max(...wrong.checks.map((c) => c.rel))).to.be.greaterThan(MAX_REL);
    }
  });

  it('an invalid region (C does not depend on B, or an iterate read outside) is ignored with a warning and differentiated through', async () => {
    const m = await spliced({ inverse: 'newton-schulz' });
    const r = newtonSchulzRegion(m);
    const swapped = buildGradientGraph(m, { loss: { kind: 'mean', output: 'score' }, params: paramsOf(m), inverseRegions: [{ input: r.output, output: r.input }] });
    expect(swapped.inverseRegions?.used).to.equal(0);
    expect(swapped.inverseRegions?.warnings.join('\n')).to.match(/ignored.*does not depend on/);
    // an internal iterate made a graph output: not a closed region
    const m2 = m.clone();
    const first = m2.graph.nodes.find((n) => n.name === `${P}/orth/cayley/ns/MatMul_x_0`)!.outputs[0]!;
    m2.graph.outputs = [...m2.graph.outputs, first];
    const leaked = buildGradientGraph(m2, { loss: { kind: 'mean', output: 'score' }, params: paramsOf(m2), inverseRegions: [r] });
    expect(leaked.inverseRegions?.used).to.equal(0);
    expect(leaked.inverseRegions?.warnings.join('\n')).to.match(/graph output/);
    // malformed metadata
    const m3 = m.clone();
    m3.setMetadata(INVERSE_REGIONS_KEY, '{not json');
    const bad = buildGradientGraph(m3, { loss: { kind: 'mean', output: 'score' }, params: paramsOf(m3) });
    expect(bad.inverseRegions?.warnings.join('\n')).to.match(/not valid JSON/);
  });
});
