/**
 * PGD, FGSM, UAP and stAdv on the shipped Linearity-style model through the engine factory (the
 * TensorFlow.js mirror today), on the NIPS 2017 images in ../shared/realdata/nips17_dev (skipped
 * with a message where absent, except under CI): stronger attacks gain more, all beat uniform
 * random noise of the same budget, gains grow with eps, `down` lowers scores, budgets hold, and a
 * model whose output ignores its input is not moved at all.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { checkBudget } from '../../src/attacks/budget.js';
import { scoreObjective, type ScoreObjective } from '../../src/attacks/objective.js';
import { fgsm, pgd } from '../../src/attacks/pgd.js';
import { pixelMap } from '../../src/attacks/pixels.js';
import { resolveScoreSpec } from '../../src/attacks/score.js';
import { stadv } from '../../src/attacks/stadv.js';
import { applyPerturbation, trainUap } from '../../src/attacks/uap.js';
import { decodeResized } from '../../src/data/image.js';
import { readPreprocess, resolvePreprocess, type PreprocessSpec } from '../../src/data/preprocess.js';
import type { DifferentiableModel } from '../../src/differentiable/model.js';
import { createEngine } from '../../src/engines/factory.js';
import { Model } from '../../src/ir/model.js';
import { FLOAT, floatTensor, model as buildModel, node, tensorInfo } from '../helpers/proto-build.js';
import { mulberry32 } from '../helpers/seeded-random.js';
import { isDir, requireOrSkip } from '../helpers/test-data.js';

const NIPS = path.resolve('../shared/realdata/nips17_dev/images');
const COUNT = 4;

async function loadPixels(files: string[], spec: PreprocessSpec): Promise<Float32Array> {
  const [h, w] = spec.size;
  const out = new Float32Array(files.length * 3 * h * w);
  for (const [k, f] of files.entries()) {
    const img = await decodeResized(f, spec);
    for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) out[k * 3 * h * w + c * h * w + i] = img.data[i * 3 + c]! / 255;
  }
  return out;
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const gain = (r: { cleanScores: number[]; attackedScores: number[] }): number => mean(r.attackedScores.map((a, i) => a - r.cleanScores[i]!));

describe('attacks on the default Linearity-style model (tfjs engine)', function () {
  this.timeout(600_000);
  let engine: DifferentiableModel;
  let objective: ScoreObjective;
  let clean: Float32Array;

  before(async function () {
    requireOrSkip(this, isDir(NIPS), '../shared/realdata/nips17_dev (NIPS 2017 attack images)');
    const m = Model.load('graphs/linearity_r18w16.onnx');
    const spec = resolvePreprocess(readPreprocess(m));
    engine = await createEngine({ model: m, engine: 'tfjs' });
    objective = scoreObjective(engine, resolveScoreSpec(engine.outputNames, m.metadata()), pixelMap(spec, spec.size[0] * spec.size[1]), [3, spec.size[0], spec.size[1]]);
    const files = readdirSync(NIPS).filter((f) => f.endsWith('.png')).sort().slice(0, COUNT).map((f) => path.join(NIPS, f));
    expect(files).to.have.length(COUNT);
    clean = await loadPixels(files, spec);
  });
  after(() => engine?.dispose());

  it('PGD-8 gains at least PGD-1, both beat uniform noise of the same eps, gains grow with eps, budgets hold', async () => {
    const gains: Record<string, number> = {};
    for (const eps of [2, 6]) {
      const e = eps / 255;
      const p1 = await pgd(objective, clean, COUNT, { eps: e, step: 1 / 255, iters: 1, scores: true });
      const p8 = await pgd(objective, clean, COUNT, { eps: e, step: 1 / 255, iters: 8, scores: true });
      checkBudget(clean, p1.attacked, e);
      checkBudget(clean, p8.attacked, e);
      const rnd = mulberry32(eps);
      const noisy = clean.map((v) => Math.min(1, Math.max(0, v + (2 * rnd() - 1) * e)));
      const noiseScores = await objective.scores(noisy, COUNT);
      gains[`pgd1-${eps}`] = gain(p1);
      gains[`pgd8-${eps}`] = gain(p8);
      gains[`noise-${eps}`] = mean(noiseScores.map((s, i) => s - p1.cleanScores[i]!));
    }
    const msg = JSON.stringify(gains);
    for (const eps of [2, 6]) {
      expect(gains[`pgd8-${eps}`]!, msg).to.be.at.least(gains[`pgd1-${eps}`]!);
      expect(gains[`pgd1-${eps}`]!, msg).to.be.greaterThan(Math.abs(gains[`noise-${eps}`]!));
    }
    expect(gains['pgd8-6']!, msg).to.be.at.least(gains['pgd8-2']!);
    // PGD-1 with step 1/255 moves every pixel by 1/255 whatever eps >= 1: the same images
    expect(gains['pgd1-6']!, msg).to.be.closeTo(gains['pgd1-2']!, 1e-5);
  });

  it('FGSM gains more than PGD-1 at eps 4 (one full step); --direction down lowers the scores', async () => {
    const f = await fgsm(objective, clean, COUNT, { eps: 4 / 255, scores: true });
    const p1 = await pgd(objective, clean, COUNT, { eps: 4 / 255, step: 1 / 255, iters: 1, scores: true });
    checkBudget(clean, f.attacked, 4 / 255);
    expect(gain(f)).to.be.greaterThan(gain(p1));
    const down = await pgd(objective, clean, COUNT, { eps: 4 / 255, step: 1 / 255, iters: 4, direction: 'down', scores: true });
    expect(gain(down)).to.be.lessThan(0);
    down.attackedScores.forEach((s, i) => expect(s).to.be.lessThan(down.cleanScores[i]!));
  });

  it('UAP: one perturbation within eps raises the mean score of the images it was trained on', async () => {
    const eps = 10 / 255;
    const u = await trainUap(objective, clean, COUNT, { eps, epochs: 3, batch: 2, lr: 2e-3, seed: 1 });
    expect(Math.max(...u.data.map(Math.abs))).to.be.at.most(eps + 1e-7);
    const adv = applyPerturbation(clean, [COUNT, 3, objective.imageDims[1], objective.imageDims[2]], u);
    checkBudget(clean, adv, eps);
    const before = await objective.scores(clean, COUNT);
    const after = await objective.scores(adv, COUNT);
    expect(mean(after)).to.be.greaterThan(mean(before));
  });

  it('stAdv raises the scores with a small, smooth flow and reports its magnitude and L-inf change', async () => {
    const r = await stadv(objective, clean.subarray(0, 3 * objective.imageDims[1] * objective.imageDims[2] * 2), 2, { iterations: 3 });
    expect(gain(r)).to.be.greaterThan(0);
    expect(r.flowMean).to.be.greaterThan(0);
    expect(r.flowMean).to.be.lessThan(5);
    expect(r.linf).to.be.greaterThan(0);
  });
});

describe('attacks on a model whose output ignores its input', () => {
  it('change nothing and report zero gain', async () => {
    // score = 0 * mean(x) + 3: the gradient is exactly zero, so sign steps are zero
    const proto = buildModel({
      inputs: [tensorInfo('x', FLOAT, ['N', 3, 8, 8])],
      outputs: [tensorInfo('score', FLOAT, ['N', 1, 1, 1])],
      initializers: [floatTensor('zero', [1], [0]), floatTensor('three', [1], [3])],
      nodes: [node('GlobalAveragePool', ['x'], ['g'], 'gap'), node('ReduceMean', ['g'], ['m'], 'mean', { attribute: [{ name: 'axes', ints: [1], type: 7 }] }), node('Mul', ['m', 'zero'], ['z'], 'mul'), node('Add', ['z', 'three'], ['score'], 'add')],
    });
    const engine = await createEngine({ model: new Model(proto), engine: 'tfjs' });
    try {
      const objective = scoreObjective(engine, { output: 'score', reduce: { kind: 'mean' }, lowerIsBetter: false }, pixelMap({ range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], colorOrder: 'RGB' }, 64), [3, 8, 8]);
      const x = Float32Array.from({ length: 2 * 3 * 64 }, (_, i) => (i % 7) / 7);
      const r = await pgd(objective, x, 2, { eps: 8 / 255, step: 1 / 255, iters: 8, scores: true });
      expect(Array.from(r.attacked)).to.deep.equal(Array.from(x));
      expect(gain(r)).to.equal(0);
    } finally {
      engine.dispose();
    }
  });
});

describe('what PGD runs through the engine', () => {
  /** The engine with its forward calls counted. */
  function counting(engine: DifferentiableModel): { engine: DifferentiableModel; forwards: () => number } {
    let n = 0;
    const wrapped = Object.create(engine) as DifferentiableModel;
    wrapped.forward = (feeds, outputs) => {
      n++;
      return engine.forward(feeds, outputs);
    };
    return { engine: wrapped, forwards: () => n };
  }

  for (const [what, outDims, expected] of [
    ['a score output declared [N,1]: no forward at all (the dims are the model\'s)', ['N', 1], 0],
    ['a score output of unknown per-image size: one forward for its dims', ['N', 'K'], 1],
  ] as const) {
    it(what, async () => {
      const proto = buildModel({
        inputs: [tensorInfo('x', FLOAT, ['N', 3, 8, 8])],
        outputs: [tensorInfo('score', FLOAT, [...outDims])],
        initializers: [floatTensor('w', [1, 3, 1, 1], [0.5, -0.25, 1])],
        nodes: [node('Conv', ['x', 'w'], ['c'], 'conv'), node('GlobalAveragePool', ['c'], ['g'], 'gap'), node('Flatten', ['g'], ['score'], 'flat')],
      });
      const base = await createEngine({ model: new Model(proto), engine: 'ort' });
      try {
        const { engine, forwards } = counting(base);
        const objective = scoreObjective(engine, { output: 'score', reduce: { kind: 'none' }, lowerIsBetter: false }, pixelMap({ range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], colorOrder: 'RGB' }, 64), [3, 8, 8]);
        const x = Float32Array.from({ length: 2 * 3 * 64 }, (_, i) => 0.2 + 0.6 * ((i * 7) % 11) / 11);
        const r = await pgd(objective, x, 2, { eps: 4 / 255, step: 1 / 255, iters: 3 });
        expect(r.attacked).to.not.deep.equal(x);
        expect(forwards()).to.equal(expected);
        // the first step's scores are the clean images' (no forward of their own)
        const direct = await objective.scores(x, 2);
        expect(r.startScores).to.have.length(2);
        r.startScores.forEach((v, i) => expect(Math.abs(v - direct[i]!)).to.be.at.most(1e-5 * Math.max(1, Math.abs(direct[i]!))));
        // asking for scores costs forwards for the clean and the attacked images' scores
        const s = await pgd(objective, x, 2, { eps: 4 / 255, step: 1 / 255, iters: 1, scores: true });
        expect(s.attackedScores).to.have.length(2);
        expect(s.attackedScores[0]).to.be.greaterThan(s.cleanScores[0]!);
      } finally {
        base.dispose();
      }
    });
  }
});
