import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { computeStages, findStage } from '../../src/analysis/stages.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip } from '../helpers/test-data.js';

const fixture = (name: string): Model => Model.load(path.join(FIXTURE_MODELS, name));

describe('analysis/stages', () => {
  it('ResNet-18 export: the stem plus the 4 residual layers, with splice edges and shapes', async () => {
    const map = await computeStages(fixture('resnet18_iqa.onnx'), { inputShapes: { input: [1, 3, 64, 64] } });
    expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
    expect(map.stages.map((s) => s.shape)).to.deep.equal([
      [8, 32, 32],
      [8, 16, 16],
      [16, 8, 8],
      [32, 4, 4],
      [64, 2, 2],
    ]);
    expect(map.stages.map((s) => s.convs.length)).to.deep.equal([1, 4, 5, 5, 5]);
    expect(map.stages.map((s) => s.residualJoins.length)).to.deep.equal([0, 2, 2, 2, 2]);
    expect(map.stages[3]!.edge).to.equal('/layer3/layer3.1/relu_1/Relu_output_0');
    expect(map.stages[4]!.inputEdge).to.equal('/layer3/layer3.1/relu_1/Relu_output_0');
    // conv1 of the stem: 8x3x7x7 weights + 8 biases; 32x32x8 outputs x 3*7*7 MACs each
    expect(map.stages[0]!.params).to.equal(8 * 3 * 49 + 8);
    expect(map.stages[0]!.macs).to.equal(32 * 32 * 8 * 3 * 49);
  });

  it('ResNet-50 export: a bottleneck layer\'s first 1x1 conv (still at the old resolution) belongs to its own layer', async () => {
    const map = await computeStages(fixture('resnet50_iqa.onnx'), { inputShapes: { input: [1, 3, 64, 64] } });
    expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
    // torchvision ResNet-50: 3,4,6,3 bottlenecks of 3 convs, plus one downsample conv per layer
    expect(map.stages.map((s) => s.convs.length)).to.deep.equal([1, 3 * 3 + 1, 4 * 3 + 1, 6 * 3 + 1, 3 * 3 + 1]);
    expect(map.stages[2]!.convs).to.include('/layer2/layer2.0/conv1/Conv');
    expect(map.stages.map((s) => s.residualJoins.length)).to.deep.equal([0, 3, 4, 6, 3]);
    expect(map.stages[3]!.shape).to.deep.equal([128, 4, 4]);
  });

  it('VGG-16 export: the 5 conv blocks, each ending before its max-pool', async () => {
    const map = await computeStages(fixture('vgg16_iqa.onnx'), { inputShapes: { input: [1, 3, 64, 64] } });
    expect(map.stages.map((s) => s.name)).to.deep.equal(['block1', 'block2', 'block3', 'block4', 'block5']);
    expect(map.stages.map((s) => s.convs.length)).to.deep.equal([2, 2, 3, 3, 3]);
    expect(map.stages.map((s) => s.shape[1])).to.deep.equal([64, 32, 16, 8, 4]);
    expect(map.stages.every((s) => s.residualJoins.length === 0)).to.equal(true);
  });

  it('Linearity-style model: layer3 feeds both its head and layer4 and is still a stage edge; shapes follow the input size', async () => {
    const model = fixture('linearity_iqa.onnx');
    const map = await computeStages(model, { inputShapes: { input: [2, 3, 96, 128] } });
    expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
    expect(findStage(map, 'layer3').shape).to.deep.equal([32, 6, 8]);
    expect(findStage(map, '4').name).to.equal('layer4');
    expect(() => findStage(map, 'layer9')).to.throw(UserError, /no stage 'layer9'; stages: 0:stem, 1:layer1/);
  });

  it('ultraface (PyTorch 1.2, unnamed nodes): one stage per resolution level, heads included', async function () {
    const file = path.join(REALDATA_ONNX, 'ultraface_RFB-320.onnx');
    requireOrSkip(this, existsSync(file), `real graph ${file}`);
    const map = await computeStages(Model.load(file));
    expect(map.stages.map((s) => s.shape.slice(1))).to.deep.equal([
      [120, 160],
      [60, 80],
      [30, 40],
      [15, 20],
      [8, 10],
      [4, 5],
    ]);
    expect(map.stages.reduce((a, s) => a + s.convs.length, 0)).to.equal(52);
    expect(map.stages.map((s) => s.name)).to.deep.equal(['block1', 'block2', 'block3', 'block4', 'block5', 'block6']);
  });

  it('a model without an image input is refused clearly', async () => {
    const model = Model.fromBytes(
      new Model({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: { name: 'g', input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 4 }] } } } }], node: [{ op_type: 'Relu', input: ['x'], output: ['y'] }], output: [{ name: 'y' }] } }).toBytes(),
    );
    try {
      await computeStages(model);
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(UserError);
      expect((e as UserError).code).to.equal('no-image-input');
    }
  });
});
