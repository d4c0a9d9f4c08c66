/**
 * The mirror's gradients against central finite differences of the ONNX function itself: the
 * differences are taken with ONNX Runtime on the ONNX file (an independent forward), so a
 * gradient that is the derivative of the wrong function fails, not only an inconsistent one.
 * For random directions d: |g.d - (f(x+hd) - f(x-hd)) / 2h| / |g.d| <= 1e-2.
 *
 * Float32 only (ONNX Runtime and tfjs cpu): the step h must be large enough that rounding in f
 * does not swamp the difference, and small enough that it crosses no ReLU/MaxPool kink. On the
 * smooth small models (tanh/sigmoid/softplus, average pooling) that window is wide; on ReLU
 * networks it is narrow, so the check takes the best of a few steps (three on the smooth models, six on the ReLU fixtures
 * exported from PyTorch): a kink crossing is wrong for every larger step, rounding for every
 * smaller one. The last test shows that a gradient 5% off or of the wrong sign fails this check. Directions nearly
 * orthogonal to the gradient (|g.d| below a third of its typical size ||g|| ||d|| / sqrt(n)) are
 * redrawn: there the relative error measures nothing.
 */
import { expect } from 'chai';
import path from 'node:path';
import type { HostTensor } from '../../src/differentiable/model.js';
import { runModel, type Feed } from '../../src/equiv/runner.js';
import { Model } from '../../src/ir/model.js';
import { loadBackend } from '../../src/mirror/backend.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { selectTrainable } from '../../src/differentiable/parameters.js';
import { DataType } from '../../src/onnx/data-types.js';
import { spliceRobustBlock } from '../../src/surgery/splice.js';
import { FIXTURE_MODELS } from '../helpers/test-data.js';
import { checkDirection, direction, gaussian, MAX_REL, RELU_STEPS, report, smoothCnn as smoothModel, SMOOTH_STEPS, type Check } from '../helpers/finite-diff.js';

/** mean of the first output, computed by ONNX Runtime on the file with one parameter replaced. */
async function ortLoss(m: Model, input: HostTensor, inputName: string, param?: { name: string; data: Float32Array }): Promise<number> {
  const copy = m.clone();
  if (param) {
    const v = copy.graph.value(param.name);
    const bytes = new Uint8Array(param.data.byteLength);
    bytes.set(new Uint8Array(param.data.buffer, param.data.byteOffset, param.data.byteLength));
    v.initializer = { name: param.name, dims: [...(v.initializer!.dims ?? [])], data_type: DataType.FLOAT, raw_data: bytes };
  }
  const feeds: Record<string, Feed> = { [inputName]: { elemType: DataType.FLOAT, dims: input.dims, data: input.data as Float32Array } };
  const out = await runModel(copy, feeds);
  const y = out.get(copy.graph.outputs[0]!.name)!.data!;
  let s = 0;
  for (const v of y) s += v;
  return s / y.length;
}

async function checkModel(m: Model, dims: number[], params: string[], seed: number, steps: readonly number[] = SMOOTH_STEPS): Promise<Check[]> {
  const inputName = m.graph.inputs.find((v) => !v.isInitializer)!.name;
  const x: HostTensor = { dims, data: Float32Array.from(gaussian(dims.reduce((a, b) => a * b, 1), seed), (v) => 0.5 + 0.25 * v) };
  const mirror = await Mirror.create(m, { trainable: params });
  const checks: Check[] = [];
  try {
    const g = await mirror.gradients({ [inputName]: x }, { kind: 'mean' }, { inputs: [inputName] });
    // the loss the mirror reports is the ONNX Runtime loss
    const base = await ortLoss(m, x, inputName);
    expect(Math.abs(g.loss - base)).to.be.below(1e-4 + 1e-3 * Math.abs(base));
    const targets: { what: string; value: Float32Array; grad: ArrayLike<number>; param?: string }[] = [
      { what: `input '${inputName}'`, value: x.data as Float32Array, grad: g.inputGrads[inputName]!.data },
      ...params.map((p) => ({ what: `parameter '${p}'`, value: mirror.getParameter(p).data as Float32Array, grad: g.paramGrads[p]!.data, param: p })),
    ];
    let k = 0;
    for (const t of targets) {
      for (let rep = 0; rep < 2; rep++) {
        const d = direction(t.grad, () => gaussian(t.value.length, seed * 101 + k++));
        const f = async (arr: Float32Array): Promise<number> =>
          t.param ? ortLoss(m, x, inputName, { name: t.param, data: arr }) : ortLoss(m, { dims, data: arr }, inputName);
        checks.push(await checkDirection(t.what, f, t.value, t.grad, d, steps));
      }
    }
  } finally {
    mirror.dispose();
  }
  return checks;
}

