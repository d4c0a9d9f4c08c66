import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CheckFailedError, UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { validateModel } from '../../src/validation/validate.js';
import { extract } from '../../src/rewrite/extract.js';
import { setShape } from '../../src/rewrite/set-shape.js';
import { modelBytes, smallMlp } from '../helpers/proto-build.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';
import { randomInput, runValues } from './ort-values.js';

const RESNET = path.join(FIXTURE_MODELS, 'resnet18_iqa.onnx');
const STATIC = path.join(FIXTURE_MODELS, 'resnet18_iqa_static.onnx');
const SUPERRES = path.join(REALDATA_ONNX, 'super_resolution_core_opset11.onnx');
const ULTRAFACE = path.join(REALDATA_ONNX, 'ultraface_RFB-320.onnx');

describe('rewrite/set-shape', () => {
  it('sets a new input size, updates the declared output shape, and the model runs at that size', async () => {
    const m = Model.load(RESNET);
    const r = await setShape(m, { shapes: { input: [1, 3, 96, 128] } });
    expect(r.changes).to.deep.equal(["input 'input': [batch,3,64,64] -> [1,3,96,128]", "output 'score': [batch,1] -> [1,1]"]);
    await validateModel(m);
    const out = await runValues(m, { input: randomInput([1, 3, 96, 128]) });
    expect(out.score!.dims).to.deep.equal([1, 1]);
    expect(Number.isFinite(out.score!.data[0]!)).to.equal(true);
  });

  it('keeps symbolic dims symbolic', async () => {
    const m = Model.load(RESNET);
    await setShape(m, { shapes: { input: ['N', 3, 384, 512] } });
    expect(m.graph.inputs[0]!.declaredShape).to.deep.equal(['N', 3, 384, 512]);
    expect(m.graph.outputs[0]!.declaredShape).to.deep.equal(['N', 1]);
    await validateModel(m);
    const out = await runValues(m, { input: randomInput([2, 3, 384, 512]) });
    expect(out.score!.dims).to.deep.equal([2, 1]);
  });

  it('sets a new size on a real PyTorch export and runs it', async function () {
    requireOrSkip(this, existsSync(SUPERRES), SUPERRES);
    // the super-resolution core reshapes with the 224x224 size baked in: it cannot take another size
    const sr = Model.load(SUPERRES);
    try {
      await setShape(sr, { shapes: { input: [1, 1, 112, 96] } });
      throw new Error('expected a check failure');
    } catch (e) {
      expect(e).to.be.instanceOf(CheckFailedError);
      expect((e as Error).message).to.contain("at node 'Reshape_8'");
    }
    // UltraFace's post-processing hard-codes the 4420 priors of 240x320 (and batch 1) ...
    const u = Model.load(ULTRAFACE);
    try {
      await setShape(u, { shapes: { input: [1, 3, 480, 640] } });
      throw new Error('expected a check failure');
    } catch (e) {
      expect(e).to.be.instanceOf(CheckFailedError);
      expect((e as Error).message).to.match(/at node '[^']+'.*4420/);
    }
    // ... but its conv trunk takes any size: cut it off, then resize
    const trunk = (await extract(Model.load(ULTRAFACE), { inputs: ['input'], outputs: ['447'] })).model;
    const r = await setShape(trunk, { shapes: { input: [1, 3, 480, 640] } });
    expect(r.changes).to.deep.equal(["input 'input': [1,3,240,320] -> [1,3,480,640]", "output '447': [1,12,4,5] -> [1,12,8,10]"]);
    await validateModel(trunk);
    const out = await runValues(trunk, { input: randomInput([1, 3, 480, 640]) });
    expect(out['447']!.dims).to.deep.equal([1, 12, 8, 10]);
  });

  it('updates declared value_info shapes and lists them', async () => {
    const m = Model.fromBytes(modelBytes(smallMlp()));
    const r = await setShape(m, { shapes: { x: ['n', 4] } });
    expect(r.changes).to.deep.equal([
      "input 'x': [1,4] -> [n,4]",
      "output 'y': [1,4] -> [n,4]",
      '2 intermediate shapes (value_info) updated',
      "  value_info 'xw': [1,4] -> [n,4]",
      "  value_info 'r': [1,4] -> [n,4]",
    ]);
    await validateModel(m);
    const out = await runValues(m, { x: randomInput([3, 4]) });
    expect(out.y!.dims).to.deep.equal([3, 4]);
  });

  it('refuses a model that cannot take the size with a CheckFailedError naming the node', async () => {
    const m = Model.load(STATIC);
    try {
      await setShape(m, { shapes: { input: [1, 3, 96, 128] } });
      throw new Error('expected a check failure');
    } catch (e) {
      expect(e).to.be.instanceOf(CheckFailedError);
      expect((e as Error).message).to.contain("at node '/fc/Gemm'");
    }
  });

  it('refuses bad arguments with a UserError', async () => {
    const m = Model.load(RESNET);
    const fail = async (shapes: Record<string, (number | string)[]>, re: RegExp): Promise<void> => {
      try {
        await setShape(m, { shapes });
      } catch (e) {
        expect(e).to.be.instanceOf(UserError);
        expect((e as Error).message).to.match(re);
        return;
      }
      throw new Error('expected a UserError');
    };
    await fail({ image: [1, 3, 8, 8] }, /'image' is not a graph input \(inputs: input\)/);
    await fail({ input: [1, 3, 8] }, /has rank 4/);
    await fail({ input: [1, 3, 0, 8] }, /positive integers/);
    const same = await setShape(m, { shapes: { input: ['batch', 3, 64, 64] } });
    expect(same.modified).to.equal(false);
  });
});
