/**
 * The ONNX Runtime gradient engine against the tfjs mirror on the project's default graph
 * (graphs/linearity_r18w16.onnx): gradients for the input and for every parameter agree (relative
 * L2 <= 1e-3), one Adam step and three training steps give the same weights, and sessions are
 * built once per request and reused (counted through the runtime).
 */
import { expect } from 'chai';
import { Adam } from '../../src/differentiable/adam.js';
import type { DifferentiableModel, HostTensor } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { UserError } from '../../src/errors.js';
import type { OrtEngine } from '../../src/engines/ort-engine.js';
import { Model } from '../../src/ir/model.js';
import { sessionCount } from '../../src/runtime/index.js';
import { gaussian } from '../helpers/finite-diff.js';

const GRAPH = 'graphs/linearity_r18w16.onnx';
const MAX_REL = 1e-3;

function images(n: number, seed: number): HostTensor {
  const dims = [n, 3, 96, 128];
  return { dims, data: Float32Array.from(gaussian(dims.reduce((a, b) => a * b, 1), seed), (v) => 0.8 * v) };
}

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d / n);
}

async function pair(trainable: string[]): Promise<{ ort: DifferentiableModel; tfjs: DifferentiableModel }> {
  const ort = await createEngine({ model: Model.load(GRAPH), engine: 'ort', trainable });
  const tfjs = await createEngine({ model: Model.load(GRAPH), engine: 'tfjs', trainable, backend: 'cpu' });
  return { ort, tfjs };
}

