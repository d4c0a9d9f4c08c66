/**
 * The blocked-layout gradient forms (src/ops/grad-layout.ts): with constant weights, the ReLU
 * masks, GlobalAveragePool's division and the strided convs' dX are written so that ONNX Runtime's
 * CPU provider keeps the backward pass in its NCHWc layout. They give the textbook forms'
 * gradients, they leave graphs with trained weights unchanged, and ONNX Runtime's optimised graph
 * has far fewer layout reorders with them (where this CPU has the NCHWc kernels at all; measured
 * here: 27 instead of 48 on the Linearity graph, whose MaxPool keeps layer1 in NCHW, and 19
 * instead of 141 on the ResNet-50 export).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildGradientGraph, type GradientGraphRequest } from '../../src/autodiff/index.js';
import { widenResnet } from '../../src/bench/make-large-model.js';
import { Model } from '../../src/ir/model.js';
import { BLOCKED_LAYOUT } from '../../src/ops/grad-layout.js';
import { f32, randn, relL2, runGradientGraph, type GradCase } from './harness.js';

function withLayout<T>(on: boolean, f: () => T): T {
  const was = BLOCKED_LAYOUT.enabled;
  BLOCKED_LAYOUT.enabled = on;
  try {
    return f();
  } finally {
    BLOCKED_LAYOUT.enabled = was;
  }
}

const opCount = (m: Model, op: string): number => m.graph.nodes.filter((n) => n.opType === op).length;

/** ONNX Runtime's own optimised graph (level all) of a model, read back. */
async function optimised(m: Model, dir: string, name: string): Promise<Model> {
  const file = path.join(dir, `${name}.onnx`);
  const opt = path.join(dir, `${name}.opt.onnx`);
  m.save(file);
  const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', optimizedModelFilePath: opt, logSeverityLevel: 3 });
  await s.release();
  return Model.load(opt);
}

const CASES: { name: string; load: () => Model; dims: number[] }[] = [
  { name: 'the default graph linearity_r18w16 (ResNet-18 style, widths 16-128)', load: () => Model.load(path.resolve('graphs/linearity_r18w16.onnx')), dims: [2, 3, 96, 128] },
  { name: 'a ResNet-50 export widened to 1/4 of torchvision (widths 16-512)', load: () => widenResnet(path.resolve('fixtures/models/resnet50_iqa.onnx'), 2), dims: [1, 3, 64, 64] },
];

describe('gradient forms that keep the backward in ONNX Runtime\'s blocked layout', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'iqa-blocked-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of CASES) {
    const kase = (m: Model, params: string[] = []): GradCase => {
      const input = m.graph.inputs[0]!.name;
      const x = Float32Array.from(randn(c.dims.reduce((a, b) => a * b, 1), 7), (v) => 0.5 + 0.25 * v);
      return { model: m, feeds: { [input]: f32(c.dims, x) }, inputs: [input], params, loss: { kind: 'cotangents', outputs: [m.graph.outputs[0]!.name] }, seed: 3 };
    };

    it(`${c.name}: input gradients equal the textbook forms' (relative L2 <= 1e-5); a 1e-3 change is told apart`, async () => {
      const blocked = await runGradientGraph(kase(c.load()));
      const textbook = await withLayout(false, () => runGradientGraph(kase(c.load())));
      const name = Object.keys(blocked.inputGrads)[0]!;
      const a = blocked.inputGrads[name]!;
      const b = textbook.inputGrads[name]!;
      expect(relL2(a, b)).to.be.at.most(1e-5);
      expect(relL2(a.map((v) => v * 1.001), b)).to.be.greaterThan(5e-4);
      // the blocked forms were used for most ReLUs (not where a MaxPool with Indices feeds the value)
      const masks = opCount(textbook.graph.model, 'Greater');
      expect(masks).to.be.greaterThan(5);
      expect(opCount(textbook.graph.model, 'Clip')).to.equal(0);
      expect(opCount(blocked.graph.model, 'Clip')).to.be.at.least(masks * 0.75);
      expect(opCount(blocked.graph.model, 'Greater')).to.be.at.most(masks * 0.25);
    });

    it(`${c.name}: with trained weights the gradient graph is the textbook one`, () => {
      const m = c.load();
      const params = m.graph.initializers().filter((v) => v.initializer!.data_type === 1).map((v) => v.name);
      const req: GradientGraphRequest = { loss: { kind: 'mean', output: m.graph.outputs[0]!.name }, inputs: [m.graph.inputs[0]!.name], params };
      const on = buildGradientGraph(m, req).model;
      const off = withLayout(false, () => buildGradientGraph(c.load(), req).model);
      expect(opCount(on, 'Clip')).to.equal(0);
      expect(on.graph.nodes.map((n) => n.opType)).to.deep.equal(off.graph.nodes.map((n) => n.opType));
    });

    it(`${c.name}: ONNX Runtime's optimised input-gradient graph reorders layouts at most 60% as often`, async function () {
      const m = c.load();
      const req: GradientGraphRequest = { loss: { kind: 'mean', output: m.graph.outputs[0]!.name }, inputs: [m.graph.inputs[0]!.name] };
      const reorders = (g: Model): number => opCount(g, 'ReorderOutput') + opCount(g, 'ReorderInput');
      const textbook = reorders(await optimised(withLayout(false, () => buildGradientGraph(c.load(), req).model), dir, 'textbook'));
      if (textbook === 0) {
        // ONNX Runtime applies its NCHWc pass only on CPUs with the kernels (AVX2 and up)
        this.skip();
      }
      const blocked = reorders(await optimised(buildGradientGraph(m, req).model, dir, 'blocked'));
      expect(blocked, `reorders: blocked ${blocked}, textbook ${textbook}`).to.be.at.most(textbook * 0.6);
    });
  }
});