describe('mirror: gradients match central finite differences of the ONNX function', function () {
  this.timeout(300_000);
  before(async () => {
    await loadBackend('auto');
  });

  it('small smooth CNN: input and every weight', async () => {
    const m = smoothModel(11);
    const checks = await checkModel(m, [2, 3, 24, 24], ['c1.w', 'c1.b', 'c2.w', 'c3.w', 'c3.b', 'fc.w', 'fc.b'], 1);
    for (const c of checks) expect(c.rel, report(checks)).to.be.at.most(MAX_REL);
  });

  for (const variant of [
    { label: 'Cayley RobustBlock (parametric, exact Schur inverse)', opts: {} },
    { label: 'Cayley RobustBlock (parametric, Newton-Schulz)', opts: { inverse: 'newton-schulz' as const } },
    { label: 'Cayley RobustBlock (com.microsoft Inverse)', opts: { inverse: 'com.microsoft' as const } },
    { label: 'AOL RobustBlock', opts: { orth: 'aol' as const } },
  ]) {
    it(`small smooth CNN with a spliced ${variant.label}: input and the block's trainable parameters`, async () => {
      const m = smoothModel(12);
      const rep = await spliceRobustBlock(m, { edge: 's2', inputShapes: { image: [1, 3, 24, 24] }, ...variant.opts });
      // the block's trainable parameters, as its metadata lists them (the `robust-block` selector)
      const params = await selectTrainable(m, ['robust-block']);
      expect(params.length).to.be.greaterThan(3);
      expect(rep.parameters.map((p) => p.name)).to.include.members(params);
      const checks = await checkModel(m, [1, 3, 24, 24], params, 3);
      for (const c of checks) expect(c.rel, report(checks)).to.be.at.most(MAX_REL);
    });
  }

  it('ResNet-18-style PyTorch export (ReLU, residual adds): input, a conv weight and bias, the head', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx'));
    const convs = m.graph.nodes.filter((n) => n.opType === 'Conv');
    const w = convs[3]!.input(1)!.name;
    const b = convs[3]!.input(2)!.name;
    const checks = await checkModel(m, [2, 3, 64, 64], [w, b, 'fc.weight'], 1, RELU_STEPS);
    // the input gradient passes through every ReLU of the network: a random input direction moves
    // thousands of pre-activations at once, and no float32 step is both kink-free and above the
    // rounding of the score (measured: 1.3e-2 and 2.9e-3 on the two directions; single pixels with
    // the mirror's own forward agree to 0.5-2%). The smooth models check input gradients at 1e-2.
    for (const c of checks) expect(c.rel, report(checks)).to.be.at.most(c.what.startsWith('input') ? 2 * MAX_REL : MAX_REL);
  });

  it('VGG-16-style PyTorch export (max pooling, Gemm head)', async () => {
    const m = Model.load(path.join(FIXTURE_MODELS, 'vgg16_iqa.onnx'));
    const w = m.graph.nodes.filter((n) => n.opType === 'Conv')[5]!.input(1)!.name;
    const checks = await checkModel(m, [1, 3, 64, 64], [w], 2, RELU_STEPS);
    for (const c of checks) expect(c.rel, report(checks)).to.be.at.most(MAX_REL);
  });

  it('the check can fail: a gradient of the wrong sign or scale is caught', async () => {
    const m = smoothModel(13);
    const checks = await checkModel(m, [1, 3, 24, 24], ['c2.w', 'fc.w'], 4);
    for (const c of checks) {
      expect(Math.abs(-c.gd - c.fd) / Math.abs(c.gd)).to.be.greaterThan(MAX_REL);
      expect(Math.abs(1.05 * c.gd - c.fd) / Math.abs(1.05 * c.gd)).to.be.greaterThan(MAX_REL);
    }
  });
});