describe('engines: the ONNX Runtime engine on the default graph', function () {
  this.timeout(900_000);

  it(`input and all-parameter gradients equal the tfjs mirror's (relative L2 <= ${MAX_REL}), for cotangents and a built-in loss`, async () => {
    const { ort, tfjs } = await pair(['all']);
    try {
      expect(ort.engine).to.equal('ort on cpu');
      const x = images(2, 11);
      const ct = { score: { dims: [2, 1], data: Float32Array.of(0.7, -1.3) } };
      const [a, b] = [await ort.gradients({ input: x }, ct, { inputs: ['input'] }), await tfjs.gradients({ input: x }, ct, { inputs: ['input'] })];
      expect(Math.abs(a.loss - b.loss)).to.be.at.most(1e-4 * Math.max(1, Math.abs(b.loss)));
      expect(relL2(a.outputs.score!.data, b.outputs.score!.data)).to.be.at.most(1e-4);
      expect(a.inputGrads.input!.dims).to.deep.equal(x.dims);
      expect(relL2(a.inputGrads.input!.data, b.inputGrads.input!.data), 'input').to.be.at.most(MAX_REL);
      const names = tfjs.trainableNames();
      expect(Object.keys(a.paramGrads).sort()).to.deep.equal([...names].sort());
      const worst = names.map((n) => ({ n, rel: relL2(a.paramGrads[n]!.data, b.paramGrads[n]!.data) })).sort((p, q) => q.rel - p.rel);
      for (const n of names) expect(a.paramGrads[n]!.dims, n).to.deep.equal(b.paramGrads[n]!.dims);
      expect(worst[0]!.rel, `worst parameters: ${JSON.stringify(worst.slice(0, 3))}`).to.be.at.most(MAX_REL);
      // a gradient 1% off would fail the same check
      expect(relL2(Float32Array.from(a.inputGrads.input!.data, (v) => v * 1.01), b.inputGrads.input!.data)).to.be.greaterThan(MAX_REL);
      // the built-in mse loss on a batch of 3 (another batch size: the same sessions' free dimension)
      const t = { kind: 'mse' as const, target: { dims: [3], data: Float32Array.of(0.2, 0.5, 0.9) } };
      const x3 = images(3, 12);
      const [c, d] = [await ort.gradients({ input: x3 }, t, { inputs: ['input'], params: ['regressor.weight'] }), await tfjs.gradients({ input: x3 }, t, { inputs: ['input'], params: ['regressor.weight'] })];
      expect(Math.abs(c.loss - d.loss)).to.be.at.most(1e-4 * Math.max(1, Math.abs(d.loss)));
      expect(relL2(c.inputGrads.input!.data, d.inputGrads.input!.data)).to.be.at.most(MAX_REL);
      expect(relL2(c.paramGrads['regressor.weight']!.data, d.paramGrads['regressor.weight']!.data)).to.be.at.most(MAX_REL);
    } finally {
      ort.dispose();
      tfjs.dispose();
    }
  });

  it('one Adam step and three training steps (mse on 4 images, Adam on host arrays) give the same weights with either engine', async () => {
    const trainable = ['head3.*', 'head4.*', 'regressor.*', 'onnx::Conv_25*'];
    const { ort, tfjs } = await pair(trainable);
    const lr = 1e-3;
    try {
      const names = ort.trainableNames();
      expect(names).to.deep.equal(tfjs.trainableNames());
      const start = new Map(names.map((n) => [n, ort.getParameter(n).data as Float32Array]));
      const run = async (e: DifferentiableModel, steps: number): Promise<Map<string, Float32Array>> => {
        for (const n of names) e.setParameter(n, { dims: e.getParameter(n).dims, data: start.get(n)!.slice() });
        const adams = new Map(names.map((n) => [n, new Adam(start.get(n)!.length, { lr })]));
        for (let s = 0; s < steps; s++) {
          const x = images(4, 100 + s);
          const target = { dims: [4, 1], data: Float32Array.of(0.1, 0.4, 0.6, 0.9) };
          const g = await e.gradients({ input: x }, { kind: 'mse', target });
          for (const n of names) {
            const p = e.getParameter(n);
            adams.get(n)!.step(p.data as Float32Array, g.paramGrads[n]!.data as Float32Array);
            e.setParameter(n, p);
          }
        }
        return new Map(names.map((n) => [n, e.getParameter(n).data as Float32Array]));
      };
      for (const steps of [1, 3]) {
        const [wa, wb] = [await run(ort, steps), await run(tfjs, steps)];
        let moved = 0;
        for (const n of names) {
          const w0 = start.get(n)!;
          const da = Float32Array.from(wa.get(n)!, (v, i) => v - w0[i]!);
          const db = Float32Array.from(wb.get(n)!, (v, i) => v - w0[i]!);
          // Adam's first steps move each weight by about lr * sign(gradient): compare the moves
          expect(relL2(da, db), `${n} after ${steps} step(s)`).to.be.at.most(2e-2);
          let maxDiff = 0;
          for (let i = 0; i < da.length; i++) maxDiff = Math.max(maxDiff, Math.abs(da[i]! - db[i]!));
          expect(maxDiff, n).to.be.at.most(2 * lr * steps);
          moved += relL2(wa.get(n)!, w0) > 0 ? 1 : 0;
        }
        expect(moved).to.equal(names.length);
      }
      // forward reflects the engine's current parameters: equal to the mirror's after the same steps
      const x = images(2, 7);
      const [ya, yb] = [(await ort.forward({ input: x })).score!, (await tfjs.forward({ input: x })).score!];
      expect(relL2(ya.data, yb.data)).to.be.at.most(1e-4);
    } finally {
      ort.dispose();
      tfjs.dispose();
    }
  });

  it('sessions are built once per request and reused across calls, batch sizes and parameter updates; attacks feed no parameter', async () => {
    const before = sessionCount();
    const e = (await createEngine({ model: Model.load(GRAPH), engine: 'ort', trainable: ['regressor.*'] })) as OrtEngine;
    try {
      expect(sessionCount() - before, 'no session before the first call').to.equal(0);
      const ct = (n: number): Record<string, HostTensor> => ({ score: { dims: [n, 1], data: new Float32Array(n).fill(1) } });
      // an attack's request: input gradient only
      const g1 = await e.gradients({ input: images(1, 1) }, ct(1), { inputs: ['input'], params: [] });
      expect(sessionCount() - before).to.equal(1);
      const g2 = await e.gradients({ input: images(3, 2) }, ct(3), { inputs: ['input'], params: [] });
      expect(g2.inputGrads.input!.dims).to.deep.equal([3, 3, 96, 128]);
      expect(sessionCount() - before, 'another batch size reuses the session').to.equal(1);
      // fine-tuning's request: parameter gradients; an Adam step between runs rebuilds nothing
      const w = e.getParameter('regressor.weight');
      const p1 = await e.gradients({ input: images(2, 3) }, ct(2));
      expect(sessionCount() - before).to.equal(2);
      const y0 = (await e.forward({ input: images(2, 3) })).score!;
      expect(sessionCount() - before).to.equal(3);
      e.setParameter('regressor.weight', { dims: w.dims, data: Float32Array.from(w.data as Float32Array, (v) => v * 2) });
      e.setParameter('regressor.bias', { dims: [1], data: Float32Array.of(5) });
      const p2 = await e.gradients({ input: images(2, 3) }, ct(2));
      const y1 = (await e.forward({ input: images(2, 3) })).score!;
      expect(sessionCount() - before, 'setParameter on trained parameters rebuilds nothing').to.equal(3);
      expect(e.sessionCount).to.equal(3);
      // the new values took effect in both sessions
      expect(Math.abs((y1.data[0] as number) - (y0.data[0] as number))).to.be.greaterThan(1e-3);
      expect(p2.outputs.score!.data[0]).to.be.closeTo(y1.data[0] as number, 1e-4);
      expect(p1.outputs.score!.data[0]).to.be.closeTo(y0.data[0] as number, 1e-4);
      // the regressor's gradient does not depend on its own weight: unchanged bits in, same gradient out
      expect(relL2(p2.paramGrads['regressor.bias']!.data, p1.paramGrads['regressor.bias']!.data)).to.be.at.most(1e-6);
      expect(g1.outputs.score!.dims).to.deep.equal([1, 1]);
      expect(e.describe()).to.include('2 parameter(s) fed as inputs');
      // a parameter that does not train, set to its own bits, stays a constant: no new session
      const c = e.parameterNames().find((n) => !e.trainableNames().includes(n))!;
      e.setParameter(c, e.getParameter(c));
      await e.forward({ input: images(1, 5) });
      expect(sessionCount() - before).to.equal(3);
      // set to new bits, it is fed from then on (one new forward session), and the output changes
      const cv = e.getParameter(c);
      e.setParameter(c, { dims: cv.dims, data: Float32Array.from(cv.data as Float32Array, (v) => v * 1.5) });
      const y2 = (await e.forward({ input: images(2, 3) })).score!;
      expect(sessionCount() - before).to.equal(4);
      expect(Math.abs((y2.data[0] as number) - (y1.data[0] as number))).to.be.greaterThan(1e-6);
    } finally {
      e.dispose();
    }
  });

  it('a model with a fixed batch runs that batch; another is a UserError saying the batch is fixed', async () => {
    const e = await createEngine({ model: Model.load('fixtures/models/resnet18_iqa_static.onnx'), engine: 'ort' });
    try {
      const x = (n: number): HostTensor => ({ dims: [n, 3, 64, 64], data: new Float32Array(n * 3 * 64 * 64).fill(0.5) });
      const g = await e.gradients({ input: x(1) }, { kind: 'mean' }, { inputs: ['input'] });
      expect(g.inputGrads.input!.dims).to.deep.equal([1, 3, 64, 64]);
      let err: unknown;
      try {
        await e.gradients({ input: x(2) }, { kind: 'mean' }, { inputs: ['input'] });
      } catch (caught) {
        err = caught;
      }
      expect(err).to.be.instanceOf(UserError);
      expect((err as Error).message).to.include("input 'input' is declared [1,3,64,64], given [2,3,64,64]").and.include('fixes the batch at 1');
    } finally {
      e.dispose();
    }
  });
});
