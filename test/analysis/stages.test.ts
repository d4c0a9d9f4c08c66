import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { computeStages, findStage } from '../../src/analysis/stages.js';
import { resolvePosition } from '../../src/analysis/stage-position.js';
import { UserError } from '../../src/errors.js';
import { Model } from '../../src/ir/model.js';
import { FIXTURE_MODELS, REALDATA_ONNX, requireOrSkip, SEED_MODELS } from '../helpers/test-data.js';

const fixture = (name: string): Model => Model.load(path.join(FIXTURE_MODELS, name));
const seed = (name: string): Model => Model.load(path.join(SEED_MODELS, name));

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

  describe('seed-style exports (fixtures/seed-models)', () => {
    for (const [file, shapes, convs] of [
      ['resnet18_wrapped.onnx', [[8, 48, 64], [8, 24, 32], [16, 12, 16], [32, 6, 8], [64, 3, 4]], [1, 4, 5, 5, 5]],
      ['resnet50_wrapped.onnx', [[8, 48, 64], [32, 24, 32], [64, 12, 16], [128, 6, 8], [256, 3, 4]], [1, 10, 13, 19, 10]],
    ] as const) {
      it(`${file} (torchvision ResNet held as self.r, names /r/layer3/...): stages stem, layer1..layer4`, async () => {
        const map = await computeStages(seed(file));
        expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
        expect(map.stages.map((s) => s.shape)).to.deep.equal(shapes);
        expect(map.stages.map((s) => s.convs.length)).to.deep.equal(convs);
        expect(findStage(map, 'layer3').edge).to.match(/^\/r\/layer3\/layer3\.\d\/relu(_\d)?\/Relu_output_0$/);
        expect(map.branches.map((b) => b.name)).to.deep.equal(['main']);
        expect(map.stages.every((s) => s.branch === 'main')).to.equal(true);
        expect(map.joins).to.deep.equal([]);
      });
    }

    it('TReS-style (ResNet-50, multi-scale taps, projection, transformer): every residual layer is a stage; the taps\' concat is a join', async () => {
      const map = await computeStages(seed('tres_r50_transformer.onnx'));
      expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4']);
      expect(findStage(map, 'layer3').shape).to.deep.equal([96, 12, 12]);
      expect(findStage(map, 'layer3').edge).to.equal('/model/layer3/layer3.5/relu_2/Relu_output_0');
      expect(findStage(map, 'layer4').shape).to.deep.equal([192, 6, 6]);
      expect(findStage(map, 'layer4').edge).to.equal('/model/layer4/layer4.2/relu_2/Relu_output_0');
      // the projection conv hangs from the deepest stage it reads (layer4), beside layer4's own 10 convs and its tap
      expect(findStage(map, 'layer4').convs).to.include('/projection/Conv');
      expect(findStage(map, 'layer3').residualJoins).to.have.length(6);
      const cat = map.joins.find((j) => j.kind === 'concat');
      expect(cat?.stages).to.deep.equal(['layer1', 'layer2', 'layer3', 'layer4']);
    });

    it('TReS-style with the layers reaching the score only through the taps: layer2..layer4 still stages of their own', async () => {
      // no tensor after layer1 lies on every path to the projection: the stretch from layer1 to the
      // taps' concat spans convs at four resolutions, so its deepest chain joins the trunk
      const map = await computeStages(seed('tres_r18_taps_only.onnx'));
      expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'block6']);
      expect(map.stages.map((s) => s.shape)).to.deep.equal([[4, 96, 96], [4, 48, 48], [8, 24, 24], [16, 12, 12], [32, 6, 6], [32, 3, 3]]);
      expect(findStage(map, 'layer3').edge).to.equal('/model/layer3/layer3.1/relu_1/Relu_output_0');
      // layer4 ends at its own output, not at the tap's normalisation that follows at 6x6
      expect(findStage(map, 'layer4').edge).to.equal('/model/layer4/layer4.1/relu_1/Relu_output_0');
      expect(map.stages.slice(1, 5).map((s) => s.residualJoins.length)).to.deep.equal([2, 2, 2, 2]);
      expect(findStage(map, 'block6').convs).to.include('/projection/Conv');
    });

    it('DBCNN-style: VGG-16\'s five blocks and the S-CNN\'s blocks, the Resize to the sibling\'s size and the bilinear MatMul as joins', async () => {
      const map = await computeStages(seed('dbcnn_vgg16_scnn.onnx'), { allEdges: true });
      expect(map.branches.map((b) => [b.name, b.from, b.stages])).to.deep.equal([
        ['features1', 'input', [0, 1, 2, 3, 4]],
        ['features2', 'input', [5, 6, 7, 8, 9]],
      ]);
      const vgg = map.stages.filter((s) => s.branch === 'features1');
      expect(vgg.map((s) => s.name)).to.deep.equal(['features1.block1', 'features1.block2', 'features1.block3', 'features1.block4', 'features1.block5']);
      expect(vgg.map((s) => s.convs.length)).to.deep.equal([2, 2, 3, 3, 3]);
      expect(vgg.map((s) => s.shape)).to.deep.equal([[8, 100, 132], [16, 50, 66], [32, 25, 33], [64, 12, 16], [64, 6, 8]]);
      const scnn = map.stages.filter((s) => s.branch === 'features2');
      expect(scnn.map((s) => s.name)).to.deep.equal(['features2.block1', 'features2.block2', 'features2.block3', 'features2.block4', 'features2.block5']);
      // the S-CNN's nine convs, strides 1,2,1,2,1,2,1,1,2: each stage is one resolution
      expect(scnn.map((s) => s.convs.length)).to.deep.equal([1, 2, 2, 3, 1]);
      expect(scnn.map((s) => s.shape.slice(1))).to.deep.equal([[100, 132], [50, 66], [25, 33], [13, 17], [7, 9]]);
      // the S-CNN's last stage ends before the Resize (which follows the VGG map's size)
      expect(scnn[4]!.edge).to.equal('/features2/features2.26/Relu_output_0');
      expect(scnn[0]!.inputEdge).to.equal('input');
      expect(map.joins.map((j) => [j.node, j.kind, j.stages])).to.deep.equal([
        ['/Resize', 'resize-to-sibling', ['features1.block5', 'features2.block5']],
        ['/MatMul', 'matmul', ['features1.block5', 'features2.block5']],
      ]);
      // the paper's position: before conv5_3 (features1.28), by conv index or by module
      const block5 = findStage(map, 'features1.block5');
      expect(block5.pathConvs!.map((c) => c.node)).to.deep.equal(['/features1/features1.24/Conv', '/features1/features1.26/Conv', '/features1/features1.28/Conv']);
      const byIndex = resolvePosition(map, 'features1.block5', { before: 'conv3' });
      expect(byIndex.edge).to.equal('/features1/features1.27/Relu_output_0');
      expect(resolvePosition(map, undefined, { before: 'features1.28' }).edge).to.equal(byIndex.edge);
      expect(resolvePosition(map, '4', { before: '/features1/features1.28/Conv' }).stage.name).to.equal('features1.block5');
      expect(resolvePosition(map, 'features1.block5', { after: 'conv2' }).edge).to.equal('/features1/features1.26/Conv_output_0');
      expect(() => resolvePosition(map, 'features1.block5', { before: 'conv4' })).to.throw(UserError, /no conv 'conv4' in stage features1\.block5; convs of stage features1\.block5: conv1 \/features1\/features1\.24\/Conv, conv2/);
      expect(() => resolvePosition(map, undefined, { before: 'conv3' })).to.throw(UserError, /give --stage too/);
    });

    it('KonCept-style (Inception-ResNet-v2): parallel towers stay inside their module\'s stage; "after block8" by module', async () => {
      const model = seed('koncept_irv2.onnx');
      const map = await computeStages(model, { allEdges: true });
      expect(map.stages.map((s) => s.shape.slice(1))).to.deep.equal([[95, 127], [93, 125], [46, 62], [44, 60], [21, 29], [10, 14], [4, 6]]);
      // mixed_5b (4 towers, 7 convs) + 2 Block35 (7 convs each) in one stage; mixed_7a (7) + 2 Block8 (5) + block8 (5) + conv2d_7b (1)
      expect(map.stages[4]!.convs).to.have.length(7 + 2 * 7);
      expect(map.stages[6]!.convs).to.have.length(7 + 3 * 5 + 1);
      expect(map.stages[4]!.convs.filter((c) => c.startsWith('/base/base.7/'))).to.have.length(7);
      // tower convs are on the stage's path but their inputs are not cuts
      const tower = map.stages[4]!.pathConvs!.find((c) => c.node === '/base/base.7/branch1/branch1.1/conv/Conv')!;
      expect(tower.inputIsCut).to.equal(false);
      expect(map.joins).to.deep.equal([]);
      expect(map.stages[0]!.name).to.equal('stem');
      const p = resolvePosition(map, undefined, { after: 'base.13' });
      expect(p.edge).to.equal('/base/base.13/Add_output_0');
      expect(p.stage.index).to.equal(6);
      expect(resolvePosition(map, String(p.stage.index), { before: 'base.14' }).edge).to.equal(p.edge);
      expect(() => resolvePosition(map, undefined, { after: 'base.99' })).to.throw(UserError, /no tensor that every path passes through is produced by 'base\.99'/);
    });

    it('Linearity-style (ResNet-50 as nn.Sequential children): stages named features.4..7, the two heads\' concat is a join', async () => {
      const map = await computeStages(seed('linearity_r50.onnx'));
      expect(map.stages.map((s) => s.name)).to.deep.equal(['stem', 'features.4', 'features.5', 'features.6', 'features.7']);
      expect(findStage(map, 'features.6').shape).to.deep.equal([96, 6, 8]);
      expect(map.joins.map((j) => [j.kind, j.stages])).to.deep.equal([['concat', ['features.6', 'features.7']]]);
    });
  });

  it('graphs/dbcnn_vgg_bilinear.onnx (one trunk, bilinear pooling of itself): four blocks on one branch, no joins', async () => {
    const map = await computeStages(Model.load('graphs/dbcnn_vgg_bilinear.onnx'));
    expect(map.stages.map((s) => s.name)).to.deep.equal(['block1', 'block2', 'block3', 'block4']);
    expect(map.stages.map((s) => s.shape)).to.deep.equal([[16, 96, 128], [32, 48, 64], [48, 24, 32], [32, 12, 16]]);
    expect(map.branches).to.have.length(1);
    expect(map.joins).to.deep.equal([]);
  });

  it('fixtures/models/linearity_iqa.onnx: the layer3 and layer4 heads meet at a concat join', async () => {
    const map = await computeStages(fixture('linearity_iqa.onnx'));
    expect(map.joins.map((j) => [j.node, j.kind, j.stages])).to.deep.equal([['/Concat', 'concat', ['layer3', 'layer4']]]);
  });
});
