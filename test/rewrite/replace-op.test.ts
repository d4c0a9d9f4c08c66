import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { computeStages } from '../../src/analysis/stages.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { validateModel } from '../../src/validation/validate.js';
import { encode } from '../../src/onnx/codec.js';
import { parseOpSpec, replaceOp } from '../../src/rewrite/replace-op.js';
import { stageNodes } from '../../src/rewrite/select.js';
import { FLOAT, model as buildModel, modelBytes, node, tensorInfo } from '../helpers/proto-build.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';
import { maxAbs, nodeHex, randomInput, runValues, type FloatTensor } from './ort-values.js';

const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
const ULTRAFACE = path.join(REALDATA_ONNX, 'ultraface_RFB-320.onnx');

function hex(x: unknown, type: 'TensorProto' | 'ValueInfoProto'): string {
  return Buffer.from(encode(x as Parameters<typeof encode>[0], type)).toString('hex');
}

/** A one-activation model x[2,5] -> Relu -> y at the given opset. */
function reluModel(opset: number): Model {
  return Model.fromBytes(
    modelBytes(buildModel({ nodes: [node('Relu', ['x'], ['y'], 'act')], inputs: [tensorInfo('x', FLOAT, [2, 5])], outputs: [tensorInfo('y', FLOAT, [2, 5])], opset })),
  );
}

const X: FloatTensor = { dims: [2, 5], data: Float32Array.from({ length: 10 }, (_, i) => -3 + (i * 6) / 9) };

async function applyTo(opset: number, spec: string): Promise<{ m: Model; y: Float32Array }> {
  const m = reluModel(opset);
  await replaceOp(m, { op: 'Relu', with: spec });
  await validateModel(m);
  const y = (await runValues(m, { x: X })).y!.data;
  return { m, y };
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse; integrate instead (Simpson, 2000 steps)
  const n = 2000;
  const h = x / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const t = i * h;
    const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
    s += w * Math.exp(-t * t);
  }
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

async function checkLastStageOnly(file: string, inputDims: number[]): Promise<void> {
  const original = Model.load(file);
  const model = Model.load(file);
  const inputName = original.graph.inputs[0]!.name;
  const map = await computeStages(model, { inputShapes: { [inputName]: inputDims } });
  const last = map.stages[map.stages.length - 1]!;
  const members = stageNodes(model, last);
  const reluInStage = model.graph.nodes.filter((n) => members.has(n) && n.opType === 'Relu');
  const reluOutside = model.graph.nodes.filter((n) => !members.has(n) && n.opType === 'Relu').length;
  expect(reluInStage.length).to.be.greaterThan(0);
  const r = await replaceOp(model, { op: 'Relu', with: 'SiLU', where: `stage:${last.name}`, inputShapes: { [inputName]: inputDims } });
  await validateModel(model);
  expect(r.changes[0]).to.contain(`selected ${reluInStage.length} Relu node`);
  expect(model.graph.nodes.filter((n) => n.opType === 'Relu').length).to.equal(reluOutside);
  expect(model.graph.nodes.filter((n) => n.opType === 'Sigmoid').length - original.graph.nodes.filter((n) => n.opType === 'Sigmoid').length).to.equal(reluInStage.length);

  // byte-identical outside the stage: every other node, every original initializer, inputs, outputs, value_info
  const changed = new Set(reluInStage.map((n) => n.name || n.outputs[0]!.name));
  const newNodes = new Map(model.graph.nodes.map((n) => [n.name || n.outputs[0]!.name, n]));
  for (const n of original.graph.nodes) {
    const key = n.name || n.outputs[0]!.name;
    if (changed.has(key)) continue;
    expect(nodeHex(newNodes.get(key)!.proto), key).to.equal(nodeHex(n.proto));
  }
  const p0 = original.syncProto().graph!;
  const p1 = model.syncProto().graph!;
  expect(p1.initializer!.slice(0, p0.initializer!.length).map((t) => hex(t, 'TensorProto'))).to.deep.equal(p0.initializer!.map((t) => hex(t, 'TensorProto')));
  expect(p1.input!.map((t) => hex(t, 'ValueInfoProto'))).to.deep.equal(p0.input!.map((t) => hex(t, 'ValueInfoProto')));
  expect(p1.output!.map((t) => hex(t, 'ValueInfoProto'))).to.deep.equal(p0.output!.map((t) => hex(t, 'ValueInfoProto')));

  // numerics: identical up to the stage's input edge, different after
  const x = randomInput(inputDims, 3);
  const a = await runValues(original, { [inputName]: x }, [last.inputEdge, ...original.graph.outputs.map((v) => v.name)]);
  const b = await runValues(model, { [inputName]: x }, [last.inputEdge, ...original.graph.outputs.map((v) => v.name)]);
  expect(maxAbs(a[last.inputEdge]!, b[last.inputEdge]!)).to.equal(0);
  const o = original.graph.outputs[0]!.name;
  expect(maxAbs(a[o]!, b[o]!)).to.be.greaterThan(0);
}

describe('rewrite/replace-op', () => {
  it('replaces Relu by SiLU in the last stage only; everything else stays byte-identical (ResNet-18 export)', async () => {
    await checkLastStageOnly(RESNET, [1, 3, 64, 64]);
  });

  it('replaces Relu by SiLU in the last stage only of a real PyTorch export (UltraFace, unnamed nodes)', async function () {
    requireOrSkip(this, existsSync(ULTRAFACE), ULTRAFACE);
    await checkLastStageOnly(ULTRAFACE, [1, 3, 240, 320]);
  });

  it('writes ops that exist at the model opset directly, with typed attributes', async () => {
    const { m, y } = await applyTo(13, 'LeakyRelu[alpha=0.2]');
    expect(m.graph.nodes.map((n) => n.opType)).to.deep.equal(['LeakyRelu']);
    expect(m.graph.nodes[0]!.attrFloat('alpha')).to.be.closeTo(0.2, 1e-7);
    X.data.forEach((x, i) => expect(y[i]).to.be.closeTo(x > 0 ? x : 0.2 * x, 1e-6));
    const elu = await applyTo(13, 'ELU[alpha=1]'); // integer-looking alpha is still a float attribute
    expect(elu.m.graph.nodes[0]!.opType).to.equal('Elu');
    X.data.forEach((x, i) => expect(elu.y[i]).to.be.closeTo(x > 0 ? x : Math.expm1(x), 1e-6));
  });

  it('expands SiLU, GELU (erf and tanh forms), HardSwish and Mish below the opsets that have them', async () => {
    const silu = await applyTo(13, 'SiLU');
    expect(silu.m.graph.nodes.map((n) => n.opType)).to.deep.equal(['Sigmoid', 'Mul']);
    expect(silu.m.graph.nodes[1]!.name).to.equal('act');
    X.data.forEach((x, i) => expect(silu.y[i]).to.be.closeTo(x / (1 + Math.exp(-x)), 1e-6));
    const gelu = await applyTo(13, 'GELU');
    X.data.forEach((x, i) => expect(gelu.y[i]).to.be.closeTo(0.5 * x * (1 + erf(x / Math.SQRT2)), 1e-5));
    const tanh = await applyTo(13, 'Gelu[approximate=tanh]');
    X.data.forEach((x, i) => expect(tanh.y[i]).to.be.closeTo(0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), 1e-5));
    const hs = await applyTo(13, 'HardSwish');
    X.data.forEach((x, i) => expect(hs.y[i]).to.be.closeTo((x * Math.min(Math.max(x + 3, 0), 6)) / 6, 1e-6));
    const mish = await applyTo(13, 'Mish');
    X.data.forEach((x, i) => expect(mish.y[i]).to.be.closeTo(x * Math.tanh(Math.log1p(Math.exp(x))), 1e-5));
  });

  it('uses the Gelu op itself at opset 20', async () => {
    const { m, y } = await applyTo(20, 'Gelu');
    expect(m.graph.nodes.map((n) => n.opType)).to.deep.equal(['Gelu']);
    X.data.forEach((x, i) => expect(y[i]).to.be.closeTo(0.5 * x * (1 + erf(x / Math.SQRT2)), 1e-5));
  });

  it('selects by node-name glob and refuses unknown attributes and empty selections', async () => {
    const m = Model.load(RESNET);
    const r = await replaceOp(m, { op: 'Relu', with: 'Elu', where: '/layer1/*' });
    expect(r.changes[0]).to.equal("selected 4 Relu nodes in nodes named like '/layer1/*'");
    await validateModel(m);
    const fail = async (f: () => Promise<unknown>, re: RegExp): Promise<void> => {
      try {
        await f();
      } catch (e) {
        expect(e).to.be.instanceOf(UserError);
        expect((e as Error).message).to.match(re);
        return;
      }
      throw new Error('expected a UserError');
    };
    await fail(() => replaceOp(Model.load(RESNET), { op: 'Relu', with: 'LeakyRelu[beta=1]' }), /LeakyRelu has no attribute 'beta' \(it has alpha\)/);
    await fail(() => replaceOp(Model.load(RESNET), { op: 'Relu', with: 'Elu', where: 'stage:layer9' }), /no stage 'layer9'; stages: 0:stem/);
    await fail(() => replaceOp(Model.load(RESNET), { op: 'Sigmoid', with: 'Elu' }), /no Sigmoid node matches/);
    expect(() => parseOpSpec('Leaky Relu')).to.throw(UserError, /not an op spec/);
    expect(parseOpSpec('silu')).to.deep.equal({ opType: 'SiLU' });
    expect(parseOpSpec('elu[alpha=0.5]')).to.deep.equal({ opType: 'Elu', attributes: { alpha: 0.5 } });
  });
});
